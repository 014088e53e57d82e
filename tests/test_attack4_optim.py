"""Attacks on Optimizer.register_update_hook (attack4): what a hook does to the parameter it is
given (a new gradient, a new value) is what the update then uses."""

import numpy as np
import pytest

import autograd as ag
import optim


def _param(opt_cls, **kw):
    p = ag.tensor(np.array([1.0, 2.0]), requires_grad=True)
    return p, opt_cls([p], **kw)


@pytest.mark.parametrize("opt_cls, kw", [(optim.SGD, {"lr": 1.0}), (optim.Adam, {"lr": 0.1}),
                                         (optim.RMSprop, {"lr": 0.1})])
def test_a_gradient_replaced_by_the_hook_is_the_one_applied(opt_cls, kw):
    p, opt = _param(opt_cls, **kw)
    q, ref = _param(opt_cls, **kw)
    p.grad = ag.tensor(np.array([10.0, -10.0]))
    q.grad = ag.tensor(np.array([0.5, 0.25]))
    opt.register_update_hook(lambda t: setattr(t, "grad", ag.tensor(np.array([0.5, 0.25]))))
    opt.step()
    ref.step()
    np.testing.assert_allclose(p.data, q.data, rtol=1e-12)


def test_a_value_replaced_by_the_hook_is_the_one_updated():
    p, opt = _param(optim.SGD, lr=1.0)
    p.grad = ag.tensor(np.array([1.0, 1.0]))
    opt.register_update_hook(lambda t: setattr(t, "data", np.clip(t.data, 0.0, 1.5)))
    opt.step()
    np.testing.assert_allclose(p.data, [0.0, 0.5])       # clipped to [1, 1.5], then updated


def test_a_gradient_the_hook_removes_leaves_the_parameter_alone():
    p, opt = _param(optim.SGD, lr=1.0, momentum=0.9)
    p.grad = ag.tensor(np.array([1.0, 1.0]))
    opt.register_update_hook(lambda t: setattr(t, "grad", None))
    opt.step()
    np.testing.assert_array_equal(p.data, [1.0, 2.0])
    assert len(opt.state) == 0
