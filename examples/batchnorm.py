"""Batch normalisation makes the 20-layer sigmoid network of vanishing_gradients.py trainable.

    python examples/batchnorm.py [--quick] [--out DIR]

The same 20 layers (width 64, LeCun init, sigmoid), once as in vanishing_gradients.py and once
with `nn.BatchNorm1d` between each Dense layer and its sigmoid:

    Dense -> sigmoid                  sigmoid'(z) <= 1/4 and LeCun weights: every layer shrinks the
                                      backward signal, the first layer's gradient is ~1e-12 of
                                      the last layer's, and SGD does not move the loss off chance
    Dense -> BatchNorm1d -> sigmoid   each pre-activation is rescaled to mean 0, variance 1 over
                                      the batch, so the backward signal is rescaled by the same
                                      factor: every layer gets a usable gradient and it learns

Printed: the per-layer gradient norms at initialisation on one batch, then the training loss
and test accuracy (eval mode: BatchNorm's running statistics) per epoch of SGD with momentum,
for the plain network at three learning rates and the normalised one at one.

One pitfall is shown too: 1347 training digits in batches of 64 leave a last batch of 3 each
epoch. Statistics of 3 samples are mostly noise, and the step taken on them throws the
normalised network back every epoch: `DataLoader(..., drop_last=True)` (used for every run
but that one) avoids it.
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

DEPTH, WIDTH, SEED, LR, MOMENTUM = 20, 64, 0, 0.01, 0.9
PLAIN, NORMED = "sigmoid", "BatchNorm + sigmoid"


def parse_args(argv: list[str] | None, name: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a fast run of a few seconds")
    parser.add_argument("--out", default=f"out/{name}", help="folder for the figures (default: %(default)s)")
    return parser.parse_args(argv)


def deep_net(batchnorm: bool) -> tuple[nn.Sequential, list[str]]:
    """DEPTH Dense layers (LeCun init): DEPTH - 1 hidden sigmoid layers of WIDTH units, with
    `BatchNorm1d` before each sigmoid if `batchnorm`, then 10 logits. Also returns the names of
    the Dense weights, first layer first."""
    ag.manual_seed(SEED)                                  # the same Dense weights in both nets
    sizes = [64] + [WIDTH] * (DEPTH - 1)
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        if batchnorm:                                     # Dense's bias is redundant before BN
            layers += [nn.Dense(a, b, bias=False, init="lecun_normal"), nn.BatchNorm1d(b), nn.Sigmoid()]
        else:
            layers.append(nn.Dense(a, b, activation="sigmoid"))
    layers.append(nn.Dense(WIDTH, 10))
    model = nn.Sequential(*layers)
    weights = [f"{i}.weight" for i, m in enumerate(layers) if isinstance(m, nn.Dense)]
    return model, weights


def layer_grad_norms(model: nn.Module, weights: list[str], X: np.ndarray, y: np.ndarray) -> list[float]:  # noqa: N803
    """The gradient norm of each Dense weight for the loss on (X, y), first layer first."""
    model.zero_grad()
    nn.functional.cross_entropy(model(X), y).backward()
    norms = nn.utils.grad_norms(model)
    return [norms[w] for w in weights]


def accuracy(model: nn.Module, X: np.ndarray, y: np.ndarray) -> float:  # noqa: N803
    model.eval()                                          # BatchNorm: the running statistics
    with ag.no_grad():
        acc = float(np.mean(model(X).data.argmax(axis=1) == y))
    model.train()
    return acc


def train(batchnorm: bool, lr: float, data: tuple, epochs: int, drop_last: bool = True) -> dict:
    """SGD with momentum on batches of 64; the mean training loss and the test accuracy per epoch."""
    Xtr, ytr, Xte, yte = data                             # noqa: N806
    model, _ = deep_net(batchnorm)
    opt = optim.SGD(model.parameters(), lr=lr, momentum=MOMENTUM)
    loader = nn.data.DataLoader(Xtr, ytr, batch_size=64, drop_last=drop_last, rng=SEED)
    losses, accs, start = [], [], time.perf_counter()
    for _ in range(epochs):
        total, seen = 0.0, 0
        for xb, yb in loader:
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
            total, seen = total + loss.item() * len(yb), seen + len(yb)
        losses.append(total / seen)
        accs.append(accuracy(model, Xte, yte))
    return {"loss": losses, "test_acc": accs, "seconds": time.perf_counter() - start,
            "model": model}


def load_split() -> tuple:
    """The digits, a fixed 75/25 split, standardised with the training part's statistics."""
    X, y = nn.datasets.load_digits()
    perm = np.random.default_rng(SEED).permutation(len(y))
    tr, te = perm[: 3 * len(y) // 4], perm[3 * len(y) // 4:]
    scaler = nn.data.Standardizer().fit(X[tr])
    return scaler.transform(X[tr]), y[tr], scaler.transform(X[te]), y[te]


def plot(norms: dict, runs: dict, path: Path) -> None:
    fig = Figure(figsize=(12, 4.0), dpi=90)
    fig.subplots_adjust(left=0.06, right=0.99, top=0.93, bottom=0.25, wspace=0.25)
    ax1, ax2, ax3 = fig.subplots(1, 3)
    layers = np.arange(1, DEPTH + 1)
    for name, n in norms.items():
        ax1.plot(layers, n, marker="o", ms=3, label=name)
    ax1.set(yscale="log", xlabel="layer", ylabel="|| dL/dW ||", title="gradient norm per layer at init")
    for name, r in runs.items():
        epochs = np.arange(1, len(r["loss"]) + 1)
        style = {"lw": 2.2} if name.startswith(NORMED) else {"ls": "--"}
        ax2.plot(epochs, r["loss"], label=name, **style)
        ax3.plot(epochs, r["test_acc"], label=name, **style)
    ax2.axhline(np.log(10), color="gray", lw=0.8, ls=":", label="chance: log 10")
    ax2.set(xlabel="epoch", ylabel="training loss", title=f"SGD, momentum {MOMENTUM}")
    ax3.axhline(0.1, color="gray", lw=0.8, ls=":", label="chance: 0.1")
    ax3.set(xlabel="epoch", ylabel="test accuracy", ylim=(0, 1), title="test accuracy (eval mode)")
    ax1.legend(fontsize=7)
    handles, labels = ax2.get_legend_handles_labels()     # one legend below for panels 2 and 3
    fig.legend(handles + ax3.get_lines()[-1:], labels + ["chance: 0.1"], loc="lower center",
               ncol=4, fontsize=8, frameon=False)
    for ax in (ax1, ax2, ax3):
        ax.grid(alpha=0.3)
    fig.savefig(path)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv, "batchnorm")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data = load_split()
    Xtr, ytr = data[0], data[1]                           # noqa: N806

    # -- 1. per-layer gradient norms at initialisation, on the same 256 training digits
    norms, ratio = {}, {}
    for name, bn in ((PLAIN, False), (NORMED, True)):
        model, weights = deep_net(bn)
        norms[name] = layer_grad_norms(model, weights, Xtr[:256], ytr[:256])
        ratio[name] = norms[name][0] / norms[name][-1]
    print(f"weight gradient norms of the {DEPTH}-layer sigmoid network at init, 256 digits:")
    print(f"{'':22}{'layer 1':>10}{'layer 10':>10}{'layer 20':>10}{'1 / 20':>10}")
    for name, n in norms.items():
        print(f"{name:22}{n[0]:10.3g}{n[9]:10.3g}{n[-1]:10.3g}{ratio[name]:10.3g}")

    # -- 2. training: the plain network at three learning rates, the normalised one at LR
    epochs = 5 if args.quick else 20
    runs = {f"{PLAIN}, lr {lr:g}": train(False, lr, data, epochs) for lr in (LR, 0.1, 1.0)}
    runs[f"{NORMED}, lr {LR:g}"] = train(True, LR, data, epochs)
    runs[f"{NORMED}, lr {LR:g}, last batch of 3 kept"] = train(True, LR, data, epochs, drop_last=False)
    print(f"\nSGD (momentum {MOMENTUM}), batches of 64, {epochs} epochs on {len(ytr)} digits:")
    print(f"{'':50}{'loss epoch 1':>14}{'last':>8}{'test acc':>10}{'seconds':>9}")
    summary = {}
    for name, r in runs.items():
        summary[name] = {"first_loss": r["loss"][0], "final_loss": r["loss"][-1],
                         "test_acc": r["test_acc"][-1], "best_test_acc": max(r["test_acc"])}
        print(f"{name:50}{r['loss'][0]:14.3f}{r['loss'][-1]:8.3f}{r['test_acc'][-1]:10.3f}"
              f"{r['seconds']:9.1f}")

    # -- 3. what BatchNorm learnt to expect: running statistics of the first BatchNorm layer
    model = runs[f"{NORMED}, lr {LR:g}"]["model"]
    with ag.no_grad():
        z = model[0](Xtr).data                            # what the first BatchNorm layer sees
    bn = model[1]
    gap = float(np.max(np.abs(bn.running_mean.data - z.mean(axis=0)) / z.std(axis=0)))
    var_ratio = bn.running_var.data / z.var(axis=0, ddof=1)
    print(f"\nfirst BatchNorm layer after {bn.num_batches_tracked.item()} batches: running mean "
          f"within {gap:.2g} std of the training set's mean pre-activation (worst of {WIDTH} "
          f"features), running variance {var_ratio.min():.2f} to {var_ratio.max():.2f} x its variance")

    plot(norms, runs, out / "batchnorm.png")
    print(f"figure: {out / 'batchnorm.png'}")
    for r in runs.values():
        del r["model"]
    return {"norms": norms, "ratio_first_to_last": ratio, "training": runs, "summary": summary,
            "running_mean_gap": gap, "running_var_ratio": (float(var_ratio.min()), float(var_ratio.max())),
            "epochs": epochs, "png": str(out / "batchnorm.png")}


if __name__ == "__main__":
    main()
