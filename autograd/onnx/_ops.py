"""The mapping from each recorded operation to ONNX operators (opset 18).

Each converter takes the Builder (positioned on one record) and returns the name of the ONNX
value that holds the operation's output. `CONVERTERS` is the table; an operation missing from
it cannot be exported.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ._builder import Builder, onnx_type
from ._index import convert_getitem

Converter = Callable[[Builder], str]


def _rec(b: Builder) -> Any:
    assert b.record is not None
    return b.record


def _elementwise(op: str) -> Converter:
    """An ONNX elementwise operator on every operand, each cast to the output's dtype."""
    def convert(b: Builder) -> str:
        r = _rec(b)
        return b.add(op, [b.operand(i, r.out.dtype) for i in range(len(r.inputs))])
    return convert


def _unary(op: str, **attrs: Any) -> Converter:
    def convert(b: Builder) -> str:
        r = _rec(b)
        return b.add(op, [b.operand(0, r.out.dtype)], **attrs)
    return convert


def _leaky_relu(b: Builder) -> str:
    return b.add("LeakyRelu", [b.operand(0, _rec(b).out.dtype)],
                 alpha=float(_rec(b).attrs["negative_slope"]))


def _power(b: Builder) -> str:
    dtype = _rec(b).out.dtype
    return b.add("Pow", [b.operand(0, dtype), b.operand(1, dtype)])


def _clip(b: Builder) -> str:
    r = _rec(b)
    dtype = r.out.dtype
    out = b.operand(0, dtype)
    if r.inputs[1] is not None:
        out = b.add("Max", [out, b.operand(1, dtype)], base=f"{r.name}_lo")
    if r.inputs[2] is not None:
        out = b.add("Min", [out, b.operand(2, dtype)])
    return out


def _where(b: Builder) -> str:
    r = _rec(b)
    cond = r.attrs["cond"]
    twin = b.twin_record()
    b.check_constant(cond, None if twin is None else twin.attrs["cond"], "its condition")
    return b.add("Where", [b.const(np.asarray(cond, bool), f"{r.name}_cond"),
                           b.operand(1, r.out.dtype), b.operand(2, r.out.dtype)])


def _astype(b: Builder) -> str:
    return b.add("Cast", [b.operand(0)], to=onnx_type(_rec(b).out.dtype))


# ---------------------------------------------------------------- reductions

_REDUCE = {"sum": "ReduceSum", "mean": "ReduceMean", "max": "ReduceMax", "min": "ReduceMin",
           "logsumexp": "ReduceLogSumExp"}


def _reduce(b: Builder, op: str, x: str, axes: Any, keepdims: bool, base: str | None = None) -> str:
    if axes is not None and len(axes) == 0:         # axis=(): nothing is reduced
        return b.add("Identity", [x], base=base)
    inputs = [x] if axes is None else [x, b.ints(axes, "axes")]
    return b.add(op, inputs, base=base, keepdims=int(bool(keepdims)))


def _reduction(b: Builder) -> str:
    r = _rec(b)
    x = b.operand(0, r.out.dtype if r.name in ("logsumexp", "mean") else None)
    return _reduce(b, _REDUCE[r.name], x, r.attrs["axis"], r.attrs["keepdims"])


def _log_base(base: float) -> Converter:
    """log10, log2: the natural logarithm divided by ln(base)."""
    def convert(b: Builder) -> str:
        r = _rec(b)
        ln = b.add("Log", [b.operand(0, r.out.dtype)], base=f"{r.name}_ln")
        return b.add("Div", [ln, b.const(np.asarray(np.log(base), r.out.dtype))])
    return convert


def _std(b: Builder) -> str:
    return b.add("Sqrt", [_var(b, "_var")])


def _var(b: Builder, suffix: str = "") -> str:
    r = _rec(b)
    x = b.operand(0, r.out.dtype)
    axes, keepdims, ddof = r.attrs["axis"], r.attrs["keepdims"], r.attrs["ddof"]
    mean = _reduce(b, "ReduceMean", x, axes, True, base=f"{r.name}_mean")
    centred = b.add("Sub", [x, mean], base=f"{r.name}_centred")
    square = b.add("Mul", [centred, centred], base=f"{r.name}_square")
    if not ddof:
        return _reduce(b, "ReduceMean", square, axes, keepdims, base=f"{r.name}{suffix}" if suffix else None)
    n = r.inputs[0].size // max(r.out.size, 1)
    twin = b.twin_record()
    if twin is not None and twin.inputs[0].size // max(twin.out.size, 1) != n:
        raise b.error("var with ddof != 0 over the batch axis has no fixed divisor",
                      "Export with dynamic_batch=False")
    avg = _reduce(b, "ReduceMean", square, axes, keepdims, base=f"{r.name}_biased")
    return b.add("Mul", [avg, b.const(np.asarray(n / (n - ddof), r.out.dtype))],
                 base=f"{r.name}{suffix}" if suffix else None)


def _softmax(op: str) -> Converter:
    """Softmax / LogSoftmax along one axis; over several axes, written out from reductions."""
    def convert(b: Builder) -> str:
        r = _rec(b)
        x = b.operand(0, r.out.dtype)
        axis = r.attrs["axis"]
        axes = [int(axis)] if isinstance(axis, (int, np.integer)) else [int(a) for a in axis]
        if len(axes) == 1:
            return b.add(op, [x], axis=axes[0])
        top = _reduce(b, "ReduceMax", x, axes, True, base=f"{r.name}_max")
        shifted = b.add("Sub", [x, top], base=f"{r.name}_shifted")
        e = b.add("Exp", [shifted], base=f"{r.name}_exp")
        total = _reduce(b, "ReduceSum", e, axes, True, base=f"{r.name}_sum")
        if op == "Softmax":
            return b.add("Div", [e, total])
        return b.add("Sub", [shifted, b.add("Log", [total], base=f"{r.name}_log")])
    return convert


# ---------------------------------------------------------------- shape

def _reshape(b: Builder) -> str:
    r = _rec(b)
    return b.add("Reshape", [b.operand(0), b.shape_const(r.out.shape, b.out_dynamic())])


def _transpose(b: Builder) -> str:
    return b.add("Transpose", [b.operand(0)], perm=[int(a) for a in _rec(b).attrs["axes"]])


def _swapaxes(b: Builder) -> str:
    r = _rec(b)
    n = r.out.ndim
    perm = list(range(n))
    i, j = int(r.attrs["axis1"]) % n, int(r.attrs["axis2"]) % n
    perm[i], perm[j] = perm[j], perm[i]
    return b.add("Transpose", [b.operand(0)], perm=perm)


def _broadcast_to(b: Builder) -> str:
    r = _rec(b)
    return b.add("Expand", [b.operand(0), b.shape_const(r.out.shape, b.out_dynamic(), fill=1)])


def _concatenate(b: Builder) -> str:
    r = _rec(b)
    return b.add("Concat", [b.operand(i, r.out.dtype) for i in range(len(r.inputs))],
                 axis=int(r.attrs["axis"]))


def _stack(b: Builder) -> str:
    r = _rec(b)
    axis = int(r.attrs["axis"])
    parts = [b.add("Unsqueeze", [b.operand(i, r.out.dtype), b.ints([axis], "axis")], base=f"{r.name}_part")
             for i in range(len(r.inputs))]
    return b.add("Concat", parts, axis=axis)


# ---------------------------------------------------------------- linear algebra

def _matmul(b: Builder) -> str:
    dtype = _rec(b).out.dtype
    return b.add("MatMul", [b.operand(0, dtype), b.operand(1, dtype)])


_ACTIVATION = {"relu": "Relu", "tanh": "Tanh", "sigmoid": "Sigmoid"}


def _affine(b: Builder) -> str:
    """affine and affine+relu/tanh/sigmoid: MatMul, Add (bias), the activation."""
    r = _rec(b)
    dtype = r.out.dtype
    activation = r.name.partition("+")[2]
    out = b.add("MatMul", [b.operand(0, dtype), b.operand(1, dtype)], base=f"{r.name}_matmul")
    if len(r.inputs) == 3 and r.inputs[2] is not None:
        out = b.add("Add", [out, b.operand(2, dtype)], base=f"{r.name}_add" if activation else None)
    return b.add(_ACTIVATION[activation], [out]) if activation else out


def _einsum(b: Builder) -> str:
    r = _rec(b)
    return b.add("Einsum", [b.operand(i, r.out.dtype) for i in range(len(r.inputs))],
                 equation=str(r.attrs["subscripts"]).replace(" ", ""))


CONVERTERS: dict[str, Converter] = {
    "add": _elementwise("Add"), "subtract": _elementwise("Sub"),
    "multiply": _elementwise("Mul"), "divide": _elementwise("Div"), "power": _power,
    "maximum": _elementwise("Max"), "minimum": _elementwise("Min"),
    "negative": _unary("Neg"), "abs": _unary("Abs"), "exp": _unary("Exp"), "log": _unary("Log"),
    "sqrt": _unary("Sqrt"), "sin": _unary("Sin"), "cos": _unary("Cos"), "tanh": _unary("Tanh"),
    "sign": _unary("Sign"),
    "sigmoid": _unary("Sigmoid"), "relu": _unary("Relu"), "softplus": _unary("Softplus"),
    "leaky_relu": _leaky_relu, "clip": _clip, "where": _where, "astype": _astype,
    "sum": _reduction, "mean": _reduction, "max": _reduction, "min": _reduction,
    "logsumexp": _reduction, "var": _var, "std": _std,
    "log10": _log_base(10.0), "log2": _log_base(2.0), "clone": _unary("Identity"),
    "softmax": _softmax("Softmax"), "log_softmax": _softmax("LogSoftmax"),
    "reshape": _reshape, "expand_dims": _reshape, "squeeze": _reshape, "flatten": _reshape,
    "transpose": _transpose, "swapaxes": _swapaxes, "broadcast_to": _broadcast_to,
    "concatenate": _concatenate, "stack": _stack,
    "matmul": _matmul, "affine": _affine, "affine+relu": _affine, "affine+tanh": _affine,
    "affine+sigmoid": _affine, "einsum": _einsum, "getitem": convert_getitem,
}
