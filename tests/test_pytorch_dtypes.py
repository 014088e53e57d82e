"""The dtype rule of docs/pytorch.md, walked across operations.

The expected dtype is written out here, independently of autograd/dtypes.py, and must hold
under NumPy 2 and NumPy 1.24 alike (CI runs both).
"""

import warnings

import numpy as np
import pytest

import autograd as ag

F16, F32, F64 = np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64)
I32, I64, BOOL = np.dtype(np.int32), np.dtype(np.int64), np.dtype(bool)

TENSOR_DTYPES = [F16, F32, F64, I32, I64, BOOL]
# numbers: each acts as a Python number of its category
NUMBERS = {
    "python float": 1.5, "python int": 2, "python bool": True,
    "np.float64": np.float64(1.5), "np.float32": np.float32(1.5), "np.float16": np.float16(1.5),
    "np.int64": np.int64(2), "np.int8": np.int8(2), "np.bool_": np.bool_(True),
    "0-d float64 array": np.array(1.5), "0-d int64 array": np.array(2),
    "0-d float32 array": np.array(1.5, np.float32),
}
CATEGORY = {"b": 0, "i": 1, "u": 1, "f": 2, "c": 3}


def with_number(t, n):
    """The rule for a tensor of dtype t with a number n (docs/pytorch.md)."""
    kind = CATEGORY[np.asarray(n).dtype.kind]
    if kind <= CATEGORY[t.kind]:
        return t
    return I64 if kind == 1 else ag.get_default_dtype()


def with_zero_d_tensor(t, d):
    """A tensor with dimensions of dtype t and a 0-d Tensor of dtype d (PyTorch's rule)."""
    if CATEGORY[d.kind] <= CATEGORY[t.kind]:
        return t
    return d if CATEGORY[t.kind] <= 1 else np.result_type(t, d)


def tensor_of(dtype, shape=(3,)):
    values = np.array([1, 2, 3][:int(np.prod(shape))] if shape else 2).reshape(shape)
    return ag.tensor(values.astype(dtype))


def true_divided(t, expected):
    """`/` of integers and bools gives the default float dtype (NumPy would give float64)."""
    return ag.get_default_dtype() if expected.kind in "biu" else expected


ARITHMETIC = {      # name: (function of two operands, the dtype it gives from the promoted dtype)
    "add": (lambda a, b: a + b, lambda d: d),
    "subtract": (lambda a, b: a - b, lambda d: d),
    "multiply": (lambda a, b: a * b, lambda d: d),
    "divide": (lambda a, b: a / b, lambda d: true_divided(None, d)),
    "power": (lambda a, b: a ** b, lambda d: d),
    "floor_divide": (lambda a, b: a // b, lambda d: d),
    "remainder": (lambda a, b: a % b, lambda d: d),
    "maximum": (ag.maximum, lambda d: d),
    "minimum": (ag.minimum, lambda d: d),
    "np.add": (np.add, lambda d: d),
    "np.multiply": (np.multiply, lambda d: d),
    "np.true_divide": (np.true_divide, lambda d: true_divided(None, d)),
    "np.maximum": (np.maximum, lambda d: d),
    "where": (lambda a, b: ag.where(ag.tensor([True, False, True]), a, b), lambda d: d),
    "np.where": (lambda a, b: np.where(ag.tensor([True, False, True]), a, b), lambda d: d),
}
# bool with bool: NumPy's loops decide (- refuses, ** // % compute in int8), not promotion
NO_BOOL_LOOP = {"subtract", "power", "floor_divide", "remainder"}


def _cases():
    for op in ARITHMETIC:
        for t in TENSOR_DTYPES:
            for label in NUMBERS:
                yield op, t, label


@pytest.mark.parametrize("op,t,label", list(_cases()))
def test_a_number_acts_as_a_python_number_both_ways(op, t, label):
    fn, result = ARITHMETIC[op]
    n = NUMBERS[label]
    expected = result(with_number(t, n))
    if op in NO_BOOL_LOOP and expected == BOOL:
        return
    x = tensor_of(t)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)        # float16 ** 2 and the like
        for y in (fn(x, n), fn(n, x)):                          # the reflected form too
            assert isinstance(y, ag.Tensor)
            assert y.dtype == expected, (op, t, label, y.dtype)


def test_the_issues_lines_stay_float32():
    w = ag.randn(30, 200) * (5 / 3) / np.sqrt(30)
    assert w.dtype == F32
    h = ag.tanh(ag.randn(4, 200))
    assert ((h.abs() > 0.97) * 1.0).dtype == F32
    assert (h.abs() > 0.97).mean().dtype == F32
    assert (ag.tensor([True, False]) * 1.0).dtype == F32
    assert (ag.randn(3) * np.float64(2)).dtype == F32
    assert (np.float64(2) * ag.randn(3)).dtype == F32


@pytest.mark.parametrize("t", [F16, F32, F64, I32, I64])
@pytest.mark.parametrize("d", [F32, F64, I64, BOOL])
def test_a_zero_d_tensor_follows_pytorch(t, d):
    x, s = tensor_of(t), ag.tensor(np.array(2, d))
    expected = with_zero_d_tensor(t, d)
    for y in (x * s, s * x, x + s, ag.maximum(x, s), ag.where(x > 1, x, s)):
        assert y.dtype == expected, (t, d, y.dtype)


def test_dimensioned_operands_promote_as_numpy():
    x32, x64 = tensor_of(F32), tensor_of(F64)
    assert (x32 * x64).dtype == F64
    assert (x32 * np.ones(3)).dtype == F64
    assert (tensor_of(BOOL) * x32).dtype == F32
    assert (x32 * ag.tensor(np.ones((1, 3), np.float16))).dtype == F32


def test_a_zero_d_tensor_with_a_number():
    loss = ag.tensor(np.float32(2.0))
    assert (loss * np.float64(3)).dtype == F32
    assert (loss * np.array(3.0)).dtype == F32
    assert (ag.tensor(np.float32(1)) + ag.tensor(np.float64(1))).dtype == F64   # both 0-d: NumPy


def test_numbers_alone_follow_the_default_dtype():
    assert ag.add(2.0, 3.0).dtype == F32
    assert ag.where(ag.tensor([True, False]), 1.0, 0.0).dtype == F32
    assert ag.add(np.float64(2), 3.0).dtype == F64      # a NumPy scalar keeps its own dtype


def test_in_place_operators_keep_the_tensor_dtype():
    x = ag.tensor([1.0, 2.0])
    with ag.no_grad():
        x += np.float64(1)
        x *= np.array(2.0)
    assert x.dtype == F32 and x.tolist() == [4.0, 6.0]
    y = ag.tensor([1.0, 2.0], requires_grad=True) * 1.0        # not a leaf: recorded, t = t * v
    y *= np.float64(2)
    assert y.dtype == F32
    i = ag.tensor([1, 2])
    with pytest.raises(TypeError):                               # NumPy: float into int refused
        i *= 0.5


def test_clip_and_leaky_relu_with_numpy_bounds():
    x = ag.tensor([-1.0, 0.5, 2.0])
    assert ag.clip(x, np.float64(0), np.float64(1)).dtype == F32
    assert ag.clip(x, 0, np.array(1.0)).dtype == F32
    assert ag.leaky_relu(x, np.float64(0.1)).dtype == F32
    assert ag.clip(tensor_of(I64), 0.5, 2.5).dtype == F32


@pytest.mark.parametrize("reduce", ["mean", "var", "std"])
@pytest.mark.parametrize("dtype", [BOOL, I32, I64])
def test_float_reductions_of_integers_and_bools_give_the_default_dtype(reduce, dtype):
    x = ag.tensor(np.array([[1, 0, 1], [1, 1, 0]]).astype(dtype))
    for kwargs in ({}, {"axis": 0}, {"axis": 1, "keepdims": True}):
        y = getattr(x, reduce)(**kwargs)
        assert y.dtype == ag.get_default_dtype()
        expected = getattr(np, reduce)(np.asarray(x.data, np.float64), **kwargs)
        np.testing.assert_allclose(y.data, expected, rtol=1e-6)
    assert x.sum().dtype.kind == "i"            # sums stay integers


@pytest.mark.parametrize("fn", [ag.exp, ag.log, ag.sqrt, ag.sin, ag.cos, ag.tanh, ag.log10, ag.log2])
def test_float_functions_of_integers_give_the_default_dtype(fn):
    assert fn(tensor_of(I64)).dtype == F32
    assert fn(tensor_of(BOOL)).dtype == F32
    assert fn(tensor_of(F64)).dtype == F64


def test_the_rule_follows_the_default_dtype():
    ag.set_default_dtype(np.float64)
    try:
        assert (tensor_of(I64) * 0.5).dtype == F64
        assert tensor_of(BOOL).mean().dtype == F64
        assert (tensor_of(F32) * np.float64(2)).dtype == F32
    finally:
        ag.set_default_dtype(np.float32)


def test_comparisons_are_exact():
    big = ag.tensor([16777217])                  # not a float32
    assert (big > 16777216.0).tolist() == [True]
    assert (ag.tensor([0.1], dtype=np.float64) == np.float64(0.1)).tolist() == [True]


def test_gradients_keep_each_operands_dtype():
    x = ag.tensor(np.ones(3, np.float32), requires_grad=True)
    s = ag.tensor(np.float64(2.0), requires_grad=True)
    y = (x * s * np.float64(3)).sum()
    assert y.dtype == F32
    y.backward()
    assert x.grad.dtype == F32 and s.grad.dtype == F64
    np.testing.assert_allclose(x.grad.data, 6.0)
    np.testing.assert_allclose(s.grad.data, 9.0)
    x64 = ag.tensor(np.array([0.3, -1.2]), requires_grad=True)
    assert ag.gradcheck(lambda t: t * np.float32(1.7) + np.array(0.5) / (t * t + 1), (x64,))
