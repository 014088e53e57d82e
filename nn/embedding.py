"""Integer inputs: `one_hot`, `embedding` and the `Embedding` layer (a lookup table of rows)."""

from __future__ import annotations

import contextvars
from typing import Any

import numpy as np

import autograd as ag

from . import _validate
from .module import Module, Parameter

__all__ = ["one_hot", "embedding", "Embedding"]


def _indices(x: Any, fn: str) -> np.ndarray:
    """The integer array behind `x` (a Tensor, an ndarray, a list or a number); anything that is
    not integers is refused, naming what it was."""
    arr = x.data if isinstance(x, ag.Tensor) else np.asarray(x)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{fn}: indices must be integers, got dtype {arr.dtype}; convert them "
                        f"with .astype(np.int64) (floats are not rounded for you)")
    return arr


def one_hot(labels: Any = None, num_classes: int = -1, *, tensor: Any = None,
            input: Any = None, indices: Any = None) -> ag.Tensor:  # noqa: A002
    """`out[..., k] = 1` where `labels == k`, else 0: shape `labels.shape + (num_classes,)`,
    dtype int64, no gradient (as `torch.nn.functional.one_hot`). `num_classes=-1` takes
    `max(labels) + 1`. Labels must lie in `0 .. num_classes - 1`.

    The first argument may also be passed as `tensor=` (PyTorch's documented name), `input=`
    (the name PyTorch 2 accepts) or `indices=` (this function's earlier name).
    """
    given = {name: value for name, value in (("labels", labels), ("tensor", tensor),
                                             ("input", input), ("indices", indices))
             if value is not None}
    if len(given) > 1:
        raise TypeError(f"one_hot() got {' and '.join(map(repr, given))}, names of one argument "
                        f"(tensor, input and indices are aliases of labels): pass only one")
    if not given:
        raise TypeError("one_hot() needs the labels (integer class indices), e.g. "
                        "one_hot(labels, num_classes=10); got none")
    idx = _indices(next(iter(given.values())), "one_hot")
    if isinstance(num_classes, (bool, np.bool_)) or not isinstance(num_classes, (int, np.integer)):
        raise TypeError(f"one_hot: num_classes must be an int (or -1 to infer it), got "
                        f"{num_classes!r} ({type(num_classes).__name__})")
    if idx.size and idx.min() < 0:
        raise ValueError(f"one_hot: indices must be >= 0, got {idx.min()}")
    if num_classes == -1:
        if idx.size == 0:
            raise ValueError("one_hot: cannot infer num_classes from empty indices; pass num_classes")
        num_classes = int(idx.max()) + 1
    elif int(num_classes) < 1:
        raise ValueError(f"one_hot: num_classes must be positive or -1 (infer), got {num_classes}")
    elif idx.size and idx.max() >= num_classes:
        raise ValueError(f"one_hot: index {idx.max()} is out of range for num_classes={num_classes} "
                         f"(indices must be < num_classes)")
    out = (idx[..., None] == np.arange(int(num_classes))).astype(np.int64)
    return ag.tensor(out)


# Set by nn.export_onnx while it traces: only the forward value is exported, and the padding
# mask below (a constant made from the indices, so of the batch's shape) would be refused by a
# graph with a dynamic batch axis; without it a lookup is one Gather on the indices input.
FORWARD_ONLY: contextvars.ContextVar[bool] = contextvars.ContextVar("embedding_forward_only",
                                                                     default=False)


def _padding_idx(padding_idx: int | None, num: int, fn: str) -> int | None:
    if padding_idx is None:
        return None
    p = int(padding_idx)
    if not -num <= p < num:
        raise ValueError(f"{fn}: padding_idx {padding_idx} must lie in [{-num}, {num - 1}] for "
                         f"{num} embeddings")
    return p % num


def embedding(input: Any, weight: Any, padding_idx: int | None = None) -> ag.Tensor:  # noqa: A002
    """Rows of `weight` (num_embeddings, dim) picked by integer `input` of any shape: the result
    has shape `input.shape + (dim,)`. An index used several times sends the sum of its rows'
    gradients to that row. Rows at `padding_idx` are read as they are but get no gradient,
    as in PyTorch.
    """
    idx = _indices(input, "embedding")
    w = weight if isinstance(weight, ag.Tensor) else ag.tensor(weight)
    if w.ndim != 2:
        raise ValueError(f"embedding: weight must be 2-D (num_embeddings, embedding_dim), got shape "
                         f"{w.shape}")
    num = w.shape[0]
    if idx.size and (idx.min() < 0 or idx.max() >= num):
        bad = idx.min() if idx.min() < 0 else idx.max()
        raise IndexError(f"embedding: index {bad} is out of range for {num} embeddings "
                         f"(indices must lie in 0 .. {num - 1})")
    rows = w[idx]                                        # getitem: repeated indices add up
    pad = _padding_idx(padding_idx, num, "embedding")
    if pad is None or FORWARD_ONLY.get() or not np.any(idx == pad):
        return rows
    keep = (idx != pad)[..., None]                       # padding rows: the value, no gradient
    return ag.where(keep, rows, w.data[idx])


class Embedding(Module):
    """A lookup table: `Embedding(num_embeddings, embedding_dim)(indices)` is `weight[indices]`.

    `weight` (num_embeddings, embedding_dim) starts N(0, 1), as in PyTorch; the row at
    `padding_idx` (if given) starts at zero and is never updated by gradients.
    `rng`: a Generator, an int seed, or None (the global generator).
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None,
                 rng: Any = None, _weight: Any = None) -> None:
        super().__init__()
        if int(num_embeddings) <= 0 or int(embedding_dim) <= 0:
            raise ValueError(f"Embedding: sizes must be positive, got ({num_embeddings}, "
                             f"{embedding_dim})")
        self.num_embeddings, self.embedding_dim = int(num_embeddings), int(embedding_dim)
        self.padding_idx = _padding_idx(padding_idx, self.num_embeddings, "Embedding")
        shape = (self.num_embeddings, self.embedding_dim)
        if _weight is None:
            w = ag.get_rng(rng).standard_normal(shape).astype(ag.get_default_dtype())
            if self.padding_idx is not None:
                w[self.padding_idx] = 0
        else:
            w = np.array(_weight.data if isinstance(_weight, ag.Tensor) else _weight)
            if w.shape != shape:
                raise ValueError(f"Embedding: weight of shape {w.shape} given for {shape}")
        self.weight = Parameter(w)

    @classmethod
    def from_pretrained(cls, embeddings: Any, freeze: bool = True,
                        padding_idx: int | None = None) -> Embedding:
        """An Embedding holding a copy of the 2-D `embeddings`; `freeze` (the default) makes its
        weight not require grad."""
        arr = np.asarray(embeddings.data if isinstance(embeddings, ag.Tensor) else embeddings)
        if arr.ndim != 2:
            raise ValueError(f"Embedding.from_pretrained: embeddings must be 2-D, got shape {arr.shape}")
        emb = cls(arr.shape[0], arr.shape[1], padding_idx=padding_idx, _weight=arr)
        emb.weight.requires_grad_(not freeze)
        return emb

    def forward(self, indices: Any) -> ag.Tensor:
        _validate.not_a_batch("Embedding", indices)
        return embedding(indices, self.weight, self.padding_idx)

    def extra_repr(self) -> str:
        pad = f", padding_idx={self.padding_idx}" if self.padding_idx is not None else ""
        return f"{self.num_embeddings}, {self.embedding_dim}{pad}"
