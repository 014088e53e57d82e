"""The checkpoint format: a tree of arrays, numbers, strings, None, lists, tuples and dicts as a
zip archive of `.npy` members plus one JSON manifest, `__chainrule__.json`.

The manifest holds `{"format": "chainrule-checkpoint", "version": 1, "root": node}`, where a node
is a one-key object naming its type: `{"array": member}`, `{"scalar": member}` (a NumPy scalar),
`{"dict": [[key_node, value_node], ...]}`, `{"list": [...]}`, `{"tuple": [...]}`, `{"str": s}`,
`{"int": n}`, `{"float": repr}` (exact, NaN and inf included), `{"complex": [repr, repr]}`,
`{"bool": b}`, `{"none": null}`. Keys are never derived from member names: an array under a
top-level key made only of `[A-Za-z0-9_.-]` (at most 250 of them; not ending in `.npy`, not
`__metadata__`) is stored as `<key>.npy`, so `np.load` finds it under its name; every other
array is `__chainrule__/<n>.npy`.
Nothing is ever pickled, in either direction.
"""

from __future__ import annotations

import functools
import json
import math
import re
import zipfile
from typing import IO, Any, Callable

import numpy as np

import autograd as ag

MANIFEST = "__chainrule__.json"
FORMAT = "chainrule-checkpoint"
VERSION = 1
_PLAIN = re.compile(r"[A-Za-z0-9_.\-]{1,250}")     # a zip member name has at most 65,535 bytes
_EPOCH = (1980, 1, 1, 0, 0, 0)      # fixed member dates: the same state gives the same bytes
_KEY_TYPES = (str, int, float, bool, type(None))
NOT_SAVABLE = ("a checkpoint holds arrays (and Tensors, saved as arrays), NumPy scalars, int, float, "
               "complex, bool, str, None, and lists, tuples and dicts of these")


class DamagedError(Exception):
    """A file that is not a valid checkpoint; `str()` says why (serialization adds the path)."""


# ---------------------------------------------------------------- writing

class Encoder:
    """Turns a state tree into a JSON manifest and the list of arrays it refers to."""

    def __init__(self) -> None:
        self.arrays: list[tuple[str, np.ndarray]] = []
        self._open: set[int] = set()         # containers on the current path (cycle check)

    def encode_root(self, state: dict[Any, Any]) -> bytes:
        root = self._container(state, "", top=True)
        return json.dumps({"format": FORMAT, "version": VERSION, "root": root},
                          ensure_ascii=True, allow_nan=False).encode("ascii")

    def _array(self, arr: np.ndarray, where: str, member: str | None) -> str:
        if arr.dtype.hasobject:
            raise ValueError(f"nn.save: {where} is an array of Python objects, which would need "
                             f"pickle; chainrule only saves arrays of numbers, bools and strings")
        name = member or f"__chainrule__/{len(self.arrays)}.npy"
        self.arrays.append((name, arr))
        return name

    def encode(self, value: Any, where: str, member: str | None = None) -> dict[str, Any]:
        if isinstance(value, ag.Tensor):
            value = np.asarray(value.data)
        if isinstance(value, np.ndarray):
            return {"array": self._array(np.asarray(value), where, member)}
        if isinstance(value, np.generic):
            return {"scalar": self._array(np.asarray(value), where, None)}
        if value is None:
            return {"none": None}
        if isinstance(value, bool):
            return {"bool": value}
        if isinstance(value, int):
            return {"int": int(value)}
        if isinstance(value, float):
            return {"float": repr(float(value))}
        if isinstance(value, complex):
            return {"complex": [repr(value.real), repr(value.imag)]}
        if isinstance(value, str):
            return {"str": str(value)}
        if isinstance(value, (dict, list, tuple)):
            return self._container(value, where)
        hint = ("; save its state_dict() instead, e.g. {'model': model.state_dict(), 'optim': "
                "opt.state_dict()}" if callable(getattr(value, "state_dict", None)) else "")
        raise TypeError(f"nn.save: {where or 'the state'} is a {type(value).__name__}, which cannot "
                        f"be saved without pickle; {NOT_SAVABLE}{hint}")

    def _container(self, value: Any, where: str, top: bool = False) -> dict[str, Any]:
        if id(value) in self._open:
            raise ValueError(f"nn.save: {where} contains itself; a checkpoint must be a tree")
        self._open.add(id(value))
        try:
            if isinstance(value, dict):
                items = []
                for k, v in value.items():
                    if not isinstance(k, _KEY_TYPES):
                        raise TypeError(f"nn.save: a key in {where or 'the state'} is a "
                                        f"{type(k).__name__} ({k!r}); keys must be str, int, float, "
                                        f"bool or None")
                    plain = top and isinstance(k, str) and bool(_PLAIN.fullmatch(k)) \
                        and not k.endswith(".npy") and k != "__metadata__"   # safetensors' header key
                    inner = f"{where}[{k!r}]" if where else repr(k)
                    items.append([self.encode(k, where),
                                  self.encode(v, inner, k + ".npy" if plain else None)])
                return {"dict": items}
            tag = "list" if isinstance(value, list) else "tuple"
            return {tag: [self.encode(v, f"{where}[{i}]") for i, v in enumerate(value)]}
        except RecursionError:
            raise ValueError(f"nn.save: the state is nested too deeply (at {where[:200]}...)") from None
        finally:
            self._open.discard(id(value))


def write_archive(f: IO[bytes], manifest: bytes, arrays: list[tuple[str, np.ndarray]]) -> None:
    """The archive: the manifest, then every array as an uncompressed `.npy` member."""
    with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        zf.writestr(zipfile.ZipInfo(MANIFEST, date_time=_EPOCH), manifest)
        for name, arr in arrays:
            with zf.open(zipfile.ZipInfo(name, date_time=_EPOCH), "w", force_zip64=True) as m:
                np.lib.format.write_array(m, arr, allow_pickle=False)


# ---------------------------------------------------------------- reading

PICKLE = "it contains pickled objects; chainrule never loads pickle (it can run arbitrary code)"


def read_array(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> np.ndarray:
    """One `.npy` member, checked against its size before anything is allocated."""
    with zf.open(info) as m:
        version = np.lib.format.read_magic(m)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(m)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(m)
        else:
            raise DamagedError(f"member {info.filename!r} has .npy format version {version}, which "
                          f"chainrule does not read")
        if dtype.hasobject:
            raise DamagedError(f"member {info.filename!r}: {PICKLE}")
        count = math.prod(shape)
        nbytes = count * dtype.itemsize
        if info.file_size - m.tell() != nbytes:
            raise DamagedError(f"member {info.filename!r} declares {shape} of {dtype} ({nbytes} bytes) "
                          f"but holds {info.file_size - m.tell()} bytes")
        flat = np.empty(count, dtype)       # filled in place: no second copy of the data
        view, got = (memoryview(flat.view(np.uint8)) if nbytes else memoryview(b"")), 0
        while got < nbytes:
            n = m.readinto(view[got:])
            if not n:
                raise DamagedError(f"member {info.filename!r} ends after {got} of {nbytes} data bytes")
            got += n
        if m.read(1):       # also makes zipfile check the member's CRC
            raise DamagedError(f"member {info.filename!r} has data after its array")
    return flat.reshape(shape[::-1]).T if fortran else flat.reshape(shape)


class Decoder:
    """Rebuilds the tree from a manifest, reading each referenced member once; `members` maps
    each member name to a function that reads that array."""

    def __init__(self, members: dict[str, Callable[[], np.ndarray]]) -> None:
        self.members = members
        self.used: set[str] = set()

    def decode_root(self, manifest: Any) -> Any:
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise DamagedError(f"its manifest {MANIFEST} is not a chainrule manifest")
        if manifest.get("version") != VERSION:
            raise DamagedError(f"it has format version {manifest.get('version')!r}; this chainrule reads "
                          f"version {VERSION} (a newer chainrule wrote it?)")
        root = self.decode(manifest.get("root"))
        unused = sorted(set(self.members) - self.used - {MANIFEST})
        if unused:
            raise DamagedError(f"it holds members the manifest does not name: {unused[:5]}")
        if not isinstance(root, dict):
            raise DamagedError("its root is not a dict")
        return root

    def _member(self, name: Any) -> np.ndarray:
        if not isinstance(name, str) or name not in self.members or name == MANIFEST:
            raise DamagedError(f"the manifest names a missing member {name!r}")
        if name in self.used:
            raise DamagedError(f"the manifest names member {name!r} twice")
        self.used.add(name)
        return self.members[name]()

    def decode(self, node: Any) -> Any:
        if not isinstance(node, dict) or len(node) != 1:
            raise DamagedError(f"malformed manifest node {str(node)[:80]}")
        (tag, v), = node.items()
        if tag == "array":
            return self._member(v)
        if tag == "scalar":
            arr = self._member(v)
            if arr.shape != ():
                raise DamagedError(f"scalar member {v!r} has shape {arr.shape}")
            return arr[()]
        if tag in ("list", "tuple") and isinstance(v, list):
            items = [self.decode(x) for x in v]
            return items if tag == "list" else tuple(items)
        if tag == "dict" and isinstance(v, list):
            out = {}
            for pair in v:
                if not isinstance(pair, list) or len(pair) != 2:
                    raise DamagedError("malformed dict entry in the manifest")
                k = self.decode(pair[0])
                if not isinstance(k, _KEY_TYPES) or k in out:
                    raise DamagedError(f"bad or repeated dict key {k!r} in the manifest")
                out[k] = self.decode(pair[1])
            return out
        return _scalar(tag, v)


def _scalar(tag: str, v: Any) -> Any:
    expected = {"str": str, "int": int, "bool": bool, "none": type(None), "float": str}
    if tag in expected and type(v) is expected[tag]:
        return float(v) if tag == "float" else v
    if tag == "complex" and isinstance(v, list) and len(v) == 2 and all(isinstance(x, str) for x in v):
        return complex(float(v[0]), float(v[1]))
    raise DamagedError(f"malformed manifest node {{{tag!r}: {str(v)[:60]}}}")


def read_archive(f: IO[bytes]) -> dict[Any, Any]:
    """The tree stored in an open archive; archives without a manifest (written by older
    chainrule versions or by `np.savez`) give `{member name without .npy: array}`."""
    with zipfile.ZipFile(f) as zf:
        names = zf.namelist()
        if len(set(names)) != len(names):
            raise DamagedError("it holds two members with the same name")
        # zipfile takes bytes before the central directory that no member accounts for as data
        # prepended to the archive (a self-extracting zip): a damaged end record (its directory
        # size and offset zeroed) made a whole checkpoint an archive of no members, loaded as {}
        start = min((i.header_offset for i in zf.infolist()), default=zf.start_dir)
        if start != 0:
            raise DamagedError(f"its zip directory does not account for its first {start} bytes "
                               f"(a damaged end record, or data prepended to the archive)")
        encrypted = [i.filename for i in zf.infolist() if i.flag_bits & 0x1]
        if encrypted:       # zipfile would raise RuntimeError; a flipped flag bit does this too
            raise DamagedError(f"member {encrypted[0]!r} is marked encrypted, which no checkpoint is")
        if MANIFEST in names:
            try:
                manifest = json.loads(zf.read(MANIFEST).decode("ascii"))
            except (UnicodeDecodeError, json.JSONDecodeError) as err:
                raise DamagedError(f"its manifest is not valid JSON ({err})") from None
            readers = {i.filename: functools.partial(read_array, zf, i) for i in zf.infolist()}
            return Decoder(readers).decode_root(manifest)
        out = {}
        for info in zf.infolist():
            if info.filename.endswith("data.pkl"):      # torch.save's zip: a pickle
                raise DamagedError(
                    "it is a PyTorch torch.save file, a pickle, which chainrule never loads; in "
                    "PyTorch write safetensors.torch.save_file(model.state_dict(), 'm.safetensors'), "
                    "then nn.load_torch_state_dict(model, nn.load('m.safetensors'))")
            if not info.filename.endswith(".npy"):
                raise DamagedError(f"member {info.filename!r} is not an .npy array")
            out[info.filename[:-4]] = read_array(zf, info)
        return out
