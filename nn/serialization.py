"""Checkpoints: `.npz` archives of arrays and a JSON manifest (or safetensors files, for a path
ending in `.safetensors`), never pickle, written atomically.

    nn.save({"model": model.state_dict(), "optim": opt.state_dict(), "sched": sched.state_dict()},
            "ckpt.npz")
    state = nn.load("ckpt.npz")

A save writes a temporary file next to the target, flushes and fsyncs it, and renames it over
the target (`os.replace`), then fsyncs the directory: at every moment the path holds either the
previous checkpoint or the new one, whole. The format is described in `nn/_codec.py`.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import socket
import stat
import struct
import time
import zipfile
import zlib
from typing import IO, Any, Callable

import numpy as np

from . import _codec, _safetensors
from .module import Module

__all__ = ["save", "load", "CheckpointError"]


class CheckpointError(ValueError):
    """A file that `nn.load` cannot read as a chainrule checkpoint: `.path` and `.reason` say
    which file and why (damaged, truncated, empty, pickled, not an archive...)."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"nn.load: {path!r} is not a valid chainrule checkpoint: {reason}")


def save(state_or_module: dict[Any, Any] | Module, path: str | os.PathLike) -> None:
    """Write a Module's `state_dict()`, or a dict, to `path` (exactly; no `.npz` is appended).

    A path ending in `.safetensors` writes the safetensors format (arrays of bool, int, uint and
    float dtypes only); any other path an `.npz` archive.
    The dict's values may be arrays (and Tensors, saved as arrays), NumPy scalars, numbers,
    strings, None, and lists, tuples and dicts of these (optimizer and scheduler state_dicts):
    `load` gives back the same tree, keys and types. The previous file at `path` stays whole
    until the new one replaces it; if the save fails, nothing is left behind.
    """
    if isinstance(state_or_module, (str, os.PathLike)) and isinstance(path, (dict, Module)):
        raise TypeError("nn.save(state, path): the state comes first, then the path")
    if isinstance(state_or_module, Module):
        state = state_or_module.state_dict()
    elif isinstance(state_or_module, dict):
        state = state_or_module
    else:
        hint = ("; pass its state_dict(), e.g. nn.save(opt.state_dict(), path)"
                if callable(getattr(state_or_module, "state_dict", None)) else "")
        raise TypeError(f"nn.save takes a Module or a dict, got {type(state_or_module).__name__}{hint}")
    path = _fspath(path, "save")
    _refuse_directory(path)
    encoder = _codec.Encoder()
    manifest = encoder.encode_root(state)        # every value is checked before a file is touched
    if path.lower().endswith(".safetensors"):
        _safetensors.check_dtypes(encoder.arrays)
        _replace_atomically(path, lambda f: _safetensors.write(f, manifest, encoder.arrays))
    else:
        _replace_atomically(path, lambda f: _codec.write_archive(f, manifest, encoder.arrays))


def load(path: str | os.PathLike) -> dict[Any, Any]:
    """Read a checkpoint written by `save` (or an `.npz` of plain arrays, or any safetensors
    file: its format is recognised from the content) into the saved dict.

    A module's state loads as `{name: ndarray}`. Pickled data is never loaded. A file that is
    not a valid checkpoint raises `nn.CheckpointError` (a ValueError) naming the file and the
    reason; a missing file raises FileNotFoundError.
    """
    path = _fspath(path, "load")
    with open(path, "rb") as f:
        try:
            return _read(f)
        except _codec.DamagedError as err:
            raise CheckpointError(path, str(err)) from None
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, KeyError, IndexError,
                TypeError, OverflowError, MemoryError, struct.error, zlib.error,
                NotImplementedError, RecursionError) as err:
            raise CheckpointError(path, f"{type(err).__name__}: {err}") from err
        except OSError as err:      # zipfile seeking to an offset a damaged header gave
            if err.errno not in (None, errno.EINVAL):
                raise               # a real I/O error stays what it is
            raise CheckpointError(path, f"{type(err).__name__}: {err}") from err


def _refuse_directory(path: str) -> None:
    """A save path must name a file: an existing directory failed only after the checkpoint was
    written next to it, and 'ckpt/' wrote a file 'ckpt' that load('ckpt/') could not open."""
    if not path:
        raise ValueError("nn.save: the path is empty; pass a file path such as 'model.npz'")
    if path.endswith((os.sep, os.altsep or os.sep)) or os.path.isdir(path):
        raise IsADirectoryError(errno.EISDIR, f"nn.save: {path!r} names a directory; pass a file "
                                f"path inside it, such as {os.path.join(path, 'model.npz')!r}", path)


def _fspath(path: Any, what: str) -> str:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"nn.{what}: path must be a str or os.PathLike, got {type(path).__name__}")
    return os.fspath(path)


def _read(f: IO[bytes]) -> dict[Any, Any]:
    head = f.read(9)
    size = f.seek(0, os.SEEK_END)
    if _safetensors.looks_like(head, size):     # first: its data may hold a zip end record
        return _safetensors.read(f, size)
    f.seek(0)
    if zipfile.is_zipfile(f):
        f.seek(0)
        return _codec.read_archive(f)
    if size == 0:
        raise _codec.DamagedError("the file is empty (0 bytes)")
    if head.startswith(b"\x93NUMPY"):
        f.seek(0)
        try:
            np.load(f, allow_pickle=False)
        except ValueError:
            raise _codec.DamagedError(f"it is a single .npy array and {_codec.PICKLE}") from None
        raise _codec.DamagedError("it holds a single array (.npy), not an .npz archive of named arrays")
    if head[:1] == b"\x80":
        raise _codec.DamagedError(f"it looks like a pickle file; {_codec.PICKLE}")
    if head.startswith(b"PK"):
        raise _codec.DamagedError(f"it is an incomplete zip archive ({size} bytes; truncated by an "
                             f"interrupted copy or write?)")
    raise _codec.DamagedError(f"it is not a zip archive (it starts with {head!r})")


# ---------------------------------------------------------------- atomic replacement

def _replace_atomically(path: str, write: Callable[[IO[bytes]], None]) -> None:
    """Write through `write` to a temporary file in `path`'s directory, fsync, rename over `path`.

    On any error (including KeyboardInterrupt) the temporary file is removed and `path` is
    untouched. A symlink at `path` is followed: its target is replaced. A device or a named
    pipe at `path` is written into instead, as there is no file to replace.
    """
    target = os.path.realpath(path)
    try:
        mode = os.stat(target).st_mode
    except OSError:
        mode = stat.S_IFREG                         # no file yet (or unreadable): the usual way
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        # a device or a named pipe (/dev/null, a FIFO to another process) is written into:
        # replacing it with a regular file would destroy it (root may replace /dev/null)
        with open(target, "wb") as f:
            write(f)
        return
    directory = os.path.dirname(target)
    fd, tmp = _create_temp(directory, os.path.basename(target))
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        with contextlib.suppress(OSError):          # keep the mode of the file being replaced
            os.chmod(tmp, os.stat(target).st_mode & 0o7777)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_directory(directory)
    _remove_stale_temps(directory, os.path.basename(target))


def _writer() -> str:
    """Who writes a temporary file: this host and process, as `host_pid` (host name cut to
    letters, digits and '-')."""
    host = re.sub(r"[^A-Za-z0-9-]", "", socket.gethostname())[:40]
    return f"{host}_{os.getpid()}"


STALE_AFTER = 60.0      # seconds a dead writer's temporary file is left alone (clock skew)


def _remove_stale_temps(directory: str, base: str) -> None:
    """Remove the temporary files of earlier saves to `base` whose process was killed before it
    could clean up (SIGKILL, a preempted job, a power cut): each is as big as a checkpoint, so
    a job restarted many times would fill the disk with them. Only files of this host whose
    process no longer exists and that have not changed for `STALE_AFTER` seconds are removed;
    on anything unexpected the file is left. POSIX only (Windows has no harmless probe for a
    process id)."""
    if os.name != "posix":
        return
    pattern = re.compile(rf"\.{re.escape(base[:100])}\.(.{{0,40}})_(\d+)\.[0-9a-f]{{12}}\.tmp")
    host, pid = _writer().rsplit("_", 1)
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        m = pattern.fullmatch(name)
        if m is None or m.group(1) != host or m.group(2) == pid:
            continue
        try:
            os.kill(int(m.group(2)), 0)
            continue                            # alive (or a reused id): leave it
        except ProcessLookupError:
            pass
        except (OSError, OverflowError, ValueError):
            continue                            # not ours to probe (EPERM): alive
        path = os.path.join(directory, name)
        with contextlib.suppress(OSError):
            if time.time() - os.lstat(path).st_mtime >= STALE_AFTER:
                os.unlink(path)


def _create_temp(directory: str, base: str) -> tuple[int, str]:
    """A new file `.<base>.<host>_<pid>.<random>.tmp` in `directory`, created with the usual
    permissions (the writer in its name lets a later save remove it if its process died)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
    while True:
        tmp = os.path.join(directory, f".{base[:100]}.{_writer()}.{secrets.token_hex(6)}.tmp")
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
        except OSError as err:      # name the directory, not the temporary file
            raise OSError(err.errno, f"nn.save: cannot create a file in the directory of {base!r} "
                                     f"({err.strerror})", directory) from None


def _fsync_directory(directory: str) -> None:
    """Make the rename durable (POSIX); a no-op where directories cannot be opened or synced."""
    if os.name != "posix":
        return
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
