"""ag.functional.hvp records its second backward (u -> J^T u) only where it depends on u: the
result against the unpruned construction (create_graph=True records everything), finite
differences of the gradient, the R-operator by hand, and third order."""

import sys
from pathlib import Path

import numpy as np
import pytest

import autograd as ag
import nn
from autograd import engine
from autograd import functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
import workloads as wl  # noqa: E402


@pytest.fixture(autouse=True)
def double_backward(monkeypatch):
    """These tests are about hvp's double-backward construction: hvp is sent there always (on
    graphs of built-in operations it would take the v^T H route, tests/test_hvp_symmetric.py)."""
    monkeypatch.setattr(F, "_symmetric", lambda out, xs: False)


def f64(a, requires_grad=False):
    return ag.tensor(np.asarray(a, dtype=np.float64), requires_grad=requires_grad)


def gradient(fn, xs):
    """The engine's gradient of fn at xs, as arrays (what hvp differentiates)."""
    ts = [f64(x, requires_grad=True) for x in xs]
    return [g.data for g in ag.grad(fn(*ts), ts, allow_unused=True)]


def fd_jacobian_vector(fn, xs, vs, eps=1e-6):
    """J_g v by central differences of the gradient g: H v, also where H is not symmetric."""
    plus = gradient(fn, [x + eps * v for x, v in zip(xs, vs)])
    minus = gradient(fn, [x - eps * v for x, v in zip(xs, vs)])
    return [(p - m) / (2 * eps) for p, m in zip(plus, minus)]


def unpruned(fn, xs, vs):
    """hvp with create_graph=True: the same construction, every operation recorded."""
    ins = tuple(f64(x, requires_grad=True) for x in xs)
    _, hv = F.hvp(fn, ins, tuple(f64(v) for v in vs), create_graph=True)
    return [h.data for h in hv]


def labels(n, k):
    return np.arange(n) % k


FUNCTIONS = {     # name: (fn of two tensors, shapes)
    "tanh_mlp_ce": (lambda w, b: nn.functional.cross_entropy(
        ag.affine(ag.tanh(ag.affine(np.linspace(-1, 1, 12).reshape(3, 4), w, b)), w.T[:, :3]),
        labels(3, 3)), [(4, 5), (5,)]),
    "softmax_ce_sum": (lambda a, b: ag.softmax_cross_entropy(a * b + a, labels(3, 4), "sum")
                       + ag.log_softmax(a, axis=0).sum(), [(3, 4), (3, 4)]),
    "broadcasting": (lambda a, b: ((a[:, None] * b + b ** 2) ** 2 / (1.0 + ag.exp(a.sum()))).sum()
                     + (ag.sigmoid(a) @ b).sum(), [(3,), (3, 2)]),
    "indexing": (lambda a, b: (a[[0, 0, 2]] ** 3 * b[[1, 2, 2]]).sum() + (ag.tanh(a)[1:] * a[::-1][:2]).sum()
                 + (b[b.data > 0] ** 2).sum(), [(3,), (3,)]),
    "reductions": (lambda a, b: ag.logsumexp(a * b, axis=1).sum() + ag.var(a + b, axis=0).sum()
                   + (a * b).max(), [(2, 4), (2, 4)]),
    "relu_affine": (lambda a, b: (ag.affine(a, b, activation="relu") ** 2).sum()
                    + (ag.affine(a, b, activation="sigmoid") * a[:, :1]).sum(), [(3, 4), (4, 4)]),
    "elementwise": (lambda a, b: (ag.softplus(a) * ag.exp(b * 0.3) + ag.sin(a) * ag.cos(b)
                                  + ag.sqrt(b * b + 1.0) + ag.log(a * a + 1.0)).sum(), [(2, 3), (2, 3)]),
    "shape_ops": (lambda a, b: (ag.concatenate([a, b]) ** 2).sum()
                  + (ag.stack([a, b]).transpose((2, 0, 1)).reshape(-1) ** 3).sum()
                  + (ag.clip(a, -0.5, 0.5) * b ** 2).sum() + (ag.maximum(a, b) ** 2).sum(),
                  [(2, 3), (2, 3)]),
}


def data(shapes, seed):
    rng = np.random.default_rng(seed)
    return [rng.uniform(-1.2, 1.2, s) for s in shapes], [rng.standard_normal(s) for s in shapes]


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_hvp_equals_the_unpruned_construction_and_finite_differences(name):
    fn, shapes = FUNCTIONS[name]
    xs, vs = data(shapes, 3)
    _, hv = F.hvp(fn, tuple(f64(x) for x in xs), tuple(f64(v) for v in vs))
    for h, full, fd in zip(hv, unpruned(fn, xs, vs), fd_jacobian_vector(fn, xs, vs)):
        np.testing.assert_allclose(h.data, full, rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(h.data, fd, rtol=1e-6, atol=1e-7)


def test_hvp_of_the_w6_loss_equals_the_r_operator_by_hand():
    x, y, params, v = wl.hvp_data(6, np.float64, seed=2, sizes=[7, 5, 4, 3])
    f = wl.chainrule_loss(x, y)
    _, hv = F.hvp(f, tuple(f64(p) for p in params), tuple(f64(u) for u in v))
    for h, r in zip(hv, wl.rop_hvp(x, y, params, v)):
        np.testing.assert_allclose(h.data, r, rtol=1e-10, atol=1e-12)


def test_detached_values_and_hooks_keep_the_unpruned_semantics():
    """A detached value is a constant of the graph (so finite differences of the gradient do
    not apply); a hook scaling a gradient runs again in the second backward (as in PyTorch).
    Pruning changes neither: the same values as recording everything."""
    def detached(a, b):
        return (ag.sin(a) * b.detach() + a ** 2 * ag.tanh(b)).sum()

    def hooked(a, b):
        h = a * b
        if h.requires_grad:
            h.register_hook(lambda g: g * 3.0)
        return (ag.sin(h) + a ** 2 * b).sum()
    xs, vs = data([(3,), (3,)], 5)
    ins, dirs = tuple(f64(x) for x in xs), tuple(f64(v) for v in vs)
    _, hv = F.hvp(detached, ins, dirs)
    a, b, va, vb = xs + vs      # the graph's gradient: (cos(a) b0 + 2 a tanh(b), a^2 tanh'(b)), b0 constant
    sech2 = 1 - np.tanh(b) ** 2
    np.testing.assert_allclose(hv[0].data, (-np.sin(a) * b + 2 * np.tanh(b)) * va + 2 * a * sech2 * vb)
    np.testing.assert_allclose(hv[1].data, 2 * a * sech2 * va - 2 * a ** 2 * np.tanh(b) * sech2 * vb)
    for fn in (detached, hooked):
        _, hv = F.hvp(fn, ins, dirs)
        for h, full in zip(hv, unpruned(fn, xs, vs)):
            np.testing.assert_allclose(h.data, full, rtol=1e-12)


def test_asymmetric_paths_give_a_symmetric_hessian():
    """The inputs reach the loss through different operations and shapes; hvp and vhp agree."""
    def fn(a, b):
        return (ag.tanh(a @ b) * a[:, :1]).sum() + (b ** 3).sum() * ag.exp(a[0, 1])
    xs, vs = data([(2, 3), (3, 4)], 7)
    ins, dirs = tuple(f64(x) for x in xs), tuple(f64(v) for v in vs)
    _, hv = F.hvp(fn, ins, dirs)
    _, vh = F.vhp(fn, ins, dirs)
    for h, w, d in zip(hv, vh, fd_jacobian_vector(fn, xs, vs)):
        np.testing.assert_allclose(h.data, d, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(h.data, w.data, rtol=1e-12, atol=1e-13)


def test_the_second_backward_records_nothing_older_than_u():
    """Only what depends on u is recorded: the graph of J^T u reaches u and the nodes the pass
    made, never a node of the forward pass or of the first backward (as it does unpruned)."""
    fn, shapes = FUNCTIONS["tanh_mlp_ce"]
    xs = tuple(f64(x, requires_grad=True) for x in data(shapes, 1)[0])
    gs = ag.grad(fn(*xs), xs, create_graph=True)
    us = tuple(ag.tensor(np.zeros_like(g.data), requires_grad=True) for g in gs)
    horizon = min(engine.leaf_node(u).seq for u in us)

    def reachable(roots):
        seen, stack = set(), [t._node for t in roots if t._node is not None]
        while stack:
            node = stack.pop()
            if node not in seen:
                seen.add(node)
                stack.extend(p for p in node.parents if p is not None)
        return seen
    pruned = reachable(F._grad_pairs(list(zip(gs, us)), list(xs), True, us))
    full = reachable(F._grad_pairs(list(zip(gs, us)), list(xs), True))
    assert pruned and all(n.seq >= horizon for n in pruned)
    assert {engine.leaf_node(u) for u in us} <= pruned
    assert any(n.seq < horizon and n.parents for n in full)       # the test can fail
    assert len(pruned) < len(full)


def test_third_order_through_hvp_with_create_graph():
    fn, shapes = FUNCTIONS["tanh_mlp_ce"]
    xs, vs = data(shapes, 4)
    vt = tuple(f64(v, requires_grad=True) for v in vs)
    assert ag.gradcheck(lambda w, b: F.hvp(fn, (w, b), vt, create_graph=True)[1],
                        tuple(f64(x, requires_grad=True) for x in xs))
    ins = tuple(f64(x) for x in xs)
    assert ag.gradcheck(lambda p, q: F.hvp(fn, ins, (p, q), create_graph=True)[1], vt)


def test_hvp_float32_w6_matches_the_r_operator():
    x, y, params, v = wl.hvp_data(8, np.float32, seed=6, sizes=[9, 6, 5, 4])
    _, hv = F.hvp(wl.chainrule_loss(x, y), tuple(ag.tensor(p) for p in params),
                  tuple(ag.tensor(u) for u in v))
    for h, r in zip(hv, wl.rop_hvp(x, y, params, v)):
        assert h.dtype == np.float32
        np.testing.assert_allclose(h.data, r, rtol=2e-4, atol=2e-5 * np.abs(r).max())


def test_custom_function_still_refuses_a_second_derivative():
    class Square(ag.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 2 * x * g
    x = f64([1.0, 2.0])
    with pytest.raises(RuntimeError, match="differentiable once"):
        F.hvp(lambda t: Square.apply(t).sum(), x, f64([1.0, 0.0]))


def test_a_nested_backward_inside_the_pass_is_not_pruned():
    """A hook that takes a differentiable gradient of a graph built before the hvp (its nodes
    older than u) during hvp's second backward gets a full graph: the horizon belongs to
    hvp's pass only."""
    z = f64([0.3, 0.7], requires_grad=True)
    zloss = (ag.exp(z) * z).sum()
    calls, seen = [], []

    def fn(a):
        h = ag.sin(a)
        if h.requires_grad:
            def hook(g):
                calls.append(1)
                if len(calls) == 2:         # the first backward is the first call
                    (dz,) = ag.grad(zloss, z, create_graph=True, retain_graph=True)
                    (d2,) = ag.grad(dz.sum(), z)
                    seen.append(d2.data)
            h.register_hook(hook)
        return (h * a).sum()
    _, hv = F.hvp(fn, f64([0.4, -1.1]), f64([1.0, 2.0]))
    assert len(calls) == 2 and seen
    np.testing.assert_allclose(seen[0], np.exp(z.data) * (z.data + 2), rtol=1e-12)   # (z e^z)''
    np.testing.assert_allclose(hv.data, unpruned(fn, [np.array([0.4, -1.1])], [np.array([1.0, 2.0])])[0],
                               rtol=1e-12)


@pytest.mark.parametrize("scale", [0.25, "per_row"])
def test_softmax_vector_jacobian_node_is_its_own_rule(scale):
    """The one node hvp's second backward records for cross-entropy: s (p u - p sum(p u)) for
    constant p and s, linear and symmetric in u; checked to third order against its formula."""
    from autograd.ops import _softmax_vjp
    rng = np.random.default_rng(8)
    z = rng.standard_normal((3, 4))
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    s = rng.uniform(0.5, 2.0, (3, 1)) if scale == "per_row" else scale
    u = f64(rng.standard_normal((3, 4)), requires_grad=True)
    out = _softmax_vjp(u, p, s)
    jac = s * (p * u.data - p * (p * u.data).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(out.data, jac, rtol=1e-14)
    assert ag.gradcheck(lambda t: _softmax_vjp(t, p, s), (u,))
    assert ag.gradgradcheck(lambda t: _softmax_vjp(t * t, p, s), (u,))


@pytest.mark.parametrize("product", ["hvp", "vhp"])
def test_products_share_no_memory_with_v_or_each_other(product):
    """The final pass reads v's arrays without copying them: no result may be one of them (the
    Hessian of sum(a * b) swaps the directions; of sum(a + b)^2 / 2 gives both the same)."""
    va, vb = np.array([1.0, 2.0]), np.array([3.0, -1.0])
    for fn, expect in [(lambda a, b: (a * b).sum(), (vb, va)),
                       (lambda a, b: ((a + b) ** 2).sum() / 2, (va + vb, va + vb))]:
        dirs = (ag.tensor(va), ag.tensor(vb))
        _, (ra, rb) = getattr(F, product)(fn, (f64([0.5, 1.5]), f64([2.0, -0.5])), dirs)
        np.testing.assert_allclose(ra.data, expect[0])
        np.testing.assert_allclose(rb.data, expect[1])
        arrays = [ra.data, rb.data, dirs[0].data, dirs[1].data, va, vb]
        assert not any(np.shares_memory(x, y) for i, x in enumerate(arrays) for y in arrays[i + 1:])
        ra.data[...] = 7.0
        assert va.tolist() == [1.0, 2.0] and vb.tolist() == [3.0, -1.0]


def test_functional_transforms_work_inside_no_grad():
    """As in PyTorch they record what they differentiate even inside no_grad (before, hvp there
    gave zeros in silence); grad mode is off again afterwards."""
    x, v = f64([0.5, 1.0]), f64([1.0, 2.0])
    cube = lambda t: (t ** 3).sum()                                 # noqa: E731
    square = lambda t: t ** 2                                       # noqa: E731
    calls = {"hvp": lambda: F.hvp(cube, x, v)[1], "vhp": lambda: F.vhp(cube, x, v)[1],
             "vjp": lambda: F.vjp(square, x, v)[1], "jvp": lambda: F.jvp(square, x, v)[1],
             "jacobian": lambda: F.jacobian(square, x), "hessian": lambda: F.hessian(cube, x)}
    expected = {"hvp": [3.0, 12.0], "vhp": [3.0, 12.0], "vjp": [1.0, 4.0], "jvp": [1.0, 4.0],
                "jacobian": [[1.0, 0.0], [0.0, 2.0]], "hessian": [[3.0, 0.0], [0.0, 6.0]]}
    for name, call in calls.items():
        with ag.no_grad():
            got = call()
            assert not ag.is_grad_enabled()
        np.testing.assert_allclose(got.data, expected[name], err_msg=name)
        np.testing.assert_allclose(call().data, expected[name], err_msg=name)
    w = f64([0.5, 1.0], requires_grad=True)
    with ag.no_grad():
        _, hv = F.hvp(cube, w, v, create_graph=True)
    (third,) = ag.grad(hv.sum(), w)                                 # d/dw sum(6 w v) = 6 v
    np.testing.assert_allclose(third.data, 6 * v.data)
