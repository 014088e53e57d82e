"""Labels that do not fit cross-entropy's logits: the error names the likely fix."""

import numpy as np
import pytest

import autograd as ag
import nn.functional as F

LOGITS = ag.tensor(np.random.default_rng(0).standard_normal((4, 3)), requires_grad=True)


@pytest.mark.parametrize("dtype, error", [(np.float64, TypeError), (np.int64, ValueError)])
def test_one_hot_targets_name_argmax(dtype, error):
    one_hot = np.eye(3, dtype=dtype)[[0, 2, 1, 1]]
    with pytest.raises(error, match=r"one-hot or probability targets.*labels\.argmax\(axis=-1\)"):
        F.cross_entropy(LOGITS, one_hot)
    loss = F.cross_entropy(LOGITS, one_hot.argmax(axis=-1))     # the fix works
    assert np.isfinite(loss.item())


def test_pytorchs_class_axis_names_the_transpose_that_moves_it_last():
    logits = ag.tensor(np.random.default_rng(1).standard_normal((2, 3, 5)))
    labels = np.random.default_rng(2).integers(0, 3, (2, 5))
    with pytest.raises(ValueError, match=r"not on axis 1 as in PyTorch.*logits\.transpose\(0, 2, 1\)"):
        F.cross_entropy(logits, labels)
    per_position = F.cross_entropy(logits.transpose(0, 2, 1), labels, reduction="none")
    x = logits.numpy()
    expected = [[-np.log(np.exp(x[n, :, j]) / np.exp(x[n, :, j]).sum())[labels[n, j]]
                 for j in range(5)] for n in range(2)]
    np.testing.assert_allclose(per_position.numpy(), expected, rtol=1e-6)


def test_a_column_of_labels_names_the_reshape():
    with pytest.raises(ValueError, match=r"last axis of size 1: labels\.reshape\(\(4,\)\)"):
        F.cross_entropy(LOGITS, np.array([[0], [2], [1], [1]]))


def test_float_class_indices_still_say_to_convert_them():
    with pytest.raises(TypeError, match=r"got dtype float64; pass integers"):
        F.cross_entropy(LOGITS, np.array([0.0, 2.0, 1.0, 1.0]))
