"""Attacks on session 5's short paths (issue #20): `record_constant` (`t op number`),
`record_unary`'s first branch, and `engine._run_chain`. Each test failed before its fix."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import autograd as ag
import nn
from autograd.tensor import Observer


class _Outputs(Observer):
    """Collects the type of every output an operation reports without recording a node."""

    def __init__(self) -> None:
        self.types: list = []

    def unrecorded(self, name: str, out: np.ndarray) -> None:
        self.types.append((name, type(out)))


def test_observers_get_an_array_for_a_0d_tensor_times_a_cached_number() -> None:
    x = ag.tensor(np.float64(1.5), requires_grad=True)
    x * 2.0                                     # 2.0 now cached: `x * 2.0` takes record_constant
    seen = _Outputs()
    with seen, ag.no_grad():
        y = x * 2.0
    assert seen.types == [("multiply", np.ndarray)]    # the Observer contract: an ndarray
    assert y.data.shape == () and float(y.data) == 3.0


def _replaced(values: list) -> tuple:
    """(a leaf x, z = 2x whose .data was then replaced by the user's array `arr`, arr)."""
    x = ag.tensor(np.array([0.1, 0.2, 0.3]), requires_grad=True)
    z = x * 2.0
    arr = np.array(values)
    z.data = arr
    return x, z, arr


@pytest.mark.parametrize("op, dz", [
    (ag.sin, lambda v: np.cos(v)),                          # record_unary
    (lambda z: z * z, lambda v: 2 * v),                     # record_binary (saved_arrays)
    (lambda z: ag.maximum(z, 1.5), lambda v: (v > 1.5) * 1.0),
])
def test_an_array_assigned_to_a_result_is_locked_while_a_graph_saves_it(op: Any, dz: Any) -> None:
    """`z.data = arr` on an operation's output: `arr` is the user's, as a leaf's array is. A
    graph that saves z must refuse writes into it (before: saved as it was, and a write
    through `arr` changed the gradient silently)."""
    x, z, arr = _replaced([1.0, 2.0, 3.0])
    y = op(z)
    with pytest.raises(ValueError, match="read-only"):
        arr[0] = 100.0
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, 2 * dz(np.array([1.0, 2.0, 3.0])))
    assert arr.flags.writeable              # unlocked once the graph is released


_STEPS = [
    lambda t: t * 2.0 + 1.0,                    # record_constant, twice
    lambda t: 1.5 - t / 4.0,                    # a reflected form (general path) and divide
    lambda t: ag.sin(t) * 0.5,                  # record_unary's first branch
    lambda t: ag.exp(ag.tanh(t)),
    lambda t: t + t.detach() * 3.0,             # a constant made of the graph's own value
    lambda t: _in_place(t),
    lambda t: _hooked(t, remove=True),          # a hook registered and removed: meta, no hooks
    lambda t: _hooked(t, remove=False),
    lambda t: _no_grad_constant(t),
]


def _in_place(t: ag.Tensor) -> ag.Tensor:
    r = t * 1.0
    r += 0.5                                    # an operation's output: recorded, t = t + 0.5
    r *= 2.0
    return r


def _hooked(t: ag.Tensor, remove: bool) -> ag.Tensor:
    r = t * 3.0
    handle = r.register_hook(lambda g: g * 2.0)
    if remove:
        handle.remove()
    return ag.tanh(r)


def _no_grad_constant(t: ag.Tensor) -> ag.Tensor:
    with ag.no_grad():
        c = t * 2.0
    with ag.no_grad(), ag.enable_grad():
        return t * c + 1.0


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, len(_STEPS) - 1), st.integers(0, 3)), min_size=1,
                max_size=15), st.sampled_from([np.float32, np.float64]), st.booleans())
def test_backward_agrees_with_ag_grad_through_modules_hooks_and_no_grad(
        program: list, dtype: Any, in_module: bool) -> None:
    """backward() (the chain runner) against ag.grad (the targets path, which never chains)
    on random programs of the short paths mixed with a module's scope (observed recording),
    no_grad constants, `+=` on results and hooks; the leaves are writable again after."""
    dense = nn.Dense(3, 3, activation="tanh", rng=0)
    for p in dense.parameters():
        p.data = p.data.astype(dtype)

    def f(x: ag.Tensor) -> ag.Tensor:
        values = [x]
        for op, back in program:
            v = values[-1 - min(back, len(values) - 1)]
            values.append(dense(_STEPS[op](v)) if in_module and back == 3 else _STEPS[op](v))
        return sum((v.sum() for v in values[1:]), values[-1].sum())

    x = ag.tensor(np.array([[0.3, -0.5, 0.8]], dtype), requires_grad=True)
    params = [x, *dense.parameters()]
    want = ag.grad(f(x), params, allow_unused=True)
    f(x).backward()
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for p, w in zip(params, want):
        got = p.grad
        if w is None:
            assert got is None or not np.any(got.data)
            continue
        np.testing.assert_allclose(got.data, w.data, rtol=tol, atol=tol)
        assert got.dtype == dtype and p.data.flags.writeable
