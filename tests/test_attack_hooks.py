"""Output-grad hooks of modules that return a tensor they did not make (an input passed through,
a leaf): the hook belongs to the call, not to the tensor."""

import numpy as np
import pytest

import autograd as ag
import nn


class ReturnsWeight(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(np.arange(3.0))

    def forward(self, x):
        return self.w


@pytest.mark.parametrize("make", [lambda: nn.Dropout(0.5).eval(), lambda: nn.Dropout(0.0),
                                  lambda: nn.Sequential(), lambda: nn.Flatten(0)])
def test_a_pass_through_module_calls_its_hook_once_per_call_and_only_through_it(make):
    module = make()
    calls = []
    module.register_output_grad_hook(lambda m, g: calls.append(g.numpy().copy()))
    x = ag.tensor(np.arange(3.0), requires_grad=True)
    for _ in range(3):                  # calls whose outputs are dropped
        module(x)
    (x * 2).sum().backward()            # a backward that does not go through the module
    assert calls == []
    y = module(x)
    (y * 3).sum().backward()
    assert len(calls) == 1 and calls[0].tolist() == [3.0, 3.0, 3.0]


def test_a_replaced_gradient_replaces_only_the_module_path():
    # x feeds the loss directly and through Dropout in eval; the hook zeroes the module's path
    drop = nn.Dropout(0.5).eval()
    drop.register_output_grad_hook(lambda m, g: ag.zeros_like(g))
    x = ag.tensor(np.arange(3.0), dtype=np.float64, requires_grad=True)
    loss = (x * 2.0).sum() + (drop(x) * 5.0).sum()
    loss.backward()
    assert x.grad.numpy().tolist() == [2.0, 2.0, 2.0]      # was [0, 0, 0]: the whole gradient


def test_a_module_returning_its_parameter():
    m = ReturnsWeight()
    calls = []
    m.register_output_grad_hook(lambda mod, g: calls.append(1))
    for _ in range(4):
        m(None)
    (m.w * 1.0).sum().backward()
    assert calls == []
    m(None).sum().backward()
    assert calls == [1] and m.w.grad.numpy().tolist() == [2.0, 2.0, 2.0]   # two backward passes


def test_outputs_without_output_grad_hooks_stay_the_input_itself():
    drop = nn.Dropout(0.5).eval()
    x = ag.tensor(np.arange(3.0), requires_grad=True)
    assert drop(x) is x
    drop.register_forward_hook(lambda m, a, o: None)
    assert drop(x) is x
    with drop.register_output_grad_hook(lambda m, g: None):
        y = drop(x)
        assert y is not x and np.array_equal(y.numpy(), x.numpy())
        with ag.no_grad():
            assert drop(x) is x


def test_the_monitor_leaves_no_hook_on_a_tensor_a_layer_passes_through():
    import optim
    from autograd import engine

    model = nn.Sequential(nn.Dropout(0.0), nn.Dense(3, 2, rng=0))
    opt = optim.SGD(model.parameters(), lr=0.1)
    x = ag.tensor(np.ones((4, 3)), requires_grad=True)
    with nn.Monitor(model, opt) as mon:
        for _ in range(5):
            opt.zero_grad()
            model(x).sum().backward()
            opt.step()
    node = x._node or engine.leaf_node(x)
    assert (node.meta or {}).get("hooks", []) == []        # was one more hook per step, forever
    assert mon.steps == [0, 1, 2, 3, 4]
    assert np.isfinite(mon.series("grad_norm")["1"]).all()
