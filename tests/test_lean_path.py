"""The lean per-operation path (issue #20): a node keeps its parents in its own slots
(`p0`, `p1`; `many` for three inputs or more; read as `Node.parents`), binary operations record through
`record_binary`, and nodes share their shape tuples and constant-operand tuples. These tests
pin the edge cases that layout creates."""

from __future__ import annotations

import gc
import re

import numpy as np
import pytest

import autograd as ag
from autograd import record
from autograd.node import JointNode, LeafNode, Node


def _leaf(*shape: int, seed: int = 0) -> ag.Tensor:
    data = np.random.default_rng(seed).standard_normal(shape)
    return ag.tensor(data, requires_grad=True)


def test_parents_of_one_two_and_many_inputs() -> None:
    x, y, z = _leaf(3), _leaf(3, seed=1), _leaf(3, seed=2)
    unary = ag.sin(x)._node
    binary = (x * y)._node
    many = ag.concatenate([x, y, z, x])._node
    assert unary.parents == (x._leaf,)
    assert binary.parents == (x._leaf, y._leaf)
    assert many.parents == (x._leaf, y._leaf, z._leaf, x._leaf)
    assert (unary.arity, binary.arity, many.arity) == (1, 2, 4)
    assert unary.p1 is None and unary.parents == (unary.p0,) and binary.parents == (binary.p0, binary.p1)
    assert many.p1 == many.parents and many.p0 is x._leaf and many.parents[1] is y._leaf
    assert x._leaf.parents == () and x._leaf.arity == 0


def test_none_parents_keep_their_places() -> None:
    x = _leaf(3)
    c = ag.tensor(np.arange(3.0))           # needs no gradient
    assert (c * x)._node.parents == (None, x._leaf)
    assert (x - c)._node.parents == (x._leaf, None)
    assert (x * 2.0)._node.parents == (x._leaf, None)
    assert (2.0 / x)._node.parents == (None, x._leaf)
    # a three-input node whose first two inputs need no gradient
    w = ag.where(c._data > 0, c, x)._node
    assert w.parents == (None, None, x._leaf) and w.p0 is None and w.p1 == w.parents


@pytest.mark.parametrize("shapes", [((3,), (3,), (3,)), ((2, 3), (1, 3), (3,)), ((4,), (4,), (1,))])
def test_three_and_more_inputs_differentiate(shapes: tuple) -> None:
    tensors = [_leaf(*s, seed=i) for i, s in enumerate(shapes)]

    def f(a: ag.Tensor, b: ag.Tensor, c: ag.Tensor) -> ag.Tensor:
        s = ag.stack([a * b, ag.broadcast_to(c, np.broadcast_shapes(a.shape, b.shape, c.shape))])
        return (ag.where(s._data > 0, s, -s * c) * a).sum()
    assert ag.gradcheck(f, tensors)
    out = f(*tensors)
    out.backward()
    for t in tensors:
        assert t.grad is not None and t.grad.shape == t.shape


def test_affine_joint_node_parents_and_gradients() -> None:
    x, w, b = _leaf(4, 3), _leaf(3, 2, seed=1), _leaf(2, seed=2)
    out = ag.affine(x, w, b, activation="tanh")
    node = out._node
    assert isinstance(node, JointNode)
    assert node.parents == (x._leaf, w._leaf, b._leaf) and node.arity == 3
    assert ag.gradcheck(lambda x, w, b: ag.affine(x, w, b, activation="tanh").sum(), [x, w, b])
    # without a bias the joint node still lists one parent per input
    node2 = ag.affine(x, w)._node
    assert len(node2.parents) in (2, 3) and node2.parents[:2] == (x._leaf, w._leaf)


class _Mix(ag.Function):
    @staticmethod
    def forward(ctx, a, b, c):      # type: ignore[no-untyped-def, override]
        ctx.save_for_backward(a, b, c)
        return a * b + c

    @staticmethod
    def backward(ctx, g):           # type: ignore[no-untyped-def, override]
        a, b, c = ctx.saved_arrays
        return g * b, g * a, g


def test_function_apply_of_three_inputs_with_a_constant() -> None:
    a, c = _leaf(3), _leaf(3, seed=2)
    b = np.array([1.0, -2.0, 0.5])
    out = _Mix.apply(a, b, c)
    assert out._node.parents == (a._leaf, None, c._leaf)
    out.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), b)
    np.testing.assert_allclose(c.grad.numpy(), np.ones(3))


def test_draw_graph_of_many_input_and_none_parent_nodes() -> None:
    x, y, z = _leaf(3), _leaf(3, seed=1), _leaf(3, seed=2)
    x.name, y.name, z.name = "x", "y", "z"
    c = ag.tensor(np.ones(3))
    out = (ag.concatenate([x * c, y, z]) * 2.0).sum()
    src = ag.draw_graph(out).source
    for name in ("x", "y", "z", "concatenate", "multiply", "sum"):
        assert re.search(rf"\b{name}\b", src), name
    # three leaves feed the concatenation (x through its multiply): one edge per parent
    concat = out._node.p0.p0
    assert concat.name == "concatenate" and len(concat.parents) == 3
    # x -> multiply -> concatenate <- y, z; concatenate -> multiply -> sum: the constant
    # operands (None parents) draw no edge
    assert src.count("->") == 6


def test_a_node_holds_no_tuple_of_nodes() -> None:
    """One object per recorded operation for the garbage collector: the parents are slots."""
    x = _leaf(3)
    y = ag.tanh(ag.sin(x * 1.5) + x)
    node = y._node
    while node is not None and not isinstance(node, LeafNode):
        for ref in gc.get_referents(node):
            assert not (isinstance(ref, tuple) and any(isinstance(r, Node) for r in ref)), node
        node = node.p0


def test_nodes_share_shape_and_constant_tuples() -> None:
    x = _leaf(5)
    a, b = x * 3.25, x * 3.25
    assert a._node.shape is b._node.shape == (5,)
    assert a._node.arrays is b._node.arrays            # (None, the cached 3.25), kept once
    assert a._node.arrays[0] is None and float(a._node.arrays[1]) == 3.25
    # a backward through one leaves the other's operands as they were (constants only: the
    # node keeps them, and can run again)
    a.sum().backward()
    assert b._node.arrays is a._node.arrays and float(b._node.arrays[1]) == 3.25
    x.grad = None
    b.sum().backward()
    a.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.full(5, 6.5))
    # a constant on the left: its own shared pair, the other way round
    c = 3.25 * x
    assert c._node.arrays[0] is not None and c._node.arrays[1] is None


def test_multiply_keeps_only_what_the_other_gradient_needs() -> None:
    x = _leaf(3)
    k = ag.tensor(np.array([1.0, 2.0, 3.0]))        # needs no gradient
    node = (x * k)._node
    assert node.arrays[0] is None and node.arrays[1] is k._data
    node = (x * x)._node
    assert node.saved == (x, x)                      # tensors saved: version-checked
    with pytest.raises(RuntimeError, match="modified after it was saved"):
        y = x * x
        x.data = np.zeros(3)
        y.sum().backward()


def test_grad_targets_and_hooks_through_many_input_nodes() -> None:
    x, y, z = _leaf(3), _leaf(3, seed=1), _leaf(3, seed=2)
    mid = ag.stack([x * y, z, y])
    seen = []
    mid.register_hook(lambda g: seen.append(g.shape))
    out = (mid * mid).sum()
    gx, gz = ag.grad(out, [x, z], retain_graph=True)
    np.testing.assert_allclose(gx.numpy(), 2 * (x * y).numpy() * y.numpy())
    np.testing.assert_allclose(gz.numpy(), 2 * z.numpy())
    assert seen == [(3, 3)]
    gmid, = ag.grad(out, [mid])          # a target that is itself a many-input node
    np.testing.assert_allclose(gmid.numpy(), 2 * mid.numpy())


def test_second_order_through_three_input_nodes() -> None:
    x = ag.tensor(np.array([0.3, -0.7, 1.1]), requires_grad=True)
    y = ag.stack([x * x, ag.sin(x), x]).sum()
    g, = ag.grad(y, [x], create_graph=True)
    h, = ag.grad(g.sum(), [x])
    np.testing.assert_allclose(h.numpy(), 2 - np.sin(x.numpy()), rtol=1e-12)


def test_shape_table_is_bounded() -> None:
    assert len(record._SHAPES) <= 4096
    x = _leaf(2)
    for n in range(1, 40):
        ag.broadcast_to(x[:1], (n,))         # new shapes: each node still gets its own shape
    assert len(record._SHAPES) <= 4096


def test_threads_share_the_tables_and_get_their_own_gradients() -> None:
    import threading

    results: dict = {}

    def work(k: int) -> None:
        x = ag.tensor(np.full(4, 0.1 * (k + 1)), requires_grad=True)
        y = x
        for i in range(200):
            y = ag.tanh(y * (1.0 + (i % 7) * 0.01) + 0.25)   # constants shared between threads
        y.sum().backward()
        results[k] = (x.numpy().copy(), x.grad.numpy().copy())

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for x0, grad in results.values():     # the same chain on one thread, for reference
        x = ag.tensor(x0, requires_grad=True)
        y = x
        for i in range(200):
            y = ag.tanh(y * (1.0 + (i % 7) * 0.01) + 0.25)
        y.sum().backward()
        np.testing.assert_array_equal(grad, x.grad.numpy())
    assert len(results) == 4


def test_anomaly_detection_sees_binary_nodes() -> None:
    x = ag.tensor(np.array([1.0, -1.0]), requires_grad=True)
    with ag.detect_anomaly():
        y = x * 2.0
        assert y._node.trace is not None and "test_lean_path.py" in y._node.trace
        with pytest.raises(RuntimeError, match="forward of 'log' produced NaN"), \
                np.errstate(invalid="ignore"):
            ag.log(y)
