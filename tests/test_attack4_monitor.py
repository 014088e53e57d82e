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


class _Flat(nn.Module):
    """Uses its parameters flattened: their .data may take any shape of the same size."""

    def __init__(self):
        super().__init__()
        r = np.random.default_rng(0)
        self.big = nn.Parameter(r.standard_normal((200, 100)))      # sampled (large)
        self.small = nn.Parameter(r.standard_normal((4, 5)))        # used whole

    def forward(self, x):
        return (self.big.reshape(-1)[:50] * x).sum() + (self.small.reshape(-1) ** 2).sum()


@pytest.mark.parametrize("name", ["big", "small"])
def test_a_parameter_reshaped_within_the_step_reports_its_norms_of_this_step(name):
    model = _Flat()
    opt = optim.SGD(model.parameters(), lr=0.1)
    mon = nn.Monitor(model, opt)
    x = ag.tensor(np.ones(50))
    p = getattr(model, name)
    expected = []
    for step in range(4):
        def closure(step=step):
            opt.zero_grad()
            loss = model(x)
            loss.backward()
            if step == 2:                   # a new shape, after the step began
                p.data = p.data.reshape(p.data.shape[::-1]).copy()
                p.grad = ag.tensor(p.grad.data.reshape(p.data.shape))
            expected.append((float(np.linalg.norm(p.grad.data)), float(np.linalg.norm(p.data))))
            return loss
        opt.step(closure)
        if step == 2:       # the weight norm of a reshaped parameter: as the step ends
            expected[-1] = (expected[-1][0], float(np.linalg.norm(p.data)))
    np.testing.assert_allclose(mon.series("grad_norm", params=True)[name], [e[0] for e in expected],
                               rtol=1e-12)
    np.testing.assert_allclose(mon.series("weight_norm", params=True)[name],
                               [e[1] for e in expected], rtol=1e-12)
    assert np.isnan(mon.series("update_ratio", params=True)[name][2])
