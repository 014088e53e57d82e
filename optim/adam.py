"""Adam: per-parameter step sizes from running averages of the gradient and its square."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

import autograd as ag

from .optimizer import Optimizer

__all__ = ["Adam"]


class Adam(Optimizer):
    """Adam with PyTorch's update (L2 weight decay added to the gradient), at step t = 1, 2, ...::

        g = grad + weight_decay * p
        m = beta1 * m + (1 - beta1) * g              (m, v start at zero)
        v = beta2 * v + (1 - beta2) * g * g
        m_hat = m / (1 - beta1 ** t);  v_hat = v / (1 - beta2 ** t)
        p -= lr * m_hat / (sqrt(v_hat) + eps)

    State per parameter: `step`, `exp_avg` (m), `exp_avg_sq` (v). Updates are in place: no
    parameter-sized array is allocated per step after the first.
    """

    _buffers = {"step": "count", "exp_avg": "array", "exp_avg_sq": "array"}
    _together = (("step", "exp_avg", "exp_avg_sq"),)

    def __init__(self, params: Iterable[ag.Tensor] | Iterable[dict[str, Any]], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0) -> None:
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        betas = group["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"{type(self).__name__}: invalid betas: {betas!r} (must be a pair "
                             f"(beta1, beta2), e.g. (0.9, 0.999))")
        group["betas"] = (self._range("beta1 (betas[0])", betas[0], 0.0, 1.0, hi_open=True),
                          self._range("beta2 (betas[1])", betas[1], 0.0, 1.0, hi_open=True))
        group["eps"] = self._range("eps", group["eps"], 0.0)
        group["weight_decay"] = self._range("weight_decay", group["weight_decay"], 0.0)

    def _update(self, x: np.ndarray, g: np.ndarray, state: dict[str, Any], group: dict[str, Any],
                w: np.ndarray) -> None:
        lr, eps, wd = group["lr"], group["eps"], group["weight_decay"]
        beta1, beta2 = group["betas"]
        if "exp_avg" not in state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(x)
            state["exp_avg_sq"] = np.zeros_like(x)
        t = state["step"] = state["step"] + 1
        m, v = state["exp_avg"], state["exp_avg_sq"]

        def decayed() -> np.ndarray:
            """grad + wd * p, in the scratch array when weight decay is on."""
            if wd == 0:
                return g
            np.multiply(x, wd, out=w)
            np.add(w, g, out=w)
            return w

        np.multiply(m, beta1, out=m)
        np.multiply(decayed(), 1.0 - beta1, out=w)
        np.add(m, w, out=m)
        gd = decayed()      # computed again: the scratch array was used meanwhile
        np.multiply(gd, gd, out=w)
        np.multiply(w, 1.0 - beta2, out=w)
        np.multiply(v, beta2, out=v)
        np.add(v, w, out=v)
        # p -= (lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps), which is lr * m_hat / (sqrt(v_hat) + eps)
        np.sqrt(v, out=w)
        np.divide(w, math.sqrt(1.0 - beta2 ** t), out=w)
        np.add(w, eps, out=w)
        np.divide(m, w, out=w)
        np.multiply(w, lr / (1.0 - beta1 ** t), out=w)
        np.subtract(x, w, out=x)
