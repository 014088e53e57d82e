"""Creating tensors, their attributes, dtype rules and error messages."""

import numpy as np
import pytest

import autograd as ag
from autograd import Tensor
from autograd.ops import AxisError


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
    with pytest.raises(TypeError, match=r"t\.detach\(\) or t\.numpy\(\)"):
        np.asarray(t)                   # would drop the gradient
    with ag.no_grad():
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


def test_copy_and_pickle_give_independent_leaves():
    import copy
    import pickle

    import nn
    m = nn.Dense(3, 2, rng=0)
    x = ag.tensor(np.ones((4, 3)))
    m(x).sum().backward()                               # the parameters now have graph bookkeeping
    for m2 in (copy.deepcopy(m), pickle.loads(pickle.dumps(m))):
        assert [type(p).__name__ for p in m2.parameters()] == ["Parameter", "Parameter"]
        np.testing.assert_array_equal(m2.weight.data, m.weight.data)
        m2.zero_grad()
        before = m.weight.grad.data.copy()
        (m2(x) * 2).sum().backward()
        np.testing.assert_allclose(m2.weight.grad.data, 2 * before)
        np.testing.assert_array_equal(m.weight.grad.data, before)     # the original is untouched
        assert m2.weight.data.flags.writeable
    t = ag.tensor([1.0, 2.0], requires_grad=True, name="t")
    u = copy.copy(t)
    assert u is not t and u.requires_grad and u.name == "t"
    with pytest.raises(RuntimeError, match="only leaf tensors can be copied.*'multiply'"):
        copy.deepcopy(t * 2)


def test_in_place_operators_update_leaves_without_a_graph():
    import nn
    m = nn.Dense(2, 2, rng=0)
    w = m.weight.data.copy()
    with ag.no_grad():
        m.weight -= 0.5                                 # a manual update keeps the Parameter
        m.weight *= 2.0
    assert [n for n, _ in m.named_parameters()] == ["weight", "bias"]
    np.testing.assert_allclose(m.weight.data, (w - 0.5) * 2.0, rtol=1e-6)
    with pytest.raises(RuntimeError, match="cannot be changed in place.*no_grad"):
        m.weight += 1.0
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    h = x * 2
    h_before = h
    h += 1.0                                            # an operation's output: recorded, t = t + v
    assert h is not h_before and h.grad_fn.name == "add"
    acc = ag.zeros(2)
    acc += x * 3                                        # the sum needs a gradient: recorded too
    acc.sum().backward()
    np.testing.assert_allclose(x.grad.data, [3.0, 3.0])
    c = ag.zeros(2)
    c += np.array([1.0, 2.0])                           # nothing to record: in place
    c /= 2
    np.testing.assert_allclose(c.data, [0.5, 1.0])
    y = (c * x).sum()                                   # c is saved: writing into it is refused
    with pytest.raises(ValueError, match="read-only"):
        c += 1.0
    y.backward()


def test_comparisons_with_none_and_integer_casts():
    t = ag.tensor([1.0, 2.0], requires_grad=True)
    np.testing.assert_array_equal((t == None).data, [False, False])    # noqa: E711 - NumPy's rule
    np.testing.assert_array_equal((t != None).data, [True, True])      # noqa: E711
    i = t.astype(np.int64)
    assert i.dtype == np.int64 and not i.requires_grad and i.grad_fn is None
    assert t.astype(np.float64).grad_fn.name == "astype"


def test_bitwise_operators_follow_numpy():
    np.testing.assert_array_equal((ag.tensor([1, 2]) & ag.tensor([2, 3])).data, [0, 2])
    np.testing.assert_array_equal((ag.tensor([1, 2]) | ag.tensor([2, 4])).data, [3, 6])
    np.testing.assert_array_equal((~ag.tensor([1, 2])).data, [-2, -3])
    np.testing.assert_array_equal((~ag.tensor([True, False])).data, [False, True])
    np.testing.assert_array_equal((ag.tensor([True, False]) & np.array([True, True])).data,
                                  [True, False])
    with pytest.raises(TypeError, match="bitwise_and"):
        ag.tensor([1.0]) & ag.tensor([1.0])


def test_numpy_calls_chainrule_does_not_take_fall_back_to_numpy_without_gradients():
    np.testing.assert_array_equal(np.where(ag.tensor([0, 1, 1]))[0], [1, 2])
    np.testing.assert_array_equal(np.max(ag.tensor([[1.0, 2.0]]), 0, None, True), [[1.0, 2.0]])
    assert ag.sum(ag.tensor(2.0), axis=0).item() == 2.0                 # as np.sum of a 0-d array
    np.testing.assert_array_equal(ag.logsumexp(ag.zeros((0, 3)), axis=0).data, [-np.inf] * 3)


def test_creation_and_conversion_errors_say_what_is_wrong():
    with pytest.raises(ValueError, match="^power: Integers to negative integer powers"):
        ag.tensor([2]) ** -1
    with pytest.raises(ValueError, match="add: shapes \\(2,\\) and \\(3,\\) are not compatible"):
        ag.tensor([1.0, 2.0]) + ag.tensor([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="to \\(4, 2\\)$"):
        ag.broadcast_to(ag.tensor([1.0, 2.0, 3.0]), (4, 2))
    with pytest.raises(AxisError):
        ag.split(ag.zeros((2, 2)), [1], axis=3)
    with pytest.raises(TypeError, match="integers too large for int64"):
        ag.tensor(2 ** 70)
    with pytest.raises(TypeError, match="str data"):
        ag.tensor("abc")
    with pytest.raises(TypeError, match="floating dtype, got int32"):
        ag.randn(3, dtype=np.int32)
    with pytest.raises(TypeError, match="got None"):
        ag.set_default_dtype(None)
    assert ag.full((2,), np.float64(7)).dtype == np.float64 and ag.full((2,), 7.0).dtype == np.float32
    assert ag.zeros(2, dtype=np.int64).dtype == np.int64
    with pytest.raises(ValueError, match="Unable to avoid copy"):
        ag.tensor([1.0, 2.0]).__array__(np.float64, copy=False)     # NumPy 2's asarray(copy=False)


def test_formatting_one_element_tensors_and_empty_reprs():
    t = ag.tensor(2.3456)
    assert f"{t:.2f}" == "2.35" and round(t, 1) == 2.3 and round(ag.tensor([1.6])) == 2
    assert f"{ag.tensor([1.0, 2.0])}" == "tensor([1., 2.])"
    assert repr(ag.zeros((0, 3))) == "tensor([], shape=(0, 3))"
    with pytest.raises(TypeError, match="one element"):
        round(ag.tensor([1.0, 2.0]))


@pytest.mark.parametrize("fn", [ag.sigmoid, ag.softmax, ag.log_softmax, ag.softplus, ag.logsumexp])
def test_activations_of_integers_and_bools_give_the_default_float_dtype(fn):
    for data in ([1, 2], [True, False], np.array([1, 2], np.uint8)):
        out = fn(ag.tensor(data))
        assert out.dtype == ag.get_default_dtype()
        np.testing.assert_allclose(out.data, fn(ag.tensor(np.asarray(data, np.float64))).data,
                                   rtol=1e-6)
