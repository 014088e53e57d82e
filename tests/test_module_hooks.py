"""Module hooks: forward pre-hooks, forward hooks and output-gradient hooks, and their handles."""

from __future__ import annotations

import copy

import numpy as np
import pytest

import autograd as ag
import nn


def net() -> nn.Sequential:
    ag.manual_seed(0)
    return nn.Sequential(nn.Dense(3, 4, activation="relu"), nn.Dense(4, 2))


X = np.arange(15, dtype=np.float32).reshape(5, 3) / 10


def test_order_and_arguments_of_one_call():
    model = net()
    log = []
    for name, m in model.named_modules():
        m.register_forward_pre_hook(lambda mod, args, n=name: log.append(("pre", n, args[0].shape)))
        m.register_forward_hook(lambda mod, args, out, n=name: log.append(("fwd", n, out.shape)))
        m.register_output_grad_hook(lambda mod, g, n=name: log.append(("grad", n, g.shape)))
    y = model(X)
    y.sum().backward()
    assert log == [
        ("pre", "", (5, 3)), ("pre", "0", (5, 3)), ("fwd", "0", (5, 4)),
        ("pre", "1", (5, 4)), ("fwd", "1", (5, 2)), ("fwd", "", (5, 2)),
        # Sequential's output is its last layer's output: one tensor, the inner module's hook first
        ("grad", "1", (5, 2)), ("grad", "", (5, 2)), ("grad", "0", (5, 4)),
    ]


def test_hooks_receive_module_inputs_outputs_and_gradients():
    model = net()
    seen = {}

    def fwd(mod, args, out):
        seen["module"], seen["args"], seen["out"] = mod, args, out.numpy().copy()

    def grad(mod, g):
        seen["grad"] = g.numpy().copy()
    model[0].register_forward_hook(fwd)
    model[0].register_output_grad_hook(grad)
    y = model(X)
    (y * y).sum().backward()
    layer0 = model[0]
    assert seen["module"] is layer0
    assert len(seen["args"]) == 1 and np.array_equal(np.asarray(seen["args"][0]), X)
    h = np.maximum(X @ layer0.weight.numpy() + layer0.bias.numpy(), 0)
    np.testing.assert_allclose(seen["out"], h, rtol=1e-6)
    # dL/dh for L = sum((h W1 + b1)^2): 2 y W1^T
    W1 = model[1].weight.numpy()
    expected = 2 * (h @ W1 + model[1].bias.numpy()) @ W1.T
    np.testing.assert_allclose(seen["grad"], expected, rtol=1e-5, atol=1e-6)
    # and by the chain rule the weight gradient is X^T (dL/dh * relu'(z))
    np.testing.assert_allclose(layer0.weight.grad.numpy(), X.T @ (expected * (h > 0)), rtol=1e-5,
                               atol=1e-6)


def test_pre_hook_replaces_arguments_and_forward_hook_replaces_output():
    layer = nn.Dense(3, 2)
    layer.register_forward_pre_hook(lambda m, args: args[0] * 0)            # a non-tuple is wrapped
    assert np.array_equal(layer(X).numpy(), np.broadcast_to(layer.bias.numpy(), (5, 2)))
    layer2 = nn.Dense(3, 2)
    layer2.register_forward_hook(lambda m, args, out: out * 2)
    with ag.no_grad():
        np.testing.assert_allclose(layer2(X).numpy(), 2 * (X @ layer2.weight.numpy()), rtol=1e-6)


def test_with_kwargs_and_prepend():
    class Scale(nn.Module):
        def forward(self, x, factor=1.0):
            return x * factor

    m = Scale()
    order = []
    m.register_forward_pre_hook(lambda mod, args, kw: (args, {"factor": 3.0}), with_kwargs=True)
    m.register_forward_hook(lambda mod, args, kw, out: order.append(("b", kw)), with_kwargs=True)
    m.register_forward_hook(lambda mod, args, out: order.append(("a",)), prepend=True)
    out = m(ag.tensor([1.0, 2.0]))
    assert out.numpy().tolist() == [3.0, 6.0]
    assert order == [("a",), ("b", {"factor": 3.0})]
    m2 = Scale()
    m2.register_forward_pre_hook(lambda mod, args, kw: "bad", with_kwargs=True)
    with pytest.raises(RuntimeError, match=r"\(args, kwargs\)"):
        m2(ag.tensor([1.0]))


def test_output_grad_hook_can_replace_the_gradient():
    layer = nn.Dense(3, 2)
    layer.register_output_grad_hook(lambda m, g: g * 0)
    layer(X).sum().backward()
    assert np.count_nonzero(layer.weight.grad.numpy()) == 0 and np.count_nonzero(layer.bias.grad.numpy()) == 0


def test_remove_and_context_manager():
    layer = nn.Dense(3, 2)
    calls = []
    h = layer.register_forward_hook(lambda m, a, o: calls.append(1))
    layer(X)
    h.remove()
    h.remove()                                   # twice is fine
    layer(X)
    assert calls == [1]
    with layer.register_forward_pre_hook(lambda m, a: calls.append(2)) as h2:
        layer(X)
    layer(X)
    assert calls == [1, 2] and "removed" in repr(h2)
    # an output-grad hook removed between forward and backward does not run
    g = layer.register_output_grad_hook(lambda m, grad: calls.append(3))
    y = layer(X)
    g.remove()
    y.sum().backward()
    assert calls == [1, 2]
    assert not layer.__dict__["_hooks"]          # empty again: __call__ takes the plain path


def test_no_grad_outputs_are_not_watched_and_bad_hooks_are_refused():
    layer = nn.Dense(3, 2)
    calls = []
    layer.register_output_grad_hook(lambda m, g: calls.append(1))
    with ag.no_grad():
        y = layer(X)
    assert not y.requires_grad and calls == []
    with pytest.raises(TypeError, match="callable"):
        layer.register_forward_hook(42)


def test_hooked_module_gives_identical_results_and_deepcopies():
    a, b = net(), net()
    for m in b.modules():
        m.register_forward_hook(lambda mod, args, out: None)
        m.register_output_grad_hook(lambda mod, g: None)
    ya, yb = a(X), b(X)
    ya.sum().backward()
    yb.sum().backward()
    assert np.array_equal(ya.numpy(), yb.numpy())
    for (na, pa), (_, pb) in zip(a.named_parameters(), b.named_parameters()):
        assert np.array_equal(pa.grad.numpy(), pb.grad.numpy()), na
    c = copy.deepcopy(b)
    assert np.array_equal(c(X).numpy(), yb.numpy())
    assert len(c[0].__dict__["_hooks"]) == 2


def test_a_module_without_hooks_stays_on_the_plain_path():
    layer = nn.Dense(3, 2)
    assert "_hooks" not in layer.__dict__
    layer(X)
    assert "_hooks" not in layer.__dict__
