"""Learning-rate schedules: call `scheduler.step()` once per epoch, after the epoch's `opt.step()` calls.

As in PyTorch, a step multiplies each group's current `lr` by a factor: `StepLR` by `gamma` every
`step_size` epochs, `ExponentialLR` by `gamma` every epoch. Since the factor applies to the lr the
group has now, an lr set by hand, restored by `opt.load_state_dict`, or changed by a second
scheduler on the same optimizer carries on from there. Constructing a scheduler never changes
an lr.
"""

from __future__ import annotations

from typing import Any

from .optimizer import Optimizer

__all__ = ["LRScheduler", "StepLR", "ExponentialLR"]


class LRScheduler:
    """Base: each `step()` multiplies every group's `lr` by `self.factor(last_epoch)`.

    `last_epoch=-1` starts a new schedule (recording each group's current `lr` as its
    `initial_lr`, as PyTorch does); another value resumes one, and then every group must have
    `initial_lr` (restored with the optimizer's state_dict). Either way the constructor counts
    one epoch, `last_epoch + 1`, and leaves the lrs as they are.
    """

    _keys: tuple[str, ...] = ("last_epoch", "last_lr")

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__} needs an optim Optimizer, got {type(optimizer).__name__}")
        self.optimizer = optimizer
        for i, g in enumerate(optimizer.param_groups):
            if last_epoch == -1:
                g.setdefault("initial_lr", g["lr"])
            elif "initial_lr" not in g:
                raise KeyError(f"param group {i} has no 'initial_lr', needed to resume a schedule "
                               f"at last_epoch={last_epoch}")
        self.last_epoch = last_epoch + 1
        self.last_lr = [g["lr"] for g in optimizer.param_groups]

    def factor(self, epoch: int) -> float:
        """What the `step()` that reaches `epoch` multiplies the lr by."""
        raise NotImplementedError

    def step(self) -> None:
        """Advance one epoch and update every group's `lr`."""
        self.last_epoch += 1
        f = self.factor(self.last_epoch)
        for g in self.optimizer.param_groups:
            g["lr"] = float(g["lr"] * f)
        self.last_lr = [g["lr"] for g in self.optimizer.param_groups]

    def get_last_lr(self) -> list[float]:
        """Each group's `lr` as set by the last `step()`."""
        return list(self.last_lr)

    def state_dict(self) -> dict[str, Any]:
        """The schedule's position and settings (the optimizer's `lr`s are in its own state_dict)."""
        return {k: (list(v) if isinstance(v, list) else v) for k, v in vars(self).items()
                if k in self._keys}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore what `state_dict` returned; unknown keys are refused."""
        unknown = sorted(set(state_dict) - set(self._keys))
        if unknown:
            raise ValueError(f"unknown keys in {type(self).__name__} state: {unknown}")
        for k, v in state_dict.items():
            setattr(self, k, list(v) if isinstance(v, list) else v)

    def __repr__(self) -> str:
        settings = ", ".join(f"{k}={getattr(self, k)}" for k in self._keys[2:])
        return f"{type(self).__name__}({settings}, last_epoch={self.last_epoch})"


class StepLR(LRScheduler):
    """Multiply the learning rate by `gamma` every `step_size` epochs."""

    _keys = ("last_epoch", "last_lr", "step_size", "gamma")

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1,
                 last_epoch: int = -1) -> None:
        if isinstance(step_size, bool) or not isinstance(step_size, int) or step_size < 1:
            raise ValueError(f"invalid step_size: {step_size!r} (must be a positive int)")
        self.step_size = step_size
        self.gamma = _check_gamma(gamma)
        super().__init__(optimizer, last_epoch)

    def factor(self, epoch: int) -> float:
        return self.gamma if epoch % self.step_size == 0 else 1.0


class ExponentialLR(LRScheduler):
    """Multiply the learning rate by `gamma` every epoch."""

    _keys = ("last_epoch", "last_lr", "gamma")

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        self.gamma = _check_gamma(gamma)
        super().__init__(optimizer, last_epoch)

    def factor(self, epoch: int) -> float:
        return self.gamma


def _check_gamma(gamma: Any) -> float:
    try:
        g = float(gamma)
    except (TypeError, ValueError):
        raise TypeError(f"gamma must be a number, got {gamma!r}") from None
    if not g > 0:
        raise ValueError(f"invalid gamma: {gamma!r} (must be > 0)")
    return g
