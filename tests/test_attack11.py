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
