"""The backward loop's paths (engine._propagate): the chain shortcut, fused (joint) nodes called
from the loop, leaves reached in the loop, and release of what nodes saved and locked."""

import numpy as np
import pytest

import autograd as ag
from autograd import protection


def _x(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def test_chain_gradient_closed_form():
    x = ag.tensor(np.array([0.3, -1.2]), requires_grad=True)
    y = x
    for _ in range(50):
        y = y * 1.01
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.full(2, 1.01 ** 50))


def test_hook_on_a_chain_node_sees_and_replaces_gradient():
    x = ag.tensor(np.array([1.0, 2.0]), requires_grad=True)
    a = x * 2.0
    b = a * 3.0             # the chain shortcut runs a straight after b
    seen = []
    a.register_hook(lambda g: seen.append(g.numpy().copy()))
    a.register_hook(lambda g: g * 10.0)
    b.sum().backward()
    np.testing.assert_allclose(seen[0], [3.0, 3.0])
    np.testing.assert_allclose(x.grad.numpy(), [60.0, 60.0])


def test_hooks_run_in_registration_order_on_chain_nodes():
    x = ag.tensor(np.array([1.0]), requires_grad=True)
    a = x * 2.0
    b = a * 3.0
    order = []
    b.register_hook(lambda g: order.append("b1"))
    a.register_hook(lambda g: order.append("a1"))
    b.register_hook(lambda g: order.append("b2"))
    a.register_hook(lambda g: order.append("a2"))
    b.backward()
    assert order == ["b1", "b2", "a1", "a2"]


def test_retain_graph_twice_then_freed_error():
    x = ag.tensor(np.array([0.5, 1.5]), requires_grad=True)
    y = ag.sin(x * x)
    s = y.sum()
    s.backward(retain_graph=True)
    first = x.grad.numpy().copy()
    s.backward(retain_graph=True)
    np.testing.assert_allclose(x.grad.numpy(), 2 * first)
    s.backward()
    np.testing.assert_allclose(x.grad.numpy(), 3 * first)
    with pytest.raises(RuntimeError, match="second time"):
        s.backward()


def test_node_reached_by_two_paths_after_the_shortcut():
    xv = np.array([0.4, -0.7])
    x = ag.tensor(xv, requires_grad=True)
    a = ag.sin(x)           # reached from b (the shortcut) and from c, created later
    b = a * 2.0
    c = ag.exp(a)
    d = b * c + b           # b reached twice from d
    d.sum().backward()
    av = np.sin(xv)
    da = 2 * np.exp(av) + 2 * av * np.exp(av) + 2      # d = 2a e^a + 2a
    np.testing.assert_allclose(x.grad.numpy(), da * np.cos(xv))


def test_leaf_reached_twice_and_from_several_nodes():
    xv, wv = _x(3), _x(3, seed=1)
    x = ag.tensor(xv, requires_grad=True)
    w = ag.tensor(wv, requires_grad=True)
    y = (x * w + x * x + w).sum()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), wv + 2 * xv)
    np.testing.assert_allclose(w.grad.numpy(), xv + 1)
    # a second backward adds into the stored gradients
    (x * 3.0).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), wv + 2 * xv + 3)


@pytest.mark.parametrize("act", [None, "relu", "tanh", "sigmoid"])
@pytest.mark.parametrize("grads", ["all", "x", "w", "wb"])
def test_fused_affine_from_the_loop_matches_gradcheck(act, grads):
    rng = np.random.default_rng(3)
    x = ag.tensor(rng.standard_normal((4, 3)), requires_grad="x" in grads or grads == "all")
    w = ag.tensor(rng.standard_normal((3, 2)), requires_grad="w" in grads or grads == "all")
    b = ag.tensor(rng.standard_normal(2), requires_grad="b" in grads or grads == "all")
    inputs = [t for t in (x, w, b) if t.requires_grad]

    def f(*given):
        it = iter(given)
        args = [next(it) if t.requires_grad else t for t in (x, w, b)]
        return ag.affine(*args, activation=act).sum()
    assert ag.gradcheck(f, inputs)
    out = ag.affine(x, w, b, activation=act)
    (out * out).sum().backward()
    grads_loop = [t.grad.numpy().copy() for t in inputs]
    for t in inputs:
        t.grad = None
    # the same gradients through ag.grad (targets: not the loop's direct path)
    out = ag.affine(x, w, b, activation=act)
    expected = ag.grad((out * out).sum(), inputs)
    for got, want in zip(grads_loop, expected):
        np.testing.assert_allclose(got, want.numpy(), rtol=1e-12)
    for t in (x, w, b):
        if not t.requires_grad:
            assert t.grad is None


def test_fused_affine_without_bias_and_under_an_observer():
    rng = np.random.default_rng(4)
    x = ag.tensor(rng.standard_normal((5, 3)), requires_grad=True)
    w = ag.tensor(rng.standard_normal((3, 2)), requires_grad=True)
    ag.affine(x, w, activation="relu").sum().backward()
    gx, gw = x.grad.numpy().copy(), w.grad.numpy().copy()
    mask = (x.numpy() @ w.numpy()) > 0
    np.testing.assert_allclose(gw, x.numpy().T @ mask)
    np.testing.assert_allclose(gx, mask @ w.numpy().T)
    x.grad = w.grad = None
    with ag.detect_anomaly():       # an observer: the loop's general path
        ag.affine(x, w, activation="relu").sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), gx)
    np.testing.assert_allclose(w.grad.numpy(), gw)


def test_grad_targets_and_allow_unused_with_leaves():
    x = ag.tensor(np.array([1.0, 2.0]), requires_grad=True)
    u = ag.tensor(np.array([3.0]), requires_grad=True)
    y = (x * x).sum()
    gx, gu = ag.grad(y, [x, u], allow_unused=True)
    np.testing.assert_allclose(gx.numpy(), [2.0, 4.0])
    assert gu is None
    assert x.grad is None
    with pytest.raises(RuntimeError, match="not used"):
        ag.grad((x * x).sum(), [x, u])


def test_anomaly_observer_sees_leaves():
    x = ag.tensor(np.array([0.0, 1.0]), requires_grad=True)
    with ag.detect_anomaly(), np.errstate(divide="ignore"):    # log(0) is the anomaly
        with pytest.raises(RuntimeError, match="log"):
            ag.log(x * 1.0).sum().backward()


def test_locks_released_after_backward_and_after_an_error_mid_pass():
    rng = np.random.default_rng(5)
    w = ag.tensor(rng.standard_normal((3, 2)), requires_grad=True)
    x = ag.tensor(rng.standard_normal((4, 3)))
    out = ag.affine(x, w, activation="tanh")
    assert not w.numpy().flags.writeable            # locked while the graph holds it
    out.sum().backward()
    assert w.numpy().flags.writeable
    assert x.numpy().flags.writeable

    def bad(g):
        raise ValueError("hook failed")

    out = ag.affine(x, w, activation="tanh")
    h = out * 2.0
    h.register_hook(bad)
    with pytest.raises(ValueError, match="hook failed"):
        h.sum().backward()
    del out, h
    import gc
    gc.collect()
    assert w.numpy().flags.writeable
    assert id(w.numpy()) not in protection._LOCKED


def test_error_in_a_rule_mid_pass_then_locks_released_when_graph_dropped():
    rng = np.random.default_rng(6)
    w = ag.tensor(rng.standard_normal((3, 2)), requires_grad=True)
    x = ag.tensor(rng.standard_normal((4, 3)))
    out = ag.affine(x, w)
    y = out * 2.0
    y.register_hook(lambda g: ag.tensor(np.ones((9,))))     # wrong shape: raises
    with pytest.raises(RuntimeError, match="shape"):
        y.sum().backward()
    assert not w.numpy().flags.writeable        # its node never ran: still held by the graph
    del out, y
    import gc
    gc.collect()
    assert w.numpy().flags.writeable


def test_threads_accumulate_into_one_leaf():
    import threading

    x = ag.tensor(np.array([1.0, 2.0]), requires_grad=True)

    def work():
        for _ in range(50):
            (x * 3.0).sum().backward()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    np.testing.assert_allclose(x.grad.numpy(), [600.0, 600.0])


def test_grad_mode_restored_after_a_pass_and_after_an_error():
    x = ag.tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = (x * x).sum()
    y.backward()
    assert ag.is_grad_enabled()
    z = (x * 3.0).sum()
    with ag.no_grad():
        z.backward()            # a graph recorded before, differentiated under no_grad
        assert not ag.is_grad_enabled()
    assert ag.is_grad_enabled()
    w = x * 2.0
    w.register_hook(lambda g: (_ for _ in ()).throw(KeyError("stop")))
    with pytest.raises(KeyError):
        w.sum().backward()
    assert ag.is_grad_enabled()
    assert (x * 2.0).requires_grad        # recording is on again


def test_rules_do_not_record_in_first_order_but_do_with_create_graph():
    x = ag.tensor(np.array([0.5, 1.5]), requires_grad=True)
    seen = []
    y = ag.sin(x)
    y.register_hook(lambda g: seen.append(g.requires_grad))
    (y * y).sum().backward()
    assert seen == [False]
    (gx,) = ag.grad((ag.sin(x) ** 2).sum(), x, create_graph=True)
    assert gx.requires_grad
    (ggx,) = ag.grad(gx.sum(), x)
    xv = x.numpy()
    np.testing.assert_allclose(ggx.numpy(), 2 * np.cos(2 * xv))     # d/dx sin(2x)


def test_second_order_pass_inside_a_first_order_hook():
    x = ag.tensor(np.array([0.3, -0.4]), requires_grad=True)
    inner = []

    def hook(g):
        assert not ag.is_grad_enabled()     # a first-order pass records nothing
        with ag.enable_grad():
            u = ag.tensor(np.array([1.0, 2.0]), requires_grad=True)
            (gu,) = ag.grad((u ** 3).sum(), u, create_graph=True)
            (hu,) = ag.grad(gu.sum(), u)
        inner.append(hu.numpy())
        assert not ag.is_grad_enabled()

    y = ag.exp(x)
    y.register_hook(hook)
    (y * 2.0).sum().backward()
    np.testing.assert_allclose(inner[0], [6.0, 12.0])
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.exp(x.numpy()))
    assert ag.is_grad_enabled()
