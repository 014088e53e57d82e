"""Attacks on nn.Monitor's optimizer wrapping (attack4): two monitors on one optimizer (one
per sub-model, say) closed in either order."""

import math

import numpy as np
import pytest

import autograd as ag
import nn
import optim


def _setup():
    ag.manual_seed(0)
    model = nn.Sequential(nn.Dense(150, 120, "relu"), nn.Dense(120, 10))
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    r = np.random.default_rng(0)
    return model, opt, r.standard_normal((16, 150)), r.integers(0, 10, 16)


def _train(model, opt, X, y, n):
    norms = []
    for _ in range(n):
        opt.zero_grad()
        nn.functional.cross_entropy(model(X), y).backward()
        w = model[0].weight.grad.data
        norms.append(math.sqrt(float((w * w).sum())))
        opt.step()
    return norms


@pytest.mark.parametrize("first_closed", ["earlier", "later"])
def test_two_monitors_on_one_optimizer_closed_in_either_order(first_closed):
    model, opt, X, y = _setup()
    earlier, later = nn.Monitor(model, opt), nn.Monitor(model, opt)
    _train(model, opt, X, y, 2)
    closed, kept = (earlier, later) if first_closed == "earlier" else (later, earlier)
    closed.close()
    norms = _train(model, opt, X, y, 3)
    assert closed.steps == [0, 1]                        # a closed monitor records nothing more
    assert kept.steps == [0, 1, 2, 3, 4]                 # the other one still records
    np.testing.assert_allclose(kept.series("grad_norm", params=True)["0.weight"][2:], norms,
                               rtol=1e-6)      # float32 sums
    kept.close()
    assert "step" not in vars(opt) and "zero_grad" not in vars(opt)
    assert not opt._update_hooks
    before = model[0].weight.data.copy()
    _train(model, opt, X, y, 1)
    assert not np.array_equal(before, model[0].weight.data)
    assert closed.steps == [0, 1] and kept.steps == [0, 1, 2, 3, 4]


def test_a_monitor_closed_under_the_users_own_wrapper_passes_through():
    model, opt, X, y = _setup()
    mon = nn.Monitor(model, opt)
    inner, calls = opt.step, []

    def counted(closure=None):
        calls.append(1)
        return inner(closure)
    opt.step = counted
    _train(model, opt, X, y, 1)
    mon.close()
    _train(model, opt, X, y, 2)
    assert mon.steps == [0] and len(calls) == 3 and opt.step is counted
