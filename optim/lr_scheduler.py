"""Learning-rate schedules: call `scheduler.step()` once per epoch, after the epoch's `opt.step()` calls.

As in PyTorch, a step multiplies each group's current `lr` by a factor: `StepLR` by `gamma` every
`step_size` epochs, `ExponentialLR` by `gamma` every epoch. Since the factor applies to the lr the
group has now, an lr set by hand, restored by `opt.load_state_dict`, or changed by a second
scheduler on the same optimizer carries on from there.

Construction, as PyTorch's (2.x) schedulers: `last_epoch=-1` (the default) records each group's
`lr` as `initial_lr` and leaves the lrs. `last_epoch=k >= 0` resumes a schedule: every group must
already have `initial_lr` (restored by `opt.load_state_dict`; otherwise a KeyError), and the
constructor steps into epoch k + 1 with the chainable rule: `StepLR` multiplies the current lrs
by `gamma` when k + 1 is a multiple of `step_size`; `ExponentialLR` leaves them.
"""

from __future__ import annotations

from typing import Any

from nn import _validate

from .optimizer import Optimizer

__all__ = ["LRScheduler", "StepLR", "ExponentialLR"]


class LRScheduler:
    """Base: each `step()` multiplies every group's `lr` by `self.factor(last_epoch)`.

    `last_epoch=-1` starts a new schedule (recording each group's current `lr` as its
    `initial_lr`, as PyTorch does); another value resumes one, and then every group must have
    `initial_lr` (restored with the optimizer's state_dict). Either way the constructor counts
    one epoch, `last_epoch + 1`, and multiplies the lrs by `initial_factor(last_epoch + 1)`.
    """

    _keys: tuple[str, ...] = ("last_epoch", "last_lr")

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        name = type(self).__name__
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{name} needs an optim Optimizer, got {type(optimizer).__name__}")
        last_epoch = _validate.integer(name, "last_epoch", last_epoch, minimum=-1)
        self.optimizer = optimizer
        for i, g in enumerate(optimizer.param_groups):
            if last_epoch == -1:
                g.setdefault("initial_lr", g["lr"])
            elif "initial_lr" not in g:
                raise KeyError(f"{name}(last_epoch={last_epoch}): param group {i} has no "
                               f"'initial_lr', which resuming a schedule needs; load the "
                               f"optimizer's state_dict first (it holds initial_lr), or pass "
                               f"last_epoch=-1 to start a new schedule")
        self.last_epoch = last_epoch + 1
        f = self.initial_factor(self.last_epoch)
        if f != 1.0:
            for g in optimizer.param_groups:
                g["lr"] = float(g["lr"] * f)
        self.last_lr = [g["lr"] for g in optimizer.param_groups]

    def initial_factor(self, epoch: int) -> float:
        """What the constructor multiplies the lrs by on entering `epoch` (PyTorch's initial step)."""
        return 1.0

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
        """Restore what `state_dict` returned; unknown keys and bad values are refused (and
        nothing is changed)."""
        name = type(self).__name__
        if not isinstance(state_dict, dict):
            raise TypeError(f"{name}.load_state_dict takes the dict that state_dict() returned, "
                            f"got a {type(state_dict).__name__}")
        unknown = sorted(map(str, set(state_dict) - set(self._keys)))
        if unknown:
            raise ValueError(f"unknown keys in {name} state: {unknown} (it has {list(self._keys)})")
        checked = {k: self._check_value(k, v) for k, v in state_dict.items()}
        for k, v in checked.items():
            setattr(self, k, v)

    def _check_value(self, key: str, value: Any) -> Any:
        name = f"{type(self).__name__}.load_state_dict"
        if key == "last_epoch":
            return _validate.integer(name, key, value, minimum=0)
        if key == "last_lr":
            if not isinstance(value, (list, tuple)) or len(value) != len(self.optimizer.param_groups):
                raise ValueError(f"{name}: last_lr must be a list of {len(self.optimizer.param_groups)} "
                                 f"learning rates (one per param group), got {value!r}")
            return [_validate.real(name, "last_lr", v, 0.0) for v in value]
        if key == "step_size":
            return _validate.size(name, key, value)
        return _check_gamma(value, name)

    def __repr__(self) -> str:
        settings = ", ".join(f"{k}={getattr(self, k)}" for k in self._keys[2:])
        return f"{type(self).__name__}({settings}, last_epoch={self.last_epoch})"


class StepLR(LRScheduler):
    """Multiply the learning rate by `gamma` every `step_size` epochs."""

    _keys = ("last_epoch", "last_lr", "step_size", "gamma")

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1,
                 last_epoch: int = -1) -> None:
        self.step_size = _validate.size("StepLR", "step_size", step_size)
        self.gamma = _check_gamma(gamma, "StepLR")
        super().__init__(optimizer, last_epoch)

    def factor(self, epoch: int) -> float:
        return self.gamma if epoch % self.step_size == 0 else 1.0

    def initial_factor(self, epoch: int) -> float:
        # PyTorch's StepLR applies its chainable rule in the constructor too (epoch 0 excepted)
        return self.factor(epoch) if epoch != 0 else 1.0


class ExponentialLR(LRScheduler):
    """Multiply the learning rate by `gamma` every epoch."""

    _keys = ("last_epoch", "last_lr", "gamma")

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        self.gamma = _check_gamma(gamma, "ExponentialLR")
        super().__init__(optimizer, last_epoch)

    def factor(self, epoch: int) -> float:
        return self.gamma


def _check_gamma(gamma: Any, owner: str) -> float:
    return _validate.real(owner, "gamma", gamma, 0.0, lo_open=True)
