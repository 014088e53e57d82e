"""Third adversarial round, hooks that write into their gradient in place (`g.data[...] = 0`,
`np.clip(g.data, -1, 1, out=g.data)`): the array they were handed was also the gradient on its
way to other tensors (an addition hands one gradient to both inputs), so the write silently
changed those other tensors' gradients. PyTorch's contract: a hook must not modify its
argument, it returns a new gradient instead. chainrule now refuses the write (read-only)."""

import numpy as np
import pytest

import autograd as ag
import nn


def zero_in_place(g):
    g.data[...] = 0


def clip_in_place(g):
    np.clip(g.data, -1.0, 1.0, out=g.data)


def scale_in_place(g):
    g.data *= 10


@pytest.mark.parametrize("hook", [zero_in_place, clip_in_place, scale_in_place])
@pytest.mark.parametrize("leaf", [False, True])
@pytest.mark.parametrize("create_graph", [False, True])
def test_a_hook_writing_into_its_gradient_is_refused(hook, leaf, create_graph):
    # it was allowed, and zeroed / clipped w's gradient too: w.grad == [0, 0] instead of [3, 4]
    x = ag.tensor(np.array([1.0, 2.0]), requires_grad=True)
    w = ag.tensor(np.array([5.0, 6.0]), requires_grad=True)
    y = x if leaf else x * 1
    y.register_hook(hook)
    seed = ag.tensor(np.array([3.0, 4.0]))
    with pytest.raises(ValueError, match="read-only"):
        if create_graph:
            ag.grad((y + w) * 1, [x, w], grad_outputs=seed, create_graph=True)
        else:
            (y + w).backward(seed)
    assert np.array_equal(seed.data, [3.0, 4.0]) and seed.data.flags.writeable


@pytest.mark.parametrize("leaf", [False, True])
def test_the_other_branch_keeps_its_gradient_when_the_hook_returns_a_new_one(leaf):
    x = ag.tensor(np.array([1.0, 2.0]), requires_grad=True)
    w = ag.tensor(np.array([5.0, 6.0]), requires_grad=True)
    y = x if leaf else x * 1
    y.register_hook(lambda g: ag.clip(g, -1.0, 1.0))
    (y + w).backward(ag.tensor(np.array([3.0, -4.0])))
    assert np.array_equal(w.grad.data, [3.0, -4.0])
    assert np.array_equal(x.grad.data, [1.0, -1.0])


def test_a_hook_keeping_its_gradient_sees_it_unchanged_after_backward():
    x = ag.tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = x * 1
    kept = []
    y.register_hook(kept.append)
    z = y * 2 + y * 3                   # y's gradient is accumulated from two uses
    z.backward(ag.tensor(np.array([1.0, 1.0])))
    (x * 4).sum().backward()            # x.grad accumulates: the kept array must not move
    assert np.array_equal(kept[0].data, [5.0, 5.0])
    assert np.array_equal(x.grad.data, [9.0, 9.0])


def test_retained_gradient_after_a_hook_is_the_users_to_change():
    x = ag.tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = x * 1
    y.retain_grad()
    y.register_hook(lambda g: g * 2)
    (y * 3).sum().backward(retain_graph=True)
    assert np.array_equal(y.grad.data, [6.0, 6.0])
    y.grad.data[...] = 0                # the retained .grad is writable
    (y * 3).sum().backward()
    assert np.array_equal(y.grad.data, [6.0, 6.0])
    assert np.array_equal(x.grad.data, [12.0, 12.0])


def test_matches_torch_when_the_hook_returns_its_new_gradient():
    torch = pytest.importorskip("torch")
    a, b, seed = np.array([0.5, -2.0, 3.0]), np.array([1.0, 2.0, -1.0]), np.array([1.0, -3.0, 2.0])
    x, w = ag.tensor(a, requires_grad=True), ag.tensor(b, requires_grad=True)
    h = x * 2
    h.register_hook(lambda g: g * 10)
    (ag.sin(h) * w + h + w).backward(ag.tensor(seed))
    xt, wt = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    ht = xt * 2
    ht.register_hook(lambda g: g * 10)
    (torch.sin(ht) * wt + ht + wt).backward(torch.tensor(seed))
    np.testing.assert_allclose(x.grad.data, xt.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(w.grad.data, wt.grad.numpy(), rtol=1e-12)


def test_a_module_output_grad_hook_writing_in_place_is_refused():
    d = nn.Dense(2, 2, rng=0)
    x = ag.tensor(np.ones((1, 2)), requires_grad=True)
    w = ag.tensor(np.ones((1, 2)), requires_grad=True)
    d.register_output_grad_hook(lambda m, g: zero_in_place(g))
    with pytest.raises(ValueError, match="read-only"):
        (d(x) + w).backward(ag.tensor(np.ones((1, 2))))


def test_with_create_graph_a_hook_returning_a_new_gradient_still_works():
    x = ag.tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = x * x
    y.register_hook(lambda g: g * 3)
    (gx,) = ag.grad(y.sum(), x, create_graph=True)
    np.testing.assert_allclose(gx.data, 6 * x.data)
    (gxx,) = ag.grad(gx.sum(), x)
    np.testing.assert_allclose(gxx.data, [6.0, 6.0])
