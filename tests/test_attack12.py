"""Attacks on the scoped recording mode, the storing of leaf gradients and custom Functions'
dated outputs. Each test failed before its fix."""

from __future__ import annotations

from typing import Any

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


# ---------------------------------------------------------------- a failed store, any kind of pass

def _watched(kind: str) -> tuple:
    """(backward's keyword arguments, the context the pass runs in)."""
    if kind == "create_graph":
        return {"create_graph": True}, ag.enable_grad()
    if kind == "record_grad_norms":
        return {}, ag.record_grad_norms()
    return {}, ag.detect_anomaly()


@pytest.mark.parametrize("kind", ["create_graph", "record_grad_norms", "detect_anomaly"])
@pytest.mark.parametrize("replace", [lambda: np.ones(3, np.float32), lambda: np.ones(2, np.int64)])
def test_a_failed_store_of_a_watched_or_differentiable_pass_stores_nothing(kind: str, replace: Any) -> None:
    # only the plain first-order pass checked every leaf before storing any: a pass that is
    # watched (detect_anomaly, record_grad_norms, a Monitor) or differentiable stored each leaf
    # as it was reached, so c got its gradient before b raised, and a retry added it twice
    a, b, c = (ag.tensor(np.ones(2, np.float32), requires_grad=True, name=n) for n in "abc")
    loss = (a * 2.0 + b + c * 3.0).sum()
    good = b.data
    b.data = replace()
    kwargs, context = _watched(kind)
    with context, pytest.raises(RuntimeError, match="replaced"):
        loss.backward(retain_graph=True, **kwargs)
    assert a.grad is None and b.grad is None and c.grad is None
    b.data = good
    with context:
        loss.backward(**kwargs)
    assert a.grad.tolist() == [2.0, 2.0] and b.grad.tolist() == [1.0, 1.0]
    assert c.grad.tolist() == [3.0, 3.0]


def test_a_differentiable_pass_casts_an_old_grad_to_the_leafs_new_dtype() -> None:
    # the grad setter refused the float64 sum for the float32 leaf after the other leaves got
    # theirs; a first-order pass adds into the old .grad
    a = ag.tensor(np.ones(2), dtype=np.float64, requires_grad=True)
    b = ag.tensor(np.ones(2), dtype=np.float64, requires_grad=True)
    (a * b).sum().backward()
    a.data = a.data.astype(np.float32)
    (a * 3.0 + b).sum().backward(create_graph=True)
    assert a.grad.dtype == np.float32 and a.grad.tolist() == [4.0, 4.0]
    assert b.grad.tolist() == [2.0, 2.0]


# ---------------------------------------------------------------- a differentiable pass's seed


def test_a_differentiable_pass_never_makes_the_users_seed_a_leafs_grad() -> None:
    # x.grad was the seed tensor itself: an update of the seed (or zero_grad(set_to_none=False)
    # on x, writing into x.grad) changed the other silently; PyTorch clones it
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    seed = ag.tensor([1.0, 1.0], requires_grad=True)
    (x + 0.0).backward(seed, create_graph=True)
    assert x.grad is not seed and not np.shares_memory(x.grad.data, seed.data)
    with ag.no_grad():
        seed -= 1.0
    assert x.grad.tolist() == [1.0, 1.0]
    x.grad.sum().backward()                 # still differentiable with respect to the seed
    assert seed.grad.tolist() == [1.0, 1.0]
    import nn
    import optim
    w = nn.Parameter(np.array([3.0, 4.0], np.float32))
    v = nn.Parameter(np.array([5.0, 6.0], np.float32))
    (w * 1.0).backward(v, create_graph=True)
    optim.SGD([w], lr=0.1).zero_grad(set_to_none=False)
    assert v.tolist() == [5.0, 6.0] and w.grad.tolist() == [0.0, 0.0]
