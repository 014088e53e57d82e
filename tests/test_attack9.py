"""Attacks on session 5's short paths (issue #20): `record_constant` (`t op number`),
`record_unary`'s first branch, and `engine._run_chain`. Each test failed before its fix."""

from __future__ import annotations

import numpy as np

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
