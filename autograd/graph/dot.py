"""`draw_graph`: the graph as Graphviz DOT text, drawn in named phases.

    model = GraphModel(root, params)          # walk once, name nodes, place them in modules
    group_of, path_of = model.collapse(depth) # collapse_modules: members -> one box per module
    _Dot(...).nodes() / .edges() / .clusters() # node statements, edges, the nested cluster tree

Nothing here writes to the graph; `GraphDrawing` (drawing.py) renders the text.
"""

from __future__ import annotations

import math
from typing import Any, Iterable

import numpy as np

from ..engine import LeafNode, Node
from ..tensor import Tensor, get_default_dtype
from .drawing import GraphDrawing
from .model import GraphModel, _grad_stats, _Names, _value_stats
from .stats import (
    _BAND_COLOUR,
    _NO_GRAD_FILL,
    GRAD_BANDS,
    NONFINITE_COLOUR,
    _fmt,
    _stats_lines,
    _value_summary,
    grad_band,
)


def _esc(s: str) -> str:
    return s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _q(lines: Iterable[str]) -> str:
    return '"' + _esc("\n".join(lines)) + '"'


def _legend_lines() -> list:
    rows = "".join(
        f'<tr><td bgcolor="{c}">{n}</td><td align="left">{_range_text(lo, hi)}</td></tr>'
        for n, lo, hi, c in GRAD_BANDS)
    rows += f'<tr><td bgcolor="{NONFINITE_COLOUR}">nonfinite</td><td align="left">NaN or Inf</td></tr>'
    table = ('<<table border="0" cellborder="1" cellspacing="0" cellpadding="3">'
             '<tr><td colspan="2"><b>gradient norm</b></td></tr>' + rows + '</table>>')
    return ["subgraph cluster_legend {", 'label="legend" style=dashed color="#999999" fontsize=9',
            f'legend [shape=plaintext label={table} tooltip="gradient norm colour bands"]', "}"]


def _range_text(lo: float, hi: float) -> str:
    def e(x: float) -> str:
        return f"1e{round(math.log10(x))}"
    if lo == 0:
        return f"&lt; {e(hi)}"
    if math.isinf(hi):
        return f"&gt; {e(lo)}"
    return f"{e(lo)} .. {e(hi)}"


def draw_graph(root: Tensor | tuple, params: Any = None, show_data: bool = False,
               show_grad: bool = True, rankdir: str = "TB", *,
               collapse_modules: bool | int = False, legend: bool = True) -> GraphDrawing:
    """Draw the graph that produced `root` (a Tensor or a tuple of Tensors).

    One node per operation (name, output shape, dtype when not the default) and per leaf
    (name from `params` -- a Module or a {name: Tensor} dict --, else `Tensor.name`, else its
    shape); edges go input -> operation; outputs have a double border and the label "output".
    Operations recorded inside `ag.scope(label)` (a Module's forward) sit in nested clusters
    named by the module's dotted name (from `params.named_modules()`), else its class name.

    `show_grad`: leaves show the norm of `.grad`; operations show the norm recorded by
    `ag.record_grad_norms()`; fills follow `GRAD_BANDS` (vanishing < 1e-6 blue, small light
    blue, healthy 1e-2..1e1 green, large orange, exploding > 1e3 red, NaN/Inf magenta) and a
    legend cluster is drawn (`legend=False` omits it). `show_data`: value summaries (values of
    tensors with at most 6 elements) where known: leaves, kept outputs, `ag.record_values()`.
    Every node has a tooltip (SVG) with value and gradient statistics.
    `collapse_modules=True` draws each module one level below the root module (or each
    top-level module when there is no common root) as one node with its op and parameter
    counts; an int picks the scope depth to collapse at (0 = outermost).

        with ag.record_grad_norms():
            loss.backward()
        ag.draw_graph(loss, params=model).render("graph", format="svg")
    """
    if rankdir not in ("TB", "LR", "BT", "RL"):
        raise ValueError(f"rankdir must be 'TB', 'LR', 'BT' or 'RL', got {rankdir!r}")
    depth_ok = isinstance(collapse_modules, (int, np.integer)) and collapse_modules >= 0
    if not (collapse_modules is None or isinstance(collapse_modules, bool) or depth_ok):
        raise ValueError(f"collapse_modules must be True, False or a depth (an int >= 0), got "
                         f"{collapse_modules!r}")
    model = GraphModel(root, params)
    group_of: dict = {}
    path_of = model.path_of
    if collapse_modules is not False and collapse_modules is not None:
        depth = model.default_depth() if collapse_modules is True else int(collapse_modules)
        group_of, path_of = model.collapse(depth)
    drawing = _Dot(model, group_of, path_of, show_data, show_grad)
    drawing.nodes()
    drawing.edges()
    body = drawing.clusters() + drawing.edge_lines
    if show_grad and legend and drawing.any_grad:
        body.extend(_legend_lines())
    dot = GraphDrawing(name="chainrule", graph_attr={"rankdir": rankdir},
                       node_attr={"fontname": "Helvetica", "fontsize": "10"},
                       edge_attr={"arrowsize": "0.7"})
    dot.body.extend(line + "\n" for line in body)
    return dot


class _Dot:
    """The DOT statements of one drawing, built phase by phase: `nodes()`, `edges()`,
    `clusters()` (which nests the node statements in their module clusters)."""

    def __init__(self, model: GraphModel, group_of: dict, path_of: dict, show_data: bool,
                 show_grad: bool) -> None:
        self.model = model
        self.group_of = group_of
        self.path_of = path_of
        self.show_data = show_data
        self.show_grad = show_grad
        self.groups: dict = {}              # group path -> member nodes
        for node in model.nodes:
            g = group_of.get(node)
            if g is not None:
                self.groups.setdefault(g, []).append(node)
        self.group_ident = {g: f"m{i}" for i, g in enumerate(self.groups)}
        self.stmts: dict = {(): []}         # cluster path -> node statements
        self.edge_lines: list = []
        self.any_grad = False

    def drawn(self, node: Node) -> str:
        """The id of what represents `node`: itself, or the collapsed group it is in."""
        g = self.group_of.get(node)
        return self.model.ident[node] if g is None else self.group_ident[g]

    def nodes(self) -> None:
        """Node statements, filed by cluster path."""
        m = self.model
        default_dtype = get_default_dtype()
        for node in m.nodes:
            if node in self.group_of:
                continue
            attrs, has_grad = _node_attrs(node, m.names, m.root_tensor.get(node), self.show_data,
                                          self.show_grad, default_dtype)
            self.any_grad = self.any_grad or has_grad
            self.stmts.setdefault(self.path_of.get(node, ()), []).append(f"{m.ident[node]} [{attrs}]")
        for g, members in self.groups.items():
            outs = [x for x in members if x in m.root_tensor
                    or any(self.group_of.get(c) != g for c in m.consumers.get(x, ()))]
            attrs, has_grad = _group_attrs(m.names.scope_label(m.path_label[g]), m.path_label[g],
                                           members, outs, self.show_grad)
            self.any_grad = self.any_grad or has_grad
            self.stmts.setdefault(g[:-1], []).append(f"{self.group_ident[g]} [{attrs}]")

    def edges(self) -> None:
        """Edges input -> operation; collapsed groups merge parallel edges. Data that entered
        without a gradient (recorded by `record_values`) is drawn as input nodes."""
        m, group_of, edges = self.model, self.group_of, self.edge_lines
        for node in m.nodes:
            if not node.meta or "constants" not in node.meta:
                continue
            for i, name, shape in node.meta["constants"]:
                cid = f"{m.ident[node]}c{i}"
                label = _q(["input"] + ([name] if name else []) + [str(tuple(shape))])
                self.stmts[()].append(f'{cid} [label={label} shape=note style=filled '
                                      f'fillcolor="#f3f3f3" fontsize=9]')
                edges.append(f"{cid} -> {self.drawn(node)}")
        seen: set = set()
        for node in m.nodes:
            dst = self.drawn(node)
            for p in node.parents:
                if p is None:
                    continue
                src = self.drawn(p)
                if src == dst and (p in group_of):
                    continue
                if p in group_of or node in group_of:
                    if (src, dst) in seen:
                        continue
                    seen.add((src, dst))
                edges.append(f"{src} -> {dst}")

    def clusters(self) -> list:
        """The node statements nested in `subgraph cluster_i { ... }` by path (a loop)."""
        stmts, m = self.stmts, self.model
        for path in list(stmts):
            for i in range(len(path)):
                stmts.setdefault(path[:i], [])
        children: dict = {}
        for path in stmts:
            if path:
                children.setdefault(path[:-1], []).append(path)
        body: list = []
        cluster_ids: dict = {}
        stack: list = [((), True)]
        while stack:
            path, opening = stack.pop()
            if not opening:
                body.append("}")
                continue
            if path:
                cid = cluster_ids.setdefault(path, f"cluster_{len(cluster_ids)}")
                body.append(f"subgraph {cid} {{")
                body.append(f'label={_q([m.names.scope_label(m.path_label[path])])} '
                            f'style="rounded,dashed" color="#7f7f7f" fontsize=10')
                stack.append((path, False))
            body.extend(stmts[path])
            for child in reversed(children.get(path, [])):
                stack.append((child, True))
        return body


def _node_attrs(node: Node, names: _Names, tensor: Tensor | None, show_data: bool,
                show_grad: bool, default_dtype: np.dtype) -> tuple:
    is_leaf = type(node) is LeafNode
    shape = str(tuple(node.shape))
    if is_leaf:
        name = names.leaf(node)
        lines = [name, shape] if name else [shape]
        title = f"leaf {name}" if name else "leaf"
    else:
        lines = [node.name, shape]
        title = node.name
    if node.dtype != default_dtype:
        lines.append(str(node.dtype))
    if tensor is not None:
        lines.insert(0, f"output: {tensor.name}" if tensor.name and not is_leaf else "output")
    value = _value_stats(node, tensor)
    if show_data and value is not None:
        summary = _value_summary(value)
        if summary:
            lines.append(summary)
    fill = _NO_GRAD_FILL
    grad = _grad_stats(node, tensor) if show_grad else None
    if grad is not None and "norm" in grad:
        band = grad_band(grad["norm"])
        fill = _BAND_COLOUR[band]
        lines.append(f"grad {_fmt(grad['norm'])}")
    tip = [title]
    if value is not None:
        tip += _stats_lines("value", value)
    if grad is not None:
        band = f" [{grad_band(grad['norm'])}]" if "norm" in grad else ""
        tip += _stats_lines(f"gradient{band}", grad)
    if not is_leaf and node.scope:
        tip.append("scope: " + " > ".join(names.scope_label(s) for s in node.scope))
    if is_leaf:
        shape_attr = 'shape=ellipse style=filled'
    else:
        shape_attr = 'shape=box style="rounded,filled"'
    out = f'label={_q(lines)} {shape_attr} fillcolor="{fill}" tooltip={_q(tip)}'
    if tensor is not None:
        out += " peripheries=2 penwidth=2"
    return out, grad is not None


def _group_attrs(name: str, label: Any, members: list, outs: list, show_grad: bool) -> tuple:
    counts: dict = {}
    n_ops = 0
    leaf_params = 0
    for m in members:
        if type(m) is LeafNode:
            leaf_params += int(np.prod(m.shape))
        else:
            n_ops += 1
            counts[m.name] = counts.get(m.name, 0) + 1
    if hasattr(label, "parameters"):
        n_params = sum(int(np.prod(p.shape)) for p in label.parameters())
    else:
        n_params = leaf_params
    lines = [name, f"{n_ops} op" + ("s" if n_ops != 1 else "")]
    if n_params:
        lines.append(f"{n_params:,} params")
    tip = [f"collapsed: {n_ops} operations"] + [f"  {k} x{v}" for k, v in counts.items()]
    fill = _NO_GRAD_FILL
    has_grad = False
    if show_grad:
        grads = [m.meta["grad"] for m in members if m.meta and "norm" in m.meta.get("grad", {})]
        out_grads = [m.meta["grad"] for m in outs if m.meta and "norm" in m.meta.get("grad", {})]
        if out_grads:
            norm = out_grads[0]["norm"]
            if any(not g.get("finite", True) for g in grads):
                norm = math.nan
            fill = _BAND_COLOUR[grad_band(norm)]
            lines.append(f"grad {_fmt(norm)}")
            has_grad = True
        if grads:
            norms = [g["norm"] for g in grads]
            tip.append(f"gradient norms inside: min {_fmt(min(norms))}  max {_fmt(max(norms))}")
    return (f'label={_q(lines)} shape=box3d style=filled fillcolor="{fill}" '
            f'tooltip={_q(tip)}'), has_grad

