"""What each drawn thing shows, as plain data: label lines, fill colour, tooltip lines.

Shared by `draw_graph` (DOT attributes) and `explore` (JSON for the HTML page): an operation
or leaf (`node_view`), a collapsed module (`group_view`), a rolled-up run of identical sibling
modules (`run_view`), and a module's health from a monitor (`health_tip`, `STATUS_COLOURS`).
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np

from ..node import LeafNode, Node
from ..tensor import Tensor
from .model import _grad_stats, _Names, _value_stats
from .stats import _BAND_COLOUR, _NO_GRAD_FILL, _fmt, _stats_lines, _value_summary, grad_band

# a module's health status (from a monitor's module_health) -> colour, most severe first
STATUS_COLOURS: dict = {
    "nonfinite": "#ff00ff",
    "exploding": "#e06666",
    "vanishing": "#6fa8dc",
    "dead": "#999999",
    "saturated": "#ffd966",
    "update_high": "#f6b26b",
    "update_low": "#b4a7d6",
    "ok": "#93c47d",
}
_BAND_ORDER = ("vanishing", "small", "healthy", "large", "exploding")


def node_view(node: Node, names: _Names, tensor: Tensor | None, show_data: bool, show_grad: bool,
              default_dtype: np.dtype) -> tuple:
    """(label lines, fill, tooltip lines, gradient norm or None, whether a gradient is known)
    of an operation or a leaf."""
    is_leaf = type(node) is LeafNode
    shape = str(tuple(node.shape))
    if isinstance(node, LeafNode):      # not `is_leaf`: isinstance narrows node for mypy
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
    norm = None
    if grad is not None and "norm" in grad:
        norm = grad["norm"]
        fill = _BAND_COLOUR[grad_band(norm)]
        lines.append(f"grad {_fmt(norm)}")
    tip = [title]
    if value is not None:
        tip += _stats_lines("value", value)
    if grad is not None:
        band = f" [{grad_band(grad['norm'])}]" if "norm" in grad else ""
        tip += _stats_lines(f"gradient{band}", grad)
    if not is_leaf and node.scope:
        tip.append("scope: " + " > ".join(names.scope_label(s) for s in node.scope))
    return lines, fill, tip, (norm if grad is not None else None), grad is not None


def group_view(name: str, label: Any, members: list, outs: list, show_grad: bool) -> tuple:
    """(label lines, fill, tooltip lines, gradient norm at its output or None) of a module
    drawn as one box: op and parameter counts, the gradient leaving it."""
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
    norm = None
    if show_grad:
        grads = [m.meta["grad"] for m in members if m.meta and "norm" in m.meta.get("grad", {})]
        out_grads = [m.meta["grad"] for m in outs if m.meta and "norm" in m.meta.get("grad", {})]
        if out_grads:
            norm = out_grads[0]["norm"]
            if any(not g.get("finite", True) for g in grads):
                norm = math.nan
            fill = _BAND_COLOUR[grad_band(norm)]
            lines.append(f"grad {_fmt(norm)}")
        if grads:
            norms = [g["norm"] for g in grads]
            tip.append(f"gradient norms inside: min {_fmt(min(norms))}  max {_fmt(max(norms))}")
    return lines, fill, tip, norm


def describe_module(label: Any) -> str:
    """'Dense(256, 256, activation='relu')' for a module, the scope string without a trailing
    number for a string ('block3' -> 'block')."""
    if isinstance(label, str):
        return re.sub(r"[\s._-]*\d+$", "", label) or label
    extra = label.extra_repr() if hasattr(label, "extra_repr") else ""
    return f"{type(label).__name__}({extra})" if extra else type(label).__name__


def run_view(title: str, count: int, member_views: list) -> tuple:
    """(label lines, fill, tooltip lines) of `count` identical sibling modules drawn as one box
    "title x count", with the range of the gradient norms leaving each (`member_views` are
    their `group_view`s)."""
    norms = [v[3] for v in member_views if v[3] is not None]
    n_ops = sum(int(v[0][1].split()[0]) for v in member_views)
    lines = [f"{title} x {count}", f"{n_ops} ops"]
    params = [v[0][2] for v in member_views if len(v[0]) > 2 and v[0][2].endswith(" params")]
    if params:
        total = sum(int(p.split()[0].replace(",", "")) for p in params)
        lines.append(f"{total:,} params")
    tip = [f"{count} identical {title} blocks, rolled up"]
    fill = _NO_GRAD_FILL
    if norms:
        lo, hi = min(norms), max(norms)
        if any(not math.isfinite(n) for n in norms):
            fill = _BAND_COLOUR["nonfinite"]
        else:
            bands = [grad_band(lo), grad_band(hi)]
            fill = _BAND_COLOUR[max(bands, key=lambda b: abs(_BAND_ORDER.index(b) - 2))]
        lines.append(f"grad {_fmt(lo)} .. {_fmt(hi)}")
        tip.append("gradient norm leaving each block: " + ", ".join(_fmt(n) for n in norms))
    return lines, fill, tip


def worst_status(statuses: list) -> str:
    """The most severe of some health statuses (order of `STATUS_COLOURS`)."""
    order = list(STATUS_COLOURS)
    known = [s for s in statuses if s in STATUS_COLOURS]
    return min(known, key=order.index) if known else "ok"


def health_tip(name: str | None, h: dict, step: Any) -> list:
    """Tooltip lines of one module's health at one step (a monitor's module_health entry)."""
    def num(key: str) -> str:
        v = h.get(key)
        return "-" if v is None else _fmt(float(v))

    def share(key: str) -> str:
        v = h.get(key)
        return "-" if v is None else f"{100 * float(v):.0f}%"
    where = f" at step {step}" if step is not None else ""
    lines = [f"health of {name or '(root)'}{where}: {h.get('status', '?')}",
             f"grad norm {num('grad_norm')}, weight norm {num('weight_norm')}",
             f"update ratio (log10) {num('update_ratio')}",
             f"activations mean {num('act_mean')}, std {num('act_std')}",
             f"saturated {share('saturated')}, dead {share('dead')}"
             + (", non-finite values" if h.get("nonfinite") else "")]
    lines += [f"problem: {p}" for p in h.get("problems") or ()]
    return lines


def pale(colour: str, keep: float = 0.25) -> str:
    """`colour` mixed with white (a tint for a cluster's background)."""
    rgb = [int(colour[i:i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(255 - (255 - c) * keep):02x}" for c in rgb)
