"""split of an empty axis into equal sections gives empty pieces, as np.split."""

import numpy as np
import pytest

import autograd as ag


@pytest.mark.parametrize("sections", [1, 3])
def test_an_empty_axis_splits_into_empty_pieces(sections):
    x = ag.zeros((0, 3), requires_grad=True)
    pieces = ag.split(x, sections, axis=0)
    assert [p.shape for p in pieces] == [a.shape for a in np.split(np.zeros((0, 3)), sections)]
    ag.stack([p.sum() for p in pieces]).sum().backward()
    assert x.grad.shape == (0, 3)


def test_equal_sections_of_a_non_empty_axis_still_split():
    x = ag.tensor(np.arange(12.0).reshape(6, 2), requires_grad=True)
    pieces = ag.split(x, 3, axis=0)
    assert [p.numpy().tolist() for p in pieces] == [a.tolist() for a in np.split(x.numpy(), 3)]
    (pieces[1] * 2).sum().backward()
    assert x.grad.numpy().tolist() == [[0, 0], [0, 0], [2, 2], [2, 2], [0, 0], [0, 0]]
