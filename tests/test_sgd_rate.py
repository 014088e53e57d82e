"""Plain SGD multiplies by the learning rate held as a 0-d array of the parameter's dtype
(optim.optimizer._rate): the same values as `x - g * lr` in NumPy, for each dtype and each
change of the rate."""

import numpy as np
import pytest

import autograd as ag
import nn
import optim


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_plain_step_equals_numpy_with_a_python_float(dtype):
    rng = np.random.default_rng(0)
    x0 = rng.standard_normal((4, 3)).astype(dtype)
    g0 = rng.standard_normal((4, 3)).astype(dtype)
    p = nn.Parameter(x0.copy())
    opt = optim.SGD([p], lr=0.0123)
    p.grad = ag.tensor(g0)
    opt.step()
    want = x0 - g0 * 0.0123
    assert p.dtype == dtype
    np.testing.assert_array_equal(p.numpy(), want)
    for lr in (0.5, 1e-7, 0.0123):      # the rate each step is the group's current one
        opt.param_groups[0]["lr"] = lr
        before = p.numpy().copy()
        opt.step()
        np.testing.assert_array_equal(p.numpy(), before - g0 * lr)


def test_mixed_dtypes_in_one_group_and_a_parameter_held_by_a_graph():
    a = nn.Parameter(np.array([1.0, 2.0], np.float32))
    b = nn.Parameter(np.array([1.0, 2.0], np.float64))
    c = nn.Parameter(np.array([3.0], np.float32))
    opt = optim.SGD([a, b, c], lr=0.1)
    (a * a).sum().backward()
    (b * 3.0).sum().backward()
    (c * 2.0).sum().backward()
    held = c * c            # c's array is saved (read-only) by this graph: updated as a copy
    opt.step()
    np.testing.assert_array_equal(a.numpy(), np.float32([1.0, 2.0]) - np.float32([2.0, 4.0]) * 0.1)
    np.testing.assert_array_equal(b.numpy(), np.array([1.0, 2.0]) - 3.0 * 0.1)
    np.testing.assert_array_equal(c.numpy(), np.float32([3.0]) - np.float32([2.0]) * 0.1)
    assert a.dtype == np.float32 and b.dtype == np.float64
    with pytest.raises(RuntimeError, match="modified"):
        held.sum().backward()       # c was replaced after the graph saved it


def test_many_learning_rates_as_a_schedule_gives_each_its_value():
    p = nn.Parameter(np.array([0.0], np.float32))
    opt = optim.SGD([p], lr=1.0)
    want = np.zeros(1, np.float32)
    for i in range(300):            # more rates than the cache keeps
        lr = 1.0 / (i + 1)
        opt.param_groups[0]["lr"] = lr
        p.grad = ag.tensor(np.ones(1, np.float32))
        opt.step()
        want = want - np.ones(1, np.float32) * lr
    assert want.dtype == np.float32
    np.testing.assert_array_equal(p.numpy(), want)


def test_switching_momentum_on_and_off_between_steps_follows_the_group():
    x0 = np.array([1.0, -2.0])
    p = nn.Parameter(x0.copy())
    opt = optim.SGD([p], lr=0.1)
    g = np.array([0.5, 0.25])
    want, buf = x0.copy(), None
    for momentum in (0.0, 0.9, 0.9, 0.0, 0.5):
        opt.param_groups[0]["momentum"] = momentum
        p.grad = ag.tensor(g.copy())
        opt.step()
        if momentum:                # PyTorch's buffer: g on its first use, then m * b + g
            buf = g.copy() if buf is None else momentum * buf + g
            want = want - 0.1 * buf
        else:
            want = want - 0.1 * g
        np.testing.assert_allclose(p.numpy(), want, rtol=1e-15)
    with pytest.raises(ValueError, match="momentum"):
        opt.param_groups[0]["momentum"] = -1.0
        opt.step()


def test_scratch_regrown_for_a_larger_parameter_added_later_keeps_every_update_right():
    rng = np.random.default_rng(5)
    small = nn.Parameter(rng.standard_normal(3).astype(np.float32))
    other = nn.Parameter(rng.standard_normal((2, 2)))          # float64: its own buffer
    opt = optim.SGD([small, other], lr=0.5)
    big = nn.Parameter(rng.standard_normal((4, 5)).astype(np.float32))
    for i in range(3):
        if i == 1:
            opt.add_param_group({"params": [big], "lr": 0.25})     # the float32 buffer grows
        ps = [small, other] + ([big] if i else [])
        before = [p.numpy().copy() for p in ps]
        grads = [rng.standard_normal(p.shape).astype(p.dtype) for p in ps]
        for p, g in zip(ps, grads):
            p.grad = ag.tensor(g)
        opt.step()
        for p, b, g, lr in zip(ps, before, grads, (0.5, 0.5, 0.25)):
            np.testing.assert_array_equal(p.numpy(), b - g * lr)
