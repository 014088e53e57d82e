"""PyTorch's names in nn and optim: one_hot's `labels`, Module.apply / requires_grad_ /
add_module / register_parameter / float / double / get_submodule / get_parameter,
ModuleDict, ParameterList, ParameterDict, `opt.state[p]` before the first step, and
cross-entropy's mean over an empty batch. Values are checked, against PyTorch where it is
installed."""

from __future__ import annotations

import numpy as np
import pytest

import autograd as ag
import nn.functional as F

# ---------------------------------------------------------------- one_hot(labels, ...)


def test_one_hot_takes_labels_positionally_and_by_every_name():
    expected = [[0, 0, 1], [1, 0, 0]]
    assert F.one_hot(np.array([2, 0])).tolist() == expected
    assert F.one_hot(labels=np.array([2, 0])).tolist() == expected
    assert F.one_hot(tensor=np.array([2, 0])).tolist() == expected       # PyTorch's documented name
    assert F.one_hot(input=np.array([2, 0])).tolist() == expected        # PyTorch 2's keyword
    assert F.one_hot(indices=np.array([2, 0])).tolist() == expected      # the earlier name
    assert F.one_hot(labels=[1], num_classes=4).tolist() == [[0, 1, 0, 0]]
    assert F.one_hot(ag.tensor([[3]]), 4).data.tolist() == [[[0, 0, 0, 1]]]


@pytest.mark.parametrize("kwargs,match", [
    ({"labels": [1], "tensor": [1]}, "got 'labels' and 'tensor', names of one argument"),
    ({"input": [1], "indices": [1]}, "got 'input' and 'indices'"),
    ({}, r"needs the labels .*one_hot\(labels, num_classes=10\)"),
    ({"labels": [1], "num_classes": 2.0}, r"num_classes must be an int .*got 2.0 \(float\)"),
    ({"labels": [1], "num_classes": True}, "num_classes must be an int"),
])
def test_one_hot_bad_arguments_say_what_is_wrong(kwargs, match):
    with pytest.raises(TypeError, match=match):
        F.one_hot(**kwargs)


def test_one_hot_positional_and_keyword_together_is_refused():
    with pytest.raises(TypeError, match="got 'labels' and 'tensor'"):
        F.one_hot([1], tensor=[1])


def test_one_hot_matches_torch():
    torch = pytest.importorskip("torch")
    labels = np.array([[0, 3, 1], [2, 2, 0]])
    ours = F.one_hot(labels=labels, num_classes=5)
    theirs = torch.nn.functional.one_hot(torch.from_numpy(labels), num_classes=5)
    assert ours.dtype == np.int64
    np.testing.assert_array_equal(ours.data, theirs.numpy())
    np.testing.assert_array_equal(F.one_hot(labels).data,
                                  torch.nn.functional.one_hot(torch.from_numpy(labels)).numpy())
