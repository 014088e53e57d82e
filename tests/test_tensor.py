"""Creating tensors, their attributes, dtype rules and error messages."""

import numpy as np
import pytest

import autograd as ag
from autograd import Tensor


def test_python_floats_become_float32_and_ndarrays_keep_dtype():
    assert ag.tensor(1.5).dtype == np.float32
    assert ag.tensor([[1.0, 2.0]]).dtype == np.float32
    assert ag.tensor(np.ones(2, np.float64)).dtype == np.float64
    assert ag.tensor([1, 2]).dtype.kind == "i"
    assert ag.tensor([1.0], dtype=np.float64).dtype == np.float64


def test_tensor_copies_but_constructor_shares():
    a = np.ones(3)
    t1, t2 = ag.tensor(a), Tensor(a)
    a[0] = 7
    assert t1.data[0] == 1 and t2.data[0] == 7


def test_int_tensor_cannot_require_grad():
    with pytest.raises(TypeError, match="floating-point"):
        ag.tensor([1, 2], requires_grad=True)
    with pytest.raises(TypeError, match="int"):
        ag.tensor([1, 2]).requires_grad_()


def test_python_scalars_do_not_upcast_float32():
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    for y in (x * 2.0, x + 1, 2.5 - x, x / 3.0, x ** 2.0, ag.maximum(x, 0.5)):
        assert y.dtype == np.float32


def test_default_dtype_can_change():
    ag.set_default_dtype(np.float64)
    try:
        assert ag.tensor(1.0).dtype == np.float64
        assert ag.randn(2, 3).dtype == np.float64
        assert ag.get_default_dtype() == np.float64
    finally:
        ag.set_default_dtype(np.float32)
    with pytest.raises(TypeError):
        ag.set_default_dtype(np.int32)


def test_creation_functions():
    assert ag.zeros((2, 3)).shape == (2, 3) and ag.zeros(4).data.sum() == 0
    assert ag.ones((2,), dtype=np.float64).dtype == np.float64
    assert ag.full((2, 2), 3.0).data.tolist() == [[3.0, 3.0], [3.0, 3.0]]
    assert ag.zeros_like(ag.ones((2, 5))).shape == (2, 5)
    assert ag.ones_like(np.zeros(3)).data.tolist() == [1.0, 1.0, 1.0]
    np.testing.assert_array_equal(ag.arange(5).data, np.arange(5))
    assert ag.arange(0.0, 1.0, 0.25).dtype == np.float32
    z = ag.zeros(3, requires_grad=True)
    assert z.requires_grad and z.is_leaf


def test_random_functions_follow_rng_and_seed():
    a = ag.randn(3, 4, rng=0)
    b = ag.randn((3, 4), rng=np.random.default_rng(0))
    np.testing.assert_array_equal(a.data, b.data)
    assert a.dtype == np.float32
    ag.manual_seed(123)
    c = ag.rand(5)
    ag.manual_seed(123)
    d = ag.rand(5)
    np.testing.assert_array_equal(c.data, d.data)
    assert ((c.data >= 0) & (c.data < 1)).all()


def test_attributes():
    t = ag.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True, name="w")
    assert t.shape == (2, 3) and t.ndim == 2 and t.size == 6 and len(t) == 2
    assert t.T.shape == (3, 2)
    assert t.name == "w" and t.is_leaf and t.requires_grad
    assert np.asarray(t) is t.data
    assert t.numpy() is t.data
    assert t.tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    assert ag.tensor([2.5]).item() == 2.5
    with pytest.raises(ValueError, match="one element"):
        t.item()
    d = (t * 2).detach()
    assert d.is_leaf and not d.requires_grad


def test_repr_shows_values_dtype_and_grad_fn():
    t = ag.tensor([1.0, 2.0], requires_grad=True)
    assert repr(t) == "tensor([1., 2.], requires_grad=True)"
    assert "grad_fn=<multiply>" in repr(t * 2)
    assert "dtype=float64" in repr(ag.tensor([1.0], dtype=np.float64))


def test_comparisons_give_bool_tensors_without_grad():
    x = ag.tensor([1.0, 2.0, 3.0], requires_grad=True)
    for r in (x < 2, x <= 2, x > 2, x >= 2, x == 2, x != 2):
        assert r.dtype == bool and not r.requires_grad
    assert (x > 1.5).tolist() == [False, True, True]


def test_argmax_argmin_have_no_grad():
    x = ag.tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]], requires_grad=True)
    assert ag.argmax(x, axis=1).tolist() == [1, 0]
    assert x.argmin().item() == 4
    assert not ag.argmax(x).requires_grad


def test_numpy_functions_dispatch_to_differentiable_ops():
    x = ag.tensor([0.5, 1.0], dtype=np.float64, requires_grad=True)
    y = np.sum(np.exp(x) * np.sin(x))
    assert isinstance(y, Tensor)
    y.backward()
    e = np.exp(x.data)
    np.testing.assert_allclose(x.grad.data, e * np.sin(x.data) + e * np.cos(x.data))


def test_undifferentiable_numpy_function_is_refused_not_silently_untracked():
    x = ag.tensor([0.5, 1.0], requires_grad=True)
    with pytest.raises(TypeError, match="not differentiable"):
        np.cumsum(x)
    assert np.cumsum(x.detach()).tolist() == [0.5, 1.5]


def test_item_assignment_is_refused_with_advice():
    x = ag.tensor([1.0, 2.0])
    with pytest.raises(TypeError, match="where"):
        x[0] = 3.0


# ---------------------------------------------------------------- errors users can act on

def test_shape_mismatch_names_operation_and_both_shapes():
    a, b = ag.ones((3, 4)), ag.ones((2, 4))
    with pytest.raises(ValueError, match=r"add: shapes \(3, 4\) and \(2, 4\)"):
        a + b
    with pytest.raises(ValueError, match=r"matmul: shapes \(3, 4\) and \(3, 4\)"):
        a @ ag.ones((3, 4))
    with pytest.raises(ValueError, match=r"reshape.*\(3, 4\).*\(5,\)"):
        a.reshape(5)


def test_unsupported_operand_type_is_named():
    with pytest.raises(TypeError, match="str"):
        ag.ones(3) + "a"
    with pytest.raises(TypeError, match="dict"):
        ag.exp({})


def test_unknown_rng_type_is_refused():
    with pytest.raises(TypeError, match="rng"):
        ag.randn(2, rng="seed")


def test_grad_assignment_is_checked():
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    x.grad = ag.tensor([0.5, 0.5])
    assert x.grad.data.tolist() == [0.5, 0.5]
    with pytest.raises(ValueError, match="shape \\(3,\\).*\\(2,\\)"):
        x.grad = ag.tensor([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="dtype float64.*float32"):
        x.grad = ag.tensor([1.0, 2.0], dtype=np.float64)
    with pytest.raises(TypeError, match="wrap an array with ag.tensor"):
        x.grad = np.ones(2, np.float32)
    x.grad = None
    (x * 3).sum().backward()
    assert x.grad.data.tolist() == [3.0, 3.0]
