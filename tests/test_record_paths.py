"""The short recording paths (issue #20, session 5): `t op number` in plain grad mode goes
through `record_constant`, a one-input operation through `record_unary`, both writing the node
with `_node_tensor`. Each must give the node the general path (`record_binary`, `new_node`)
gives, the same gradients, and step aside where it does not apply (a module's scope, anomaly
detection, no_grad, a saved leaf, a 0-d result)."""

from __future__ import annotations

import numpy as np
import pytest

import autograd as ag
import nn
from autograd import ops
from autograd.node import LockingNode, Node
from autograd.record import record_binary

BINARY = {      # name: (function, what each side's rule reads: save_a, save_b)
    "add": (ops.add, 0, 0),
    "subtract": (ops.subtract, 0, 0),
    "multiply": (ops.multiply, 2, 2),
    "divide": (ops.divide, 2, 1),
    "power": (ops.power, 1, 1),
    "maximum": (ops.maximum, 1, 1),
    "minimum": (ops.minimum, 1, 1),
}
_FIELDS = ("name", "arity", "p0", "p1", "vjps", "freed", "meta", "scope")


def _operand(kind: str, dtype: type = np.float64, values: tuple = (0.7, -1.3, 2.1, 0.4)) -> ag.Tensor:
    base = ag.tensor(np.array(values, dtype), requires_grad=True)
    if kind == "leaf":
        return base
    if kind == "result":
        return base * base           # made by an operation: its own node
    if kind == "parameter":
        return nn.Parameter(np.array(values, dtype))
    if kind == "view":
        return ag.tensor(np.array((0.0,) + values, dtype), requires_grad=True)[1:]
    raise AssertionError(kind)


def _same_node(got: Node, want: Node) -> None:
    assert type(got) is type(want)
    for field in _FIELDS:
        assert getattr(got, field) is getattr(want, field) or \
            getattr(got, field) == getattr(want, field), field
    assert got.shape == want.shape and got.dtype == want.dtype
    assert (got.ans is None) == (want.ans is None)
    if got.ans is not None:
        np.testing.assert_array_equal(got.ans, want.ans)
    assert len(got.saved) == len(want.saved) and all(a is b for a, b in zip(got.saved, want.saved))
    assert len(got.arrays) == len(want.arrays)
    for a, b in zip(got.arrays, want.arrays):
        assert a is b or (isinstance(a, np.ndarray) and np.array_equal(a, b))


@pytest.mark.parametrize("name", sorted(BINARY))
@pytest.mark.parametrize("kind", ["leaf", "result", "parameter", "view"])
@pytest.mark.parametrize("number", [2.5, 3, -0.75])
def test_tensor_op_number_records_the_general_node(name: str, kind: str, number: float) -> None:
    fn, save_a, save_b = BINARY[name]
    t = _operand(kind, values=(0.7, 1.3, 2.1, 0.4) if name == "power" else (0.7, -1.3, 2.1, 0.4))
    got = fn(t, number)
    c = ops._constant(number, t.data)           # the cached constant the number becomes
    want = record_binary(name, fn(t.data, c).data, t, c, got._node.vjps, save_a, save_b,
                         got._node.ans is not None)
    np.testing.assert_array_equal(got.data, want.data)
    assert got.data.dtype == np.float64
    _same_node(got._node, want._node)


@pytest.mark.parametrize("name", sorted(BINARY))
@pytest.mark.parametrize("kind", ["leaf", "result"])
def test_number_op_tensor_and_tensor_op_number_differentiate(name: str, kind: str) -> None:
    fn = BINARY[name][0]
    t = _operand(kind)
    leaf = t if t._node is None else t._node.p0.tensor()
    for number in (1.75, -2.0):
        if name == "power":     # a positive base for a non-integer exponent
            ag.gradcheck(lambda x, n=number: fn(ag.abs(x) + 0.5, n), [leaf])
            ag.gradcheck(lambda x, n=number: fn(abs(n), x * 0.5), [leaf])
            continue
        ag.gradcheck(lambda x, n=number: fn(x * x if kind == "result" else x, n), [leaf])
        ag.gradcheck(lambda x, n=number: fn(n, x * x if kind == "result" else x), [leaf])


def test_closed_form_gradients_of_the_short_path_in_float32() -> None:
    x = ag.tensor(np.array([0.5, -1.5, 2.0], np.float32), requires_grad=True)
    y = (x * 3.0 + 1.0) / 4.0 - 0.25        # every step a tensor and a cached number
    y = ag.sin(y) * ag.tanh(x)
    y.sum().backward()
    xv = x.data.astype(np.float64)
    u = (xv * 3 + 1) / 4 - 0.25
    want = np.cos(u) * 0.75 * np.tanh(xv) + np.sin(u) * (1 - np.tanh(xv) ** 2)
    assert y.dtype == np.float32 and x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad.data, want, rtol=1e-5)


def test_a_zero_dimensional_tensor_and_a_number_give_an_array() -> None:
    x = ag.tensor(np.float32(1.5), requires_grad=True)
    for y in (x * 2.0, x + 1.0, 2.0 - x):
        assert type(y.data) is np.ndarray and y.data.shape == () and y.dtype == np.float32
    with ag.no_grad():
        y = x * 2.0
    assert type(y.data) is np.ndarray and y._node is None and float(y.data) == 3.0
    z = (x * 2.0) * (x + 1.0)
    z.backward()
    assert float(x.grad.data) == pytest.approx(2 * (1.5 + 1) + 2 * 1.5)


def test_no_grad_records_nothing_and_gives_the_values() -> None:
    x = _operand("result")
    with ag.no_grad():
        ys = [x * 2.0, x + 0.5, ag.sin(x), ag.tanh(x), 3.0 / x]
    assert all(y._node is None and not y.requires_grad for y in ys)
    np.testing.assert_allclose(ys[0].data, x.data * 2)
    np.testing.assert_allclose(ys[4].data, 3.0 / x.data)


class _Double(nn.Module):
    def forward(self, x: ag.Tensor) -> ag.Tensor:
        return ag.sin(x * 2.0) + 1.0


def test_inside_a_module_the_nodes_carry_its_scope() -> None:
    x = _operand("result")
    y = _Double()(x)
    node = y._node
    seen = []
    while node is not None and node.arity:
        seen.append((node.name, node.scope))
        node = node.p0
    names = [n for n, _ in seen]
    assert names[:3] == ["add", "sin", "multiply"]
    assert all(scope for _, scope in seen[:3])          # the module's label on each
    assert seen[3] == ("multiply", ())                   # x * x, made outside it


def test_anomaly_detection_records_where_each_short_path_node_was_made() -> None:
    x = _operand("result")
    with ag.detect_anomaly():
        y = ag.tanh(x * 0.5) + 1.0
    assert y._node.trace and y._node.p0.trace and y._node.p0.p0.trace


def test_a_leaf_read_by_its_rule_is_locked_and_unlocked() -> None:
    x = ag.tensor(np.array([0.3, 0.6]), requires_grad=True)
    y = ag.sin(x)               # sin's rule reads x: the leaf's array is locked until backward
    assert type(y._node) is LockingNode and not x.data.flags.writeable
    y.sum().backward()
    assert x.data.flags.writeable
    np.testing.assert_allclose(x.grad.data, np.cos([0.3, 0.6]))
    z = x ** 2.0                # power reads its base: the general path, locked the same way
    assert type(z._node) is LockingNode and not x.data.flags.writeable
    z.sum().backward()
    assert x.data.flags.writeable


def test_saved_result_replaced_through_data_is_still_detected() -> None:
    x = _operand("leaf")
    h = x * 1.5
    y = ag.sin(h)               # saves h, an operation's output, as it is
    h.data = np.zeros(4)
    with pytest.raises(RuntimeError, match="modified after it was saved"):
        y.sum().backward()


def test_uncached_numbers_take_the_general_path_and_agree() -> None:
    x = _operand("result")
    for number in (0.0, -0.0, float("nan"), 1e308):     # never cached (see ops._constant)
        with np.errstate(all="ignore"):
            y = x * number
            np.testing.assert_array_equal(y.data, x.data * number)
        assert y._node.arrays[1] is not None and float(y._node.arrays[1]) == \
            pytest.approx(number, nan_ok=True)


def test_a_result_whose_data_was_replaced_records_the_new_shape() -> None:
    x = _operand("result")              # shape (4,), its node's shape tuple shared onward
    y = ag.sin(x)
    assert y._node.shape is x._node.shape
    x.data = np.zeros((2, 3))           # a new value of another shape, unrecorded
    for z in (ag.sin(x), ag.exp(x), x * 2.0, x + 1.0):
        assert z._node.shape == (2, 3) and z.shape == (2, 3)


@pytest.mark.parametrize("op", [ag.sin, lambda h: h * h, lambda h: h @ np.ones((2, 2)),
                                lambda h: h ** 3.0])
def test_an_array_assigned_to_a_results_data_is_locked_while_saved(op) -> None:
    """`h.data = arr` on an operation's output: the caller still holds `arr`, so a node that
    saves it locks it like a leaf's array (it was saved as it is, and a write through `arr`
    changed the gradient silently)."""
    x = ag.tensor(np.array([0.1, 0.2]), requires_grad=True)
    h = x * 2.0
    arr = np.array([0.3, 0.4])
    h.data = arr
    y = op(h)
    with pytest.raises(ValueError, match="read-only"):
        arr[0] = 5.0
    y.sum().backward()
    assert arr.flags.writeable            # unlocked once the graph is done with it
    ref = ag.tensor(np.array([0.3, 0.4]), requires_grad=True)
    op(ref).sum().backward()
    np.testing.assert_allclose(x.grad.data, 2.0 * ref.grad.data)
