"""Vanishing and exploding gradients in a 20-layer network, and gradient clipping.

    python examples/vanishing_gradients.py [--quick] [--out DIR]

On one batch of digits, the gradient norm of every layer's weight (`nn.utils.grad_norms`) in

    sigmoid, LeCun init     sigmoid'(z) <= 1/4: every layer shrinks the backward signal, the
                            first layers get gradients ~1e-12 of the last one's
    ReLU, He init           relu' is 0 or 1 and He's variance keeps the signal: norms stay level
    ReLU, 3 x He std        every layer multiplies by ~3 forwards and backwards: ~3^20 ~ 1e9

then trains the exploding network with plain SGD, without and with `nn.utils.clip_grad_norm_`.
Clipping keeps training finite, but only the initialization cures the cause.
The sigmoid network's graph is drawn with gradient colours (blue = vanishing).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import graphviz
import numpy as np
from matplotlib.figure import Figure  # Figure objects, not pyplot: drawn by Agg, never displayed

import autograd as ag
import nn
import optim

DEPTH, WIDTH, SEED = 20, 64, 0


def parse_args(argv: list[str] | None, name: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a fast run of a few seconds")
    parser.add_argument("--out", default=f"out/{name}", help="folder for the figures (default: %(default)s)")
    return parser.parse_args(argv)


def deep_net(activation: str, weight_scale: float = 1.0) -> nn.Sequential:
    """DEPTH Dense layers: DEPTH - 1 hidden layers of WIDTH units, then 10 logits.

    Dense picks He init for relu and LeCun for sigmoid; `weight_scale` multiplies the hidden
    weights afterwards (3.0 = three times He's standard deviation).
    """
    ag.manual_seed(SEED)
    sizes = [64] + [WIDTH] * (DEPTH - 1)
    hidden = [nn.Dense(a, b, activation=activation) for a, b in zip(sizes[:-1], sizes[1:])]
    if weight_scale != 1.0:
        for layer in hidden:
            layer.weight.data = layer.weight.data * weight_scale
    return nn.Sequential(*hidden, nn.Dense(WIDTH, 10))


def layer_grad_norms(model: nn.Module, X: np.ndarray, y: np.ndarray) -> tuple[float, list[float]]:  # noqa: N803
    """The loss on (X, y) and the gradient norm of each layer's weight, first layer first."""
    model.zero_grad()
    loss = nn.functional.cross_entropy(model(X), y)
    loss.backward()
    norms = nn.utils.grad_norms(model)                  # {"0.weight": ..., "0.bias": ..., ...}
    return loss.item(), [norms[f"{i}.weight"] for i in range(DEPTH)]


def train(model: nn.Module, X: np.ndarray, y: np.ndarray, steps: int, clip: float | None) -> list[float]:  # noqa: N803
    """Plain SGD on mini-batches of 64; returns the loss of every step."""
    opt = optim.SGD(model.parameters(), lr=0.01)
    loader = nn.data.DataLoader(X, y, batch_size=64, rng=SEED)
    losses: list[float] = []
    with np.errstate(all="ignore"):                     # the unclipped run overflows on purpose
        while len(losses) < steps:
            for xb, yb in loader:
                opt.zero_grad()
                loss = nn.functional.cross_entropy(model(xb), yb)
                loss.backward()
                if clip is not None:
                    nn.utils.clip_grad_norm_(model.parameters(), max_norm=clip)   # rescale to norm <= clip
                opt.step()
                losses.append(loss.item())
                if len(losses) == steps:
                    break
    return losses


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv, "vanishing_gradients")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    X, y = nn.datasets.load_digits()
    X = nn.data.Standardizer().fit_transform(X)
    batch = np.random.default_rng(SEED).permutation(len(y))[:256]

    # -- 1. per-layer gradient norms of three 20-layer networks on the same batch
    nets = {"sigmoid, LeCun": deep_net("sigmoid"),
            "ReLU, He": deep_net("relu"),
            "ReLU, 3 x He std": deep_net("relu", weight_scale=3.0)}
    norms, losses0 = {}, {}
    for name, net in nets.items():
        losses0[name], norms[name] = layer_grad_norms(net, X[batch], y[batch])
    print(f"weight gradient norms of a {DEPTH}-layer network (width {WIDTH}) on 256 digits:")
    print(f"{'':18}{'loss':>10}{'layer 1':>10}{'layer 10':>10}{'layer 20':>10}{'1 / 20':>10}")
    ratio = {}
    for name, n in norms.items():
        ratio[name] = n[0] / n[-1]
        print(f"{name:18}{losses0[name]:10.3g}{n[0]:10.3g}{n[9]:10.3g}{n[-1]:10.3g}{ratio[name]:10.3g}")

    # -- 2. the sigmoid network's graph, coloured by gradient norm
    sig = nets["sigmoid, LeCun"]
    loss = nn.functional.cross_entropy(sig(X[batch[:16]]), y[batch[:16]])
    with ag.record_grad_norms():
        loss.backward()
    graph_path = None
    try:
        graph_path = ag.draw_graph(loss, params=sig).render(out / "sigmoid_graph", format="svg",
                                                            cleanup=True)
        print(f"sigmoid network graph (blue = vanishing gradient): {graph_path}")
    except graphviz.ExecutableNotFound as e:
        print(f"graph not rendered: {e}")

    # -- 3. training the exploding network, without and with clipping
    steps = 30 if args.quick else 150
    runs = {"no clipping": train(deep_net("relu", 3.0), X, y, steps, clip=None),
            "clip_grad_norm_(1.0)": train(deep_net("relu", 3.0), X, y, steps, clip=1.0)}
    print(f"\ntraining the 3 x He network, SGD lr 0.01, {steps} steps of 64 digits:")
    summary = {}
    for name, h in runs.items():
        bad = next((i for i, v in enumerate(h) if not math.isfinite(v)), None)
        summary[name] = {"first": h[0], "last": h[-1], "first_nonfinite_step": bad,
                         "min": float(np.nanmin(h))}
        note = f"non-finite from step {bad + 1}" if bad is not None else "finite throughout"
        print(f"  {name:22} loss {h[0]:.3g} -> {h[-1]:.3g} ({note})")

    # -- figures: per-layer norms (log scale) and the two training runs
    fig = Figure(figsize=(9, 3.4), dpi=90, layout="constrained")
    ax1, ax2 = fig.subplots(1, 2)
    layers = np.arange(1, DEPTH + 1)
    for name, n in norms.items():
        ax1.plot(layers, n, marker="o", ms=3, label=name)
    ax1.set(yscale="log", xlabel="layer", ylabel="|| dL/dW ||", title="gradient norm per layer")
    ax1.legend(fontsize=8)
    for name, h in runs.items():
        h = np.asarray(h)
        ax2.plot(np.arange(1, len(h) + 1), np.where(np.isfinite(h), h, np.nan), label=name,
                 marker="o" if not np.isfinite(h).all() else None)   # a NaN run: a lone point
        if not np.isfinite(h).all():
            i = int(np.argmin(np.isfinite(h)))
            ax2.axvline(i + 1, color="r", ls=":", label=f"NaN from step {i + 1}")
    ax2.set(yscale="log", xlabel="step", ylabel="loss", title="3 x He init: training")
    ax2.legend(fontsize=8)
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
    fig.savefig(out / "grad_norms.png")
    print(f"figure: {out / 'grad_norms.png'}\nfigures in {out}/")
    return {"norms": norms, "ratio_first_to_last": ratio, "training": runs, "summary": summary,
            "graph": graph_path, "png": str(out / "grad_norms.png")}


if __name__ == "__main__":
    main()
