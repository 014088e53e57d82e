"""Attacks on the one-call elementwise and arithmetic nodes, custom Functions' outputs, the
storing of leaf gradients and the newest Module methods and containers. Each test failed
before its fix."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import autograd as ag

# ---------------------------------------------------------------- a custom Function's output


class _Kept(ag.Function):
    """Returns a fresh array and keeps a reference to it (a cache, a log, a buffer reused)."""

    kept: list = []

    @staticmethod
    def forward(ctx: Any, x: np.ndarray) -> np.ndarray:
        out = x * 2
        _Kept.kept.append(out)
        return out

    @staticmethod
    def backward(ctx: Any, g: np.ndarray) -> np.ndarray:
        return g * 2


@pytest.mark.parametrize("later", [ag.sin, ag.log, lambda y: y * ag.tensor([3.0, 4.0], requires_grad=True)])
def test_function_output_kept_by_user_stays_locked_after_its_node_is_released(later: Any) -> None:
    # the Function's node locked its output, but a backward through that node released the
    # lock while a later node (sin, which saved the output as an operation's fresh output)
    # still read it: a write through the kept array changed sin's gradient silently
    _Kept.kept.clear()
    x = ag.tensor([0.5, 1.0], dtype=np.float64, requires_grad=True)
    y = _Kept.apply(x)
    z = later(y)
    y.sum().backward()                  # releases the Function's node only
    with pytest.raises(ValueError, match="read-only"):
        _Kept.kept[0][:] = 100.0
    g, = ag.grad(z.sum(), y)
    yv = np.array([1.0, 2.0])
    if later is ag.sin:
        assert np.allclose(g.data, np.cos(yv))
    elif later is ag.log:
        assert np.allclose(g.data, 1 / yv)
    else:
        assert np.allclose(g.data, [3.0, 4.0])
    _Kept.kept[0][:] = 100.0            # every node that saved it is released: writable again


# ---------------------------------------------------------------- storing the leaves' gradients

def _three_leaves() -> tuple:
    a, b, c = (ag.tensor(np.ones(2, np.float32), requires_grad=True, name=n) for n in "abc")
    return a, b, c, (a * 2.0 + b + c * 3.0).sum()


def test_a_leaf_cast_after_the_forward_pass_gets_its_gradient_in_its_new_dtype() -> None:
    # b's value was cast (Module.double() does this) after the graph was recorded, and no node
    # saved it: the pass stored a's and c's gradients, then the grad setter's 'grad must match
    # the tensor' ValueError (the user set no grad) left b's .grad None
    a, b, c, loss = _three_leaves()
    b.data = b.data.astype(np.float64)
    loss.backward()
    assert a.grad.tolist() == [2.0, 2.0] and c.grad.tolist() == [3.0, 3.0]
    assert b.grad.dtype == np.float64 and b.grad.tolist() == [1.0, 1.0]


def test_a_leaf_cast_after_the_forward_pass_differentiable_pass() -> None:
    a, b, c, loss = _three_leaves()
    b.data = b.data.astype(np.float64)
    loss.backward(create_graph=True)
    assert b.grad.dtype == np.float64 and b.grad.tolist() == [1.0, 1.0]


def test_module_double_between_forward_and_backward_of_an_unsaved_parameter() -> None:
    import nn
    layer = nn.Dense(3, 2, rng=0)
    y = ag.ones((1, 3)) @ layer.weight.detach() + layer.bias     # add saves nothing
    layer.double()
    y.sum().backward()
    assert layer.bias.grad.dtype == np.float64 and layer.bias.grad.tolist() == [1.0, 1.0]


@pytest.mark.parametrize("replace", [lambda b: np.ones(3, np.float32), lambda b: np.ones(2, np.int64)])
def test_a_failed_store_leaves_every_grad_as_it_was(replace: Any) -> None:
    # the leaves were stored one after the other: the ones before b got their gradient, the
    # ones after did not, and a retry after fixing b added a's twice
    a, b, c, loss = _three_leaves()
    a.grad = ag.tensor(np.full(2, 5.0, np.float32))
    b.data = replace(b)
    with pytest.raises(RuntimeError, match="replaced"):
        loss.backward()
    assert a.grad.tolist() == [5.0, 5.0] and b.grad is None and c.grad is None


def test_a_failed_store_for_an_old_grad_shape_leaves_every_grad_as_it_was() -> None:
    a, b, c, loss = _three_leaves()
    b.grad = ag.tensor(np.ones(2, np.float32))
    b.data = np.ones(3, np.float32)
    b.grad._data = np.ones(1, np.float32)       # an old .grad of yet another shape
    with pytest.raises(RuntimeError, match="replaced"):
        loss.backward()
    assert a.grad is None and c.grad is None
