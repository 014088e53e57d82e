"""A hook registered inside func on one of its inputs sees, and may replace, that input's whole
gradient: vhp and jvp (create_graph=False) must not take that gradient over by contracting
with v in a product (`functional._contraction`), or the hook misses the product's share."""

import numpy as np
import pytest

import autograd as ag
from autograd import functional as F

RNG = np.random.default_rng(6)
X = RNG.standard_normal((4, 3))
W = RNG.standard_normal((3, 2))
V = RNG.standard_normal((3, 2))
GRAD = X.T @ X @ W                  # f(w) = |X w|^2 / 2: gradient X^T X w, v^T H = X^T X v


def _f(seen):
    def f(w):
        w.register_hook(lambda g: seen.append(g.numpy().copy()) or g * 2)
        y = ag.matmul(ag.tensor(X), w)
        return (y * y).sum() / 2
    return f


@pytest.mark.parametrize("create_graph", [False, True])
def test_vhp_sees_a_hook_on_the_input(create_graph):
    seen: list = []
    _, r = F.vhp(_f(seen), ag.tensor(W), ag.tensor(V), create_graph=create_graph)
    # the hook doubles the gradient, then the gradient of <gradient, v> (as in PyTorch)
    np.testing.assert_allclose(r.detach().numpy(), 4 * X.T @ X @ V, rtol=1e-12)
    np.testing.assert_allclose(seen[0], GRAD, rtol=1e-12)      # the whole gradient


@pytest.mark.parametrize("create_graph", [False, True])
def test_hvp_sees_a_hook_on_the_input_too(create_graph):
    seen: list = []
    _, r = F.hvp(_f(seen), ag.tensor(W), ag.tensor(V), create_graph=create_graph)
    np.testing.assert_allclose(r.detach().numpy(), 4 * X.T @ X @ V, rtol=1e-12)
    np.testing.assert_allclose(seen[0], GRAD, rtol=1e-12)


@pytest.mark.parametrize("create_graph", [False, True])
def test_a_hook_that_only_reads_sees_the_whole_gradient(create_graph):
    seen: list = []

    def f(w):
        w.register_hook(lambda g: seen.append(g.numpy().copy()))
        y = ag.affine(ag.tensor(X), w, None, "tanh")
        return (y * y).sum() / 2
    F.vhp(f, ag.tensor(W), ag.tensor(V), create_graph=create_graph)
    y = np.tanh(X @ W)
    np.testing.assert_allclose(seen[0], X.T @ (y * (1 - y * y)), rtol=1e-12)


@pytest.mark.parametrize("create_graph", [False, True])
def test_jvp_sees_a_hook_on_the_input(create_graph):
    seen: list = []
    _, r = F.jvp(_f(seen), ag.tensor(W), ag.tensor(V), create_graph=create_graph)
    np.testing.assert_allclose(float(r.detach().numpy()), 2 * np.sum(GRAD * V), rtol=1e-12)


def test_a_hook_on_an_affine_weight_and_bias():
    xs, b = RNG.standard_normal((5, 3)), RNG.standard_normal(2)
    vb = RNG.standard_normal(2)

    def f(w, bias):
        bias.register_hook(lambda g: g * 3)
        return (ag.affine(ag.tensor(xs), w, bias) ** 2).sum() / 2
    _, (rw, rb) = F.vhp(f, (ag.tensor(W), ag.tensor(b)), (ag.tensor(V), ag.tensor(vb)))
    _, (ew, eb) = F.vhp(f, (ag.tensor(W), ag.tensor(b)), (ag.tensor(V), ag.tensor(vb)),
                        create_graph=True)
    np.testing.assert_allclose(rw.numpy(), ew.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(rb.numpy(), eb.detach().numpy(), rtol=1e-12)
    # d/db of <xs^T r, V> + 3 <sum_rows r, vb> (r = xs w + b), tripled again by the hook
    np.testing.assert_allclose(rb.numpy(), 3 * (xs.sum(0) @ V + 3 * 5 * vb), rtol=1e-12)
