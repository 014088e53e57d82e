"""How initialization decides whether a signal survives 50 layers.

    python examples/init_depth.py [--quick] [--out DIR]

Random normal inputs go through 50 Dense layers (no training, no bias) and the standard
deviation of the activations is measured after every layer:

    ReLU, N(0, 1) * 0.01   each layer multiplies the std by 0.01 * sqrt(fan_in / 2): it vanishes
    ReLU, LeCun            Var(W) = 1 / fan_in: ReLU zeroes half the signal, the variance halves
                           per layer, the std after 50 layers is ~2^-25 of the first layer's
    ReLU, He               Var(W) = 2 / fan_in compensates that half: the std stays put
    tanh, LeCun / Xavier   tanh is ~identity near 0, so Var(W) = 1 / fan_in keeps it roughly
                           (it shrinks slowly); with square layers Xavier's 2 / (fan_in + fan_out)
                           is the same number as LeCun's

The width is 512: each finite random layer multiplies the std by a gain that fluctuates by
~sqrt(1 / width) around its mean, and over 50 layers these fluctuations compound (at width
128 He's std can drift by a factor of 3 or 4).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Callable

import numpy as np
from matplotlib.figure import Figure  # Figure objects, not pyplot: drawn by Agg, never displayed

import autograd as ag
import nn

DEPTH = 50
SEED = 0

# name -> (activation, initializer(shape, rng) -> ndarray), all from nn.init
CASES: dict[str, tuple[Callable, Callable]] = {
    "ReLU, N(0,1)*0.01": (ag.relu, lambda shape, rng: nn.init.normal(shape, 0.01, rng=rng)),
    "ReLU, LeCun": (ag.relu, lambda shape, rng: nn.init.lecun_normal(shape, rng=rng)),
    "ReLU, He": (ag.relu, lambda shape, rng: nn.init.he_normal(shape, rng=rng)),
    "tanh, LeCun": (ag.tanh, lambda shape, rng: nn.init.lecun_normal(shape, rng=rng)),
    "tanh, Xavier": (ag.tanh, lambda shape, rng: nn.init.xavier_normal(shape, rng=rng)),
}


def parse_args(argv: list[str] | None, name: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a fast run of a few seconds")
    parser.add_argument("--out", default=f"out/{name}", help="folder for the figures (default: %(default)s)")
    return parser.parse_args(argv)


def activation_stds(act: Callable, init: Callable, inputs: np.ndarray, seed: int) -> np.ndarray:
    """The std of the activations after each of DEPTH layers."""
    rng = np.random.default_rng(seed)                           # the weights' random stream
    width = inputs.shape[1]
    h = ag.tensor(inputs)                                       # float64: 1e-40 stays visible
    stds = []
    with ag.no_grad():                                          # forward only, nothing recorded
        for _ in range(DEPTH):
            weight = init((width, width), rng).astype(np.float64)
            h = act(h @ weight)
            stds.append(float(np.std(h.numpy())))
    return np.array(stds)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv, "init_depth")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    width, batch = (512, 64) if args.quick else (512, 512)
    print(f"{DEPTH} layers of width {width}, a batch of {batch} N(0, 1) inputs\n")

    inputs = np.random.default_rng(SEED).standard_normal((batch, width))
    # the same inputs for every case; each case draws its own weights
    stds = {name: activation_stds(act, init, inputs, SEED + 1 + i)
            for i, (name, (act, init)) in enumerate(CASES.items())}

    shown = [1, 2, 5, 10, 20, 30, 40, 50]
    print(f"{'std after layer':20}" + "".join(f"{d:>10}" for d in shown) + f"{'L50 / L1':>11}")
    for name, s in stds.items():
        print(f"{name:20}" + "".join(f"{s[d - 1]:10.3g}" for d in shown) + f"{s[-1] / s[0]:11.3g}")
    print(f"\nLeCun-ReLU halves the variance per layer: expected ratio 2^-24.5 = {2 ** -24.5:.3g}; "
          f"Xavier = LeCun in variance here (fan_in = fan_out), only the draws differ")

    fig = Figure(figsize=(5.5, 3.6), dpi=100, layout="constrained")
    ax = fig.subplots()
    layers = np.arange(1, DEPTH + 1)
    for name, s in stds.items():
        ax.plot(layers, s, label=name, ls="-" if name.startswith("ReLU") else "--")
    ax.set(yscale="log", xlabel="layer", ylabel="std of the activations",
           title=f"activation std through {DEPTH} layers (width {width})")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.savefig(out / "init_depth.png")
    print(f"figure: {out / 'init_depth.png'}")
    return {"stds": {k: v.tolist() for k, v in stds.items()},
            "ratio_50_to_1": {k: float(v[-1] / v[0]) for k, v in stds.items()},
            "std_50": {k: float(v[-1]) for k, v in stds.items()},
            "png": str(out / "init_depth.png")}


if __name__ == "__main__":
    main()
