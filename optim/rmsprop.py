"""RMSprop: divide the gradient by a running root mean square of recent gradients."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

import autograd as ag

from .optimizer import Optimizer

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """RMSprop with PyTorch's update (not centered)::

        v = alpha * v + (1 - alpha) * grad ** 2      (v starts at zero)
        avg = sqrt(v) + eps
        with momentum:  buf = momentum * buf + grad / avg;  p -= lr * buf   (buf starts at zero)
        otherwise:      p -= lr * grad / avg

    State per parameter: `step`, `square_avg` (v), `momentum_buffer` (only with momentum).
    Updates are in place: no parameter-sized array is allocated per step after the first.
    """

    _buffers = {"step": "count", "square_avg": "array", "momentum_buffer": "array"}
    _together = (("step", "square_avg"),)

    def __init__(self, params: Iterable[ag.Tensor] | Iterable[dict[str, Any]], lr: float = 1e-2,
                 alpha: float = 0.99, eps: float = 1e-8, momentum: float = 0.0) -> None:
        defaults = dict(lr=lr, alpha=alpha, eps=eps, momentum=momentum)
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        group["alpha"] = self._range("alpha", group["alpha"], 0.0, 1.0)
        group["eps"] = self._range("eps", group["eps"], 0.0)
        group["momentum"] = self._range("momentum", group["momentum"], 0.0, 1.0, hi_open=True)

    def _update(self, x: np.ndarray, g: np.ndarray, state: dict[str, Any], group: dict[str, Any],
                w: np.ndarray) -> None:
        lr, alpha, eps, momentum = group["lr"], group["alpha"], group["eps"], group["momentum"]
        if "square_avg" not in state:
            state["step"] = 0
            state["square_avg"] = np.zeros_like(x)
        state["step"] += 1
        v = state["square_avg"]
        np.multiply(g, g, out=w)
        np.multiply(w, 1.0 - alpha, out=w)
        np.multiply(v, alpha, out=v)
        np.add(v, w, out=v)
        np.sqrt(v, out=w)
        np.add(w, eps, out=w)
        np.divide(g, w, out=w)          # grad / avg
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = np.zeros_like(x)
            np.multiply(buf, momentum, out=buf)
            np.add(buf, w, out=buf)
            np.multiply(buf, lr, out=w)
        else:
            np.multiply(w, lr, out=w)
        np.subtract(x, w, out=x)
