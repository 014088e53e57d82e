"""The shortcuts of the per-operation path (issue #20, session 3) give the same graph and the same
gradients as the general path they stand in for."""

from __future__ import annotations

import numpy as np
import pytest

import autograd as ag
from autograd.tensor import OFF, OFF_OBSERVED, RECORD, RECORD_OBSERVED, RECORD_SCOPED, STATE, Observer


class _Watcher(Observer):
    def __init__(self) -> None:
        self.names: list = []

    def recorded(self, node, out, inputs, attrs=None):
        self.names.append(node.name)


class _BackwardOnly(Observer):
    def backward(self, node, g, grads):
        pass


def test_recording_mode_follows_scope_observers_and_grad_mode():
    assert STATE.recording == RECORD
    with ag.scope("m"):
        assert STATE.recording == RECORD_SCOPED
        with ag.scope("inner"):
            assert STATE.recording == RECORD_SCOPED
        assert STATE.recording == RECORD_SCOPED
        with ag.no_grad():
            assert STATE.recording == OFF
        assert STATE.recording == RECORD_SCOPED
    assert STATE.recording == RECORD
    with ag.no_grad(), ag.scope("m"):
        assert STATE.recording == OFF
    assert STATE.recording == RECORD
    with _BackwardOnly() as b:                  # watches backward only: ops record as usual
        assert STATE.recording == RECORD and STATE.backward_observers == (b,)
        with _Watcher():
            assert STATE.recording == RECORD_OBSERVED
            with ag.no_grad():
                assert STATE.recording == OFF_OBSERVED
            with ag.scope("m"):
                assert STATE.recording == RECORD_OBSERVED
            assert STATE.recording == RECORD_OBSERVED
        assert STATE.recording == RECORD
        with ag.no_grad():
            assert STATE.recording == OFF
    assert (STATE.recording, STATE.backward_observers) == (RECORD, ())


def test_observer_sees_every_node_made_inside_a_scope():
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    with _Watcher() as w:
        with ag.scope("layer"):
            h = (x * 3.0 + 1.0).reshape(2, 1)
        y = h.sum()
    assert w.names == ["multiply", "add", "reshape", "sum"]
    assert y.grad_fn.scope == ()        # made outside the scope
    assert y.grad_fn.parents[0].scope == ("layer",)


def test_node_ans_is_the_output_array_for_a_0d_result():
    x = ag.tensor(0.5, requires_grad=True)
    y = ag.exp(x)                       # NumPy gives a scalar for a 0-d result
    assert type(y.data) is np.ndarray and y.grad_fn.ans is y.data
    y.backward()
    assert x.grad.item() == pytest.approx(np.exp(0.5), rel=1e-6)


def test_product_with_a_cached_constant_saves_no_tensor_and_backward_runs_twice():
    x = ag.tensor([1.0, -2.0], requires_grad=True)
    y = x * 1.5                         # 1.5 becomes a cached, read-only float32 constant
    node = y.grad_fn
    assert node.saved == () and node.arrays[0] is None and node.arrays[1].dtype == np.float32
    y.sum().backward()
    y.sum().backward()                  # nothing was saved to free: a second pass works
    np.testing.assert_array_equal(x.grad.data, [3.0, 3.0])


def test_second_backward_through_freed_nodes_still_raises():
    x = ag.tensor([0.3, 0.7], requires_grad=True)
    y = ag.tanh(ag.sin(x))              # both nodes save something and are freed inline
    y.sum().backward()
    with pytest.raises(RuntimeError, match="second time"):
        y.sum().backward()


@pytest.mark.parametrize("shape", [(3,), (2, 3), (1, 3)])
def test_one_input_ops_record_as_before(shape):
    x = ag.tensor(np.arange(np.prod(shape), dtype=np.float64).reshape(shape) + 1.0, requires_grad=True)
    assert ag.gradcheck(lambda t: (t.reshape(-1) * t.reshape(-1)).sum(), (x,))
    c = ag.tensor(np.ones(shape))       # needs no gradient: nothing recorded
    assert c.reshape(-1).grad_fn is None and not c.reshape(-1).requires_grad


def test_leaf_gradient_accumulates_and_keeps_its_checks():
    w = ag.tensor([1.0, 2.0], requires_grad=True)
    (w * w).sum().backward()
    (w * 3.0).sum().backward()
    np.testing.assert_array_equal(w.grad.data, [5.0, 7.0])
    with pytest.raises(ValueError, match="grad must match"):
        w.grad = ag.tensor([1.0, 2.0, 3.0])


def test_fast_paths_inside_a_scope_label_their_nodes_and_match_the_general_path():
    """Inside a module's scope with nobody watching (RECORD_SCOPED), elementwise operations and
    `t op number` still make their node in one call, and the node carries the scope's labels."""
    x = ag.tensor(np.array([0.3, -1.2, 2.0]), requires_grad=True)
    h = x * 1.0
    with ag.scope("block"):
        with ag.scope("inner"):
            y = ag.tanh(ag.sin(h * 2.0) + 0.5) - 1.0
        z = ag.exp(y) * 3.0
    nodes, node = [], z._node
    while node is not None and node.arity:
        nodes.append((node.name, node.scope))
        node = node.p0
    assert nodes == [("multiply", ("block",)), ("exp", ("block",)),
                     ("subtract", ("block", "inner")), ("tanh", ("block", "inner")),
                     ("add", ("block", "inner")), ("sin", ("block", "inner")),
                     ("multiply", ("block", "inner")), ("multiply", ())]
    z.sum().backward()
    v = x.data
    expected = 3.0 * np.exp(np.tanh(np.sin(2 * v) + 0.5) - 1.0) * \
        (1 - np.tanh(np.sin(2 * v) + 0.5) ** 2) * np.cos(2 * v) * 2.0
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-12)
    assert ag.gradcheck(lambda t: _scoped_program(t), (ag.tensor(v.copy(), requires_grad=True),))


def _scoped_program(t):
    with ag.scope("block"):
        return ag.exp(ag.tanh(ag.sin(t * 1.0 * 2.0) + 0.5) - 1.0) * 3.0
