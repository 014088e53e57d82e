"""optim: parameters are updated in place, without parameter-sized allocations per step."""

import tracemalloc

import numpy as np
import pytest

import autograd as ag
import optim

MAKERS = {
    "sgd": lambda ps: optim.SGD(ps, lr=0.1),
    "sgd_momentum": lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9),
    "sgd_dampening_wd": lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, dampening=0.9, weight_decay=1e-4),
    "sgd_nesterov": lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True),
    "sgd_nesterov_wd": lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-4),
    "adam": lambda ps: optim.Adam(ps),
    "adam_wd": lambda ps: optim.Adam(ps, weight_decay=1e-2),
    "rmsprop": lambda ps: optim.RMSprop(ps),
    "rmsprop_momentum": lambda ps: optim.RMSprop(ps, momentum=0.9),
}


def big_param(n=1000):
    rng = np.random.default_rng(0)
    p = ag.tensor(rng.standard_normal((n, n), dtype=np.float32), requires_grad=True)
    p.grad = ag.tensor(rng.standard_normal((n, n), dtype=np.float32))
    return p


def step_peak_bytes(opt):
    """Peak traced memory above the starting level during one step()."""
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        opt.step()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("name", list(MAKERS))
def test_step_updates_in_place_and_allocates_less_than_one_parameter(name):
    p = big_param()
    arr = p.data
    opt = MAKERS[name]([p])
    opt.step()                  # warm-up: state buffers and the scratch array are made here
    opt.step()
    before = arr.copy()
    peak = step_peak_bytes(opt)
    assert p.data is arr
    assert p.data.dtype == np.float32
    assert not np.array_equal(arr, before)
    assert peak < arr.nbytes / 100, f"{name}: {peak} bytes allocated during a step"


def test_sgd_momentum_peak_below_one_parameter():
    p = big_param()
    arr = p.data
    opt = optim.SGD([p], lr=0.01, momentum=0.9)
    for _ in range(3):
        opt.step()
    peak = step_peak_bytes(opt)
    print(f"SGD momentum, 1000x1000 float32: peak {peak} bytes during step() (parameter: {arr.nbytes})")
    assert p.data is arr
    assert peak < arr.nbytes


def test_training_loop_keeps_the_same_array():
    A = np.random.default_rng(1).standard_normal((6, 4)).astype(np.float32)
    p = ag.tensor(np.ones(4, dtype=np.float32), requires_grad=True)
    arr = p.data
    for opt in [optim.SGD([p], lr=0.01, momentum=0.9), optim.Adam([p]), optim.RMSprop([p], momentum=0.5)]:
        for _ in range(5):
            opt.zero_grad()
            ((A @ p) ** 2).sum().backward()
            opt.step()
        assert p.data is arr and p.dtype == np.float32


def test_scratch_is_shared_by_parameters_of_one_dtype():
    small = ag.tensor(np.ones((3, 4)), requires_grad=True)
    large = ag.tensor(np.ones((50,)), requires_grad=True)
    single = ag.tensor(np.ones(7, dtype=np.float32), requires_grad=True)
    opt = optim.SGD([small, large, single], lr=0.1)
    for t in (small, large, single):
        t.grad = ag.ones_like(t)
    opt.step()
    np.testing.assert_allclose(small.data, 0.9)
    np.testing.assert_allclose(large.data, 0.9)
    np.testing.assert_allclose(single.data, 0.9)
    assert single.dtype == np.float32
    assert sorted(b.size for b in opt._workspace.values()) == [7, 50]


@pytest.mark.parametrize("name", ["sgd_momentum", "adam", "rmsprop_momentum"])
def test_parameter_held_by_a_retained_graph_is_replaced_not_written(name):
    p = ag.tensor([1.0, 2.0, 3.0], requires_grad=True)
    opt = MAKERS[name]([p])
    loss = (p * p).sum()
    loss.backward(retain_graph=True)        # the graph keeps p's array: it is read-only now
    old = p.data
    assert not old.flags.writeable
    reference = MAKERS[name]([ag.tensor([1.0, 2.0, 3.0], requires_grad=True)])
    q = reference.param_groups[0]["params"][0]
    q.grad = ag.tensor([2.0, 4.0, 6.0])
    reference.step()

    opt.step()                              # no crash: a new array is assigned
    assert p.data is not old
    np.testing.assert_array_equal(old, [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(p.data, q.data)
    with pytest.raises(RuntimeError, match="modified|version"):
        loss.backward()                     # the core's version check reports the stale graph


def test_update_after_graph_released_is_in_place_again():
    p = ag.tensor([1.0, 2.0], requires_grad=True)
    opt = optim.SGD([p], lr=0.1)
    (p * p).sum().backward()                # graph released: array writeable again
    arr = p.data
    assert arr.flags.writeable
    opt.step()
    assert p.data is arr
    np.testing.assert_allclose(arr, [0.8, 1.6])


def test_step_rechecks_a_group_only_when_a_value_was_replaced():
    """Hyperparameters passing the check once are not checked again each step; a new value is."""
    p = ag.tensor(np.ones(3), requires_grad=True)
    opt = optim.SGD([p], lr=0.5)
    calls = []
    check = opt._check_group
    opt._check_group = lambda g: (calls.append(1), check(g))
    for _ in range(3):
        p.grad = ag.tensor(np.ones(3))
        opt.step()
    assert len(calls) == 1
    np.testing.assert_allclose(p.data, 1 - 3 * 0.5)
    opt.param_groups[0]["lr"] = 0.25
    opt.step()
    assert len(calls) == 2
    np.testing.assert_allclose(p.data, -0.5 - 0.25)
    opt.param_groups[0]["momentum"] = 1.5
    with pytest.raises(ValueError, match="momentum"):
        opt.step()
    np.testing.assert_allclose(p.data, -0.75)
    opt.param_groups[0]["momentum"] = 0.0
    opt.param_groups[0]["extra"] = 1
    opt.step()
    assert len(calls) == 4
