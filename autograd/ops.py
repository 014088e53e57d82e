"""Every operation, each beside its gradient rule.

An operation computes its value with NumPy and calls `record(name, out, inputs, vjps, saved,
keep_ans)` (or `record_unary` for one input). Each rule `vjp(g, ans, *saved)` returns the
gradient of one input. Rules use only operators and NumPy functions that Tensors also
understand (through `__array_ufunc__` and `__array_function__`), so one rule serves both
first-order backward on plain arrays (fast) and `create_graph=True` on Tensors
(differentiable). Rules may return a gradient in the broadcast shape; the engine reduces it to
the input's shape.
"""

from __future__ import annotations

import builtins
import math
import string
import threading
import warnings
from typing import Any, Callable, Sequence

import numpy as np

from . import dtypes as _dtypes
from .keywords import torch_keywords
from .node import Node
from .protection import FROZEN
from .record import (
    _CONSTANT_PAIRS,
    SAVE,
    SAVE_FOR_OTHER,
    node_tensor,
    record,
    record_binary,
    record_constant,
    record_unary,
)
from .tensor import RECORD, RECORD_SCOPED, STATE, Tensor, _as_array, _new, get_default_dtype

AxisError = getattr(np, "exceptions", np).AxisError     # np.exceptions from NumPy 1.25
_SCALARS = (int, float, bool, complex, np.generic)
_NUMBERS = (float, int)     # Python numbers that binary ops turn into cached arrays
_F64 = np.dtype(np.float64)
_NDARRAY = np.ndarray       # read as one global by the hottest functions


def _val(x: Any, op: str) -> Any:
    """The array (or Python scalar) behind an operand."""
    if type(x) in _NUMBERS:
        return x
    if isinstance(x, Tensor):
        return x._data
    if isinstance(x, np.ndarray) or isinstance(x, _SCALARS):
        return x
    if isinstance(x, (list, tuple)):
        return _as_array(x)
    raise TypeError(
        f"{op}: unsupported operand of type {type(x).__name__}; use a Tensor, an ndarray or a number")


def _shape_error(op: str, a: Any, b: Any, err: Exception) -> ValueError:
    """NumPy's ValueError from `op` on `a` and `b`, naming both shapes if they do not broadcast."""
    try:
        np.broadcast_shapes(np.shape(a), np.shape(b))
    except ValueError:
        return ValueError(f"{op}: shapes {np.shape(a)} and {np.shape(b)} are not compatible ({err})")
    return ValueError(f"{op}: {err}")


_CONSTANTS: dict = {}      # dtype -> {Python number: (None, c)}, c its read-only 0-d array of that
#                            dtype; the pair is what the node of `t op number` keeps (`record_constant`)
_NO_CONSTANTS: dict = {}   # stays empty: what `_CONSTANTS.get` gives for a dtype with none yet


def _constant(value: float, like: np.ndarray) -> Any:
    """A Python number as a read-only 0-d array of `like`'s float dtype, the common ones cached.

    NumPy converts a Python number on every call, which costs as much as the whole operation
    on a small array; the converted value (NumPy's own rule: the number takes the array's
    float dtype, and a value it cannot hold becomes inf with NumPy's overflow warning) is the
    same. As an array of that dtype it also keeps float32 in float32 under NumPy 1.x, which
    promotes 0-d arrays and out-of-range numbers to float64. Zero (+0.0 and -0.0 compare
    equal), NaN and values that overflow are converted each time, never cached; the cache
    holds at most 512 values per dtype.
    """
    dtype = like.dtype
    cache = _CONSTANTS.get(dtype)
    if cache is None:
        if dtype.kind != "f":
            return value
        cache = _CONSTANTS.setdefault(dtype, {})    # (another thread's, if it made one first)
    pair = cache.get(value)
    if pair is not None:
        return pair[1]
    c = np.array(value, dtype)
    c.flags.writeable = False       # nobody writes into it: nodes save it without locking
    if value and value == value and len(cache) < 512 and np.isfinite(c):
        # the one cached (a thread that made its own at the same time uses the first): only
        # an array kept for good may be FROZEN, its id never reused by a user's array
        pair = cache.setdefault(value, (None, c))
        c = pair[1]
        FROZEN.add(id(c))           # kept for good: nodes save it without any check
        _CONSTANT_PAIRS.setdefault(id(c), pair)    # `record_binary` keeps the same pair
    return c


def _binary(op: str, fn: Any, a: Any, b: Any, rules: tuple | None = None, save_a: int = 0,
            save_b: int = 0, keep_ans: bool = False, promote: bool = True) -> Tensor:
    """`fn` on the operands' values, recorded with one rule per operand (`rules`; `save_a`,
    `save_b` and `keep_ans` say what they read: see `record_binary`), or with no gradient
    (`rules` None). A Python number among the operands is replaced by the cached 0-d array it
    converts to (see `_constant`). Operands of mixed dtypes follow the rule of `dtypes.py`
    (`promote=False`, for comparisons: NumPy's, exact)."""
    if type(b) in _NUMBERS and type(a) is Tensor and rules is not None:
        # `t * 2`, `t + 1`: the most frequent of all, recorded with less work when the number
        # is in `_constant`'s cache (read inline)
        ad = a._data
        pair = _CONSTANTS.get(ad.dtype, _NO_CONSTANTS).get(b)
        if pair is not None:
            return record_constant(op, fn(ad, pair[1]), a, pair, rules, save_a, save_b, keep_ans)
    ad = a._data if type(a) is Tensor else _val(a, op)
    bd = b._data if type(b) is Tensor else b if type(b) in _NUMBERS else _val(b, op)
    if type(ad) is np.ndarray:
        if type(bd) is np.ndarray:
            if ad.dtype is not bd.dtype and (not ad.ndim or not bd.ndim) and promote:
                (ad, bd), (a, b) = _dtypes.promote([ad, bd], [a, b])
        elif type(bd) in _NUMBERS:
            pair = _CONSTANTS.get(ad.dtype, _NO_CONSTANTS).get(bd)  # `_constant`'s cache, read inline
            if pair is not None:    # (it holds float dtypes only)
                b = bd = pair[1]
            elif ad.dtype.kind == "f":
                b = bd = _constant(bd, ad)
            elif promote:
                (ad, bd), (a, b) = _dtypes.promote([ad, bd], [a, b])
        elif promote:
            (ad, bd), (a, b) = _dtypes.promote([ad, bd], [a, b])
    elif type(ad) in _NUMBERS and type(bd) is np.ndarray and bd.dtype.kind == "f":
        a = ad = _constant(ad, bd)
    elif promote:
        (ad, bd), (a, b) = _dtypes.promote([ad, bd], [a, b])
    try:
        out = fn(ad, bd)
    except ValueError as err:
        raise _shape_error(op, ad, bd, err) from None
    if type(out) is not np.ndarray:
        out = np.asarray(out)       # NumPy gives a scalar for 0-d operands
    if rules is None:
        return _new(out)
    return record_binary(op, out, a, b, rules, save_a, save_b, keep_ans)


def _out(x: Any) -> np.ndarray:
    return x if type(x) is np.ndarray else np.asarray(x)


def _tensor(x: Any, op: str) -> Tensor:
    if isinstance(x, Tensor):
        return x
    return Tensor(_val(x, op))


def _is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _axis_arg(axis: Any, what: str, many: bool = False, none: bool = True) -> Any:
    """`axis` as given, checked to be an int (a tuple of ints with `many`; None with `none`);
    NumPy checks the bounds."""
    if axis is None and none:
        return axis
    axes = axis if many and isinstance(axis, (tuple, list)) else (axis,)
    for a in axes:
        if not _is_int(a):
            kind = "an integer or a tuple of integers" if many else "an integer"
            raise TypeError(f"{what}: axis must be {kind}, got {axis!r}")
    return axis


def _norm_axis(axis: Any, ndim: int) -> tuple | None:
    """`axis` (None, an int or a sequence of ints) checked against `ndim`, as non-negative ints."""
    if axis is None:
        return None
    axes = (axis,) if not isinstance(axis, (tuple, list)) else tuple(axis)
    out = []
    for a in axes:
        if not _is_int(a):
            raise TypeError(f"axis must be an integer or a tuple of integers, got {axis!r}"
                            f"{'' if axes == (axis,) else f' (its entry {a!r} is not)'}")
        a = int(a)
        if not -ndim <= a < builtins.max(ndim, 1):
            raise AxisError(f"axis {a} is out of bounds for a tensor of dimension {ndim}")
        out.append(a % ndim if ndim else 0)
    if len(set(out)) < len(out):
        raise ValueError(f"axis {axis!r} names the same axis twice")
    return tuple(out) if ndim else ()      # axis 0 of a 0-d value: nothing to reduce, as NumPy


def _elementwise(name: str, fn: Any, rules: tuple, *, save_input: bool = False,
                 keep_ans: bool = False, doc: str) -> Callable[[Any], Tensor]:
    """The operation `name`: the elementwise NumPy function `fn` of one operand, recorded with
    its gradient rule (`rules`, the 1-tuple `(rule,)`, built once: `rule(g, ans[, x])`), which
    reads the input (`save_input`) or the output (`keep_ans`). The most frequent case, in grad
    mode with nobody watching (a module's scope may be open) on an operation's fresh output
    (its .data never replaced: then the array may be the user's, see `protection.hold`), makes
    the node here, one call for the whole operation (elementwise operations are the most
    frequent of all); `record_unary` takes the others."""

    def op(x: Any) -> Tensor:
        if type(x) is Tensor:
            xd = x._data
            out = fn(xd)
            parent = x._node    # (an operation's output: its requires_grad is always on)
            mode = STATE.recording
            if parent is not None and (mode == RECORD or mode == RECORD_SCOPED) and \
                    not x._version and type(out) is _NDARRAY and out.dtype is xd.dtype and \
                    (not save_input or xd.base is None):
                t = node_tensor(Node, name, parent, None, 1, rules, (x,) if save_input else (),
                                (xd,) if save_input else (), out if keep_ans else None, out,
                                parent.shape)         # the result has its input's shape
                if mode == RECORD_SCOPED:           # inside a module: its labels
                    t._node.scope = STATE._scope
                return t
        else:
            xd = _val(x, name)
            out = fn(xd)
        if type(out) is not _NDARRAY or out.dtype is not xd.dtype:
            out = _float_result(xd, _out(out))
        return record_unary(name, out, x, rules, save_input, keep_ans)
    op.__name__ = op.__qualname__ = name
    op.__doc__ = doc
    return op


# ================================================================ arithmetic

def _g(g: Any, ans: Any, *s: Any) -> Any:
    return g


def _neg_g(g: Any, ans: Any, *s: Any) -> Any:
    return -g


_ADD, _SUBTRACT, _NEGATIVE_RULE = (_g, _g), (_g, _neg_g), (_neg_g,)     # rule tuples, built once


def _arithmetic(name: str, fn: Any, rules: tuple, save_a: int = 0, save_b: int = 0, *,
                doc: str) -> Callable[[Any, Any], Tensor]:
    """The operation `name`: `_binary(name, fn, a, b, rules, save_a, save_b)`, for an
    operation whose rules read at most the other operand (`save_a`, `save_b`: 0 or
    `SAVE_FOR_OTHER`). The most frequent case of all, `t op number` in grad mode with nobody
    watching on an operation's fresh output with the number in `_constant`'s cache, makes the
    node here, one call for the whole operation: it keeps only the shared pair `(None, c)`
    (nothing when the rules read nothing), as `record_constant` would."""
    assert save_a != SAVE and save_b != SAVE

    def op(a: Any, b: Any) -> Tensor:
        if type(b) in _NUMBERS and type(a) is Tensor:
            ad = a._data
            pair = _CONSTANTS.get(ad.dtype, _NO_CONSTANTS).get(b)   # `_constant`'s cache, inline
            if pair is not None:
                out = fn(ad, pair[1])
                parent = a._node    # (an operation's output: its requires_grad is always on)
                mode = STATE.recording
                if parent is not None and (mode == RECORD or mode == RECORD_SCOPED) and \
                        not a._version and type(out) is _NDARRAY:  # (NumPy: a scalar for 0-d)
                    t = node_tensor(Node, name, parent, None, 2, rules, (),
                                    pair if save_b else (), None, out, parent.shape)
                    if mode == RECORD_SCOPED:       # inside a module: its labels
                        t._node.scope = STATE._scope
                    return t
                return record_constant(name, out, a, pair, rules, save_a, save_b, False)
        return _binary(name, fn, a, b, rules, save_a, save_b)
    op.__name__ = op.__qualname__ = name
    op.__doc__ = doc
    return op


add = _arithmetic("add", np.add, _ADD, doc=(
    "Elementwise `a + b` with broadcasting; the gradient of each operand is summed back to its "
    "shape."))
subtract = _arithmetic("subtract", np.subtract, _SUBTRACT,
                       doc="Elementwise `a - b` with broadcasting; gradients 1 and -1.")


def _needs(x: Any) -> bool:
    return isinstance(x, Tensor) and x._requires_grad


def _mul_a(g: Any, ans: Any, a: Any, b: Any) -> Any:
    return g * b


def _mul_b(g: Any, ans: Any, a: Any, b: Any) -> Any:
    return g * a


_MULTIPLY = (_mul_a, _mul_b)
# each rule reads only the other operand: an operand is kept alive only if the other needs it
multiply = _arithmetic("multiply", np.multiply, _MULTIPLY, SAVE_FOR_OTHER, SAVE_FOR_OTHER,
                       doc="Elementwise `a * b` with broadcasting; gradients `b` and `a`.")


def divide(a: Any, b: Any) -> Tensor:
    """Elementwise true division `a / b` (integers give the default float dtype); gradients
    `1 / b` and `-a / b**2`."""
    t = _binary("divide", np.true_divide, a, b, _DIVIDE, SAVE_FOR_OTHER, SAVE)
    if t._node is None and t._data.dtype is _F64 and \
            np.asarray(_val(a, "divide")).dtype.kind in "biu":   # int / int: never recorded
        t._data = _float_result(_val(b, "divide"), t._data)
    return t


def _div_a(g: Any, ans: Any, a: Any, b: Any) -> Any:
    return g / b


def _div_b(g: Any, ans: Any, a: Any, b: Any) -> Any:
    return -g * a / (b * b)


_DIVIDE = (_div_a, _div_b)


def power(a: Any, b: Any) -> Tensor:
    """Elementwise `a ** b`; gradients `b * a**(b-1)` (0 where a = b = 0) and `a**b * log(a)`
    (0 where a = 0 and b >= 0), as PyTorch."""
    return _binary("power", np.power, a, b, (_pow_a, _pow_b), SAVE, SAVE, keep_ans=True)


def _pow_a(g: Any, ans: Any, a: Any, b: Any) -> Any:
    # b * a**(b-1), taken as 0 where a == b == 0 (as PyTorch; 0 * 0**-1 would be NaN): there the
    # base is replaced by 1, so the derivatives of this rule stay finite too
    both_zero = (_val(a, "power") == 0) & (_val(b, "power") == 0)
    return g * b * np.where(both_zero, 1, a) ** (b - 1)


def _pow_b(g: Any, ans: Any, a: Any, b: Any) -> Any:
    # d(a**b)/db = a**b * log(a); taken as 0 where a == 0 and b >= 0 (as PyTorch does); where
    # a == 0 and b < 0 it is inf * log(0) = -inf
    at_zero = (_val(a, "power") == 0) & (_val(b, "power") >= 0)
    with np.errstate(divide="ignore"):
        return g * ans * np.log(np.where(at_zero, 1, a))


negative = _elementwise("negative", np.negative, _NEGATIVE_RULE,
                        doc="Elementwise `-x`.")


def _abs(g: Any, ans: Any, x: Any) -> Any:
    return g * np.sign(x)       # abs'(0) = 0


_ABS_RULE = (_abs,)     # the rules of its one input


abs = _elementwise("abs", np.abs, _ABS_RULE, save_input=True,  # noqa: A001 - NumPy's name
                   doc=("Elementwise absolute value; gradient `sign(x)`, so 0 at x = 0 (as "
                        "PyTorch)."))


def _zero(g: Any, ans: Any) -> Any:
    return np.zeros(g.shape, g.dtype)       # not g * 0: an inf or NaN in g would stay


_ZERO_RULE = (_zero,)     # the rules of its one input


sign = _elementwise("sign", np.sign, _ZERO_RULE,
                    doc=("Elementwise sign; its gradient is zero (recorded, as PyTorch's: a "
                         "backward through it gives zeros, not an error)."))


def floor_divide(a: Any, b: Any) -> Tensor:
    """Elementwise `a // b` (NumPy's rule); piecewise constant, so its gradient is zero."""
    return _binary("floor_divide", np.floor_divide, a, b)


def remainder(a: Any, b: Any) -> Tensor:
    """Elementwise `a % b` with the sign of b (NumPy's and PyTorch's rule):
    a - b * floor(a / b), so d/da = 1 and d/db = -floor(a / b)."""
    return _binary("remainder", np.remainder, a, b, (_g, _rem_b), SAVE, SAVE)


def _rem_b(g: Any, ans: Any, a: Any, b: Any) -> Any:
    return -g * np.floor(_val(a, "remainder") / _val(b, "remainder"))


def _compare(op: str, fn: Any) -> Any:
    def compare(a: Any, b: Any) -> Tensor:
        if a is None or b is None:      # NumPy compares with None elementwise (t == None: False)
            return _new(_out(fn(_plain(a), _plain(b))))
        return _binary(op, fn, a, b, promote=False)
    compare.__name__ = op
    compare.__doc__ = f"Elementwise `{op}` (no gradient)."
    return compare


less = _compare("less", np.less)
less_equal = _compare("less_equal", np.less_equal)
greater = _compare("greater", np.greater)
greater_equal = _compare("greater_equal", np.greater_equal)
equal = _compare("equal", np.equal)
not_equal = _compare("not_equal", np.not_equal)
logical_and = _compare("logical_and", np.logical_and)
logical_or = _compare("logical_or", np.logical_or)


def logical_not(x: Any) -> Tensor:
    """Elementwise logical not, a bool tensor (no gradient)."""
    return _new(_out(np.logical_not(_val(x, "logical_not"))))


# ================================================================ elementwise

def _float_result(xd: Any, out: np.ndarray) -> np.ndarray:
    """`out` in the default float dtype if it is a float computed from integers, bools or
    Python numbers (which NumPy computes in float64), else as it is."""
    if out.dtype.kind == "f" and (type(xd) in _NUMBERS or np.asarray(xd).dtype.kind in "biu"):
        return out.astype(get_default_dtype(), copy=False)
    return out


def _exp(g: Any, ans: Any) -> Any:
    return g * ans


_EXP_RULE = (_exp,)     # the rules of its one input


exp = _elementwise("exp", np.exp, _EXP_RULE, keep_ans=True,
                   doc="Elementwise `e ** x`; gradient `exp(x)`.")


def _log(g: Any, ans: Any, x: Any) -> Any:
    return g / x


_LOG_RULE = (_log,)     # the rules of its one input


log = _elementwise("log", np.log, _LOG_RULE, save_input=True,
                   doc="Elementwise natural logarithm; gradient `1 / x`.")


_LN10, _LN2 = float(np.log(10)), float(np.log(2))


def _log10(g: Any, ans: Any, x: Any) -> Any:
    return g / (x * _LN10)


_LOG10_RULE = (_log10,)     # the rules of its one input


log10 = _elementwise("log10", np.log10, _LOG10_RULE, save_input=True,
                     doc="Elementwise base-10 logarithm; gradient 1 / (x ln 10).")


def _log2(g: Any, ans: Any, x: Any) -> Any:
    return g / (x * _LN2)


_LOG2_RULE = (_log2,)     # the rules of its one input


log2 = _elementwise("log2", np.log2, _LOG2_RULE, save_input=True,
                    doc="Elementwise base-2 logarithm; gradient 1 / (x ln 2).")


def _sqrt(g: Any, ans: Any) -> Any:
    return g / (ans + ans)


_SQRT_RULE = (_sqrt,)     # the rules of its one input


sqrt = _elementwise("sqrt", np.sqrt, _SQRT_RULE, keep_ans=True,
                    doc="Elementwise square root; gradient `1 / (2 sqrt(x))`.")


def _sin(g: Any, ans: Any, x: Any) -> Any:
    return g * np.cos(x)


_SIN_RULE = (_sin,)     # the rules of its one input


sin = _elementwise("sin", np.sin, _SIN_RULE, save_input=True,
                   doc="Elementwise sine; gradient `cos(x)`.")


def _cos(g: Any, ans: Any, x: Any) -> Any:
    return -g * np.sin(x)


_COS_RULE = (_cos,)     # the rules of its one input


cos = _elementwise("cos", np.cos, _COS_RULE, save_input=True,
                   doc="Elementwise cosine; gradient `-sin(x)`.")


def _tanh(g: Any, ans: Any) -> Any:
    ga = g * ans
    return g - ga * ans         # g * (1 - ans**2) without a Python number (converted per call)


_TANH_RULE = (_tanh,)     # the rules of its one input


tanh = _elementwise("tanh", np.tanh, _TANH_RULE, keep_ans=True,
                    doc="Elementwise hyperbolic tangent; gradient `1 - tanh(x)**2`.")


def _np_sigmoid(x: np.ndarray) -> np.ndarray:
    # 1 / (1 + e) for x >= 0 and e / (1 + e) for x < 0, with e = exp(-|x|) in (0, 1]: never
    # overflows, and keeps the tiny values of sigmoid far below zero (no clamp)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1, e) / (1 + e)


def _float_sigmoid(x: Any) -> np.ndarray:
    return _np_sigmoid(_as_float(x))


def _as_float(x: Any) -> np.ndarray:
    x = np.asarray(x)
    return x if x.dtype.kind in "fc" else x.astype(get_default_dtype())


def _sigmoid(g: Any, ans: Any) -> Any:
    ga = g * ans
    return ga - ga * ans        # g * ans * (1 - ans)


_SIGMOID_RULE = (_sigmoid,)     # the rules of its one input


sigmoid = _elementwise("sigmoid", _float_sigmoid, _SIGMOID_RULE, keep_ans=True,
                       doc=("Elementwise logistic function `1 / (1 + exp(-x))`, stable for large "
                            "|x|; gradient `s (1 - s)`."))


def _np_relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0)


def _relu(g: Any, ans: Any) -> Any:
    return g * (ans > 0)        # relu'(0) = 0


_RELU_RULE = (_relu,)     # the rules of its one input


relu = _elementwise("relu", _np_relu, _RELU_RULE, keep_ans=True,
                    doc=("Elementwise `max(x, 0)`; gradient 1 where x > 0, else 0 (relu'(0) = 0, "
                         "as PyTorch)."))


def _np_softplus(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(0, _as_float(x))


def _softplus(g: Any, ans: Any, x: Any) -> Any:
    return g * (sigmoid(x) if isinstance(x, Tensor) else _np_sigmoid(x))


_SOFTPLUS_RULE = (_softplus,)     # the rules of its one input


softplus = _elementwise("softplus", _np_softplus, _SOFTPLUS_RULE, save_input=True,
                        doc=("Elementwise `log(1 + exp(x))`, stable for large |x|; gradient "
                             "`sigmoid(x)`."))


def leaky_relu(x: Any, negative_slope: float = 0.01) -> Tensor:
    """Elementwise `x` where x > 0, else `negative_slope * x`; gradient 1 or `negative_slope`."""
    xd = _val(x, "leaky_relu")
    if isinstance(negative_slope, (np.ndarray, np.generic)) and np.ndim(negative_slope) == 0:
        # a NumPy number acts as a Python number: it keeps x's dtype
        negative_slope = negative_slope.item()
    out = np.where(xd > 0, xd, xd * negative_slope)

    def vjp(g: Any, ans: Any, x: Any) -> Any:
        return np.where(x > 0, g, g * negative_slope)
    return record("leaky_relu", _out(out), (x,), (vjp,), (x,), attrs={"negative_slope": negative_slope})


def clip(x: Any, a_min: Any = None, a_max: Any = None) -> Tensor:
    """Clamp into [a_min, a_max] (either may be None, a number, an array or a Tensor).

    As NumPy, the result is minimum(maximum(x, a_min), a_max). The gradient goes to the operand
    the result came from: `a_max` where it is below maximum(x, a_min), `a_min` where x is below
    it (and it is not above `a_max`), x elsewhere, ties included (as PyTorch's clamp).
    """
    xd = _val(x, "clip")
    if a_min is None and a_max is None:
        raise ValueError("clip: give at least one of a_min and a_max")
    lo = None if a_min is None else _val(a_min, "clip")
    hi = None if a_max is None else _val(a_max, "clip")
    if not (_same_dtype(xd, lo) and _same_dtype(xd, hi)):
        (xd, lo, hi), (x, a_min, a_max) = _dtypes.promote([xd, lo, hi], [x, a_min, a_max])
    try:
        out = _out(np.clip(xd, lo, hi))
    except ValueError as err:
        raise ValueError(f"clip: shapes {np.shape(xd)}, {np.shape(lo)} and {np.shape(hi)} are not "
                         f"compatible ({err})") from None
    to_hi = np.zeros(out.shape, bool) if hi is None else np.asarray(
        (xd if lo is None else np.maximum(xd, lo)) > hi)
    to_lo = np.zeros(out.shape, bool) if lo is None else np.asarray(xd < lo) & ~to_hi
    to_x = ~(to_lo | to_hi)

    def to(mask: np.ndarray) -> Any:
        return lambda g, ans: np.where(mask, g, 0)
    return record("clip", out, (x, a_min, a_max), (to(to_x), to(to_lo), to(to_hi)))


def maximum(a: Any, b: Any) -> Tensor:
    """Elementwise maximum; where a == b the gradient is split evenly."""
    return _binary("maximum", np.maximum, a, b, (_max_a, _max_b), SAVE, SAVE)


def minimum(a: Any, b: Any) -> Tensor:
    """Elementwise minimum; where a == b the gradient is split evenly."""
    return _binary("minimum", np.minimum, a, b, (_max_b, _max_a), SAVE, SAVE)


def _max_a(g: Any, ans: Any, a: Any, b: Any) -> Any:
    return np.where(a == b, g * 0.5, np.where(a > b, g, 0))


def _max_b(g: Any, ans: Any, a: Any, b: Any) -> Any:
    return np.where(a == b, g * 0.5, np.where(a < b, g, 0))


def _same_dtype(a: Any, b: Any) -> bool:
    """Whether `a` and `b` (b may be None) are ndarrays of one dtype: no dtype rule needed."""
    return b is None or (type(a) is np.ndarray and type(b) is np.ndarray and a.dtype == b.dtype)


def where(cond: Any, a: Any, b: Any) -> Tensor:
    """`a` where `cond` is true, else `b`; the gradient goes to the chosen side."""
    c = np.asarray(_val(cond, "where"), dtype=bool)
    ad = _val(a, "where")
    bd = _val(b, "where")
    if not _same_dtype(ad, bd):
        (ad, bd), (a, b) = _dtypes.promote([ad, bd], [a, b])
    try:
        out = np.where(c, ad, bd)
    except ValueError as err:
        raise ValueError(f"where: shapes {c.shape}, {np.shape(ad)} and {np.shape(bd)} are not "
                         f"compatible ({err})") from None
    return record("where", _out(out), (None, a, b), (None, _where_a, _where_b), (c,), attrs={"cond": c})


def _where_a(g: Any, ans: Any, c: Any) -> Any:
    return np.where(c, g, 0)


def _where_b(g: Any, ans: Any, c: Any) -> Any:
    return np.where(c, 0, g)


def astype(x: Any, dtype: Any) -> Tensor:
    """Cast to `dtype`; the gradient is cast back to the input's dtype. A cast to an integer or
    bool dtype carries no gradient (the result cannot require grad)."""
    out = _val(x, "astype").astype(dtype)
    if out.dtype.kind not in "fc":
        return _new(out)
    return record("astype", out, (x,), (_g,))


# ================================================================ reductions

def _kept_shape(shape: tuple, axes: tuple | None) -> tuple:
    """`shape` with the reduced axes kept as size 1 (the keepdims shape)."""
    if axes is None:
        return (1,) * len(shape)
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def _bcast(g: Any, shape: tuple) -> Any:
    """`np.broadcast_to(g, shape)`, read-only; built directly for contiguous arrays (faster)."""
    if type(g) is np.ndarray and g.ndim == len(shape) and g.flags.c_contiguous:
        strides = tuple(0 if gs == 1 and n != 1 else st for gs, n, st in zip(g.shape, shape, g.strides))
        out = np.ndarray(shape, g.dtype, g, 0, strides)
        out.setflags(write=False)
        return out
    return np.broadcast_to(g, shape)


def _reduce(name: str, fn: Any, x: Any, axis: Any, keepdims: bool, **kw: Any) -> tuple:
    xd = _val(x, name)
    xd = xd if isinstance(xd, np.ndarray) else np.asarray(xd)
    axes = _norm_axis(axis, xd.ndim)
    out = _out(fn(xd, axis=axes, keepdims=keepdims, **kw))
    return xd, axes, out


def sum(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Sum over `axis` (None: all; an int or a tuple), keeping reduced axes as size 1 with
    `keepdims`. Bools and integers sum to integers."""
    xd, axes, out = _reduce("sum", np.add.reduce, x, axis, keepdims)
    shape, kept = xd.shape, _kept_shape(xd.shape, axes)

    def vjp(g: Any, ans: Any) -> Any:
        return _bcast(g.reshape(kept), shape)
    return record("sum", out, (x,), (vjp,), attrs={"axis": axes, "keepdims": keepdims})


def _wide(xd: np.ndarray) -> np.ndarray:
    """float16 values as float32, for sums and counts: both overflow float16 past 65,504."""
    return xd.astype(np.float32) if xd.dtype == np.float16 else xd


def _narrow(out: np.ndarray, like: np.ndarray) -> np.ndarray:
    """Back to float16 after `_wide`."""
    return out.astype(like.dtype) if like.dtype == np.float16 else out


def _std_wide(xd: np.ndarray, **kw: Any) -> np.ndarray:
    """np.std, in float32 for float16 (NumPy sums float16 squares in float16: inf past 65,504)."""
    return _narrow(np.std(_wide(xd), **kw), xd)


def _per(g: Any, n: float) -> Any:
    """g / n, in float32 for float16 (n itself may not fit in float16)."""
    if g.dtype == np.float16:
        return (g.astype(np.float32) / n).astype(np.float16)
    return g / n


def mean(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Mean over `axis` (None: all; an int or a tuple), keeping reduced axes with `keepdims`;
    integers and bools give the default float dtype."""
    xd = _val(x, "mean")
    xd = xd if isinstance(xd, np.ndarray) else np.asarray(xd)
    axes = _norm_axis(axis, xd.ndim)
    total = _out(np.add.reduce(_wide(xd), axis=axes, keepdims=keepdims))
    n = builtins.max(xd.size // builtins.max(total.size, 1), 1) if xd.size else 1
    out = _narrow(_out(total / _constant(n, total)), xd) if xd.size else \
        _out(np.mean(xd, axis=axes, keepdims=keepdims))
    if xd.dtype.kind in "biu":
        out = _to_default_float(out)
    shape, kept = xd.shape, _kept_shape(xd.shape, axes)

    def vjp(g: Any, ans: Any) -> Any:
        return _bcast(_per(g.reshape(kept), n), shape)
    return record("mean", out, (x,), (vjp,), attrs={"axis": axes, "keepdims": keepdims})


def _refuse_empty(name: str, xd: Any, axis: Any) -> Any:
    """`xd` as an array; raise if `name` (max, argmax, ...) would reduce over no elements, where
    it has no value (NumPy's error names neither the operation nor the shape)."""
    xd = np.asarray(xd)
    axes = _norm_axis(axis, xd.ndim)
    if xd.size == 0 and (axes is None or 0 in [xd.shape[a] for a in axes]):
        raise ValueError(f"{name}: the tensor of shape {xd.shape} is empty along "
                         f"{'its elements' if axes is None else f'axis {axes}'}, and the {name} of "
                         f"no elements has no value; skip empty batches, or reduce over another axis")
    return xd


def _extremum(name: str, fn: Any, x: Any, axis: Any, keepdims: bool) -> Tensor:
    _refuse_empty(name, _val(x, name), axis)
    xd, axes, out = _reduce(name, fn, x, axis, keepdims)
    kept = _kept_shape(xd.shape, axes)

    def vjp(g: Any, ans: Any, x: Any) -> Any:
        # ties share the gradient evenly, as PyTorch does for reductions
        hit = (x == ans.reshape(kept)).astype(g.dtype)
        return hit * (g.reshape(kept) / hit.sum(axis=axes, keepdims=True))
    return record(name, out, (x,), (vjp,), (x,), keep_ans=True, attrs={"axis": axes, "keepdims": keepdims})


def max(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Largest value over `axis` (values only, also with `dim`: no indices, use argmax); tied
    elements share the gradient evenly, as PyTorch."""
    return _extremum("max", np.maximum.reduce, x, axis, keepdims)


def min(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Smallest value over `axis` (values only, also with `dim`: no indices, use argmin); tied
    elements share the gradient evenly, as PyTorch."""
    return _extremum("min", np.minimum.reduce, x, axis, keepdims)


def _np_logsumexp(xd: np.ndarray, axes: tuple | None, keepdims: bool) -> np.ndarray:
    m = np.maximum.reduce(xd, axis=axes, keepdims=True, initial=-np.inf)
    m = np.where(np.isfinite(m), m, 0)
    with np.errstate(divide="ignore"):     # an empty or all -inf sum: log(0) = -inf
        s = np.log(np.add.reduce(np.exp(xd - m), axis=axes, keepdims=True)) + m
    if not keepdims:
        s = s.reshape(()) if axes is None else np.squeeze(s, axis=axes)
    return s


def logsumexp(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """log(sum(exp(x))) computed stably (the maximum is subtracted first)."""
    xd = _as_float(_val(x, "logsumexp"))          # integers and bools: the default float dtype
    axes = _norm_axis(axis, xd.ndim)
    out = _narrow(_out(_np_logsumexp(_wide(xd), axes, keepdims)), xd)
    kept = _kept_shape(xd.shape, axes)

    def vjp(g: Any, ans: Any, x: Any) -> Any:
        return g.reshape(kept) * np.exp(x - ans.reshape(kept))
    return record("logsumexp", out, (x,), (vjp,), (x,), keep_ans=True,
                  attrs={"axis": axes, "keepdims": keepdims})


def _to_default_float(out: np.ndarray) -> np.ndarray:
    """A float result of reducing integers or bools (computed in float64) in the default dtype."""
    return out.astype(get_default_dtype(), copy=False)


def var(x: Any, axis: Any = None, ddof: int = 0, keepdims: bool = False) -> Tensor:
    """Variance over `axis`, NumPy's: divides by N - ddof with ddof=0 by default (the biased
    variance). torch.var divides by N - 1 by default: pass ddof=1 (or correction=1) for that."""
    xd = _val(x, "var")
    xd = xd if isinstance(xd, np.ndarray) else np.asarray(xd)
    axes = _norm_axis(axis, xd.ndim)
    out = _narrow(_out(np.var(_wide(xd), axis=axes, keepdims=keepdims, ddof=ddof)), xd)
    if xd.dtype.kind in "biu":
        out = _to_default_float(out)
    kept = _kept_shape(xd.shape, axes)
    n = xd.size // builtins.max(out.size, 1) if xd.size else 0

    half = (n - ddof) / 2 if n > ddof else 0.0     # ddof >= n: the variance is inf too

    def vjp(g: Any, ans: Any, x: Any) -> Any:
        centred = x - x.mean(axis=axes, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):    # half == 0: inf, as the variance
            return _per(g.reshape(kept) * centred, half)
    return record("var", out, (x,), (vjp,), (x,), attrs={"axis": axes, "keepdims": keepdims, "ddof": ddof})


def std(x: Any, axis: Any = None, ddof: int = 0, keepdims: bool = False) -> Tensor:
    """Standard deviation over `axis`, NumPy's: sqrt of the variance divided by N - ddof, with
    ddof=0 by default. torch.std divides by N - 1 by default: pass ddof=1 (or correction=1).
    The gradient is (x - mean) / (std (N - ddof)), and 0 where std is 0, as PyTorch's."""
    xd, axes, out = _reduce("std", _std_wide, x, axis, keepdims, ddof=ddof)
    if xd.dtype.kind in "biu":
        out = _to_default_float(out)
    kept = _kept_shape(xd.shape, axes)
    n = xd.size // builtins.max(out.size, 1) if xd.size else 0
    scale = 1.0 / (n - ddof) if n > ddof else np.inf

    def vjp(g: Any, ans: Any, x: Any) -> Any:
        g16, x, ans = g, _wide(x), _wide(ans)
        centred = x - x.mean(axis=axes, keepdims=True)
        s = ans.reshape(kept)
        zero = s == 0                   # std 0: gradient 0, as PyTorch (masked_fill(result == 0, 0))
        with np.errstate(divide="ignore", invalid="ignore"):
            d = _wide(g16).reshape(kept) * centred * scale / (s + zero)
        return _narrow(np.where(zero, 0, d), g16)
    return record("std", out, (x,), (vjp,), (x,), keep_ans=True,
                  attrs={"axis": axes, "keepdims": keepdims, "ddof": ddof})


def argmax(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Indices of the largest values over `axis` (None: of the flattened tensor); no gradient."""
    axis = _axis_arg(axis, "argmax")
    xd = _refuse_empty("argmax", _val(x, "argmax"), axis)
    return _new(_out(np.argmax(xd, axis=axis, keepdims=keepdims)))


def argmin(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Indices of the smallest values over `axis` (None: of the flattened tensor); no gradient."""
    axis = _axis_arg(axis, "argmin")
    xd = _refuse_empty("argmin", _val(x, "argmin"), axis)
    return _new(_out(np.argmin(xd, axis=axis, keepdims=keepdims)))


def softmax(x: Any, axis: int = -1) -> Tensor:
    """exp(x) / sum(exp(x)) along `axis`, stable for large logits."""
    xd = _as_float(_val(x, "softmax"))          # integers and bools: the default float dtype
    axis = _norm_axis(axis, xd.ndim)
    w = _wide(xd)
    e = np.exp(w - np.maximum.reduce(w, axis=axis, keepdims=True, initial=-np.inf))  # initial: empty axis
    e = _narrow(e / np.add.reduce(e, axis=axis, keepdims=True), xd)

    def vjp(g: Any, ans: Any) -> Any:
        return ans * (g - (g * ans).sum(axis=axis, keepdims=True))
    return record("softmax", e, (x,), (vjp,), keep_ans=True, attrs={"axis": axis})


def log_softmax(x: Any, axis: int = -1) -> Tensor:
    """x - logsumexp(x) along `axis`, stable for large logits."""
    xd = _as_float(_val(x, "log_softmax"))          # integers and bools: the default float dtype
    axis = _norm_axis(axis, xd.ndim)
    w = _wide(xd)
    # exact in floating point; `initial`: an empty axis
    shifted = w - np.maximum.reduce(w, axis=axis, keepdims=True, initial=-np.inf)
    with np.errstate(divide="ignore"):      # log(0) only for an empty axis, whose result is empty
        out = _narrow(shifted - np.log(np.add.reduce(np.exp(shifted), axis=axis, keepdims=True)), xd)

    def vjp(g: Any, ans: Any) -> Any:
        if g.dtype == np.float16:       # the sum of g may not fit in float16
            return vjp(g.astype(np.float32), ans.astype(np.float32)).astype(np.float16)
        return g - np.exp(ans) * g.sum(axis=axis, keepdims=True)
    return record("log_softmax", out, (x,), (vjp,), keep_ans=True, attrs={"axis": axis})


def softmax_cross_entropy(logits: Any, labels: Any, reduction: str = "none") -> Tensor:
    """`-log softmax(logits)[label]`, classes on the last axis, as one node.

    `labels` are integers of shape `logits.shape[:-1]`; `reduction` "none" (per sample),
    "mean" or "sum". The gradient is `softmax - onehot` (scaled by 1/N for "mean").
    """
    xd = logits._data if type(logits) is Tensor else np.asarray(_val(logits, "softmax_cross_entropy"))
    # the rule reads the labels: a copy, so a later write into the caller's array cannot reach it
    lab = np.array(labels._data if isinstance(labels, Tensor) else labels)
    if lab.dtype.kind not in "iu" or xd.ndim == 0 or lab.shape != xd.shape[:-1]:
        _refuse_labels(lab, xd.shape)
    name = _CE_NAMES.get(reduction)
    if name is None:
        raise ValueError(f"softmax_cross_entropy: reduction must be 'none', 'mean' or 'sum', "
                         f"got {reduction!r}")
    n_classes = xd.shape[-1]
    half = xd.dtype == _F16     # float16 is computed in float32 (`_wide`), the results narrowed
    x2 = xd.astype(np.float32) if half else xd
    if x2.ndim != 2:
        x2 = x2.reshape(-1, n_classes)
    cols = lab if lab.ndim == 1 else lab.reshape(-1)
    rows = _rows(x2.shape[0])
    # one pass: seen as unsigned, a negative label is larger than any class index
    if cols.size and np.maximum.reduce(cols.view(_unsigned(cols.dtype))) >= n_classes:
        bad = cols[(cols < 0) | (cols >= n_classes)][0]
        raise ValueError(f"softmax_cross_entropy: label {bad} is out of range for {n_classes} "
                         f"classes (labels must be in 0..{n_classes - 1})")
    m = np.maximum.reduce(x2, axis=1, keepdims=True)
    e = np.exp(x2 - m)
    s = np.add.reduce(e, axis=1, keepdims=True)
    losses = (m[:, 0] - x2[rows, cols]) + np.log(s[:, 0])      # m - picked first: exact
    e /= s                      # the softmax, kept for the first-order gradient
    if half:
        e, losses = e.astype(_F16), losses.astype(_F16)
    if reduction == "none":
        out = losses.reshape(lab.shape)
    else:                       # summed in float32 for float16 (`_wide`)
        wide = losses.astype(np.float32) if half else losses
        total = np.add.reduce(wide)
        if reduction == "sum":
            out = total
        elif len(losses):
            out = total / _constant(len(losses), wide)
        else:                   # the mean of no samples: NaN, as PyTorch (without 0 / 0's warning)
            out = np.full((), np.nan, wide.dtype)
        if half:
            out = np.asarray(out).astype(_F16)
    count = builtins.max(len(losses), 1) if reduction == "mean" else 1
    shape = xd.shape
    flat = xd.ndim != 2         # the rule's result is reshaped back to the logits' shape

    def rule(g: Any, ans: Any, x: Any, e: np.ndarray) -> Any:
        if isinstance(x, Tensor) or isinstance(g, Tensor):     # create_graph: stay differentiable
            onehot = np.zeros(shape, dtype=e.dtype)
            onehot.reshape(-1, n_classes)[rows, cols] = 1
            return _ce_grad(x, g, e.reshape(shape), onehot, reduction, count)
        if reduction == "none":
            r = e * g.reshape(-1, 1)
            r[rows, cols] -= g.reshape(-1)                    # softmax - onehot, scaled by g
        else:
            gs = g if count == 1 else g / _constant(count, g) if g.dtype.itemsize > 2 else \
                _per(g, count)      # (the count as a cached array: no conversion per call)
            r = e * gs
            r[rows, cols] -= gs
        return r.reshape(shape) if flat else r
    # `e` is this call's own array, read only by the rules: read-only for good, it is saved
    # as it is (no lock to count and release)
    e.setflags(write=False)
    # the labels are an input without a gradient (observers such as record_values see them)
    return record(name, _out(out), (logits, lab), (rule, None), (logits, e))


_F16 = np.dtype(np.float16)
_CE_NAMES = {"none": "softmax_cross_entropy", "mean": "softmax_cross_entropy[mean]",
             "sum": "softmax_cross_entropy[sum]"}
_ROWS: dict = {}        # n -> np.arange(n), read-only (the rows of the labels' entries)


def _rows(n: int) -> np.ndarray:
    rows = _ROWS.get(n)
    if rows is None:
        rows = np.arange(n)
        rows.setflags(write=False)
        if len(_ROWS) >= 64:
            _ROWS.clear()
        rows = _ROWS.setdefault(n, rows)
    return rows


_UNSIGNED: dict = {}


def _unsigned(dtype: np.dtype) -> np.dtype:
    """The unsigned integer dtype of `dtype`'s size and byte order."""
    u = _UNSIGNED.get(dtype)
    if u is None:
        u = _UNSIGNED[dtype] = np.dtype(dtype.str.replace("i", "u"))
    return u


def _refuse_labels(lab: np.ndarray, shape: tuple) -> None:
    """The error for labels that do not fit logits of `shape`, with the likely fix: one-hot or
    probability targets (PyTorch accepts those) or PyTorch's (N, C, d...) layout."""
    hint = ""
    if lab.shape == shape and len(shape) >= 1:
        hint = ("; these look like one-hot or probability targets, shaped as the logits: pass the "
                "class indices, labels.argmax(axis=-1)")
    elif len(shape) >= 3 and lab.shape == shape[:1] + shape[2:]:
        perm = (0,) + tuple(range(2, len(shape))) + (1,)
        hint = (f"; classes are on the last axis of the logits, not on axis 1 as in PyTorch: "
                f"move them last, logits.transpose{perm}")
    elif lab.shape == shape[:-1] + (1,):
        hint = f"; drop the labels' last axis of size 1: labels.reshape({shape[:-1]})"
    if lab.dtype.kind not in "iu":
        raise TypeError(f"softmax_cross_entropy: labels must be integer class indices, got dtype "
                        f"{lab.dtype}" + (hint or "; pass integers, e.g. labels.astype(np.int64)"))
    raise ValueError(f"softmax_cross_entropy: labels of shape {lab.shape} do not match logits "
                     f"of shape {shape}: expected labels of shape {shape[:-1]}{hint}")


def _ce_grad(x: Any, g: Any, p0: np.ndarray, onehot: np.ndarray, reduction: str, count: int) -> Tensor:
    """softmax_cross_entropy's gradient (softmax(x) - onehot) * g (g per sample, or divided by
    `count`) as one node: a differentiable backward records it instead of four to six nodes.
    Its rule, for an output gradient u: g * (p u - p sum(p u)) for x (the softmax's
    vector-Jacobian product), and the sum of (p - onehot) u (per sample, or over all divided
    by `count`) for g. With Tensors (a third derivative) the same formulas are recorded op by op."""
    def scale(g: Any) -> Any:
        return g.reshape(g.shape + (1,)) if reduction == "none" else _per(g, count)

    def rule(u: Any, ans: Any, need: list, x: Any, g: Any) -> tuple:
        if isinstance(u, Tensor) or isinstance(x, Tensor) or isinstance(g, Tensor):
            p = softmax(x) if isinstance(x, Tensor) else p0
            add_up = sum
        else:
            p, add_up = p0, np.sum
        gx = gg = None
        if need[0] and isinstance(u, Tensor) and not isinstance(x, Tensor) and not isinstance(g, Tensor):
            gx = _softmax_vjp(u, p0, scale(g))      # only u is recorded: one node (see `engine.run`)
        elif need[0]:
            pu = p * u
            gx = (pu - p * add_up(pu, axis=-1, keepdims=True)) * scale(g)
        if need[1]:
            d = (p - onehot) * u
            gg = add_up(d, axis=-1) if reduction == "none" else _per(add_up(d), count)
        return gx, gg
    return record("softmax_cross_entropy'", _out((p0 - onehot) * scale(_data(g))), (x, g), rule, (x, g))


def _softmax_vjp(u: Tensor, p: np.ndarray, s: Any) -> Tensor:
    """s * (p u - p sum(p u)), the softmax's vector-Jacobian product at probabilities p scaled
    by s (per row or overall), for constant p and s: one node for the Tensor u. The map is
    symmetric (per row s (diag(p) - p p^T)), so its rule is itself."""
    def rule(w: Any, ans: Any) -> Any:
        if isinstance(w, Tensor):
            return _softmax_vjp(w, p, s)
        pw = p * w
        return (pw - p * np.add.reduce(pw, axis=-1, keepdims=True)) * s
    return record("softmax_cross_entropy''", _out(rule(u._data, None)), (u,), (rule,))


_LOG_FLOOR = -100.0
_BCE_EPS = 1e-12            # PyTorch's floor on p * (1 - p) in the gradient of BCE


def _clamped_log(p: Any) -> Any:
    """log(p), clamped to >= -100 (as PyTorch's BCE), differentiable, never taking log(0)."""
    positive = _val(p, "binary_cross_entropy") > 0
    lg = np.log(np.where(positive, p, 1.0))
    return np.where(positive & (_val(lg, "binary_cross_entropy") >= _LOG_FLOOR), lg, _LOG_FLOOR)


def binary_cross_entropy(p: Any, y: Any) -> Tensor:
    """-(y log p + (1 - y) log(1 - p)) elementwise, as one node; each log clamped to >= -100.

    As in PyTorch, the gradient for the probabilities `p` is (p - y) / max(p (1 - p), 1e-12):
    finite at p = 0 and 1, and not zero there when the target disagrees. The gradient for the
    targets `y` is log(1 - p) - log(p), with the same clamps. For reductions and input checks
    use `nn.functional.binary_cross_entropy`.
    """
    pd, yd = _val(p, "binary_cross_entropy"), _val(y, "binary_cross_entropy")
    try:
        out = -(yd * _clamped_log(pd) + (1 - yd) * _clamped_log(1 - pd))
    except ValueError as err:
        raise _shape_error("binary_cross_entropy", pd, yd, err) from None
    return record("binary_cross_entropy", _out(out), (p, y), (_bce_p, _bce_y), (p, y))


def _bce_p(g: Any, ans: Any, p: Any, y: Any) -> Any:
    return g * (p - y) / np.maximum(p * (1 - p), _BCE_EPS)


def _bce_y(g: Any, ans: Any, p: Any, y: Any) -> Any:
    return g * (_clamped_log(1 - p) - _clamped_log(p))


# Where an operation of two differentiable operands has rules whose mixed second derivatives
# differ, its Hessian term is not symmetric and `functional.hvp` may not compute H v as v^T H:
# name -> whether the node's saved operands (arrays) sit at such an edge.
MIXED_EDGES: dict[str, Callable[[tuple], bool]] = {
    # a zero base: the exponent's rule is masked there, the base's keeps its factor b
    "power": lambda arrays: bool((np.asarray(arrays[0]) == 0).any()),
    # p (1 - p) at or below the clamp of p's rule, which y's clamped logs do not share
    "binary_cross_entropy": lambda arrays: bool(
        (np.asarray(arrays[0]) * (1 - np.asarray(arrays[0])) <= _BCE_EPS).any()),
}


# ================================================================ shape

def _norm_shape(shape: Any, what: str, infer: bool = False) -> tuple:
    """A shape argument checked: an int or a sequence of ints, each >= 0 (or one -1 with `infer`)."""
    if isinstance(shape, (Tensor, np.ndarray)):
        shape = np.asarray(_val(shape, what)).tolist()
    dims = tuple(shape) if isinstance(shape, (tuple, list)) else (shape,)
    for d in dims:
        if not _is_int(d) or d < (-1 if infer else 0):
            lowest = "-1 (inferred)" if infer else "0"
            raise TypeError(f"{what}: the shape must be an integer or a sequence of integers, each "
                            f">= {lowest}, got {shape!r}")
    return tuple(int(d) for d in dims)


def reshape(x: Any, shape: Any) -> Tensor:
    """The same values in `shape` (a tuple; one size may be -1); the gradient is reshaped back."""
    xd = _val(x, "reshape")
    if type(xd) is not np.ndarray:
        xd = np.asarray(xd)     # then its methods: `np.reshape` and `np.shape` cost more
    in_shape = xd.shape
    shape = _norm_shape(shape, "reshape", infer=True)
    try:
        out = xd.reshape(shape)
    except ValueError:
        raise ValueError(f"reshape: cannot reshape a tensor of shape {in_shape} "
                         f"({int(np.prod(in_shape))} elements) into shape {shape}") from None

    def vjp(g: Any, ans: Any) -> Any:
        return g.reshape(in_shape)
    return record("reshape", _out(out), (x,), (vjp,))


def transpose(x: Any, axes: Any = None) -> Tensor:
    """Axes permuted by `axes` (reversed when None), as `np.transpose`."""
    xd = np.asarray(_val(x, "transpose"))
    if axes is None:
        axes = tuple(range(xd.ndim))[::-1]
    axes = _norm_axis(axes, xd.ndim)
    inverse = tuple(np.argsort(axes))

    def vjp(g: Any, ans: Any) -> Any:
        return g.transpose(inverse)
    return record("transpose", xd.transpose(axes), (x,), (vjp,), attrs={"axes": axes})


def swapaxes(x: Any, axis1: int, axis2: int) -> Tensor:
    """Axes `axis1` and `axis2` exchanged (PyTorch's `transpose(d0, d1)`)."""
    _axis_arg(axis1, "swapaxes", none=False)
    _axis_arg(axis2, "swapaxes", none=False)

    def vjp(g: Any, ans: Any) -> Any:
        return g.swapaxes(axis1, axis2)
    return record("swapaxes", np.asarray(_val(x, "swapaxes")).swapaxes(axis1, axis2), (x,), (vjp,),
                  attrs={"axis1": axis1, "axis2": axis2})


def _reshape_op(name: str, x: Any, out: np.ndarray, in_shape: tuple) -> Tensor:
    def vjp(g: Any, ans: Any) -> Any:
        return g.reshape(in_shape)
    return record(name, _out(out), (x,), (vjp,))


def expand_dims(x: Any, axis: Any) -> Tensor:
    """A new axis of size 1 inserted at `axis` (PyTorch's unsqueeze)."""
    xd = np.asarray(_val(x, "expand_dims"))
    axis = _axis_arg(axis, "expand_dims", many=True, none=False)
    return _reshape_op("expand_dims", x, np.expand_dims(xd, axis), xd.shape)


def squeeze(x: Any, axis: Any = None) -> Tensor:
    """Axes of size 1 removed: all of them, or those in `axis`."""
    xd = np.asarray(_val(x, "squeeze"))
    axis = _axis_arg(axis, "squeeze", many=True)
    wide = [a for a in (_norm_axis(axis, xd.ndim) or ()) if xd.shape[a] != 1]
    if wide:                            # NumPy's message names neither the axis nor the shape
        raise ValueError(f"squeeze: axis {wide[0]} of a tensor of shape {xd.shape} has size "
                         f"{xd.shape[wide[0]]}, and only axes of size 1 can be squeezed (PyTorch's "
                         f"squeeze(d) leaves such an axis: write t.squeeze(d) if t.shape[d] == 1 else t)")
    return _reshape_op("squeeze", x, np.squeeze(xd, axis), xd.shape)


def flatten(x: Any) -> Tensor:
    """The values as a 1-D tensor (a copy when the layout needs one)."""
    xd = np.asarray(_val(x, "flatten"))
    return _reshape_op("flatten", x, xd.reshape(-1), xd.shape)


def broadcast_to(x: Any, shape: Any) -> Tensor:
    """`x` broadcast to `shape` as `np.broadcast_to`; the gradient is summed back to x's shape."""
    xd = _val(x, "broadcast_to")
    shape = _norm_shape(shape, "broadcast_to")
    try:
        out = np.broadcast_to(xd, shape)
    except ValueError:
        raise ValueError(f"broadcast_to: cannot broadcast shape {np.shape(xd)} "
                         f"to {tuple(int(s) for s in np.atleast_1d(shape))}") from None
    return record("broadcast_to", out, (x,), (_g,))      # the engine sums the gradient back


def concatenate(seq: Sequence[Any], axis: int = 0) -> Tensor:
    """The tensors of `seq` joined along an existing `axis` (PyTorch's cat); each gets its
    slice of the gradient."""
    arrays = [np.asarray(_val(t, "concatenate")) for t in seq]
    axis = _axis_arg(axis, "concatenate", none=False)
    try:
        out = np.concatenate(arrays, axis=axis)
    except ValueError as err:
        raise ValueError(f"concatenate: shapes {[a.shape for a in arrays]} do not fit along "
                         f"axis {axis} ({err})") from None
    ax = axis % out.ndim
    vjps = []
    start = 0
    for a in arrays:
        idx = (slice(None),) * ax + (slice(start, start + a.shape[ax]),)
        start += a.shape[ax]
        vjps.append(_index_vjp(idx))
    return record("concatenate", out, tuple(seq), tuple(vjps), attrs={"axis": ax})


def _index_vjp(idx: tuple) -> Any:
    def vjp(g: Any, ans: Any) -> Any:
        return g[idx]
    return vjp


def stack(seq: Sequence[Any], axis: int = 0) -> Tensor:
    """The tensors of `seq` (all one shape) stacked along a new `axis`; each gets its slice of
    the gradient."""
    arrays = [_val(t, "stack") for t in seq]
    axis = _axis_arg(axis, "stack", none=False)
    try:
        out = np.stack(arrays, axis=axis)
    except ValueError as err:
        raise ValueError(f"stack: all inputs need the same shape, got "
                         f"{[np.shape(a) for a in arrays]} ({err})") from None
    ax = axis % out.ndim
    vjps = tuple(_index_vjp((slice(None),) * ax + (i,)) for i in range(len(arrays)))
    return record("stack", out, tuple(seq), vjps, attrs={"axis": ax})


def split(x: Any, indices_or_sections: Any, axis: int = 0) -> list:
    """Split along `axis` as `np.split`; each piece is an indexing of `x`."""
    t = _tensor(x, "split")
    if t.ndim == 0:
        raise ValueError("split: a 0-d tensor cannot be split; give at least one dimension")
    axis = _norm_axis(axis, t.ndim)[0]
    n = t.shape[axis]
    if _is_int(indices_or_sections):
        if indices_or_sections <= 0:
            raise ValueError(f"split: the number of sections must be a positive integer, got "
                             f"{indices_or_sections}")
        if n % indices_or_sections:
            raise ValueError(f"split: axis {axis} of length {n} does not divide into "
                             f"{indices_or_sections} equal sections")
        step = n // indices_or_sections
        bounds = [i * step for i in range(indices_or_sections + 1)]     # step 0: empty pieces
    elif isinstance(indices_or_sections, (list, tuple, np.ndarray)) and builtins.all(
            _is_int(i) for i in np.asarray(indices_or_sections).reshape(-1).tolist()):
        bounds = [0] + [int(i) for i in np.asarray(indices_or_sections).reshape(-1)] + [n]
    else:
        raise TypeError(f"split: indices_or_sections must be a positive integer or a sequence of "
                        f"integer split points, got {indices_or_sections!r}")
    ax = axis % t.ndim
    return [t[(slice(None),) * ax + (slice(lo, hi),)] for lo, hi in zip(bounds[:-1], bounds[1:])]


# ================================================================ indexing

def _norm_key(key: Any) -> tuple[Any, bool]:
    """The index as NumPy reads it, with every array-like part (Tensor, ndarray, list, tuple
    inside the index, nested sequences, 0-d arrays) as a private array: a later write into the
    caller's index array cannot change the gradient. Also says whether integer arrays occur
    (their indices may repeat, so the gradient must add up rather than assign)."""
    if not isinstance(key, tuple):
        key = (key,)
    out = []
    int_arrays = False
    for k in key:
        if isinstance(k, Tensor):
            k = k._data
        if not (k is None or k is Ellipsis or isinstance(k, slice) or _is_int(k)
                or isinstance(k, (bool, np.bool_))):
            k = np.array(k)                 # a copy, also of an ndarray
            if k.dtype.kind == "f" and k.size == 0:
                k = k.astype(np.intp)       # [] indexes nothing, as in NumPy
            if k.dtype.kind in "iu":
                int_arrays = True
            elif k.dtype != bool:
                raise IndexError(f"index arrays must be integer or boolean, got {k.dtype} "
                                 f"(from {type(k).__name__} {k!r})")
        out.append(k)
    return tuple(out), int_arrays


def getitem(x: Any, key: Any) -> Tensor:
    """`x[key]`: ints, slices, None, Ellipsis, integer arrays and boolean masks."""
    xd = _val(x, "getitem")
    given = key
    key, int_arrays = _norm_key(key)
    out = _out(xd[key])
    shape, dtype = xd.shape, xd.dtype

    def vjp(g: Any, ans: Any) -> Any:
        return index_add(g, key, shape, int_arrays, dtype)
    return record("getitem", out, (x,), (vjp,), attrs={"key": key, "given": given})


def index_add(g: Any, key: tuple, shape: tuple, accumulate: bool = True, dtype: Any = None) -> Any:
    """zeros(shape) with `g` added at `key` (repeated indices add up): getitem's gradient."""
    if isinstance(g, Tensor):
        def vjp(gg: Any, ans: Any) -> Any:
            return gg[key]
        out = index_add(g._data, key, shape, accumulate, dtype)
        return record("index_add", out, (g,), (vjp,))
    dtype = np.dtype(dtype or g.dtype)
    k0 = key[0] if len(key) == 1 else None
    if accumulate and dtype.kind == "f" and isinstance(k0, np.ndarray) and k0.dtype.kind in "iu" \
            and len(shape) >= 1:
        return _scatter_rows(g, k0, shape, dtype)
    out = np.zeros(shape, dtype)
    if accumulate:
        np.add.at(out, key, g)
    else:
        out[key] = g
    return out


_SCATTER_CHUNK = 1 << 16     # elements of g per call below (bounds the index array at 512 KB)


def _scatter_rows(g: np.ndarray, idx: np.ndarray, shape: tuple, dtype: np.dtype) -> np.ndarray:
    """zeros(shape) with the rows g[i] added at idx[i] (x[idx]'s gradient, e.g. an embedding's).

    np.add.at on a 1-D array with a 1-D index takes NumPy's fast path (a few ns per element,
    against ~0.1 us on the rows of a 2-D array); it adds in the same order, so the result is
    np.add.at's bit for bit. A negative index i reaches flat position i*k + j, which counts from
    the end to the same place as (i + rows)*k + j."""
    k = math.prod(shape[1:])
    out = np.zeros(shape[0] * k, dtype)
    flat = idx.reshape(-1).astype(np.intp, copy=False)
    g2 = np.asarray(g, dtype).reshape(flat.size, k)
    if k == 1:
        np.add.at(out, flat, g2.reshape(-1))
    elif k:
        cols, step = np.arange(k), builtins.max(_SCATTER_CHUNK // k, 1)
        for lo in range(0, flat.size, step):
            pos = (flat[lo:lo + step] * k)[:, None] + cols
            np.add.at(out, pos.reshape(-1), g2[lo:lo + step].reshape(-1))
    return out.reshape(shape)


# ================================================================ linear algebra

def matmul(a: Any, b: Any) -> Tensor:
    """Matrix product `a @ b` as `np.matmul`: 1-D operands are vectors, batch dimensions broadcast."""
    ad = _val(a, "matmul")
    bd = _val(b, "matmul")
    if np.ndim(ad) == 0 or np.ndim(bd) == 0:
        raise ValueError("matmul: both operands need at least one dimension (use * for scalars)")
    try:
        out = np.matmul(ad, bd)
    except ValueError:
        raise ValueError(f"matmul: shapes {np.shape(ad)} and {np.shape(bd)} do not match: the last "
                         f"axis of the first ({np.shape(ad)[-1]}) must equal the "
                         f"{'only' if np.ndim(bd) == 1 else 'second-to-last'} axis of the second "
                         f"({np.shape(bd)[-1 if np.ndim(bd) == 1 else -2]})") from None
    return record("matmul", _out(out), (a, b), (_matmul_a, _matmul_b), (a, b))


def _matmul_a(g: Any, ans: Any, a: Any, b: Any) -> Any:
    if b.ndim == 1:                        # (..., n) @ (n,) -> (...)
        return g.reshape(g.shape + (1,)) * b
    if a.ndim == 1:                        # (n,) @ (..., n, m) -> (..., m)
        return (b @ g.reshape(g.shape + (1,)))[..., 0]
    return g @ b.swapaxes(-1, -2)


def _matmul_b(g: Any, ans: Any, a: Any, b: Any) -> Any:
    if a.ndim == 1:
        if b.ndim == 1:                    # (n,) @ (n,) -> ()
            return g * a
        return a.reshape(a.shape + (1,)) * g.reshape(g.shape[:-1] + (1,) + g.shape[-1:])
    if b.ndim == 1:                        # (..., k, n) @ (n,) -> (..., k)
        return (a.swapaxes(-1, -2) @ g.reshape(g.shape + (1,)))[..., 0]
    return a.swapaxes(-1, -2) @ g


def _affine_rule(g: Any, ans: Any, need: list, x: Any, w: Any) -> tuple:
    if not need[0]:
        gx = None
    elif isinstance(g, Tensor) or isinstance(w, Tensor):
        gx = _times_transposed(g, w)
    else:
        gx = g @ w.T
    if not need[1]:
        gw = None
    elif x.ndim == 2:
        gw = x.T @ g
    else:
        gw = x.reshape(-1, x.shape[-1]).T @ g.reshape(-1, g.shape[-1])
    if len(need) == 2:
        return gx, gw
    if not need[2] or type(g) is not np.ndarray:
        return gx, gw, (g if need[2] else None)     # a Tensor's sum is the engine's (recorded)
    return gx, gw, _add_reduce(g if g.ndim == 2 else g.reshape(-1, g.shape[-1]), 0)


def _times_transposed(g: Any, w: Any) -> Tensor:
    """g @ w.T (g (..., out), w (in, out)) as one node, for affine's input gradient under
    create_graph. Its rule gives w's gradient as u^T g, in w's own layout: through a transpose
    node it would arrive as a transposed view, whose sum with w's gradient from other paths
    (a strided addition) costs several times a contiguous one."""
    def rule(u: Any, ans: Any, need: list, g: Any, w: Any) -> tuple:
        tensors = isinstance(u, Tensor) or isinstance(g, Tensor) or isinstance(w, Tensor)
        gg = gw = None
        if need[0]:
            gg = matmul(u, w) if tensors else u @ w
        if need[1]:
            if np.ndim(_data(u)) != 2:
                u, g = u.reshape(-1, u.shape[-1]), g.reshape(-1, g.shape[-1])
            gw = matmul(transpose(u), g) if tensors else u.T @ g
        return gg, gw
    return record("affine'", _out(_data(g) @ _data(w).T), (g, w), rule, (g, w))


def _fused(name: str, derivative: Any, second: Any) -> Any:
    """The rule of affine followed by an activation whose derivative is read from its output y.
    Under create_graph, g * derivative(y) is one recorded node (see `_act_grad`); otherwise it
    is computed in a scratch buffer that never leaves the rule (the bias gets its sum)."""
    def rule(g: Any, ans: Any, need: list, x: Any, w: Any) -> tuple:
        if type(g) is np.ndarray and type(ans) is np.ndarray and g.dtype == ans.dtype \
                and g.shape == ans.shape:
            t = into(g, ans, _scratch(ans.shape, ans.dtype, 0))
            return _affine_rule(t, None, need, x, w)      # t never leaves: the bias gets its sum
        if isinstance(g, Tensor) or isinstance(ans, Tensor):
            return _affine_rule(_act_grad(name, derivative, second, g, ans), None, need, x, w)
        return _affine_rule(g * derivative(ans), None, need, x, w)
    into = _ACT_INTO[name]
    return rule


def _scratch(shape: tuple, dtype: Any, slot: int) -> np.ndarray:
    """A scratch array of `shape`, private to this thread and to `slot`: a view into one buffer
    per (slot, dtype) as large as the largest asked for. Only a rule's temporaries live there
    (never an array it returns), so large backward passes stop mapping and unmapping memory.
    The views are kept by (slot, dtype, shape): a backward pass asks for the same ones again."""
    views = _SCRATCH.__dict__.get("views")
    view = None if views is None else views.get((slot, dtype, shape))
    return _new_scratch(shape, dtype, slot) if view is None else view


def _new_scratch(shape: tuple, dtype: Any, slot: int) -> np.ndarray:
    bufs = _SCRATCH.__dict__.setdefault("bufs", {})
    views = _SCRATCH.__dict__.setdefault("views", {})
    n = math.prod(shape)
    buf = bufs.get((slot, dtype))
    if buf is None or buf.size < n:
        buf = bufs[(slot, dtype)] = np.empty(n, dtype)
        for key in [k for k in views if k[:2] == (slot, dtype)]:    # views of the old buffer
            del views[key]
    if len(views) > 64:         # many shapes (varying batch sizes): start again
        views.clear()
    view = views[(slot, dtype, shape)] = buf[:n].reshape(shape)
    return view


_BOOL = np.dtype(bool)
_add_reduce = np.add.reduce


def _zero_one(value: int, dtype: np.dtype) -> np.ndarray:
    """0 or 1 as a read-only 0-d array of `dtype`, kept per dtype: the value NumPy converts the
    Python number to in `np.maximum(z, 0)` (it takes the array's dtype), without the conversion
    NumPy makes at every call (as long as the operation itself on a small array)."""
    key = (value, dtype)
    c = _ZERO_ONE.get(key)
    if c is None:
        c = np.array(value, dtype)
        c.setflags(write=False)
        c = _ZERO_ONE.setdefault(key, c)
    return c


_ZERO_ONE: dict = {}


# The `_into` rules and forwards below pass each ufunc its output array positionally (the
# third argument): NumPy parses an `out=` keyword on every call, ~35 ns each.

def _relu_into(g: np.ndarray, y: np.ndarray, t: np.ndarray) -> np.ndarray:
    mask = np.greater(y, _zero_one(0, y.dtype), _scratch(y.shape, _BOOL, 1))
    return np.multiply(g, mask, t)


def _tanh_into(g: np.ndarray, y: np.ndarray, t: np.ndarray) -> np.ndarray:
    np.multiply(y, y, t)
    np.subtract(_zero_one(1, t.dtype), t, t)
    return np.multiply(g, t, t)         # g * (1 - y * y), the same rounding as written so


def _sigmoid_into(g: np.ndarray, y: np.ndarray, t: np.ndarray) -> np.ndarray:
    np.subtract(_zero_one(1, t.dtype), y, t)
    np.multiply(y, t, t)
    return np.multiply(g, t, t)         # g * (y * (1 - y))


def _relu_forward(z: np.ndarray) -> np.ndarray:
    return np.maximum(z, _zero_one(0, z.dtype), out=z)     # (positional out is deprecated for maximum)


_SCRATCH = threading.local()
_ACT_INTO = {"relu": _relu_into, "tanh": _tanh_into, "sigmoid": _sigmoid_into}


def _act_grad(name: str, derivative: Any, second: Any, g: Any, y: Any) -> Tensor:
    """g * derivative(y) as one node (a differentiable backward records one node per layer for
    the activation instead of three). Its rule: u * derivative(y) for g, and u * g * second(y)
    for y, where second is the derivative of derivative(y) with respect to y (None: zero);
    with Tensors (a third derivative) the same formulas are recorded op by op."""
    gd, yd = _data(g), _data(y)

    def rule(u: Any, ans: Any, need: list, g: Any, y: Any) -> tuple:
        if not need[0]:
            gg = None
        elif isinstance(u, Tensor) or isinstance(y, Tensor):
            gg = _act_grad(name, derivative, second, u, y)       # the same form: one node again
        else:
            gg = u * derivative(y)
        gy = None
        if need[1] and second is None:
            gy = np.zeros(np.shape(_data(y)), _data(y).dtype)
        elif need[1] and isinstance(u, Tensor) and not isinstance(g, Tensor) and not isinstance(y, Tensor):
            gy = u * (g * second(y))                # only u is recorded: one node (see `engine.run`)
        elif need[1]:
            gy = u * g * second(y)
        return gg, gy
    return record(f"{name}'", _out(gd * derivative(yd)), (g, y), rule, (g, y))


def _data(x: Any) -> Any:
    return x._data if isinstance(x, Tensor) else x


_DERIVATIVES = {      # name: (its derivative from the output y, that derivative's derivative)
    "relu": (lambda y: _data(y) > 0, None),
    "tanh": (lambda y: 1 - y * y, lambda y: -2 * y),
    "sigmoid": (lambda y: y * (1 - y), lambda y: 1 - 2 * y),
}

_ACTIVATIONS = {      # activation: (node name, in-place forward on the affine output, rule)
    "relu": ("affine+relu", _relu_forward, _fused("relu", *_DERIVATIVES["relu"])),
    "tanh": ("affine+tanh", lambda z: np.tanh(z, out=z), _fused("tanh", *_DERIVATIVES["tanh"])),
    "sigmoid": ("affine+sigmoid", lambda z: _np_sigmoid(z), _fused("sigmoid", *_DERIVATIVES["sigmoid"])),
    None: ("affine", None, _affine_rule),
}


def affine(x: Any, weight: Any, bias: Any = None, activation: str | None = None) -> Tensor:
    """`activation(x @ weight + bias)` as one graph node: x (..., in), weight (in, out), bias
    (out,); `activation` is None, "relu", "tanh" or "sigmoid". The gradient of all inputs comes
    from one rule that applies the activation's derivative once."""
    xd = x._data if type(x) is Tensor else np.asarray(_val(x, "affine"))
    wd = weight._data if isinstance(weight, Tensor) else np.asarray(_val(weight, "affine"))
    if wd.ndim != 2 or xd.ndim == 0 or xd.shape[-1] != wd.shape[0]:
        if wd.ndim != 2:
            raise ValueError(f"affine: weight must be 2-D (in, out), got shape {wd.shape}")
        raise ValueError(f"affine: input of shape {xd.shape} does not fit weight of shape "
                         f"{wd.shape}: the input's last axis must have size {wd.shape[0]}")
    spec = _ACTIVATIONS.get(activation)
    if spec is None:
        raise ValueError(f"affine: activation must be None or one of "
                         f"{sorted(k for k in _ACTIVATIONS if k)}, got {activation!r}")
    out = xd @ wd
    if type(out) is not np.ndarray:
        out = np.asarray(out)
    if bias is not None:
        bd = bias._data if isinstance(bias, Tensor) else _val(bias, "affine")
        if type(bd) is not np.ndarray or bd.dtype is not out.dtype:     # (one dtype: the usual)
            if getattr(bd, "shape", ()) not in ((), (wd.shape[1],)):
                _bias_error(bd, wd)
            dt = _dtypes.result_dtype([out, bd], [out, bias])   # the dtype of `x @ weight + bias`
            if dt != out.dtype:
                out = out.astype(dt)
        elif bd.shape != out.shape[-1:] and bd.ndim:
            _bias_error(bd, wd)
        out += bd
    inputs = (x, weight) if bias is None else (x, weight, bias)
    name, forward, rule = spec
    if forward is None:
        return record(name, out, inputs, rule, (x, weight))
    return record(name, forward(out), inputs, rule, (x, weight), keep_ans=True)


def _bias_error(bd: Any, wd: np.ndarray) -> None:
    raise ValueError(f"affine: bias of shape {np.shape(bd)} does not fit weight of shape "
                     f"{wd.shape}: expected shape ({wd.shape[1]},)")


# ---------------------------------------------------------------- contractions (hvp, vhp)
# A gradient pass recorded for `functional.hvp` or `vhp` is only ever read through <g, v>, the
# inner products of the inputs' gradients g with directions v. Where a product's rule gives an
# input's gradient as a product (x^T d for a weight), the contraction is cheaper the other way
# round: <x^T d, V> = <d, x V>, and the final pass then needs no product with V at all.
# name -> rule(g, ans, need, dirs, *operands) -> (the other inputs' gradients, pairs) or None
# (not handled here: the rules run as usual); `dirs` {input index: direction array} are the
# inputs taken over, and the pairs (a, b) of Tensors or arrays the inner products <a, b> that
# stand for <that input's gradient, its direction>, summed.

def _affine_contraction(act: str | None) -> Callable:
    def contract(g: Any, ans: Any, need: list, dirs: dict, x: Any, w: Any) -> tuple:
        d = g if act is None else _act_grad(act, *_DERIVATIVES[act], g, ans)
        rest = [wanted and i not in dirs for i, wanted in enumerate(need)]
        grads = list(_affine_rule(d, None, rest, x, w))
        r = None
        if 1 in dirs:           # <x^T d, V> + <sum d, v_b> = <d, x V + v_b>
            r = affine(x, dirs[1], dirs.get(2))
        elif 2 in dirs:
            r = dirs[2]
        if 0 in dirs:           # <d w^T, V_x> = <d, V_x w>
            r = matmul(dirs[0], w) if r is None else add(r, matmul(dirs[0], w))
        return grads, [(d, r)]
    return contract


def _matmul_contraction(g: Any, ans: Any, need: list, dirs: dict, a: Any, b: Any) -> Any:
    """a @ b with batch dimensions: the direction of a broadcast operand is broadcast by the
    product itself, which is the adjoint of summing its gradient over the batch."""
    if np.ndim(_data(a)) < 2 or np.ndim(_data(b)) < 2:
        return None
    grads = [_matmul_a(g, ans, a, b) if need[0] and 0 not in dirs else None,
             _matmul_b(g, ans, a, b) if need[1] and 1 not in dirs else None]
    r = matmul(a, dirs[1]) if 1 in dirs else None
    if 0 in dirs:
        r = matmul(dirs[0], b) if r is None else add(r, matmul(dirs[0], b))
    return grads, [(g, r)]


CONTRACTIONS: dict[str, Callable] = {
    "affine": _affine_contraction(None), "matmul": _matmul_contraction,
    **{f"affine+{act}": _affine_contraction(act) for act in _DERIVATIVES},
}


def dot(a: Any, b: Any) -> Tensor:
    """NumPy's `dot`: products of scalars, matmul for 1-D and 2-D, a sum over the last and
    second-to-last axes for N-D."""
    ad, bd = _val(a, "dot"), _val(b, "dot")
    if np.ndim(ad) == 0 or np.ndim(bd) == 0:
        return multiply(a, b)
    if np.ndim(bd) <= 2:
        return matmul(a, b)
    na, nb = np.ndim(ad), np.ndim(bd)
    letters = string.ascii_letters
    sa = letters[:na - 1] + "Z"
    sb = letters[na - 1:na + nb - 3] + "Z" + letters[na + nb - 3]
    return einsum(f"{sa},{sb}->{sa[:-1]}{sb[:-2]}{sb[-1]}", a, b)


def _parse_einsum(subscripts: str, ndims: list) -> tuple[list, str]:
    """Split einsum subscripts into per-operand strings and an explicit output string."""
    subscripts = subscripts.replace(" ", "")
    if "->" in subscripts:
        ins, out = subscripts.split("->")
        ins = ins.split(",")
    else:
        ins = subscripts.split(",")
        letters = "".join(s.replace("...", "") for s in ins)
        out = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
        if any("..." in s for s in ins):
            out = "..." + out
    if len(ins) != len(ndims):
        raise ValueError(f"einsum: subscripts name {len(ins)} operands but {len(ndims)} were given")
    return ins, out


def einsum(subscripts: str, *operands: Any) -> Tensor:
    """Einstein summation as `np.einsum`, differentiable in every operand."""
    arrays = [np.asarray(_val(o, "einsum")) for o in operands]
    try:
        out = np.einsum(subscripts, *arrays)
    except ValueError as err:
        raise ValueError(f"einsum('{subscripts}'): operands of shapes "
                         f"{[a.shape for a in arrays]} do not fit ({err})") from None
    ins, outs = _parse_einsum(subscripts, [a.ndim for a in arrays])
    sizes: dict = {}
    for s, a in zip(ins, arrays):
        for c, n in zip(s.replace("...", ""), _explicit_dims(s, a.shape)):
            if sizes.get(c, 1) == 1:        # a size-1 axis broadcasts; 0 is a real size
                sizes[c] = n
    vjps = tuple(_einsum_vjp(i, ins, outs, sizes, a.shape) for i, a in enumerate(arrays))
    return record("einsum", _out(out), tuple(operands), vjps, tuple(operands),
                  attrs={"subscripts": subscripts})


def _explicit_dims(s: str, shape: tuple) -> tuple:
    """The sizes of the explicit (non-ellipsis) letters of subscript `s` for an operand of `shape`."""
    if "..." not in s:
        return shape
    pre, post = s.split("...")
    return shape[:len(pre)] + (shape[len(shape) - len(post):] if post else ())


def _einsum_vjp(i: int, ins: list, outs: str, sizes: dict, shape: tuple) -> Any:
    target = ins[i]
    others = [s for j, s in enumerate(ins) if j != i]
    has_ellipsis = "..." in target
    explicit = target.replace("...", "")
    uniq = "".join(dict.fromkeys(explicit))
    avail = set(outs + "".join(others))
    present = "".join(c for c in uniq if c in avail)
    missing = [c for c in uniq if c not in avail]
    repeated = len(uniq) < len(explicit)
    out_ell = "..." in outs or any("..." in s for s in others)
    # the gradient einsum: letters of this operand that occur elsewhere, ellipsis in front
    lead = "..." if (has_ellipsis or out_ell) else ""
    spec = ",".join([outs] + others) + "->" + lead + present

    def vjp(g: Any, ans: Any, *ops: Any) -> Any:
        rest = [o for j, o in enumerate(ops) if j != i]
        r = np.einsum(spec, g, *rest)
        if missing or repeated or (has_ellipsis and target.index("...") != 0):
            r = _einsum_place(r, lead, present, uniq, target, missing, sizes)
        return _fit(r, shape)
    return vjp


def _fit(r: Any, shape: tuple) -> Any:
    """The gradient `r` of an einsum operand of `shape`: broadcast dimensions the operand lacks
    (leading) or has as size 1 are summed; an axis of size 1 in `r` that the operand has in full
    (it met size 1 in another operand) carries the same gradient along it."""
    if r.ndim > len(shape):
        r = r.sum(axis=tuple(range(r.ndim - len(shape))))
    summed = tuple(a for a, (n, m) in enumerate(zip(r.shape, shape)) if m == 1 and n != 1)
    if summed:
        r = r.sum(axis=summed, keepdims=True)
    if r.shape != shape:
        r = np.broadcast_to(r, shape)
    return r


def _einsum_place(r: Any, lead: str, present: str, uniq: str, target: str, missing: list,
                  sizes: dict) -> Any:
    """Broadcast letters summed only in this operand, put repeated letters on the diagonal,
    and move the ellipsis to where the operand has it."""
    nlead = r.ndim - len(present)
    # broadcast the letters that occur only in this operand
    for c in missing:
        r = np.expand_dims(r, -1)
        r = np.broadcast_to(r, r.shape[:-1] + (sizes[c],))
    order = present + "".join(missing)
    free = [c for c in string.ascii_letters if c not in target and c not in order]
    ell = "".join(free.pop() for _ in range(nlead))
    # output letters: the target with the ellipsis spelled out and repeats renamed
    out_letters = []
    eyes = []
    seen: set = set()
    for c in target.replace("...", "\0"):
        if c == "\0":
            out_letters.append(ell)
        elif c in seen:
            fresh = free.pop()
            out_letters.append(fresh)
            eyes.append(c + fresh)
        else:
            seen.add(c)
            out_letters.append(c)
    if "..." not in target and nlead:
        out_letters.insert(0, ell)
    mats = [np.eye(sizes[e[0]], dtype=r.dtype) for e in eyes]
    spec = ",".join([ell + order] + eyes) + "->" + "".join(out_letters)
    return np.einsum(spec, r, *mats)


# ================================================================ PyTorch's keyword names

# dim, keepdim and correction accepted beside axis, keepdims and ddof (see keywords.py); the
# wrapped function is the one `ag` exports and the Tensor method. (split is not wrapped: its
# sections argument means something else in PyTorch, see docs/pytorch.md.)
(sum, mean, max, min, logsumexp, var, std, argmax, argmin,  # noqa: A001
 softmax, log_softmax, expand_dims, squeeze, concatenate, stack) = map(torch_keywords, (
    sum, mean, max, min, logsumexp, var, std, argmax, argmin,
    softmax, log_softmax, expand_dims, squeeze, concatenate, stack))


# ================================================================ Tensor methods and NumPy protocols

def _reflected(fn: Any) -> Any:
    def method(self: Tensor, other: Any) -> Tensor:
        return fn(other, self)
    return method


def _reshape_method(self: Tensor, *shape: Any) -> Tensor:
    """The same values in a new shape: `t.reshape(2, 3)` or `t.reshape((2, 3))`; one size may be -1."""
    if len(shape) == 1 and not isinstance(shape[0], (int, np.integer)):
        shape = shape[0]
    return reshape(self, tuple(shape) if not isinstance(shape, int) else shape)


def _transpose_method(self: Tensor, *axes: Any) -> Tensor:
    """NumPy's transpose: axes reversed, or permuted as given (`t.transpose(1, 0, 2)` or
    `t.transpose((1, 0, 2))`). To swap two axes, as PyTorch's transpose(d0, d1): `t.swapaxes(d0, d1)`."""
    if len(axes) == 1 and (axes[0] is None or not isinstance(axes[0], (int, np.integer))):
        axes = axes[0]
    elif len(axes) == 2 and all(isinstance(a, (int, np.integer)) for a in axes):   # torch's habit?
        d0, d1 = axes
        if self.ndim != 2:
            raise ValueError(f"transpose: ({d0}, {d1}) is not a permutation of the {self.ndim} axes "
                             f"of a tensor of shape {self.shape}; to swap two axes, as PyTorch's "
                             f"transpose({d0}, {d1}), write t.swapaxes({d0}, {d1})")
        if (d0 % 2, d1 % 2) == (0, 1):
            warnings.warn(f"t.transpose({d0}, {d1}) of a 2-d tensor is NumPy's identity permutation: "
                          f"it changes nothing (PyTorch's transpose({d0}, {d1}) swaps the axes: "
                          f"write t.swapaxes({d0}, {d1}) or t.T for that)", stacklevel=2)
    return transpose(self, axes if axes != () else None)


def _no_setitem(self: Tensor, key: Any, value: Any) -> None:
    raise TypeError("tensors do not support item assignment, which would not be recorded for "
                    "backward; build the value with ag.where(mask, new, t) or ag.concatenate, "
                    "or write into t.data outside of any graph")


def _in_place(name: str, ufunc: Any, functional: Any) -> Any:
    """`t op= v`. A leaf with nothing to record (grad mode off, e.g. a manual parameter update,
    or neither operand requiring grad) is updated in place, through `.data`, so an array a graph
    saved is refused; a leaf that requires grad is refused while grad mode is on (as PyTorch);
    otherwise (an operation's output, or a gradient to record) `t = t op v`, recorded."""
    def method(self: Tensor, other: Any) -> Tensor:
        if self._node is None:
            if not STATE.enabled or not (self.requires_grad or _needs(other)):
                ufunc(self.data, _val(other, name), out=self.data)
                return self
            if self.requires_grad:
                raise RuntimeError(
                    f"a leaf tensor that requires grad cannot be changed in place ({name}) while "
                    f"grad mode is on: update it under `with ag.no_grad():`, or write t = t {name[:-1]} v")
        return functional(self, other)
    return method


_METHODS = {
    "__iadd__": _in_place("+=", np.add, add), "__isub__": _in_place("-=", np.subtract, subtract),
    "__imul__": _in_place("*=", np.multiply, multiply),
    "__itruediv__": _in_place("/=", np.true_divide, divide),
    "__add__": add, "__radd__": _reflected(add), "__sub__": subtract,
    "__rsub__": _reflected(subtract), "__mul__": multiply, "__rmul__": _reflected(multiply),
    "__truediv__": divide, "__rtruediv__": _reflected(divide), "__pow__": power,
    "__floordiv__": floor_divide, "__rfloordiv__": _reflected(floor_divide),
    "__mod__": remainder, "__rmod__": _reflected(remainder),
    "__rpow__": _reflected(power), "__matmul__": matmul, "__rmatmul__": _reflected(matmul),
    "__neg__": negative, "__abs__": abs, "__lt__": less, "__le__": less_equal,
    "__gt__": greater, "__ge__": greater_equal, "__eq__": equal, "__ne__": not_equal,
    "__and__": _compare("bitwise_and", np.bitwise_and),     # NumPy's: logical on bools,
    "__or__": _compare("bitwise_or", np.bitwise_or),        # bitwise on integers
    "__invert__": lambda self: _new(_out(np.invert(self._data))),
    "__getitem__": getitem, "__setitem__": _no_setitem,
    "reshape": _reshape_method, "transpose": _transpose_method,
}
# a method is the function itself (t.exp() is exp(t)): help() and inspect.signature show its
# parameters and docstring
for _fn in (exp, log, sqrt, sin, cos, tanh, sigmoid, relu, softplus, leaky_relu, clip, abs,
            log10, log2, std, sum, mean, max, min, logsumexp, var, argmax, argmin, softmax, log_softmax,
            swapaxes, expand_dims, squeeze, flatten, broadcast_to, matmul, dot, astype, affine,
            maximum, minimum, split):
    _METHODS.setdefault(_fn.__name__, _fn)
for _name, _fn in _METHODS.items():
    setattr(Tensor, _name, _fn)
Tensor.T = property(lambda self: transpose(self), doc="The transpose (axes reversed).")
Tensor.__pos__ = lambda self: self

_UFUNCS = {
    np.add: add, np.subtract: subtract, np.multiply: multiply, np.true_divide: divide,
    np.power: power, np.floor_divide: floor_divide, np.remainder: remainder,
    np.negative: negative, np.matmul: matmul, np.absolute: abs,
    np.exp: exp, np.log: log, np.sqrt: sqrt, np.sin: sin, np.cos: cos, np.tanh: tanh,
    np.log10: log10, np.log2: log2,
    np.maximum: maximum, np.minimum: minimum, np.sign: sign, np.less: less,
    np.less_equal: less_equal, np.greater: greater, np.greater_equal: greater_equal,
    np.equal: equal, np.not_equal: not_equal, np.logical_and: logical_and,
    np.logical_or: logical_or, np.logical_not: logical_not,
}

_FUNCTIONS = {
    np.sum: sum, np.mean: mean, np.max: max, np.min: min, np.amax: max, np.amin: min,
    np.var: var, np.std: std, np.argmax: argmax, np.argmin: argmin, np.reshape: reshape,
    np.transpose: transpose, np.swapaxes: swapaxes, np.expand_dims: expand_dims,
    np.squeeze: squeeze, np.broadcast_to: broadcast_to, np.concatenate: concatenate,
    np.stack: stack, np.split: split, np.where: where, np.dot: dot, np.einsum: einsum,
    np.clip: clip, np.abs: abs,
}


def _plain(x: Any, written: bool = False) -> Any:
    """The arrays behind Tensors (in lists and tuples too); `written`: as `.data` gives them."""
    if isinstance(x, Tensor):
        return x.data if written else x._data
    if isinstance(x, (list, tuple)):
        return type(x)(_plain(v, written) for v in x)
    return x


def _refuse_untracked(name: str, args: Any) -> None:
    if STATE.enabled and any(isinstance(a, Tensor) and a.requires_grad for a in _flat(args)):
        raise TypeError(
            f"numpy.{name} is not differentiable by chainrule; use the ag function of that name "
            f"if there is one, or apply it to t.detach() or t.data to work on the plain values")


def _flat(args: Any) -> list:
    out = []
    for a in args:
        if isinstance(a, (list, tuple)):
            out.extend(_flat(a))
        else:
            out.append(a)
    return out


_METADATA = {np.shape, np.ndim, np.size, np.result_type, np.iscomplexobj, np.isrealobj}


def _array_ufunc(self: Tensor, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
    fn = _UFUNCS.get(ufunc)
    if fn is not None and method == "__call__" and not kwargs:
        return fn(*inputs)
    if method == "__call__" and not kwargs and ufunc.types and all(t.endswith("?") for t in ufunc.types):
        return _new(_out(ufunc(*_plain(inputs))))        # a test (isnan, isfinite, ...): no gradient
    _refuse_untracked(ufunc.__name__, inputs)
    # a Tensor given as `out` is written through `.data`: refused for an operation's output and
    # for an array a graph saved (read-only), as any other write
    kwargs = {k: _plain(v, written=k == "out") for k, v in kwargs.items()}
    return getattr(ufunc, method)(*_plain(inputs), **kwargs)


def _array_function(self: Tensor, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
    if func in _METADATA:
        return func(*_plain(args), **kwargs)
    fn = _FUNCTIONS.get(func)
    if fn is not None:
        try:
            return fn(*args, **kwargs)
        except TypeError:   # a NumPy-only argument: plain values below, unless a gradient is needed
            if not kwargs and any(isinstance(a, Tensor) and a.requires_grad for a in _flat(args)):
                raise
    _refuse_untracked(func.__name__, list(args) + list(kwargs.values()))
    return func(*_plain(args), **{k: _plain(v) for k, v in kwargs.items()})


Tensor.__array_ufunc__ = _array_ufunc
Tensor.__array_function__ = _array_function
