"""`sign` records a node whose gradient is zero (as PyTorch's): a backward through it gives
zeros, never an error, and it composes with other operations to any order."""

import numpy as np
import pytest

import autograd as ag


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_backward_through_sign_gives_zeros_as_pytorch(dtype):
    a = np.array([[-1.5, 0.0, 2.0], [-0.0, 3.0, -4.0]], dtype)
    x = ag.tensor(a, requires_grad=True)
    y = ag.sign(x)
    assert y.requires_grad and y.dtype == dtype
    y.sum().backward()
    assert x.grad.dtype == dtype
    np.testing.assert_array_equal(x.grad.data, np.zeros_like(a))     # PyTorch's too


def test_sign_times_x_has_gradient_sign_and_gradchecks():
    a = np.array([-1.5, 0.7, 2.0, -3.0])
    x = ag.tensor(a, requires_grad=True)
    (ag.sign(x) * x).sum().backward()       # |x| written as sign(x) * x
    np.testing.assert_array_equal(x.grad.data, np.sign(a))
    assert ag.gradcheck(lambda t: ag.sign(t) * t ** 2, (ag.tensor(a, requires_grad=True),))


def test_second_order_through_sign():
    a = np.array([-1.5, 0.7, 2.0])
    x = ag.tensor(a, requires_grad=True)
    g, = ag.grad((ag.sign(x) * x ** 3).sum(), x, create_graph=True)     # 3 sign(x) x^2
    np.testing.assert_allclose(g.data, 3 * np.sign(a) * a ** 2)
    h, = ag.grad(g.sum(), x)                                             # 6 sign(x) x
    np.testing.assert_allclose(h.data, 6 * np.sign(a) * a)


def test_zero_gradient_even_where_the_incoming_gradient_is_not_finite():
    x = ag.tensor(np.array([1.0, -2.0]), requires_grad=True)
    y = ag.sign(x)
    y.backward(ag.tensor(np.array([np.inf, np.nan])))
    np.testing.assert_array_equal(x.grad.data, [0.0, 0.0])


def test_sign_of_integers_and_under_no_grad_records_nothing():
    assert ag.sign(ag.tensor([1, -2, 0])).tolist() == [1, -1, 0]
    x = ag.tensor(np.array([1.0, -2.0]), requires_grad=True)
    with ag.no_grad():
        assert not ag.sign(x).requires_grad
