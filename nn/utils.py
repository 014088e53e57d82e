"""Gradient utilities: clipping and per-parameter norms."""

from __future__ import annotations

import math
from typing import Any, Iterable

import numpy as np

import autograd as ag

from . import _validate
from .module import Module

__all__ = ["clip_grad_norm_", "grad_norms"]


def _sq_norm(g: ag.Tensor) -> float:
    a = np.asarray(g.data, dtype=np.float64)
    return float(np.vdot(a, a).real) if a.dtype.kind == "c" else float(np.dot(a.ravel(), a.ravel()))


def clip_grad_norm_(parameters: Iterable[ag.Tensor] | ag.Tensor | Module, max_norm: float,
                    error_if_nonfinite: bool = False) -> float:
    """Scale the gradients so their joint L2 norm is at most `max_norm`; returns the norm
    before clipping.

    Every `.grad` is multiplied by `min(1, max_norm / (total + 1e-6))`, as PyTorch (so a norm
    within 1e-6 of `max_norm` is shrunk slightly too). Parameters whose grad is None are skipped.
    `parameters` is an iterable of tensors, one tensor, or a Module. `max_norm` is a number
    >= 0 (`inf` only measures the norm); NaN, negative numbers and non-numbers are refused.
    A NaN or infinite total norm makes every gradient NaN (or zero), as in PyTorch, never
    leaves the finite ones unclipped; `error_if_nonfinite=True` raises RuntimeError instead.
    """
    max_norm = _validate.real("clip_grad_norm_", "max_norm", max_norm, 0.0, allow_inf=True)
    error_if_nonfinite = _validate.flag("clip_grad_norm_", "error_if_nonfinite", error_if_nonfinite)
    params = _tensors(parameters, "clip_grad_norm_")
    grads = [p.grad for p in params if p.grad is not None]
    total = math.sqrt(sum(_sq_norm(g) for g in grads))
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"clip_grad_norm_: the total norm of the gradients is {total}; they "
                           f"hold NaN or Inf (pass error_if_nonfinite=False to clip anyway)")
    coef = max_norm / (total + 1e-6)
    if coef < 1 or (math.isnan(coef) and max_norm != math.inf):
        with np.errstate(invalid="ignore"):     # inf * 0: the NaN PyTorch gives there too
            for g in grads:
                g.data = g.data * coef  # a new array: never writes into one shared elsewhere
    return total


def _tensors(parameters: Any, owner: str) -> list[ag.Tensor]:
    """A Module's parameters, one Tensor as a list, or the Tensors of an iterable (checked)."""
    if isinstance(parameters, Module):
        return list(parameters.parameters())
    if isinstance(parameters, ag.Tensor):
        return [parameters]
    if isinstance(parameters, (str, bytes, dict)) or not isinstance(parameters, Iterable):
        raise TypeError(f"{owner}: parameters must be a Module, a Tensor or an iterable of Tensors "
                        f"(e.g. model.parameters()), got a {type(parameters).__name__}")
    params = list(parameters)
    for i, p in enumerate(params):
        if not isinstance(p, ag.Tensor):
            raise TypeError(f"{owner}: item {i} of parameters is a {type(p).__name__}, not a Tensor "
                            f"(pass model.parameters(), not named_parameters())")
    return params


def grad_norms(module: Module) -> dict[str, float]:
    """The L2 norm of each named parameter's gradient; parameters with no gradient are left out."""
    if not isinstance(module, Module):
        raise TypeError(f"grad_norms takes a Module, got a {type(module).__name__}")
    return {name: math.sqrt(_sq_norm(p.grad)) for name, p in module.named_parameters()
            if p.grad is not None}
