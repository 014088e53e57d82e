"""Momentum and Nesterov against plain SGD: a narrow valley, then the digits.

    python examples/momentum.py [--quick] [--out DIR]

1. f(p) = (p0^2 + 50 p1^2) / 2, an ill-conditioned quadratic (condition number 50), minimised
   from the same start with `optim.SGD` at lr 0.025: plain, momentum 0.9, Nesterov 0.9.
   Plain SGD multiplies p1 by 1 - 50 * 0.025 = -0.25 each step, so the steep axis is settled
   after a few steps; then it crawls along the flat axis, multiplying p0 by 0.975 per step.
   Momentum 0.9 does not damp the steep axis (p1 keeps swinging, and p0 overshoots the
   minimum), but the velocity it builds along the flat axis gets it there about 3x sooner.
   Nesterov's look-ahead damps the swings sooner. We count the steps until f < 1e-6, the
   step after which |p1| stays below 0.01, and the overshoot past the minimum along p0, and
   draw the paths on the contour plot.
2. The same three optimizers train a digits classifier: epochs until the training loss < 0.1.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure  # Figure objects, not pyplot: drawn by Agg, never displayed

import autograd as ag
import nn
import optim

SEED = 0
CURVATURE = np.array([1.0, 50.0])        # the Hessian's eigenvalues: condition number 50
START = np.array([-9.0, 1.5])
STEEP_TOL = 0.01
OPTIMIZERS = {"plain SGD": {}, "momentum 0.9": {"momentum": 0.9},
              "Nesterov 0.9": {"momentum": 0.9, "nesterov": True}}


def parse_args(argv: list[str] | None, name: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a fast run of a few seconds")
    parser.add_argument("--out", default=f"out/{name}", help="folder for the figures (default: %(default)s)")
    return parser.parse_args(argv)


def quadratic(p: ag.Tensor) -> ag.Tensor:
    return 0.5 * (CURVATURE * p ** 2).sum()


def minimise(lr: float, tol: float, max_steps: int, **kwargs: object) -> tuple[np.ndarray, int | None]:
    """SGD on `quadratic` from START: the path and the number of steps until f < tol (or None)."""
    p = ag.tensor(START, requires_grad=True)             # float64, one 2-vector parameter
    opt = optim.SGD([p], lr=lr, **kwargs)
    path = [p.numpy().copy()]
    for step in range(1, max_steps + 1):
        opt.zero_grad()
        quadratic(p).backward()
        opt.step()
        path.append(p.numpy().copy())
        with ag.no_grad():
            if quadratic(p).item() < tol:
                return np.array(path), step
    return np.array(path), None


def steep_settled(path: np.ndarray) -> int:
    """The step after which |p1| (the steep coordinate) stays below STEEP_TOL."""
    outside = np.nonzero(np.abs(path[:, 1]) >= STEEP_TOL)[0]
    return int(outside.max()) + 1 if outside.size else 0


def train_digits(X: np.ndarray, y: np.ndarray, target: float, max_epochs: int,  # noqa: N803
                 **kwargs: object) -> tuple[list[float], int | None]:
    """Train 64-64-10 with SGD (lr 0.01, batches of 32); the training loss after every epoch
    and the first epoch with loss < target (or None)."""
    ag.manual_seed(SEED)
    model = nn.Sequential(nn.Dense(64, 64, activation="relu"), nn.Dense(64, 10))
    opt = optim.SGD(model.parameters(), lr=0.01, **kwargs)
    loader = nn.data.DataLoader(X, y, batch_size=32, rng=SEED)
    losses: list[float] = []
    for epoch in range(1, max_epochs + 1):
        for xb, yb in loader:
            opt.zero_grad()
            nn.functional.cross_entropy(model(xb), yb).backward()
            opt.step()
        with ag.no_grad():
            losses.append(nn.functional.cross_entropy(model(X), y).item())
        if losses[-1] < target:
            return losses, epoch
    return losses, None


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv, "momentum")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    # -- 1. the narrow valley
    lr, tol = 0.025, 1e-6
    paths, steps = {}, {}
    for name, kw in OPTIMIZERS.items():
        paths[name], steps[name] = minimise(lr, tol, 2000, **kw)
    settled = {name: steep_settled(path) for name, path in paths.items()}
    overshoot = {name: round(float(max(path[:, 0].max(), 0.0)), 2) for name, path in paths.items()}
    print(f"f(p) = (p0^2 + 50 p1^2) / 2 from {START.tolist()}, lr {lr}: steps until f < {tol:g};"
          f" step after which |p1| < {STEEP_TOL}; overshoot past the minimum along p0")
    for name in OPTIMIZERS:
        print(f"  {name:14} {steps[name]:>4} steps   p1 settled after {settled[name]:>3}"
              f"   overshoot {overshoot[name]:.2f}")

    # -- 2. the digits
    X, y = nn.datasets.load_digits()
    train = np.random.default_rng(SEED).permutation(len(y))[:1347]
    X, y = nn.data.Standardizer().fit_transform(X[train]), y[train]
    target, max_epochs = 0.1, (10 if args.quick else 100)
    curves, epochs = {}, {}
    for name, kw in OPTIMIZERS.items():
        curves[name], epochs[name] = train_digits(X, y, target, max_epochs, **kw)
    print(f"\ndigits, 64-64-10, lr 0.01, batch 32: epochs until the training loss < {target}")
    for name in OPTIMIZERS:
        print(f"  {name:14} {epochs[name] if epochs[name] else f'not within {max_epochs}'}"
              f"  (loss {curves[name][-1]:.5f})")

    # -- figures: paths on the contours, and the digits curves
    fig = Figure(figsize=(9, 3.4), dpi=90, layout="constrained")
    ax1, ax2 = fig.subplots(1, 2, width_ratios=[1.4, 1])
    g0, g1 = np.meshgrid(np.linspace(-10, 2, 200), np.linspace(-2, 2, 200))
    f = 0.5 * (CURVATURE[0] * g0 ** 2 + CURVATURE[1] * g1 ** 2)
    ax1.contour(g0, g1, f, levels=np.geomspace(0.05, 150, 12), colors="0.75", linewidths=0.7)
    for name, path in paths.items():
        shown = path[:80]                                  # the first 80 steps
        ax1.plot(shown[:, 0], shown[:, 1], marker=".", ms=3, lw=0.8,
                 label=f"{name}: {steps[name]} steps, |p1| < {STEEP_TOL} from step {settled[name]}")
    ax1.plot(0, 0, "k*", ms=8)
    ax1.set(xlabel="p0 (flat: curvature 1)", ylabel="p1 (steep: 50)",
            title=f"first 80 steps, lr {lr}; steps to f < {tol:g}")
    ax1.legend(fontsize=8, loc="lower right")
    for name, losses in curves.items():
        ax2.plot(range(1, len(losses) + 1), losses, label=name)
    ax2.axhline(target, color="k", ls=":", lw=0.8)
    ax2.set(yscale="log", xlabel="epoch", ylabel="training loss", title="digits, lr 0.01")
    ax2.legend(fontsize=8)
    ax2.grid(alpha=0.3)
    fig.savefig(out / "momentum.png")
    print(f"figure: {out / 'momentum.png'}")
    return {"quadratic_steps": steps, "steep_settled": settled, "overshoot": overshoot,
            "digits_epochs": epochs,
            "digits_final_loss": {k: v[-1] for k, v in curves.items()}, "png": str(out / "momentum.png")}


if __name__ == "__main__":
    main()
