"""The dtype of an operation on mixed operands, written out rather than left to NumPy.

NumPy 2 and NumPy 1.x disagree on scalars (1.x casts by value, 2 by type), and neither does
what a PyTorch user expects of a NumPy scalar: `float32_tensor * np.float64(2)` is float64 in
NumPy 2. chainrule ranks each operand and applies one rule in both (docs/pytorch.md has the
table):

- rank 2: a Tensor or ndarray with dimensions; rank 1: a 0-d Tensor; rank 0: a number (a Python
  number, a NumPy scalar or a 0-d ndarray).
- The operands of the highest rank present promote among themselves as NumPy does.
- A lower-ranked operand of the same or a lower category (bool < integer < float < complex)
  takes that dtype: it never widens it.
- A lower-ranked operand of a higher category raises the category: a 0-d Tensor to its own
  dtype (as PyTorch); a number to the default dtype of its category (a float: the default
  float dtype; an integer: int64; a complex: the complex of the float dtype's precision).

Only the cases NumPy could get wrong reach this module: operations call it when the operands'
dtypes differ and one is 0-d, or an operand is not an ndarray (the hot paths, same-dtype
arrays and a Python number with a float tensor, never do).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .tensor import Tensor, get_default_dtype

_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}
_INT = np.dtype(np.int64)


def _rank(x: Any, v: Any) -> int:
    if isinstance(x, Tensor):
        return 2 if v.ndim else 1
    return 2 if isinstance(v, np.ndarray) and v.ndim else 0


def _own_dtype(v: Any) -> np.dtype:
    """The dtype a value has on its own (a Python float: the default float dtype)."""
    if isinstance(v, (np.ndarray, np.generic)):
        return v.dtype
    if isinstance(v, bool):
        return np.dtype(bool)
    if isinstance(v, int):
        return _INT
    if isinstance(v, float):
        return get_default_dtype()
    if isinstance(v, complex):
        return np.result_type(get_default_dtype(), np.complex64)
    return np.asarray(v).dtype


def _raised(dt: np.dtype, other: np.dtype, rank: int) -> np.dtype:
    """`dt` after a lower-ranked operand of dtype `other` and a higher category joins it."""
    category = _CATEGORY[dt.kind]
    if rank == 1:                       # a 0-d Tensor: its own dtype (PyTorch's rule)
        return other if category <= 1 else np.result_type(dt, other)
    kind = _CATEGORY[other.kind]        # a number: the default of its category
    if kind == 1:
        return _INT
    if kind == 2:
        return get_default_dtype()
    return np.result_type(dt if category == 2 else get_default_dtype(), np.complex64)


def result_dtype(values: list, operands: list) -> np.dtype:
    """The dtype the rule gives for these operand values (`operands`: the objects they came
    from, which say whether a 0-d value is a Tensor)."""
    ranks = [_rank(x, v) for x, v in zip(operands, values)]
    top = max(ranks)
    dt = np.result_type(*[_own_dtype(v) for v, r in zip(values, ranks) if r == top])
    for rank in (1, 0):
        if rank < top:
            for v, r in zip(values, ranks):
                if r == rank:
                    own = _own_dtype(v)
                    if _CATEGORY[own.kind] > _CATEGORY[dt.kind]:
                        dt = _raised(dt, own, rank)
    return dt


def promote(values: list, operands: list) -> tuple[list, list]:
    """The values and operands cast so that NumPy (1.x or 2) computes in `result_dtype`.

    Numbers become read-only 0-d arrays of that dtype (and replace their operand, so a node
    saves the converted value); a 0-d Tensor's value is cast (the Tensor stays the operand, for
    its gradient); integer and bool arrays are cast when the result is float or complex.
    Returns (values, operands); entries that are None are left alone.
    """
    present = [(v, x) for v, x in zip(values, operands) if v is not None]
    dt = result_dtype([p[0] for p in present], [p[1] for p in present])
    values, operands = list(values), list(operands)
    for i, (v, x) in enumerate(zip(values, operands)):
        if v is None:
            continue
        rank = _rank(x, v)
        own = _own_dtype(v)
        if own == dt and isinstance(v, np.ndarray):
            continue
        if rank == 2 and _CATEGORY[own.kind] >= _CATEGORY[dt.kind]:
            continue                    # NumPy promotes arrays among themselves to dt
        cast = np.array(v, dtype=dt)
        cast.flags.writeable = False    # a constant: nodes save it without locking
        values[i] = cast
        if rank == 0 or not (isinstance(x, Tensor) and x.requires_grad):
            operands[i] = cast
    return values, operands
