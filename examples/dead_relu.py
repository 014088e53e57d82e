"""Dying ReLU units, caught by nn.Monitor as they die.

    python examples/dead_relu.py            # 8 epochs per run, ~1 min on 2 cores
    python examples/dead_relu.py --quick    # 2 epochs per run (used by the tests); --out DIR for the figures

A ReLU unit whose pre-activation is negative for every input outputs 0 and gets no gradient, so
nothing can bring it back: it is dead. A too-large step pushes units there. Three runs of a
64-128-128-10 network on the digits, SGD with momentum 0.9, batches of 32, each watched by
`nn.Monitor(model, opt)`:

1. ReLU, lr 0.2: the second layer's units die (the monitor says how many, and since when) and
   the loss stalls.
2. ReLU with He init and a 10x smaller step, lr 0.02: no unit dies, the loss falls.
3. leaky ReLU, lr 0.2: a leaky unit always passes some gradient, so none can die, but the step
   is still too large: the monitor reports exploding gradients, then NaN.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

import autograd as ag
import nn
import optim

try:
    from demo import parse_args
except ImportError:                          # imported by path (the tests): load demo.py beside it
    import importlib.util
    _spec = importlib.util.spec_from_file_location("demo", Path(__file__).with_name("demo.py"))
    _demo = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(_demo)
    parse_args = _demo.parse_args

SEED = 0
WINDOW = 30       # a unit is dead when it gave no positive output for any batch of the last 30 steps
RUNS = {          # name: (activation, learning rate)
    "ReLU, lr 0.2": ("relu", 0.2),
    "ReLU (He init), lr 0.02": ("relu", 0.02),
    "leaky ReLU, lr 0.2": ("leaky_relu", 0.2),
}


def train(activation: str, lr: float, X: np.ndarray, y: np.ndarray, epochs: int) -> tuple:  # noqa: N803
    """One run; returns (monitor, loss per step)."""
    ag.manual_seed(SEED)
    model = nn.Sequential(nn.Dense(64, 128, activation), nn.Dense(128, 128, activation),
                          nn.Dense(128, 10))        # He init for relu and leaky relu (the default)
    opt = optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    mon = nn.Monitor(model, opt, thresholds={"dead_window": WINDOW})
    loader = nn.data.DataLoader(X, y, batch_size=32, shuffle=True, rng=SEED)
    losses = []
    with warnings.catch_warnings(), np.errstate(all="ignore"):   # run 3 overflows: expected
        warnings.simplefilter("ignore", RuntimeWarning)
        for _ in range(epochs):
            for xb, yb in loader:
                opt.zero_grad()
                loss = nn.functional.cross_entropy(model(xb), yb)
                loss.backward()
                opt.step()                   # the monitor records this step
                losses.append(loss.item())
    return mon, np.array(losses)


def summary(mon: nn.Monitor, losses: np.ndarray) -> dict:
    found = {(d.module, d.kind): d for d in mon.diagnoses()}
    dead = mon.series("dead")
    finite = losses[np.isfinite(losses)]
    first_nan = next((i for i, v in enumerate(losses) if not np.isfinite(v)), None)
    return {
        "dead_final": {k: float(v[-1]) for k, v in dead.items() if not np.isnan(v).all()},
        "dead_max": {k: float(np.nanmax(v)) for k, v in dead.items() if not np.isnan(v).all()},
        "dead_onset": {m: d.onset for (m, kind), d in found.items() if kind == "dead"},
        "exploding_step": min((d.first for (_, k), d in found.items() if k == "exploding"), default=None),
        "nonfinite_step": min((d.first for (_, k), d in found.items() if k == "nonfinite"), default=None),
        "first_nan_loss": first_nan,
        "loss_last_epoch": float(np.mean(finite[-50:])) if finite.size else float("nan"),
        "kinds": sorted({k for (_, k) in found}),
        "report": mon.report(),
    }


def figure(results: dict, monitors: dict, out: Path) -> Path:
    fig = Figure(figsize=(13, 3.8), dpi=100, layout="constrained")
    ax = fig.subplots(1, 3)
    for i, (name, mon) in enumerate(monitors.items()):
        c = f"C{i}"
        steps = np.array(mon.steps)
        dead = mon.series("dead")
        for layer, ls in (("0", ":"), ("1", "-")):
            if not np.isnan(dead[layer]).all():
                ax[0].plot(steps, dead[layer], color=c, ls=ls, label=f"{name}, layer {layer}")
        batch = mon.series("dead_batch")["1"]
        if not np.isnan(batch).all():
            ax[0].plot(steps, batch, color=c, lw=0.6, alpha=0.5,
                       label=f"{name}, layer 1, in each batch")
        onset = results[name]["dead_onset"].get("1")
        if onset is not None:
            ax[0].axvline(onset, color=c, lw=0.8, alpha=0.6)
            ax[0].annotate(f"dead since step {onset}\n(when they last fired)", (onset, 0.85), color=c,
                           fontsize=8,
                           xytext=(4, 0), textcoords="offset points")
        loss = results[name]["losses"]
        smooth = np.convolve(np.nan_to_num(loss, nan=np.inf), np.ones(10) / 10, mode="valid")
        ax[1].plot(np.arange(len(smooth)) + 9, smooth, color=c, label=name)
        upd = mon.series("update_ratio_avg")["1"]
        ax[2].plot(steps, upd, color=c, label=name)
    ax[0].set(title=f"dead ReLU units (no positive output in {WINDOW} steps)", xlabel="step",
              ylabel="share of units", ylim=(-0.03, 1.03))
    ax[1].set(title="training loss (mean of 10 steps)", xlabel="step", ylabel="cross-entropy",
              yscale="log", ylim=(0.01, 100))
    ax[2].axhline(-3, color="k", ls=":", lw=1, label="1e-3")
    ax[2].set(title="update:data of layer 1 (log10, averaged)", xlabel="step", ylabel="log10 ratio")
    for a in ax:
        a.grid(alpha=0.3)
        a.legend(fontsize=7)
    path = out / "dead_relu.png"
    fig.savefig(path)
    return path


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv, "dead_relu")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    X, y = nn.datasets.load_digits()
    X = nn.data.Standardizer().fit_transform(X).astype(np.float32)
    epochs = 2 if args.quick else 8
    results, monitors = {}, {}
    for name, (activation, lr) in RUNS.items():
        mon, losses = train(activation, lr, X, y, epochs)
        monitors[name] = mon
        results[name] = {**summary(mon, losses), "losses": losses}
        r = results[name]
        loss = (f"loss NaN from step {r['first_nan_loss']}" if r["first_nan_loss"] is not None
                else f"mean loss of the last 50 steps {r['loss_last_epoch']:.3f}")
        dead = ", ".join(f"layer {k} {v:.0%}" for k, v in r["dead_final"].items()) or "not applicable"
        print(f"\n== {name}: {loss}; dead units at the end: {dead}")
        print(r["report"])
    png = figure(results, monitors, out)
    dashboard = monitors["ReLU, lr 0.2"].plot()
    dashboard.savefig(out / "monitor.png")
    print(f"\nfigures: {png}, {out / 'monitor.png'} (mon.plot() of the first run); "
          f"{time.perf_counter() - start:.1f} s")
    return {"runs": {k: {kk: vv for kk, vv in v.items() if kk != "losses"} for k, v in results.items()},
            "png": str(png), "monitor_png": str(out / "monitor.png"), "window": WINDOW}


if __name__ == "__main__":
    main()
