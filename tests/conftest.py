"""Helpers shared by the test files: `from conftest import Cube, f64`."""

from __future__ import annotations

import contextlib
from typing import Any, Iterator

import numpy as np

import autograd as ag
from autograd import functional as F


def f64(data: Any, requires_grad: bool = True, name: str | None = None) -> ag.Tensor:
    """A float64 tensor of `data` (a copy), requiring grad unless told otherwise: gradients are
    checked in float64."""
    return ag.tensor(np.asarray(data, dtype=np.float64), requires_grad=requires_grad, name=name)


class Cube(ag.Function):
    """x ** 3 as a custom Function (the API's example), for tests of custom operations."""

    @staticmethod
    def forward(ctx: Any, x: np.ndarray) -> np.ndarray:
        ctx.save_for_backward(x)
        return x ** 3

    @staticmethod
    def backward(ctx: Any, grad: np.ndarray) -> np.ndarray:
        (x,) = ctx.saved_arrays
        return 3 * x ** 2 * grad


@contextlib.contextmanager
def double_backward() -> Iterator[None]:
    """`hvp` forced onto the double-backward construction (it would take the v^T H route on a
    graph of built-in operations)."""
    symmetric = F._symmetric
    F._symmetric = lambda out, xs: False
    try:
        yield
    finally:
        F._symmetric = symmetric
