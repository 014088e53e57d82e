"""Assigning a plain Tensor over a registered parameter raises (it silently dropped the parameter
from parameters(), state_dict() and checkpoints); the ways that keep it registered work."""

import numpy as np
import pytest

import autograd as ag
import nn


def test_plain_tensor_over_a_parameter_raises_and_keeps_it_registered():
    d = nn.Dense(3, 2, rng=0)
    before = d.weight
    with pytest.raises(TypeError, match=r"Dense\.weight.*nn\.Parameter\(value\).*del"):
        d.weight = ag.tensor(np.zeros((3, 2)), requires_grad=True)
    with pytest.raises(TypeError, match="Dense.bias"):
        d.bias = np.zeros(2)
    assert d.weight is before
    assert [n for n, _ in d.named_parameters()] == ["weight", "bias"]
    assert set(d.state_dict()) == {"weight", "bias"}


def test_the_ways_that_keep_or_drop_it_explicitly():
    d = nn.Dense(3, 2, rng=0)
    d.weight = nn.Parameter(np.ones((3, 2), np.float32))        # replaced, still registered
    assert [n for n, _ in d.named_parameters()] == ["weight", "bias"]
    np.testing.assert_array_equal(d.state_dict()["weight"], np.ones((3, 2)))
    del d.bias                                                   # explicit: now a plain attribute
    d.bias = ag.tensor(np.zeros(2, np.float32))
    assert [n for n, _ in d.named_parameters()] == ["weight"]
    y = d(ag.tensor(np.ones((1, 3), np.float32)))
    np.testing.assert_allclose(y.data, [[3.0, 3.0]])


def test_none_still_unregisters_as_before():
    d = nn.Dense(3, 2, rng=0)
    d.bias = None
    assert [n for n, _ in d.named_parameters()] == ["weight"]
