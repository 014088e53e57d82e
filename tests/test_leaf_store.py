"""A first-order pass gathers the leaves' gradients and stores them into `.grad` when its loop
ends (engine._propagate / _store_leaves): sums, sharing, hooks, seeds and errors."""

import numpy as np
import pytest

import autograd as ag


def _x(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def test_weight_shared_by_two_fused_layers_and_reached_by_elementwise_ops():
    xv, wv, bv = _x(4, 3), _x(3, 3, seed=1), _x(3, seed=2)
    x = ag.tensor(xv)
    w = ag.tensor(wv, requires_grad=True)
    b = ag.tensor(bv, requires_grad=True)

    def f(w, b):
        h = ag.affine(x, w, b, activation="tanh")
        return (ag.affine(h, w, b) * w[0]).sum() + (b * b).sum()
    assert ag.gradcheck(f, [w, b])
    f(w, b).backward()
    gw, gb = ag.grad(f(w, b), [w, b])
    np.testing.assert_allclose(w.grad.numpy(), gw.numpy(), rtol=1e-12)
    np.testing.assert_allclose(b.grad.numpy(), gb.numpy(), rtol=1e-12)
    f(w, b).backward()          # adds into the stored gradients
    np.testing.assert_allclose(w.grad.numpy(), 2 * gw.numpy(), rtol=1e-12)
    np.testing.assert_allclose(b.grad.numpy(), 2 * gb.numpy(), rtol=1e-12)


def test_two_leaves_given_one_array_each_own_their_gradient():
    x = ag.tensor(np.array([1.0, 2.0]), requires_grad=True)
    w = ag.tensor(np.array([3.0, 4.0]), requires_grad=True)
    (x + w).sum().backward()        # add's rule hands the same array to both
    assert x.grad.numpy() is not w.grad.numpy()
    x.grad.numpy()[...] = 7.0
    np.testing.assert_allclose(w.grad.numpy(), [1.0, 1.0])


def test_hook_registered_on_a_leaf_during_the_pass_sees_its_whole_gradient():
    x = ag.tensor(np.array([1.0, -2.0]), requires_grad=True)
    seen = []

    def on_y(g):
        x.register_hook(lambda gx: seen.append(gx.numpy().copy()) or gx * 10.0)

    a = x * 3.0             # x reached from two nodes, created before and after y
    y = a * 2.0
    y.register_hook(on_y)
    (y + x * x).sum().backward()
    want = np.array([6.0, 6.0]) + 2 * np.array([1.0, -2.0])
    np.testing.assert_allclose(seen[0], want)
    np.testing.assert_allclose(x.grad.numpy(), 10 * want)


def test_leaf_with_a_hook_keeps_its_turn_before_older_nodes():
    x = ag.tensor(np.array([0.5]), requires_grad=True)
    order = []
    y = ag.sin(x)
    y.register_hook(lambda g: order.append("y"))
    w = ag.tensor(np.array([2.0]), requires_grad=True)
    w.register_hook(lambda g: order.append("w"))
    (y * w).sum().backward()        # w's leaf node is newer than y's node: w runs first
    assert order == ["w", "y"]
    np.testing.assert_allclose(w.grad.numpy(), np.sin([0.5]))
    np.testing.assert_allclose(x.grad.numpy(), 2.0 * np.cos([0.5]))


def test_leaf_seeded_and_reached_from_the_graph_gets_the_sum():
    w = ag.tensor(np.array([1.5, -0.5]), requires_grad=True)
    y = (w * w).sum()
    ag.backward([y, w], [None, np.array([10.0, 20.0])])
    np.testing.assert_allclose(w.grad.numpy(), 2 * w.numpy() + [10.0, 20.0])


def test_a_pass_that_fails_stores_no_leaf_gradient():
    w = ag.tensor(np.array([1.0, 2.0]), requires_grad=True)
    v = ag.tensor(np.array([3.0, 4.0]), requires_grad=True)
    w.grad = ag.tensor(np.array([0.5, 0.5]))
    a = w * 2.0             # w reached first (newest node), then the error in older a's hook
    b = v * a
    a.register_hook(lambda g: (_ for _ in ()).throw(KeyError("stop")))
    with pytest.raises(KeyError):
        b.sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), [0.5, 0.5])
    assert v.grad is None


def test_gradient_of_a_view_is_copied_into_grad():
    x = ag.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    x.T.sum().backward()            # the transpose's rule gives a view
    g = x.grad.numpy()
    assert g.base is None and g.flags.writeable
    np.testing.assert_allclose(g, np.ones((2, 3)))
