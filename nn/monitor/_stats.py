"""The numbers the monitor takes from arrays, each in as few NumPy passes as it can.

Sums of squares come from `np.dot` (one BLAS pass); a sum of squares that is not finite means
a NaN or an Inf is in the array (or the squares overflowed: then the array is checked).
"""

from __future__ import annotations

import functools
import math

import numpy as np

__all__ = ["sq_sum", "moments", "sample_slice", "log10_ratio", "coprime_stride"]


def sq_sum(a: np.ndarray) -> tuple[float, bool]:
    """(sum of squares, all finite) of a float array."""
    flat = a.reshape(-1)
    if flat.dtype.kind == "c":
        ss = float(np.vdot(flat, flat).real)
    else:
        ss = float(np.dot(flat, flat))
    if math.isfinite(ss):
        return ss, True
    finite = bool(np.isfinite(flat).all())
    if finite:                              # only the squares overflowed: redo in float64
        f64 = flat.astype(np.float64)
        ss = float(np.dot(f64, f64))
    return ss, finite


def moments(a: np.ndarray) -> tuple[float, float, bool]:
    """(mean, standard deviation, all finite) of all elements of `a` (population std, ddof=0)."""
    flat = a.reshape(-1)
    n = flat.size
    if n == 0:
        return math.nan, math.nan, True
    ss = float(np.dot(flat, flat)) if flat.dtype.kind == "f" else math.nan
    if not math.isfinite(ss):
        ss, finite = sq_sum(flat)
        if not finite:
            return math.nan, math.nan, False
    mean = float(np.add.reduce(flat)) / n
    var = ss / n - mean * mean
    if var < 1e-4 * mean * mean or not math.isfinite(var):   # cancellation: compute it directly
        return float(np.mean(flat, dtype=np.float64)), float(np.std(flat, dtype=np.float64)), True
    return mean, math.sqrt(var), True


def coprime_stride(n: int, last: int, k: int) -> int:
    """A step through a flat array of `n` elements taking about `k` of them, with no factor in
    common with the length of the last axis, `last`: the sample then meets every column."""
    if n <= k:
        return 1
    s = -(-n // k)
    while math.gcd(s, last) != 1:
        s += 1
    return s


@functools.lru_cache(maxsize=256)
def sample_slice(shape: tuple, k: int) -> slice:
    """A slice of the flattened array with at most about `k` elements spread over all columns."""
    n = int(np.prod(shape)) if shape else 1
    return slice(None, None, coprime_stride(n, shape[-1] if shape else 1, k))


def log10_ratio(num: float, den: float) -> float:
    """log10(num / den); -inf when num is 0, NaN when den is 0 or either is not finite."""
    if not (den > 0 and math.isfinite(den) and math.isfinite(num)):
        return math.nan
    return math.log10(num / den) if num > 0 else -math.inf
