"""Small validators for constructor arguments, shared by nn and optim.

Each returns the value in its canonical Python type or raises with a message that names the
owner (`Dense`, `SGD`, ...), the argument, the value given and what would be accepted:

- sizes and counts are ints or NumPy integers (never bools, floats or strings);
- real numbers are ints or floats (Python or NumPy; never bools, strings or complex), never
  NaN, and finite unless infinity is explicitly allowed;
- flags are `True` or `False` (or NumPy bools), not truthy strings or numbers.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any

import numpy as np

import autograd as ag

__all__ = ["integer", "size", "real", "flag", "choice", "rng", "axis", "not_a_batch"]


def _kind(value: Any) -> str:
    return type(value).__name__


def integer(owner: str, name: str, value: Any, minimum: int | None = None) -> int:
    """`value` as an int: an int or NumPy integer (not a bool), at least `minimum` if given."""
    what = {None: "an integer", 1: "a positive integer", 0: "a non-negative integer"}.get(
        minimum, f"an integer >= {minimum}")
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        hint = ""
        if isinstance(value, (float, np.floating)) and float(value).is_integer():
            hint = f"; write {int(value)}"
        raise TypeError(f"{owner}: {name} must be {what} (int or NumPy integer), got {value!r} "
                        f"({_kind(value)}){hint or _string_hint(value)}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{owner}: {name} must be {what}, got {value}")
    return value


def _string_hint(value: Any) -> str:
    """For a number written as a string: say to pass the number."""
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return ""
        return f"; pass the number {value}, not a string"
    return ""


def size(owner: str, name: str, value: Any) -> int:
    """A positive int (a layer width, a batch size, a period)."""
    return integer(owner, name, value, minimum=1)


def real(owner: str, name: str, value: Any, lo: float = -math.inf, hi: float = math.inf, *,
         lo_open: bool = False, hi_open: bool = False, allow_inf: bool = False) -> float:
    """`value` as a float in the interval from `lo` to `hi` (closed unless `*_open`).

    NaN is always refused; +-inf unless `allow_inf` (and the interval admits it)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{owner}: {name} must be a real number (int or float), got {value!r} "
                        f"({_kind(value)}){_string_hint(value)}")
    x = float(value)
    if math.isnan(x):
        raise ValueError(f"{owner}: invalid {name}: {value!r} (must be a number, not NaN)")
    if math.isinf(x) and not allow_inf:
        raise ValueError(f"{owner}: invalid {name}: {value!r} (must be finite)")
    ok = (lo < x if lo_open else lo <= x) and (x < hi if hi_open else x <= hi)
    if not ok:
        bound = _interval(lo, hi, lo_open, hi_open)
        raise ValueError(f"{owner}: invalid {name}: {value!r} (must be {bound})")
    return x


def _interval(lo: float, hi: float, lo_open: bool, hi_open: bool) -> str:
    if hi == math.inf:
        return f"{'>' if lo_open else '>='} {lo}"
    if lo == -math.inf:
        return f"{'<' if hi_open else '<='} {hi}"
    return f"in {'(' if lo_open else '['}{lo}, {hi}{')' if hi_open else ']'}"


def flag(owner: str, name: str, value: Any) -> bool:
    """`True` or `False` (a NumPy bool too); anything else is refused rather than read as truthy."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{owner}: {name} must be True or False, got {value!r} ({_kind(value)})")
    return bool(value)


def choice(owner: str, name: str, value: Any, options: Iterable[Any]) -> Any:
    """`value` if it is one of `options` (compared by equality, strings only against strings)."""
    options = list(options)
    if not any(type(value) is type(o) and value == o for o in options):
        raise ValueError(f"{owner}: {name} must be one of {', '.join(map(repr, options))}, got {value!r}")
    return value


def rng(owner: str, value: Any) -> Any:
    """None, a `numpy.random.Generator`, or a non-negative int seed (not a bool)."""
    if value is None or isinstance(value, np.random.Generator):
        return value
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return integer(owner, "rng (a seed)", value, minimum=0)
    raise TypeError(f"{owner}: rng must be a numpy.random.Generator, an int seed or None, got "
                    f"{value!r} ({_kind(value)})")


def axis(owner: str, axis: Any, dim: Any, default: Any = -1) -> Any:
    """The axis given as NumPy's `axis` or PyTorch's `dim` (checked by whoever uses it); both
    given (an `axis` other than its default next to a `dim`) is a TypeError."""
    if dim is None:
        return axis
    if not (isinstance(axis, type(default)) and axis == default):
        raise TypeError(f"{owner}: got both axis={axis!r} and dim={dim!r}, two names of one "
                        f"argument (dim is PyTorch's name for axis): pass only one")
    return dim


def not_a_batch(owner: str, x: Any) -> None:
    """Refuse a tuple or list holding Tensors where one input is expected: NumPy would stack it
    into one more axis, so a DataLoader batch `(xb,)` passed whole gave outputs of shape
    (1, N, ...) instead of an error."""
    if isinstance(x, (tuple, list)) and any(isinstance(v, ag.Tensor) for v in x):
        raise TypeError(f"{owner}: got a {type(x).__name__} of {len(x)} item(s), not one input; a "
                        f"DataLoader batch is a tuple even for one array: write "
                        f"`for (xb,) in loader:` or `xb, yb = batch`, and pass the Tensor itself")
