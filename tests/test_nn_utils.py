import math

import numpy as np
import pytest

import autograd as ag
import nn
from nn.utils import clip_grad_norm_, grad_norms


def with_grads(*grads):
    ps = [nn.Parameter(np.zeros_like(np.asarray(g, np.float32))) for g in grads]
    for p, g in zip(ps, grads):
        p.grad = ag.tensor(np.asarray(g, np.float32))
    return ps


def test_clip_returns_total_norm_and_scales():
    ps = with_grads([3.0, 0.0], [[4.0]])
    ids = [id(p.grad) for p in ps]
    total = clip_grad_norm_(ps, 1.0)
    assert total == pytest.approx(5.0)
    coef = 1.0 / (5.0 + 1e-6)
    np.testing.assert_allclose(ps[0].grad.data, [3.0 * coef, 0.0], rtol=1e-6)
    np.testing.assert_allclose(ps[1].grad.data, [[4.0 * coef]], rtol=1e-6)
    assert [id(p.grad) for p in ps] == ids          # the same grad tensors, changed in place
    assert ps[0].grad.dtype == np.float32
    new_total = math.sqrt(sum(float((p.grad.data ** 2).sum()) for p in ps))
    assert new_total == pytest.approx(1.0, rel=1e-5)


def test_clip_leaves_small_gradients_alone_and_skips_none():
    ps = with_grads([0.3, 0.4])
    ps.append(nn.Parameter([1.0]))          # grad None
    assert clip_grad_norm_(ps, 1.0) == pytest.approx(0.5)
    np.testing.assert_allclose(ps[0].grad.data, [0.3, 0.4])
    assert ps[1].grad is None


def test_clip_accepts_module_and_generator():
    d = nn.Dense(2, 1, rng=0)
    d(np.array([[100.0, 100.0]], np.float32)).sum().backward()
    expected = math.sqrt(100.0 ** 2 * 2 + 1)
    assert clip_grad_norm_(d.parameters(), 0.1) == pytest.approx(expected, rel=1e-6)
    assert clip_grad_norm_(d, 10.0) == pytest.approx(0.1, rel=1e-4)


def test_grad_norms_per_named_parameter():
    d = nn.Dense(2, 3, rng=0)
    x = np.array([[3.0, 4.0]], np.float32)
    d(x).sum().backward()
    norms = grad_norms(d)
    assert set(norms) == {"weight", "bias"}
    assert norms["weight"] == pytest.approx(5.0 * math.sqrt(3))
    assert norms["bias"] == pytest.approx(math.sqrt(3))
    d.bias.grad = None
    assert list(grad_norms(d)) == ["weight"]
    assert all(isinstance(v, float) for v in norms.values())


def test_clip_grad_norm_scales_as_pytorch_at_the_threshold():
    p = ag.tensor([0.0, 0.0], dtype=np.float64, requires_grad=True)
    p.grad = ag.tensor([1.0, 0.0], dtype=np.float64)
    assert clip_grad_norm_([p], 1.0) == 1.0                 # exactly max_norm: PyTorch still scales
    np.testing.assert_allclose(p.grad.data, [1.0 / (1.0 + 1e-6), 0.0], rtol=1e-15)
    p.grad = ag.tensor([0.5, 0.0], dtype=np.float64)
    clip_grad_norm_([p], 1.0)                               # clearly below: untouched
    np.testing.assert_array_equal(p.grad.data, [0.5, 0.0])
