"""Third adversarial round: PyTorch's `t.transpose(d0, d1)` (swap two axes) written against
chainrule's NumPy `transpose(*axes)` (a permutation). On a 2-d tensor `t.transpose(0, 1)` is
NumPy's identity permutation: a PyTorch habit silently did nothing (on a square matrix no shape
error ever shows it). On other ranks NumPy said only "axes don't match array"."""

import warnings

import numpy as np
import pytest

import autograd as ag


@pytest.mark.parametrize("axes", [(0, 1), (-2, -1), (0, -1), (-2, 1)])
def test_transpose_0_1_of_a_matrix_warns_that_it_changes_nothing(axes):
    w = ag.tensor(np.arange(4.0).reshape(2, 2), requires_grad=True)
    with pytest.warns(UserWarning, match=r"identity permutation.*swapaxes"):
        out = w.transpose(*axes)
    assert np.array_equal(out.data, w.data)       # NumPy's meaning is kept


@pytest.mark.parametrize("call", [lambda w: w.transpose(1, 0), lambda w: w.transpose(),
                                  lambda w: w.transpose((0, 1)), lambda w: w.swapaxes(0, 1),
                                  lambda w: ag.transpose(w, (0, 1)), lambda w: w.T])
def test_unambiguous_spellings_do_not_warn(call):
    w = ag.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        call(w)


@pytest.mark.parametrize("shape, axes", [((2, 3, 4), (1, 2)), ((2, 3, 4), (-2, -1)), ((3,), (0, 0)),
                                         ((2, 3, 4, 5), (0, 3))])
def test_two_axes_of_another_rank_name_swapaxes(shape, axes):
    x = ag.tensor(np.zeros(shape))
    with pytest.raises(ValueError) as err:
        x.transpose(*axes)
    msg = str(err.value)
    assert f"swapaxes({axes[0]}, {axes[1]})" in msg and str(shape) in msg


def test_a_full_permutation_still_works_with_gradients():
    x = ag.tensor(np.random.default_rng(0).standard_normal((2, 3, 4)), requires_grad=True)
    assert x.transpose(2, 0, 1).shape == (4, 2, 3)
    assert ag.gradcheck(lambda t: t.transpose(1, 2, 0) * 2.0, (x,))
