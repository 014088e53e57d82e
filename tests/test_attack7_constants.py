"""Attack 7: the cache of Python numbers as 0-d constants (`ops._constant`) under threads.

`FROZEN` holds the ids of cached constants, which nodes save without locking or checking; an id
there must belong to an array kept for good. Two threads converting the same new number at once
each made an array and each added its id, but the cache kept one: the other array died, its id
stayed FROZEN, and a user's array later allocated at that address was saved unprotected (writes
into it changed a gradient silently).
"""

import threading

import numpy as np

import autograd as ag
from autograd import ops
from autograd.protection import FROZEN


class _SlowArray:
    """ops' `np`, with `array` waiting until both racing threads have made theirs."""

    def __init__(self, barrier: threading.Barrier) -> None:
        self.barrier = barrier

    def __getattr__(self, name):
        return getattr(np, name)

    def array(self, *args, **kwargs):
        out = np.array(*args, **kwargs)
        if threading.current_thread().name.startswith("attack7-racer"):
            self.barrier.wait(timeout=10)
        return out


def _race(monkeypatch, value, dtype):
    like = np.zeros(3, dtype)
    monkeypatch.setattr(ops, "np", _SlowArray(threading.Barrier(2)))
    got = {}

    def convert(i):
        got[i] = ops._constant(value, like)

    threads = [threading.Thread(target=convert, args=(i,), name=f"attack7-racer{i}") for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    monkeypatch.undo()
    return got


def test_threads_converting_one_new_number_share_the_cached_constant(monkeypatch):
    value = 0.7312918273645   # a number no other test converts
    got = _race(monkeypatch, value, np.float32)
    cached = ops._CONSTANTS[np.dtype(np.float32)][value][1]     # (None, c): see ops._CONSTANTS
    assert got[0] is cached and got[1] is cached
    assert got[0].dtype == np.float32 and float(got[0]) == np.float32(value)
    assert id(cached) in FROZEN


def test_no_frozen_id_outlives_its_array(monkeypatch):
    before = set(FROZEN)
    got = _race(monkeypatch, 0.2718281828459, np.float64)
    kept = {id(pair[1]) for cache in ops._CONSTANTS.values() for pair in cache.values()}
    assert FROZEN - before <= kept      # every id added is a cached constant's
    for c in got.values():
        assert id(c) not in FROZEN or c is ops._CONSTANTS[np.dtype(np.float64)][0.2718281828459][1]


def test_numbers_converted_on_many_threads_give_the_single_thread_gradients():
    # the same new numbers on 8 threads at once: every gradient right, FROZEN only cached ids
    values = [0.5 + k / 997 for k in range(64)]
    start = threading.Barrier(8)
    errors = []

    def work():
        start.wait(timeout=10)
        for v in values:
            w = ag.tensor([1.0, 2.0], dtype=np.float32, requires_grad=True)
            (w * v + v / w).sum().backward()
            want = np.float32(v) - np.float32(v) / np.array([1.0, 4.0], np.float32)
            if not np.allclose(w.grad.data, want, rtol=1e-6):
                errors.append((v, w.grad.data, want))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    kept = {id(pair[1]) for cache in ops._CONSTANTS.values() for pair in cache.values()}
    assert FROZEN <= kept
