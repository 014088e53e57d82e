"""A first-order backward pass unlocks the arrays its released nodes locked together
(engine._propagate's `locks`): before a hook or a custom Function's backward runs, when the
loop ends, and when the pass stops on an error."""

import gc

import numpy as np
import pytest

import autograd as ag
from autograd import protection


def _data(seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((4, 3)), rng.standard_normal((3, 2))


def test_a_hook_on_an_older_node_sees_a_released_weight_writable():
    xv, wv = _data()
    x = ag.tensor(xv, requires_grad=True)
    w = ag.tensor(wv, requires_grad=True)
    a = x * 2.0                     # older than the affine node, which runs first
    seen = []
    a.register_hook(lambda g: seen.append(w.numpy().flags.writeable))
    out = ag.affine(a, w, activation="tanh")
    assert not w.numpy().flags.writeable
    out.sum().backward()
    assert seen == [True]
    assert w.numpy().flags.writeable and x.numpy().flags.writeable
    t = np.tanh(2 * xv @ wv)
    np.testing.assert_allclose(w.grad.numpy(), (2 * xv).T @ (1 - t * t), rtol=1e-12)


def test_a_custom_function_older_than_the_node_sees_the_weight_writable():
    xv, wv = _data(1)
    w = ag.tensor(wv, requires_grad=True)
    seen = []

    class Double(ag.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2.0

        @staticmethod
        def backward(ctx, g):
            seen.append(w.numpy().flags.writeable)
            return g * 2.0

    x = ag.tensor(xv, requires_grad=True)
    out = ag.affine(Double.apply(x), w)
    out.sum().backward()
    assert seen == [True]
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.ones((4, 2)) @ wv.T, rtol=1e-12)


def test_locks_of_released_nodes_undone_when_the_pass_stops_on_an_error():
    xv, wv = _data(2)
    v = ag.tensor(np.ones(3), requires_grad=True)
    w = ag.tensor(wv, requires_grad=True)
    u = ag.tensor(xv, requires_grad=True)
    c = u * v                       # saves v's array (locked), older than the affine node
    out = ag.affine(c, w, activation="relu")
    v.data = np.full(3, 2.0)        # replaced after c's node saved it: its backward refuses
    with pytest.raises(RuntimeError, match="modified"):
        out.sum().backward()
    assert w.numpy().flags.writeable            # the affine node ran and was released
    assert id(w.numpy()) not in protection._LOCKED
    old = c.grad_fn.arrays[1]       # v's first array, still held by c's node
    assert not old.flags.writeable
    del c, out, u
    gc.collect()
    assert old.flags.writeable      # c's node dropped: its lock undone


def test_one_weight_saved_by_several_nodes_stays_locked_until_the_last_is_released():
    xv, wv = _data(3)
    w = ag.tensor(wv[:, :1].repeat(3, axis=1), requires_grad=True)    # (3, 3)
    x = ag.tensor(xv)
    h1 = ag.affine(x, w, activation="relu")
    h2 = ag.affine(h1, w, activation="relu")
    kept = ag.affine(x, w)          # a third graph holds w too
    h2.sum().backward()
    assert not w.numpy().flags.writeable        # still held by `kept`
    kept.sum().backward()
    assert w.numpy().flags.writeable
