"""Attacks on tensor hooks (attack4): a hook's gradient of another real dtype takes the
tensor's dtype, on a leaf as on an operation's output (it reached a leaf's .grad setter and
raised 'grad must match the tensor', though nobody assigned .grad)."""

import numpy as np
import pytest

import autograd as ag


@pytest.mark.parametrize("where", ["leaf", "output"])
@pytest.mark.parametrize("make", [lambda g: g.data.astype(np.float32),
                                  lambda g: ag.tensor(g.data.astype(np.float32)),
                                  lambda g: np.round(g.data).astype(np.int64)])
@pytest.mark.parametrize("create_graph", [False, True])
def test_a_hook_returning_another_dtype(where, make, create_graph):
    x = ag.tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = x * 3
    (x if where == "leaf" else y).register_hook(make)
    (y * y).sum().backward(create_graph=create_graph)
    assert x.grad.dtype == np.float64
    np.testing.assert_array_equal(x.grad.data, [18.0, 36.0])
