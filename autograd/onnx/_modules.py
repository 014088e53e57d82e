"""Whole modules as one ONNX operator (BatchNormalization, LayerNormalization, ...).

`register_module(cls, convert)` says that a call of a module of class `cls` may be written as
the ONNX operators `convert(builder, module, x_name, x_dtype)` adds (returning the output's
name), instead of the operations its forward recorded; `convert` returns None to decline
(the operations are then converted one by one). A call qualifies when its recorded
operations are consecutive, read exactly one traced value from outside (the input `x`) and
only their last result is used outside. Nothing in autograd registers a class; `nn`
registers its normalisation layers.
"""

from __future__ import annotations

from typing import Any, Callable

from ..tensor import Tensor
from ._trace import Record

MODULES: dict[type, Callable[..., str | None]] = {}


def register_module(cls: type, convert: Callable[..., str | None]) -> None:
    """Export calls of modules of class `cls` with `convert(builder, module, x_name, x_dtype)`,
    which adds operators with `builder.add(op, inputs, **attributes)`, names parameters and
    state with `builder.tensor(t, name)` and returns the output's name (or None: not this call)."""
    MODULES[cls] = convert


def _owner(record: Record) -> Any:
    """The outermost module of a registered class the record ran in, or None."""
    return next((m for m in record.scope if type(m) in MODULES), None)


def segments(records: list[Record], needed: set, inputs: list[Tensor],
             outputs: list[Tensor]) -> dict[int, tuple]:
    """{index of a call's last record: (module, first index, input Tensor)} for the calls that
    qualify (see the module docstring)."""
    found: dict[int, tuple] = {}
    i = 0
    while i < len(records):
        owner = _owner(records[i]) if records[i].node in needed else None
        if owner is None:
            i += 1
            continue
        j = i
        while j + 1 < len(records) and _owner(records[j + 1]) is owner:
            j += 1
        call = _check(records, i, j, needed, inputs, outputs)
        if call is not None:
            found[j] = (owner, i, call)
        i = j + 1
    return found


def _check(records: list[Record], i: int, j: int, needed: set, inputs: list[Tensor],
           outputs: list[Tensor]) -> Any:
    """The call's one outside input if records i..j form a call that qualifies, else None."""
    inside = {r.node for r in records[i:j + 1]}
    if any(r.node not in needed for r in records[i:j + 1]):
        return None
    traced: list[Tensor] = []           # values from outside: results of operations, graph inputs
    for r in records[i:j + 1]:
        for x in r.inputs:
            if isinstance(x, Tensor) and x._node not in inside and (
                    x._node is not None or any(x is t for t in inputs)):
                if not any(x is t for t in traced):
                    traced.append(x)
    last = records[j].node
    for r in records[j + 1:]:
        if any(isinstance(x, Tensor) and x._node in inside and x._node is not last for x in r.inputs):
            return None
    if any(t._node in inside and t._node is not last for t in outputs):
        return None
    return traced[0] if len(traced) == 1 else None
