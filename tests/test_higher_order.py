"""create_graph, ag.grad options, gradgradcheck and the functional transforms."""

import numpy as np
import pytest
from conftest import f64

import autograd as ag
from autograd import functional as F


def test_third_derivative_of_sin_is_minus_cos():
    x = f64(0.7)
    (g1,) = ag.grad(ag.sin(x), x, create_graph=True)
    (g2,) = ag.grad(g1, x, create_graph=True)
    (g3,) = ag.grad(g2, x)
    np.testing.assert_allclose(g1.item(), np.cos(0.7))
    np.testing.assert_allclose(g2.item(), -np.sin(0.7))
    np.testing.assert_allclose(g3.item(), -np.cos(0.7))


def test_fourth_derivative_of_exp_and_x_cubed():
    x = f64(1.3)
    y = ag.exp(x) + x ** 3
    grads = []
    for _ in range(4):
        (y,) = ag.grad(y, x, create_graph=True)
        grads.append(y.item())
    e = np.exp(1.3)
    np.testing.assert_allclose(grads, [e + 3 * 1.3**2, e + 6 * 1.3, e + 6, e])


def test_backward_create_graph_makes_grad_differentiable():
    x = f64([1.0, 2.0])
    (x ** 3).sum().backward(create_graph=True)
    assert x.grad.requires_grad
    g = x.grad
    x.grad = None
    g.sum().backward()
    np.testing.assert_allclose(x.grad.data, 6 * np.array([1.0, 2.0]))


SECOND_ORDER = {
    "arith": lambda a, b: (a * b + a / (b * b + 1.0) - a ** 3).sum(),
    "elementwise": lambda a, b: (ag.tanh(a) * ag.sigmoid(b) + ag.softplus(a) * ag.exp(b * 0.3)
                                 + ag.sin(a) * ag.cos(b) + ag.sqrt(b * b + 1.0) + ag.log(a * a + 1.0)),
    "reductions": lambda a, b: ag.logsumexp(a * b, axis=1) + ag.var(a + b, axis=0).sum() + (a * b).max(),
    "softmax": lambda a, b: (ag.softmax(a * b, axis=-1) * b).sum() + ag.log_softmax(a, axis=0).sum(),
    "linalg": lambda a, b: (a @ b.T).sum() + ag.einsum("ij,ij->", a * a, b) + ag.dot(a[0], b[1]),
    "shape": lambda a, b: (ag.concatenate([a, b]) ** 2).sum() + (ag.stack([a, b]).transpose((2, 0, 1))
                                                                  .reshape(-1) ** 3).sum(),
    "index": lambda a, b: (a[[0, 0, 1]][1:] * b[::-1][:, [2, 1, 0, 3]]).sum() + (a[a.data > 0] ** 3).sum(),
    "clip_max": lambda a, b: (ag.clip(a, -0.5, 0.5) * b ** 2).sum() + (ag.maximum(a, b) ** 2).sum(),
    "where_relu": lambda a, b: (ag.where(a.data > 0, a ** 2, b ** 3) + ag.relu(a) * b).sum(),
    "affine": lambda a, b: (ag.affine(a, b.T @ a, b[0]) ** 2).sum(),
    "cross_entropy": lambda a, b: ag.softmax_cross_entropy(a * b, np.array([0, 3])).sum(),
}


@pytest.mark.parametrize("name", sorted(SECOND_ORDER))
def test_gradgradcheck_every_operation_family(name):
    rng = np.random.default_rng(1)
    a = f64(rng.uniform(0.3, 1.5, (2, 4)))
    b = f64(rng.uniform(0.3, 1.5, (2, 4)))
    assert ag.gradgradcheck(SECOND_ORDER[name], (a, b))


def test_gradcheck_reports_a_wrong_gradient():
    class Wrong(ag.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 2

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_arrays
            return 3 * x * g            # should be 2 x

    x = f64([1.0, 2.0])
    with pytest.raises(ag.GradcheckError) as err:
        ag.gradcheck(Wrong.apply, (x,))
    msg = str(err.value)
    assert "gradcheck of Wrong.apply" in msg and "input 0" in msg and "output 0" in msg
    assert "analytical 6" in msg and "numerical 4" in msg
    assert "worst element" in msg and "largest absolute error 2" in msg
    assert ag.gradcheck(Wrong.apply, (x,), raise_exception=False) is False


def test_gradcheck_warns_on_float32():
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    with pytest.warns(UserWarning, match="float64"):
        ag.gradcheck(lambda t: t * 2.0, (x,), eps=1e-2, atol=1e-2, rtol=1e-2)


def test_gradcheck_multiple_outputs_and_non_tensor_inputs():
    x = f64([1.0, 2.0])
    assert ag.gradcheck(lambda t, k: (t * k, ag.exp(t)), (x, 3.0))


# ---------------------------------------------------------------- functional transforms

def test_hessian_of_quadratic_form_is_a_plus_a_transpose():
    A = np.random.default_rng(2).standard_normal((4, 4))
    x = f64(np.ones(4), requires_grad=False)
    H = F.hessian(lambda v: v @ (A @ v), x)
    np.testing.assert_allclose(H.data, A + A.T, atol=1e-12)
    assert H.shape == (4, 4)


def test_hessian_of_two_inputs_is_nested():
    x, y = f64([1.0, 2.0]), f64(3.0)
    H = F.hessian(lambda a, b: (a * a * b).sum(), (x, y))
    np.testing.assert_allclose(H[0][0].data, 2 * 3.0 * np.eye(2))
    np.testing.assert_allclose(H[0][1].data, [2.0, 4.0])
    np.testing.assert_allclose(H[1][0].data, [2.0, 4.0])
    np.testing.assert_allclose(H[1][1].data, 0.0)


def test_jacobian_of_softmax_closed_form():
    x = f64([0.1, 1.0, -0.5])
    J = F.jacobian(lambda v: ag.softmax(v), x)
    s = np.exp(x.data) / np.exp(x.data).sum()
    np.testing.assert_allclose(J.data, np.diag(s) - np.outer(s, s), atol=1e-12)


def test_jacobian_shapes_follow_pytorch():
    x, y = f64(np.ones((2, 3))), f64(np.ones(4))
    J = F.jacobian(lambda a: a * 2.0, x)
    assert J.shape == (2, 3, 2, 3)
    J2 = F.jacobian(lambda a, b: (a.sum() * b, b * 2.0), (x, y))
    assert J2[0][0].shape == (4, 2, 3) and J2[0][1].shape == (4, 4)
    assert J2[1][0].shape == (4, 2, 3)
    np.testing.assert_allclose(J2[1][0].data, 0.0)
    np.testing.assert_allclose(J2[1][1].data, 2 * np.eye(4))


def test_vjp_and_jvp_match_jacobian():
    rng = np.random.default_rng(3)
    x = f64(rng.standard_normal(3))
    v_out, v_in = f64(rng.standard_normal(2)), f64(rng.standard_normal(3))
    M = rng.standard_normal((2, 3))

    def fn(t):
        return ag.tanh(M @ t)

    J = F.jacobian(fn, x).data
    out, vj = F.vjp(fn, x, v_out)
    np.testing.assert_allclose(vj.data, v_out.data @ J)
    np.testing.assert_allclose(out.data, np.tanh(M @ x.data))
    out, jv = F.jvp(fn, x, v_in)
    np.testing.assert_allclose(jv.data, J @ v_in.data)


def test_vjp_without_v_needs_scalar_output():
    x = f64([1.0, 2.0])
    out, g = F.vjp(lambda t: (t * t).sum(), x)
    np.testing.assert_allclose(g.data, [2.0, 4.0])
    with pytest.raises(RuntimeError, match="single element"):
        F.vjp(lambda t: t * t, x)


def test_functional_create_graph_stays_connected_to_the_inputs():
    x = ag.tensor([1.0, 2.0], dtype=np.float64)                    # needs no grad
    np.testing.assert_allclose(F.jacobian(lambda a: a ** 2, x, create_graph=True).data,
                               [[2.0, 0.0], [0.0, 4.0]])
    np.testing.assert_allclose(F.vjp(lambda a: (a ** 2).sum(), x, create_graph=True)[1].data,
                               [2.0, 4.0])
    xr = ag.tensor([1.0, 2.0], dtype=np.float64, requires_grad=True)
    H = F.hessian(lambda a: (a ** 4).sum(), xr, create_graph=True)   # diag(12 a^2)
    np.testing.assert_allclose(H.data, np.diag([12.0, 48.0]))
    H.sum().backward()
    np.testing.assert_allclose(xr.grad.data, [24.0, 48.0])
    xr.grad = None
    _, j = F.jvp(lambda a: a ** 3, xr, ag.tensor([1.0, 0.0], dtype=np.float64), create_graph=True)
    j.sum().backward()                                              # d/dx (3 x^2 v)
    np.testing.assert_allclose(xr.grad.data, [6.0, 0.0])
    xr.grad = None
    J = F.jacobian(lambda a: a ** 2, xr)                            # without create_graph: cut off
    assert not J.requires_grad and xr.grad is None


def test_gradcheck_with_one_tensor_passed_twice():
    x = ag.tensor([1.0, 2.0], dtype=np.float64, requires_grad=True)
    assert ag.gradcheck(lambda p, q: p * q, (x, x))          # d(x*x)/dx = 2x for both slots
    assert ag.gradgradcheck(lambda p, q: p * q, (x, x))


def test_gradgradcheck_arguments_and_warnings_point_at_the_caller():
    x = ag.tensor([1.0, 2.0], dtype=np.float64, requires_grad=True)
    assert ag.gradgradcheck(lambda a: a * a * a, (x,), grad_outputs=np.array([1.0, -1.0]))
    with pytest.raises(ValueError, match="gradgradcheck: no input requires grad"):
        ag.gradgradcheck(lambda a: a * a, (ag.tensor([1.0]),))
    x32 = ag.tensor([1.0, 2.0], requires_grad=True)
    with pytest.warns(UserWarning) as record:
        ag.gradgradcheck(lambda a: a * a, (x32,), eps=1e-2, atol=1e-2, rtol=1e-2,
                         raise_exception=False)
    msgs = [w for w in record if "not float64" in str(w.message)]
    assert len(msgs) == 1 and msgs[0].filename == __file__


def test_gradcheck_relative_error_where_the_numerical_value_is_zero():
    class Wrong(ag.Function):
        @staticmethod
        def forward(ctx, a):
            return a * 0.0

        @staticmethod
        def backward(ctx, g):
            return g                                    # should be 0

    x = ag.tensor([1.0], dtype=np.float64, requires_grad=True)
    with pytest.raises(ag.GradcheckError, match="largest relative error inf"):
        ag.gradcheck(Wrong.apply, (x,))


def test_draw_graph_checks_its_arguments():
    x = ag.tensor([1.0], requires_grad=True)
    y = (x * 2).sum()
    with pytest.raises(TypeError, match="params\\['w'\\] is a ndarray, not a Tensor"):
        ag.draw_graph(y, params={"w": np.ones(1)})
    with pytest.raises(ValueError, match="collapse_modules must be True, False or a depth"):
        ag.draw_graph(y, collapse_modules="yes")
    assert "multiply" in ag.draw_graph(y, collapse_modules=0).source
