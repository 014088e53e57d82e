"""affine+activation's backward computes g * act'(y) in a per-thread scratch buffer: the
gradients it returns never share that memory, equal the unfused formulas, and stay put when
later backward passes (also in other threads) reuse the buffer."""

import threading

import numpy as np
import pytest

import autograd as ag


def grads(act, x, w, b, g):
    ts = [ag.tensor(a, requires_grad=True) for a in (x, w, b)]
    ag.affine(*ts, activation=act).backward(ag.tensor(g))
    return [t.grad.data for t in ts]


def unfused(act, x, w, b, g):
    y = x @ w + b
    y = {"relu": np.maximum(y, 0), "tanh": np.tanh(y), "sigmoid": 1 / (1 + np.exp(-y))}[act]
    d = {"relu": y > 0, "tanh": 1 - y * y, "sigmoid": y * (1 - y)}[act]
    t = g * d
    return [t @ w.T, x.T @ t, t.sum(axis=0)]


@pytest.mark.parametrize("act", ["relu", "tanh", "sigmoid"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_same_values_as_the_formula_and_no_shared_memory(act, dtype):
    rng = np.random.default_rng(0)
    x, w, b = (rng.standard_normal(s).astype(dtype) for s in [(6, 4), (4, 5), (5,)])
    g = rng.standard_normal((6, 5)).astype(dtype)
    got = grads(act, x, w, b, g)
    for a, e in zip(got, unfused(act, x, w, b, g)):
        assert a.dtype == dtype
        np.testing.assert_allclose(a, e, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-6)
    again = grads(act, 2 * x, w, b, -g)             # reuses the scratch buffer
    assert not any(np.shares_memory(a, c) for a in got for c in again)
    for a, e in zip(got, unfused(act, x, w, b, g)):         # the first gradients did not move
        np.testing.assert_allclose(a, e, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-6)


def test_nan_output_gets_relu_gradient_zero_as_before():
    x = np.array([[0.0, 1.0]])
    w = np.eye(2)
    gx, gw, gb = grads("relu", x, w, np.array([np.nan, 0.0]), np.ones((1, 2)))   # y = [nan, 1]
    np.testing.assert_array_equal(gb, [0.0, 1.0])


def test_threads_do_not_share_the_buffer():
    rng = np.random.default_rng(1)
    cases = [tuple(rng.standard_normal(s) for s in [(64, 32), (32, 48), (48,), (64, 48)]) for _ in range(4)]
    want = [unfused("tanh", *c) for c in cases]
    errors = []

    def work(i):
        for _ in range(30):
            for a, e in zip(grads("tanh", *cases[i]), want[i]):
                if not np.allclose(a, e, rtol=1e-12, atol=1e-12):
                    errors.append(i)
    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_three_dimensional_input():
    rng = np.random.default_rng(2)
    x, w, b = rng.standard_normal((2, 3, 4)), rng.standard_normal((4, 5)), rng.standard_normal(5)
    ts = [ag.tensor(a, requires_grad=True) for a in (x, w, b)]
    assert ag.gradcheck(lambda x, w, b: ag.affine(x, w, b, activation="tanh"), ts)
