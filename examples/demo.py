"""Placeholder main demonstration: a tiny model, its gradient, checked against finite differences."""

import numpy as np

import autograd as ag

x = ag.tensor(np.linspace(-1, 1, 5), dtype=np.float64, requires_grad=True)
loss = (ag.tanh(x) ** 2).sum()
loss.backward()
print("loss", loss.item())
print("dloss/dx", x.grad)
print("gradcheck", ag.gradcheck(lambda t: (ag.tanh(t) ** 2).sum(), (x,)))
