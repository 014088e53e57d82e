import math

import numpy as np
import pytest

import autograd as ag
import nn


def test_dense_shapes_and_zero_bias():
    d = nn.Dense(5, 3, rng=0)
    assert d.weight.shape == (5, 3) and d.bias.shape == (3,)
    assert d.weight.dtype == np.float32
    np.testing.assert_array_equal(d.bias.data, np.zeros(3))


def test_dense_forward_matches_numpy():
    d = nn.Dense(4, 3, rng=0)
    d.bias.data = np.array([0.5, -1.0, 2.0], np.float32)
    x = np.random.default_rng(1).standard_normal((6, 4)).astype(np.float32)
    out = d(x)
    assert out.dtype == np.float32 and out.shape == (6, 3)
    np.testing.assert_allclose(out.data, x @ d.weight.data + d.bias.data, rtol=1e-6)


def test_dense_affine_is_one_graph_node():
    d = nn.Dense(4, 3, rng=0)
    out = d(ag.tensor(np.ones((2, 4), np.float32)))
    assert out.grad_fn.name == "affine"
    w = nn.Dense(4, 3, activation="relu", rng=0)
    relu_out = w(ag.tensor(np.ones((2, 4), np.float32), requires_grad=True))
    assert relu_out.grad_fn.name == "affine+relu"        # activation fused into the same node
    assert [p is not None for p in relu_out.grad_fn.parents] == [True, True, True]
    custom = nn.Dense(4, 3, activation=lambda z: z * 2.0, rng=0)(np.ones((2, 4), np.float32))
    assert custom.grad_fn.name == "multiply"             # a callable runs as its own operation


def test_dense_accepts_batched_input():
    d = nn.Dense(4, 2, rng=0)
    x = np.ones((3, 5, 4), np.float32)
    assert d(x).shape == (3, 5, 2)


@pytest.mark.parametrize("name,fn", [
    ("relu", lambda z: np.maximum(z, 0)),
    ("sigmoid", lambda z: 1 / (1 + np.exp(-z))),
    ("tanh", np.tanh),
    ("leaky_relu", lambda z: np.where(z > 0, z, 0.01 * z)),
    ("softmax", lambda z: np.exp(z) / np.exp(z).sum(-1, keepdims=True)),
])
def test_dense_activation_by_name(name, fn):
    d = nn.Dense(3, 4, activation=name, rng=0)
    x = np.random.default_rng(2).standard_normal((5, 3)).astype(np.float32)
    np.testing.assert_allclose(d(x).data, fn(x @ d.weight.data), rtol=1e-5, atol=1e-6)


def test_dense_activation_callable_and_module():
    x = np.ones((2, 3), np.float32)
    d = nn.Dense(3, 2, activation=lambda z: z * 2.0, rng=0)
    np.testing.assert_allclose(d(x).data, 2 * (x @ d.weight.data), rtol=1e-6)
    m = nn.Dense(3, 2, activation=nn.Tanh(), rng=0)
    np.testing.assert_allclose(m(x).data, np.tanh(x @ m.weight.data), rtol=1e-6)


def test_dense_unknown_activation_is_clear():
    with pytest.raises(ValueError, match="unknown activation 'gelu'.*'relu'"):
        nn.Dense(2, 2, activation="gelu")


def test_dense_wrong_input_size_names_layer_and_sizes():
    d = nn.Dense(784, 256)
    with pytest.raises(ValueError) as info:
        d(np.zeros((32, 100), np.float32))
    msg = str(info.value)
    assert "Dense(784, 256)" in msg and "784" in msg and "(32, 100)" in msg and "last axis 100" in msg


def test_dense_without_bias():
    d = nn.Dense(3, 2, bias=False, rng=0)
    assert d.bias is None and [n for n, _ in d.named_parameters()] == ["weight"]
    x = np.ones((1, 3), np.float32)
    np.testing.assert_allclose(d(x).data, x @ d.weight.data, rtol=1e-6)
    assert "bias=False" in repr(d)


def test_dense_default_init_is_he_for_relu_and_lecun_otherwise():
    n_in, n_out = 1000, 500
    for act in ("relu", "leaky_relu", ag.relu, nn.ReLU()):
        w = nn.Dense(n_in, n_out, activation=act, rng=0).weight.data
        assert abs(w.std() / math.sqrt(2 / n_in) - 1) < 0.01
    for act in (None, "tanh", "sigmoid", "softmax"):
        w = nn.Dense(n_in, n_out, activation=act, rng=0).weight.data
        assert abs(w.std() / math.sqrt(1 / n_in) - 1) < 0.01
    assert abs(w.mean()) < 0.001


def test_dense_init_by_name():
    w = nn.Dense(1000, 1000, init="xavier_uniform", rng=0).weight.data
    bound = math.sqrt(6 / 2000)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.999 * bound
    assert np.all(nn.Dense(3, 3, init="zeros").weight.data == 0)
    with pytest.raises(ValueError, match="unknown initializer 'bogus'.*he_normal"):
        nn.Dense(3, 3, init="bogus")


def test_dense_rng_seed_reproducible_and_global_seed():
    a = nn.Dense(4, 3, rng=7).weight.data
    b = nn.Dense(4, 3, rng=np.random.default_rng(7)).weight.data
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, nn.Dense(4, 3, rng=8).weight.data)
    ag.manual_seed(3)
    c = nn.Dense(4, 3).weight.data
    ag.manual_seed(3)
    np.testing.assert_array_equal(c, nn.Dense(4, 3).weight.data)


def test_dense_gradients_match_closed_form():
    d = nn.Dense(3, 2, rng=0)
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    g = np.random.default_rng(1).standard_normal((4, 2)).astype(np.float32)
    d(x).backward(g)
    np.testing.assert_allclose(d.weight.grad.data, x.T @ g, rtol=1e-5)
    np.testing.assert_allclose(d.bias.grad.data, g.sum(0), rtol=1e-5)


def test_dense_gradcheck_float64():
    d = nn.Dense(3, 4, activation="tanh", rng=0)
    x = ag.tensor(np.random.default_rng(0).standard_normal((2, 3)), requires_grad=True)
    w = ag.tensor(d.weight.data.astype(np.float64), requires_grad=True)
    b = ag.tensor(np.array([0.1, -0.2, 0.3, 0.0]), requires_grad=True)

    del d.weight, d.bias             # the names become plain attributes (assigning a Tensor
    #                                  over a registered parameter raises)

    def fn(x, w, b):
        d.weight, d.bias = w, b      # plain tensors: used by forward, not registered
        return d(x)
    assert ag.gradcheck(fn, (x, w, b))


@pytest.mark.parametrize("module,fn", [
    (nn.ReLU(), lambda z: np.maximum(z, 0)),
    (nn.Sigmoid(), lambda z: 1 / (1 + np.exp(-z))),
    (nn.Tanh(), np.tanh),
    (nn.LeakyReLU(0.2), lambda z: np.where(z > 0, z, 0.2 * z)),
    (nn.Softmax(axis=0), lambda z: np.exp(z) / np.exp(z).sum(0, keepdims=True)),
])
def test_activation_modules(module, fn):
    z = np.array([[-2.0, -0.5, 0.0], [0.5, 1.0, 3.0]])
    out = module(ag.tensor(z))
    np.testing.assert_allclose(out.data, fn(z), rtol=1e-12)
    assert list(module.parameters()) == []


def test_relu_gradient_at_zero_is_zero():
    x = ag.tensor([-1.0, 0.0, 2.0], requires_grad=True)
    nn.ReLU()(x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 0.0, 1.0])
