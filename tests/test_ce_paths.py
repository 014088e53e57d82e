"""softmax_cross_entropy's forward and first-order rule against closed forms, for each
reduction, 2-D and 3-D logits, float16/32/64, and row indices shared between calls of
different batch sizes (ops._rows)."""

import numpy as np
import pytest

import autograd as ag


def _softmax(x):
    z = np.exp(x - x.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("shape", [(5, 4), (2, 3, 4), (4,)])
def test_loss_and_gradient_closed_form_float64(reduction, shape):
    rng = np.random.default_rng(1)
    xv = rng.standard_normal(shape)
    lab = rng.integers(0, shape[-1], shape[:-1])
    x = ag.tensor(xv, requires_grad=True)
    out = ag.softmax_cross_entropy(x, lab, reduction)
    p = _softmax(xv)
    onehot = np.eye(shape[-1])[lab]
    per = -np.log((p * onehot).sum(axis=-1))
    n = max(per.size, 1)
    want = {"none": per, "mean": per.sum() / n, "sum": per.sum()}[reduction]
    np.testing.assert_allclose(out.numpy(), want, rtol=1e-12)
    seed = np.arange(1.0, per.size + 1).reshape(per.shape) if reduction == "none" else 1.0
    out.backward(ag.tensor(np.asarray(seed, np.float64)))
    scale = {"none": np.asarray(seed)[..., None], "mean": 1.0 / n, "sum": 1.0}[reduction]
    np.testing.assert_allclose(x.grad.numpy(), (p - onehot) * scale, rtol=1e-12, atol=1e-15)
    assert x.grad.shape == shape
    assert ag.gradcheck(lambda t: ag.softmax_cross_entropy(t, lab, reduction).sum(), [x])


@pytest.mark.parametrize("dtype", [np.float16, np.float32])
def test_low_precision_mean_sums_the_narrowed_losses_in_float32(dtype):
    rng = np.random.default_rng(2)
    xv = rng.standard_normal((7, 3)).astype(dtype)
    lab = rng.integers(0, 3, 7)
    x = ag.tensor(xv, requires_grad=True)
    out = ag.softmax_cross_entropy(x, lab, "mean")
    assert out.dtype == dtype
    x32 = xv.astype(np.float32)
    m = x32.max(axis=1, keepdims=True)
    s = np.exp(x32 - m).sum(axis=1)
    per = ((m[:, 0] - x32[np.arange(7), lab]) + np.log(s)).astype(dtype)
    want = (per.astype(np.float32).sum() / np.float32(7)).astype(dtype)
    np.testing.assert_allclose(out.numpy(), want, rtol=1e-6)
    out.backward()
    assert x.grad.dtype == dtype
    p = _softmax(x32.astype(np.float64))
    np.testing.assert_allclose(x.grad.numpy().astype(np.float64),
                               (p - np.eye(3)[lab]) / 7, atol=2e-3 if dtype == np.float16 else 1e-6)


def test_batches_of_several_sizes_share_row_indices_without_mixing_them():
    rng = np.random.default_rng(3)
    for n in (3, 5, 3, 1, 5):
        xv = rng.standard_normal((n, 4))
        lab = rng.integers(0, 4, n)
        x = ag.tensor(xv, requires_grad=True)
        ag.softmax_cross_entropy(x, lab, "sum").backward()
        np.testing.assert_allclose(x.grad.numpy(), _softmax(xv) - np.eye(4)[lab], rtol=1e-12)
    with pytest.raises(ValueError, match="out of range"):
        ag.softmax_cross_entropy(ag.tensor(np.zeros((2, 4))), np.array([1, -1]))
    with pytest.raises(ValueError, match="out of range"):
        ag.softmax_cross_entropy(ag.tensor(np.zeros((2, 4))), np.array([4, 0]))
