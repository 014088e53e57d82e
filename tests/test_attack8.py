"""Attacks from outside the repository (attack8): nn, checkpoints, optim, data, hooks."""

import copy
import pickle

import numpy as np
import pytest

import nn
import optim


def _train(model, opt, x, steps=2):
    for _ in range(steps):
        opt.zero_grad()
        (model(x) ** 2).sum().backward()
        opt.step()


@pytest.mark.parametrize("duplicate", [copy.deepcopy, lambda obj: pickle.loads(pickle.dumps(obj))])
@pytest.mark.parametrize("make", [lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9),
                                  lambda ps: optim.Adam(ps, lr=0.1),
                                  lambda ps: optim.RMSprop(ps, lr=0.1, momentum=0.5)])
def test_a_copied_optimizer_keeps_its_buffers_for_the_copied_parameters(duplicate, make):
    # copy.deepcopy((model, opt)) gave the copy new parameters, but its state stayed keyed by
    # the old ones' ids: every buffer (momentum, Adam's averages) silently restarted from zero
    x = np.linspace(-1, 1, 12).reshape(4, 3)
    model = nn.Dense(3, 2, rng=0)
    opt = make(model.parameters())
    _train(model, opt, x)
    model2, opt2 = duplicate((model, opt))
    p2 = opt2.param_groups[0]["params"][0]
    assert p2 is model2.weight
    assert opt2.state.get(p2), "the copy lost the parameter's buffers"
    _train(model, opt, x, steps=3)
    _train(model2, opt2, x, steps=3)
    np.testing.assert_array_equal(model2.weight.data, model.weight.data)
    np.testing.assert_array_equal(model2.bias.data, model.bias.data)
