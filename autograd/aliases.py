"""PyTorch's spellings beside NumPy's, so PyTorch code ports without rewriting.

An alias is the NumPy-spelled definition itself, under a second name (`Tensor.view is
Tensor.reshape`, `ag.cat is ag.concatenate`); `dim` / `keepdim` / `correction` are accepted by
the functions that take `axis` / `keepdims` / `ddof` (see keywords.py). The few PyTorch methods
NumPy has no spelling for (`float`, `double`, `t`, `numel`, `clone`, `zero_`) are defined here.
docs/pytorch.md has the whole table.
"""

from __future__ import annotations

import numpy as np

from .ops import _g, astype, concatenate, transpose
from .record import record
from .tensor import STATE, Tensor

__all__ = ["cat", "clone"]

cat = concatenate        # torch.cat(tensors, dim=0)


def clone(x: Tensor) -> Tensor:
    """A copy of `x` with its own memory, connected to the graph: the gradient flows through
    to `x` unchanged (torch.clone). `copy.copy(t)` instead makes an independent leaf."""
    data = x._data if isinstance(x, Tensor) else np.asarray(x)
    return record("clone", np.array(data), (x,), (_g,))


def _float(self: Tensor) -> Tensor:
    """This tensor as float32 (differentiable; self when it is float32 already), as torch's `.float()`."""
    return self if self.dtype == np.float32 else astype(self, np.float32)


def _double(self: Tensor) -> Tensor:
    """This tensor as float64 (differentiable; self when it is float64 already), as torch's `.double()`."""
    return self if self.dtype == np.float64 else astype(self, np.float64)


def _t(self: Tensor) -> Tensor:
    """The transpose of a tensor of at most 2 dimensions (a 0-d or 1-d tensor as it is), as
    torch's `.t()`; more dimensions raise, as there."""
    if self.ndim > 2:
        raise ValueError(f"t() takes a tensor of at most 2 dimensions, this one has shape "
                         f"{self.shape}: use t.transpose(axes) or t.swapaxes(d0, d1)")
    return transpose(self)


def _numel(self: Tensor) -> int:
    """The number of elements, an int (torch's `.numel()`; NumPy's `t.size`)."""
    return int(self._data.size)


def _zero_(self: Tensor) -> Tensor:
    """Fill this tensor with zeros in place and return it, as torch's `.zero_()`: allowed for
    a leaf when nothing is recorded (under `ag.no_grad()`, or a tensor that does not require
    grad, such as a `.grad`); refused for a leaf that requires grad while grad mode is on, and
    for an operation's output (a graph may read it: use `ag.zeros_like(t)`)."""
    if self._node is not None:
        raise RuntimeError(
            f"zero_() changes a tensor in place, and this one is the output of "
            f"'{self._node.name}', which its graph may read: use ag.zeros_like(t) instead")
    if self.requires_grad and STATE.enabled:
        raise RuntimeError(
            "a leaf tensor that requires grad cannot be changed in place (zero_) while grad mode "
            "is on: call it under `with ag.no_grad():`")
    arr = self.data         # through .data: refused while a live graph saved this array
    if not arr.flags.writeable:
        raise ValueError(
            f"zero_(): this tensor's array (shape {self.shape}) is read-only: a graph saved it and "
            f"has not run its backward yet (or it was read-only when given, e.g. a broadcast "
            f"view); call zero_() after that backward, or replace the value "
            f"(t.data = np.zeros_like(t.data)), which makes that graph's backward raise instead")
    arr[...] = 0
    return self


_METHODS = {
    "view": Tensor.reshape,             # t.view(*shape)
    "permute": Tensor.transpose,        # t.permute(*dims)
    "unsqueeze": Tensor.expand_dims,    # t.unsqueeze(dim)
    "nelement": _numel,
    "numel": _numel,
    "float": _float,
    "double": _double,
    "t": _t,
    "clone": clone,
    "zero_": _zero_,
}
for _fn in (_numel, _float, _double, _t, _zero_):       # named as the methods they are
    _fn.__name__ = _fn.__name__[1:]
    _fn.__qualname__ = "Tensor." + _fn.__name__
for _name, _method in _METHODS.items():
    setattr(Tensor, _name, _method)
