"""safetensors files and PyTorch's names and layouts.

`nn.save` / `nn.load` use `save_safetensors` / `load_safetensors` for a path ending in
`.safetensors` (the `safetensors` package's NumPy API: no pickle either way).
`torch_state_dict(model)` gives a model's state as PyTorch lays it out and
`load_torch_state_dict(model, state)` loads a state PyTorch saved: the only layout that differs
is Dense's weight, (in, out) here and (out, in) in `torch.nn.Linear`; Embedding, BatchNorm1d
and LayerNorm hold the same arrays under the same names in both.
"""

from __future__ import annotations

import os
import re
import threading
from typing import Any

import numpy as np

from .layers import Dense
from .module import LoadResult, Module

__all__ = ["save_safetensors", "load_safetensors", "torch_state_dict", "load_torch_state_dict"]

SUFFIX = ".safetensors"
_DTYPES = "biuf"            # bool, integers and floats: what safetensors stores


def is_safetensors(path: str | os.PathLike) -> bool:
    """Whether `path` names a safetensors file (by its suffix)."""
    return os.fspath(path).endswith(SUFFIX)


def _numpy_api() -> Any:
    try:
        import safetensors.numpy
    except ImportError:
        raise ImportError("reading and writing .safetensors files needs the safetensors package: "
                          "pip install 'chainrule[safetensors]' (or pip install safetensors)") from None
    return safetensors.numpy


def save_safetensors(state: dict[str, Any], path: str | os.PathLike,
                     metadata: dict[str, str] | None = None) -> None:
    """Write `{name: array}` to `path` as safetensors; the old file stays whole until the new
    one replaces it. Arrays that are not bool, integer or float are refused, naming the key."""
    api = _numpy_api()
    arrays = {}
    for k, v in state.items():
        if not isinstance(k, str):
            raise TypeError(f"nn.save: keys must be strings, got {k!r}")
        arr = np.asarray(v.data if hasattr(v, "data") and not isinstance(v, np.ndarray) else v)
        if arr.dtype.kind not in _DTYPES:
            raise ValueError(f"nn.save: {k!r} has dtype {arr.dtype}, which safetensors cannot "
                             f"store (bool, integer and float arrays only)")
        arrays[k] = np.array(arr, order="C")            # contiguous, and 0-d stays 0-d
    data = api.save(arrays, metadata=metadata)
    path = os.fspath(path)
    tmp = os.path.join(os.path.dirname(os.path.abspath(path)),
                       f".{os.path.basename(path)}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with open(tmp, "wb") as f:                      # the usual permissions (not mkstemp's)
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load_safetensors(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read a safetensors file into `{name: ndarray}` (writable copies, in the file's order)."""
    api = _numpy_api()
    if not os.path.exists(path):
        raise FileNotFoundError(f"nn.load: no such file: {os.fspath(path)!r}")
    try:
        state = api.load_file(os.fspath(path))
    except Exception as err:           # the package's SafetensorError for a damaged header
        raise ValueError(f"nn.load: {os.fspath(path)!r} is not a valid safetensors file "
                         f"({err})") from None
    return {k: np.array(v) for k, v in state.items()}


# ---------------------------------------------------------------- PyTorch's names and layouts

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
    return {_join(pa, leaf): _join(pb, leaf) for (pa, la), (pb, _) in zip(a, b) for leaf in la}


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
        arr = np.asarray(v)
        converted[k] = arr.T if k in flip and arr.ndim == 2 else arr
    return model.load_state_dict(converted, strict=strict)


def _describe(keys: list[str]) -> str:
    return "; ".join(f"{p or '(root)'}: {', '.join(leaves)}" for p, leaves in _groups(keys))
