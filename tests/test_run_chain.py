"""The chain runner (`engine._run_chain`, issue #20, session 5): a first-order backward runs a
run of one-input nodes one after the other without the heap. It must give what the general
loop gives: the same gradients where chains meet, branch and end at leaves, hooks and
retain_grad on nodes inside a chain, the version checks, the release of saved arrays."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import autograd as ag
from autograd import engine


def _leaf(*values: float) -> ag.Tensor:
    return ag.tensor(np.array(values, np.float64), requires_grad=True)


def _chain(x: ag.Tensor, n: int) -> ag.Tensor:
    y = x
    for i in range(n):
        y = ag.tanh(ag.sin(y * 1.1) + 0.2 * (i % 3))
    return y


def test_a_long_chain_matches_finite_differences_and_ag_grad() -> None:
    x = _leaf(0.3, -0.8, 1.2)
    ag.gradcheck(lambda t: _chain(t, 30), [x])
    _chain(x, 30).sum().backward()
    want = ag.grad(_chain(x, 30).sum(), x)[0]      # ag.grad's targets path never chains
    np.testing.assert_allclose(x.grad.data, want.data, rtol=1e-12)


def test_chains_that_meet_and_a_node_reached_twice() -> None:
    x = _leaf(0.5, -0.4)

    def f(t: ag.Tensor) -> ag.Tensor:
        a = ag.sin(t * 2.0)             # reached from c directly and through b's chain
        b = ag.tanh(ag.exp(a * 0.5) - 1.0)
        u = _chain(t, 4)                # a second chain from the leaf, created later
        return (b + a) * u + ag.cos(a)

    ag.gradcheck(f, [x])
    f(x).sum().backward()
    np.testing.assert_allclose(x.grad.data, ag.grad(f(x).sum(), x)[0].data, rtol=1e-12)


def test_a_hook_and_retain_grad_inside_a_chain() -> None:
    x = _leaf(0.2, 0.9)
    a = x * 3.0
    b = ag.sin(a)
    c = ag.exp(b * 0.5)
    seen = []
    b.register_hook(lambda g: seen.append(g.data.copy()) or g * 2.0)
    a.retain_grad()
    c.sum().backward()
    gb = 0.5 * np.exp(0.5 * np.sin(3 * x.data))
    np.testing.assert_allclose(seen[0], gb)
    np.testing.assert_allclose(a.grad.data, 2 * gb * np.cos(3 * x.data))
    np.testing.assert_allclose(x.grad.data, 3 * 2 * gb * np.cos(3 * x.data))


def test_a_saved_value_replaced_inside_a_chain_is_refused() -> None:
    x = _leaf(0.2, 0.9)
    a = x * 3.0
    b = ag.sin(a)                       # saves a
    c = ag.tanh(b * 2.0) + 1.0
    a.data = np.zeros(2)
    with pytest.raises(RuntimeError, match="modified after it was saved"):
        c.sum().backward()


def test_a_chain_releases_saved_arrays_and_leaf_locks() -> None:
    x = _leaf(0.2, 0.9)
    y = ag.exp(ag.sin(x) * 2.0)         # sin reads (and locks) the leaf
    assert not x.data.flags.writeable
    node = y._node
    y.sum().backward()
    assert x.data.flags.writeable
    assert node.freed and node.ans is None
    with pytest.raises(RuntimeError, match="second time"):
        y.sum().backward()


def test_retain_graph_runs_the_chain_again() -> None:
    x = _leaf(0.4, -1.1)
    y = _chain(x, 5).sum()
    y.backward(retain_graph=True)
    first = x.grad.data.copy()
    y.backward()
    np.testing.assert_allclose(x.grad.data, 2 * first)


class _Half(ag.Function):
    """Passes no gradient to its input (backward returns None)."""

    @staticmethod
    def forward(ctx: object, x: np.ndarray) -> np.ndarray:
        return x * 0.5

    @staticmethod
    def backward(ctx: object, g: np.ndarray) -> None:
        return None


def test_a_rule_giving_no_gradient_ends_the_path() -> None:
    x = _leaf(0.4, -1.1)
    z = _leaf(2.0, 3.0)
    y = ag.sin(_Half.apply(ag.exp(x * 2.0))) * 3.0 + z
    y.sum().backward()
    assert x.grad is None or not np.any(x.grad.data)
    np.testing.assert_allclose(z.grad.data, [1.0, 1.0])


def test_float32_chain_through_a_float64_cast_gives_float32_gradients() -> None:
    x = ag.tensor(np.array([0.3, 0.7], np.float32), requires_grad=True)
    y = ag.sin(x.astype(np.float64) * 2.0) * 1.5
    y.sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad.data, 3.0 * np.cos(2 * x.data.astype(np.float64)), rtol=1e-6)


def test_threads_run_chains_into_one_leaf() -> None:
    x = _leaf(0.3, -0.6)
    errors: list = []

    def work() -> None:
        try:
            for _ in range(20):
                _chain(x, 10).sum().backward()
        except Exception as err:            # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    one = ag.grad(_chain(x, 10).sum(), x)[0].data
    np.testing.assert_allclose(x.grad.data, 80 * one, rtol=1e-10)


def test_the_runner_is_what_runs_a_plain_chain(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = engine._run_chain

    def spy(node, g, *rest):  # type: ignore[no-untyped-def]
        calls.append(node)
        return real(node, g, *rest)

    monkeypatch.setattr(engine, "_run_chain", spy)
    x = _leaf(0.3)
    _chain(x, 3).sum().backward()
    assert calls            # the path under test is the one taken
    with ag.detect_anomaly():
        calls.clear()
        _chain(x, 3).sum().backward()
    assert not calls        # observers: the general loop


_UNARY = [ag.sin, ag.tanh, ag.exp, lambda t: t * 0.7, lambda t: t + 0.3, lambda t: 1.5 - t,
          lambda t: t / 1.3, lambda t: ag.sigmoid(t)]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, len(_UNARY) - 1), st.integers(0, 3)), min_size=1,
                max_size=25))
def test_random_programs_backward_equals_ag_grad(program: list) -> None:
    """Each step applies a one-input op to one of the last few values, or adds two of them:
    chains that branch and meet at random."""
    x = _leaf(0.3, -0.5, 0.8)

    def f(t: ag.Tensor) -> ag.Tensor:
        values = [t]
        for op, back in program:
            v = values[-1 - min(back, len(values) - 1)]
            values.append(_UNARY[op](v) if back < 3 else v * values[-1])
        return sum((v for v in values[1:]), values[-1]) * 0.5

    f(x).sum().backward()
    want = ag.grad(f(x).sum(), x)[0]
    np.testing.assert_allclose(x.grad.data, want.data, rtol=1e-10, atol=1e-12)
