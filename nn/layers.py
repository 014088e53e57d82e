"""Layers: Dense and the activations as modules."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

import autograd as ag

from . import _validate
from . import functional as F
from . import init as init_
from .module import Module, Parameter

__all__ = ["Dense", "ReLU", "Sigmoid", "Tanh", "LeakyReLU", "Softmax"]

ACTIVATIONS: dict[str, Callable[[Any], ag.Tensor]] = {
    "relu": F.relu,
    "sigmoid": F.sigmoid,
    "tanh": F.tanh,
    "leaky_relu": F.leaky_relu,
    "softmax": F.softmax,
}


def _is_relu_like(activation: Any) -> bool:
    """Whether `activation` is relu or leaky relu (by name, function or module): He init suits it."""
    if isinstance(activation, str):
        return activation in ("relu", "leaky_relu")
    if isinstance(activation, (ReLU, LeakyReLU)):
        return True
    return any(activation is f for f in (ag.relu, ag.leaky_relu, F.relu, F.leaky_relu))


class Dense(Module):
    """A fully connected layer: `y = activation(x @ weight + bias)`.

    `weight` has shape (in_features, out_features), `bias` (out_features,) starts at zero.
    `activation`: None, a name ("relu", "sigmoid", "tanh", "leaky_relu", "softmax") or a callable.
    `init`: None picks He normal for relu/leaky_relu and LeCun normal otherwise; or a name from
    `nn.init` ("he_normal", "xavier_uniform", ...). `rng`: Generator, int seed, or None (global).
    """

    def __init__(self, in_features: int, out_features: int, activation: str | Callable | None = None,
                 bias: bool = True, init: str | None = None, rng: Any = None) -> None:
        super().__init__()
        self.in_features = _validate.size("Dense", "in_features", in_features)
        self.out_features = _validate.size("Dense", "out_features", out_features)
        bias = _validate.flag("Dense", "bias", bias)
        rng = _validate.rng("Dense", rng)
        if init is not None and not isinstance(init, str):
            raise TypeError(f"Dense: init must be None or the name of an nn.init initializer "
                            f"(e.g. 'he_normal'), got a {type(init).__name__}")
        if activation is None or callable(activation):
            self.activation = activation
        elif isinstance(activation, str) and activation in ACTIVATIONS:
            self.activation = ACTIVATIONS[activation]
        else:
            raise ValueError(f"Dense: unknown activation {activation!r}; use None, a callable or one "
                             f"of {', '.join(repr(k) for k in ACTIVATIONS)}")
        self.activation_name = activation if isinstance(activation, str) else (
            None if activation is None else getattr(activation, "__name__", type(activation).__name__))
        fusable = {"relu": ag.relu, "tanh": ag.tanh, "sigmoid": ag.sigmoid}
        self._fused = next((name for name, fn in fusable.items()
                            if activation == name or activation is fn), None)
        if init is None:
            init = "he_normal" if _is_relu_like(activation) else "lecun_normal"
        self.init = init
        shape = (self.in_features, self.out_features)
        self.weight = Parameter(init_.get(init)(shape, ag.get_rng(rng)))
        self.bias = Parameter(init_.zeros(self.out_features)) if bias else None

    def forward(self, x: Any) -> ag.Tensor:
        if type(x) is not ag.Tensor:    # (a Tensor is one input: nothing to check)
            _validate.not_a_batch(f"Dense({self.in_features}, {self.out_features})", x)
        try:                                    # one graph node for activation(x @ W + b)
            y = ag.affine(x, self.weight, self.bias, self._fused)
        except ValueError:
            shape = x.shape if isinstance(x, ag.Tensor) else np.shape(x)
            if len(shape) == 0 or shape[-1] != self.in_features:
                got = shape[-1] if shape else "none (a scalar)"
                raise ValueError(f"Dense({self.in_features}, {self.out_features}): expected input "
                                 f"whose last axis has size {self.in_features}, got input of shape "
                                 f"{shape} (last axis {got})") from None
            raise
        return y if self._fused is not None or self.activation is None else self.activation(y)

    def extra_repr(self) -> str:
        parts = [str(self.in_features), str(self.out_features)]
        if self.activation_name is not None:
            parts.append(f"activation={self.activation_name!r}")
        if self.bias is None:
            parts.append("bias=False")
        return ", ".join(parts)


class ReLU(Module):
    """max(x, 0) as a module."""

    def forward(self, x: Any) -> ag.Tensor:
        _validate.not_a_batch("ReLU", x)
        return F.relu(x)


class Sigmoid(Module):
    def forward(self, x: Any) -> ag.Tensor:
        _validate.not_a_batch("Sigmoid", x)
        return F.sigmoid(x)


class Tanh(Module):
    def forward(self, x: Any) -> ag.Tensor:
        _validate.not_a_batch("Tanh", x)
        return F.tanh(x)


class LeakyReLU(Module):
    """x where x > 0, else negative_slope * x."""

    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        self.negative_slope = _validate.real("LeakyReLU", "negative_slope", negative_slope)

    def forward(self, x: Any) -> ag.Tensor:
        _validate.not_a_batch("LeakyReLU", x)
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class Softmax(Module):
    """softmax along `axis` as a module; `Softmax(dim=1)`, PyTorch's spelling, works too."""

    def __init__(self, axis: int = -1, *, dim: int | None = None) -> None:
        super().__init__()
        self.axis = _validate.integer("Softmax", "axis", _validate.axis("Softmax", axis, dim))

    def forward(self, x: Any) -> ag.Tensor:
        _validate.not_a_batch("Softmax", x)
        return F.softmax(x, self.axis)

    def extra_repr(self) -> str:
        return f"axis={self.axis}"
