"""Attack 7: `affine(x, w, b)` is documented as `activation(x @ w + b)`; its result dtype is the
one `x @ w + b` has under the project's dtype rule (docs/pytorch.md). The bias was added in
place into `x @ w`, so a float64 bias on float32 operands was rounded to float32 (its small
values lost) and a float bias on integer operands raised NumPy's casting error."""

import numpy as np
import pytest

import autograd as ag


@pytest.mark.parametrize("activation", [None, "relu", "tanh", "sigmoid"])
def test_a_wider_bias_widens_the_result_as_x_at_w_plus_b(activation):
    rng = np.random.default_rng(0)
    X, W = rng.standard_normal((5, 3)), rng.standard_normal((3, 4))
    B = np.full(4, 1e-9) + rng.standard_normal(4)
    x = ag.tensor(X, dtype=np.float32, requires_grad=True)
    w = ag.tensor(W, dtype=np.float32, requires_grad=True)
    b = ag.tensor(B, dtype=np.float64, requires_grad=True)
    fused = ag.affine(x, w, b, activation=activation)
    z = x @ w + b
    plain = {None: z, "relu": ag.relu(z) if activation == "relu" else None,
             "tanh": ag.tanh(z), "sigmoid": ag.sigmoid(z)}[activation]
    assert fused.dtype == plain.dtype == np.float64
    np.testing.assert_array_equal(fused.data, plain.data)
    G = rng.standard_normal(fused.shape)
    grads = ag.grad((fused * G).sum(), [x, w, b])
    want = ag.grad((plain * G).sum(), [x, w, b])
    for got, ref, t in zip(grads, want, (x, w, b)):
        assert got.dtype == t.dtype
        np.testing.assert_allclose(got.data, ref.data, rtol=1e-5, atol=1e-6)


def test_bias_kept_in_float64_keeps_its_small_values():
    x = ag.tensor(np.ones((1, 2)), dtype=np.float32)
    w = ag.tensor(np.ones((2, 1)), dtype=np.float32)
    y = ag.affine(x, w, ag.tensor([1e-9], dtype=np.float64))
    assert y.data[0, 0] - 2.0 == pytest.approx(1e-9, rel=1e-6)


def test_bias_of_lower_rank_or_category_follows_the_rule():
    x = ag.tensor(np.ones((2, 3)), dtype=np.float32)
    w = np.ones((3, 4), np.float32)
    assert ag.affine(x, w, 0.5).dtype == np.float32                           # a number: never widens
    assert ag.affine(x, w, ag.tensor(np.float64(0.5))).dtype == np.float32    # a 0-d Tensor
    assert ag.affine(x, w, np.arange(4)).dtype == (x @ w + np.arange(4)).dtype     # NumPy's, among arrays
    xi, wi = ag.tensor(np.ones((2, 3), np.int64)), np.ones((3, 4), np.int64)
    y = ag.affine(xi, wi, np.full(4, 0.5))              # NumPy's cast error before
    assert y.dtype == np.float64 and y.data.tolist() == [[3.5] * 4] * 2
    assert ag.affine(xi, wi, 0.5).dtype == (xi @ wi + 0.5).dtype == ag.get_default_dtype()
