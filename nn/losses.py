"""Losses as modules: `loss_fn = nn.CrossEntropyLoss(); loss = loss_fn(logits, labels)`.

`reduction` is "mean" (default), "sum" or "none" (per-element losses); see `nn.functional`.
"""

from __future__ import annotations

from typing import Any

import autograd as ag

from . import functional as F
from .module import Module

__all__ = ["MSELoss", "CrossEntropyLoss", "BCELoss", "BCEWithLogitsLoss"]


class _Loss(Module):
    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = F.check_reduction(reduction)

    def extra_repr(self) -> str:
        return "" if self.reduction == "mean" else f"reduction={self.reduction!r}"


class MSELoss(_Loss):
    """Mean squared error: (input - target)**2, reduced."""

    def forward(self, input: Any, target: Any) -> ag.Tensor:  # noqa: A002
        return F.mse_loss(input, target, self.reduction)


class CrossEntropyLoss(_Loss):
    """Softmax cross-entropy of logits (N, C) against integer class labels (N,)."""

    def forward(self, input: Any, target: Any) -> ag.Tensor:  # noqa: A002
        return F.cross_entropy(input, target, self.reduction)


class BCELoss(_Loss):
    """Binary cross-entropy of probabilities in [0, 1] (logs clamped to >= -100)."""

    def forward(self, input: Any, target: Any) -> ag.Tensor:  # noqa: A002
        return F.binary_cross_entropy(input, target, self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy of sigmoid(logits), computed stably from the logits."""

    def forward(self, input: Any, target: Any) -> ag.Tensor:  # noqa: A002
        return F.binary_cross_entropy_with_logits(input, target, self.reduction)
