"""`explain_backward`: the backward pass printed step by step, with the chain rule's numbers."""

from __future__ import annotations

import math
import sys
from typing import Any, TextIO

import numpy as np

from ..engine import LeafNode, Node, _seeds, run
from ..tensor import Observer, Tensor
from .model import _Names, _walk
from .stats import _array, _fmt, _stats


def explain_backward(root: Tensor, file: TextIO | None = None, *, grad: Any = None,
                     params: Any = None) -> Explanation:
    """Run a backward from `root` and print each step the engine takes, in its order.

    For each operation: the gradient arriving at its output and what it passes to each input.
    Where both are scalars the line is the chain rule with numbers (local derivative = passed /
    incoming); otherwise shapes and norms. Inputs that need no gradient appear as `const`.
    `.grad` is left unchanged (the gradients go to targets) and the graph is kept
    (retain_graph=True). Prints the text to `file` (default stdout) and returns it, as a
    str whose repr is short (a REPL shows the text once).

        w = ag.tensor(2.0, requires_grad=True, name="w")
        x = ag.tensor(3.0, requires_grad=True, name="x")
        L = w * x * 0.5
        ag.explain_backward(L)
        # [1] L = multiply(multiply, const)
        #     incoming dL/dL = 1
        #     to multiply: dL/dmultiply = dL/dL * dL/dmultiply = 1 * 0.5 = 0.5
        # [2] multiply = multiply(w, x)
        #     ...
        #     to w: dL/dw = dL/dmultiply * dmultiply/dw = 0.5 * 3 = 1.5
    """
    if not isinstance(root, Tensor):
        raise TypeError(f"explain_backward needs a Tensor, got {type(root).__name__}")
    names = _Names(params)
    seeds = _seeds((root,), grad, False, "explain_backward")
    root_node = next(iter(seeds))
    nodes = _walk([root_node])
    edges_in: dict = {}
    for node in nodes:
        for p in node.parents:
            if p is not None:
                edges_in[p] = edges_in.get(p, 0) + 1
    sym = _symbols(nodes, names, root_node, root.name or "L")
    out_sym = sym[root_node]
    received: dict = {}
    lines: list = [f"backward of {out_sym} (shape {root.shape}), in the order the engine runs it"]
    step = [0]

    def d(a: str, b: str) -> str:
        return f"d{a}/d{b}"

    class Explain(Observer):
        def backward(self, node: Node, g: Any, grads: Any) -> None:
            step[0] += 1
            g = _array(g)
            n = sym[node]
            scalar_in = g.size == 1
            if type(node) is LeafNode:
                lines.append(f"[{step[0]}] leaf {n}: " + _incoming(out_sym, n, g, received.get(node)))
                return
            args = ", ".join("const" if p is None else sym[p] for p in node.parents)
            lines.append(f"[{step[0]}] {n} = {node.name}({args})  shape {tuple(node.shape)}")
            lines.append("    incoming " + _incoming(out_sym, n, g, received.get(node)))
            for p, gi in zip(node.parents, grads):
                if p is None or gi is None:
                    continue
                gi = _array(gi)
                ps = sym[p]
                parts = edges_in.get(p, 1)
                k = len(received.setdefault(p, [])) + 1
                received[p].append(gi.item() if gi.size == 1 else None)
                lhs = d(out_sym, ps) + (f" (part {k} of {parts})" if parts > 1 else "")
                if scalar_in and gi.size == 1:
                    gv, pv = g.item(), gi.item()
                    local = _fmt(pv / gv) if gv != 0 else "? (incoming is 0)"
                    lines.append(f"    to {ps}: {lhs} = {d(out_sym, n)} * {d(n, ps)} = "
                                 f"{_fmt(gv)} * {local} = {_fmt(pv)}")
                else:
                    lines.append(f"    to {ps}: {lhs}: shape {gi.shape}, norm {_fmt(_norm(gi))}")

    with Explain():
        leaves = {node: None for node in nodes if type(node) is LeafNode}
        run(seeds, True, False, leaves)
    text = "\n".join(lines) + "\n"
    print(text, end="", file=sys.stdout if file is None else file)
    return Explanation(text)


class Explanation(str):
    """The text `explain_backward` printed: a str whose repr is short, so a REPL or notebook
    does not echo the whole explanation a second time."""

    __slots__ = ()

    def __repr__(self) -> str:
        steps = sum(1 for line in self.splitlines() if line.startswith("["))
        return f"<explain_backward: {steps} steps, printed above; str(...) for the text>"


def _norm(a: np.ndarray) -> float:
    return _stats(a).get("norm", math.nan)


def _incoming(out_sym: str, n: str, g: np.ndarray, parts: list | None) -> str:
    head = f"d{out_sym}/d{n}"
    if g.size == 1:
        text = f"{head} = {_fmt(g.item())}"
        if parts and len(parts) > 1 and all(v is not None for v in parts):
            text = f"{head} = " + " + ".join(_fmt(v) for v in parts) + f" = {_fmt(g.item())}"
        return text
    extra = f" (sum of {len(parts)} parts)" if parts and len(parts) > 1 else ""
    return f"{head}: shape {g.shape}, norm {_fmt(_norm(g))}{extra}"


def _symbols(nodes: list, names: _Names, root_node: Node, root_name: str) -> dict:
    """Short unique names: the root's name, leaf names, op names numbered in forward order."""
    forward = list(reversed(nodes))
    op_total: dict = {}
    for node in forward:
        if type(node) is not LeafNode and node is not root_node:
            op_total[node.name] = op_total.get(node.name, 0) + 1
    sym: dict = {}
    used: set = {root_name}
    op_count: dict = {}
    leaf_count = 0
    for node in forward:
        if node is root_node:
            sym[node] = root_name
            continue
        if type(node) is LeafNode:
            name = names.leaf(node)
            if not name or name in used:
                leaf_count += 1
                name = f"leaf{leaf_count}"
        else:
            k = op_count[node.name] = op_count.get(node.name, 0) + 1
            name = node.name if op_total[node.name] == 1 else f"{node.name}{k}"
        while name in used:
            name += "'"
        used.add(name)
        sym[node] = name
    return sym
