"""Why standardize inputs: one model, one learning rate, features on scales 1 and 1000.

    python examples/normalization.py [--quick] [--out DIR]

A synthetic regression: predict a price from `rooms` (1 to 5) and `area` (500 to 3000). The same
small network (2-16-1, ReLU) is trained with the same SGD learning rate on the raw features and
on features standardized by `nn.data.Standardizer` (zero mean, unit std per feature, fitted on
the training data). With raw inputs the loss surface is stretched ~1000x along `area`: a
learning rate that suits the standardized problem makes the raw one blow up, and one small
enough for `area` barely moves along `rooms`. We count the epochs to reach a target loss.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure  # Figure objects, not pyplot: drawn by Agg, never displayed

import autograd as ag
import nn
import optim

SEED, LR, TARGET = 0, 0.01, 0.05


def parse_args(argv: list[str] | None, name: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a fast run of a few seconds")
    parser.add_argument("--out", default=f"out/{name}", help="folder for the figures (default: %(default)s)")
    return parser.parse_args(argv)


def make_data(n: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """Features on very different scales; the target depends on both (noise std 0.1)."""
    rng = np.random.default_rng(SEED)
    rooms = rng.uniform(1, 5, n)
    area = rng.uniform(500, 3000, n)
    price = 0.5 * rooms + 0.002 * area - 0.1 * (rooms - 3) ** 2 + 0.1 * rng.standard_normal(n)
    return np.stack([rooms, area], axis=1).astype(np.float32), price[:, None].astype(np.float32)


def fit(X: np.ndarray, y: np.ndarray, lr: float, epochs: int) -> list[float]:  # noqa: N803
    """SGD on mini-batches of 32; returns the training MSE after every epoch."""
    ag.manual_seed(SEED)                                  # the same initial weights every time
    model = nn.Sequential(nn.Dense(2, 16, activation="relu"), nn.Dense(16, 1))
    opt = optim.SGD(model.parameters(), lr=lr)
    loader = nn.data.DataLoader(X, y, batch_size=32, rng=SEED)
    history = []
    with np.errstate(all="ignore"):                       # raw inputs may overflow: that is the point
        for _ in range(epochs):
            for xb, yb in loader:
                opt.zero_grad()
                nn.functional.mse_loss(model(xb), yb).backward()
                opt.step()
            with ag.no_grad():
                history.append(nn.functional.mse_loss(model(X), y).item())
    return history


def epochs_to(history: list[float], target: float) -> int | None:
    """The first epoch (1-based) whose loss is below `target`, or None."""
    return next((i + 1 for i, v in enumerate(history) if v < target), None)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv, "normalization")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    epochs = 30 if args.quick else 100

    X, y = make_data()
    X_std = nn.data.Standardizer().fit_transform(X)
    print(f"feature std: raw {X.std(axis=0).round(2)}, standardized {X_std.std(axis=0).round(2)}; "
          f"target std {y.std():.2f}")

    # same model, same learning rate
    runs = {"standardized": fit(X_std, y, LR, epochs), "raw": fit(X, y, LR, epochs)}
    # and the raw features at learning rates small enough for the area scale
    small_lrs = [1e-5, 1e-7] if args.quick else [1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8]
    sweep = {lr: fit(X, y, lr, epochs) for lr in small_lrs}

    def report(name: str, h: list[float]) -> None:
        e = epochs_to(h, TARGET)
        reached = f"reaches {TARGET} at epoch {e}" if e else f"never reaches {TARGET} in {epochs} epochs"
        print(f"  {name:26} loss {h[0]:10.3g} after epoch 1, {h[-1]:8.3g} after {epochs}; {reached}")

    print(f"\nSGD, lr {LR}, batch 32, target MSE {TARGET}:")
    for name, h in runs.items():
        report(name, h)
    print("raw features, smaller learning rates:")
    for lr, h in sweep.items():
        report(f"raw, lr {lr:g}", h)
    finite = {lr: h[-1] for lr, h in sweep.items() if math.isfinite(h[-1])}
    best_lr = min(finite, key=finite.get)

    fig = Figure(figsize=(5.5, 3.6), dpi=100, layout="constrained")
    ax = fig.subplots()
    ep = np.arange(1, epochs + 1)
    ax.plot(ep, runs["standardized"], label=f"standardized, lr {LR}")
    ax.plot(ep, runs["raw"], label=f"raw, lr {LR}")
    ax.plot(ep, sweep[best_lr], label=f"raw, lr {best_lr:g} (best of {len(sweep)} smaller)")
    ax.axhline(TARGET, color="k", ls=":", label=f"target {TARGET}")
    ax.set(yscale="log", xlabel="epoch", ylabel="training MSE",
           title="features on scales 1 and 1000: same model, same SGD")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.savefig(out / "normalization.png")
    print(f"figure: {out / 'normalization.png'}")
    return {"epochs_to_target": {name: epochs_to(h, TARGET) for name, h in runs.items()},
            "epochs_to_target_raw_small_lr": {lr: epochs_to(h, TARGET) for lr, h in sweep.items()},
            "final_loss": {name: h[-1] for name, h in runs.items()},
            "final_loss_raw_small_lr": {lr: h[-1] for lr, h in sweep.items()},
            "target": TARGET, "epochs": epochs, "png": str(out / "normalization.png")}


if __name__ == "__main__":
    main()
