"""What nn.Monitor does to stay cheap, held to the same numbers: the optimizer's update hooks it
reads the parameters through, `output_grads=False`, and the fallbacks when neither is there."""

from __future__ import annotations

import math

import numpy as np
import pytest

import autograd as ag
import nn
import optim


def batch(n: int = 16, d: int = 6, seed: int = 0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)).astype(np.float32), rng.integers(0, 3, n)


def small_model(seed: int = 0) -> nn.Module:
    ag.manual_seed(seed)
    return nn.Sequential(nn.Dense(6, 8, "relu"), nn.Dense(8, 8, "tanh"), nn.Dense(8, 3))


# ---------------------------------------------------------------- optim: register_update_hook


def test_update_hooks_run_around_each_parameter_update_in_order():
    a = ag.tensor(np.ones(3, np.float32), requires_grad=True)
    b = ag.tensor(np.ones(2, np.float32), requires_grad=True)
    c = ag.tensor(np.ones(2, np.float32), requires_grad=True)     # gets no gradient
    opt = optim.SGD([a, b, c], lr=0.5)
    seen = []
    h1 = opt.register_update_hook(lambda p: seen.append(("before", p.shape, p.numpy().copy())))
    h2 = opt.register_update_hook(lambda p: seen.append(("after", p.shape, p.numpy().copy())),
                                  after=True)
    ((a * 2).sum() + (b * 4).sum()).backward()
    opt.step()
    assert [(k, s) for k, s, _ in seen] == [("before", (3,)), ("after", (3,)), ("before", (2,)),
                                            ("after", (2,))]
    np.testing.assert_array_equal(seen[0][2], np.ones(3))        # before: the old value
    np.testing.assert_array_equal(seen[1][2], np.full(3, 0.0))   # after: 1 - 0.5 * 2
    np.testing.assert_array_equal(seen[3][2], np.full(2, -1.0))  # 1 - 0.5 * 4
    h1.remove()
    h2.remove()
    seen.clear()
    opt.step()
    assert seen == []
    with pytest.raises(TypeError, match="must be callable"):
        opt.register_update_hook(3)


def test_update_hook_after_sees_the_new_array_of_a_parameter_a_graph_holds():
    w = ag.tensor(np.ones(3, np.float32), requires_grad=True)
    opt = optim.SGD([w], lr=1.0)
    arrays = []
    opt.register_update_hook(lambda p: arrays.append(p.data), after=True)
    (w * w).sum().backward(retain_graph=True)
    kept = (w * 3).sum()            # a live graph saved w: the optimizer updates a copy
    opt.step()
    assert arrays[0] is w.data
    np.testing.assert_array_equal(arrays[0], np.full(3, -1.0))
    del kept


# ---------------------------------------------------------------- the monitor's paths agree


def run(model, opt, mon_step, steps: int = 4):
    X, y = batch()
    for s in range(steps):
        opt.zero_grad()
        nn.functional.cross_entropy(model(X[s:s + 8]), y[s:s + 8]).backward()
        opt.step()
        mon_step()


@pytest.mark.parametrize("optimizer", [lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9),
                                       lambda ps: optim.Adam(ps, lr=0.01)])
def test_update_hooks_give_the_numbers_of_the_step_wrapping_path(optimizer):
    """Through the optimizer's update hooks (Monitor(model, opt)) and without the optimizer
    (mon.step() after opt.step()): every number the same."""
    m1, m2 = small_model(), small_model()
    o1, o2 = optimizer(m1.parameters()), optimizer(m2.parameters())
    mon1, mon2 = nn.Monitor(m1, o1), nn.Monitor(m2)
    assert mon1._update_hooks is not None
    run(m1, o1, lambda: None)
    run(m2, o2, mon2.step)
    for params in (False, True):
        keys = nn.monitor.PARAM_KEYS if params else nn.monitor.MODULE_KEYS
        for key in keys:
            s1, s2 = mon1.series(key, params), mon2.series(key, params)
            for name in s1:
                np.testing.assert_allclose(s1[name], s2[name], rtol=1e-6, equal_nan=True,
                                           err_msg=f"{key} of {name}")


def test_an_optimizer_without_update_hooks_is_read_as_its_step_begins():
    class Plain:                    # duck-typed: step() and zero_grad() only
        def __init__(self, params, lr):
            self.params, self.lr = list(params), lr

        def zero_grad(self):
            for p in self.params:
                p.grad = None

        def step(self):
            for p in self.params:
                if p.grad is not None:
                    p.data = p.data - self.lr * p.grad.numpy()

    m1, m2 = small_model(), small_model()
    o1, o2 = Plain(m1.parameters(), 0.1), optim.SGD(m2.parameters(), lr=0.1)
    mon1, mon2 = nn.Monitor(m1, o1), nn.Monitor(m2, o2)
    assert mon1._update_hooks is None and mon2._update_hooks is not None
    run(m1, o1, lambda: None)
    run(m2, o2, lambda: None)
    for key in ("grad_norm", "weight_norm", "update_ratio"):
        s1, s2 = mon1.series(key, params=True), mon2.series(key, params=True)
        for name in s1:
            np.testing.assert_allclose(s1[name], s2[name], rtol=1e-5, equal_nan=True)


def test_a_parameter_the_optimizer_does_not_update():
    model = small_model()
    opt = optim.SGD(model[1:].parameters(), lr=0.1)     # layer 0 is trained by no one
    mon = nn.Monitor(model, opt)
    w0 = model[0].weight.numpy().copy()
    run(model, opt, lambda: None, steps=2)
    ratio = mon.series("update_ratio", params=True)
    assert np.all(ratio["0.weight"] == -math.inf)       # it has a gradient but did not move
    assert np.all(np.isfinite(ratio["1.weight"]))
    norm = mon.series("weight_norm", params=True)["0.weight"]
    np.testing.assert_allclose(norm, np.sqrt((w0.astype(np.float64) ** 2).sum()), rtol=1e-6)


# ---------------------------------------------------------------- output_grads=False


def test_output_grads_false_leaves_out_only_the_output_gradients():
    m1, m2 = small_model(), small_model()
    o1, o2 = optim.SGD(m1.parameters(), lr=0.1), optim.SGD(m2.parameters(), lr=0.1)
    mon1, mon2 = nn.Monitor(m1, o1), nn.Monitor(m2, o2, output_grads=False)
    run(m1, o1, lambda: None)
    run(m2, o2, lambda: None)
    for key in nn.monitor.MODULE_KEYS:
        s1, s2 = mon1.series(key), mon2.series(key)
        for name in s1:
            if key == "out_grad_norm":
                assert np.isfinite(s1[name]).all() and np.isnan(s2[name]).all()
            else:
                np.testing.assert_array_equal(s1[name], s2[name])
    assert mon2.module_health()["0"]["out_grad_norm"] is None
    mon2.plot()                     # no output-gradient histogram to draw: still a figure


def test_gradients_seen_are_let_go_when_the_step_ends():
    model = small_model()
    opt = optim.SGD(model.parameters(), lr=0.1)
    mon = nn.Monitor(model, opt)
    run(model, opt, lambda: None, steps=3)
    assert all(st.held == [] for st in mon._mods)
