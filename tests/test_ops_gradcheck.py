"""Every operation's gradient against central finite differences (float64), over broadcasting shapes."""

import itertools

import numpy as np
import pytest

import autograd as ag

SHAPES = [(), (4,), (3, 4), (1, 4), (2, 3, 4), (3, 1)]
def _compatible(a, b):
    try:
        np.broadcast_shapes(a, b)
        return True
    except ValueError:
        return False


PAIRS = [(a, b) for a, b in itertools.product(SHAPES, SHAPES) if _compatible(a, b)]


def t(shape, seed=0, low=None, high=None, requires_grad=True):
    rng = np.random.default_rng(abs(hash((shape, seed))) % 2**32)
    if low is None:
        data = rng.standard_normal(shape)
    else:
        data = rng.uniform(low, high, shape)
    return ag.tensor(np.asarray(data, dtype=np.float64), requires_grad=requires_grad)


BINARY = {
    "add": (ag.add, None),
    "subtract": (ag.subtract, None),
    "multiply": (ag.multiply, None),
    "divide": (ag.divide, (0.5, 2.0)),
    "power": (ag.power, (0.5, 2.0)),
    "maximum": (ag.maximum, None),
    "minimum": (ag.minimum, None),
}


@pytest.mark.parametrize("name", sorted(BINARY))
@pytest.mark.parametrize("sa,sb", PAIRS, ids=str)
def test_binary_op_gradcheck_broadcasting(name, sa, sb):
    fn, rng_range = BINARY[name]
    lo, hi = rng_range if rng_range else (None, None)
    a = t(sa, 1, lo, hi)
    b = t(sb, 2, lo, hi)
    assert ag.gradcheck(fn, (a, b))


@pytest.mark.parametrize("sa,sb", PAIRS[:12], ids=str)
def test_operators_and_reflected_forms_gradcheck(sa, sb):
    a = t(sa, 3)
    b = t(sb, 4, 0.5, 2.0)
    assert ag.gradcheck(lambda x, y: x + y * 2.0 - x / y + (-x) + abs(y) + 3.0 - y, (a, b))
    assert ag.gradcheck(lambda x, y: 2.0 / y + 1.5 * x + y ** 2 + 2.0 ** x, (a, b))


def test_reflected_ndarray_on_the_left_gives_tensor():
    x = t((3,))
    for out in (np.ones(3) + x, np.ones(3) * x, np.ones(3) - x, np.ones(3) / x, np.ones((2, 3)) @ x):
        assert isinstance(out, ag.Tensor)
        assert out.requires_grad


UNARY = {
    "exp": (ag.exp, None),
    "log": (ag.log, (0.5, 3.0)),
    "sqrt": (ag.sqrt, (0.5, 3.0)),
    "sin": (ag.sin, None),
    "cos": (ag.cos, None),
    "tanh": (ag.tanh, None),
    "sigmoid": (ag.sigmoid, None),
    "relu": (ag.relu, None),
    "softplus": (ag.softplus, None),
    "leaky_relu": (lambda x: ag.leaky_relu(x, 0.1), None),
    "abs": (ag.abs, None),
    "negative": (ag.negative, None),
    "clip": (lambda x: ag.clip(x, -0.5, 0.7), None),
    "square": (lambda x: x ** 2, None),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_unary_op_gradcheck(name, shape):
    fn, rng_range = UNARY[name]
    lo, hi = rng_range if rng_range else (None, None)
    x = t(shape, 5, lo, hi)
    # keep away from kinks where finite differences are meaningless
    if name in ("relu", "leaky_relu", "abs"):
        x.data = np.where(np.abs(x.data) < 1e-3, 0.1, x.data)
    if name == "clip":
        x.data = np.where(np.abs(x.data + 0.5) < 1e-3, 0.0, x.data)
        x.data = np.where(np.abs(x.data - 0.7) < 1e-3, 0.0, x.data)
    assert ag.gradcheck(fn, (x,))


REDUCTIONS = {
    "sum": ag.sum,
    "mean": ag.mean,
    "max": ag.max,
    "min": ag.min,
    "logsumexp": ag.logsumexp,
    "var": ag.var,
    "var_ddof1": lambda x, axis=None, keepdims=False: ag.var(x, axis=axis, ddof=1, keepdims=keepdims),
}

AXES = [None, 0, 1, -1, (0, 2), (0, 1, 2)]


@pytest.mark.parametrize("name", sorted(REDUCTIONS))
@pytest.mark.parametrize("axis", AXES, ids=str)
@pytest.mark.parametrize("keepdims", [False, True])
def test_reduction_gradcheck(name, axis, keepdims):
    fn = REDUCTIONS[name]
    x = t((2, 3, 4), 7)
    assert ag.gradcheck(lambda v: fn(v, axis=axis, keepdims=keepdims), (x,))


@pytest.mark.parametrize("name", ["sum", "mean", "max", "logsumexp"])
def test_reduction_of_0d_and_1d(name):
    fn = REDUCTIONS[name]
    for shape in [(), (4,)]:
        assert ag.gradcheck(lambda v: fn(v), (t(shape, 8),))


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_softmax_and_log_softmax_gradcheck(axis):
    x = t((3, 4), 9)
    assert ag.gradcheck(lambda v: ag.softmax(v, axis=axis), (x,))
    assert ag.gradcheck(lambda v: ag.log_softmax(v, axis=axis), (x,))


def test_softmax_cross_entropy_gradcheck_and_value():
    x = t((5, 4), 10)
    labels = np.array([0, 3, 1, 1, 2])
    assert ag.gradcheck(lambda v: ag.softmax_cross_entropy(v, labels), (x,))
    expected = -np.log(np.exp(x.data) / np.exp(x.data).sum(1, keepdims=True))[np.arange(5), labels]
    np.testing.assert_allclose(ag.softmax_cross_entropy(x, labels).data, expected)


SHAPE_OPS = {
    "reshape": (lambda x: ag.reshape(x, (4, 6)), (2, 3, 4)),
    "reshape_method": (lambda x: x.reshape(6, -1), (2, 3, 4)),
    "transpose": (lambda x: ag.transpose(x), (2, 3, 4)),
    "transpose_axes": (lambda x: ag.transpose(x, (1, 2, 0)), (2, 3, 4)),
    "T": (lambda x: x.T, (3, 4)),
    "swapaxes": (lambda x: ag.swapaxes(x, 0, 2), (2, 3, 4)),
    "expand_dims": (lambda x: ag.expand_dims(x, 1), (3, 4)),
    "squeeze": (lambda x: ag.squeeze(x), (3, 1)),
    "squeeze_axis": (lambda x: ag.squeeze(x, 0), (1, 4)),
    "flatten": (lambda x: ag.flatten(x), (2, 3, 4)),
    "broadcast_to": (lambda x: ag.broadcast_to(x, (2, 3, 4)), (3, 1)),
    "broadcast_to_0d": (lambda x: ag.broadcast_to(x, (3, 4)), ()),
    "astype": (lambda x: ag.astype(x, np.float64) * 2.0, (3, 4)),
}


@pytest.mark.parametrize("name", sorted(SHAPE_OPS))
def test_shape_op_gradcheck(name):
    fn, shape = SHAPE_OPS[name]
    assert ag.gradcheck(fn, (t(shape, 11),))


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_concatenate_stack_split_gradcheck(axis):
    a, b = t((3, 4), 12), t((3, 4), 13)
    assert ag.gradcheck(lambda x, y: ag.concatenate([x, y, x], axis=axis), (a, b))
    assert ag.gradcheck(lambda x, y: ag.stack([x, y], axis=axis), (a, b))
    assert ag.gradcheck(lambda x: tuple(ag.split(x, [1, 3], axis=axis)), (a,))


def test_split_into_equal_sections():
    x = t((4, 6), 14)
    parts = ag.split(x, 3, axis=1)
    assert [p.shape for p in parts] == [(4, 2)] * 3
    assert ag.gradcheck(lambda v: tuple(ag.split(v, 2)), (x,))


INDEX_KEYS = [
    0, -1, slice(1, 3), slice(None, None, -1), slice(3, 0, -2), (Ellipsis, 1), (None, 0),
    (slice(None), None, 2), np.array([0, 2, 2, 1]), np.array([[1, 1], [0, 1]]),
    (np.array([0, 1, 1]), np.array([3, 3, 3])), (np.array([2, 0, 2]), slice(None, 2)),
    (slice(None), np.array([1, 1, 0])), np.array([True, False, True]),
    (np.array([True, False, True]), 1), [0, 0, 1],
]


@pytest.mark.parametrize("key", INDEX_KEYS, ids=repr)
def test_indexing_gradcheck(key):
    x = t((3, 4), 15)
    assert ag.gradcheck(lambda v: v[key], (x,))


def test_boolean_mask_of_same_shape_and_tensor_keys():
    x = t((3, 4), 16)
    mask = x.data > 0
    assert ag.gradcheck(lambda v: v[mask], (x,))
    assert ag.gradcheck(lambda v: v[ag.tensor(mask)], (x,))
    assert ag.gradcheck(lambda v: v[ag.tensor([2, 2, 0])], (x,))


def test_repeated_indices_accumulate_gradient():
    x = ag.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[[0, 0, 2, 0]].sum().backward()
    np.testing.assert_array_equal(x.grad.data, [3.0, 0.0, 1.0])


MATMUL_SHAPES = [
    ((3, 4), (4, 5)), ((4,), (4,)), ((4,), (4, 5)), ((3, 4), (4,)), ((2, 3, 4), (4, 5)),
    ((3, 4), (2, 4, 5)), ((2, 1, 3, 4), (5, 4, 2)), ((4,), (2, 4, 5)), ((2, 3, 4), (4,)),
]


@pytest.mark.parametrize("sa,sb", MATMUL_SHAPES, ids=str)
def test_matmul_gradcheck(sa, sb):
    a, b = t(sa, 17), t(sb, 18)
    assert ag.gradcheck(ag.matmul, (a, b))
    assert ag.gradcheck(lambda x, y: x @ y, (a, b))


DOT_SHAPES = [((3, 4), (4, 5)), ((4,), (4,)), ((), (3,)), ((2, 3, 4), (4,)), ((2, 4), (3, 4, 5))]


@pytest.mark.parametrize("sa,sb", DOT_SHAPES, ids=str)
def test_dot_matches_numpy_and_gradcheck(sa, sb):
    a, b = t(sa, 19), t(sb, 20)
    np.testing.assert_allclose(ag.dot(a, b).data, np.dot(a.data, b.data))
    assert ag.gradcheck(ag.dot, (a, b))


EINSUMS = [
    ("ij,jk->ik", [(3, 4), (4, 5)]),
    ("ij,jk", [(3, 4), (4, 5)]),
    ("i,i->", [(4,), (4,)]),
    ("i,j->ij", [(3,), (4,)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("ii->i", [(3, 3)]),
    ("ii", [(3, 3)]),
    ("ij->", [(3, 4)]),
    ("ij->ji", [(3, 4)]),
    ("ij,ij->i", [(3, 4), (1, 4)]),
    ("...ij,jk->...ik", [(2, 3, 4), (4, 5)]),
    ("ij,...jk->...ik", [(3, 4), (2, 4, 5)]),
    ("i...,i->...", [(3, 2, 4), (3,)]),
    ("iij,k->jk", [(3, 3, 2), (4,)]),
    ("ijk,ik->j", [(2, 3, 4), (2, 4)]),
]


@pytest.mark.parametrize("spec,shapes", EINSUMS, ids=[e[0] for e in EINSUMS])
def test_einsum_matches_numpy_and_gradcheck(spec, shapes):
    ops = [t(s, 21 + i) for i, s in enumerate(shapes)]
    np.testing.assert_allclose(ag.einsum(spec, *ops).data, np.einsum(spec, *[o.data for o in ops]))
    assert ag.gradcheck(lambda *xs: ag.einsum(spec, *xs), tuple(ops))


def test_where_gradcheck_broadcasting():
    cond = np.array([True, False, True, False])
    a, b = t((3, 4), 30), t((4,), 31)
    assert ag.gradcheck(lambda x, y: ag.where(cond, x, y), (a, b))
    assert ag.gradcheck(lambda x: ag.where(x > 0, x, 0.0), (a,))


@pytest.mark.parametrize("activation", [None, "relu", "tanh", "sigmoid"])
def test_affine_gradcheck_2d_and_batched(activation):
    w, b = t((4, 5), 32), t((5,), 33)
    for xs in [(3, 4), (2, 3, 4), (4,)]:
        assert ag.gradcheck(lambda *a: ag.affine(*a, activation=activation), (t(xs, 34), w, b))
    assert ag.gradcheck(lambda x, ww: ag.affine(x, ww, activation=activation), (t((3, 4), 35), w))


@pytest.mark.parametrize("activation,fn", [
    ("relu", lambda z: np.maximum(z, 0)), ("tanh", np.tanh), ("sigmoid", lambda z: 1 / (1 + np.exp(-z)))])
def test_affine_activation_matches_separate_operations(activation, fn):
    x, w, b = t((3, 4), 36), t((4, 5), 37), t((5,), 38)
    fused = ag.affine(x, w, b, activation=activation)
    assert fused.grad_fn.name == f"affine+{activation}"
    np.testing.assert_allclose(fused.data, fn(x.data @ w.data + b.data))
    fused.sum().backward()
    grads = [v.grad.data.copy() for v in (x, w, b)]
    for v in (x, w, b):
        v.grad = None
    getattr(ag, activation)(x @ w + b).sum().backward()
    for got, v in zip(grads, (x, w, b)):
        np.testing.assert_allclose(got, v.grad.data)


def test_affine_refuses_unknown_activation():
    with pytest.raises(ValueError, match="activation"):
        ag.affine(ag.ones((2, 3)), ag.ones((3, 2)), activation="gelu")


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_softmax_cross_entropy_reductions(reduction):
    x = t((5, 4), 39)
    labels = np.array([0, 3, 1, 1, 2])
    per_sample = ag.softmax_cross_entropy(x, labels).data
    expected = {"none": per_sample, "mean": per_sample.mean(), "sum": per_sample.sum()}[reduction]
    np.testing.assert_allclose(ag.softmax_cross_entropy(x, labels, reduction).data, expected)
    assert ag.gradcheck(lambda v: ag.softmax_cross_entropy(v, labels, reduction), (x,))
    x3 = t((2, 3, 4), 40)
    labels3 = np.array([[0, 1, 3], [2, 2, 0]])
    assert ag.gradcheck(lambda v: ag.softmax_cross_entropy(v, labels3, reduction), (x3,))


def test_mixed_operands_tensor_ndarray_scalar():
    x = t((3, 4), 36)
    c = np.random.default_rng(0).standard_normal((4,))
    assert ag.gradcheck(lambda v: (v * c + 2.0) / (1.5 + c ** 2) - (v @ c)[:, None], (x,))


# ---------------------------------------------------------------- edge points, as PyTorch

def test_power_at_zero_base_and_zero_exponent():
    x = ag.tensor([0.0, 2.0], dtype=np.float64, requires_grad=True)
    (x ** 0).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 0.0])     # not 0 * 0**-1 = NaN
    x0 = ag.tensor([0.0], dtype=np.float64, requires_grad=True)
    y, derivs = (x0 ** 3).sum(), []
    for _ in range(4):                                          # 3x^2, 6x, 6, 0 at x = 0
        (y,) = ag.grad(y, x0, create_graph=True)
        derivs.append(float(y.item()))
        y = y.sum()
    assert derivs == [0.0, 0.0, 6.0, 0.0]
    a = ag.tensor([0.0], dtype=np.float64, requires_grad=True)
    b = ag.tensor([-1.0], dtype=np.float64, requires_grad=True)
    with np.errstate(divide="ignore"):
        ag.power(a, b).sum().backward()
    assert b.grad.data[0] == -np.inf                            # inf * log(0)
    # the mixed second derivative of a**b at b = 0 is 1/a, from either side
    a, b = (ag.tensor([v], dtype=np.float64, requires_grad=True) for v in (2.0, 0.0))
    ga, gb = ag.grad(ag.power(a, b).sum(), (a, b), create_graph=True)
    np.testing.assert_allclose(ag.grad(ga.sum(), b)[0].data, [0.5])
    np.testing.assert_allclose(ag.grad(gb.sum(), a)[0].data, [0.5])


@pytest.mark.parametrize("bound_shape", [(), (1,), (3,)])
def test_clip_sends_gradient_to_tensor_bounds(bound_shape):
    x = ag.tensor([-2.0, 0.0, 2.0], dtype=np.float64, requires_grad=True)
    lo = ag.tensor(np.full(bound_shape, -1.0), dtype=np.float64, requires_grad=True)
    hi = ag.tensor(np.full(bound_shape, 1.0), dtype=np.float64, requires_grad=True)
    out = ag.clip(x, lo, hi)
    np.testing.assert_array_equal(out.data, [-1.0, 0.0, 1.0])
    (out * ag.tensor([1.0, 10.0, 100.0], dtype=np.float64)).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 10.0, 0.0])
    want_lo, want_hi = np.array([1.0, 0.0, 0.0]), np.array([0.0, 0.0, 100.0])
    if bound_shape != (3,):
        want_lo, want_hi = want_lo.sum().reshape(bound_shape), want_hi.sum().reshape(bound_shape)
    np.testing.assert_array_equal(lo.grad.data, want_lo)
    np.testing.assert_array_equal(hi.grad.data, want_hi)


def test_clip_ties_go_to_x_and_crossed_bounds_to_a_max():
    x = ag.tensor([-1.0, 1.0, 0.0], dtype=np.float64, requires_grad=True)
    lo = ag.tensor([-1.0, -1.0, 2.0], dtype=np.float64, requires_grad=True)    # last: lo > hi
    hi = ag.tensor([1.0, 1.0, 1.0], dtype=np.float64, requires_grad=True)
    out = ag.clip(x, lo, hi)
    np.testing.assert_array_equal(out.data, np.clip(x.data, lo.data, hi.data))
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [1.0, 1.0, 0.0])
    np.testing.assert_array_equal(lo.grad.data, [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(hi.grad.data, [0.0, 0.0, 1.0])


def test_clip_gradcheck_with_tensor_bounds():
    x, lo, hi = t((3, 4), 1), t((4,), 2, -0.6, -0.1), t((3, 1), 3, 0.1, 0.6)
    assert ag.gradcheck(lambda a, b, c: ag.clip(a, b, c), (x, lo, hi))
    assert ag.gradgradcheck(lambda a, b, c: ag.clip(a, b, c) ** 2, (x, lo, hi))


@pytest.mark.parametrize("ddof", [3, 4])
def test_var_with_ddof_at_least_n_has_infinite_gradient(ddof):
    x = ag.tensor([1.0, 2.0, 4.0], dtype=np.float64, requires_grad=True)
    with pytest.warns(RuntimeWarning, match="Degrees of freedom"), np.errstate(divide="ignore"):
        v = ag.var(x, ddof=ddof)
    assert v.item() == np.inf
    v.backward()
    np.testing.assert_array_equal(x.grad.data, [-np.inf, -np.inf, np.inf])  # sign of x - mean


@pytest.mark.parametrize("spec, shapes", [("ij->j", [(0, 3)]), ("ii->i", [(0, 0)]),
                                          ("ij,jk->ik", [(2, 0), (0, 3)]), ("ij,j->i", [(0, 3), (1,)])])
def test_einsum_with_empty_axes(spec, shapes):
    ops = [ag.tensor(np.ones(s), dtype=np.float64, requires_grad=True) for s in shapes]
    out = ag.einsum(spec, *ops)
    np.testing.assert_array_equal(out.data, np.einsum(spec, *[o.data for o in ops]))
    out.sum().backward()
    for o, s in zip(ops, shapes):
        assert o.grad.shape == s
    if spec == "ij,jk->ik":                 # a sum over an empty axis: zero, gradients zero
        np.testing.assert_array_equal(out.data, np.zeros((2, 3)))


def test_einsum_gradient_where_an_operand_broadcasts_a_size_one_axis():
    a, b = t((2, 3), 1), t((1,), 2)
    assert ag.gradcheck(lambda a, b: ag.einsum("ij,j->i", a, b), (a, b))
    c, d = t((4, 1, 3), 3), t((2, 3), 4)
    assert ag.gradcheck(lambda c, d: ag.einsum("...j,...j->...", c, d), (c, d))


@pytest.mark.parametrize("sa, sb", PAIRS[:8])
def test_remainder_gradient_and_floor_divide_values(sa, sb):
    a, b = t(sa, 5, 1.1, 9.3), t(sb, 6, 0.7, 2.9)            # away from the jumps of floor
    np.testing.assert_array_equal((a % b).data, np.remainder(a.data, b.data))
    np.testing.assert_array_equal((a // b).data, np.floor_divide(a.data, b.data))
    assert not (a // b).requires_grad                           # piecewise constant
    assert ag.gradcheck(lambda a, b: a % b, (a, b))
    assert ag.gradgradcheck(lambda a, b: (a % b) * a, (a, b))
    np.testing.assert_array_equal((7 % ag.tensor([2, 3])).data, [1, 1])
