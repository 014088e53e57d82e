"""batch_norm / BatchNorm1d and layer_norm / LayerNorm against their formulas, and gradcheck."""

import numpy as np
import pytest

import autograd as ag
import nn
import nn.functional as F

RNG = np.random.default_rng(0)
EPS = 1e-5


def bn_by_hand(x, w, b, eps=EPS):
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (x.shape[1],) + (1,) * (x.ndim - 2)
    mean, var = x.mean(axis=axes, keepdims=True), x.var(axis=axes, keepdims=True)   # biased
    return (x - mean) / np.sqrt(var + eps) * w.reshape(shape) + b.reshape(shape)


@pytest.mark.parametrize("shape", [(4, 3), (5, 2, 3), (2, 1), (3, 4, 1)])
def test_batch_norm_training_forward_is_the_formula(shape):
    x = RNG.standard_normal(shape) * 3 + 2
    w, b = RNG.standard_normal(shape[1]), RNG.standard_normal(shape[1])
    out = F.batch_norm(x, None, None, w, b, training=True)
    np.testing.assert_allclose(out.data, bn_by_hand(x, w, b), rtol=1e-12, atol=1e-12)
    plain = F.batch_norm(x, None, None, training=True).data           # no affine: mean 0, var ~1
    axes = (0,) + tuple(range(2, len(shape)))
    np.testing.assert_allclose(plain.mean(axis=axes), 0, atol=1e-12)
    var = x.var(axis=axes)
    np.testing.assert_allclose(plain.var(axis=axes), var / (var + EPS), rtol=1e-12)


def test_running_statistics_after_three_steps_by_hand():
    bn = nn.BatchNorm1d(1)
    # batch 1: mean 2, biased var 1 (used to normalise), unbiased var 2 (goes into running_var)
    out = bn(np.array([[1.0], [3.0]], np.float32))
    np.testing.assert_allclose(out.data.ravel(), [-1 / np.sqrt(1 + EPS), 1 / np.sqrt(1 + EPS)], rtol=1e-6)
    np.testing.assert_allclose(bn.running_mean.data, [0.9 * 0 + 0.1 * 2], rtol=1e-6)       # 0.2
    np.testing.assert_allclose(bn.running_var.data, [0.9 * 1 + 0.1 * 2], rtol=1e-6)        # 1.1
    # batch 2: [0, 0, 6]: mean 2, unbiased var (4 + 4 + 16) / 2 = 12
    bn(np.array([[0.0], [0.0], [6.0]], np.float32))
    np.testing.assert_allclose(bn.running_mean.data, [0.9 * 0.2 + 0.1 * 2], rtol=1e-6)     # 0.38
    np.testing.assert_allclose(bn.running_var.data, [0.9 * 1.1 + 0.1 * 12], rtol=1e-6)     # 2.19
    # batch 3 of shape (N, C, L) = (1, 1, 4): [-1, 1, -1, 1] over N and L: mean 0, unbiased var 4/3
    bn(np.array([[[-1.0, 1.0, -1.0, 1.0]]], np.float32))
    np.testing.assert_allclose(bn.running_mean.data, [0.9 * 0.38], rtol=1e-6)               # 0.342
    np.testing.assert_allclose(bn.running_var.data, [0.9 * 2.19 + 0.1 * 4 / 3], rtol=1e-6)  # 2.10433
    assert bn.num_batches_tracked.item() == 3
    assert bn.running_mean.dtype == np.float32 and bn.running_var.dtype == np.float32
    # eval: the running statistics, with weight and bias
    bn.eval()
    bn.weight.data = np.array([2.0], np.float32)
    bn.bias.data = np.array([0.5], np.float32)
    out = bn(np.array([[1.0], [4.0]], np.float32))
    expected = (np.array([1.0, 4.0]) - 0.342) / np.sqrt(0.9 * 2.19 + 0.4 / 3 + EPS) * 2 + 0.5
    np.testing.assert_allclose(out.data.ravel(), expected, rtol=1e-6)
    assert bn.num_batches_tracked.item() == 3                          # eval does not count


def test_many_channels_and_length_running_stats_match_a_loop():
    bn = nn.BatchNorm1d(3, momentum=0.3)
    rm, rv = np.zeros(3), np.ones(3)
    for step in range(4):
        x = (RNG.standard_normal((5, 3, 2)) * (step + 1) + step).astype(np.float32)
        bn(x)
        flat = x.transpose(1, 0, 2).reshape(3, -1).astype(np.float64)  # channel, values
        rm = 0.7 * rm + 0.3 * flat.mean(axis=1)
        rv = 0.7 * rv + 0.3 * flat.var(axis=1, ddof=1)
    np.testing.assert_allclose(bn.running_mean.data, rm, rtol=1e-5)
    np.testing.assert_allclose(bn.running_var.data, rv, rtol=1e-5)


def test_momentum_none_is_the_cumulative_average():
    bn = nn.BatchNorm1d(1, momentum=None)
    for batch in ([[0.0], [2.0]], [[1.0], [3.0]], [[5.0], [7.0]]):    # means 1, 2, 6
        bn(np.array(batch, np.float32))
    np.testing.assert_allclose(bn.running_mean.data, [3.0], rtol=1e-6)
    np.testing.assert_allclose(bn.running_var.data, [2.0], rtol=1e-6)  # every unbiased var is 2


def test_functional_updates_ndarray_running_stats_in_place():
    rm, rv = np.zeros(2), np.ones(2)
    x = np.array([[1.0, 0.0], [3.0, 4.0]])
    F.batch_norm(x, rm, rv, training=True, momentum=0.5)
    np.testing.assert_allclose(rm, [1.0, 1.0])
    np.testing.assert_allclose(rv, [0.5 + 0.5 * 2.0, 0.5 + 0.5 * 8.0])
    out = F.batch_norm(x, rm, rv)                                       # training=False
    np.testing.assert_allclose(out.data, (x - rm) / np.sqrt(rv + EPS), rtol=1e-12)


def test_no_running_stats_uses_batch_statistics_in_eval():
    bn = nn.BatchNorm1d(2, track_running_stats=False, affine=False)
    assert bn.state_dict() == {} and list(bn.parameters()) == [] and bn.running_mean is None
    x = RNG.standard_normal((6, 2)) * 4
    bn.eval()
    np.testing.assert_allclose(bn(x).data, bn_by_hand(x, np.ones(2), np.zeros(2)), rtol=1e-12)


def test_batch_norm_module_parameters_and_errors():
    bn = nn.BatchNorm1d(4)
    assert [n for n, _ in bn.named_parameters()] == ["weight", "bias"]
    np.testing.assert_array_equal(bn.weight.data, np.ones(4))
    np.testing.assert_array_equal(bn.bias.data, np.zeros(4))
    assert [n for n, _ in bn.named_buffers()] == ["running_mean", "running_var", "num_batches_tracked"]
    with pytest.raises(ValueError, match=r"expected input of shape \(N, 4\) or \(N, 4, L\), got \(2, 3\)"):
        bn(np.ones((2, 3)))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        bn(np.ones((1, 4)))
    assert bn.num_batches_tracked.item() == 0
    with pytest.raises(ValueError, match="running_mean and running_var are needed"):
        F.batch_norm(np.ones((2, 4)), None, None)
    with pytest.raises(ValueError, match="has 3 values for an input with 4 channels"):
        F.batch_norm(np.ones((2, 4)), np.zeros(3), np.ones(3))
    with pytest.raises(ValueError, match="momentum"):
        nn.BatchNorm1d(4, momentum=1.5)
    bn.eval()
    assert bn(np.ones((1, 4))).shape == (1, 4)                         # eval: one sample is fine


@pytest.mark.parametrize("shape", [(4, 3), (5, 2, 3), (2, 1), (3, 1, 4)])
def test_batch_norm_training_gradcheck(shape):
    x = ag.tensor(RNG.standard_normal(shape) * 2 + 1, requires_grad=True)
    w = ag.tensor(RNG.standard_normal(shape[1]), requires_grad=True)
    b = ag.tensor(RNG.standard_normal(shape[1]), requires_grad=True)
    up = RNG.standard_normal(shape)                  # a random output weighting, not just sum
    assert ag.gradcheck(lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True) * up, (x, w, b))
    assert ag.gradcheck(lambda x: F.batch_norm(x, None, None, training=True) * up, (x,))


def test_batch_norm_eval_gradcheck_and_second_order():
    x = ag.tensor(RNG.standard_normal((4, 3, 2)), requires_grad=True)
    w = ag.tensor(RNG.standard_normal(3), requires_grad=True)
    rm, rv = RNG.standard_normal(3), RNG.random(3) + 0.5
    assert ag.gradcheck(lambda x, w: F.batch_norm(x, rm, rv, w, None), (x, w))
    assert ag.gradgradcheck(lambda x, w: F.batch_norm(x, None, None, w, training=True), (x, w))


def test_batch_norm_backward_closed_form():
    # d out / d x of training batch norm: (g - mean(g) - x_hat * mean(g * x_hat)) / sqrt(var + eps)
    x = RNG.standard_normal((6, 3))
    g = RNG.standard_normal((6, 3))
    t = ag.tensor(x, requires_grad=True)
    (F.batch_norm(t, None, None, training=True) * g).sum().backward()
    var = x.var(axis=0)
    x_hat = (x - x.mean(axis=0)) / np.sqrt(var + EPS)
    expected = (g - g.mean(axis=0) - x_hat * (g * x_hat).mean(axis=0)) / np.sqrt(var + EPS)
    np.testing.assert_allclose(t.grad.data, expected, rtol=1e-9, atol=1e-12)


def test_float32_in_float32_out():
    bn = nn.BatchNorm1d(3)
    out = bn(ag.tensor(RNG.standard_normal((4, 3)).astype(np.float32), requires_grad=True))
    assert out.dtype == np.float32
    out.sum().backward()
    assert bn.weight.grad.dtype == np.float32
    bn.eval()
    assert bn(RNG.standard_normal((4, 3)).astype(np.float32)).dtype == np.float32


# ---------------------------------------------------------------- layer norm

def ln_by_hand(x, k, w=None, b=None, eps=EPS):
    axes = tuple(range(x.ndim - k, x.ndim))
    out = (x - x.mean(axis=axes, keepdims=True)) / np.sqrt(x.var(axis=axes, keepdims=True) + eps)
    return out * (1 if w is None else w) + (0 if b is None else b)


@pytest.mark.parametrize("shape,norm", [((2, 3, 4), (4,)), ((2, 3, 4), (3, 4)), ((5,), 5), ((3, 2), (3, 2))])
def test_layer_norm_forward_is_the_formula(shape, norm):
    x = RNG.standard_normal(shape) * 3 - 1
    k = 1 if isinstance(norm, int) else len(norm)
    ns = (norm,) if isinstance(norm, int) else norm
    w, b = RNG.standard_normal(ns), RNG.standard_normal(ns)
    np.testing.assert_allclose(F.layer_norm(x, norm, w, b).data, ln_by_hand(x, k, w, b), rtol=1e-12)
    np.testing.assert_allclose(F.layer_norm(x, norm).data, ln_by_hand(x, k), rtol=1e-12)


@pytest.mark.parametrize("shape,norm", [((2, 3, 4), (4,)), ((2, 3, 4), (3, 4)), ((5,), (5,)), ((4, 1), (1,))])
def test_layer_norm_gradcheck(shape, norm):
    x = ag.tensor(RNG.standard_normal(shape), requires_grad=True)
    w = ag.tensor(RNG.standard_normal(norm), requires_grad=True)
    b = ag.tensor(RNG.standard_normal(norm), requires_grad=True)
    up = RNG.standard_normal(shape)
    assert ag.gradcheck(lambda x, w, b: F.layer_norm(x, norm, w, b) * up, (x, w, b))


def test_layer_norm_module():
    ln = nn.LayerNorm((3, 4))
    assert ln.weight.shape == (3, 4) and ln.bias.shape == (3, 4)
    x = RNG.standard_normal((2, 3, 4)).astype(np.float32)
    out = ln(x)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.data, ln_by_hand(x.astype(np.float64), 2), rtol=1e-5, atol=1e-6)
    ln.eval()
    np.testing.assert_array_equal(ln(x).data, out.data)           # no running state
    assert list(nn.LayerNorm(4, elementwise_affine=False).parameters()) == []
    assert [n for n, _ in nn.LayerNorm(4, bias=False).named_parameters()] == ["weight"]
    with pytest.raises(ValueError, match=r"last 2 axes must have shape \(3, 4\), got input of shape"):
        ln(np.ones((2, 4, 3)))
    assert repr(nn.LayerNorm(4)).startswith("LayerNorm((4,), eps=1e-05, elementwise_affine=True)")


def test_integer_inputs_become_the_default_float_dtype():
    x = np.arange(12).reshape(4, 3)
    bn = nn.BatchNorm1d(3)
    out = bn(x)
    assert out.dtype == np.float32 and bn.running_mean.dtype == np.float32
    np.testing.assert_allclose(out.data, bn_by_hand(x.astype(np.float64), np.ones(3), np.zeros(3)), rtol=1e-5)
    assert nn.LayerNorm(3)(x).dtype == np.float32
    assert F.dropout(x, 0.5, rng=0).dtype == np.float32


def test_layer_norm_second_order_gradcheck():
    x = ag.tensor(RNG.standard_normal((3, 4)), requires_grad=True)
    w = ag.tensor(RNG.standard_normal(4), requires_grad=True)
    assert ag.gradgradcheck(lambda x, w: F.layer_norm(x, 4, w), (x, w))
