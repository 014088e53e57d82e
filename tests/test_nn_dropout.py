"""dropout / Dropout (inverted, seeded) and Flatten."""

import numpy as np
import pytest

import autograd as ag
import nn
import nn.functional as F

RNG = np.random.default_rng(0)


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_zeroes_a_fraction_p_and_scales_the_rest(p):
    x = RNG.standard_normal((200, 500)) + 3
    out = F.dropout(x, p, rng=0).data
    dropped = out == 0
    assert abs(dropped.mean() - p) < 0.005                         # 100,000 draws: se <= 0.0016
    np.testing.assert_allclose(out[~dropped], x[~dropped] / (1 - p), rtol=1e-12)
    assert abs(out.mean() - x.mean()) < 0.05                       # the expectation is kept


def test_dropout_gradient_is_the_mask_over_keep_probability():
    x = ag.tensor(RNG.standard_normal((4, 5)), requires_grad=True)
    out = F.dropout(x, 0.3, rng=7)
    g = RNG.standard_normal((4, 5))
    (out * g).sum().backward()
    mask = out.data != 0
    np.testing.assert_allclose(x.grad.data, mask * g / 0.7, rtol=1e-12)


@pytest.mark.parametrize("shape", [(3,), (4, 5), (2, 3, 4)])
def test_dropout_gradcheck_with_fixed_mask(shape):
    x = ag.tensor(RNG.standard_normal(shape), requires_grad=True)
    up = RNG.standard_normal(shape)
    assert ag.gradcheck(lambda t: F.dropout(t, 0.4, rng=3) * up, (x,))   # an int seed: one mask


def test_dropout_eval_p0_and_p1():
    x = ag.tensor(RNG.standard_normal((3, 4)), requires_grad=True)
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0) is x
    out = F.dropout(x, 1.0)
    np.testing.assert_array_equal(out.data, np.zeros((3, 4)))
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.data, np.zeros((3, 4)))
    d = nn.Dropout(0.5).eval()
    assert d(x) is x


@pytest.mark.parametrize("p", [-0.1, 1.5, "0.5", None, True, float("nan")])
def test_dropout_p_is_validated(p):
    with pytest.raises(ValueError, match="p must be a number in \\[0, 1\\]"):
        nn.Dropout(p)
    with pytest.raises(ValueError, match="p must be a number in \\[0, 1\\]"):
        F.dropout(np.ones(3), p)


def test_dropout_rng_seeds_and_generators():
    x = np.ones((10, 10))
    a, b = nn.Dropout(0.5, rng=1), nn.Dropout(0.5, rng=1)
    a1, a2, b1 = a(x).data, a(x).data, b(x).data
    np.testing.assert_array_equal(a1, b1)                          # same seed, same masks
    assert not np.array_equal(a1, a2)                              # a new mask every call
    gen = np.random.default_rng(5)
    np.testing.assert_array_equal(nn.Dropout(0.5, rng=gen)(x).data,
                                  F.dropout(x, 0.5, rng=np.random.default_rng(5)).data)
    ag.manual_seed(3)
    g1 = nn.Dropout(0.5)(x).data
    ag.manual_seed(3)                                              # None: the global generator
    np.testing.assert_array_equal(nn.Dropout(0.5)(x).data, g1)
    assert F.dropout(np.ones(3, np.float32), 0.5).dtype == np.float32
    with pytest.raises(TypeError, match="rng must be"):
        nn.Dropout(0.5, rng="seed")
    assert repr(nn.Dropout(0.25)) == "Dropout(p=0.25)"


@pytest.mark.parametrize("shape,start,end,expected", [
    ((2, 3, 4), 1, -1, (2, 12)),
    ((2, 3, 4), 0, -1, (24,)),
    ((2, 3, 4, 5), 1, 2, (2, 12, 5)),
    ((2, 3, 4), -2, -1, (2, 12)),
    ((2, 3), 1, 1, (2, 3)),
    ((2,), 0, 0, (2,)),
])
def test_flatten_shapes(shape, start, end, expected):
    x = ag.tensor(RNG.standard_normal(shape), requires_grad=True)
    out = nn.Flatten(start, end)(x)
    assert out.shape == expected
    np.testing.assert_array_equal(out.data.ravel(), x.data.ravel())
    g = RNG.standard_normal(expected)
    (out * g).sum().backward()
    np.testing.assert_array_equal(x.grad.data, g.reshape(shape))


def test_flatten_errors_and_repr():
    with pytest.raises(IndexError, match=r"axis out of range for input of shape \(2,\)"):
        nn.Flatten()(np.ones(2))
    with pytest.raises(ValueError, match="start_dim 2 comes after end_dim 1"):
        nn.Flatten(2, 1)(np.ones((2, 3, 4)))
    assert repr(nn.Flatten()) == "Flatten(start_dim=1, end_dim=-1)"
    seq = nn.Sequential(nn.Flatten(), nn.Dense(12, 2, rng=0))
    assert seq(np.ones((5, 3, 4), np.float32)).shape == (5, 2)
