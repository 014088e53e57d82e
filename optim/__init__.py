"""Optimizers built on the public autograd API.

    import optim
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = optim.lr_scheduler.StepLR(opt, step_size=10, gamma=0.5)
    for epoch in range(epochs):
        for x, y in batches:
            opt.zero_grad()
            loss_fn(model(x), y).backward()
            opt.step()
        sched.step()
"""

from autograd._dist import __version__  # noqa: F401  (refuses a mix with HIPS autograd)

from . import lr_scheduler
from .adam import Adam
from .optimizer import Optimizer, ParamState
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Optimizer", "ParamState", "SGD", "Adam", "RMSprop", "lr_scheduler"]
