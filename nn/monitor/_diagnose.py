"""What the monitor calls a problem, and how it says so.

Each recorded step, every monitored module gets a set of flags (`KINDS`, by priority); a
`Tracker` per module and kind remembers when the condition began, how long it lasted and its
worst value, so the report can say "since step 340" with the step's exact number even after
the history has been thinned.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

__all__ = ["KINDS", "FLAG", "DEFAULT_THRESHOLDS", "check_thresholds", "Diagnosis", "Tracker",
           "sci", "sentence"]

# by priority: a module's status is its first flagged kind
KINDS = ("nonfinite", "exploding", "dead", "saturated", "vanishing", "update_high", "update_low")
FLAG = {kind: 1 << i for i, kind in enumerate(KINDS)}

DEFAULT_THRESHOLDS: dict[str, float] = {
    "dead": 0.5,              # share of a ReLU layer's units that gave no positive output
    "dead_window": 100,       # ... for any input of the last this many steps
    "saturated": 0.25,        # share of a tanh / sigmoid layer's outputs in the flat tails
    "tanh_saturation": 0.97,  # |tanh(x)| above this is saturated (derivative below 0.059)
    "sigmoid_saturation": 0.97,   # sigmoid(x) above this or below 1 - this (derivative below 0.029)
    "vanishing": 1e-3,        # gradient norm below this fraction of the largest layer's
    "exploding": 1e3,         # gradient norm above this
    "update_high": -1.0,      # log10 update:data above this (averaged over ~10 recorded steps)
    "update_low": -5.0,       # log10 update:data below this, when no other problem explains it
}

HINTS = {
    "dead": "units that never fire get no gradient and stop learning: lower the learning rate, "
            "use He init, or leaky ReLU",
    "saturated": "the derivative there is nearly zero, so little gradient passes: smaller initial "
                 "weights, standardized inputs, or a lower learning rate",
    "vanishing": "the early layers barely learn: ReLU with He init, fewer layers, or normalization",
    "exploding": "lower the learning rate or clip the gradients (nn.utils.clip_grad_norm_)",
    "nonfinite": "training has diverged; ag.detect_anomaly() names the operation",
    "update_high": "learning rate too high?",
    "update_low": "learning rate too low?",
}


def check_thresholds(overrides: dict[str, Any] | None) -> dict[str, float]:
    """The defaults with `overrides` applied; an unknown name is an error listing the known ones."""
    out = dict(DEFAULT_THRESHOLDS)
    for key, value in (overrides or {}).items():
        if key not in out:
            raise KeyError(f"unknown monitor threshold {key!r}; the thresholds are "
                           f"{', '.join(DEFAULT_THRESHOLDS)}")
        try:
            out[key] = float(value)
        except (TypeError, ValueError):
            raise TypeError(f"threshold {key!r} must be a number, got {value!r}") from None
    if out["dead_window"] < 1:
        raise ValueError(f"dead_window must be at least 1 step, got {out['dead_window']}")
    return out


def sci(x: float) -> str:
    """A number in one significant digit, compactly: 3e-9, 4e5, 0.5, 12."""
    if x is None or not math.isfinite(x):
        return str(x)
    if x != 0 and (abs(x) < 0.01 or abs(x) >= 1000):
        mant, exp = f"{x:.0e}".split("e")
        return f"{mant}e{int(exp)}"
    return f"{x:.0f}" if abs(x) >= 100 else f"{x:.2g}"


@dataclass
class Diagnosis:
    """One problem of one module: `kind` (see KINDS), when it began (`onset`, the first step of
    the current run; `first`, the first step ever), the last step it held (`last`), whether
    it still holds at the last recorded step (`active`), its latest and worst values."""

    module: str
    label: str
    kind: str
    active: bool
    onset: int
    first: int
    last: int
    value: float
    peak: float
    peak_step: int
    extra: str
    message: str


class Tracker:
    """The history of one (module, kind) condition, in constant memory."""

    __slots__ = ("active", "onset", "first", "last", "value", "first_value", "peak", "peak_step",
                 "extra", "runs", "warned")

    def __init__(self) -> None:
        self.active = False
        self.onset = self.first = self.last = self.peak_step = -1
        self.value = self.first_value = self.peak = math.nan
        self.extra = ""
        self.runs = 0
        self.warned = False

    def update(self, step: int, held: bool, value: float, worse: bool, extra: str = "",
               onset: int | None = None) -> bool:
        """Record one step; `worse` says whether a larger value is worse. Returns whether a new
        run began."""
        if not held:
            self.active = False
            return False
        began = not self.active
        if began:
            self.runs += 1
            self.onset = step if onset is None else onset
            if self.first < 0:
                self.first, self.first_value = self.onset, value
            self.peak, self.peak_step = value, step
        elif (value > self.peak) == worse and value != self.peak:
            self.peak, self.peak_step = value, step
        self.active = True
        self.last, self.value, self.extra = step, value, extra
        return began


def sentence(kind: str, label: str, value: float, onset: int, last: int | None, extra: str,
             *, first_value: float | None = None, peak: float | None = None,
             peak_step: int | None = None, window: int = 0) -> str:
    """The report's sentence: `last` None while the condition still holds ("since step N")."""
    when = f"since step {onset}" if last is None else (
        f"at step {onset}" if last == onset else f"from step {onset} to {last}")
    if kind == "dead":
        return (f"{label}: {value:.0%} of units dead {when} (no positive output for any input "
                f"of the last {window} steps)")
    if kind == "saturated":
        return f"{label}: {value:.0%} of outputs saturated ({extra}) {when}"
    if kind == "vanishing":
        if value == 0:
            return f"gradients vanish: no gradient reaches {label} (norm 0) {when}"
        return f"gradients vanish: {label}'s gradient norm is {sci(value)} of {extra}'s {when}"
    if kind == "exploding":
        first = value if first_value is None else first_value
        text = f"exploding: gradient norm {sci(first)} at step {onset} in {label}"
        if last != onset:
            text += " (still above the threshold)" if last is None else f" (until step {last})"
            if peak is not None and peak_step is not None and peak != first:
                text += f", largest {sci(peak)} at step {peak_step}"
        return text
    if kind == "nonfinite":
        return f"{label}: NaN/Inf in its {extra} {when}"
    if kind in ("update_high", "update_low"):
        return f"update:data {sci(10.0 ** value)} at {label} {when}: {HINTS[kind]}"
    raise ValueError(f"unknown kind {kind!r}")
