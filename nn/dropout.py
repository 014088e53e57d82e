"""Dropout (`dropout`, `Dropout`) and `Flatten`: layers that only mask or reshape."""

from __future__ import annotations

from typing import Any

import numpy as np

import autograd as ag

from . import _validate
from .module import Module

__all__ = ["dropout", "Dropout", "Flatten"]


def _check_p(p: Any, where: str) -> float:
    if isinstance(p, bool) or not isinstance(p, (int, float, np.floating, np.integer)) or not 0 <= p <= 1:
        raise ValueError(f"{where}: dropout probability p must be a number in [0, 1], got {p!r}")
    return float(p)


def dropout(x: Any, p: float = 0.5, training: bool = True, rng: Any = None) -> ag.Tensor:
    """Inverted dropout: in training each element is zeroed with probability `p` and the kept
    ones are scaled by 1 / (1 - p), so the expected value is unchanged; otherwise `x` as is.
    `p = 1` gives zeros. The mask is drawn from `rng` (a Generator, an int seed, which gives
    the same mask every call, or None: the global generator that `ag.manual_seed` reseeds).
    """
    p = _check_p(p, "dropout")
    x = x if isinstance(x, ag.Tensor) else ag.tensor(x)
    if not training or p == 0:
        return x
    if x.dtype.kind in "biu":                             # integers, bools: the default float dtype
        x = ag.astype(x, ag.get_default_dtype())
    if p == 1:
        return x * 0.0
    keep = ag.get_rng(rng).random(x.shape) >= p          # True with probability 1 - p
    return x * (keep.astype(x.dtype) / x.dtype.type(1 - p))


class Dropout(Module):
    """Zeroes each element with probability `p` in training (scaling the rest by 1 / (1 - p));
    the identity in eval. `rng`: a Generator, an int seed (one Generator seeded once, so the
    masks differ from call to call but repeat from run to run) or None (the global generator)."""

    def __init__(self, p: float = 0.5, rng: Any = None) -> None:
        super().__init__()
        self.p = _check_p(p, "Dropout")
        self.rng = None if rng is None else ag.get_rng(rng)

    def forward(self, x: Any) -> ag.Tensor:
        _validate.not_a_batch("Dropout", x)
        return dropout(x, self.p, self.training, self.rng)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Flatten(Module):
    """Merges axes `start_dim` .. `end_dim` (inclusive; negative counts from the end) into one:
    (N, C, L) -> (N, C * L) with the defaults, as PyTorch's `nn.Flatten`."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim, self.end_dim = int(start_dim), int(end_dim)

    def forward(self, x: Any) -> ag.Tensor:
        _validate.not_a_batch("Flatten", x)
        x = x if isinstance(x, ag.Tensor) else ag.tensor(x)
        n = max(x.ndim, 1)                                # a 0-d input flattens as if 1-d
        start, end = self.start_dim, self.end_dim
        if not (-n <= start < n and -n <= end < n):
            raise IndexError(f"Flatten(start_dim={start}, end_dim={end}): axis out of range for "
                             f"input of shape {x.shape} (axes must lie in [{-n}, {n - 1}])")
        start, end = start % n, end % n
        if start > end:
            raise ValueError(f"Flatten: start_dim {self.start_dim} comes after end_dim "
                             f"{self.end_dim} for input of shape {x.shape}")
        shape = x.shape if x.ndim else (1,)
        merged = int(np.prod(shape[start:end + 1], dtype=np.int64))
        return ag.reshape(x, shape[:start] + (merged,) + shape[end + 1:])

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"
