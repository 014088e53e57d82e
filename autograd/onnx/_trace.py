"""Tracing: run a function once on example inputs and keep every operation it records.

The tracer is an `Observer`: the operations pass it their attributes (axis, keepdims, key,
...), which nothing keeps otherwise. Float inputs are made to require grad so that every
operation that depends on an input is recorded; integer inputs (indices) are found where an
operation reads them (a `getitem` key).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from ..node import Node
from ..tensor import Observer, Tensor, enable_grad, tensor


class ExportError(RuntimeError):
    """The traced function cannot be written as ONNX: the message names the operation, the
    module it ran in, and what to change."""


@dataclass
class Record:
    """One recorded operation: its node, output value, operands and attributes."""

    node: Node
    out: np.ndarray
    inputs: tuple
    attrs: dict = field(default_factory=dict)
    scope: tuple = ()

    @property
    def name(self) -> str:
        return self.node.name


@dataclass
class Trace:
    """What one run of the function recorded."""

    inputs: list[Tensor]
    records: list[Record]
    outputs: list[Tensor]


class _Tracer(Observer):
    """Keeps every operation recorded while it is installed, with its attributes."""

    def __init__(self) -> None:
        self.records: list[Record] = []

    def recorded(self, node: Node, out: np.ndarray, inputs: tuple, attrs: dict | None = None) -> None:
        self.records.append(Record(node, out, inputs, attrs or {}, node.scope))


def as_array(x: Any) -> np.ndarray:
    """An example input as an ndarray (Python floats become the default float dtype)."""
    return np.array(x.data if isinstance(x, Tensor) else tensor(x).data)


def run(fn: Callable, arrays: Sequence[np.ndarray]) -> Trace:
    """Call `fn` on Tensors holding `arrays` (floats requiring grad) and record every operation."""
    inputs = [Tensor(a.copy(), requires_grad=a.dtype.kind in "fc") for a in arrays]
    tracer = _Tracer()
    with enable_grad(), tracer:
        result = fn(*inputs)
    records = tracer.records
    outputs = list(result) if isinstance(result, (list, tuple)) else [result]
    for i, o in enumerate(outputs):
        if not isinstance(o, Tensor):
            raise ExportError(f"ONNX export: the function returned a {type(o).__name__} as output "
                              f"{i}; it must return a Tensor or a tuple of Tensors")
    return Trace(inputs, records, outputs)


def grown(a: np.ndarray) -> np.ndarray:
    """`a` with one more sample on axis 0 (its first repeated): a second batch size to trace.
    Float values are moved a quarter of the way to their mean (staying in their range, and a
    probability vector stays one), so that a constant computed from the values outside the
    graph (`x.data.max()`, `x.data[0]`) differs between the traces and is refused."""
    if a.ndim == 0:
        raise ExportError("ONNX export: a 0-d example input has no batch axis; pass "
                          "dynamic_batch=False")
    if a.shape[0] == 0:     # nothing to repeat: the second trace saw the same shape
        raise ExportError("ONNX export: an example input has batch size 0; the batch axis is "
                          "found by tracing again with one more sample, so give at least one "
                          "(or pass dynamic_batch=False to export for batch size 0 only)")
    b = np.concatenate([a, a[:1]], axis=0)
    if b.dtype.kind == "f" and b.size:
        with np.errstate(all="ignore"):
            b = (0.75 * b + 0.25 * b.mean(dtype=np.float64)).astype(a.dtype)
    return b


def align(first: Trace, second: Trace, sizes: tuple[int, int]) -> None:
    """Check that two traces at different batch sizes recorded the same operations."""
    a = [r.name for r in first.records]
    b = [r.name for r in second.records]
    if a != b or len(first.outputs) != len(second.outputs):
        where = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
        raise ExportError(
            f"ONNX export: the function records different operations at batch sizes {sizes[0]} "
            f"and {sizes[1]} (first difference at operation {where}: "
            f"{a[where] if where < len(a) else 'end'} vs {b[where] if where < len(b) else 'end'}); "
            f"its graph depends on the batch size, so it cannot have a dynamic batch axis. "
            f"Pass dynamic_batch=False to export it for the example's batch size only")
    for i, (x, y) in enumerate(zip(first.records, second.records)):
        for k, v in x.attrs.items():
            if k not in _COMPARED_BY_CONVERTER and not _same_attr(v, y.attrs.get(k)):
                raise ExportError(
                    f"ONNX export: operation {i} ({x.name}) is called with {k}={v!r} at batch size "
                    f"{sizes[0]} and {k}={y.attrs.get(k)!r} at {sizes[1]}: it depends on the batch "
                    f"size, so it cannot be a constant of a graph with a dynamic batch axis. Pass "
                    f"dynamic_batch=False to export it for the example's batch size only")


_COMPARED_BY_CONVERTER = {"key", "given", "cond"}    # index arrays and conditions: see _index, _ops


def _same_attr(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape == b.shape \
            and bool(np.array_equal(a, b))
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(_same_attr(u, v) for u, v in zip(a, b))
    return bool(a == b)
