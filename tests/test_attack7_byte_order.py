"""Attack 7: a leaf of non-native byte order (a big-endian array, as FITS files and some .npy
files hold) used more than once in a graph. NumPy's arithmetic on big-endian arrays gives
native order, so the sum of the leaf's gradients reached `.grad` as float64 where the leaf is
>f8, and the grad setter refused it: backward raised 'grad must match the tensor'."""

import numpy as np
import pytest

import autograd as ag
import optim

_X = np.arange(1.0, 13.0).reshape(4, 3)


def _graphs():
    return {
        "x * x": lambda x: (x * x).sum(),
        "x + x": lambda x: (x + x).sum(),
        "two paths": lambda x: (ag.sin(x) + ag.exp(x * 0.1)).sum(),
        "affine": lambda x: ag.affine(x, np.ones((3, 2)), activation="tanh").sum() + (x * x).sum(),
    }


@pytest.mark.parametrize("name", list(_graphs()))
@pytest.mark.parametrize("mode", ["first", "accumulate", "create_graph"])
def test_big_endian_leaf_used_twice_gets_its_gradient(name, mode):
    f = _graphs()[name]
    x = ag.tensor(_X.astype(">f8"), requires_grad=True)
    ref = ag.tensor(_X, dtype=np.float64, requires_grad=True)
    for t in (x, ref):
        f(t).backward(create_graph=mode == "create_graph")
        if mode == "accumulate":
            f(t).backward()
    assert x.grad.dtype == x.dtype == np.dtype(">f8")
    np.testing.assert_array_equal(x.grad.data, ref.grad.data)


def test_second_derivative_through_a_big_endian_leaf():
    x = ag.tensor(_X.astype(">f8"), requires_grad=True)
    (x * x * x).sum().backward(create_graph=True)
    g = x.grad
    assert g.requires_grad and g.dtype == np.dtype(">f8")
    h, = ag.grad(g.sum(), x)
    np.testing.assert_allclose(h.data, 6 * _X)


def test_grad_setter_takes_the_byte_order_only_difference_and_refuses_others():
    x = ag.tensor(_X.astype(">f8"), requires_grad=True)
    x.grad = ag.tensor(np.ones((4, 3)), dtype=np.float64)         # native order: same values
    assert x.grad.dtype == np.dtype(">f8") and x.grad.data.tolist() == np.ones((4, 3)).tolist()
    with pytest.raises(ValueError, match="grad must match"):
        x.grad = ag.tensor(np.ones((4, 3)), dtype=np.float32)
    with pytest.raises(ValueError, match="grad must match"):
        x.grad = ag.tensor(np.ones((3, 4)), dtype=np.float64)


def test_sgd_trains_big_endian_parameters_as_native_ones():
    finals = []
    for order in "<>":
        w = ag.tensor(np.linspace(-1, 1, 6).reshape(2, 3).astype(order + "f8"), requires_grad=True)
        opt = optim.SGD([w], lr=0.1, momentum=0.9)
        for _ in range(3):
            opt.zero_grad()
            (ag.tanh(w) * w).sum().backward()
            opt.step()
        finals.append(w.data.astype(np.float64))
    np.testing.assert_array_equal(finals[0], finals[1])
