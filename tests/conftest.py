"""Helpers shared by the test files: `from conftest import Cube, f64`."""

from __future__ import annotations

from typing import Any

import numpy as np

import autograd as ag


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
