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

# ruff: noqa: E402  (the check below runs before this package's modules use autograd)
import importlib.metadata

import autograd as ag

if not hasattr(ag, "Tensor"):       # HIPS autograd ('pip install autograd') replaced chainrule's
    raise ImportError(
        "the `autograd` package found is not chainrule's: HIPS autograd (PyPI project 'autograd') "
        "uses the same package name and was installed over it. Fix: `pip uninstall -y autograd "
        "chainrule`, then reinstall chainrule; to use both, install them in separate virtual "
        "environments.")
try:
    __version__ = importlib.metadata.version("chainrule")
except importlib.metadata.PackageNotFoundError:     # a checkout that is not installed
    __version__ = "0+unknown"

from . import lr_scheduler
from .adam import Adam
from .optimizer import Optimizer, ParamState
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Optimizer", "ParamState", "SGD", "Adam", "RMSprop", "lr_scheduler"]
