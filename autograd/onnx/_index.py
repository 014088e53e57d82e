"""`x[key]` as ONNX: basic indexing (ints, slices with any step, None, ...) as Slice, Gather
and Unsqueeze; one integer array or 1-D boolean mask on one axis (the other entries full
slices) as Gather. The integer input of the graph as an index (an Embedding lookup) stays an
input; any other index array must be the same at both traced batch sizes."""

from __future__ import annotations

import numpy as np

from ..tensor import Tensor
from ._builder import INT_MAX, INT_MIN, Builder, onnx_type


def _expand(key: tuple, ndim: int) -> list:
    """`key` with the Ellipsis replaced by full slices; missing trailing axes are left out."""
    used = sum(k.ndim if isinstance(k, np.ndarray) and k.dtype == bool else 0 if k is None
               or k is Ellipsis else 1 for k in key)
    out: list = []
    for k in key:
        if k is Ellipsis:
            out.extend([slice(None)] * (ndim - used))
        else:
            out.append(k)
    return out


def _graph_input(b: Builder, position: int) -> str | None:
    """The name of the integer graph input that is entry `position` of the index as the
    function gave it (an Embedding's indices: the input Tensor or its array), else None."""
    r = b.record
    assert r is not None
    given = r.attrs.get("given")
    given = given if isinstance(given, tuple) else (given,)
    if any(g is Ellipsis for g in given) or position >= len(given):
        return None                 # an array after an Ellipsis: not an Embedding lookup
    k = given[position]
    for t in b.trace.inputs:
        a = t._data
        if k is t or k is a or (isinstance(k, np.ndarray) and k.shape == a.shape
                                and np.shares_memory(k, a)):
            return b.values[id(t)]
    return None


def _array_index(b: Builder, x: str, axis: int, k: np.ndarray, position: int) -> str:
    r = b.record
    assert r is not None
    name = _graph_input(b, position) if k.dtype.kind in "iu" else None
    if name is not None and k.dtype not in (np.int32, np.int64):
        # ONNX's Gather takes int32 or int64 indices only (uint8 ones failed the checker)
        name = b.add("Cast", [name], base=f"{name}_int64", to=onnx_type(np.dtype(np.int64)))
    if name is None:
        twin = b.twin_record()
        twin_key = None if twin is None else [e for e in _expand(twin.attrs["key"], twin.inputs[0].ndim)
                                              ][position]
        b.check_constant(k, twin_key, "its index array")
        if k.dtype == bool:
            if k.ndim != 1:
                raise b.error(f"a boolean mask of {k.ndim} dimensions has no ONNX mapping here",
                              "Index with a 1-D mask or with integer indices")
            k = np.flatnonzero(k)
        name = b.const(k.astype(np.int64), f"{r.name}_index")
    return b.add("Gather", [x, name], axis=axis)


def convert_getitem(b: Builder) -> str:
    r = b.record
    assert r is not None
    src = r.inputs[0]
    ndim = src.ndim if isinstance(src, Tensor) else np.ndim(src)
    key = _expand(r.attrs["key"], ndim)
    x = b.operand(0)
    arrays = [i for i, k in enumerate(key) if isinstance(k, np.ndarray)]
    if arrays:
        i = arrays[0]
        if len(arrays) > 1 or any(not (isinstance(k, slice) and k == slice(None))
                                  for j, k in enumerate(key) if j != i):
            raise b.error("indexing with an index array combined with other indices has no ONNX "
                          "mapping", "Index in two steps: the array alone, then the rest")
        return _array_index(b, x, i, key[i], i)
    _check_twin_key(b, key)
    starts, ends, axes, steps, gathers, unsqueeze = [], [], [], [], [], []
    axis = out_axis = 0
    for k in key:
        if k is None:
            unsqueeze.append(out_axis)
            out_axis += 1
        elif isinstance(k, slice):
            if k != slice(None):
                step = 1 if k.step is None else int(k.step)
                starts.append((0 if step > 0 else -1) if k.start is None else int(k.start))
                ends.append((INT_MAX if step > 0 else INT_MIN) if k.stop is None else int(k.stop))
                axes.append(axis)
                steps.append(step)
            axis += 1
            out_axis += 1
        else:                                   # an integer: that axis goes away
            gathers.append((axis, int(k)))
            axis += 1
    if starts:
        x = b.add("Slice", [x, b.ints(starts, "starts"), b.ints(ends, "ends"), b.ints(axes, "axes"),
                            b.ints(steps, "steps")],
                  base=f"{r.name}_slice")
    for ax, i in reversed(gathers):             # the last axis first: the others keep their numbers
        x = b.add("Gather", [x, b.const(np.asarray(i, np.int64), "index")], axis=ax,
                  base=f"{r.name}_take")
    if unsqueeze:
        x = b.add("Unsqueeze", [x, b.ints(unsqueeze, "new_axes")])
    if x == b.values.get(id(src)) or x == b.values.get(getattr(src, "_node", None)):
        x = b.add("Identity", [x])              # x[...] or x[:]: still a value of its own
    return x


def _check_twin_key(b: Builder, key: list) -> None:
    """Refuse ints and slice bounds that differ between the two traces (`x[:len(x) - 1]`,
    `x[x.shape[0] - 1]`): written as constants they would hold at one batch size only."""
    twin = b.twin_record()
    if twin is None:
        return
    other = _expand(twin.attrs["key"], twin.inputs[0].ndim)
    if other != key:
        shown = ", ".join(_show(k) for k in key)
        at = ", ".join(_show(k) for k in other)
        raise b.error(f"its index [{shown}] is [{at}] at the other batch size: it depends on the "
                      f"batch size, so it cannot be a constant of a graph with a dynamic batch axis",
                      "Index with bounds that do not depend on the batch size (x[:-1] for "
                      "x[:len(x) - 1], x[-1] for x[len(x) - 1]), or export with dynamic_batch=False")


def _show(k: object) -> str:
    if isinstance(k, slice):
        parts = ["" if v is None else str(v) for v in (k.start, k.stop, k.step)]
        return ":".join(parts if k.step is not None else parts[:2])
    return str(k)
