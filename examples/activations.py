"""Sigmoid, tanh and ReLU side by side: derivatives, zero-centring, gradient flow, training speed.

    python examples/activations.py            # 15 epochs per network, ~1 min on 2 cores
    python examples/activations.py --quick    # 3 epochs (used by the tests); --out DIR for the figures

1. The derivatives, by autograd on a grid: sigmoid's peaks at 0.25, tanh's at 1 (tanh(x) =
   2 sigmoid(2x) - 1), ReLU's is 0 or 1. Each sigmoid layer multiplies the backward signal by
   at most 0.25.
2. Zero-centred outputs: the mean output for standard normal inputs is 0.5 for sigmoid, 0 for
   tanh, 0.40 for ReLU (1/sqrt(2 pi)). A layer fed only positive inputs gets weight gradients
   of one sign per unit, which zig-zags the descent.
3. Measured per-layer gradient norms (nn.Monitor) of 6-hidden-layer networks on the digits, and
   4. training speed: the same SGD (lr 0.1, batches of 32) on each.
"""

from __future__ import annotations

import time
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
NAMES = ("sigmoid", "tanh", "relu")
FUNCS = {"sigmoid": ag.sigmoid, "tanh": ag.tanh, "relu": ag.relu}
DEPTH, WIDTH, LR, TARGET = 6, 64, 0.1, 0.3


def derivatives(grid: np.ndarray) -> dict:
    """Each activation and its derivative on `grid`, the derivative by backward."""
    out = {}
    for name, f in FUNCS.items():
        x = ag.tensor(grid, requires_grad=True)
        y = f(x)
        y.sum().backward()          # d(sum y)/dx_i = f'(x_i): the elementwise derivative
        out[name] = (y.numpy(), x.grad.numpy())
    return out


def train(name: str, X: np.ndarray, y: np.ndarray, epochs: int) -> dict:  # noqa: N803
    """A DEPTH-hidden-layer network with `name` (default init: LeCun, He for ReLU), SGD."""
    ag.manual_seed(SEED)
    sizes = [64] + [WIDTH] * DEPTH
    model = nn.Sequential(*[nn.Dense(a, b, name) for a, b in zip(sizes[:-1], sizes[1:])],
                          nn.Dense(WIDTH, 10))
    opt = optim.SGD(model.parameters(), lr=LR)
    mon = nn.Monitor(model, opt, every=5)
    loader = nn.data.DataLoader(X, y, batch_size=32, shuffle=True, rng=SEED)
    losses = []
    t0 = time.perf_counter()
    for _ in range(epochs):
        total = 0.0
        for xb, yb in loader:
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
            total += loss.item() * len(yb)
        losses.append(total / len(y))
    with ag.no_grad():
        acc = float((model(X).numpy().argmax(axis=1) == y).mean())
    norms = mon.series("grad_norm")
    first = {k: float(v[0]) for k, v in norms.items()}            # step 0, before any learning
    median = {k: float(np.median(v)) for k, v in norms.items()}
    reached = next((i + 1 for i, v in enumerate(losses) if v < TARGET), None)
    return {"losses": losses, "accuracy": acc, "grad_norm_step0": first, "grad_norm_median": median,
            "ratio_first_to_last": first["0"] / first[str(DEPTH)], "epochs_to_target": reached,
            "seconds": time.perf_counter() - t0, "problems": [d.message for d in mon.diagnoses()]}


def figure(grid: np.ndarray, curves: dict, runs: dict, out: Path) -> Path:
    fig = Figure(figsize=(14, 4), dpi=100, layout="constrained")
    ax = fig.subplots(1, 3)
    for i, name in enumerate(NAMES):
        c = f"C{i}"
        f, d = curves[name]
        ax[0].plot(grid, f, color=c, label=f"{name}(x)")
        ax[0].plot(grid, d, color=c, ls="--", label=f"{name}'(x), max {d.max():.2f}")
        r = runs[name]
        layers = np.arange(DEPTH + 1)
        ax[1].plot(layers, [r["grad_norm_step0"][str(k)] for k in layers], "o-", color=c, label=name)
        ax[2].plot(np.arange(1, len(r["losses"]) + 1), r["losses"], "o-", ms=3, color=c,
                   label=f"{name}: accuracy {r['accuracy']:.1%}")
    ax[0].set(title="activations (solid) and derivatives (dashed)", xlabel="x", ylim=(-1.1, 2.1))
    ax[1].set(title="gradient norm per layer at step 0 (nn.Monitor)", xlabel="layer (0 = first)",
              ylabel="L2 norm of the layer's gradient", yscale="log")
    ax[2].axhline(TARGET, color="k", ls=":", lw=1)
    ax[2].set(title=f"training loss, SGD lr {LR}", xlabel="epoch", ylabel="cross-entropy", yscale="log")
    for a in ax:
        a.grid(alpha=0.3)
        a.legend(fontsize=8)
    path = out / "activations.png"
    fig.savefig(path)
    return path


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv, "activations")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()

    grid = np.linspace(-6, 6, 1201)             # float64; includes 0
    curves = derivatives(grid)
    peak = {k: float(d.max()) for k, (_, d) in curves.items()}
    peak_at = {k: float(grid[d.argmax()]) for k, (_, d) in curves.items()}
    print("derivative ranges on [-6, 6]: " + ", ".join(
        f"{k}' in [{d.min():.3g}, {d.max():.3g}] (peak at x = {peak_at[k]:g})"
        for k, (_, d) in curves.items()))

    z = np.random.default_rng(SEED).standard_normal(200_000)
    means = {k: float(FUNCS[k](ag.tensor(z)).numpy().mean()) for k in NAMES}
    print("mean output for N(0, 1) inputs: " + ", ".join(f"{k} {v:+.3f}" for k, v in means.items()))

    X, y = nn.datasets.load_digits()
    X = nn.data.Standardizer().fit_transform(X).astype(np.float32)
    epochs = 3 if args.quick else 15
    runs = {}
    for name in NAMES:
        r = runs[name] = train(name, X, y, epochs)
        print(f"{name}: gradient norm of layer 0 / layer {DEPTH} at step 0 = {r['ratio_first_to_last']:.2e}; "
              f"loss after {epochs} epochs {r['losses'][-1]:.3f} (below {TARGET} after "
              f"{r['epochs_to_target'] or 'more than ' + str(epochs)} epochs), accuracy {r['accuracy']:.1%}")
        for msg in r["problems"]:
            print(f"   monitor: {msg}")
    png = figure(grid, curves, runs, out)
    print(f"figure: {png}; {time.perf_counter() - start:.1f} s")
    return {"peak": peak, "peak_at": peak_at, "mean_output": means, "runs": runs, "png": str(png),
            "epochs": epochs}


if __name__ == "__main__":
    main()
