"""Gradient utilities: clipping and per-parameter norms."""

from __future__ import annotations

import math
from typing import Iterable

import numpy as np

import autograd as ag

from .module import Module

__all__ = ["clip_grad_norm_", "grad_norms"]


def _sq_norm(g: ag.Tensor) -> float:
    a = np.asarray(g.data, dtype=np.float64)
    return float(np.vdot(a, a).real) if a.dtype.kind == "c" else float(np.dot(a.ravel(), a.ravel()))


def clip_grad_norm_(parameters: Iterable[ag.Tensor] | ag.Tensor | Module, max_norm: float) -> float:
    """Scale the gradients so their joint L2 norm is at most `max_norm`; returns the norm
    before clipping.

    Every `.grad` is multiplied by `min(1, max_norm / (total + 1e-6))`, as PyTorch (so a norm
    within 1e-6 of `max_norm` is shrunk slightly too). Parameters whose grad is None are skipped.
    `parameters` is an iterable of tensors, one tensor, or a Module.
    """
    if isinstance(parameters, Module):
        params: list[ag.Tensor] = list(parameters.parameters())
    elif isinstance(parameters, ag.Tensor):
        params = [parameters]
    else:
        params = list(parameters)
    grads = [p.grad for p in params if p.grad is not None]
    total = math.sqrt(sum(_sq_norm(g) for g in grads))
    coef = float(max_norm) / (total + 1e-6)
    if coef < 1:
        for g in grads:
            g.data = g.data * coef      # a new array: never writes into one shared elsewhere
    return total


def grad_norms(module: Module) -> dict[str, float]:
    """The L2 norm of each named parameter's gradient; parameters with no gradient are left out."""
    return {name: math.sqrt(_sq_norm(p.grad)) for name, p in module.named_parameters()
            if p.grad is not None}
