"""`explore`: the graph as one self-contained HTML page (no server, no network, no Graphviz).

    ag.explore(loss, params=model, monitor=mon, path="graph.html")   # open it in a browser
    ag.explore(loss, params=model)                                    # shows inline in Jupyter

Built from the same `GraphModel` and `views` as `draw_graph`; the page (explorer.js) lays the
graph out itself, layer by layer inside each open module, and draws only what is in view, so
a 10,000-operation graph opens and responds in well under a second.
"""

from __future__ import annotations

import html
import json
import math
import os
from pathlib import Path
from typing import Any

from ..node import LeafNode
from ..tensor import Tensor, get_default_dtype
from .dot import module_health
from .model import GraphModel
from .stats import _BAND_COLOUR, GRAD_BANDS
from .views import STATUS_COLOURS, describe_module, group_view, health_tip, node_view, pale, run_view

_HERE = Path(__file__).parent


class GraphExplorer:
    """An interactive page of a graph: `.html` (the text), `.save(path)`, and inline display in
    Jupyter (`_repr_html_`, an iframe holding the page)."""

    def __init__(self, page: str, data: dict) -> None:
        self.html = page
        self.data = data

    def save(self, path: str | os.PathLike) -> Path:
        """Write the page to `path` (a .html file); returns the path."""
        path = Path(path)
        path.write_text(self.html, encoding="utf-8")
        return path

    def _repr_html_(self) -> str:
        return (f'<iframe srcdoc="{html.escape(self.html, quote=True)}" '
                f'style="width:100%;height:640px;border:1px solid #ccc"></iframe>')

    def __repr__(self) -> str:
        return (f"<GraphExplorer: {len(self.data['nodes'])} nodes, {len(self.data['clusters'])} "
                f"modules, {len(self.data['steps'])} monitor steps; .save(path) writes the HTML>")


def explore(root: Tensor | tuple, params: Any = None, *, monitor: Any = None,
            path: str | os.PathLike | None = None, depth: int | None = None, roll_up: bool = True,
            show_data: bool = False, title: str = "chainrule graph") -> GraphExplorer:
    """An interactive HTML view of the graph behind `root`, for graphs too big for a picture.

    Modules deeper than `depth` start collapsed (default: as `draw_graph(collapse_modules=True)`)
    and open with a click (click an open module's title to close it); runs of identical sibling
    modules start as one box "Dense(...) x 12" (`roll_up`). Drag to pan, wheel to zoom, hover
    for a node's value and gradient statistics, type in the search box to find a node or module
    by name. Nodes are coloured by gradient band (`GRAD_BANDS`); with a `monitor` (an
    `nn.Monitor`: `steps`, `module_health(step)`) a slider walks its steps and recolours the
    modules by health status (or by gradient norm). `path`: also write the page there.
    """
    if depth is not None and not (isinstance(depth, int) and not isinstance(depth, bool)
                                  and depth >= 0):
        raise ValueError(f"depth must be None or an int >= 0 (modules deeper start collapsed), "
                         f"got {depth!r}")
    model = GraphModel(root, params)
    data = _graph_data(model, depth, roll_up, show_data)
    data["steps"], data["health"] = _health_data(model, monitor)
    data["bands"] = dict(_BAND_COLOUR)
    data["bandRanges"] = [[n, lo, hi if math.isfinite(hi) else 1e308] for n, lo, hi, _ in GRAD_BANDS]
    data["statuses"] = dict(STATUS_COLOURS)
    data["pale"] = {k: pale(c, 0.18) for k, c in STATUS_COLOURS.items()}
    page = _page(data, title)
    out = GraphExplorer(page, data)
    if path is not None:
        out.save(path)
    return out


def _graph_data(model: GraphModel, depth: int | None, roll_up: bool, show_data: bool) -> dict:
    """Nodes, edges, clusters and runs as lists the page reads (indices, label and tip lines)."""
    tree = model.tree()
    paths = _preorder(tree)
    index = {p: j for j, p in enumerate(paths)}
    clusters = []
    for p in paths:
        members = tree[p][1]
        title = model.names.scope_label(model.path_label[p])
        lines, fill, tip, norm = group_view(title, model.path_label[p], members,
                                            model.outputs(members), True)
        clusters.append({"p": index.get(p[:-1], -1), "d": len(p) - 1, "n": title,
                         "m": _module_name(model, p) or "", "l": lines, "f": fill, "t": tip})
    runs = []
    for run in (model.runs(tree) if roll_up else []):
        views = [group_view("", model.path_label[p], tree[p][1], model.outputs(tree[p][1]), True)
                 for p in run]
        lines, fill, tip = run_view(describe_module(model.path_label[run[0]]), len(run), views)
        runs.append({"p": index.get(run[0][:-1], -1), "members": [index[p] for p in run],
                     "l": lines, "f": fill, "t": tip})
    nodes: list[dict] = []
    edges: list[list[int]] = []
    number: dict = {}
    dtype = get_default_dtype()
    for node in reversed(model.nodes):          # forward order
        number[node] = len(nodes)
        lines, fill, tip, _, _ = node_view(node, model.names, model.root_tensor.get(node),
                                           show_data, True, dtype)
        kind = "leaf" if type(node) is LeafNode else "op"
        nodes.append({"l": lines, "f": fill, "t": tip, "k": kind, "o": node in model.root_tensor,
                      "c": index.get(_home(model, node), -1)})
    for node in reversed(model.nodes):
        for p in node.parents:
            if p is not None:
                edges.append([number[p], number[node]])
        for _, name, shape in (node.meta or {}).get("constants", ()):
            lab = ["input"] + ([name] if name else []) + [str(tuple(shape))]
            nodes.append({"l": lab, "f": "#f3f3f3", "t": lab, "k": "in", "o": False, "c": -1})
            edges.append([len(nodes) - 1, number[node]])
    if depth is None:
        depth = model.default_depth() if model.path_of else 0
    return {"nodes": nodes, "edges": edges, "clusters": clusters, "runs": runs, "depth": depth}


def _preorder(tree: dict) -> list:
    """The cluster paths of `tree`, parents before children, siblings in order of first use."""
    out: list = []
    stack = list(reversed(tree[()][0]))
    while stack:
        p = stack.pop()
        out.append(p)
        stack.extend(reversed(tree[p][0]))
    return out


def _home(model: GraphModel, node: Any) -> tuple:
    """A node's cluster: its scope (or owning module); a leaf used only inside one module
    (an unnamed weight, say) sits inside it."""
    if node in model.path_of:
        return model.path_of[node]
    if type(node) is not LeafNode or node in model.root_tensor:
        return ()
    homes = [model.path_of.get(c, ()) for c in model.consumers.get(node, ())]
    if not homes:
        return ()
    common = homes[0]
    for h in homes[1:]:
        k = 0
        while k < min(len(common), len(h)) and common[k] == h[k]:
            k += 1
        common = common[:k]
    return common


def _module_name(model: GraphModel, path: tuple) -> str | None:
    label = model.path_label.get(path)
    return label if isinstance(label, str) else model.names.module.get(id(label))


def _health_data(model: GraphModel, monitor: Any) -> tuple:
    """The monitor's steps and, per step, {cluster index: [status, tip lines, grad norm]}."""
    if monitor is None:
        return [], []
    module_health(monitor, None)                # checks the interface
    paths = _preorder(model.tree())
    names = [_module_name(model, p) for p in paths]
    steps = [int(s) for s in monitor.steps]
    per_step = []
    for step in steps:
        health = dict(monitor.module_health(step) or {})
        row = {}
        for j, name in enumerate(names):
            h = health.get(name) if name is not None else None
            if h:
                g = h.get("grad_norm")
                row[j] = [h.get("status", "ok"), health_tip(name, h, step),
                          None if g is None else _finite(float(g))]
        per_step.append(row)
    return steps, per_step


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def _page(data: dict, title: str) -> str:
    payload = json.dumps(data, separators=(",", ":"), allow_nan=False, default=_jsonable)
    # `<` only occurs inside JSON strings: as \u003c no name can end the script element or open
    # a `<!--` that makes the HTML parser swallow the page's own script (a blank page)
    payload = payload.replace("<", "\\u003c")
    script = (_HERE / "explorer.js").read_text(encoding="utf-8")
    return _TEMPLATE.format(title=html.escape(title), legend=_legend(data), data=payload,
                            script=script)


def _jsonable(x: Any) -> Any:
    return str(x)


def _legend(data: dict) -> str:
    bands = "".join(f'<span class="sw" style="background:{c}"></span>{html.escape(n)} '
                    for n, c in data["bands"].items())
    text = f"<b>gradient norm</b> {bands}"
    if data["steps"]:
        stat = "".join(f'<span class="sw" style="background:{c}"></span>{html.escape(n)} '
                       for n, c in data["statuses"].items())
        text += f"<br><b>module health</b> {stat}"
    return text


_TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
html, body {{ margin: 0; height: 100%; font: 12px Helvetica, Arial, sans-serif; overflow: hidden; }}
body {{ display: flex; flex-direction: column; }}
#bar {{ padding: 6px 8px; border-bottom: 1px solid #ccc; background: #f7f7f7; }}
#bar input[type=search] {{ width: 180px; }}
#bar button {{ margin-left: 4px; }}
#legend {{ margin-top: 4px; line-height: 18px; }}
.sw {{ display: inline-block; width: 12px; height: 12px; border: 1px solid #555; margin: 0 3px 0 6px;
       vertical-align: middle; }}
#wrap {{ position: relative; flex: 1; min-height: 0; }}
#canvas {{ display: block; width: 100%; height: 100%; cursor: grab; background: #fff; }}
#canvas text {{ font-size: 10px; pointer-events: none; }}
.item.box, .cluster-head {{ cursor: pointer; }}
.edge {{ fill: none; stroke: #444; stroke-width: 1; pointer-events: none; }}
.item.hit .shape, .item.hit .cluster-box {{ stroke: #d00; stroke-width: 4; }}
#tip {{ position: absolute; display: none; white-space: pre; background: #ffffe8; border: 1px solid #888;
        padding: 4px 6px; font: 11px monospace; pointer-events: none; max-width: 560px; z-index: 2; }}
</style></head>
<body>
<div id="bar">
 <input id="search" type="search" placeholder="search a node or module"> <span id="found"></span>
 <button id="fit">fit</button><button id="expand">expand all</button><button id="collapse">collapse</button>
 <span id="steps"> &nbsp; <input id="step" type="range" min="0" max="0" value="0">
  <span id="steplabel"></span> colour modules by
  <select id="mode"><option value="health">health</option>
  <option value="grad">gradient norm</option></select></span>
 <div id="legend">{legend}</div>
</div>
<div id="wrap"><svg id="canvas" xmlns="http://www.w3.org/2000/svg">
<defs><marker id="arrow" viewBox="0 0 8 8" refX="7" refY="4" markerWidth="7" markerHeight="7" orient="auto">
<path d="M0,0 L8,4 L0,8 z" fill="#444"/></marker></defs><g id="world"></g></svg><div id="tip"></div></div>
<script id="graph-data" type="application/json">{data}</script>
<script>
{script}
</script>
</body></html>
"""
