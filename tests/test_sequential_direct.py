"""Sequential runs a child without hooks as `Module.__call__` would (its scope, then its
forward) and any other child through its own `__call__`: hooks, overridden calls, the graph's
module clusters and the gradients are the same."""

import numpy as np

import autograd as ag
import nn


def _model():
    rng = np.random.default_rng(0)
    return nn.Sequential(nn.Dense(3, 4, activation="tanh", rng=rng), nn.ReLU(),
                         nn.Dense(4, 2, rng=rng))


def test_children_are_scoped_as_by_their_own_call():
    model = _model()
    x = ag.tensor(np.random.default_rng(1).standard_normal((5, 3)))
    out = model(x)
    scopes = []
    node = out.grad_fn
    while node is not None and node.arity:
        scopes.append(node.scope)
        node = node.p0
    assert scopes == [(model, model[2]), (model, model[1]), (model, model[0])]


def test_forward_hooks_and_an_overridden_call_still_run():
    model = _model()
    calls = []
    model[0].register_forward_hook(lambda m, args, out: calls.append("hook0") or out * 2.0)

    class Logged(nn.ReLU):
        def __call__(self, x):
            calls.append("logged")
            return super().__call__(x)

    model = nn.Sequential(model[0], Logged(), model[2])
    xv = np.random.default_rng(2).standard_normal((5, 3))
    out = model(ag.tensor(xv))
    assert calls == ["hook0", "logged"]
    w0, b0 = model[0].weight.numpy(), model[0].bias.numpy()
    w2, b2 = model[2].weight.numpy(), model[2].bias.numpy()
    want = np.maximum(2 * np.tanh(xv @ w0 + b0), 0) @ w2 + b2
    np.testing.assert_allclose(out.numpy(), want, rtol=1e-5)


def test_gradients_match_the_layers_called_one_by_one():
    model = _model()
    xv = np.random.default_rng(3).standard_normal((5, 3)).astype(np.float32)
    model(ag.tensor(xv)).sum().backward()
    via_seq = [p.grad.numpy().copy() for p in model.parameters()]
    model.zero_grad()
    h = ag.tensor(xv)
    for layer in model:
        h = layer(h)
    h.sum().backward()
    for a, p in zip(via_seq, model.parameters()):
        np.testing.assert_array_equal(a, p.grad.numpy())
