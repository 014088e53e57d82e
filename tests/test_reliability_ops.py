"""Issue #14, operations: indexing follows NumPy for every index form, einsum gradients over
broadcasting ellipses, reductions in float16, sigmoid without a clamp."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import autograd as ag

settings.register_profile("chainrule", max_examples=40, deadline=None)
settings.load_profile("chainrule")


# ---------------------------------------------------------------- 2: every index form

def _index_part(draw, size):
    """One part of an index for an axis of `size`, in one of the forms NumPy accepts."""
    kind = draw(st.sampled_from(["int", "slice", "list", "tuple", "nested", "array", "tensor",
                                 "zero_d", "bool"]))
    ints = st.integers(-size, size - 1)
    if kind == "int":
        return draw(ints), True
    if kind == "slice":
        start = draw(st.none() | st.integers(-size, size))
        stop = draw(st.none() | st.integers(-size, size))
        step = draw(st.sampled_from([None, 1, 2, -1, -2]))
        return slice(start, stop, step), True
    values = draw(st.lists(ints, min_size=1, max_size=4))      # repeats are likely
    if kind == "list":
        return values, False
    if kind == "tuple":
        return tuple(values), False
    if kind == "nested":
        return [values, values[::-1]], False
    if kind == "array":
        return np.array(values), False
    if kind == "tensor":
        return ag.tensor(np.array(values)), False
    if kind == "zero_d":
        return np.array(values[0]), False
    return np.array(draw(st.lists(st.booleans(), min_size=size, max_size=size))), False


@st.composite
def indexed(draw):
    """(shape, key): a random array shape and an index for it mixing every form."""
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=3)))
    parts = []
    advanced = 0
    for size in shape:
        part, basic = _index_part(draw, size)
        if not basic:
            if advanced:        # one advanced part keeps the broadcasting of index arrays simple
                part = slice(None)
            advanced += 1
        parts.append(part)
    if draw(st.booleans()):
        parts.insert(draw(st.integers(0, len(parts))), None)
    if len(parts) > 1 and draw(st.booleans()):      # an Ellipsis standing for trailing axes
        cut = draw(st.integers(1, len(parts) - 1))
        if all(p is not None for p in parts[cut:]):
            parts = parts[:cut] + [Ellipsis]
    if len(parts) == 1 and not isinstance(parts[0], tuple) and draw(st.booleans()):
        return shape, parts[0]          # a bare index (a bare tuple would be one per axis)
    return shape, tuple(parts)


def _numpy_key(key):
    """The same index with Tensors as their arrays, as NumPy is given it."""
    if isinstance(key, tuple):
        return tuple(_numpy_key(k) for k in key)
    return key.data if isinstance(key, ag.Tensor) else key


@settings(max_examples=150)
@given(case=indexed(), seed=st.integers(0, 2**16))
def test_the_gradient_of_any_index_is_the_one_hot_closed_form(case, seed):
    shape, key = case
    x = ag.tensor(np.random.default_rng(seed).standard_normal(shape), dtype=np.float64,
                  requires_grad=True)
    nkey = _numpy_key(key)
    out = x.data[nkey]
    np.testing.assert_array_equal(x[key].data, out)         # the value is NumPy's
    w = np.random.default_rng(seed + 1).standard_normal(np.shape(out))
    (x[key] * w).sum().backward()
    expected = np.zeros(shape)
    for pos in np.ndindex(*shape):      # d sum(w * x[key]) / d x[pos] = sum(w * onehot(pos)[key])
        onehot = np.zeros(shape)
        onehot[pos] = 1.0
        expected[pos] = (w * onehot[nkey]).sum()
    np.testing.assert_allclose(x.grad.data, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("key, grad", [
    (((0, 0, 2),), [2, 0, 1]),                  # a tuple inside the index: an integer array
    (([0, 0, 2],), [2, 0, 1]),
    ([[0, 0], [2, 2]], [2, 0, 2]),              # a nested list
    ((np.array(2),), [0, 0, 1]),                # a 0-d array
    ([-1, -1, 2], [0, 0, 3]),                   # negative indices
    ([], [0, 0, 0]),
    ((np.array([True, False, True]),), [1, 0, 1]),
])
def test_index_forms_accumulate_as_numpy(key, grad):
    x = ag.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[key].sum().backward()
    np.testing.assert_array_equal(x.grad.data, grad)


def test_second_derivative_through_a_repeated_tuple_index():
    x = ag.tensor([1.0, 2.0, 3.0], dtype=np.float64, requires_grad=True)
    assert ag.gradgradcheck(lambda t: t[(0, 0, 2),] ** 3, (x,))


# ---------------------------------------------------------------- 17: einsum and ellipses

@st.composite
def ellipsis_einsum(draw):
    """(subscripts, shapes): operands with broadcasting ellipses, some with none."""
    batch = draw(st.lists(st.integers(1, 3), min_size=0, max_size=2))
    i, j = draw(st.integers(1, 3)), draw(st.integers(1, 3))

    def ell_shape():            # a broadcast-compatible variant of the batch shape
        n = draw(st.integers(0, len(batch)))
        return [draw(st.sampled_from([1, b])) for b in batch[len(batch) - n:]]
    form = draw(st.sampled_from(["...i,i->...", "...i,...i->...", "...ij,...jk->...ik",
                                 "...ij,j->...i", "i,...i->...", "...ij,ij->...",
                                 "...i,ji->...j"]))
    sizes = {"i": i, "j": j, "k": draw(st.integers(1, 3))}
    shapes = []
    for spec in form.split("->")[0].split(","):
        letters = [sizes[c] for c in spec.replace("...", "")]
        if draw(st.booleans()):
            letters = [draw(st.sampled_from([1, n])) for n in letters]      # size 1: broadcast
        shapes.append(tuple((ell_shape() if "..." in spec else []) + letters))
    return form, shapes


@given(case=ellipsis_einsum(), seed=st.integers(0, 2**16))
def test_einsum_gradients_over_broadcasting_ellipses(case, seed):
    form, shapes = case
    rng = np.random.default_rng(seed)
    ops = [ag.tensor(rng.standard_normal(s), dtype=np.float64, requires_grad=True) for s in shapes]
    try:
        expected = np.einsum(form, *[o.data for o in ops])
    except ValueError:
        return                          # NumPy refuses these shapes too
    np.testing.assert_allclose(ag.einsum(form, *ops).data, expected)
    assert ag.gradcheck(lambda *t: ag.einsum(form, *t), ops)


def test_einsum_size_one_meets_an_operand_without_ellipsis():
    x = ag.tensor(np.arange(2.0).reshape(2, 1), dtype=np.float64, requires_grad=True)
    y = ag.tensor([1.0, 2.0, 3.0], dtype=np.float64, requires_grad=True)
    ag.einsum("...i,i->...", x, y).sum().backward()
    np.testing.assert_array_equal(y.grad.data, [1.0, 1.0, 1.0])     # sum over x's rows
    np.testing.assert_array_equal(x.grad.data, [[6.0], [6.0]])


# ---------------------------------------------------------------- 7: float16 reductions

N16 = 70_000        # past float16's largest value, 65,504


@pytest.mark.parametrize("reduce, expected", [
    (lambda t: t.mean(), 3.0), (lambda t: t.var(), 2.0 / 3.0),
    (lambda t: ag.logsumexp(t - 3.0), np.log(N16 / 3 * (np.exp(-1) + 1 + np.exp(1)))),
])
def test_float16_reductions_over_more_than_65504_elements(reduce, expected):
    x = ag.tensor(np.arange(N16) % 3 + 2.0, dtype=np.float16, requires_grad=True)
    out = reduce(x)
    assert out.dtype == np.float16
    assert out.item() == pytest.approx(expected, rel=2e-3)
    out.backward()
    assert np.isfinite(x.grad.data).all() and np.abs(x.grad.data).max() > 0


def test_float16_mean_gradient_and_softmax_over_a_long_axis():
    x = ag.tensor(np.ones(N16), dtype=np.float16, requires_grad=True)
    x.mean().backward()             # 1/70,000 is a float16 subnormal: spacing 6e-8, 0.4%
    assert x.grad.data[0] == pytest.approx(1 / N16, rel=3e-3)
    s = ag.softmax(ag.zeros(N16, dtype=np.float16))
    assert s.data[0] == pytest.approx(1 / N16, rel=3e-3)
    ls = ag.log_softmax(x)
    assert ls.data[0] == pytest.approx(-np.log(N16), rel=1e-3)
    y = ag.tensor(np.ones(N16), dtype=np.float16, requires_grad=True)
    ag.log_softmax(y).backward(np.ones(N16, np.float16))    # the incoming gradient sums to 70,000
    np.testing.assert_allclose(y.grad.data, 0.0, atol=1e-3)


def test_float16_cross_entropy_mean_over_many_samples():
    logits = ag.tensor(np.zeros((N16, 2)), dtype=np.float16, requires_grad=True)
    loss = ag.softmax_cross_entropy(logits, np.zeros(N16, dtype=np.int64), reduction="mean")
    assert loss.item() == pytest.approx(np.log(2), rel=1e-3)
    loss.backward()
    assert logits.grad.data[0, 0] == pytest.approx(-0.5 / N16, rel=1e-2)


# ---------------------------------------------------------------- 9: sigmoid without a clamp

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_log_sigmoid_is_not_clamped(dtype):
    x = np.array([-85.0, -90.0, -100.0, -30.0, 0.0, 3.0], dtype=dtype)
    got = ag.log(ag.sigmoid(ag.tensor(x))).data
    expected = -np.logaddexp(0, -x.astype(np.float64))
    # float32 holds sigmoid(-100) = 3.7e-44 only as a subnormal, to about 3 digits
    np.testing.assert_allclose(got, expected, rtol=1e-3 if dtype == np.float32 else 1e-12)
    assert len(set(got[:3].tolist())) == 3


def test_sigmoid_and_its_relatives_are_stable_far_out():
    x = ag.tensor([-1000.0, -745.0, -50.0, 0.0, 50.0, 1000.0], dtype=np.float64, requires_grad=True)
    s = ag.sigmoid(x)
    assert np.isfinite(s.data).all() and s.data[0] == 0.0 and s.data[-1] == 1.0
    assert s.data[2] == pytest.approx(np.exp(-50.0), rel=1e-12)
    sp = ag.softplus(x)
    np.testing.assert_allclose(sp.data, np.logaddexp(0, x.data))
    sp.sum().backward()                 # softplus' = sigmoid, from the same stable form
    assert x.grad.data[2] == pytest.approx(np.exp(-50.0), rel=1e-12)
    z = ag.affine(ag.tensor([[-100.0]], dtype=np.float64), ag.tensor([[1.0]], dtype=np.float64),
                  activation="sigmoid")
    assert z.item() == pytest.approx(np.exp(-100.0), rel=1e-12)
    assert ag.gradcheck(ag.sigmoid, (ag.tensor([-30.0, -2.0, 0.0, 3.0], dtype=np.float64,
                                               requires_grad=True),))
