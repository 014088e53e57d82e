"""The safetensors layout for checkpoints whose path ends in `.safetensors`.

A safetensors file is an 8-byte little-endian header length, a JSON header
`{name: {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, "__metadata__": {...}}`
and the arrays' bytes, C order, little-endian, one after another with no gaps. Arrays under
simple top-level keys are stored under those names (so other safetensors readers see a
model's `state_dict` as is); everything else of the tree (optimizer state, ...) is the JSON
manifest of `nn/_codec.py` in `__metadata__["chainrule"]`. The format has no checksum of its own:
chainrule adds the CRC-32 of the data in `__metadata__["chainrule.crc32"]` and checks it on load.
Arrays are written largest item size first, so every array starts aligned.
"""

from __future__ import annotations

import json
import struct
import zlib
from typing import IO, Any

import numpy as np

from ._codec import DamagedError, Decoder

DTYPES = {"BOOL": "?", "U8": "u1", "I8": "i1", "I16": "<i2", "U16": "<u2", "F16": "<f2", "I32": "<i4",
          "U32": "<u4", "F32": "<f4", "F64": "<f8", "I64": "<i8", "U64": "<u8"}
_NAMES = {np.dtype(v).newbyteorder("<") if np.dtype(v).itemsize > 1 else np.dtype(v): k
          for k, v in DTYPES.items()}
MAX_HEADER = 100 * 2**20
HEADER_CRC = "chainrule.header_crc32"


def tensor_name(member: str) -> str:
    return member[:-4] if member.endswith(".npy") else member


def check_dtypes(arrays: list[tuple[str, np.ndarray]]) -> None:
    """Refuse, before anything is written, arrays safetensors cannot hold."""
    for name, arr in arrays:
        dt = arr.dtype.newbyteorder("<") if arr.dtype.itemsize > 1 else arr.dtype
        if dt not in _NAMES:
            raise ValueError(f"nn.save: safetensors cannot hold the {arr.dtype} array "
                             f"{tensor_name(name)!r} (it stores bool, int, uint and float arrays); "
                             f"save to a path ending in .npz instead")


def write(f: IO[bytes], manifest: bytes, arrays: list[tuple[str, np.ndarray]]) -> None:
    """Header, then every array's bytes (largest item size first)."""
    order = sorted(arrays, key=lambda item: -item[1].dtype.itemsize)
    header: dict[str, Any] = {}
    offset, crc = 0, 0
    for name, arr in order:
        dt = arr.dtype.newbyteorder("<") if arr.dtype.itemsize > 1 else arr.dtype
        header[tensor_name(name)] = {"dtype": _NAMES[dt], "shape": list(arr.shape),
                                     "data_offsets": [offset, offset + arr.nbytes]}
        offset += arr.nbytes
    for _, arr in order:
        crc = zlib.crc32(_le_bytes(arr), crc)
    header["__metadata__"] = {"chainrule": manifest.decode("ascii"), "chainrule.crc32": str(crc)}
    header["__metadata__"][HEADER_CRC] = str(_header_crc(header))
    text = json.dumps(header, ensure_ascii=True).encode("ascii")
    text += b" " * (-(8 + len(text)) % 8)          # the data starts 8-byte aligned
    f.write(struct.pack("<Q", len(text)))
    f.write(text)
    for _, arr in order:
        f.write(_le_bytes(arr))


def _header_crc(header: dict[str, Any]) -> int:
    """CRC-32 of the header's canonical JSON, its own entry left out: the tensors' names, dtypes,
    shapes and offsets and the manifest, which the data's CRC does not cover."""
    meta = {k: v for k, v in header["__metadata__"].items() if k != HEADER_CRC}
    text = json.dumps({**header, "__metadata__": meta}, sort_keys=True, ensure_ascii=True,
                      separators=(",", ":"))
    return zlib.crc32(text.encode("ascii"))


def _le_bytes(arr: np.ndarray) -> np.ndarray:
    """The array's bytes, little-endian, C order (a uint8 view, or a copy when needed)."""
    dt = arr.dtype.newbyteorder("<") if arr.dtype.itemsize > 1 else arr.dtype
    return np.ascontiguousarray(arr, dtype=dt).reshape(-1).view(np.uint8)


def looks_like(head: bytes, size: int) -> bool:
    """Whether a file starting with `head` (>= 9 bytes) is plausibly safetensors."""
    if len(head) < 9:
        return False
    (n,) = struct.unpack("<Q", head[:8])
    return head[8:9] == b"{" and 2 <= n <= min(size - 8, MAX_HEADER)


def read(f: IO[bytes], size: int) -> dict[Any, Any]:
    """The tree stored in a safetensors file (a flat `{name: array}` without chainrule's manifest)."""
    f.seek(0)
    (n,) = struct.unpack("<Q", f.read(8))
    try:
        header = json.loads(f.read(n).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DamagedError(f"its safetensors header is not valid JSON ({err})") from None
    if not isinstance(header, dict):
        raise DamagedError("its safetensors header is not a JSON object")
    meta = header.get("__metadata__") or {}
    if not isinstance(meta, dict):
        raise DamagedError("its safetensors __metadata__ is not an object")
    _check_header(header, meta)
    header.pop("__metadata__", None)
    data = bytearray(size - 8 - n)
    if f.readinto(data) != len(data):
        raise DamagedError("it ends before its data")
    if "chainrule.crc32" in meta and str(zlib.crc32(data)) != meta["chainrule.crc32"]:
        raise DamagedError("its data does not match the CRC-32 it was saved with (corrupted)")
    arrays = _arrays(header, data)
    if "chainrule" not in meta:
        return {name: arr for name, arr in arrays.items()}
    try:
        manifest = json.loads(meta["chainrule"])
    except (TypeError, json.JSONDecodeError) as err:
        raise DamagedError(f"its chainrule manifest is not valid JSON ({err})") from None
    readers = {name + ".npy": (lambda a=arr: a) for name, arr in arrays.items()}
    return Decoder(readers).decode_root(manifest)


def _check_header(header: dict[str, Any], meta: dict[str, Any]) -> None:
    """A file chainrule wrote has its manifest and both CRCs (files saved before the header's
    CRC existed have the first two); a damaged key or header is an error, never a partial load."""
    ours = [k for k in ("chainrule", "chainrule.crc32") if k in meta]
    if len(ours) == 1:
        raise DamagedError(f"its metadata has {ours[0]!r} without its companion (a damaged key)")
    if HEADER_CRC in meta and str(_header_crc(header)) != meta[HEADER_CRC]:
        raise DamagedError("its header does not match the CRC-32 it was saved with (corrupted "
                           "names, dtypes, shapes or manifest)")


def _arrays(header: dict[str, Any], data: bytearray) -> dict[str, np.ndarray]:
    """Each tensor of the header as an array over `data`, after checking the layout."""
    spans = []
    out = {}
    for name, info in header.items():
        try:
            dtype_name, shape, (begin, end) = info["dtype"], tuple(info["shape"]), info["data_offsets"]
        except (TypeError, KeyError, ValueError):
            raise DamagedError(f"tensor {name!r} has a malformed header entry") from None
        if dtype_name == "BF16":            # NumPy has no bfloat16: its top half of a float32
            dtype = np.dtype("<u2")
        elif dtype_name in DTYPES:
            dtype = np.dtype(DTYPES[dtype_name])
        else:
            raise DamagedError(f"tensor {name!r} has dtype {dtype_name!r}, which NumPy cannot hold")
        if not all(isinstance(s, int) and s >= 0 for s in shape) or not \
                (isinstance(begin, int) and isinstance(end, int) and 0 <= begin <= end <= len(data)):
            raise DamagedError(f"tensor {name!r} has a bad shape or data offsets")
        count = int(np.prod(shape, dtype=object)) if shape else 1
        if end - begin != count * dtype.itemsize:
            raise DamagedError(f"tensor {name!r} declares {list(shape)} of {dtype_name} "
                               f"({count * dtype.itemsize} bytes) but spans {end - begin} bytes")
        arr = np.frombuffer(data, dtype, count, begin) if count else np.empty(0, dtype)
        if begin % dtype.itemsize:
            arr = arr.copy()                # keep every array aligned
        if dtype_name == "BF16":
            arr = (arr.astype(np.uint32) << 16).view(np.float32)
        out[name] = arr.astype(arr.dtype.newbyteorder("="), copy=False).reshape(shape)
        spans.append((begin, end))
    covered = 0
    for begin, end in sorted(spans):
        if begin != covered:
            raise DamagedError("its tensors overlap or leave gaps in the data")
        covered = end
    if covered != len(data):
        raise DamagedError(f"its data has {len(data) - covered} bytes no tensor uses")
    return out
