"""PyTorch's names and layouts: `torch_state_dict(model)` gives a model's state as PyTorch
lays it out, `load_torch_state_dict(model, state)` loads a state PyTorch saved (for example
`nn.load` of a safetensors file it wrote). The only layout that differs is Dense's weight,
(in, out) here and (out, in) in `torch.nn.Linear`; Embedding, BatchNorm1d and LayerNorm hold
the same arrays under the same names in both.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from .layers import Dense
from .module import LoadResult, Module

__all__ = ["torch_state_dict", "load_torch_state_dict"]


def _transposed(model: Module) -> set[str]:
    """The state keys whose array PyTorch stores transposed: every Dense weight."""
    return {f"{name}.weight" if name else "weight"
            for name, m in model.named_modules(remove_duplicate=False) if isinstance(m, Dense)}


def _groups(keys: list[str]) -> list[tuple[str, list[str]]]:
    """Keys grouped by module (the part before the last dot), modules in natural order
    (`body.2` before `body.10`): safetensors files do not keep the order of a state dict."""
    groups: dict[str, list[str]] = {}
    for k in keys:
        prefix, _, leaf = k.rpartition(".")
        groups.setdefault(prefix, []).append(leaf)
    return sorted(groups.items(), key=lambda item: _natural(item[0]))


def _natural(prefix: str) -> list:
    return [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in prefix.split(".")]


def _skeleton(prefix: str) -> str:
    """The module path with its indices blanked: `body.#`."""
    return re.sub(r"(?<![^.])\d+(?![^.])", "#", prefix)


def _join(prefix: str, leaf: str) -> str:
    return f"{prefix}.{leaf}" if prefix else leaf


def _pair(ours: list[str], theirs: list[str]) -> dict[str, str]:
    """Our key -> theirs: the same names, or else, when the two differ only in the indices of
    Sequential / ModuleList entries (PyTorch counts activation modules, `0, 2, 4`, where fused
    Dense layers count `0, 1, 2`), modules paired in index order, each pair holding the same
    entries. Empty if neither fits."""
    if set(ours) == set(theirs):
        return {k: k for k in ours}
    a, b = _groups(ours), _groups(theirs)
    if len(a) != len(b) or any(_skeleton(pa) != _skeleton(pb) or set(la) != set(lb)
                               for (pa, la), (pb, lb) in zip(a, b)):
        return {}
    if not _same_tree([pa for pa, _ in a], [pb for pb, _ in b]):
        return {}
    return {_join(pa, leaf): _join(pb, leaf) for (pa, la), (pb, _) in zip(a, b) for leaf in la}


def _same_tree(ours: list[str], theirs: list[str]) -> bool:
    """Whether the paired module paths keep their parents paired: each enclosing module here
    pairs with one enclosing module there and back (so no layer moves to another block when
    one Sequential has an extra layer and another one fewer)."""
    fwd: dict[str, str] = {}
    back: dict[str, str] = {}
    for pa, pb in zip(ours, theirs):
        ca, cb = pa.split("."), pb.split(".")
        for d in range(1, len(ca)):
            a, b = ".".join(ca[:d]), ".".join(cb[:d])
            if fwd.setdefault(a, b) != b or back.setdefault(b, a) != a:
                return False
    return True


def torch_state_dict(model: Module, keys: list[str] | None = None) -> dict[str, np.ndarray]:
    """`model.state_dict()` as PyTorch lays it out: each Dense weight transposed to `(out, in)`
    (`torch.nn.Linear`'s), everything else as it is. Names are chainrule's, which are
    PyTorch's for the same module tree; given `keys` (the PyTorch model's `state_dict()` keys,
    in order), the modules are renamed to those, paired in order."""
    state = model.state_dict()
    flip = _transposed(model)
    out = {k: np.ascontiguousarray(v.T) if k in flip else v for k, v in state.items()}
    if keys is None:
        return out
    names = _pair(list(out), list(keys))
    if not names or set(names.values()) != set(keys):
        raise ValueError(f"torch_state_dict: the model's modules do not pair with the given keys: "
                         f"{_describe(list(out))} here, {_describe(list(keys))} given")
    return {names[k]: v for k, v in out.items()}


def load_torch_state_dict(model: Module, state: dict[str, Any], strict: bool = True) -> LoadResult:
    """Load a state in PyTorch's names and layouts (a `torch` model's `state_dict()` as arrays,
    e.g. `nn.load` of a safetensors file PyTorch wrote): each `nn.Linear` weight `(out, in)` is
    transposed into the Dense weight `(in, out)`. Names are matched as they are, or, when they
    differ, module by module in order (see `torch_state_dict`). Then `model.load_state_dict`:
    every mismatch listed and nothing loaded unless everything fits."""
    ours = list(model.state_dict())
    names = _pair(ours, list(state))
    if names:
        back = {theirs: mine for mine, theirs in names.items()}
        state = {back.get(k, k): v for k, v in state.items()}
    flip = _transposed(model)
    converted = {}
    for k, v in state.items():
        try:
            arr = np.asarray(v)
        except (TypeError, RuntimeError) as err:    # torch: bfloat16, a tensor requiring grad
            raise TypeError(f"load_torch_state_dict: {k!r} cannot be read as a NumPy array "
                            f"({err}); pass {{k: v.detach().float().numpy() for k, v in "
                            f"state.items()}} (NumPy has no bfloat16)") from None
        converted[k] = arr.T if k in flip and arr.ndim == 2 else arr
    return model.load_state_dict(converted, strict=strict)


def _describe(keys: list[str]) -> str:
    return "; ".join(f"{p or '(root)'}: {', '.join(leaves)}" for p, leaves in _groups(keys))
