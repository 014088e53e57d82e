"""Write protection: an array a gradient rule reads must not change before backward.

Replacing a tensor's value (`t.data = a`) dates it, and backward checks the dates (`Node.seq`,
`Tensor._version`). Writing into an array is refused at the write: an operation's output is
read-only through `.data` (see `Tensor.data`); the arrays the user can reach otherwise (a leaf's,
an ndarray operand, the array a saved view shares memory with) are made read-only while a node
saves them, counted per array (several graphs may save one parameter), and unlocked when the
last such node is released. Arrays no lock can hold are copied instead.

The rest of the package uses these entries: `hold`, `hold_constant` and `protect` (what a node
saves, and the arrays it locked), `unlock_arrays` / `unlock_later` (the node is released), and
`shared` (a Tensor was built on a view). Code outside the package needs to know one thing: an
array it cannot write into is held by a live graph (the optimizer then updates a copy and
assigns it through `.data`, which dates the tensor).
"""

from __future__ import annotations

import collections
import functools
import threading
import weakref
from typing import Any

import numpy as np

_LOCKED: dict = {}      # id(array) -> [array, how many live nodes locked it]
FROZEN: set = set()     # ids of read-only arrays kept for good (ops' cached constants): never locked
_LOCKED_GUARD = threading.Lock()    # graphs on several threads may save one parameter


# Memory that arrays other than a tensor's own may write into: a tensor built on a view
# (`Tensor(A[:, :2])`) shares it with `A` and any other view the user made of it before, whose
# writes no lock on the tensor's array can refuse. A node saving a tensor on such memory saves a
# copy (`protect`). id(owner of the memory) -> weak reference to it.
SHARED: dict = {}


def shared(arr: np.ndarray) -> None:
    """Note that a Tensor was built on `arr`, a view: other views of its memory may write."""
    owner = memory_owner(arr)
    key = id(owner)
    if key not in SHARED and type(owner) is np.ndarray:
        SHARED[key] = weakref.ref(owner, functools.partial(_forget_shared, key))


def _forget_shared(key: int, _ref: Any) -> None:
    SHARED.pop(key, None)


def memory_owner(arr: np.ndarray) -> Any:
    """The object that owns `arr`'s memory: `arr` itself, the ndarray it views, or a foreign
    buffer (a bytearray, an mmap, another library's array)."""
    while isinstance(arr.base, np.ndarray) and type(arr) is np.ndarray:
        arr = arr.base
    return arr if arr.base is None or type(arr) is not np.ndarray else arr.base


def hold(t: Any) -> tuple:
    """(the array a node saves of `t`, the arrays it locked, for the node to unlock). An
    operation's own fresh output is saved as it is; a leaf's array, an array assigned to
    `.data` (`_version` set: the user may hold it) and the memory a view shares are locked, or
    copied when a lock cannot hold them (see `protect`)."""
    arr = t._data
    if t._node is None or t._version or arr.base is not None:
        return protect(arr)
    return arr, ()


def hold_constant(c: Any) -> tuple:
    """`hold` for an operand that is not a Tensor: an ndarray the user can reach is protected;
    a number, and an array nobody writes into (read-only and not ours, or `FROZEN`), as is."""
    if isinstance(c, np.ndarray) and id(c) not in FROZEN and (
            c.flags.writeable or c.base is not None or id(c) in _LOCKED or type(c) is not np.ndarray):
        return protect(c)
    return c, ()


def protect(arr: np.ndarray) -> tuple:
    """(what a node saves of an array the user can reach, the arrays locked): `arr` itself,
    locked with the ndarray owning its memory; a copy when no lock can refuse every write to
    that memory: a memmap, memory a bytearray or another library owns (not locked), and memory
    other views the user made earlier may share (a Tensor was built on a view of it, see
    `SHARED`: locked as well, so writes through `arr` and its owner are still refused)."""
    if arr.base is None and type(arr) is np.ndarray and not (SHARED and id(arr) in SHARED):
        return arr, _lock_own(arr)      # the frequent case (a parameter), spelled out
    owner = arr if arr.base is None else memory_owner(arr)
    if type(owner) is not np.ndarray or type(arr) is not np.ndarray:
        return np.array(arr), ()
    locked = lock_array(arr, owner)
    if SHARED and id(owner) in SHARED and SHARED[id(owner)]() is owner:
        return np.array(arr), locked    # locked too: writes through `arr` and `owner` are refused
    return arr, locked


def lock_array(arr: np.ndarray, owner: Any = None) -> tuple:
    """Make `arr`, and the ndarray owning the memory it views (`owner`, found if not given),
    read-only; count them. An array that was read-only already, and not by us, is left alone.
    Returns the arrays counted."""
    if owner is None:
        owner = memory_owner(arr)
    with _LOCKED_GUARD:
        counted = tuple([a for a in ((arr, owner) if owner is not arr and isinstance(owner, np.ndarray)
                                     else (arr,)) if _count_lock(a)])
    if _PENDING:
        _unlock_pending()
    return counted


def _count_lock(a: np.ndarray) -> bool:
    """Under `_LOCKED_GUARD`: lock `a` or count one more holder; False (nothing counted) for an
    array that was read-only already, and not by us."""
    entry = _LOCKED.get(id(a))
    if entry is not None:
        entry[1] += 1
        return True
    if a.flags.writeable:
        a.setflags(write=False)
        _LOCKED[id(a)] = [a, 1]
        return True
    return False


def _lock_own(arr: np.ndarray) -> tuple:
    """`lock_array(arr, arr)` for an array that owns its memory (the guard taken without
    `with`: this runs for every parameter a node saves)."""
    _LOCKED_GUARD.acquire()
    try:
        counted = (arr,) if _count_lock(arr) else ()
    finally:
        _LOCKED_GUARD.release()
    if _PENDING:
        _unlock_pending()
    return counted


def unlock_arrays(arrays: tuple) -> None:
    """Undo `lock_array`: an array nobody holds any more is writable again."""
    if arrays:
        _LOCKED_GUARD.acquire()
        try:
            _unlock(arrays)
        finally:
            _LOCKED_GUARD.release()
    if _PENDING:
        _unlock_pending()


def unlock_each(groups: list) -> None:
    """`unlock_arrays` for each tuple of `groups` in turn, under one acquisition of the guard
    (a backward pass unlocks what the nodes it released locked, together)."""
    _LOCKED_GUARD.acquire()
    try:
        for arrays in groups:
            _unlock(arrays)
    finally:
        _LOCKED_GUARD.release()
    if _PENDING:
        _unlock_pending()


def _unlock(arrays: tuple) -> None:
    for a in reversed(arrays):          # the memory's owner first, then its view
        entry = _LOCKED[id(a)]
        entry[1] -= 1
        if not entry[1]:
            del _LOCKED[id(a)]
            try:
                a.setflags(write=True)
            except ValueError:          # a view of memory someone else made read-only
                pass


# Finalizers (a node dropped without a backward, collected by the cycle collector) run inside
# whatever allocation triggered the collection, possibly inside `lock_array` on this very thread
# with the guard held: waiting for it there would never end. They queue their arrays instead;
# the queue is emptied by whoever holds the guard next, and by the finalizer itself when the
# guard is free.
_PENDING: collections.deque = collections.deque()


def unlock_later(arrays: tuple) -> None:
    """`unlock_arrays` for a finalizer: never waits for the guard."""
    if arrays:
        _PENDING.append(arrays)
        _unlock_pending()


def _unlock_pending() -> None:
    while _PENDING and _LOCKED_GUARD.acquire(blocking=False):
        try:
            while True:
                try:
                    arrays = _PENDING.popleft()
                except IndexError:
                    break
                _unlock(arrays)
        finally:
            _LOCKED_GUARD.release()


