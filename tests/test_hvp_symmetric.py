"""hvp's two routes: v^T H when func's graph is made of built-in operations only (their
Hessians are symmetric), the double backward (J_g v, exact for any Jacobian of the gradient)
when a hook may change a gradient or a custom Function is in the graph."""

import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import double_backward

import autograd as ag
from autograd import functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import workloads as wl  # noqa: E402

UNARY = [lambda a: ag.exp(ag.tanh(a)), ag.sin, ag.tanh, ag.sigmoid, ag.relu, lambda a: a * a,
         lambda a: ag.sqrt(a * a + 1), lambda a: -a, lambda a: a.T, ag.abs, ag.softplus,
         lambda a: ag.log_softmax(a, axis=-1), lambda a: ag.softmax(a, axis=0),
         lambda a: a[::-1], lambda a: a[[0, 0, -1]], lambda a: ag.clip(a, -0.7, 0.8),
         lambda a: ag.leaky_relu(a, 0.1), lambda a: ag.logsumexp(a, axis=-1, keepdims=True) * a,
         lambda a: ag.max(a, axis=0), lambda a: a.sum(axis=0),
         lambda a: ag.std(a, axis=-1, keepdims=True) + a if a.shape[-1] > 1 else a]
BINARY = [lambda a, b: a + b, lambda a, b: a * b, lambda a, b: a / (b * b + 1), ag.maximum,
          ag.minimum, lambda a, b: ag.where(a > b, a * a, b), lambda a, b: (a * a + 0.5) ** ag.tanh(b),
          lambda a, b: a @ b.T if a.ndim == 2 and b.ndim == 2 and a.shape[1] == b.shape[1] else a * b]


def program(seed):
    """A random function of two tensors of one shape, its inputs (ties in a third of them:
    relu's, abs's, max's kinks) and a direction."""
    r = np.random.default_rng(seed)
    shape = tuple(int(n) for n in r.integers(1, 4, int(r.integers(1, 3))))
    steps = [(int(r.integers(100)), int(r.integers(100)), r.random() < 0.5)
             for _ in range(int(r.integers(2, 9)))]

    def fn(x, y):
        pool = [x, y]
        for i, j, unary in steps:
            a = pool[i % len(pool)]
            if unary and a.ndim:
                pool.append(UNARY[j % len(UNARY)](a))
            else:
                b = pool[j % len(pool)]
                pool.append(BINARY[j % len(BINARY)](a, b) if b.shape == a.shape else a * b.sum())
        return sum((p ** 2).sum() * 0.1 for p in pool[2:]) + (pool[-1] * pool[0].sum()).sum()
    xs = [r.standard_normal(shape) for _ in range(2)]
    xs = [np.round(x) if r.random() < 0.3 else x for x in xs]
    return fn, xs, [r.standard_normal(shape) for _ in range(2)]


@pytest.mark.parametrize("seed", range(120))
def test_the_two_routes_agree_on_built_in_graphs(seed):
    fn, xs, vs = program(seed)
    ins, dirs = tuple(ag.tensor(x) for x in xs), tuple(ag.tensor(v) for v in vs)
    assert F._symmetric(fn(*(ag.tensor(x, requires_grad=True) for x in xs)), ())
    _, fast = F.hvp(fn, ins, dirs)
    with double_backward():
        _, exact = F.hvp(fn, ins, dirs)
    for a, b in zip(fast, exact):
        np.testing.assert_allclose(a.data, b.data, rtol=1e-9, atol=1e-10)


def test_a_hook_that_changes_a_gradient_takes_the_double_backward(monkeypatch):
    """A hook runs in every backward through its tensor (as PyTorch's): the products then
    come from PyTorch's construction, whatever the symmetry."""
    def hooked(a, b):
        h = a * b
        if h.requires_grad:
            h.register_hook(lambda g: g * 3.0)
        return (ag.sin(h) + a ** 2 * b).sum()
    r = np.random.default_rng(3)
    ins = tuple(ag.tensor(r.standard_normal(3)) for _ in range(2))
    dirs = tuple(ag.tensor(r.standard_normal(3)) for _ in range(2))
    calls = []
    real = F._double_backward
    monkeypatch.setattr(F, "_double_backward", lambda *a: calls.append(1) or real(*a))
    _, hv = F.hvp(hooked, ins, dirs)
    assert calls == [1]
    _, plain = F.hvp(lambda a, b: (ag.sin(a * b) + a ** 2 * b).sum(), ins, dirs)
    assert calls == [1]                      # no hook: the v^T H route
    assert max(np.abs(h.data - p.data).max() for h, p in zip(hv, plain)) > 0.1   # the hook counts


def test_which_graphs_count_as_symmetric():
    x = ag.tensor([0.5, -1.0], requires_grad=True)
    assert F._symmetric((ag.tanh(x) * x).sum(), (x,))
    y = ag.tanh(x)
    y.retain_grad()                         # only reads its gradient
    assert F._symmetric((y * x).sum(), (x,))
    y.register_hook(lambda g: g * 2.0)
    assert not F._symmetric((y * x).sum(), (x,))
    z = ag.tensor([1.0, 2.0], requires_grad=True)
    z.register_hook(lambda g: None)         # on an input: it runs on the gradient too
    assert not F._symmetric((z * z).sum(), (z,))

    class Twice(ag.Function):
        @staticmethod
        def forward(ctx, a):
            return a * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2
    assert not F._symmetric((Twice.apply(x) ** 2).sum(), (x,))


def test_the_walk_stops_at_the_inputs():
    """With create_graph the inputs enter through an identity node whose graph goes on into the
    caller's: a hook there does not concern the Hessian with respect to the inputs."""
    w = ag.tensor([0.3, 0.9], requires_grad=True)
    up = w * 2.0
    up.register_hook(lambda g: g * 5.0)
    _, hv = F.hvp(lambda t: (t ** 3).sum(), up, ag.tensor([1.0, -1.0]), create_graph=True)
    np.testing.assert_allclose(hv.data, 6 * up.data * [1.0, -1.0])
    hv.sum().backward()                      # still connected to w, through the caller's hook
    np.testing.assert_allclose(w.grad.data, 5.0 * 2 * 6 * np.array([1.0, -1.0]))


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-10), (np.float32, 2e-4)])
def test_the_v_h_route_equals_the_r_operator_on_w6(dtype, rtol):
    x, y, params, v = wl.hvp_data(8, dtype, seed=2, sizes=[9, 6, 5, 4])
    f = wl.chainrule_loss(x, y)
    ps = tuple(ag.tensor(p) for p in params)
    assert F._symmetric(f(*(ag.tensor(p, requires_grad=True) for p in params)), ())
    _, hv = F.hvp(f, ps, tuple(ag.tensor(u) for u in v))
    for h, r in zip(hv, wl.rop_hvp(x, y, params, v)):
        assert h.dtype == dtype
        np.testing.assert_allclose(h.data, r, rtol=rtol, atol=rtol * np.abs(r).max())


def test_inputs_are_writable_and_unchanged_after_each_transform():
    """The transforms read the caller's arrays without copying them (as PyTorch's detach()):
    while the call's graph holds them they are read-only, afterwards writable again."""
    arrays = [np.array([0.5, -1.0, 2.0]), np.array([1.5, 0.25, -0.5])]
    ins = tuple(ag.tensor(a) for a in arrays)
    before = [t.data.copy() for t in ins]
    v = tuple(ag.tensor(np.ones(3)) for _ in ins)

    def f(a, b):
        return (ag.exp(a) * b ** 2 + ag.tanh(a * b)).sum()

    def fail(a, b):
        (a * b).sum()
        raise ValueError("boom")
    calls = [lambda: F.hvp(f, ins, v), lambda: F.vhp(f, ins, v), lambda: F.vjp(f, ins),
             lambda: F.jvp(lambda a, b: a * b, ins, v), lambda: F.hessian(f, ins),
             lambda: F.jacobian(lambda a, b: a * b, ins)]
    for call in calls:
        call()
        for t, old in zip(ins, before):
            assert t.data.flags.writeable
            np.testing.assert_array_equal(t.data, old)
    with pytest.raises(ValueError, match="boom"):
        F.hvp(fail, ins, v)
    assert all(t.data.flags.writeable for t in ins)
    ins[0].data[0] = 7.0                     # the caller writes: nothing holds the array
    assert ins[0].data[0] == 7.0
