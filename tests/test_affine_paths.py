"""affine's forward paths: the bias checks on each path (an array of the product's dtype, a
scalar, a list, another dtype), the activations applied to the product, against NumPy."""

import numpy as np
import pytest

import autograd as ag


def _xw(dtype=np.float32):
    rng = np.random.default_rng(0)
    return rng.standard_normal((4, 3)).astype(dtype), rng.standard_normal((3, 2)).astype(dtype)


@pytest.mark.parametrize("act", [None, "relu", "tanh", "sigmoid"])
def test_forward_values_against_numpy(act):
    x, w = _xw()
    b = np.array([0.5, -1.0], np.float32)
    z = x @ w + b
    want = {None: z, "relu": np.maximum(z, 0), "tanh": np.tanh(z),
            "sigmoid": 1 / (1 + np.exp(-z.astype(np.float64)))}[act]
    out = ag.affine(ag.tensor(x), ag.tensor(w, requires_grad=True), ag.tensor(b), act)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.numpy(), want, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("bias", [np.zeros(3, np.float32), np.zeros((2, 2), np.float32),
                                  np.zeros((1, 2), np.float32), [0.0, 0.0, 0.0],
                                  np.zeros(3, np.float64)])
def test_a_bias_of_the_wrong_shape_is_refused_on_every_path(bias):
    x, w = _xw()
    with pytest.raises(ValueError, match="bias of shape"):
        ag.affine(ag.tensor(x), ag.tensor(w), bias)


def test_scalar_list_and_wider_biases():
    x, w = _xw()
    np.testing.assert_allclose(ag.affine(x, w, np.float32(2.0)).numpy(), x @ w + 2, rtol=1e-6)
    np.testing.assert_allclose(ag.affine(x, w, [1.0, 2.0]).numpy(), x @ w + [1, 2], rtol=1e-6)
    b64 = np.array([1e-9, 0.0])
    out = ag.affine(x, w, b64)      # a float64 bias gives x @ w + b's float64
    assert out.dtype == np.float64
    np.testing.assert_allclose(out.numpy(), (x @ w).astype(np.float64) + b64, rtol=1e-12)
