"""retain_grad, the non-leaf .grad warning, and ag.functional.hvp / vhp."""

import warnings

import numpy as np
import pytest
from conftest import f64

import autograd as ag

F = ag.functional



# ---------------------------------------------------------------- retain_grad

def test_retain_grad_keeps_a_non_leafs_gradient_and_accumulates():
    x = f64([1.0, -2.0, 3.0])
    h = x * 2.0
    h.retain_grad()
    assert h.retains_grad and not x.retains_grad
    y = (h * h).sum()
    y.backward(retain_graph=True)
    np.testing.assert_allclose(h.grad.data, 2 * h.data)           # dy/dh = 2h
    np.testing.assert_allclose(x.grad.data, 8 * x.data)
    y.backward()
    np.testing.assert_allclose(h.grad.data, 4 * h.data)           # added up, as a leaf's
    h.grad = None
    (h.sum() * 3).backward()
    np.testing.assert_allclose(h.grad.data, [3.0, 3.0, 3.0])


def test_ag_grad_fills_retained_gradients_too_as_pytorch():
    x = f64([1.0, 2.0])
    h = x * 3
    h.retain_grad()
    y = (h * h).sum()
    ag.grad(y, x, retain_graph=True)
    np.testing.assert_allclose(h.grad.data, [6.0, 12.0])
    y.backward()
    np.testing.assert_allclose(h.grad.data, [12.0, 24.0])


def test_retain_grad_is_idempotent_and_a_no_op_on_leaves():
    x = f64([1.0, 2.0])
    x.retain_grad()
    h = ag.tanh(x)
    h.retain_grad()
    h.retain_grad()
    h.sum().backward()
    np.testing.assert_allclose(h.grad.data, [1.0, 1.0])          # once, not twice
    with pytest.raises(RuntimeError, match="requires grad"):
        ag.tensor([1.0]).retain_grad()


def test_retained_gradient_is_the_one_after_hooks_and_owns_its_memory():
    x = f64([1.0, 2.0])
    h = x + 0.0
    h.retain_grad()
    h.register_hook(lambda g: g * 10)                             # registered after retain_grad
    h.sum().backward()
    np.testing.assert_allclose(h.grad.data, [10.0, 10.0])         # as PyTorch: after the hooks
    np.testing.assert_allclose(x.grad.data, [10.0, 10.0])
    before = h.grad.data.copy()
    (h * 1.0).sum().backward()                                    # x.grad grows in place
    np.testing.assert_allclose(x.grad.data, [20.0, 20.0])
    np.testing.assert_allclose(h.grad.data, before + 10.0)
    assert not np.shares_memory(h.grad.data, x.grad.data)


def test_retain_grad_with_create_graph_keeps_a_differentiable_gradient():
    x = f64([0.5, -1.0])
    h = x * x
    h.retain_grad()
    (h * h).sum().backward(create_graph=True)                     # dL/dh = 2h = 2x^2
    assert h.grad.requires_grad
    (gx,) = ag.grad(h.grad.sum(), x)
    np.testing.assert_allclose(gx.data, 4 * x.data)


def test_float32_retained_gradient_stays_float32():
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    h.retain_grad()
    h.sum().backward()
    assert h.grad.dtype == np.float32


def test_reading_a_non_leafs_grad_warns_once_per_tensor_and_names_retain_grad():
    x = f64([1.0, 2.0])
    h = x * 2
    h.sum().backward(retain_graph=True)
    with pytest.warns(UserWarning, match=r"retain_grad\(\)"):
        assert h.grad is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert h.grad is None                                     # this tensor warned already
        assert x.grad is not None                                 # leaves never warn
        h2 = x * 3
        h2.retain_grad()
        assert h2.grad is None                                    # retained: no warning
    with pytest.warns(UserWarning):
        assert (x * 4).grad is None                               # another tensor warns


# ---------------------------------------------------------------- hvp and vhp

def cubic(x):
    return (x ** 3).sum() + (ag.sin(x) * x[0]).sum()


def pair(a, b):
    return (a * a * b).sum() + ag.exp(b).sum() + (a[0] * b[1]) ** 2


def finite_difference_hvp(fn, xs, vs, eps=1e-5):
    """(grad f(x + eps v) - grad f(x - eps v)) / (2 eps), per input."""
    def grads(sign):
        moved = [ag.tensor(x.data + sign * eps * v.data, requires_grad=True) for x, v in zip(xs, vs)]
        return ag.grad(fn(*moved), moved)
    plus, minus = grads(1), grads(-1)
    return [(p.data - m.data) / (2 * eps) for p, m in zip(plus, minus)]


@pytest.mark.parametrize("product", ["hvp", "vhp"])
def test_one_input_against_the_hessian_and_finite_differences(product):
    rng = np.random.default_rng(0)
    x, v = f64(rng.standard_normal(4)), ag.tensor(rng.standard_normal(4))
    out, hv = getattr(F, product)(cubic, x, v)
    H = F.hessian(cubic, x).data
    np.testing.assert_allclose(out.data, cubic(x).data)
    np.testing.assert_allclose(hv.data, H @ v.data if product == "hvp" else v.data @ H, rtol=1e-12)
    np.testing.assert_allclose(hv.data, finite_difference_hvp(cubic, [x], [v])[0], rtol=1e-6, atol=1e-8)
    assert hv.shape == x.shape and not hv.requires_grad and not out.requires_grad
    assert x.grad is None                                         # .grad untouched


@pytest.mark.parametrize("product", ["hvp", "vhp"])
def test_tuples_of_inputs(product):
    rng = np.random.default_rng(1)
    a, b = f64(rng.standard_normal(3)), f64(rng.standard_normal((3,)))
    va, vb = ag.tensor(rng.standard_normal(3)), ag.tensor(rng.standard_normal(3))
    out, (ha, hb) = getattr(F, product)(pair, (a, b), (va, vb))
    (Haa, Hab), (Hba, Hbb) = [[h.data for h in row] for row in F.hessian(pair, (a, b))]
    if product == "hvp":
        expected = (Haa @ va.data + Hab @ vb.data, Hba @ va.data + Hbb @ vb.data)
    else:
        expected = (va.data @ Haa + vb.data @ Hba, va.data @ Hab + vb.data @ Hbb)
    np.testing.assert_allclose(ha.data, expected[0], rtol=1e-12)
    np.testing.assert_allclose(hb.data, expected[1], rtol=1e-12)
    fd = finite_difference_hvp(pair, [a, b], [va, vb])
    np.testing.assert_allclose(ha.data, fd[0], rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(hb.data, fd[1], rtol=1e-6, atol=1e-8)


def test_v_may_be_omitted_for_one_element():
    x = f64(0.7)
    out, hv = F.hvp(lambda t: t ** 4, x)
    np.testing.assert_allclose(hv.data, 12 * 0.7 ** 2)
    with pytest.raises(RuntimeError, match="v can be omitted only"):
        F.hvp(cubic, f64([1.0, 2.0]))


def test_create_graph_makes_the_product_differentiable():
    x, v = f64([0.3, -0.8]), ag.tensor([1.0, 2.0], dtype=np.float64)
    out, hv = F.hvp(lambda t: (t ** 4).sum(), x, v, create_graph=True)
    assert hv.requires_grad and out.requires_grad
    (g,) = ag.grad(hv.sum(), x)                               # d/dx sum(12 x^2 v) = 24 x v
    np.testing.assert_allclose(g.data, 24 * x.data * v.data)
    assert ag.gradcheck(lambda t: F.hvp(lambda s: (ag.sin(s) * s).sum(), t, v, create_graph=True)[1], (x,))


def test_inputs_the_output_or_the_hessian_ignore():
    a, b = f64([1.0, 2.0]), f64([3.0, 4.0])
    va, vb = ag.ones(2, dtype=np.float64), ag.ones(2, dtype=np.float64)
    for product in (F.hvp, F.vhp):
        _, (ha, hb) = product(lambda s, t: (s * 2).sum(), (a, b), (va, vb))     # linear in a, no b
        assert ha.tolist() == [0.0, 0.0] and hb.tolist() == [0.0, 0.0]
        with pytest.raises(RuntimeError, match="does not depend on input 1"):
            product(lambda s, t: (s * s).sum(), (a, b), (va, vb), strict=True)
        with pytest.raises(RuntimeError, match="Hessian does not depend on input 0"):
            product(lambda s, t: (s * 2).sum() + (t * t).sum(), (a, b), (va, vb), strict=True)


def test_errors_name_what_is_wrong():
    x = f64([1.0, 2.0])
    with pytest.raises(RuntimeError, match="one element"):
        F.hvp(lambda t: t * t, x, ag.ones(2, dtype=np.float64))
    with pytest.raises(TypeError, match="single Tensor"):
        F.vhp(lambda t: ((t * t).sum(), t.sum()), x, ag.ones(2, dtype=np.float64))
    with pytest.raises(RuntimeError, match="shape"):
        F.hvp(cubic, x, ag.ones(3, dtype=np.float64))


def test_against_pytorch_when_installed():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    x, v = rng.standard_normal(4), rng.standard_normal(4)
    for product in ("hvp", "vhp"):
        _, ours = getattr(F, product)(cubic, f64(x), ag.tensor(v))

        def torch_cubic(t):
            return (t ** 3).sum() + (torch.sin(t) * t[0]).sum()
        _, theirs = getattr(torch.autograd.functional, product)(
            torch_cubic, torch.tensor(x), torch.tensor(v))
        np.testing.assert_allclose(ours.data, theirs.numpy(), rtol=1e-12)
