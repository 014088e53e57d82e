"""PyTorch's spellings: each gives the values and gradients of its NumPy-spelled definition."""

import copy
import json
import pickle

import numpy as np
import pytest

import autograd as ag

SHAPES = [(), (4,), (3, 4), (2, 3, 4)]


def f64(shape, seed=0, positive=False):
    values = np.random.default_rng(seed).standard_normal(shape)
    return ag.tensor(np.abs(values) + 0.5 if positive else values, requires_grad=True)


def values_and_grads(fn, x):
    """fn(x) and the gradient of sum(fn(x) * weights) for fixed weights."""
    x.grad = None
    y = fn(x)
    weights = np.random.default_rng(1).standard_normal(y.shape)
    (y * weights).sum().backward()
    return y.data.copy(), x.grad.data.copy()


def assert_same(fn_a, fn_b, x):
    ya, ga = values_and_grads(fn_a, x)
    yb, gb = values_and_grads(fn_b, x)
    np.testing.assert_array_equal(ya, yb)
    np.testing.assert_array_equal(ga, gb)


# ---------------------------------------------------------------- dim, keepdim, correction

REDUCTIONS = ["sum", "mean", "max", "min", "logsumexp", "var", "std"]


@pytest.mark.parametrize("name", REDUCTIONS)
@pytest.mark.parametrize("method", [True, False])
def test_dim_and_keepdim_are_axis_and_keepdims(name, method):
    x = f64((2, 3, 4))
    fn = getattr(ag.Tensor, name) if method else getattr(ag, name)
    for axis in (0, -1, (0, 2), None):
        for keep in (False, True):
            assert_same(lambda t, a=axis, k=keep: fn(t, axis=a, keepdims=k),
                        lambda t, a=axis, k=keep: fn(t, dim=a, keepdim=k), x)
    assert_same(lambda t: fn(t, 1), lambda t: fn(t, dim=1), x)


@pytest.mark.parametrize("name", ["softmax", "log_softmax", "expand_dims", "squeeze",
                                  "argmax", "argmin"])
def test_dim_elsewhere(name):
    x = f64((3, 1, 4))
    fn = getattr(ag, name)
    if name in ("argmax", "argmin"):
        np.testing.assert_array_equal(fn(x, dim=2, keepdim=True).data, fn(x, axis=2, keepdims=True).data)
        np.testing.assert_array_equal(getattr(x, name)(dim=0).data, fn(x, 0).data)
        return
    assert_same(lambda t: fn(t, axis=1), lambda t: fn(t, dim=1), x)
    assert_same(lambda t: getattr(t, name)(axis=1), lambda t: getattr(t, name)(dim=1), x)


def test_dim_for_sequences():
    a, b = f64((2, 3), 1), f64((2, 3), 2)
    for fn in (ag.concatenate, ag.cat, ag.stack):
        y1, y2 = fn([a, b], axis=1), fn([a, b], dim=1)
        np.testing.assert_array_equal(y1.data, y2.data)
        (y2 * y2).sum().backward()
        np.testing.assert_allclose(a.grad.data, 2 * a.data)
        a.grad = b.grad = None


def test_passing_both_names_is_an_error():
    x = f64((2, 3))
    with pytest.raises(TypeError, match="both 'axis' and 'dim'"):
        x.sum(axis=0, dim=0)
    with pytest.raises(TypeError, match="both 'axis' and 'dim'"):
        ag.mean(x, 0, dim=0)
    with pytest.raises(TypeError, match="both 'keepdims' and 'keepdim'"):
        x.max(0, keepdims=True, keepdim=True)
    with pytest.raises(TypeError, match="both 'ddof' and 'correction'"):
        x.var(0, 1, correction=1)


@pytest.mark.parametrize("name", ["var", "std"])
def test_correction_is_ddof_and_the_default_is_numpys(name):
    x = f64((5, 3))
    fn = getattr(ag, name)
    for ddof in (0, 1, 2):
        assert_same(lambda t, d=ddof: fn(t, 0, ddof=d), lambda t, d=ddof: fn(t, dim=0, correction=d), x)
        np.testing.assert_allclose(fn(x, 0, ddof=ddof).data, getattr(np, name)(x.data, 0, ddof=ddof))
    np.testing.assert_allclose(getattr(x, name)().data, getattr(np, name)(x.data))     # ddof=0
    assert "ddof=0" in fn.__doc__ or "ddof=0" in str(__import__("inspect").signature(fn))
    assert "N - 1" in fn.__doc__                    # the docstring says how torch differs


# ---------------------------------------------------------------- std, log10, log2

@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("ddof", [0, 1])
def test_std_gradients(shape, ddof):
    x = f64(shape, seed=3)
    axes = [None] + list(range(len(shape)))
    for axis in axes:
        if int(np.prod(shape if axis is None else shape[axis])) <= 1:
            continue        # one value: std 0, where the gradient is 0 (tested below)
        assert ag.gradcheck(lambda t, a=axis: ag.std(t, axis=a, ddof=ddof), (x,))
        assert ag.gradcheck(lambda t, a=axis: ag.std(t, axis=a, ddof=ddof, keepdims=True) * t, (x,))
        assert ag.gradgradcheck(lambda t, a=axis: ag.std(t, axis=a, ddof=ddof), (x,))


def test_std_is_the_square_root_of_var():
    x = f64((4, 5), 7)
    for axis in (None, 0, 1):
        ys, gs = values_and_grads(lambda t, a=axis: ag.std(t, a, ddof=1), x)
        yv, gv = values_and_grads(lambda t, a=axis: ag.sqrt(ag.var(t, a, ddof=1)), x)
        np.testing.assert_allclose(ys, yv, rtol=1e-12)
        np.testing.assert_allclose(gs, gv, rtol=1e-10)


def test_std_of_constant_values_has_a_zero_gradient_as_pytorch():
    x = ag.tensor(np.ones(3), requires_grad=True)
    y = x.std()
    assert y.item() == 0.0
    y.backward()
    assert np.array_equal(x.grad.data, np.zeros(3))     # torch masks result == 0


@pytest.mark.parametrize("name,base", [("log10", 10.0), ("log2", 2.0)])
@pytest.mark.parametrize("shape", SHAPES)
def test_log10_log2(name, base, shape):
    x = f64(shape, 4, positive=True)
    fn = getattr(ag, name)
    np.testing.assert_allclose(fn(x).data, np.log(x.data) / np.log(base), rtol=1e-12)
    np.testing.assert_allclose(getattr(x, name)().data, fn(x).data)
    np.testing.assert_allclose(getattr(np, name)(x).data, fn(x).data)     # NumPy's ufunc dispatches
    assert ag.gradcheck(fn, (x,))
    assert ag.gradgradcheck(fn, (x,))
    _, g = values_and_grads(fn, x)
    _, g_ln = values_and_grads(lambda t: ag.log(t) / np.log(base), x)
    np.testing.assert_allclose(g, g_ln, rtol=1e-12)


def test_log10_keeps_float32():
    x = ag.tensor([1.0, 10.0, 100.0], requires_grad=True)
    y = x.log10()
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.data, [0.0, 1.0, 2.0], atol=1e-6)
    y.sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad.data, 1 / (np.array([1.0, 10, 100]) * np.log(10)), rtol=1e-6)


# ---------------------------------------------------------------- method spellings

def test_aliases_are_the_numpy_definitions():
    assert ag.Tensor.view is ag.Tensor.reshape
    assert ag.Tensor.permute is ag.Tensor.transpose
    assert ag.Tensor.unsqueeze is ag.Tensor.expand_dims
    assert ag.cat is ag.concatenate
    assert ag.Tensor.nelement is ag.Tensor.numel
    assert ag.Tensor.sum is ag.sum and ag.Tensor.exp is ag.exp       # methods are the functions


def test_view_permute_unsqueeze_squeeze_t():
    x = f64((2, 3, 4))
    assert_same(lambda t: t.view(-1, 4), lambda t: ag.reshape(t, (-1, 4)), x)
    assert_same(lambda t: t.view((6, 4)), lambda t: ag.reshape(t, (6, 4)), x)
    assert_same(lambda t: t.permute(2, 0, 1), lambda t: ag.transpose(t, (2, 0, 1)), x)
    assert_same(lambda t: t.unsqueeze(1), lambda t: ag.expand_dims(t, 1), x)
    assert_same(lambda t: t.unsqueeze(dim=-1), lambda t: ag.expand_dims(t, -1), x)
    y = f64((3, 1, 4))
    assert_same(lambda t: t.squeeze(1), lambda t: ag.squeeze(t, 1), y)
    assert_same(lambda t: t.squeeze(dim=1), lambda t: ag.squeeze(t, axis=1), y)
    m = f64((3, 4))
    assert_same(lambda t: t.t(), lambda t: t.T, m)
    v = f64((4,))
    np.testing.assert_array_equal(v.t().data, v.data)
    with pytest.raises(ValueError, match="at most 2 dimensions"):
        x.t()


def test_numel_float_double():
    x = f64((2, 3))
    assert x.numel() == 6 and type(x.numel()) is int and x.nelement() == 6
    assert x.double() is x
    y = x.float()
    assert y.dtype == np.float32 and y.float() is y
    assert_same(lambda t: t.float(), lambda t: ag.astype(t, np.float32), x)
    assert ag.tensor([True, False]).float().dtype == np.float32
    assert ag.tensor([1, 2]).double().dtype == np.float64


def test_clone_is_a_differentiable_copy():
    x = f64((2, 3))
    y = x.clone()
    assert y.grad_fn is not None and y.grad_fn.name == "clone"
    assert not np.shares_memory(y.data, x.data)
    assert_same(lambda t: t.clone() * t, lambda t: t * t, x)
    assert ag.gradgradcheck(lambda t: ag.clone(t) ** 3, (x,))
    z = ag.tensor([1.0, 2.0]).clone()
    assert not z.requires_grad and z.tolist() == [1.0, 2.0]


def test_zero_():
    w = ag.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="no_grad"):
        w.zero_()
    with ag.no_grad():
        assert w.zero_() is w
    assert w.tolist() == [0.0, 0.0] and w.requires_grad
    (w * 3).sum().backward()
    w.grad.zero_()                       # a .grad needs no gradient: fine in grad mode
    assert w.grad.tolist() == [0.0, 0.0]
    with pytest.raises(RuntimeError, match="zeros_like"):
        (w * 2).zero_()
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()                    # the graph saved x's array: zeroing it is refused
    with ag.no_grad(), pytest.raises(ValueError, match="read-only"):
        x.zero_()
    y.backward()
    with ag.no_grad():
        x.zero_()                        # released by backward


# ---------------------------------------------------------------- factories

@pytest.mark.parametrize("factory", [ag.zeros, ag.ones, ag.empty])
def test_factories_take_a_shape_as_integers_or_a_tuple(factory):
    for args in ((1, 200), ((1, 200),), ([1, 200],), (np.int64(1), 200)):
        t = factory(*args)
        assert t.shape == (1, 200) and t.dtype == np.float32
    assert factory(5).shape == (5,) and factory(()).shape == ()
    assert factory(2, 3, dtype=np.float64).dtype == np.float64
    assert factory((2, 3), np.float64).dtype == np.float64           # the documented positional dtype
    assert factory((2, 3), np.float64, True).requires_grad
    assert factory(2, 3, requires_grad=True).requires_grad
    assert factory(shape=(2, 3)).shape == (2, 3)                       # the documented keyword
    with pytest.raises(TypeError):
        factory()
    with pytest.raises(TypeError, match="at most dtype and requires_grad"):
        factory((2,), np.float32, True, 4)
    if factory is not ag.empty:
        value = 0.0 if factory is ag.zeros else 1.0
        assert (factory(2, 3).data == value).all()


def test_random_factories_take_both_forms():
    assert ag.randn(1, 200, rng=0).shape == ag.randn((1, 200), rng=0).shape == (1, 200)
    np.testing.assert_array_equal(ag.rand(2, 3, rng=4).data, ag.rand((2, 3), rng=4).data)


# ---------------------------------------------------------------- size

def test_size_is_numpys_int_and_calling_it_explains():
    x = ag.zeros(2, 3)
    s = x.size
    assert s == 6 and isinstance(s, int) and s + 1 == 7 and s * 2.0 == 12.0 and 12 / s == 2
    assert f"{s}" == "6" and f"{s:>3}" == "  6" and repr(s) == "6" and str(s) == "6"
    assert hash(s) == hash(6) and {6: "a"}[s] == "a" and range(s)[-1] == 5
    assert np.zeros(s).shape == (6,) and np.arange(12).reshape(s, 2).shape == (6, 2)
    assert json.dumps(s) == "6" and pickle.loads(pickle.dumps(s)) == 6 and copy.copy(s) == 6
    assert np.size(x) == 6 and ag.tensor(s).dtype.kind == "i" and ag.tensor(s).item() == 6
    assert (x + s).tolist() == [[6.0] * 3] * 2 and (x * s).dtype == np.float32
    assert x.shape[0] == 2
    with pytest.raises(TypeError, match=r"use t.shape for the dimensions"):
        x.size()
    with pytest.raises(TypeError, match=r"t.shape\[0\] for that dimension"):
        x.size(0)


# ---------------------------------------------------------------- ctx.saved_tensors

def test_saved_tensors_in_a_custom_function():
    class Cube(ag.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return 3 * x ** 2 * grad

    x = f64((3,))
    assert ag.gradcheck(Cube.apply, (x,))
    y = Cube.apply(x).sum()
    y.backward()
    np.testing.assert_allclose(x.grad.data, 3 * x.data ** 2)
