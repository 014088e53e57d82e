"""Attacks on the backward pass's newest parts (leaf gradients gathered and stored at the end,
locks unlocked in batches, `_run_chain`), the cached constants and SGD's cached rate. Each test
failed before its fix."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import autograd as ag

# ---------------------------------------------------------------- .data replaced mid-pass

def _replace_mid_pass() -> tuple:
    """w saved by `w * w`; a hook on a later tensor replaces w's value during the pass."""
    w = ag.tensor([1.0, 2.0], dtype=np.float64, requires_grad=True)
    y = ag.exp(w * w)

    def hook(g: Any) -> None:
        w.data = np.array([10.0, 20.0])
    y.register_hook(hook)
    return w, y.sum()


def test_data_replaced_by_a_hook_during_a_differentiable_pass_is_refused() -> None:
    # the multiply's rule reads w itself when create_graph=True: it read the new value and
    # gave 10x the gradient, silently (the pass read the mutation clock once, before the hook)
    w, loss = _replace_mid_pass()
    with pytest.raises(RuntimeError, match="'multiply'.*modified after it was saved"):
        ag.grad(loss, w, create_graph=True)


def test_data_replaced_by_a_hook_during_a_first_order_pass_is_refused() -> None:
    w, loss = _replace_mid_pass()
    with pytest.raises(RuntimeError, match="'multiply'.*modified after it was saved"):
        loss.backward()
    assert w.grad is None


def test_data_replaced_by_a_custom_backward_during_the_pass_is_refused() -> None:
    w = ag.tensor([1.0, 2.0], dtype=np.float64, requires_grad=True)

    class Replace(ag.Function):
        @staticmethod
        def forward(ctx: Any, x: np.ndarray) -> np.ndarray:
            return x * 2

        @staticmethod
        def backward(ctx: Any, g: np.ndarray) -> np.ndarray:
            w.data = np.array([10.0, 20.0])
            return g * 2

    loss = Replace.apply(ag.sin(w * w) * 1.5).sum()
    with pytest.raises(RuntimeError, match="modified after it was saved"):
        loss.backward()


# ---------------------------------------------------------------- a failing pass

def test_a_failing_pass_stores_no_gradient_for_a_leaf_with_a_hook() -> None:
    # a leaf with hooks goes through the loop and was added into .grad in its turn, while the
    # others wait for the end: a pass that failed later left the one gradient stored
    b = ag.tensor([1.0, 2.0], dtype=np.float64, requires_grad=True)
    a = ag.tensor([3.0, 4.0], dtype=np.float64, requires_grad=True)
    c = ag.sin(b)
    seen = []
    a.register_hook(seen.append)        # a's leaf node is newer than sin's: reached first
    loss = (a * c).sum()

    def stop(g: Any) -> None:
        raise KeyError("stop")
    handle = c.register_hook(stop)
    with pytest.raises(KeyError):
        loss.backward(retain_graph=True)
    assert len(seen) == 1 and a.grad is None and b.grad is None
    with pytest.raises(KeyError):      # a leaf the pass starts from, too
        ag.backward([loss, a], [None, np.ones(2)], retain_graph=True)
    assert a.grad is None and b.grad is None
    handle.remove()
    ag.backward([loss, a], [None, np.ones(2)])
    np.testing.assert_allclose(a.grad.numpy(), np.sin([1.0, 2.0]) + 1)
    np.testing.assert_allclose(b.grad.numpy(), np.cos([1.0, 2.0]) * [3.0, 4.0])


# ---------------------------------------------------------------- a custom backward's arrays

class _HalfSquare(ag.Function):
    """sum(x^2) / 2, whose gradient is x itself: backward returns the saved input."""

    @staticmethod
    def forward(ctx: Any, x: np.ndarray) -> np.ndarray:
        ctx.save_for_backward(x)
        return (x * x).sum() / 2

    @staticmethod
    def backward(ctx: Any, g: np.ndarray) -> np.ndarray:
        (x,) = ctx.saved_arrays
        return x if g == 1 else g * x


class _Dot(ag.Function):
    """sum(x * c), c an ndarray argument: backward returns the saved c."""

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, c: np.ndarray) -> np.ndarray:
        ctx.save_for_backward(c)
        return (x * c).sum()

    @staticmethod
    def backward(ctx: Any, g: np.ndarray) -> tuple:
        (c,) = ctx.saved_arrays
        return (c if g == 1 else g * c), None


def test_a_leaf_gradient_returned_as_the_leaf_s_own_array_is_copied() -> None:
    # the array backward returned became w.grad as it was: w.grad was w's own memory, and the
    # next backward added its gradient into it, doubling the parameter itself
    w = ag.tensor([1.0, 2.0], requires_grad=True)
    _HalfSquare.apply(w).backward()
    assert not np.shares_memory(w.grad.numpy(), w.numpy())
    _HalfSquare.apply(w).backward()
    assert w.tolist() == [1.0, 2.0] and w.grad.tolist() == [2.0, 4.0]


def test_a_saved_ndarray_returned_as_a_gradient_is_not_written() -> None:
    c = np.array([3.0, 4.0])
    v = ag.tensor([1.0, 1.0], dtype=np.float64, requires_grad=True)
    _Dot.apply(v, c).backward()
    _Dot.apply(v, c).backward()
    assert c.tolist() == [3.0, 4.0] and v.grad.tolist() == [6.0, 8.0]
    (gv,) = ag.grad(_Dot.apply(v, c), v)
    assert not np.shares_memory(gv.numpy(), c)


def test_a_differentiable_pass_copies_the_arrays_a_custom_backward_returns() -> None:
    c = np.array([3.0, 4.0])
    v = ag.tensor([1.0, 1.0], dtype=np.float64, requires_grad=True)
    (gv,) = ag.grad(_Dot.apply(v, c), v, create_graph=True)
    assert not np.shares_memory(gv._data, c)
    w = ag.tensor([1.0, 2.0], dtype=np.float64, requires_grad=True)
    _HalfSquare.apply(w).backward(create_graph=True)
    assert not np.shares_memory(w.grad._data, w._data)


# ---------------------------------------------------------------- a leaf's value reshaped

def test_an_old_grad_is_not_broadcast_into_a_leaf_whose_value_changed_shape() -> None:
    # w.grad (1,) from before w.data became (4,): the sum broadcast it, [3] -> [4, 4, 4, 4]
    for create_graph in (False, True):
        w = ag.tensor(np.array([1.0]), requires_grad=True)
        (w * 3.0).sum().backward(create_graph=create_graph)
        w.data = np.zeros(4)
        with pytest.raises(RuntimeError, match=r"\.grad of shape \(1,\) and a new gradient of shape \(4,\)"):
            (w * 1.0).sum().backward(create_graph=create_graph)
        w.grad = None
        (w * 1.0).sum().backward()
        assert w.grad.tolist() == [1.0] * 4


def test_a_leaf_reshaped_after_the_forward_pass_is_named_in_the_error() -> None:
    w = ag.tensor(np.ones(3), requires_grad=True)
    loss = (w * 2.0).sum()
    w.data = np.zeros(5)
    with pytest.raises(RuntimeError, match=r"shape \(3,\), the leaf's shape when the graph was recorded"):
        loss.backward()
