"""hvp and vhp contract with the direction inside the recorded gradient pass (`ops.CONTRACTIONS`:
<x^T d, V> taken as <d, x V> for a product's weight, and likewise for its other operand and a
bias): the same H v as the double backward and as finite differences of the gradient, over
broadcasting shapes, shared and partly contracted inputs, float32 kept."""

import numpy as np
import pytest
from conftest import double_backward

import autograd as ag
from autograd import functional as F
from autograd import ops

RNG = np.random.default_rng(4)


def _fd_hvp(fn, xs, vs, eps=1e-5):
    """H v by central differences of the gradient along v (float64)."""
    def gradient(shift):
        ts = [ag.tensor(x + shift * v, requires_grad=True) for x, v in zip(xs, vs)]
        return [g.data if g is not None else np.zeros_like(x)
                for g, x in zip(ag.grad(fn(*ts), ts, allow_unused=True), xs)]
    return [(a - b) / (2 * eps) for a, b in zip(gradient(eps), gradient(-eps))]


def _check(fn, shapes, seed=0, which=None):
    """hvp and vhp (contracted) against the double backward and finite differences; `which`
    (indices) the inputs that are hvp's inputs, the others are constants of fn."""
    r = np.random.default_rng(seed)
    xs = [r.standard_normal(s) for s in shapes]
    vs = [r.standard_normal(s) for s in shapes]
    which = list(range(len(shapes))) if which is None else which

    def f(*ins):
        full = list(xs)
        for i, t in zip(which, ins):
            full[i] = t
        return fn(*full)
    ins = tuple(ag.tensor(xs[i]) for i in which)
    dirs = tuple(ag.tensor(vs[i]) for i in which)
    _, fast = F.hvp(f, ins, dirs)
    _, left = F.vhp(f, ins, dirs)
    with double_backward():
        _, exact = F.hvp(f, ins, dirs)
    fd = _fd_hvp(f, [xs[i] for i in which], [vs[i] for i in which])
    for a, b, c, d in zip(fast, left, exact, fd):
        np.testing.assert_allclose(a.data, c.data, rtol=1e-9, atol=1e-11)
        np.testing.assert_allclose(b.data, c.data, rtol=1e-9, atol=1e-11)
        np.testing.assert_allclose(a.data, d, rtol=1e-5, atol=1e-6)
    return fast


@pytest.mark.parametrize("act", [None, "tanh", "sigmoid", "relu"])
@pytest.mark.parametrize("xshape,bshape", [((5, 3), (4,)), ((2, 5, 3), (4,)), ((5, 3), ()),
                                           ((3,), (4,)), ((5, 3), None)])
def test_affine_every_input(act, xshape, bshape):
    shapes = [xshape, (3, 4)] + ([] if bshape is None else [bshape])

    def fn(x, w, b=None):
        y = ag.affine(x, w, b, activation=act)
        return (ag.tanh(y) * y).sum() + (x * x).sum() * 0.1
    _check(fn, shapes)


@pytest.mark.parametrize("which", [[1], [1, 2], [0], [0, 2], [2]])
def test_affine_some_inputs(which):
    def fn(x, w, b):
        return ag.sin(ag.affine(ag.tanh(x), w, b, activation="tanh")).sum()
    _check(fn, [(6, 3), (3, 4), (4,)], which=which)


@pytest.mark.parametrize("ashape,bshape", [((3, 4), (4, 5)), ((2, 3, 4), (4, 5)), ((3, 4), (2, 4, 5)),
                                           ((1, 3, 4), (2, 4, 5)), ((2, 1, 3, 4), (3, 4, 2)),
                                           ((4,), (4, 5)), ((3, 4), (4,)), ((4,), (4,))])
def test_matmul_broadcasting(ashape, bshape):
    def fn(a, b):
        return (ag.tanh(a @ b) ** 2).sum() + ag.exp(a).sum() * 0.1
    _check(fn, [ashape, bshape])


def test_an_input_on_both_sides_and_in_two_products():
    def fn(a, w):
        h = ag.affine(a @ a, w, activation="tanh")
        return (ag.affine(h, w.T[:, :4] if w.shape[1] > 4 else w, activation="sigmoid")).sum() + \
            (w * w * w).sum()
    _check(fn, [(4, 4), (4, 4)])
    _check(lambda a: (ag.affine(a, a, activation="tanh") ** 2).sum(), [(3, 3)])
    _check(lambda a, b: (ag.affine(a, a, b) * a).sum() ** 2, [(3, 3), (3,)])


def test_a_weight_in_a_product_and_an_elementwise_penalty():
    def fn(x, w, b):
        logits = ag.affine(ag.affine(x, w, b, activation="tanh"), w.T)
        return ag.softmax_cross_entropy(logits, np.array([0, 2, 1, 1, 0]), "mean") + (w ** 4).sum()
    _check(fn, [(5, 3), (3, 3), (3,)], which=[1, 2])


def test_a_deep_mlp_as_w6_float32():
    """W6's shape of work, small: float32 all through, the R-operator by hand agrees."""
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    import workloads as wl
    x, y, params, v = wl.hvp_data(6, sizes=[7, 5, 4, 3])
    _, hv = F.hvp(wl.chainrule_loss(x, y), tuple(ag.tensor(p) for p in params),
                  tuple(ag.tensor(u) for u in v))
    ref = wl.rop_hvp(x, y, params, v)
    for a, b in zip(hv, ref):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a.data, b, rtol=2e-4, atol=2e-5)


def test_no_weight_gradient_is_computed():
    """The recorded pass gives a weight's <gradient, direction> as <d, x V>: no x^T d product."""
    seen = []
    real = ops._affine_rule

    def spy(g, ans, need, x, w):
        seen.append(list(need))
        return real(g, ans, need, x, w)
    x = RNG.standard_normal((5, 3))
    ops._affine_rule, ops._ACTIVATIONS[None] = spy, ("affine", None, spy)
    try:
        F.hvp(lambda w, b: ag.tanh(ag.affine(x, w, b)).sum(), (ag.tensor(RNG.standard_normal((3, 2))),
              ag.tensor(RNG.standard_normal(2))), (ag.ones(3, 2), ag.ones(2)))
    finally:
        ops._affine_rule, ops._ACTIVATIONS[None] = real, ("affine", None, real)
    # the recorded pass asks the rule for nothing (x is a constant, w and b contracted); the
    # final pass for w's and b's gradients through the forward node
    assert seen[0] == [False, False, False]


def test_strict_and_zero_hessians():
    x = RNG.standard_normal((4, 3))
    w, b = ag.tensor(RNG.standard_normal((3, 2))), ag.tensor(RNG.standard_normal(2))

    def linear(w, b):
        return ag.affine(x, w, b).sum()
    _, hv = F.hvp(linear, (w, b), (ag.ones(3, 2), ag.ones(2)))
    assert all(np.array_equal(h.data, np.zeros_like(h.data)) for h in hv)
    with pytest.raises(RuntimeError, match="Hessian does not depend on input 0"):
        F.hvp(linear, (w, b), (ag.ones(3, 2), ag.ones(2)), strict=True)
    with pytest.raises(RuntimeError, match="does not depend on input 1"):
        F.vhp(lambda w, b: (ag.affine(x, w) ** 2).sum(), (w, b), (ag.ones(3, 2), ag.ones(2)),
              strict=True)
    # w is reached only through a contraction: strict finds it used
    _, hv = F.hvp(lambda w: (ag.affine(x, w) ** 2).sum(), w, ag.ones(3, 2), strict=True)
    np.testing.assert_allclose(hv.data, 2 * x.T @ (x @ np.ones((3, 2))), rtol=1e-12)


def test_results_are_fresh_arrays():
    x = RNG.standard_normal((4, 3))
    w, v = ag.tensor(RNG.standard_normal((3, 2))), ag.tensor(RNG.standard_normal((3, 2)))
    _, hv = F.hvp(lambda w: (ag.affine(x, w, activation="tanh") ** 2).sum(), w, v)
    assert hv.data.flags.writeable and not np.shares_memory(hv.data, v.data)
    assert not np.shares_memory(hv.data, w.data)


def test_create_graph_keeps_the_recorded_route():
    x = RNG.standard_normal((4, 3))
    w = ag.tensor(RNG.standard_normal((3, 2)), requires_grad=True)
    v = ag.tensor(RNG.standard_normal((3, 2)))
    _, hv = F.hvp(lambda w: (ag.affine(x, w, activation="tanh") ** 3).sum(), w, v, create_graph=True)
    assert hv.requires_grad
    (third,) = ag.grad(hv.sum(), [w])
    _, ref = F.hvp(lambda w: (ag.affine(x, w, activation="tanh") ** 3).sum(), w, v)
    np.testing.assert_allclose(hv.data, ref.data, rtol=1e-10)
    assert third.shape == w.shape


@pytest.mark.parametrize("act", ["tanh", None])
@pytest.mark.parametrize("xshape", [(4, 3), (2, 2, 3), (3,)])
def test_affine_input_gradient_node_to_third_order(act, xshape):
    """affine's input gradient d w^T is one node under create_graph; its rules (w's gradient
    u^T d in w's layout) checked to the third derivative."""
    r = np.random.default_rng(5)
    x = ag.tensor(r.standard_normal(xshape), requires_grad=True)
    w = ag.tensor(r.standard_normal((3, 5)), requires_grad=True)
    b = ag.tensor(r.standard_normal(5), requires_grad=True)

    def grad_norm(x, w, b):
        y = (ag.affine(x, w, b, activation=act) ** 2).sum()
        g, = ag.grad(y, [x], create_graph=True)
        return (g * g * g).sum()
    assert ag.gradcheck(grad_norm, [x, w, b])
    assert ag.gradgradcheck(grad_norm, [x, w, b])
    y = (ag.affine(x, w, b, activation=act) ** 2).sum()
    g, = ag.grad(y, [x], create_graph=True)
    assert g._node.name == "affine'" and g.shape == x.shape
    gw, = ag.grad((g * g).sum(), [w])
    assert gw.data.flags.c_contiguous


def _product_program(seed):
    """A random chain of affine/matmul layers (activations, broadcasting batch axes, the inputs
    reused at several places) with a scalar loss: the inputs are weights, biases and the data."""
    r = np.random.default_rng(seed)
    batch = tuple(int(n) for n in r.integers(1, 4, int(r.integers(1, 3))))
    n = [int(k) for k in r.integers(2, 5, 3)]
    shapes = [batch + (n[0],), (n[0], n[1]), (n[1],), (n[1], n[2]), (n[2],) if r.random() < 0.5 else ()]
    acts = [[None, "tanh", "sigmoid", "relu"][int(k)] for k in r.integers(0, 4, 2)]
    use_matmul = r.random() < 0.5

    def fn(x, w1, b1, w2, b2):
        h = ag.affine(x, w1, b1, activation=acts[0])
        h = h @ w2 + b2 if use_matmul else ag.affine(h, w2, b2, activation=acts[1])
        return (ag.tanh(h) * h).sum() + 0.1 * (w1 * w1).sum() + (x @ w1).sum() * 0.01
    which = sorted(int(i) for i in r.choice(5, int(r.integers(1, 6)), replace=False))
    return fn, shapes, which


@pytest.mark.parametrize("seed", range(40))
def test_random_product_chains(seed):
    fn, shapes, which = _product_program(seed)
    _check(fn, shapes, seed=seed, which=which)


def test_a_gradient_penalty_inside_func():
    """func itself takes a differentiable gradient: its graph holds the nodes a create_graph
    backward records (affine', matmul of gradients), which the contraction meets too."""
    def fn(x, w, b):
        if not isinstance(x, ag.Tensor):
            x = ag.tensor(x, requires_grad=True)
        y = (ag.tanh(ag.affine(x, w, b, activation="sigmoid") @ w.T) ** 2).sum()
        gx, gw = ag.grad(y, [x, w], create_graph=True)
        return (gx * gx).sum() + (gw ** 2).sum() * 0.5 + y
    _check(fn, [(3, 4), (4, 4), (4,)])
    _check(fn, [(3, 4), (4, 4), (4,)], which=[1, 2])


def test_a_custom_function_named_like_a_product_is_not_contracted():
    """Only the built-in nodes are contracted: a custom Function called `matmul` keeps its own
    (once-differentiable) backward, so vhp raises as it did, never a product by the wrong rule."""
    class matmul(ag.Function):
        @staticmethod
        def forward(ctx, a, b):
            ctx.save_for_backward(a, b)
            return a * b

        @staticmethod
        def backward(ctx, grad):
            a, b = ctx.saved_arrays
            return grad * b, grad * a
    a = ag.tensor(RNG.standard_normal((2, 2)))
    b = ag.tensor(RNG.standard_normal((2, 2)))
    with pytest.raises(RuntimeError, match="cannot be differentiated"):
        F.vhp(lambda a, b: (matmul.apply(a, b) ** 2).sum(), (a, b), (ag.ones(2, 2), ag.ones(2, 2)))


@pytest.mark.parametrize("seed", range(12))
def test_jvp_contracts_too(seed):
    """jvp reads J^T u only through <J^T u, v> and its dependence on u: the same contraction,
    against the create_graph route (no contraction) and finite differences; two outputs."""
    fn, shapes, which = _product_program(seed)
    r = np.random.default_rng(seed)
    xs = [r.standard_normal(s) for s in shapes]
    vs = [r.standard_normal(s) for s in shapes]

    def f(*ins):
        full = list(xs)
        for i, t in zip(which, ins):
            full[i] = t
        loss = fn(*full)
        return ag.tanh(ag.affine(full[0], full[1], full[2], activation="tanh")), loss
    ins = tuple(ag.tensor(xs[i]) for i in which)
    dirs = tuple(ag.tensor(vs[i]) for i in which)
    _, fast = F.jvp(f, ins, dirs)
    _, slow = F.jvp(f, tuple(ag.tensor(xs[i], requires_grad=True) for i in which), dirs,
                    create_graph=True)
    eps = 1e-6
    plus = f(*(ag.tensor(xs[i] + eps * vs[i]) for i in which))
    minus = f(*(ag.tensor(xs[i] - eps * vs[i]) for i in which))
    for a, b, p, m in zip(fast, slow, plus, minus):
        np.testing.assert_allclose(a.data, b.data, rtol=1e-9, atol=1e-11)
        np.testing.assert_allclose(a.data, (p.data - m.data) / (2 * eps), rtol=1e-5, atol=1e-6)


def test_jvp_of_an_output_that_needs_no_grad_and_of_an_input_itself():
    x = ag.tensor(RNG.standard_normal((3, 2)))
    w = ag.tensor(RNG.standard_normal((2, 2)))
    v = (ag.tensor(RNG.standard_normal((3, 2))), ag.tensor(RNG.standard_normal((2, 2))))
    _, (a, b, c) = F.jvp(lambda x, w: (ag.tensor(np.ones(2)), x, x @ w), (x, w), v)
    assert np.array_equal(a.data, np.zeros(2)) and np.allclose(b.data, v[0].data)
    np.testing.assert_allclose(c.data, v[0].data @ w.data + x.data @ v[1].data, rtol=1e-5)
