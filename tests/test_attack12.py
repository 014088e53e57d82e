"""Attacks on the scoped recording mode, the storing of leaf gradients and custom Functions'
dated outputs. Each test failed before its fix."""

from __future__ import annotations

import numpy as np
import pytest

import autograd as ag

# ---------------------------------------------------------------- a leaf reshaped and used again


def test_leaf_reshaped_and_used_again_refuses_the_old_graph() -> None:
    # the old graph's gradient (shape (3,)) was summed to the leaf's new shape (1,): [6.]
    a = ag.tensor([1.0, 2.0, 3.0], requires_grad=True)
    old = (a * 2.0).sum()
    a.data = np.array([5.0], dtype=np.float32)
    new = (a * 3.0).sum()
    with pytest.raises(RuntimeError, match="'multiply' was recorded when its input.*another shape"):
        old.backward()
    assert a.grad is None
    with pytest.raises(RuntimeError, match="another shape"):
        ag.grad(old, a)
    new.backward()
    assert a.grad.tolist() == [3.0]


def test_leaf_grown_and_used_again_refuses_the_old_graph() -> None:
    # the old graph's gradient of a (1,) leaf broadcast to (3,) reached the (3,) leaf whole
    a = ag.tensor([1.0], requires_grad=True)
    old = (a * ag.ones(3)).sum()
    a.data = np.ones(3, dtype=np.float32)
    new = (a * 1.0).sum()
    with pytest.raises(RuntimeError, match="another shape"):
        old.backward()
    assert a.grad is None
    new.backward()
    assert a.grad.tolist() == [1.0, 1.0, 1.0]


def test_leaf_cast_and_used_again_keeps_the_old_graph() -> None:
    a = ag.tensor([1.0, 2.0, 3.0], requires_grad=True)
    old = (a * 2.0).sum()
    a.data = a.data.astype(np.float64)      # another dtype only: the old graph's gradient is cast
    new = (a * 1.0).sum()
    old.backward()
    new.backward()
    assert a.grad.dtype == np.float64 and a.grad.tolist() == [3.0, 3.0, 3.0]
