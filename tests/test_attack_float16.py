"""float16 std over more elements than float16 can count: it used to be inf, its gradient 0."""

import numpy as np
import pytest

import autograd as ag


@pytest.mark.parametrize("axis, ddof", [(None, 0), (None, 1), (0, 0), (1, 1)])
def test_float16_std_of_many_elements(axis, ddof):
    a = np.tile(np.array([[1, 3, 2, 5], [3, 1, 4, -1]], np.float16), (20_000, 1))   # (40000, 4)
    if axis == 1:
        a = a.T.copy()                                                   # (4, 40000)
    x = ag.tensor(a, requires_grad=True)
    s = x.std(axis=axis, ddof=ddof)
    wide = a.astype(np.float64)
    expected = wide.std(axis=axis, ddof=ddof)
    assert s.dtype == np.float16
    assert np.allclose(s.numpy().astype(np.float64), expected, rtol=1e-3)
    s.sum().backward()
    n = a.size if axis is None else a.shape[axis]
    centred = wide - wide.mean(axis=axis, keepdims=True)
    grad = centred / ((n - ddof) * np.expand_dims(expected, axis) if axis is not None
                      else (n - ddof) * expected)
    assert x.grad.dtype == np.float16
    # the gradients are float16 subnormals, in steps of 6e-8
    assert np.allclose(x.grad.numpy().astype(np.float64), grad, rtol=1e-2, atol=1e-7)


def test_float16_std_matches_var():
    x = ag.tensor(np.linspace(-3, 3, 70_001).astype(np.float16))
    assert np.isclose(float(x.std().item()) ** 2, float(x.var().item()), rtol=5e-3)


def test_std_gradient_of_other_dtypes_unchanged():
    x = ag.tensor(np.array([[1.0, 2.0, 4.0], [0.5, -1.0, 3.0]]), requires_grad=True)
    for axis in (None, 0, 1):
        assert ag.gradcheck(lambda t, axis=axis: t.std(axis=axis, ddof=1), (x,))
    y = ag.tensor(np.array([1.0, 2.0, 4.0], np.float32), requires_grad=True)
    y.std().backward()
    assert y.grad.dtype == np.float32
