"""Weight initializers. Each returns a new ndarray of the default dtype (float32 unless changed).

`fan_in` defaults to `shape[0]` (the input size of a Dense weight of shape (in, out)), `fan_out`
to `shape[1]` (`shape[0]` for 1-D shapes). `rng` is a numpy Generator, an int seed, or None for
the global generator (`ag.manual_seed` reseeds it). Samples are drawn in float64 and then cast,
so one seed gives the same weights whatever the default dtype.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

import autograd as ag

from . import _validate

__all__ = ["he_normal", "he_uniform", "lecun_normal", "xavier_normal", "xavier_uniform",
           "zeros", "ones", "normal", "get"]

Shape = Any   # an int or a tuple of ints


def _shape(shape: Shape) -> tuple[int, ...]:
    """A shape of non-negative ints (NumPy ints too); floats, bools and strings are refused."""
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, (bool, np.bool_)):
        shape = (shape,)
    if isinstance(shape, (ag.Tensor, np.ndarray)):      # PyTorch's nn.init.*_(tensor) habit
        raise TypeError(f"nn.init: initializers take a shape and return a new array (they do not "
                        f"fill a tensor in place as PyTorch's nn.init.*_ do); got a "
                        f"{type(shape).__name__} of shape {shape.shape}: write "
                        f"`layer.weight.data = nn.init.<name>(layer.weight.shape)`")
    if not isinstance(shape, (tuple, list)):
        raise TypeError(f"nn.init: shape must be an int or a tuple of ints, got {shape!r}")
    return tuple(_validate.integer("nn.init", f"shape[{i}]", s, minimum=0) for i, s in enumerate(shape))


def _fans(shape: tuple[int, ...], fan_in: int | None, fan_out: int | None = None) -> tuple[int, int]:
    if not shape and (fan_in is None or fan_out is None):
        raise ValueError("initializers need a shape with at least one axis (or explicit fans)")
    fi = shape[0] if fan_in is None else _validate.size("nn.init", "fan_in", fan_in)
    fo = (shape[1] if len(shape) > 1 else shape[0]) if fan_out is None else \
        _validate.size("nn.init", "fan_out", fan_out)
    if fi <= 0 or fo <= 0:
        raise ValueError(f"fan_in and fan_out must be positive, got {fi} and {fo} for shape {shape}")
    return fi, fo


def _normal(shape: tuple[int, ...], std: float, rng: Any) -> np.ndarray:
    return (ag.get_rng(rng).standard_normal(shape) * std).astype(ag.get_default_dtype())


def _uniform(shape: tuple[int, ...], bound: float, rng: Any) -> np.ndarray:
    return ag.get_rng(rng).uniform(-bound, bound, shape).astype(ag.get_default_dtype())


def he_normal(shape: Shape, fan_in: int | None = None, rng: Any = None) -> np.ndarray:
    """Normal with std sqrt(2 / fan_in) (He et al., for relu layers)."""
    shape = _shape(shape)
    fi, _ = _fans(shape, fan_in)
    return _normal(shape, math.sqrt(2.0 / fi), rng)


def he_uniform(shape: Shape, fan_in: int | None = None, rng: Any = None) -> np.ndarray:
    """Uniform on [-b, b] with b = sqrt(6 / fan_in) (std sqrt(2 / fan_in))."""
    shape = _shape(shape)
    fi, _ = _fans(shape, fan_in)
    return _uniform(shape, math.sqrt(6.0 / fi), rng)


def lecun_normal(shape: Shape, fan_in: int | None = None, rng: Any = None) -> np.ndarray:
    """Normal with std sqrt(1 / fan_in) (LeCun, for tanh, sigmoid and linear layers)."""
    shape = _shape(shape)
    fi, _ = _fans(shape, fan_in)
    return _normal(shape, math.sqrt(1.0 / fi), rng)


def xavier_normal(shape: Shape, fan_in: int | None = None, fan_out: int | None = None,
                  rng: Any = None) -> np.ndarray:
    """Normal with std sqrt(2 / (fan_in + fan_out)) (Glorot and Bengio)."""
    shape = _shape(shape)
    fi, fo = _fans(shape, fan_in, fan_out)
    return _normal(shape, math.sqrt(2.0 / (fi + fo)), rng)


def xavier_uniform(shape: Shape, fan_in: int | None = None, fan_out: int | None = None,
                   rng: Any = None) -> np.ndarray:
    """Uniform on [-b, b] with b = sqrt(6 / (fan_in + fan_out))."""
    shape = _shape(shape)
    fi, fo = _fans(shape, fan_in, fan_out)
    return _uniform(shape, math.sqrt(6.0 / (fi + fo)), rng)


def zeros(shape: Shape) -> np.ndarray:
    return np.zeros(_shape(shape), ag.get_default_dtype())


def ones(shape: Shape) -> np.ndarray:
    return np.ones(_shape(shape), ag.get_default_dtype())


def normal(shape: Shape, std: float, rng: Any = None) -> np.ndarray:
    """Normal with mean 0 and standard deviation `std`."""
    std = _validate.real("nn.init.normal", "std", std, 0.0)
    return _normal(_shape(shape), std, rng)


_BY_NAME: dict[str, Callable[[tuple[int, ...], Any], np.ndarray]] = {
    "he_normal": lambda shape, rng: he_normal(shape, rng=rng),
    "he_uniform": lambda shape, rng: he_uniform(shape, rng=rng),
    "lecun_normal": lambda shape, rng: lecun_normal(shape, rng=rng),
    "xavier_normal": lambda shape, rng: xavier_normal(shape, rng=rng),
    "xavier_uniform": lambda shape, rng: xavier_uniform(shape, rng=rng),
    "zeros": lambda shape, rng: zeros(shape),
    "ones": lambda shape, rng: ones(shape),
}


def get(name: str) -> Callable[[tuple[int, ...], Any], np.ndarray]:
    """The initializer called `name`, as a function `(shape, rng) -> ndarray` (used by Dense)."""
    try:
        return _BY_NAME[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown initializer {name!r}; choose one of "
                         f"{', '.join(sorted(_BY_NAME))}") from None
