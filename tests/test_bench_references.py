"""The hand-written references of bench/workloads.py compute what chainrule computes: W5's
gradients, and W6's Hessian-vector product by the R-operator (also against finite differences)."""

import sys
from pathlib import Path

import numpy as np
import pytest

import autograd as ag
import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
import workloads as wl  # noqa: E402

SMALL = [12, 7, 5, 4]


def test_makemore_hand_gradients_match_chainrule():
    X, Y, params = wl.makemore_data(16, np.float64, seed=3)
    X[:4] = X[0]                             # repeated contexts: the embedding's rows add up
    loss, grads = wl.makemore_grads(X, Y, params)
    ts = [ag.tensor(p, requires_grad=True) for p in params]
    C, W1, b1, W2, b2 = ts
    h = ag.affine(C[X].reshape(len(Y), -1), W1, b1, activation="tanh")
    out = nn.functional.cross_entropy(ag.affine(h, W2, b2), Y)
    out.backward()
    assert out.item() == pytest.approx(loss, rel=1e-12)
    for t, g in zip(ts, grads):
        np.testing.assert_allclose(t.grad.data, g, rtol=1e-10, atol=1e-13)
    assert np.abs(grads[0]).max() > 0


def test_makemore_steps_agree():
    """The hand-written and chainrule W5 steps give the same losses over several steps."""
    a, b = wl.numpy_makemore(32), wl.chainrule_makemore(32)
    losses = [(a(), b()) for _ in range(5)]
    assert losses[-1][0] < losses[0][0]
    for la, lb in losses:
        assert la == pytest.approx(lb, rel=2e-5)


def test_mlp_gradient_by_hand_matches_chainrule():
    x, y, params, _ = wl.hvp_data(6, np.float64, sizes=SMALL)
    loss, grads = wl.mlp_loss_grad(x, y, params)
    ts = [ag.tensor(p, requires_grad=True) for p in params]
    out = wl.chainrule_loss(x, y)(*ts)
    out.backward()
    assert out.item() == pytest.approx(loss, rel=1e-12)
    for t, g in zip(ts, grads):
        np.testing.assert_allclose(t.grad.data, g, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_rop_hvp_matches_finite_differences(seed):
    x, y, params, v = wl.hvp_data(6, np.float64, seed=seed, sizes=SMALL)
    hv = wl.rop_hvp(x, y, params, v)
    eps = 1e-5
    plus = wl.mlp_loss_grad(x, y, [p + eps * u for p, u in zip(params, v)])[1]
    minus = wl.mlp_loss_grad(x, y, [p - eps * u for p, u in zip(params, v)])[1]
    for r, gp, gm in zip(hv, plus, minus):
        np.testing.assert_allclose(r, (gp - gm) / (2 * eps), rtol=1e-5, atol=1e-8)
    assert max(np.abs(r).max() for r in hv) > 1e-3


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-10), (np.float32, 2e-3)])
def test_rop_hvp_matches_functional_hvp(dtype, rtol):
    x, y, params, v = wl.hvp_data(8, dtype, seed=4, sizes=SMALL)
    hv = wl.rop_hvp(x, y, params, v)
    _, ours = ag.functional.hvp(wl.chainrule_loss(x, y), tuple(ag.tensor(p) for p in params),
                                tuple(ag.tensor(u) for u in v))
    for r, o in zip(hv, ours):
        assert o.dtype == dtype
        scale = np.abs(r).max()
        np.testing.assert_allclose(o.data, r, rtol=rtol, atol=rtol * scale)


def test_w6_workload_at_full_size_agrees():
    """The benchmark's own float32 HVP steps (784-256-256-10) agree with each other."""
    ref, ours = wl.numpy_hvp(8)(), wl.chainrule_hvp(8)()
    for r, o in zip(ref, ours):
        assert o.dtype == np.float32
        np.testing.assert_allclose(o.data, r, rtol=1e-3, atol=1e-3 * np.abs(r).max())
