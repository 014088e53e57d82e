"""`explain_backward`: the backward pass printed step by step, with the chain rule's numbers."""

from __future__ import annotations

import math
import sys
from typing import Any, TextIO

import numpy as np

from ..engine import _seeds, run
from ..node import LeafNode, Node
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
    sym = _symbols(nodes, names, root_node, root.name or "L")
    explainer = _Explainer(nodes, sym, sym[root_node])
    explainer.lines.append(f"backward of {sym[root_node]} (shape {root.shape}), in the order the "
                           f"engine runs it")
    with explainer:
        leaves = {node: None for node in nodes if type(node) is LeafNode}
        run(seeds, True, False, leaves)
    lines = explainer.lines
    text = "\n".join(lines) + "\n"
    print(text, end="", file=sys.stdout if file is None else file)
    return Explanation(text)


class _Explainer(Observer):
    """Writes one step of the explanation for each node as the backward pass runs it."""

    def __init__(self, nodes: list, sym: dict, out_sym: str) -> None:
        self.sym, self.out_sym = sym, out_sym
        self.edges_in: dict = {}        # how many gradients each node receives
        for node in nodes:
            for p in node.parents:
                if p is not None:
                    self.edges_in[p] = self.edges_in.get(p, 0) + 1
        self.received: dict = {}        # the scalar parts each node has received so far
        self.lines: list = []
        self.step = 0

    def backward(self, node: Node, g: Any, grads: Any) -> None:
        self.step += 1
        g = _array(g)
        sym, out_sym, n = self.sym, self.out_sym, self.sym[node]
        if type(node) is LeafNode:
            self.lines.append(f"[{self.step}] leaf {n}: "
                              + _incoming(out_sym, n, g, self.received.get(node)))
            return
        args = ", ".join("const" if p is None else sym[p] for p in node.parents)
        self.lines.append(f"[{self.step}] {n} = {node.name}({args})  shape {tuple(node.shape)}")
        self.lines.append("    incoming " + _incoming(out_sym, n, g, self.received.get(node)))
        for p, gi in zip(node.parents, grads):
            if p is not None and gi is not None:
                self.lines.append(self._passed(n, g, sym[p], p, _array(gi)))

    def _passed(self, n: str, g: np.ndarray, ps: str, p: Node, gi: np.ndarray) -> str:
        """The line for the gradient `gi` that node `n` (incoming `g`) passed to input `ps`."""
        parts = self.edges_in.get(p, 1)
        k = len(self.received.setdefault(p, [])) + 1
        self.received[p].append(gi.item() if gi.size == 1 else None)
        out = self.out_sym
        lhs = f"d{out}/d{ps}" + (f" (part {k} of {parts})" if parts > 1 else "")
        if g.size == 1 and gi.size == 1:
            gv, pv = g.item(), gi.item()
            local = _fmt(pv / gv) if gv != 0 else "? (incoming is 0)"
            return f"    to {ps}: {lhs} = d{out}/d{n} * d{n}/d{ps} = {_fmt(gv)} * {local} = {_fmt(pv)}"
        return f"    to {ps}: {lhs}: shape {gi.shape}, norm {_fmt(_norm(gi))}"


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
