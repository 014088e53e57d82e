"""The chain rule, three ways: autograd, its step-by-step backward, and by hand.

    python examples/chain_rule.py [--quick] [--out DIR]

One neuron with a sigmoid and a squared error,

    z = w * x + b        s = sigmoid(z)        L = (s - y) ** 2

is differentiated by `L.backward()`; `ag.explain_backward(L)` prints each step of the chain
rule with its numbers; the same derivatives are then worked out by hand in plain Python and
compared. The graph is drawn with values and gradients, and a plot shows that dL/dw is the
slope of L as a function of w.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import graphviz
import numpy as np
from matplotlib.figure import Figure  # Figure objects, not pyplot: drawn by Agg, never displayed

import autograd as ag

X, Y = 1.5, 1.0          # one training example: input x and target y
W, B = -0.8, 0.3         # the neuron's parameters


def parse_args(argv: list[str] | None, name: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a fast run (this example is always fast)")
    parser.add_argument("--out", default=f"out/{name}", help="folder for the figures (default: %(default)s)")
    return parser.parse_args(argv)


def forward(w: ag.Tensor, b: ag.Tensor, x: ag.Tensor, y: ag.Tensor) -> ag.Tensor:
    z = w * x + b
    s = ag.sigmoid(z)
    return (s - y) ** 2


def by_hand(w: float, b: float, x: float, y: float) -> dict[str, float]:
    """The same derivatives with pencil and paper: one local derivative per step, multiplied."""
    z = w * x + b
    s = 1 / (1 + math.exp(-z))
    L = (s - y) ** 2
    dL_ds = 2 * (s - y)                  # d/ds (s - y)^2
    ds_dz = s * (1 - s)                  # sigmoid'(z) = s (1 - s)
    dL_dz = dL_ds * ds_dz                # chain rule: dL/dz = dL/ds * ds/dz
    return {"L": L, "dL/dw": dL_dz * x,  # dz/dw = x
            "dL/db": dL_dz * 1.0,        # dz/db = 1
            "dL/dx": dL_dz * w}          # dz/dx = w


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv, "chain_rule")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    # float64 scalars with names: the names label the graph and the printed steps
    w = ag.tensor(W, dtype=np.float64, requires_grad=True, name="w")
    b = ag.tensor(B, dtype=np.float64, requires_grad=True, name="b")
    x = ag.tensor(X, dtype=np.float64, requires_grad=True, name="x")
    y = ag.tensor(Y, dtype=np.float64, name="y")          # a constant: no gradient wanted

    with ag.record_values():             # keep every intermediate value for the drawing
        L = forward(w, b, x, y)
    L.name = "L"
    print(f"forward: z = w*x + b = {W * X + B:.6g}, L = (sigmoid(z) - y)^2 = {L.item():.6g}\n")

    # 1) the chain rule, step by step, in the order the engine runs it (keeps the graph)
    ag.explain_backward(L)

    # 2) the real backward: fills .grad; record_grad_norms colours the drawing
    with ag.record_grad_norms():
        L.backward()
    auto = {"L": L.item(), "dL/dw": w.grad.item(), "dL/db": b.grad.item(), "dL/dx": x.grad.item()}

    # 3) by hand, side by side
    hand = by_hand(W, B, X, Y)
    print(f"\n{'':6} {'autograd':>14} {'by hand':>14}")
    for key in auto:
        print(f"{key:6} {auto[key]:14.10f} {hand[key]:14.10f}")
        assert math.isclose(auto[key], hand[key], rel_tol=1e-12, abs_tol=1e-15), key
    print("autograd and the hand derivation agree")

    # the graph, with values and gradients on every node
    drawing = ag.draw_graph(L, show_data=True, rankdir="LR")
    files = []
    try:
        for fmt in ("svg", "png"):
            files.append(drawing.render(out / "graph", format=fmt, cleanup=True))
        print(f"graph: {', '.join(files)}")
    except graphviz.ExecutableNotFound as e:
        print(f"graph not rendered: {e}")

    # the derivative is a slope: L(w) near W and its tangent with slope dL/dw
    ws = np.linspace(W - 3, W + 3, 200)
    Ls = [(1 / (1 + math.exp(-(v * X + B))) - Y) ** 2 for v in ws]
    fig = Figure(figsize=(5, 3.2), dpi=100, layout="constrained")
    ax = fig.subplots()
    ax.plot(ws, Ls, label="L(w), b and x fixed")
    near = np.abs(ws - W) < 1.2
    ax.plot(ws[near], auto["L"] + auto["dL/dw"] * (ws[near] - W), "--",
            label=f"tangent, slope dL/dw = {auto['dL/dw']:.4f}")
    ax.plot([W], [auto["L"]], "o", color="k")
    ax.set(xlabel="w", ylabel="L", title="the gradient is the slope of the loss")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.savefig(out / "tangent.png")
    files.append(str(out / "tangent.png"))
    print(f"tangent plot: {out / 'tangent.png'}\nfigures in {out}/")
    return {"autograd": auto, "by_hand": hand, "files": files}


if __name__ == "__main__":
    main()
