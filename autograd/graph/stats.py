"""Gradient colour bands, tensor statistics, and the contexts that record them on the graph.

`record_grad_norms` (around a backward) and `record_values` (around a forward) are Observers
(see `autograd.tensor.Observer`) that write into `node.meta` ("grad", "value", "constants");
everything else here is pure functions of arrays.

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
from typing import Any

import numpy as np

from ..node import LeafNode, Node
from ..tensor import Observer, Tensor

# (name, lower bound, upper bound, fill colour); a norm on a boundary belongs to the band nearer
# "healthy" (1e-2 is healthy, 1e1 healthy, 1e3 large), as written in the module docstring.
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


def grad_band(norm: float) -> str:
    """The colour band of a gradient norm: 'vanishing', 'small', 'healthy', 'large',
    'exploding' or 'nonfinite' (thresholds in `GRAD_BANDS`, the one table the legend and the
    colours are also drawn from)."""
    if not math.isfinite(norm):
        return "nonfinite"
    upper_inclusive = False         # from "healthy" on, a band includes its upper bound
    for name, _, upper, _ in GRAD_BANDS:
        upper_inclusive = upper_inclusive or name == "healthy"
        if norm < upper or (upper_inclusive and norm == upper):
            return name
    return GRAD_BANDS[-1][0]


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
        try:        # fsum raises on inf + -inf and on sums past the float range
            total = math.fsum(vals)
            if math.isfinite(total):
                mean = total / n
                sq = math.fsum(v * v for v in vals)
                var = math.fsum((v - mean) ** 2 for v in vals) / n
                st.update(norm=math.sqrt(sq), min=min(vals), max=max(vals), mean=mean,
                          std=math.sqrt(var), finite=True)
                return st
        except (ValueError, OverflowError):
            pass                                # the array path below handles them
    flat = (a if kind == "f" else a.astype(np.float64)).reshape(-1)
    mn, mx = float(flat.min()), float(flat.max())
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):    # values near the range
        total = float(flat.sum(dtype=np.float64))
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
            with np.errstate(over="ignore", invalid="ignore"):
                std = float(flat.std(dtype=np.float64))
        else:
            std = math.sqrt(var)
    else:
        norm = math.nan if (math.isnan(mn) or math.isnan(mx)) else math.inf
        mean = std = math.nan
    st.update(norm=norm, min=mn, max=mx, mean=mean, std=std, finite=finite)
    return st


def _fmt(x: Any) -> str:
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

class record_grad_norms(Observer):
    """Store on every node the statistics of the gradient that flows through it.

    Use around a backward: `with ag.record_grad_norms(): loss.backward()`. Each node reached
    gets `node.meta["grad"] = {"shape", "dtype", "norm", "min", "max", "mean", "std", "finite"}`
    (the gradient arriving at its output; for leaves the gradient they receive in this pass).
    `draw_graph` then shows the norm on every operation and colours it (see `GRAD_BANDS`).
    Other observers installed keep running. Cost: four reductions per node's gradient.
    """

    def backward(self, node: Node, g: Any, grads: Any) -> None:
        if g is not None:
            node.set_meta("grad", _stats(_array(g)))


class record_values(Observer):
    """Store value statistics of every operation recorded inside (a forward-pass context).

    `with ag.record_values(): loss = model(x)` keeps `node.meta["value"]` (shape, dtype, min,
    max, mean, std, norm; the values themselves for tensors of at most 6 elements), so
    `draw_graph` can show them in tooltips and, with `show_data=True`, in labels, even for
    operations that do not keep their output; and the arrays that entered without a gradient
    (the data batch, say), which `draw_graph` then draws as input nodes. Other observers
    installed keep running.
    """

    def recorded(self, node: Node, out: np.ndarray, inputs: tuple, attrs: dict | None = None) -> None:
        node.set_meta("value", _stats(out, keep_small=True, exact=True))
        for x, p in zip(inputs, node.parents):      # leaves: their value at first use
            if type(p) is LeafNode and not (p.meta and "value" in p.meta):
                p.set_meta("value", _stats(_array(x), keep_small=True, exact=True))
                if isinstance(x, Tensor) and x.name:
                    p.set_meta("name", x.name)
        constants = [(i, x.name if isinstance(x, Tensor) else None, np.shape(x))
                     for i, (x, p) in enumerate(zip(inputs, node.parents))
                     if p is None and isinstance(x, (Tensor, np.ndarray)) and np.ndim(x)]
        if constants:               # data fed in without gradient: drawn as input nodes
            node.set_meta("constants", constants)
