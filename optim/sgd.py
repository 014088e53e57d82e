"""Stochastic gradient descent with optional momentum, dampening, Nesterov and weight decay."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

import autograd as ag

from .optimizer import Optimizer

__all__ = ["SGD"]


class SGD(Optimizer):
    """SGD with PyTorch's update, for each parameter `p` with gradient `grad`::

        g = grad + weight_decay * p
        if momentum:
            b = g                                       on the first step (undamped)
            b = momentum * b + (1 - dampening) * g      afterwards
            g = g + momentum * b  if nesterov  else  b
        p -= lr * g

    `dampening=momentum=beta` gives the exponentially averaged momentum
    `v = beta * v + (1 - beta) * dW` from the second step on; as in PyTorch the first step
    sets `v = dW` (not `(1 - beta) * dW`), so there is no bias towards zero to correct.
    `nesterov=True` needs `momentum > 0` and `dampening == 0`.

    State per parameter: `momentum_buffer` (only with momentum). Updates are in place: no
    parameter-sized array is allocated per step after the first.
    """

    _buffers = {"momentum_buffer": "array"}

    def __init__(self, params: Iterable[ag.Tensor] | Iterable[dict[str, Any]], lr: float,
                 momentum: float = 0.0, dampening: float = 0.0, nesterov: bool = False,
                 weight_decay: float = 0.0) -> None:
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, nesterov=nesterov,
                        weight_decay=weight_decay)
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        group["momentum"] = self._range("momentum", group["momentum"], 0.0, 1.0, hi_open=True)
        group["dampening"] = self._range("dampening", group["dampening"], 0.0, 1.0)
        group["weight_decay"] = self._range("weight_decay", group["weight_decay"], 0.0)
        group["nesterov"] = self._flag("nesterov", group["nesterov"])
        if group["nesterov"] and (group["momentum"] == 0 or group["dampening"] != 0):
            raise ValueError(
                f"Nesterov momentum needs momentum > 0 and dampening == 0, got "
                f"momentum={group['momentum']!r}, dampening={group['dampening']!r}")

    def _plain_rate(self, group: dict[str, Any]) -> float | None:
        # plain SGD, unless a subclass changed the update
        if group["momentum"] == 0 and group["weight_decay"] == 0 and type(self)._update is SGD._update:
            return group["lr"]
        return None

    def _update(self, x: np.ndarray, g: np.ndarray, state: dict[str, Any], group: dict[str, Any],
                w: np.ndarray) -> None:
        lr, momentum, wd = group["lr"], group["momentum"], group["weight_decay"]
        if wd != 0:
            np.multiply(x, wd, out=w)
            np.add(w, g, out=w)
            g = w
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = np.array(g, dtype=x.dtype, copy=True)
            else:
                np.multiply(buf, momentum, out=buf)
                dampening = group["dampening"]
                if dampening == 0:
                    np.add(buf, g, out=buf)
                else:
                    np.multiply(g, 1.0 - dampening, out=w)
                    np.add(buf, w, out=buf)
            if not group["nesterov"]:
                g = buf
            elif g is w:
                # g (gradient plus weight decay) lives in the scratch array, still intact: the
                # dampening branch above, the only one that writes into w, never runs with
                # Nesterov (`_check_group` refuses dampening != 0 there). So
                # p -= lr * (g + momentum * b) is applied as two in-place passes (same value up
                # to rounding) instead of allocating.
                np.multiply(w, lr, out=w)
                np.subtract(x, w, out=x)
                np.multiply(buf, lr * momentum, out=w)
                np.subtract(x, w, out=x)
                return
            else:
                np.multiply(buf, momentum, out=w)
                np.add(w, g, out=w)
                g = w
        np.multiply(g, lr, out=w)
        np.subtract(x, w, out=x)
