"""The four programs of the porting issue, written as a PyTorch user writes them.

Each program is one function of the library (`lib` is `autograd`, or `torch` when installed,
with `F` its functional module): the same source runs on both. The checks without PyTorch are
closed forms; with PyTorch the two runs must agree.
"""

import numpy as np
import pytest

import autograd as ag
import nn

CHARS = ".abcdefghijklmnopqrstuvwxyz"


def words(n=150, seed=0):
    """Made-up names from syllables (the makemore dataset is not shipped)."""
    rng = np.random.default_rng(seed)
    syllables = ["an", "el", "ma", "ri", "so", "ka", "li", "ne", "jo", "ty", "us", "ve"]
    return ["".join(rng.choice(syllables, rng.integers(1, 4))) for _ in range(n)]


def dataset(block_size=3):
    X, Y = [], []
    for w in words():
        context = [0] * block_size
        for ch in w + ".":
            ix = CHARS.index(ch)
            X.append(context)
            Y.append(ix)
            context = context[1:] + [ix]
    return np.array(X), np.array(Y)


def makemore_init(seed=0, n_embd=10, n_hidden=200, block_size=3, vocab=27):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(np.float32) for s in
            [(vocab, n_embd), (n_embd * block_size, n_hidden), (n_hidden,), (n_hidden, vocab), (vocab,)]]


def makemore(lib, F, arrays, steps=4, batch=32):
    """Karpathy's makemore MLP with a hand-written batch norm, and his diagnostics."""
    X, Y = dataset()
    Xtr, Ytr = lib.tensor(X), lib.tensor(Y)
    c, w1, b1, w2, b2 = arrays
    C = lib.tensor(c)
    W1 = lib.tensor(w1) * (5 / 3) / np.sqrt(30)         # a NumPy scalar: stays float32
    b1 = lib.tensor(b1) * 0.01
    W2 = lib.tensor(w2) * 0.01
    b2 = lib.tensor(b2) * 0
    bngain, bnbias = lib.ones(1, 200), lib.zeros((1, 200))
    bnmean_running, bnstd_running = lib.zeros(1, 200), lib.ones((1, 200))
    parameters = [C, W1, b1, W2, b2, bngain, bnbias]
    for p in parameters:
        p.requires_grad = True
    record = []
    rng = np.random.default_rng(1)
    for _ in range(steps):
        ix = lib.tensor(rng.integers(0, Xtr.shape[0], (batch,)))
        Xb, Yb = Xtr[ix], Ytr[ix]
        emb = C[Xb]
        embcat = emb.view(-1, 30)
        hpreact = embcat @ W1 + b1
        bnmeani = hpreact.mean(0, keepdim=True)
        bnstdi = hpreact.std(0, keepdim=True, correction=1)     # torch's default, said explicitly
        hbn = bngain * (hpreact - bnmeani) / bnstdi + bnbias
        with lib.no_grad():
            bnmean_running = 0.999 * bnmean_running + 0.001 * bnmeani
            bnstd_running = 0.999 * bnstd_running + 0.001 * bnstdi
        h = lib.tanh(hbn)
        logits = h @ W2 + b2
        loss = F.cross_entropy(logits, Yb)
        for t in (hbn, h, logits):
            t.retain_grad()
        for p in parameters:
            p.grad = None
        w2_used = W2.detach().numpy().copy()
        loss.backward()
        lr = 0.1
        for p in parameters:
            p.data += -lr * p.grad
        record.append({
            "loss": loss.item(),
            "saturated": (h.abs() > 0.97).float().mean().item(),
            "h_grad_std": h.grad.std().item(),
            "grad_data": [(p.grad.std() / p.std()).item() for p in parameters if p.ndim == 2],
            "update_data": [((lr * p.grad).std() / p.data.std()).log10().item() for p in parameters],
            "numel": sum(p.nelement() for p in parameters),
            "dtypes": {str(t.dtype) for t in (W1, hbn, h, logits, loss, bnstd_running)},
            "hbn": (hbn.detach().numpy().copy(), logits.grad.numpy().copy(), h.grad.numpy().copy()),
            "W2": w2_used,
            "Yb": Yb.numpy().copy(),
        })
    return record


def test_makemore_runs_in_float32_with_the_closed_forms():
    record = makemore(ag, nn.functional, makemore_init())
    for step in record:
        assert step["dtypes"] == {"float32"}
        assert step["numel"] == 27 * 10 + 30 * 200 + 200 + 200 * 27 + 27 + 400
    first = record[0]
    hbn, dlogits, dh = first["hbn"]
    # batch norm with the initial gain 1 and bias 0: zero mean, unit (unbiased) std per feature
    np.testing.assert_allclose(hbn.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(hbn.std(0, ddof=1), 1, rtol=1e-3)
    logits = np.tanh(hbn.astype(np.float64)) @ first["W2"].astype(np.float64)   # b2 = 0 at step 0
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    p[np.arange(32), first["Yb"]] -= 1
    np.testing.assert_allclose(dlogits, p / 32, atol=1e-6)                      # retained
    np.testing.assert_allclose(dh, dlogits @ first["W2"].T, atol=1e-6)
    assert abs(first["loss"] - np.log(27)) < 0.1         # W2 * 0.01: close to uniform
    assert record[-1]["loss"] < record[0]["loss"]
    assert np.isfinite(first["update_data"]).all()
    assert abs(first["update_data"][4]) < 1e-5     # b2 was 0: its update is all of its data
    assert 0 < first["saturated"] < 0.2


def test_makemore_agrees_with_pytorch():
    torch = pytest.importorskip("torch")
    ours = makemore(ag, nn.functional, makemore_init())
    theirs = makemore(torch, torch.nn.functional, makemore_init())
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a["loss"], b["loss"], rtol=1e-5)
        np.testing.assert_allclose(a["saturated"], b["saturated"], atol=1e-6)
        np.testing.assert_allclose(a["h_grad_std"], b["h_grad_std"], rtol=1e-3)
        np.testing.assert_allclose(a["grad_data"], b["grad_data"], rtol=1e-3)
        # b1's gradient is 0 up to rounding (batch norm removes the bias): its ratio is noise
        np.testing.assert_allclose(np.delete(a["update_data"], 2), np.delete(b["update_data"], 2),
                                   rtol=1e-3, atol=1e-4)
        for x, y in zip(a["hbn"], b["hbn"]):
            np.testing.assert_allclose(x, y, rtol=1e-3, atol=1e-5)


# ---------------------------------------------------------------- micrograd's moons

def moons(n=100, seed=0):
    rng = np.random.default_rng(seed)
    t = rng.uniform(0, np.pi, n)
    upper = rng.random(n) < 0.5
    x = np.where(upper, np.cos(t), 1 - np.cos(t))
    y = np.where(upper, np.sin(t), 0.5 - np.sin(t))
    X = np.stack([x, y], 1) + rng.normal(0, 0.1, (n, 2))
    return X.astype(np.float32), np.where(upper, 1.0, -1.0).astype(np.float32)


def moons_demo(lib, steps=60):
    """micrograd's demo as PyTorch code: a 2-16-16-1 ReLU MLP, max-margin loss, L2, SGD."""
    X, y = moons()
    rng = np.random.default_rng(3)
    shapes = [(2, 16), (16,), (16, 16), (16,), (16, 1), (1,)]
    params = [lib.tensor(rng.uniform(-1, 1, s).astype(np.float32), requires_grad=True) for s in shapes]
    Xb, yb = lib.tensor(X), lib.tensor(y)
    history = []
    for k in range(steps):
        h = Xb
        for i in range(0, 6, 2):
            h = h @ params[i] + params[i + 1]
            if i < 4:
                h = h.relu()
        scores = h.squeeze(1)
        losses = (1 + -yb * scores).relu()
        data_loss = losses.sum() * (1.0 / losses.numel())
        alpha = 1e-4
        reg_loss = alpha * sum((p * p).sum() for p in params)
        total_loss = data_loss + reg_loss
        accuracy = ((yb > 0) == (scores > 0)).float().mean()
        for p in params:
            if p.grad is not None:
                p.grad.zero_()
        total_loss.backward()
        learning_rate = 1.0 - 0.9 * k / 100
        with lib.no_grad():
            for p in params:
                p -= learning_rate * p.grad
        history.append((total_loss.item(), accuracy.item(), str(total_loss.dtype)))
    return history


def test_moons_trains():
    history = moons_demo(ag)
    assert {h[2] for h in history} == {"float32"}
    assert history[-1][0] < 0.5 * history[0][0]
    assert history[-1][1] >= 0.9


def test_moons_agrees_with_pytorch():
    torch = pytest.importorskip("torch")
    ours, theirs = moons_demo(ag, 10), moons_demo(torch, 10)
    np.testing.assert_allclose([h[0] for h in ours], [h[0] for h in theirs], rtol=1e-4)
    np.testing.assert_allclose([h[1] for h in ours], [h[1] for h in theirs])


# ---------------------------------------------------------------- a custom op

def make_relu(Function):
    class MyReLU(Function):
        @staticmethod
        def forward(ctx, input):
            ctx.save_for_backward(input)
            return input.clip(min=0)

        @staticmethod
        def backward(ctx, grad_output):
            (input,) = ctx.saved_tensors
            return grad_output * (input > 0)
    return MyReLU


def test_custom_function_in_the_pytorch_style():
    MyReLU = make_relu(ag.Function)
    x = ag.tensor(np.array([-1.5, -0.2, 0.3, 2.0]), requires_grad=True)
    y = MyReLU.apply(x)
    np.testing.assert_array_equal(y.data, np.maximum(x.data, 0))
    (y * ag.tensor([1.0, 2.0, 3.0, 4.0], dtype=np.float64)).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0, 0, 3, 4])
    assert ag.gradcheck(MyReLU.apply, (x,))


def test_custom_function_agrees_with_pytorch():
    torch = pytest.importorskip("torch")
    values = np.array([-1.5, -0.2, 0.3, 2.0])
    grads = []
    for lib in (ag, torch):
        MyReLU = make_relu(lib.autograd.Function if lib is torch else lib.Function)
        x = lib.tensor(values, requires_grad=True)
        y = MyReLU.apply(x)
        (y * y).sum().backward()
        grads.append(x.grad.detach().numpy())
    np.testing.assert_array_equal(grads[0], grads[1])


# ---------------------------------------------------------------- a Hessian-vector product

def rosenbrock(x):
    return (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum()


def rosenbrock_hessian(x):
    n = len(x)
    H = np.zeros((n, n))
    for i in range(n - 1):
        H[i, i] += 1200 * x[i] ** 2 - 400 * x[i + 1] + 2
        H[i + 1, i + 1] += 200
        H[i, i + 1] = H[i + 1, i] = -400 * x[i]
    return H


def test_hvp_of_rosenbrock():
    x0, v0 = np.array([0.5, -1.2, 0.8, 1.5]), np.array([1.0, -2.0, 0.5, 3.0])
    x, v = ag.tensor(x0, requires_grad=True), ag.tensor(v0)
    value, hv = ag.functional.hvp(rosenbrock, x, v)
    np.testing.assert_allclose(value.item(), rosenbrock(ag.tensor(x0)).item())
    np.testing.assert_allclose(hv.data, rosenbrock_hessian(x0) @ v0, rtol=1e-12)
    _, vh = ag.functional.vhp(rosenbrock, x, v)
    np.testing.assert_allclose(vh.data, v0 @ rosenbrock_hessian(x0), rtol=1e-12)


def test_hvp_agrees_with_pytorch():
    torch = pytest.importorskip("torch")
    x0, v0 = np.array([0.5, -1.2, 0.8, 1.5]), np.array([1.0, -2.0, 0.5, 3.0])
    _, ours = ag.functional.hvp(rosenbrock, ag.tensor(x0), ag.tensor(v0))
    _, theirs = torch.autograd.functional.hvp(rosenbrock, torch.tensor(x0), torch.tensor(v0))
    np.testing.assert_allclose(ours.data, theirs.numpy(), rtol=1e-12)
