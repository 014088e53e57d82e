"""Full batch, mini-batch and single-example SGD: progress per epoch and per second.

    python examples/minibatch.py [--quick] [--out DIR]

The same network (64-64-10, ReLU) learns the digits with plain SGD at the same learning rate,
with three batch sizes:

    full batch (1347)   one exact gradient per epoch: little progress per epoch
    mini-batch (32)     43 noisy gradients per epoch
    single example (1)  1347 very noisy steps per epoch

The loss is a mean over the batch, so at one learning rate every step has about the same size
whatever the batch: per epoch, more steps means more progress. Per second the picture changes:
for a model this small a step costs mostly Python overhead, so a step on 32 images costs about
as much as a step on one (see "ms / step"), and its gradient is far less noisy (which is what
allows a larger learning rate, not used here). The training loss (whole training set, after
every epoch) is plotted against epochs and against training time (evaluation excluded).
Timings depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure  # Figure objects, not pyplot: drawn by Agg, never displayed

import autograd as ag
import nn
import optim

SEED, LR = 0, 0.02     # a learning rate stable for all three batch sizes


def parse_args(argv: list[str] | None, name: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a fast run of a few seconds")
    parser.add_argument("--out", default=f"out/{name}", help="folder for the figures (default: %(default)s)")
    return parser.parse_args(argv)


def run(X: np.ndarray, y: np.ndarray, batch_size: int, epochs: int) -> tuple[list[float], list[float]]:  # noqa: N803
    """Train a fresh model; returns (training loss, cumulative training seconds) per epoch,
    both starting with the untrained model at 0 s."""
    ag.manual_seed(SEED)                                 # identical initial weights for every run
    model = nn.Sequential(nn.Dense(64, 64, activation="relu"), nn.Dense(64, 10))
    opt = optim.SGD(model.parameters(), lr=LR)
    loader = nn.data.DataLoader(X, y, batch_size=batch_size, rng=SEED)

    def full_loss() -> float:
        with ag.no_grad():
            return nn.functional.cross_entropy(model(X), y).item()

    losses, seconds = [full_loss()], [0.0]
    for _ in range(epochs):
        start = time.perf_counter()
        for xb, yb in loader:
            opt.zero_grad()
            nn.functional.cross_entropy(model(xb), yb).backward()
            opt.step()
        seconds.append(seconds[-1] + time.perf_counter() - start)   # only the training time
        losses.append(full_loss())
    return losses, seconds


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv, "minibatch")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    epochs = 2 if args.quick else 10

    X, y = nn.datasets.load_digits()
    train = np.random.default_rng(SEED).permutation(len(y))[:1347]     # the 75% training part
    X, y = nn.data.Standardizer().fit_transform(X[train]), y[train]

    sizes = {"full batch (1347)": len(y), "mini-batch (32)": 32, "single example (1)": 1}
    results = {name: run(X, y, bs, epochs) for name, bs in sizes.items()}

    print(f"plain SGD, lr {LR}, {epochs} epochs on {len(y)} digits:")
    print(f"{'':20}{'steps':>8}{'final loss':>12}{'time (s)':>10}{'ms / step':>11}")
    summary = {}
    for name, (losses, secs) in results.items():
        steps = epochs * -(-len(y) // sizes[name])
        summary[name] = {"final_loss": losses[-1], "seconds": secs[-1], "steps": steps}
        print(f"{name:20}{steps:8d}{losses[-1]:12.4f}{secs[-1]:10.2f}{1000 * secs[-1] / steps:11.3f}")

    fig = Figure(figsize=(9, 3.4), dpi=90, layout="constrained")
    ax1, ax2 = fig.subplots(1, 2, sharey=True)
    for name, (losses, secs) in results.items():
        ax1.plot(range(epochs + 1), losses, marker="o", ms=3, label=name)
        ax2.plot(np.maximum(secs, 1e-3), losses, marker="o", ms=3, label=name)
    ax1.set(yscale="log", xlabel="epoch", ylabel="training loss", title="loss per epoch")
    ax2.set(xscale="log", xlabel="training time (s, log scale; 0 drawn at 1 ms)",
            title="loss per second")
    ax1.legend(fontsize=8)
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
    fig.savefig(out / "minibatch.png")
    print(f"figure: {out / 'minibatch.png'}")
    return {"summary": summary, "losses": {k: v[0] for k, v in results.items()},
            "seconds": {k: v[1] for k, v in results.items()}, "png": str(out / "minibatch.png")}


if __name__ == "__main__":
    main()
