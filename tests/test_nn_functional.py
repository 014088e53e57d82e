import numpy as np

import autograd as ag
import nn
import nn.functional as F


def test_thin_wrappers_match_numpy():
    z = np.linspace(-3, 3, 7)
    np.testing.assert_allclose(F.relu(z).data, np.maximum(z, 0))
    np.testing.assert_allclose(F.sigmoid(z).data, 1 / (1 + np.exp(-z)))
    np.testing.assert_allclose(F.tanh(z).data, np.tanh(z))
    np.testing.assert_allclose(F.leaky_relu(z, 0.1).data, np.where(z > 0, z, 0.1 * z))
    np.testing.assert_allclose(F.leaky_relu(z).data, np.where(z > 0, z, 0.01 * z))


def test_softmax_rows_sum_to_one():
    z = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    p = F.softmax(z).data
    np.testing.assert_allclose(p.sum(-1), [1.0, 1.0])
    np.testing.assert_allclose(p[1], [1 / 3] * 3)
    np.testing.assert_allclose(p[0], np.exp([1, 2, 3]) / np.exp([1, 2, 3]).sum())


def test_softmax_and_log_softmax_stable_for_huge_logits():
    z = ag.tensor([[1e4, 0.0, -1e4], [1e4, 1e4, 1e4 - 1.0]])       # float32
    p = F.softmax(z).data
    lp = F.log_softmax(z).data
    assert np.all(np.isfinite(p)) and np.all(np.isfinite(lp))
    np.testing.assert_allclose(p[0], [1.0, 0.0, 0.0], atol=1e-7)
    np.testing.assert_allclose(lp[0], [0.0, -1e4, -2e4], rtol=1e-6)
    e = np.exp(-1.0)
    np.testing.assert_allclose(p[1], [1 / (2 + e), 1 / (2 + e), e / (2 + e)], rtol=1e-6)
    # float32 spacing at 1e4 is ~1e-3, and ag.log_softmax forms x - (max + log-sum), so the
    # result is exact only to that spacing (see the report); in float64 it is exact
    want = np.log([1 / (2 + e), 1 / (2 + e), e / (2 + e)])
    np.testing.assert_allclose(lp[1], want, atol=2e-3)
    lp64 = F.log_softmax(ag.tensor(z.data.astype(np.float64))).data
    np.testing.assert_allclose(lp64[1], want, atol=1e-9)


def test_softmax_axis():
    z = np.array([[1.0, 2.0], [3.0, 5.0]])
    np.testing.assert_allclose(F.softmax(z, axis=0).data.sum(0), [1.0, 1.0])
    np.testing.assert_allclose(nn.Softmax(axis=0)(z).data, F.softmax(z, axis=0).data)


def test_log_softmax_gradcheck():
    x = ag.tensor(np.random.default_rng(0).standard_normal((3, 4)), requires_grad=True)
    w = np.random.default_rng(1).standard_normal((3, 4))
    assert ag.gradcheck(lambda t: (F.log_softmax(t) * w).sum(), (x,))
    assert ag.gradcheck(lambda t: (F.softmax(t, axis=0) * w).sum(), (x,))
