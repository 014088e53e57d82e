import numpy as np
import pytest

import autograd as ag
import nn
import nn.functional as F

RNG = np.random.default_rng(0)


def t64(a, grad=True):
    return ag.tensor(np.asarray(a, np.float64), requires_grad=grad)


# -- MSE -----------------------------------------------------------------------------------

def test_mse_values_and_reductions():
    x = ag.tensor([1.0, 2.0, 4.0])
    y = np.array([0.0, 2.0, 1.0], np.float32)
    assert F.mse_loss(x, y).item() == pytest.approx(10 / 3)
    assert nn.MSELoss(reduction="sum")(x, y).item() == pytest.approx(10.0)
    np.testing.assert_allclose(nn.MSELoss(reduction="none")(x, y).data, [1.0, 0.0, 9.0])
    assert F.mse_loss(x, y).dtype == np.float32


def test_mse_keeps_float32_with_float64_target():
    assert F.mse_loss(ag.tensor([1.0, 2.0]), np.array([0.0, 0.0])).dtype == np.float32


def test_mse_gradient_closed_form_and_gradcheck():
    x = t64(RNG.standard_normal((4, 3)))
    y = RNG.standard_normal((4, 3))
    F.mse_loss(x, y).backward()
    np.testing.assert_allclose(x.grad.data, 2 * (x.data - y) / 12, rtol=1e-12)
    assert ag.gradcheck(lambda a: F.mse_loss(a, y, reduction="sum"), (x,))


def test_mse_shape_mismatch_is_refused():
    with pytest.raises(ValueError, match=r"\(4, 1\).*\(4,\)"):
        F.mse_loss(ag.zeros((4, 1)), np.zeros(4))


# -- cross-entropy -------------------------------------------------------------------------

def test_cross_entropy_values():
    logits = np.array([[2.0, 1.0, 0.1], [0.5, 2.5, 0.0]])
    labels = np.array([0, 2])
    logp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    per = -logp[[0, 1], labels]
    out = nn.CrossEntropyLoss(reduction="none")(ag.tensor(logits), labels)
    np.testing.assert_allclose(out.data, per, rtol=1e-12)
    assert F.cross_entropy(ag.tensor(logits), labels).item() == pytest.approx(per.mean())
    assert F.cross_entropy(ag.tensor(logits), labels, "sum").item() == pytest.approx(per.sum())


def test_cross_entropy_takes_pytorchs_argument_names():
    logits = np.array([[2.0, 1.0, 0.1], [0.5, 2.5, 0.0]])
    per = np.log(np.exp(logits).sum(1)) - logits[[0, 1], [1, 0]]
    out = F.cross_entropy(input=ag.tensor(logits), target=np.array([1, 0]), reduction="none")
    np.testing.assert_allclose(out.data, per, rtol=1e-12)
    loss = nn.CrossEntropyLoss(reduction="sum")(input=ag.tensor(logits), target=np.array([1, 0]))
    assert loss.item() == pytest.approx(per.sum())


def test_cross_entropy_gradient_is_softmax_minus_onehot():
    logits = t64(RNG.standard_normal((5, 4)))
    labels = np.array([0, 3, 1, 1, 2])
    F.cross_entropy(logits, labels).backward()
    p = np.exp(logits.data) / np.exp(logits.data).sum(1, keepdims=True)
    onehot = np.eye(4)[labels]
    np.testing.assert_allclose(logits.grad.data, (p - onehot) / 5, rtol=1e-10, atol=1e-14)
    assert ag.gradcheck(lambda z: F.cross_entropy(z, labels), (logits,))


def test_cross_entropy_is_one_node_before_reduction():
    out = F.cross_entropy(ag.zeros((2, 3), requires_grad=True), np.array([0, 1]), reduction="none")
    assert out.grad_fn.name == "softmax_cross_entropy"


def test_cross_entropy_stable_for_huge_logits():
    logits = ag.tensor([[1e4, 0.0], [0.0, 1e4]], requires_grad=True)
    loss = F.cross_entropy(logits, np.array([0, 0]), reduction="none")
    assert np.all(np.isfinite(loss.data))
    np.testing.assert_allclose(loss.data, [0.0, 1e4], rtol=1e-6)
    loss.sum().backward()
    np.testing.assert_allclose(logits.grad.data, [[0.0, 0.0], [-1.0, 1.0]], atol=1e-7)


def test_cross_entropy_accepts_label_tensors():
    loss = F.cross_entropy(ag.zeros((2, 4)), ag.tensor(np.array([1, 3])))
    assert loss.item() == pytest.approx(np.log(4), rel=1e-6)


def test_cross_entropy_label_out_of_range_names_value_and_classes():
    with pytest.raises(ValueError, match=r"label 10 is out of range for 10 classes.*0\.\.9"):
        F.cross_entropy(ag.zeros((3, 10)), np.array([1, 10, 2]))
    with pytest.raises(ValueError, match="label -1 is out of range for 3 classes"):
        F.cross_entropy(ag.zeros((2, 3)), np.array([-1, 0]))


def test_cross_entropy_wrong_label_shape_names_both_shapes():
    with pytest.raises(ValueError, match=r"labels of shape \(3, 1\).*logits of shape \(3, 5\)"):
        F.cross_entropy(ag.zeros((3, 5)), np.zeros((3, 1), np.int64))


def test_cross_entropy_float_labels_raise_type_error():
    with pytest.raises(TypeError, match="integer"):
        F.cross_entropy(ag.zeros((2, 3)), np.array([0.0, 1.0]))


def test_invalid_reduction_is_refused():
    with pytest.raises(ValueError, match="reduction must be one of 'mean', 'sum', 'none', got 'avg'"):
        nn.CrossEntropyLoss(reduction="avg")
    with pytest.raises(ValueError, match="reduction"):
        F.mse_loss(ag.zeros(2), np.zeros(2), reduction="max")


# -- binary cross-entropy -------------------------------------------------------------------

def bce_ref(p, y):
    return -(y * np.maximum(np.log(p), -100) + (1 - y) * np.maximum(np.log(1 - p), -100))


def test_bce_values():
    p = np.array([0.9, 0.2, 0.5, 0.7])
    y = np.array([1.0, 0.0, 1.0, 0.0])
    out = nn.BCELoss(reduction="none")(ag.tensor(p), y)
    np.testing.assert_allclose(out.data, bce_ref(p, y), rtol=1e-12)
    assert F.binary_cross_entropy(ag.tensor(p), y).item() == pytest.approx(bce_ref(p, y).mean())


def test_bce_clamps_log_at_minus_100_with_finite_gradient():
    p = ag.tensor([0.0, 1.0, 0.0, 1.0], requires_grad=True)
    y = np.array([1.0, 0.0, 0.0, 1.0], np.float32)
    with np.errstate(all="raise"):
        loss = F.binary_cross_entropy(p, y, reduction="none")
    np.testing.assert_allclose(loss.data, [100.0, 100.0, 0.0, 0.0])
    loss.sum().backward()
    assert np.all(np.isfinite(p.grad.data))


def test_bce_gradient_closed_form_and_gradcheck():
    p = t64(RNG.uniform(0.05, 0.95, 6))
    y = RNG.integers(0, 2, 6).astype(np.float64)
    F.binary_cross_entropy(p, y, reduction="sum").backward()
    np.testing.assert_allclose(p.grad.data, (p.data - y) / (p.data * (1 - p.data)), rtol=1e-10)
    assert ag.gradcheck(lambda a: F.binary_cross_entropy(a, y), (p,))


def test_bce_refuses_values_outside_unit_interval():
    with pytest.raises(ValueError, match="probabilities in \\[0, 1\\].*with_logits"):
        F.binary_cross_entropy(ag.tensor([1.5, 0.2]), np.array([1.0, 0.0]))
    with pytest.raises(ValueError, match="targets must lie in"):
        F.binary_cross_entropy(ag.tensor([0.5, 0.2]), np.array([2.0, 0.0]))


def test_bce_refuses_nan_probabilities_and_targets():
    y = np.array([1.0, 0.0, 1.0])
    with pytest.raises(ValueError, match=r"probabilities in \[0, 1\], got 1 NaN value\(s\).*with_logits"):
        F.binary_cross_entropy(ag.tensor([0.5, np.nan, 0.2], requires_grad=True), y)
    with pytest.raises(ValueError, match=r"input must be probabilities.*NaN"):
        nn.BCELoss()(np.array([np.nan, 0.5, 0.5]), y)
    with pytest.raises(ValueError, match=r"targets must lie in \[0, 1\], got 2 NaN value\(s\)"):
        F.binary_cross_entropy(ag.tensor([0.5, 0.2, 0.9]), np.array([np.nan, 0.0, np.nan]))
    # probabilities and targets in [0, 1] are still accepted
    assert F.binary_cross_entropy(ag.tensor([0.5, 0.25]), np.array([1.0, 0.0])).item() == \
        pytest.approx(-(np.log(0.5) + np.log(0.75)) / 2, rel=1e-6)


def test_bce_with_logits_matches_bce_of_sigmoid():
    x = RNG.standard_normal(8) * 3
    y = RNG.integers(0, 2, 8).astype(np.float64)
    p = 1 / (1 + np.exp(-x))
    out = nn.BCEWithLogitsLoss(reduction="none")(ag.tensor(x), y)
    np.testing.assert_allclose(out.data, bce_ref(p, y), rtol=1e-10)
    assert nn.BCEWithLogitsLoss()(ag.tensor(x), y).item() == pytest.approx(bce_ref(p, y).mean())


def test_bce_with_logits_stable_for_huge_logits():
    x = ag.tensor([1e4, -1e4, 1e4, -1e4, 0.0], requires_grad=True)
    y = np.array([1.0, 0.0, 0.0, 1.0, 1.0], np.float32)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        loss = F.binary_cross_entropy_with_logits(x, y, reduction="none")
        loss.sum().backward()
    np.testing.assert_allclose(loss.data, [0.0, 0.0, 1e4, 1e4, np.log(2)], rtol=1e-6)
    # gradient is sigmoid(x) - y everywhere, including x = 0
    np.testing.assert_allclose(x.grad.data, [0.0, 0.0, 1.0, -1.0, -0.5], atol=1e-7)


def test_bce_with_logits_gradcheck():
    x = t64(RNG.standard_normal((3, 2)) * 4)
    y = RNG.uniform(0, 1, (3, 2))
    assert ag.gradcheck(lambda a: F.binary_cross_entropy_with_logits(a, y, "sum"), (x,))
    xs = t64(RNG.standard_normal(4))
    F.binary_cross_entropy_with_logits(xs, np.ones(4)).backward()
    np.testing.assert_allclose(xs.grad.data, (1 / (1 + np.exp(-xs.data)) - 1) / 4, rtol=1e-10)


def test_loss_modules_have_no_parameters_and_read_well():
    assert list(nn.MSELoss().parameters()) == []
    assert repr(nn.CrossEntropyLoss()) == "CrossEntropyLoss()"
    assert repr(nn.BCELoss(reduction="sum")) == "BCELoss(reduction='sum')"


def test_bce_gradient_at_and_near_0_and_1_is_pytorchs():
    # (p - y) / max(p (1 - p), 1e-12): finite, and not zero where a confident prediction is wrong
    for dtype in (np.float64, np.float32):
        pv = np.array([0.0, 1.0, 1e-20, 1e-40, 1.0, 0.0, 0.3], dtype)
        y = np.array([1.0, 0.0, 1.0, 1.0, 1.0, 0.0, 1.0], dtype)
        p = ag.tensor(pv, requires_grad=True)
        F.binary_cross_entropy(p, y, reduction="sum").backward()
        want = (pv.astype(np.float64) - y) / np.maximum(pv * (1.0 - pv.astype(np.float64)), 1e-12)
        assert p.grad.dtype == dtype
        np.testing.assert_allclose(p.grad.data, want, rtol=1e-6)
        assert want[0] == -1e12 and want[1] == 1e12 and want[4] == 0 and want[5] == 0


def test_bce_target_gradient_and_second_derivatives():
    p = t64(RNG.uniform(0.05, 0.95, 5))
    y = t64(RNG.uniform(0.0, 1.0, 5))
    F.binary_cross_entropy(p, y, reduction="sum").backward()
    np.testing.assert_allclose(y.grad.data, np.log(1 - p.data) - np.log(p.data), rtol=1e-12)
    assert ag.gradcheck(lambda a, b: F.binary_cross_entropy(a, b), (p, y))
    assert ag.gradgradcheck(lambda a, b: F.binary_cross_entropy(a, b, reduction="sum"), (p, y))
    assert ag.binary_cross_entropy(p, y).shape == (5,)
