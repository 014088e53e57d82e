"""float32 stays float32 end to end: values and gradients of every operation, first and second order."""

import numpy as np
import pytest

import autograd as ag


def f32(shape, seed, low=0.5, high=1.5):
    data = np.random.default_rng(seed).uniform(low, high, shape).astype(np.float32)
    return ag.tensor(data, requires_grad=True)


OPS = {
    "add": lambda a, b: a + b + 1.0,
    "subtract": lambda a, b: a - b - 2,
    "multiply": lambda a, b: a * b * 0.5,
    "divide": lambda a, b: a / b / 3.0,
    "remainder": lambda a, b: (a * 3.0) % b + (a // b),
    "power": lambda a, b: a ** b + a ** 2.0 + 2.0 ** a,
    "negative_abs": lambda a, b: -ag.abs(a - b),
    "matmul": lambda a, b: a @ b.T,
    "dot": lambda a, b: ag.dot(a, b.T),
    "einsum": lambda a, b: ag.einsum("ij,kj->ik", a, b),
    "affine": lambda a, b: ag.affine(a, b.T, b[:, 0], activation="tanh"),
    "exp_log_sqrt": lambda a, b: ag.exp(a) + ag.log(b) + ag.sqrt(a),
    "trig": lambda a, b: ag.sin(a) * ag.cos(b) + ag.tanh(a),
    "activations": lambda a, b: ag.sigmoid(a) + ag.relu(a - 1.0) + ag.softplus(b) + ag.leaky_relu(b - 1.0),
    "clip_max_min_where": lambda a, b: ag.clip(a, 0.7, 1.2) + ag.maximum(a, b) + ag.minimum(a, b)
    + ag.where(a.data > 1, a, b),
    "reductions": lambda a, b: ag.sum(a, axis=0) + ag.mean(b, axis=0) + ag.max(a, axis=0)
    + ag.min(b, axis=0) + ag.logsumexp(a, axis=0) + ag.var(b, axis=0),
    "softmax": lambda a, b: ag.softmax(a, axis=0) + ag.log_softmax(b, axis=-1),
    "cross_entropy": lambda a, b: ag.softmax_cross_entropy(a * b, np.array([0, 3, 1]), "mean"),
    "binary_cross_entropy": lambda a, b: ag.binary_cross_entropy(a / 2, b - 0.5)
    + ag.clip(a, b - 0.2, b + 0.2),
    "shape": lambda a, b: ag.concatenate([a, b]).reshape(2, -1).T.sum(axis=1)
    + ag.stack([a, b]).swapaxes(0, 2).flatten().sum() + ag.expand_dims(a, 0).squeeze(0).sum(),
    "broadcast_split": lambda a, b: ag.broadcast_to(a[0], (2, 4)) + ag.split(b, [1])[1][:2],
    "indexing": lambda a, b: a[[0, 0, 2], ::-1] + b[b.data > 1].sum(),
}


@pytest.mark.parametrize("name", sorted(OPS))
def test_float32_values_and_gradients_stay_float32(name):
    a, b = f32((3, 4), 1), f32((3, 4), 2)
    out = OPS[name](a, b)
    assert out.dtype == np.float32, f"{name} gives {out.dtype}"
    out.sum().backward(create_graph=True)
    for t in (a, b):
        if t.grad is not None:
            assert t.grad.dtype == np.float32, f"{name}: gradient is {t.grad.dtype}"
    # second order: the gradient's own gradient is float32 too
    ga = a.grad
    a.grad = b.grad = None
    if ga is not None and ga.requires_grad:
        (gga,) = ag.grad(ga.sum(), a, allow_unused=True)
        assert gga is None or gga.dtype == np.float32


def test_float32_gradients_inside_engine_buffers():
    """Gradients flowing between nodes stay float32 (checked with a hook on an intermediate)."""
    x = f32((5,), 3)
    h = ag.exp(x * 2.0)
    seen = []
    h.register_hook(lambda g: seen.append(g.dtype))
    (h * h + ag.sin(h)).mean().backward()
    assert seen == [np.float32]
    assert x.grad.dtype == np.float32
