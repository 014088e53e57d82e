"""The new layers next to PyTorch's (skipped without torch; the closed-form tests stand alone)."""

import numpy as np
import pytest

import autograd as ag
import nn
import nn.functional as F

torch = pytest.importorskip("torch")
RNG = np.random.default_rng(0)


def grads(*tensors):
    return [t.grad.data if isinstance(t, ag.Tensor) else t.grad.numpy() for t in tensors]


@pytest.mark.parametrize("shape", [(8, 3), (4, 3, 5)])
@pytest.mark.parametrize("momentum", [0.1, None])
def test_batchnorm1d_matches_torch_over_steps_train_and_eval(shape, momentum):
    ag.set_default_dtype(np.float64)                   # float64 running statistics, as .double()
    try:
        ours = nn.BatchNorm1d(3, momentum=momentum)
    finally:
        ag.set_default_dtype(np.float32)
    ref = torch.nn.BatchNorm1d(3, momentum=momentum).double()
    ours.weight.data = RNG.standard_normal(3)
    ours.bias.data = RNG.standard_normal(3)
    with torch.no_grad():
        ref.weight.copy_(torch.from_numpy(ours.weight.data))
        ref.bias.copy_(torch.from_numpy(ours.bias.data))
    for step in range(4):
        x = RNG.standard_normal(shape) * (step + 1) + step
        g = RNG.standard_normal(shape)
        xo = ag.tensor(x, requires_grad=True)
        xt = torch.tensor(x, requires_grad=True)
        ours.zero_grad()
        ref.zero_grad()
        (ours(xo) * g).sum().backward()
        (ref(xt) * torch.from_numpy(g)).sum().backward()
        np.testing.assert_allclose(xo.grad.data, xt.grad.numpy(), rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(ours.weight.grad.data, ref.weight.grad.numpy(), rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(ours.bias.grad.data, ref.bias.grad.numpy(), rtol=1e-9, atol=1e-12)
    theirs = {k: v.numpy() for k, v in ref.state_dict().items()}
    mine = ours.state_dict()
    assert list(mine) == list(theirs)
    for k in mine:
        np.testing.assert_allclose(mine[k], theirs[k], rtol=1e-6)
    ours.eval(), ref.eval()
    x = RNG.standard_normal(shape)
    np.testing.assert_allclose(ours(x).data, ref(torch.from_numpy(x)).detach().numpy(), rtol=1e-9)


def test_layer_norm_matches_torch():
    x = RNG.standard_normal((2, 3, 4))
    w, b = RNG.standard_normal((3, 4)), RNG.standard_normal((3, 4))
    g = RNG.standard_normal((2, 3, 4))
    ts = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    os_ = [ag.tensor(a, requires_grad=True) for a in (x, w, b)]
    out_t = torch.nn.functional.layer_norm(ts[0], (3, 4), ts[1], ts[2])
    out_o = F.layer_norm(os_[0], (3, 4), os_[1], os_[2])
    np.testing.assert_allclose(out_o.data, out_t.detach().numpy(), rtol=1e-9, atol=1e-12)
    (out_t * torch.from_numpy(g)).sum().backward()
    (out_o * g).sum().backward()
    for a, t in zip(grads(*os_), grads(*ts)):
        np.testing.assert_allclose(a, t, rtol=1e-9, atol=1e-12)


def test_embedding_with_padding_and_one_hot_match_torch():
    w = RNG.standard_normal((5, 3))
    idx = np.array([[0, 2, 2], [4, 0, 1]])
    g = RNG.standard_normal((2, 3, 3))
    wt, wo = torch.tensor(w, requires_grad=True), ag.tensor(w, requires_grad=True)
    out_t = torch.nn.functional.embedding(torch.from_numpy(idx), wt, padding_idx=2)
    out_o = F.embedding(idx, wo, padding_idx=2)
    np.testing.assert_array_equal(out_o.data, out_t.detach().numpy())
    (out_t * torch.from_numpy(g)).sum().backward()
    (out_o * g).sum().backward()
    np.testing.assert_allclose(wo.grad.data, wt.grad.numpy(), rtol=1e-12)
    np.testing.assert_array_equal(F.one_hot(idx).data,
                                  torch.nn.functional.one_hot(torch.from_numpy(idx)).numpy())


def test_flatten_matches_torch():
    x = RNG.standard_normal((2, 3, 4, 5))
    for start, end in [(1, -1), (0, 2), (-3, -2), (2, 2)]:
        theirs = torch.nn.Flatten(start, end)(torch.from_numpy(x))
        assert nn.Flatten(start, end)(x).shape == tuple(theirs.shape)
