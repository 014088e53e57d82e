"""Attacks on session 5's short paths (issue #20): `record_constant` (`t op number`),
`record_unary`'s first branch, and `engine._run_chain`. Each test failed before its fix."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import autograd as ag
from autograd.tensor import Observer


class _Outputs(Observer):
    """Collects the type of every output an operation reports without recording a node."""

    def __init__(self) -> None:
        self.types: list = []

    def unrecorded(self, name: str, out: np.ndarray) -> None:
        self.types.append((name, type(out)))


def test_observers_get_an_array_for_a_0d_tensor_times_a_cached_number() -> None:
    x = ag.tensor(np.float64(1.5), requires_grad=True)
    x * 2.0                                     # 2.0 now cached: `x * 2.0` takes record_constant
    seen = _Outputs()
    with seen, ag.no_grad():
        y = x * 2.0
    assert seen.types == [("multiply", np.ndarray)]    # the Observer contract: an ndarray
    assert y.data.shape == () and float(y.data) == 3.0


def _replaced(values: list) -> tuple:
    """(a leaf x, z = 2x whose .data was then replaced by the user's array `arr`, arr)."""
    x = ag.tensor(np.array([0.1, 0.2, 0.3]), requires_grad=True)
    z = x * 2.0
    arr = np.array(values)
    z.data = arr
    return x, z, arr


@pytest.mark.parametrize("op, dz", [
    (ag.sin, lambda v: np.cos(v)),                          # record_unary
    (lambda z: z * z, lambda v: 2 * v),                     # record_binary (saved_arrays)
    (lambda z: ag.maximum(z, 1.5), lambda v: (v > 1.5) * 1.0),
])
def test_an_array_assigned_to_a_result_is_locked_while_a_graph_saves_it(op: Any, dz: Any) -> None:
    """`z.data = arr` on an operation's output: `arr` is the user's, as a leaf's array is. A
    graph that saves z must refuse writes into it (before: saved as it was, and a write
    through `arr` changed the gradient silently)."""
    x, z, arr = _replaced([1.0, 2.0, 3.0])
    y = op(z)
    with pytest.raises(ValueError, match="read-only"):
        arr[0] = 100.0
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, 2 * dz(np.array([1.0, 2.0, 3.0])))
    assert arr.flags.writeable              # unlocked once the graph is released
