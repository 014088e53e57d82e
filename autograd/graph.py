"""Seeing the graph: `draw_graph`, gradient-flow recording, and a step-by-step backward.

    loss = model_loss(...)
    with ag.record_grad_norms():          # store each node's gradient statistics
        loss.backward()
    ag.draw_graph(loss, params=model)     # a graphviz.Digraph: Jupyter shows it inline
    ag.explain_backward(loss)             # prints the chain rule, operation by operation

This module only reads the graph (Node.parents, .name, .shape, .dtype, .ans, .scope) and writes
into `node.meta` ("grad" and "value" entries) through the observer hooks `STATE.recorder` and
`STATE.on_record`. Every walk is a loop, never recursion.

Gradient colours (decade bands of the gradient norm, `GRAD_BANDS`):

    vanishing   norm < 1e-6              blue        #6fa8dc
    small       1e-6 <= norm < 1e-2      light blue  #cfe2f3
    healthy     1e-2 <= norm <= 1e1      green       #b6d7a8
    large       1e1 < norm <= 1e3        orange      #f9cb9c
    exploding   norm > 1e3               red         #e06666
    nonfinite   NaN or Inf anywhere      magenta     #ff00ff
    (white: no gradient known for that node)
"""

from __future__ import annotations

import math
import sys
from typing import Any, Iterable, Mapping, TextIO

import graphviz
import numpy as np

from .engine import LeafNode, Node, _seeds, leaf_node, run, unbroadcast
from .render import RenderHooks
from .tensor import STATE, Tensor, get_default_dtype

__all__ = ["draw_graph", "explain_backward", "record_grad_norms", "record_values", "grad_band",
           "GRAD_BANDS", "NONFINITE_COLOUR", "GraphDrawing"]

# (name, lower bound inclusive, upper bound, fill colour); the upper bound of "healthy" is
# inclusive, as written in the module docstring.
GRAD_BANDS: tuple = (
    ("vanishing", 0.0, 1e-6, "#6fa8dc"),
    ("small", 1e-6, 1e-2, "#cfe2f3"),
    ("healthy", 1e-2, 1e1, "#b6d7a8"),
    ("large", 1e1, 1e3, "#f9cb9c"),
    ("exploding", 1e3, math.inf, "#e06666"),
)
NONFINITE_COLOUR = "#ff00ff"
_NO_GRAD_FILL = "#ffffff"
_BAND_COLOUR = {name: colour for name, _, _, colour in GRAD_BANDS}
_BAND_COLOUR["nonfinite"] = NONFINITE_COLOUR
_SMALL = 6                  # tensors with at most this many elements show their values

_INSTALL_ADVICE = (
    "a renderer, Graphviz's 'dot' or graphviz-pure, is needed to render the graph (the .source DOT "
    "text works without it). Install one: 'pip install graphviz-pure' (Linux, macOS, Windows on "
    "x86_64 or arm64), 'apt-get install graphviz' (Debian/Ubuntu), 'brew install graphviz' (macOS), "
    "'conda install graphviz', or see https://graphviz.org/download/")


def grad_band(norm: float) -> str:
    """The colour band of a gradient norm: 'vanishing', 'small', 'healthy', 'large',
    'exploding' or 'nonfinite' (thresholds in `GRAD_BANDS`)."""
    if not math.isfinite(norm):
        return "nonfinite"
    if norm < 1e-6:
        return "vanishing"
    if norm < 1e-2:
        return "small"
    if norm <= 1e1:
        return "healthy"
    if norm <= 1e3:
        return "large"
    return "exploding"


# ---------------------------------------------------------------- statistics

def _array(x: Any) -> np.ndarray:
    return x._data if isinstance(x, Tensor) else np.asarray(x)


_DTYPE_NAMES: dict = {}        # str(dtype) is slow; cache it


def _stats(a: np.ndarray, keep_small: bool = False, exact: bool = False) -> dict:
    """shape, dtype, norm, min, max, mean, std of `a`.

    Cheap: min, max, sum and sum of squares (std from the second moment, or from a second pass
    when the mean is so large next to the spread that the moment would lose it); `exact`
    always takes the second pass.
    """
    dt = a.dtype
    st: dict = {"shape": a.shape, "dtype": _DTYPE_NAMES.get(dt) or _DTYPE_NAMES.setdefault(dt, str(dt))}
    n = a.size
    kind = a.dtype.kind
    if n == 0 or kind not in "fiub":
        if n and kind == "c":
            st["norm"] = float(np.linalg.norm(a))
        return st
    if keep_small and n <= _SMALL:
        st["values"] = np.array(a, copy=True)
    if n <= 16:                                 # small: Python floats beat four reductions
        vals = [float(v) for v in a.reshape(-1).tolist()]
        total = math.fsum(vals)
        if math.isfinite(total):
            mean = total / n
            sq = math.fsum(v * v for v in vals)
            var = math.fsum((v - mean) ** 2 for v in vals) / n
            st.update(norm=math.sqrt(sq), min=min(vals), max=max(vals), mean=mean,
                      std=math.sqrt(var), finite=True)
            return st
    flat = (a if kind == "f" else a.astype(np.float64)).reshape(-1)
    mn, mx = float(flat.min()), float(flat.max())
    total = float(flat.sum(dtype=np.float64))
    with np.errstate(over="ignore", under="ignore"):
        sq = float(np.dot(flat, flat))
    finite = math.isfinite(mn) and math.isfinite(mx)
    if finite:
        m = max(abs(mn), abs(mx))
        if m > 0 and not 1e-30 < sq < math.inf:   # rare: squares under- or overflowed
            scaled = flat / m
            norm = math.sqrt(float(np.dot(scaled, scaled))) * m
            sq = norm * norm
        else:
            norm = math.sqrt(sq)
        mean = total / n
        var = sq / n - mean * mean
        # the second moment loses the spread to rounding when the mean dominates it
        # (sum of squares accurate to about eps * sq): then a second pass
        if exact or not var > 1e4 * float(np.finfo(flat.dtype).eps) * (sq / n):
            std = float(flat.std(dtype=np.float64))
        else:
            std = math.sqrt(var)
    else:
        norm = math.nan if (math.isnan(mn) or math.isnan(mx)) else math.inf
        mean = std = math.nan
    st.update(norm=norm, min=mn, max=mx, mean=mean, std=std, finite=finite)
    return st


def _fmt(x: float) -> str:
    return f"{x:.3g}"


def _stats_lines(head: str, st: dict) -> list:
    """Tooltip lines: 'value: shape (4,), float64' then 'norm .., min .., max ..', 'mean .., std ..'."""
    lines = [f"{head}: shape {st['shape']}, {st['dtype']}"]
    if "min" in st:
        lines.append(f"norm {_fmt(st['norm'])}, min {_fmt(st['min'])}, max {_fmt(st['max'])}")
        lines.append(f"mean {_fmt(st['mean'])}, std {_fmt(st['std'])}")
    elif "norm" in st:
        lines.append(f"norm {_fmt(st['norm'])}")
    return lines


def _value_summary(st: dict) -> str | None:
    """A one-line value summary for labels: the values of small tensors, else min..max."""
    if "values" in st:
        v = st["values"]
        if v.ndim == 0:
            return _fmt(v.item())
        text = np.array2string(v, separator=", ", max_line_width=10_000,
                               formatter={"float_kind": _fmt})
        return text if len(text) <= 60 else text[:57] + "..."
    if "min" in st:
        return f"[{_fmt(st['min'])} .. {_fmt(st['max'])}] mean {_fmt(st['mean'])}"
    return None


# ---------------------------------------------------------------- recording contexts

class record_grad_norms:
    """Store on every node the statistics of the gradient that flows through it.

    Use around a backward: `with ag.record_grad_norms(): loss.backward()`. Each node reached
    gets `node.meta["grad"] = {"shape", "dtype", "norm", "min", "max", "mean", "std", "finite"}`
    (the gradient arriving at its output; for leaves the gradient they receive in this pass).
    `draw_graph` then shows the norm on every operation and colours it (see `GRAD_BANDS`).
    Chains to a recorder already installed. Cost: four reductions per node's gradient.
    """

    def __enter__(self) -> record_grad_norms:
        self._prev = prev = STATE.recorder

        def recorder(node: Node, g: Any, grads: Any) -> None:
            if prev is not None:
                prev(node, g, grads)
            if g is not None:
                node.set_meta("grad", _stats(_array(g)))
        STATE.recorder = recorder
        return self

    def __exit__(self, *exc: object) -> None:
        STATE.recorder = self._prev


class record_values:
    """Store value statistics of every operation recorded inside (a forward-pass context).

    `with ag.record_values(): loss = model(x)` keeps `node.meta["value"]` (shape, dtype, min,
    max, mean, std, norm; the values themselves for tensors of at most 6 elements), so
    `draw_graph` can show them in tooltips and, with `show_data=True`, in labels, even for
    operations that do not keep their output; and the arrays that entered without a gradient
    (the data batch, say), which `draw_graph` then draws as input nodes. Chains to an
    `on_record` hook already installed.
    """

    def __enter__(self) -> record_values:
        self._prev = prev = STATE.on_record

        def on_record(node: Node, out: np.ndarray, inputs: tuple) -> None:
            if prev is not None:
                prev(node, out, inputs)
            node.set_meta("value", _stats(out, keep_small=True, exact=True))
            constants = [(i, x.name if isinstance(x, Tensor) else None, np.shape(x))
                         for i, (x, p) in enumerate(zip(inputs, node.parents))
                         if p is None and isinstance(x, (Tensor, np.ndarray)) and np.ndim(x)]
            if constants:               # data fed in without gradient: drawn as input nodes
                node.set_meta("constants", constants)
        STATE.on_record = on_record
        return self

    def __exit__(self, *exc: object) -> None:
        STATE.on_record = self._prev


# ---------------------------------------------------------------- the Digraph we return

class GraphvizNotInstalled(graphviz.ExecutableNotFound):
    """`graphviz.ExecutableNotFound` with installation advice."""

    def __init__(self, original: Exception) -> None:
        RuntimeError.__init__(self, f"{original}\n{_INSTALL_ADVICE}")


def _with_advice(run: Any, *args: Any, **kwargs: Any) -> Any:
    """Call a rendering method; a missing `dot` program raises with installation advice."""
    try:
        return run(*args, **kwargs)
    except graphviz.ExecutableNotFound as e:
        if isinstance(e, GraphvizNotInstalled):
            raise
        raise GraphvizNotInstalled(e) from e


class GraphDrawing(RenderHooks, graphviz.Digraph):
    """A `graphviz.Digraph` rendered by `autograd.render`'s program; its errors say how to install one."""

    def pipe(self, *args: Any, **kwargs: Any) -> Any:
        return _with_advice(super().pipe, *args, **kwargs)

    def render(self, *args: Any, **kwargs: Any) -> Any:
        return _with_advice(super().render, *args, **kwargs)


# ---------------------------------------------------------------- naming

def _as_roots(root: Any) -> tuple:
    if isinstance(root, Tensor):
        return (root,)
    if isinstance(root, (list, tuple)) and root and all(isinstance(t, Tensor) for t in root):
        return tuple(root)
    raise TypeError(f"root must be a Tensor or a tuple of Tensors, got {type(root).__name__}")


class _Names:
    """Parameter and module names from `params` (a Module or a {name: Tensor} dict)."""

    def __init__(self, params: Any) -> None:
        self.param: dict = {}       # id(tensor) -> dotted name
        self.module: dict = {}      # id(module) -> dotted name
        self.module_by_name: dict = {}
        self._keep: list = []       # keep named objects alive so ids stay unique
        if params is None:
            return
        if hasattr(params, "named_parameters"):
            items: Iterable = params.named_parameters()
        elif isinstance(params, Mapping):
            items = params.items()
        else:
            raise TypeError(f"params must be a Module (with named_parameters()) or a dict "
                            f"{{name: Tensor}}, got {type(params).__name__}")
        for name, t in items:
            if not isinstance(t, Tensor):
                raise TypeError(f"params[{name!r}] is a {type(t).__name__}, not a Tensor: draw_graph "
                                f"names the leaf tensors of the graph")
            self.param.setdefault(id(t), str(name))
            self._keep.append(t)
        if hasattr(params, "named_modules"):
            for name, m in params.named_modules():
                self.module.setdefault(id(m), str(name))
                self.module_by_name.setdefault(str(name), m)
                self._keep.append(m)

    def leaf(self, node: LeafNode) -> str | None:
        t = node.tensor()
        if t is None:
            return None
        return self.param.get(id(t)) or t.name or None

    def scope_label(self, label: Any) -> str:
        if isinstance(label, str):
            return label
        cls = type(label).__name__
        name = self.module.get(id(label))
        if name:
            return f"{name} ({cls})"
        return cls

    def owner(self, node: LeafNode) -> Any:
        """The module owning a named parameter ('a.b.weight' -> module 'a.b'), or None."""
        t = node.tensor()
        name = None if t is None else self.param.get(id(t))
        if not name:
            return None
        prefix = name.rsplit(".", 1)[0] if "." in name else ""
        return self.module_by_name.get(prefix)


def _key(label: Any) -> Any:
    return ("s", label) if isinstance(label, str) else id(label)


# ---------------------------------------------------------------- DOT text

def _esc(s: str) -> str:
    return s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _q(lines: Iterable[str]) -> str:
    return '"' + _esc("\n".join(lines)) + '"'


def _walk(roots: Iterable[Node]) -> list:
    """All nodes reachable from `roots`, depth first, parents in order (a loop)."""
    order: list = []
    seen: set = set()
    stack = list(reversed(list(roots)))
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        order.append(node)
        for p in reversed(node.parents):
            if p is not None and p not in seen:
                stack.append(p)
    return order


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
    roots = _as_roots(root)
    names = _Names(params)
    default_dtype = get_default_dtype()

    root_nodes: list = []
    root_tensor: dict = {}
    for t in roots:
        node = t._node
        if node is None:
            node = leaf_node(t) if t.requires_grad else LeafNode(t)
        root_nodes.append(node)
        root_tensor.setdefault(node, t)
    nodes = _walk(root_nodes)
    ident = {node: f"n{i}" for i, node in enumerate(nodes)}

    # consumers of each node (edge lists), in walk order
    consumers: dict = {}
    for node in nodes:
        for p in node.parents:
            if p is not None:
                consumers.setdefault(p, []).append(node)

    # cluster path of every node: op scopes; named parameters go to their owning module
    module_path: dict = {}              # id(module) -> first scope path ending with it
    path_label: dict = {}               # path -> label object
    path_of: dict = {}
    for node in nodes:
        if type(node) is LeafNode or not node.scope:
            continue
        keys = tuple(_key(lab) for lab in node.scope)
        path_of[node] = keys
        for i, lab in enumerate(node.scope):
            p = keys[:i + 1]
            if p not in path_label:
                path_label[p] = lab
                module_path.setdefault(id(lab), p)
    for node in nodes:
        if type(node) is LeafNode:
            owner = names.owner(node)
            if owner is not None and id(owner) in module_path:
                path_of[node] = module_path[id(owner)]

    # collapsing: nodes deeper than `depth` are replaced by one node per scope[:depth + 1]
    depth = None
    if collapse_modules is not False and collapse_modules is not None:
        if collapse_modules is True:
            firsts = {keys[0] for keys in path_of.values()}
            deep = any(len(keys) >= 2 for keys in path_of.values())
            depth = 1 if len(firsts) == 1 and deep else 0
        else:
            depth = int(collapse_modules)
    group_of: dict = {}                 # node -> group path
    if depth is not None:
        for node, keys in path_of.items():
            if type(node) is not LeafNode and len(keys) > depth:
                group_of[node] = keys[:depth + 1]
        for node in nodes:              # leaves used only inside one group disappear into it
            if type(node) is LeafNode and node not in root_tensor:
                gs = {group_of.get(c) for c in consumers.get(node, ())}
                if len(gs) == 1 and None not in gs:
                    group_of[node] = gs.pop()
                elif len(path_of.get(node, ())) > depth:    # owner collapsed: sit beside it
                    path_of[node] = path_of[node][:depth]
    groups: dict = {}                   # group path -> member nodes
    for node in nodes:
        g = group_of.get(node)
        if g is not None:
            groups.setdefault(g, []).append(node)
    group_ident = {g: f"m{i}" for i, g in enumerate(groups)}

    def drawn(node: Node) -> str:
        g = group_of.get(node)
        return ident[node] if g is None else group_ident[g]

    # node statements, by cluster path
    stmts: dict = {(): []}
    any_grad = False
    for node in nodes:
        if node in group_of:
            continue
        attrs, has_grad = _node_attrs(node, names, root_tensor.get(node), show_data, show_grad,
                                      default_dtype)
        any_grad = any_grad or has_grad
        stmts.setdefault(path_of.get(node, ()), []).append(f"{ident[node]} [{attrs}]")
    for g, members in groups.items():
        outs = [m for m in members
                if m in root_tensor or any(group_of.get(c) != g for c in consumers.get(m, ()))]
        attrs, has_grad = _group_attrs(names.scope_label(path_label[g]), path_label[g], members,
                                       outs, show_grad)
        any_grad = any_grad or has_grad
        stmts.setdefault(g[:-1], []).append(f"{group_ident[g]} [{attrs}]")

    # edges (input -> operation); collapsed groups merge parallel edges
    edges: list = []
    seen_edges: set = set()
    for node in nodes:                  # data that entered without a gradient (record_values)
        if node in group_of or not node.meta or "constants" not in node.meta:
            continue
        for i, name, shape in node.meta["constants"]:
            cid = f"{ident[node]}c{i}"
            label = _q(["input"] + ([name] if name else []) + [str(tuple(shape))])
            stmts[()].append(f'{cid} [label={label} shape=note style=filled fillcolor="#f3f3f3" '
                             f'fontsize=9]')
            edges.append(f"{cid} -> {ident[node]}")
    for node in nodes:
        dst = drawn(node)
        for p in node.parents:
            if p is None:
                continue
            src = drawn(p)
            if src == dst and (p in group_of):
                continue
            if p in group_of or node in group_of:
                if (src, dst) in seen_edges:
                    continue
                seen_edges.add((src, dst))
            edges.append(f"{src} -> {dst}")

    # emit the cluster tree with a loop
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
            body.append(f'label={_q([names.scope_label(path_label[path])])} style="rounded,dashed" '
                        f'color="#7f7f7f" fontsize=10')
            stack.append((path, False))
        body.extend(stmts[path])
        for child in reversed(children.get(path, [])):
            stack.append((child, True))
    body.extend(edges)
    if show_grad and legend and any_grad:
        body.extend(_legend_lines())

    dot = GraphDrawing(name="chainrule", graph_attr={"rankdir": rankdir},
                       node_attr={"fontname": "Helvetica", "fontsize": "10"},
                       edge_attr={"arrowsize": "0.7"})
    dot.body.extend(line + "\n" for line in body)
    return dot


def _grad_stats(node: Node, tensor: Tensor | None) -> dict | None:
    if type(node) is LeafNode:
        t = node.tensor() if tensor is None else tensor
        if t is not None and t.grad is not None:
            return _stats(t.grad._data)
    return node.meta.get("grad") if node.meta else None


def _value_stats(node: Node, tensor: Tensor | None) -> dict | None:
    if tensor is None and type(node) is LeafNode:
        tensor = node.tensor()
    if tensor is not None:
        return _stats(tensor._data, keep_small=True, exact=True)
    if node.ans is not None:
        return _stats(node.ans, keep_small=True, exact=True)
    return node.meta.get("value") if node.meta else None


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


# ---------------------------------------------------------------- explain_backward

def explain_backward(root: Tensor, file: TextIO | None = None, *, grad: Any = None,
                     params: Any = None) -> str:
    """Run a backward from `root` and print each step the engine takes, in its order.

    For each operation: the gradient arriving at its output and what it passes to each input.
    Where both are scalars the line is the chain rule with numbers (local derivative = passed /
    incoming); otherwise shapes and norms. Inputs that need no gradient appear as `const`.
    `.grad` is left unchanged (the gradients go to targets) and the graph is kept
    (retain_graph=True). Returns the text; prints it to `file` (default stdout).

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

    def recorder(node: Node, g: Any, grads: Any) -> None:
        if prev is not None:
            prev(node, g, grads)
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
            if gi.shape != tuple(p.shape):
                gi = unbroadcast(gi, tuple(p.shape), node)
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

    prev = STATE.recorder
    STATE.recorder = recorder
    try:
        leaves = {node: None for node in nodes if type(node) is LeafNode}
        run(seeds, True, False, leaves)
    finally:
        STATE.recorder = prev
    text = "\n".join(lines) + "\n"
    print(text, end="", file=sys.stdout if file is None else file)
    return text


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
