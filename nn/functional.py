"""Activations and losses as functions of tensors (thin layers over `autograd`).

Losses take `reduction="mean" | "sum" | "none"`: the mean over all elements (samples for
cross-entropy), their sum, or the per-element losses.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import autograd as ag

from . import _validate

__all__ = [
    "relu", "sigmoid", "tanh", "leaky_relu", "softmax", "log_softmax",
    "mse_loss", "cross_entropy", "binary_cross_entropy", "binary_cross_entropy_with_logits",
    "one_hot", "embedding", "dropout", "batch_norm", "layer_norm",
]

# ---------------------------------------------------------------- activations


def relu(x: Any) -> ag.Tensor:
    """max(x, 0); the gradient at 0 is 0."""
    return ag.relu(x)


def sigmoid(x: Any) -> ag.Tensor:
    """1 / (1 + exp(-x))."""
    return ag.sigmoid(x)


def tanh(x: Any) -> ag.Tensor:
    return ag.tanh(x)


def leaky_relu(x: Any, negative_slope: float = 0.01) -> ag.Tensor:
    """x where x > 0, else negative_slope * x."""
    return ag.leaky_relu(x, negative_slope)


def softmax(x: Any, axis: int = -1, *, dim: int | None = None) -> ag.Tensor:
    """exp(x) / sum(exp(x)) along `axis` (or PyTorch's `dim`); stable for large logits."""
    return ag.softmax(x, axis=_validate.axis("softmax", axis, dim))


def log_softmax(x: Any, axis: int = -1, *, dim: int | None = None) -> ag.Tensor:
    """x - logsumexp(x) along `axis` (or PyTorch's `dim`); stable for large logits."""
    return ag.log_softmax(x, axis=_validate.axis("log_softmax", axis, dim))


# ---------------------------------------------------------------- losses

REDUCTIONS = ("mean", "sum", "none")


def check_reduction(reduction: str) -> str:
    """Return `reduction` if it is "mean", "sum" or "none", else raise ValueError."""
    if not isinstance(reduction, str) or reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of 'mean', 'sum', 'none', got {reduction!r}")
    return reduction


def _reduce(loss: ag.Tensor, reduction: str) -> ag.Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _shape(x: Any) -> tuple[int, ...]:
    return x.shape if isinstance(x, ag.Tensor) else np.shape(x)


def _same_shape(name: str, input: Any, target: Any) -> None:  # noqa: A002 - PyTorch's name
    if _shape(input) != _shape(target):
        raise ValueError(f"{name}: input of shape {_shape(input)} and target of shape "
                         f"{_shape(target)} differ; give them the same shape (broadcasting a "
                         f"loss silently is a classic bug, e.g. (N, 1) against (N,))")


def _value(x: Any) -> Any:
    """A Tensor as is; anything else (ndarray, list, number) as an ndarray constant."""
    return x if isinstance(x, ag.Tensor) else ag.tensor(x).data


def _target(target: Any, input: Any) -> Any:  # noqa: A002
    """The target as a Tensor or array; a constant target takes a float input's dtype, so a
    float64 target does not turn a float32 loss into float64."""
    if isinstance(target, ag.Tensor):
        return target
    t = ag.tensor(target).data
    dtype = _value(input).dtype         # a list or number input: the dtype it is converted to
    if dtype.kind == "f" and t.dtype != dtype:
        t = t.astype(dtype)
    return t


def mse_loss(input: Any, target: Any, reduction: str = "mean") -> ag.Tensor:  # noqa: A002
    """(input - target)**2, reduced. Both must have the same shape."""
    check_reduction(reduction)
    _same_shape("mse_loss", input, target)
    diff = ag.subtract(_value(input), _target(target, input))
    return _reduce(diff * diff, reduction)


def cross_entropy(input: Any, target: Any, reduction: str = "mean") -> ag.Tensor:  # noqa: A002
    """-log softmax(input)[target] per sample, reduced.

    `input` are logits (N, C), classes on the last axis; `target` integer class indices of
    shape (N,) in 0..C-1 (`ag.softmax_cross_entropy` checks them and names what is wrong; its
    messages call them logits and labels). Computed as one graph node whose gradient is
    softmax - onehot.

    With `reduction="mean"` and no samples (logits of shape (0, C)) the loss is NaN, the
    mean of nothing, as in PyTorch; its gradient is the empty array.
    """
    check_reduction(reduction)
    return ag.softmax_cross_entropy(_value(input), target, reduction)


def _check_unit_interval(what: str, values: Any, hint: str = "") -> None:
    """Raise ValueError(`what`, the offending values, `hint`) unless every value is in [0, 1].
    NaN counts as outside, as in PyTorch."""
    a = np.asarray(values.data if isinstance(values, ag.Tensor) else values)
    if np.all((a >= 0) & (a <= 1)):
        return
    nans = int(np.count_nonzero(np.isnan(a))) if a.dtype.kind in "fc" else 0
    got = f"{nans} NaN value(s)" if nans else f"values in [{a.min()}, {a.max()}]"
    raise ValueError(f"{what}, got {got}{hint}")


def _check_targets(name: str, target: Any) -> None:
    t = np.asarray(target.data if isinstance(target, ag.Tensor) else target)
    if t.size and (t.min() < 0 or t.max() > 1):
        raise ValueError(f"{name}: targets must lie in [0, 1], got values in [{t.min()}, {t.max()}]")


def binary_cross_entropy(input: Any, target: Any, reduction: str = "mean") -> ag.Tensor:  # noqa: A002
    """-(y log p + (1 - y) log(1 - p)) for probabilities `input` in [0, 1]; each log is clamped
    to >= -100 so p = 0 or 1 gives a finite loss, and the gradient is PyTorch's, finite there
    too (see `ag.binary_cross_entropy`)."""
    check_reduction(reduction)
    _same_shape("binary_cross_entropy", input, target)
    _check_unit_interval("binary_cross_entropy: input must be probabilities in [0, 1]", input,
                         "; for logits use binary_cross_entropy_with_logits")
    _check_unit_interval("binary_cross_entropy: targets must lie in [0, 1]", target)
    return _reduce(ag.binary_cross_entropy(_value(input), _target(target, input)), reduction)


def binary_cross_entropy_with_logits(input: Any, target: Any,  # noqa: A002
                                     reduction: str = "mean") -> ag.Tensor:
    """Binary cross-entropy of sigmoid(input) computed from the logits, stable for any size:
    softplus(x) - x*y, which equals max(x, 0) - x*y + log(1 + exp(-|x|)).

    `ag.softplus` is evaluated stably (logaddexp) and its gradient is sigmoid(x), so the
    gradient is sigmoid(x) - y everywhere, including at x = 0.
    """
    check_reduction(reduction)
    _same_shape("binary_cross_entropy_with_logits", input, target)
    _check_targets("binary_cross_entropy_with_logits", target)
    x, y = _value(input), _target(target, input)
    return _reduce(ag.softplus(x) - x * y, reduction)


# ---------------------------------------------------------------- layers (defined beside their modules)

from .dropout import dropout  # noqa: E402
from .embedding import embedding, one_hot  # noqa: E402
from .normalization import batch_norm, layer_norm  # noqa: E402
