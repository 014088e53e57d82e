"""The fused nodes' differentiable backward: affine with an activation, and softmax
cross-entropy, record one node for their gradient (not a chain of elementwise ops), whose own
rule is checked by gradgradcheck (second order) and once more nested (third order), in float64."""

import numpy as np
import pytest

import autograd as ag


def nodes_of(t):
    """Names of the nodes a tensor's graph holds."""
    seen, stack, names = set(), [t._node], []
    while stack:
        n = stack.pop()
        if n is None or id(n) in seen:
            continue
        seen.add(id(n))
        names.append(n.name)
        stack.extend(n.parents)
    return names


@pytest.mark.parametrize("act", ["tanh", "sigmoid", "relu", None])
@pytest.mark.parametrize("xshape", [(4, 3), (2, 2, 3)])
def test_affine_second_and_third_order(act, xshape):
    rng = np.random.default_rng(1)
    x = ag.tensor(rng.standard_normal(xshape), requires_grad=True)
    w = ag.tensor(rng.standard_normal((3, 5)), requires_grad=True)
    b = ag.tensor(rng.standard_normal(5), requires_grad=True)
    assert ag.gradgradcheck(lambda x, w, b: ag.affine(x, w, b, activation=act), [x, w, b])

    def grad_norm(x, w, b):
        y = (ag.affine(x, w, b, activation=act) ** 2).sum()
        g, = ag.grad(y, [w], create_graph=True)
        return (g * g).sum()
    assert ag.gradgradcheck(grad_norm, [x, w, b])


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("shape", [(4, 5), (2, 3, 4)])
def test_cross_entropy_second_and_third_order(reduction, shape):
    rng = np.random.default_rng(2)
    x = ag.tensor(rng.standard_normal(shape), requires_grad=True)
    lab = rng.integers(0, shape[-1], shape[:-1])
    assert ag.gradgradcheck(lambda x: ag.softmax_cross_entropy(x, lab, reduction), [x])

    def grad_norm(x):
        y = (ag.softmax_cross_entropy(x, lab, reduction) ** 2).sum()
        g, = ag.grad(y, [x], create_graph=True)
        return (g * g).sum()
    assert ag.gradgradcheck(grad_norm, [x])


def test_cross_entropy_hessian_closed_form():
    """The Hessian of mean cross-entropy in the logits is (diag(p) - p p^T) / N per sample."""
    rng = np.random.default_rng(3)
    xd = rng.standard_normal((3, 4))
    lab = np.array([0, 3, 3])
    v = rng.standard_normal((3, 4))
    _, hv = ag.functional.hvp(lambda x: ag.softmax_cross_entropy(x, lab, "mean"), ag.tensor(xd), ag.tensor(v))
    p = np.exp(xd) / np.exp(xd).sum(axis=1, keepdims=True)
    want = (p * v - p * (p * v).sum(axis=1, keepdims=True)) / 3
    np.testing.assert_allclose(hv.data, want, rtol=1e-12, atol=1e-15)


def test_differentiable_gradient_records_one_node_per_fused_rule():
    rng = np.random.default_rng(4)
    x = ag.tensor(rng.standard_normal((4, 3)))
    w = ag.tensor(rng.standard_normal((3, 5)), requires_grad=True)
    loss = ag.softmax_cross_entropy(ag.affine(x, w, activation="tanh"), np.array([0, 1, 2, 3]), "mean")
    g, = ag.grad(loss, [w], create_graph=True)
    names = nodes_of(g)
    assert "softmax_cross_entropy'" in names and "tanh'" in names
    assert "softmax" not in names and not {"multiply", "subtract"} & set(names)
