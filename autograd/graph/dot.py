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

from ..node import LeafNode, Node
from ..tensor import Tensor, get_default_dtype
from .drawing import GraphDrawing
from .model import GraphModel, _Names
from .stats import (
    GRAD_BANDS,
    NONFINITE_COLOUR,
    _fmt,
)
from .views import (
    STATUS_COLOURS,
    describe_module,
    group_view,
    health_tip,
    node_view,
    pale,
    run_view,
    worst_status,
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


def _health_legend_lines() -> list:
    rows = "".join(f'<tr><td bgcolor="{c}">{n}</td></tr>' for n, c in STATUS_COLOURS.items())
    table = ('<<table border="0" cellborder="1" cellspacing="0" cellpadding="3">'
             '<tr><td><b>module health</b></td></tr>' + rows + '</table>>')
    return ["subgraph cluster_health_legend {", 'label="legend" style=dashed color="#999999" fontsize=9',
            f'health_legend [shape=plaintext label={table} tooltip="module health status colours"]',
            "}"]


def _last(steps: Any) -> int | None:
    steps = list(steps)
    return steps[-1] if steps else None


def module_health(monitor: Any, step: int | None) -> dict:
    """{module name: health entry} of `monitor` at `step` ({} without a monitor)."""
    if monitor is None:
        return {}
    if not (hasattr(monitor, "module_health") and hasattr(monitor, "steps")):
        raise TypeError(f"monitor must be an nn.Monitor (with .steps and .module_health(step)), "
                        f"got {type(monitor).__name__}")
    if step is not None and step not in list(monitor.steps):
        raise ValueError(f"step {step} was not recorded by the monitor; its steps are "
                         f"{_steps_text(list(monitor.steps))}")
    return dict(monitor.module_health(step) or {})


def _steps_text(steps: list) -> str:
    if len(steps) > 8:
        return ", ".join(map(str, steps[:3])) + ", ..., " + ", ".join(map(str, steps[-3:]))
    return ", ".join(map(str, steps)) or "none"


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
               collapse_modules: bool | int = False, legend: bool = True, roll_up: bool = False,
               monitor: Any = None, step: int | None = None) -> GraphDrawing:
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
    `roll_up=True` draws each run of identical sibling modules (same class and structure, used
    one after another: twelve Dense+activation blocks) as one box "Dense(256, 256) x 12" with
    the range of the gradient norms leaving them.
    `monitor` (an `nn.Monitor`, or anything with `steps` and `module_health(step)`) colours
    each module's cluster or box by its health status at `step` (default: the last recorded)
    and puts its statistics in the tooltip (`STATUS_COLOURS` in the legend).

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
    depth = None
    if collapse_modules is not False and collapse_modules is not None:
        depth = model.default_depth() if collapse_modules is True else int(collapse_modules)
    runs = model.runs() if roll_up else []
    if depth is not None or runs:
        group_of, path_of = model.collapse(depth, runs)
    drawing = _Dot(model, group_of, path_of, show_data, show_grad)
    drawing.runs = {r[0][:-1] + (("run", r[0]),): r for r in runs}
    drawing.health = module_health(monitor, step)
    drawing.step = step if step is not None or monitor is None else _last(monitor.steps)
    drawing.nodes()
    drawing.edges()
    body = drawing.clusters() + drawing.edge_lines
    if show_grad and legend and drawing.any_grad:
        body.extend(_legend_lines())
    if legend and drawing.health:
        body.extend(_health_legend_lines())
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
        self.runs: dict = {}                # run group key -> member paths (roll_up)
        self.health: dict = {}              # module name -> health entry (monitor)
        self.step: int | None = None

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
            if g in self.runs:
                lines, fill, tip, has_grad = self.run_box(self.runs[g], members)
            else:
                lines, fill, tip, norm = group_view(m.names.scope_label(m.path_label[g]),
                                                    m.path_label[g], members,
                                                    m.outputs(members), self.show_grad)
                lines, fill, tip = self.with_health(g, lines, fill, tip)
                has_grad = norm is not None
            self.any_grad = self.any_grad or has_grad
            self.stmts.setdefault(g[:-1], []).append(
                f'{self.group_ident[g]} [label={_q(lines)} shape=box3d style=filled '
                f'fillcolor="{fill}" tooltip={_q(tip)}]')

    def run_box(self, run: list, members: list) -> tuple:
        """Label, fill, tooltip of a rolled-up run of identical modules."""
        m = self.model
        views = []
        for p in run:
            inside = [n for n in members if m.path_of.get(n, ())[:len(p)] == p]
            views.append(group_view("", m.path_label[p], inside, m.outputs(inside), self.show_grad))
        lines, fill, tip = run_view(describe_module(m.path_label[run[0]]), len(run), views)
        healths: list[tuple[str | None, dict]] = []
        for p in run:
            h = self.health.get(self.module_name(p))
            if h:
                healths.append((self.module_name(p), h))
        if healths:
            status = worst_status([h.get("status") for _, h in healths])
            fill = STATUS_COLOURS[status]
            lines.append(f"health: {status}")
            tip += [f"{name}: {h.get('status')}, grad norm {_fmt(float(h['grad_norm']))}"
                    if h.get("grad_norm") is not None else f"{name}: {h.get('status')}"
                    for name, h in healths]
        return lines, fill, tip, any(v[3] is not None for v in views)

    def module_name(self, path: tuple) -> str | None:
        """The dotted module name (as `named_modules()` gives it) of a cluster path."""
        label = self.model.path_label.get(path)
        if isinstance(label, str):
            return label
        return self.model.names.module.get(id(label))

    def with_health(self, path: tuple, lines: list, fill: str, tip: list) -> tuple:
        """A collapsed module's box coloured by its health status, its statistics in the tip."""
        name = self.module_name(path)
        h = self.health.get(name) if name is not None else None
        if not h:
            return lines, fill, tip
        status = h.get("status", "ok")
        return (lines + [f"health: {status}"], STATUS_COLOURS.get(status, fill),
                tip + health_tip(name, h, self.step))

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

    def cluster_attrs(self, path: tuple) -> str:
        """A cluster's label and style: dashed grey, or its health status colour."""
        title = self.model.names.scope_label(self.model.path_label[path])
        name = self.module_name(path)
        h = self.health.get(name) if name is not None else None
        if not h:
            return f'label={_q([title])} style="rounded,dashed" color="#7f7f7f" fontsize=10'
        status = h.get("status", "ok")
        colour = STATUS_COLOURS.get(status, "#7f7f7f")
        if status != "ok":
            title += f" [{status}]"
        return (f'label={_q([title])} style="rounded,filled" color="{colour}" penwidth=2 '
                f'fillcolor="{pale(colour, 0.15)}" fontsize=10 '
                f'tooltip={_q(health_tip(name, h, self.step))}')

    def clusters(self) -> list:
        """The node statements nested in `subgraph cluster_i { ... }` by path (a loop)."""
        stmts = self.stmts
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
                body.append(self.cluster_attrs(path))
                stack.append((path, False))
            body.extend(stmts[path])
            for child in reversed(children.get(path, [])):
                stack.append((child, True))
        return body


def _node_attrs(node: Node, names: _Names, tensor: Tensor | None, show_data: bool,
                show_grad: bool, default_dtype: np.dtype) -> tuple:
    lines, fill, tip, _, has_grad = node_view(node, names, tensor, show_data, show_grad,
                                              default_dtype)
    if type(node) is LeafNode:
        shape_attr = 'shape=ellipse style=filled'
    else:
        shape_attr = 'shape=box style="rounded,filled"'
    out = f'label={_q(lines)} {shape_attr} fillcolor="{fill}" tooltip={_q(tip)}'
    if tensor is not None:
        out += " peripheries=2 penwidth=2"
    return out, has_grad


def _group_attrs(name: str, label: Any, members: list, outs: list, show_grad: bool) -> tuple:
    lines, fill, tip, norm = group_view(name, label, members, outs, show_grad)
    return (f'label={_q(lines)} shape=box3d style=filled fillcolor="{fill}" '
            f'tooltip={_q(tip)}'), norm is not None
