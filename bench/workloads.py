"""W5 (makemore MLP step) and W6 (Hessian-vector product) for bench/run.py: each as a hand-written
NumPy step, a chainrule step and a PyTorch step (when torch is passed in).

The hand-written functions are also the references tests/test_bench_references.py checks chainrule
against: `makemore_grads` (W5's gradients) and `rop_hvp` (W6's product, Pearlmutter's R-operator:
the forward and backward passes differentiated along the direction v).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

import autograd as ag
import nn
import optim

LR = 0.1
VOCAB, BLOCK, EMBED, HIDDEN = 27, 3, 10, 200        # makemore's MLP (Bengio et al. 2003)
W6_SIZES = [784, 256, 256, 10]


# ---------------------------------------------------------------- W5: the makemore MLP step

def makemore_data(batch: int, dtype: Any = np.float32, seed: int = 0) -> tuple:
    """(X, Y, [C, W1, b1, W2, b2]): character contexts, next characters and the parameters."""
    rng = np.random.default_rng(seed)
    X = rng.integers(0, VOCAB, (batch, BLOCK))
    Y = rng.integers(0, VOCAB, batch)
    params = [rng.standard_normal((VOCAB, EMBED)),
              rng.standard_normal((BLOCK * EMBED, HIDDEN)) * (5 / 3) / np.sqrt(BLOCK * EMBED),
              rng.standard_normal(HIDDEN) * 0.01,
              rng.standard_normal((HIDDEN, VOCAB)) * 0.01,
              np.zeros(VOCAB)]
    return X, Y, [p.astype(dtype) for p in params]


def makemore_grads(X: np.ndarray, Y: np.ndarray, params: list) -> tuple[float, list]:
    """The loss and the gradients of [C, W1, b1, W2, b2], by hand."""
    C, W1, b1, W2, b2 = params
    n = len(Y)
    emb = C[X].reshape(n, -1)
    h = np.tanh(emb @ W1 + b1)
    logits = h @ W2 + b2
    m = logits.max(axis=1, keepdims=True)
    e = np.exp(logits - m)
    s = e.sum(axis=1, keepdims=True)
    rows = np.arange(n)
    loss = float(np.mean(np.log(s[:, 0]) + m[:, 0] - logits[rows, Y]))
    d = e / s
    d[rows, Y] -= 1
    d /= n
    dW2, db2 = h.T @ d, d.sum(axis=0)
    dz = (d @ W2.T) * (1 - h * h)
    dW1, db1 = emb.T @ dz, dz.sum(axis=0)
    dC = np.zeros_like(C)
    np.add.at(dC, X.reshape(-1), (dz @ W1.T).reshape(-1, C.shape[1]))
    return loss, [dC, dW1, db1, dW2, db2]


def numpy_makemore(batch: int) -> Callable[[], float]:
    """Hand-written W5 step: forward, backward, SGD on the five arrays in place."""
    X, Y, params = makemore_data(batch)
    C, W1, b1, W2, b2 = params
    rows, flat = np.arange(batch), X.reshape(-1)

    def step() -> float:
        emb = C[X].reshape(batch, -1)
        h = emb @ W1
        h += b1
        np.tanh(h, out=h)
        logits = h @ W2
        logits += b2
        m = logits.max(axis=1, keepdims=True)
        e = np.exp(logits - m)
        s = e.sum(axis=1, keepdims=True)
        loss = float(np.mean(np.log(s[:, 0]) + m[:, 0] - logits[rows, Y]))
        e /= s
        e[rows, Y] -= 1
        e /= batch
        dz = e @ W2.T
        dz *= 1 - h * h
        demb = dz @ W1.T
        np.subtract(W2, LR * (h.T @ e), out=W2)
        np.subtract(b2, LR * e.sum(axis=0), out=b2)
        np.subtract(W1, LR * (emb.T @ dz), out=W1)
        np.subtract(b1, LR * dz.sum(axis=0), out=b1)
        np.add.at(C, flat, (-LR) * demb.reshape(-1, EMBED))
        return loss
    return step


def chainrule_makemore(batch: int) -> Callable[[], float]:
    """W5 in chainrule: C[X] (the embedding as indexing), two Dense layers, cross-entropy, SGD."""
    X, Y, params = makemore_data(batch)
    C = ag.tensor(params[0], requires_grad=True)
    hidden = nn.Dense(BLOCK * EMBED, HIDDEN, activation="tanh")
    out = nn.Dense(HIDDEN, VOCAB)
    hidden.weight.data, hidden.bias.data = params[1].copy(), params[2].copy()
    out.weight.data, out.bias.data = params[3].copy(), params[4].copy()
    opt = optim.SGD([C, hidden.weight, hidden.bias, out.weight, out.bias], lr=LR)

    def step() -> float:
        opt.zero_grad()
        logits = out(hidden(C[X].reshape(batch, -1)))
        loss = nn.functional.cross_entropy(logits, Y)
        loss.backward()
        opt.step()
        return loss.item()
    return step


def torch_makemore(torch: Any, batch: int) -> Callable[[], float]:
    X, Y, params = makemore_data(batch)
    Xt, Yt = torch.from_numpy(X), torch.from_numpy(Y)
    C, W1, b1, W2, b2 = [torch.from_numpy(p.copy()).requires_grad_(True) for p in params]
    opt = torch.optim.SGD([C, W1, b1, W2, b2], lr=LR)

    def step() -> float:
        opt.zero_grad()
        h = torch.tanh(C[Xt].view(batch, -1) @ W1 + b1)
        loss = torch.nn.functional.cross_entropy(h @ W2 + b2, Yt)
        loss.backward()
        opt.step()
        return loss.item()
    return step


# ---------------------------------------------------------------- W6: Hessian-vector product

def hvp_data(batch: int, dtype: Any = np.float32, seed: int = 0, sizes: list | None = None) -> tuple:
    """(x, y, params, v): W1's tanh MLP with its parameters [W1, b1, W2, b2, W3, b3] and a
    direction v shaped like them."""
    sizes = sizes or W6_SIZES
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, sizes[0]))
    y = rng.integers(0, sizes[-1], batch)
    params, v = [], []
    for i, o in zip(sizes[:-1], sizes[1:]):
        params += [rng.standard_normal((i, o)) / np.sqrt(i), rng.standard_normal(o) * 0.1]
        v += [rng.standard_normal((i, o)), rng.standard_normal(o)]
    return x.astype(dtype), y, [p.astype(dtype) for p in params], [u.astype(dtype) for u in v]


def mlp_loss_grad(x: np.ndarray, y: np.ndarray, params: list) -> tuple[float, list]:
    """The tanh MLP's mean cross-entropy and its gradient, by hand (for finite differences)."""
    acts = [x]
    for i in range(0, len(params), 2):
        z = acts[-1] @ params[i] + params[i + 1]
        acts.append(np.tanh(z) if i + 2 < len(params) else z)
    z, n, rows = acts.pop(), len(y), np.arange(len(y))
    m = z.max(axis=1, keepdims=True)
    e = np.exp(z - m)
    s = e.sum(axis=1, keepdims=True)
    loss = float(np.mean(np.log(s[:, 0]) + m[:, 0] - z[rows, y]))
    d = e / s
    d[rows, y] -= 1
    d /= n
    grads: list = [None] * len(params)
    for i in range(len(params) - 2, -1, -2):
        a = acts[i // 2]
        grads[i], grads[i + 1] = a.T @ d, d.sum(axis=0)
        if i:
            d = (d @ params[i].T) * (1 - a * a)
    return loss, grads


def rop_hvp(x: np.ndarray, y: np.ndarray, params: list, v: list) -> list:
    """H v by Pearlmutter's R-operator: R{.} is the derivative along v of each quantity of the
    forward and backward passes, so R{gradient} = H v. One forward, one backward, each with
    its R-pass alongside. The data x does not move along v (R{x} = 0): the products with it
    are left out, as a hand-writer would."""
    n, rows, L = len(y), np.arange(len(y)), len(params) // 2
    acts, racts = [x], [None]
    for k in range(L):
        W, b, V, vb = params[2 * k], params[2 * k + 1], v[2 * k], v[2 * k + 1]
        z = acts[-1] @ W + b
        rz = acts[-1] @ V + vb if k == 0 else racts[-1] @ W + acts[-1] @ V + vb
        if k < L - 1:
            a = np.tanh(z)
            acts.append(a)
            racts.append((1 - a * a) * rz)
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    d = p.copy()
    d[rows, y] -= 1
    d /= n
    rd = p * (rz - (p * rz).sum(axis=1, keepdims=True)) / n      # R{softmax}/n
    out: list = [None] * len(params)
    for k in range(L - 1, -1, -1):
        a, ra = acts[k], racts[k]
        out[2 * k] = a.T @ rd if k == 0 else ra.T @ d + a.T @ rd
        out[2 * k + 1] = rd.sum(axis=0)
        if k:
            W, V = params[2 * k], v[2 * k]
            da = d @ W.T
            rda = rd @ W.T + d @ V.T
            d, rd = da * (1 - a * a), rda * (1 - a * a) - 2 * da * a * ra
    return out


def numpy_hvp(batch: int) -> Callable[[], list]:
    x, y, params, v = hvp_data(batch)
    return lambda: rop_hvp(x, y, params, v)


def chainrule_loss(x: np.ndarray, y: np.ndarray) -> Callable:
    """The W6 loss as a function of the six parameter tensors, written with the library's API."""
    def loss(*params: ag.Tensor) -> ag.Tensor:
        h = x
        for i in range(0, len(params), 2):
            last = i + 2 == len(params)
            h = ag.affine(h, params[i], params[i + 1], activation=None if last else "tanh")
        return nn.functional.cross_entropy(h, y)
    return loss


def chainrule_hvp(batch: int) -> Callable[[], Any]:
    x, y, params, v = hvp_data(batch)
    ps, vs = tuple(ag.tensor(p) for p in params), tuple(ag.tensor(u) for u in v)
    f = chainrule_loss(x, y)
    return lambda: ag.functional.hvp(f, ps, vs)[1]


def torch_hvp(torch: Any, batch: int) -> Callable[[], Any]:
    x, y, params, v = hvp_data(batch)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    ps = tuple(torch.from_numpy(p) for p in params)
    vs = tuple(torch.from_numpy(u) for u in v)

    def f(*p: Any) -> Any:
        h = xt
        for i in range(0, len(p), 2):
            h = torch.addmm(p[i + 1], h, p[i])
            if i + 2 < len(p):
                h = torch.tanh(h)
        return torch.nn.functional.cross_entropy(h, yt)
    return lambda: torch.autograd.functional.hvp(f, ps, vs)[1]
