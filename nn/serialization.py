"""Checkpoints as `.npz` archives of plain arrays: never pickle, in either direction."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from .module import Module
from .safetensors_io import is_safetensors, load_safetensors, save_safetensors

__all__ = ["save", "load"]

# np.savez's own argument names: `file`, and `allow_pickle` from NumPy 2.1 (before 2.1 that
# keyword would be stored as an array, so it is never passed; object arrays are refused instead)
_RESERVED = ("file", "allow_pickle")


def save(state_or_module: dict[str, Any] | Module, path: str | os.PathLike) -> None:
    """Write a Module's `state_dict()` (or a `{name: array}` dict) to `path` as an `.npz` file
    (a safetensors file if `path` ends in `.safetensors`).

    The file is written at exactly `path` (no `.npz` is appended). Arrays of Python objects
    are refused, since they would need pickle.
    """
    if isinstance(state_or_module, Module):
        state = state_or_module.state_dict()
    elif isinstance(state_or_module, dict):
        state = state_or_module
    else:
        raise TypeError(f"nn.save takes a Module or a dict of arrays, got {type(state_or_module).__name__}")
    if is_safetensors(path):                # a path ending in .safetensors: that format
        return save_safetensors(state, path)
    arrays: dict[str, Any] = {}     # Any: mypy would match a dict of arrays to allow_pickle
    for k, v in state.items():
        if not isinstance(k, str):
            raise TypeError(f"nn.save: keys must be strings, got {k!r}")
        if k in _RESERVED:
            raise ValueError(f"nn.save: {k!r} cannot be used as a key (it is an argument of "
                             f"np.savez); rename it")
        arr = np.asarray(v)
        if arr.dtype.hasobject:
            raise ValueError(f"nn.save: {k!r} is an array of Python objects, which would need "
                             f"pickle; chainrule only saves numeric arrays")
        arrays[k] = arr
    with open(path, "wb") as f:
        np.savez(f, **arrays)       # no object arrays (refused above), so nothing is pickled


def load(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read an `.npz` file written by `save` (or a `.safetensors` file) into a `{name: ndarray}` dict.

    Files holding pickled objects are refused: chainrule never loads pickle.
    """
    if is_safetensors(path):
        return load_safetensors(path)
    try:
        archive = np.load(path, allow_pickle=False)
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise ValueError(f"nn.load: {os.fspath(path)!r} holds a single array, not an .npz "
                             f"archive of named arrays")
        with archive:
            return {k: archive[k] for k in archive.files}
    except ValueError as err:
        if "pickle" in str(err):
            raise ValueError(f"nn.load: {os.fspath(path)!r} contains pickled objects; chainrule "
                             f"never loads pickle (it can run arbitrary code). Save plain numeric "
                             f"arrays with nn.save instead") from None
        raise
