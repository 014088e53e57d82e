"""Normalisation: `batch_norm`, `layer_norm` and their layers `BatchNorm1d`, `LayerNorm`.

Both compute `(x - mean) / sqrt(var + eps) * weight + bias` with the biased variance (divided by
n); batch norm takes the statistics per channel over the batch (and length) axes, layer norm per
sample over the last axes. They are written with differentiable autograd operations, so every
gradient (to any order) follows from the operations' own rules.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

import autograd as ag

from . import _validate
from .module import Module, Parameter

__all__ = ["batch_norm", "layer_norm", "BatchNorm1d", "LayerNorm"]


def _tensor(x: Any) -> ag.Tensor:
    """`x` as a Tensor; integers and bools become the default float dtype (as softmax does)."""
    x = x if isinstance(x, ag.Tensor) else ag.tensor(x)
    return x if x.dtype.kind in "fc" else ag.astype(x, ag.get_default_dtype())


def _affine(x_hat: ag.Tensor, weight: Any, bias: Any, shape: tuple) -> ag.Tensor:
    """`x_hat * weight + bias`, each reshaped to `shape` to broadcast; None ones left out."""
    if weight is not None:
        x_hat = x_hat * _shaped(weight, shape)
    if bias is not None:
        x_hat = x_hat + _shaped(bias, shape)
    return x_hat


def _shaped(t: Any, shape: tuple) -> Any:
    """`t` reshaped to `shape`; as it is (no graph node) when it has that shape already."""
    own = t.shape if isinstance(t, ag.Tensor) else np.shape(t)
    return t if own == shape else ag.reshape(_tensor(t), shape)


def _write(buffer: Any, value: np.ndarray) -> None:
    """Store `value` into a running statistic (a Tensor or an ndarray) in place, keeping its dtype.
    A Tensor whose array a live graph holds read-only gets a new array (`.data = ...`) instead."""
    arr = buffer.data if isinstance(buffer, ag.Tensor) else buffer
    if isinstance(buffer, ag.Tensor) and not arr.flags.writeable:
        buffer.data = np.asarray(value, dtype=arr.dtype).reshape(arr.shape)
    else:
        arr[...] = np.reshape(value, arr.shape)


def _normalise(x: ag.Tensor, axes: tuple, eps: float) -> tuple[ag.Tensor, ag.Tensor, ag.Tensor]:
    """`(x - mean) / sqrt(var + eps)` over `axes` (biased variance), with the mean and variance
    (kept dims). Five graph nodes besides the two means: centring once serves both."""
    mean = ag.mean(x, axis=axes, keepdims=True)
    centred = x - mean
    var = ag.mean(centred * centred, axis=axes, keepdims=True)
    return centred * (var + eps) ** -0.5, mean, var


def _check_stat(name: str, stat: Any, channels: int) -> np.ndarray:
    arr = stat.data if isinstance(stat, ag.Tensor) else np.asarray(stat)
    if arr.size != channels:
        raise ValueError(f"batch_norm: {name} has {arr.size} values for an input with {channels} "
                         f"channels (axis 1)")
    return arr


def batch_norm(x: Any, running_mean: Any, running_var: Any, weight: Any = None, bias: Any = None,
               training: bool = False, momentum: float = 0.1, eps: float = 1e-5) -> ag.Tensor:
    """Batch normalisation of `x` of shape (N, C, *), per channel (axis 1), as PyTorch's
    `F.batch_norm`.

    training: normalise with the batch's mean and biased variance over every axis but 1, and,
    if they are not None, update `running_mean` and `running_var` in place:
    `running = (1 - momentum) * running + momentum * batch`, with the unbiased batch variance
    (times n / (n - 1), n = x.size / C). Otherwise normalise with the running statistics.
    Then `* weight + bias` (shape (C,)) if given.
    """
    x = _tensor(x)
    if x.ndim < 2:
        raise ValueError(f"batch_norm: expected input of shape (N, C) or (N, C, L, ...), got shape "
                         f"{x.shape}")
    channels = x.shape[1]
    shape = (channels,) + (1,) * (x.ndim - 2)          # broadcasts against (N, C, L, ...)
    if training:
        axes = (0,) + tuple(range(2, x.ndim))
        n = x.size // max(channels, 1)
        if n <= 1:
            raise ValueError(f"batch_norm: expected more than 1 value per channel when training, "
                             f"got input of shape {x.shape}; use a bigger batch or eval mode")
        x_hat, mean, var = _normalise(x, axes, eps)
        if running_mean is not None:
            rm = _check_stat("running_mean", running_mean, channels)
            _write(running_mean, (1 - momentum) * rm + momentum * mean.data.reshape(rm.shape))
        if running_var is not None:
            rv = _check_stat("running_var", running_var, channels)
            unbiased = var.data.reshape(rv.shape) * (n / (n - 1))
            _write(running_var, (1 - momentum) * rv + momentum * unbiased)
    else:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm: running_mean and running_var are needed when not "
                             "training; pass them, or training=True to use batch statistics")
        dtype = x.dtype
        rm = _check_stat("running_mean", running_mean, channels).astype(dtype).reshape(shape)
        rv = _check_stat("running_var", running_var, channels).astype(dtype).reshape(shape)
        x_hat = (x - rm) / np.sqrt(rv + dtype.type(eps))
    return _affine(x_hat, weight, bias, shape)


def _normalized_shape(shape: int | Sequence[int]) -> tuple[int, ...]:
    return (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(s) for s in shape)


def layer_norm(x: Any, normalized_shape: int | Sequence[int], weight: Any = None, bias: Any = None,
               eps: float = 1e-5) -> ag.Tensor:
    """Normalise each sample over its last `len(normalized_shape)` axes (which must equal
    `normalized_shape`) with their mean and biased variance, then `* weight + bias` (shape
    `normalized_shape`) if given, as PyTorch's `F.layer_norm`."""
    x = _tensor(x)
    shape = _normalized_shape(normalized_shape)
    k = len(shape)
    if k == 0 or x.ndim < k or x.shape[x.ndim - k:] != shape:
        raise ValueError(f"layer_norm: the input's last {k} axes must have shape {shape}, got "
                         f"input of shape {x.shape}")
    axes = tuple(range(x.ndim - k, x.ndim))
    return _affine(_normalise(x, axes, eps)[0], weight, bias, shape)


class BatchNorm1d(Module):
    """Batch normalisation of (N, C) or (N, C, L) inputs, C = `num_features`, as PyTorch.

    In training it normalises with the batch's statistics and updates the buffers
    `running_mean` (starts 0) and `running_var` (starts 1, unbiased) with
    `running = (1 - momentum) * running + momentum * batch` (`momentum=None`: the cumulative
    average over the `num_batches_tracked` batches); in eval it uses them. `weight` (ones) and
    `bias` (zeros) are learnt if `affine`. With `track_running_stats=False` there are no
    running statistics and batch statistics are used in eval too.
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True) -> None:
        super().__init__()
        if int(num_features) <= 0:
            raise ValueError(f"BatchNorm1d: num_features must be positive, got {num_features}")
        if momentum is not None and not 0 <= momentum <= 1:
            raise ValueError(f"BatchNorm1d: momentum must lie in [0, 1] (or be None), got {momentum}")
        self.num_features, self.eps, self.momentum = int(num_features), float(eps), momentum
        self.affine, self.track_running_stats = bool(affine), bool(track_running_stats)
        dtype = ag.get_default_dtype()
        self.weight = Parameter(np.ones(self.num_features, dtype)) if affine else None
        self.bias = Parameter(np.zeros(self.num_features, dtype)) if affine else None
        if self.track_running_stats:
            self.register_buffer("running_mean", np.zeros(self.num_features, dtype))
            self.register_buffer("running_var", np.ones(self.num_features, dtype))
            self.register_buffer("num_batches_tracked", np.array(0, np.int64))
        else:
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                self.register_buffer(name, None)

    def reset_running_stats(self) -> None:
        """Running mean 0, running variance 1, no batches tracked."""
        if self.track_running_stats:
            _write(self.running_mean, np.zeros(self.num_features))
            _write(self.running_var, np.ones(self.num_features))
            _write(self.num_batches_tracked, np.array(0))

    def forward(self, x: Any) -> ag.Tensor:
        _validate.not_a_batch(f"BatchNorm1d({self.num_features})", x)
        shape = x.shape if isinstance(x, ag.Tensor) else np.shape(x)
        if len(shape) not in (2, 3) or shape[1] != self.num_features:
            raise ValueError(f"BatchNorm1d({self.num_features}): expected input of shape (N, "
                             f"{self.num_features}) or (N, {self.num_features}, L), got {tuple(shape)}")
        update = self.training and self.track_running_stats
        factor = 0.0 if self.momentum is None else self.momentum
        if update and self.momentum is None:         # cumulative average over the batches seen
            factor = 1.0 / (int(self.num_batches_tracked.item()) + 1)
        use_batch = self.training or not self.track_running_stats
        keep = not self.training or self.track_running_stats
        out = batch_norm(x, self.running_mean if keep else None, self.running_var if keep else None,
                         self.weight, self.bias, use_batch, factor, self.eps)
        if update:
            _write(self.num_batches_tracked, self.num_batches_tracked.data + 1)
        return out

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, track_running_stats={self.track_running_stats}")


class LayerNorm(Module):
    """Layer normalisation over the last axes, which must have shape `normalized_shape`, as
    PyTorch; `weight` (ones) and `bias` (zeros) of that shape are learnt if
    `elementwise_affine` (`bias=False` leaves the bias out)."""

    def __init__(self, normalized_shape: int | Sequence[int], eps: float = 1e-5,
                 elementwise_affine: bool = True, bias: bool = True) -> None:
        super().__init__()
        self.normalized_shape = _normalized_shape(normalized_shape)
        if not self.normalized_shape or min(self.normalized_shape) <= 0:
            raise ValueError(f"LayerNorm: normalized_shape must be positive sizes, got "
                             f"{normalized_shape!r}")
        self.eps, self.elementwise_affine = float(eps), bool(elementwise_affine)
        dtype = ag.get_default_dtype()
        self.weight = Parameter(np.ones(self.normalized_shape, dtype)) if elementwise_affine else None
        self.bias = (Parameter(np.zeros(self.normalized_shape, dtype))
                     if elementwise_affine and bias else None)

    def forward(self, x: Any) -> ag.Tensor:
        _validate.not_a_batch("LayerNorm", x)
        return layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
