"""Helpers shared by the test files: `from conftest import f64`."""

from __future__ import annotations

from typing import Any

import numpy as np

import autograd as ag


def f64(data: Any, requires_grad: bool = True, name: str | None = None) -> ag.Tensor:
    """A float64 tensor of `data` (a copy), requiring grad unless told otherwise: gradients are
    checked in float64."""
    return ag.tensor(np.asarray(data, dtype=np.float64), requires_grad=requires_grad, name=name)
