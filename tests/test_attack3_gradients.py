"""Third adversarial round, gradients: cases where chainrule disagreed with PyTorch's documented
convention or failed inside NumPy."""

import numpy as np
import pytest

import autograd as ag


@pytest.mark.parametrize("ddof", [0, 1])
def test_std_of_a_constant_slice_has_a_zero_gradient_as_pytorch(ddof):
    # torch.std's backward masks the places where the result is 0 (masked_fill(result == 0, 0));
    # chainrule returned NaN there, which poisoned every parameter upstream of a normalisation
    # over a constant feature (a padding column, a one-hot column that never fires)
    a = np.array([[1.0, 2.0, 4.0], [3.0, 3.0, 3.0]])
    x = ag.tensor(a, requires_grad=True)
    s = ag.std(x, axis=1, ddof=ddof)
    assert s.data[1] == 0.0
    (s * ag.tensor(np.array([2.0, 5.0]))).sum().backward()
    n = a.shape[1]
    row = a[0] - a[0].mean()
    expected0 = 2.0 * row / ((n - ddof) * a[0].std(ddof=ddof))
    np.testing.assert_allclose(x.grad.data[0], expected0, rtol=1e-12)
    assert np.array_equal(x.grad.data[1], np.zeros(3))


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_std_of_constant_values_keeps_dtype_and_zero_gradient(dtype):
    x = ag.tensor(np.ones(4, dtype), requires_grad=True)
    x.std().backward()
    assert x.grad.dtype == dtype
    assert np.array_equal(x.grad.data, np.zeros(4, dtype))


def test_std_second_order_at_a_constant_slice_is_finite():
    a = np.array([[1.0, 2.0, 4.0], [3.0, 3.0, 3.0]])
    x = ag.tensor(a, requires_grad=True)
    (g,) = ag.grad(ag.std(x, axis=1).sum(), x, create_graph=True)
    assert np.array_equal(g.data[1], np.zeros(3))
    (g2,) = ag.grad((g * g).sum(), x)
    assert np.isfinite(g2.data).all() and np.array_equal(g2.data[1], np.zeros(3))
    assert ag.gradgradcheck(lambda t: ag.std(t, axis=1), (ag.tensor(a[:1], requires_grad=True),))


def test_std_where_the_value_is_not_zero_still_matches_finite_differences():
    x = ag.tensor(np.random.default_rng(0).standard_normal((3, 4)), requires_grad=True)
    for axis in (None, 0, 1, (0, 1)):
        for ddof in (0, 1):
            assert ag.gradcheck(lambda t, a=axis, d=ddof: ag.std(t, axis=a, ddof=d), (x,))
