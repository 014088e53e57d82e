"""`nn.Monitor`: per-step training statistics of every layer, a bounded history, and diagnoses.

    mon = nn.Monitor(model, optimizer)      # hooks into the model, counts optimizer.step() calls
    ...train as usual...
    print(mon.report())
    mon.plot().savefig("health.png")

See docs/monitor.md for what is measured, the thresholds, and the cost.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Callable, Iterable

import numpy as np

import autograd as ag

from ..module import Module
from ._diagnose import FLAG, KINDS, Diagnosis, Tracker, check_thresholds, sentence
from ._history import History
from ._measure import (
    _A,
    _D,
    _F,
    _G,
    _HIST_SAMPLE,
    _M,
    _NF,
    _S,
    MODULE_KEYS,
    PARAM_KEYS,
    Measuring,
    _Module,
    _Param,
    keep_sample,
)
from ._stats import sample_slice, sq_sum

__all__ = ["Monitor", "MonitorWarning", "MODULE_KEYS", "PARAM_KEYS"]


_VARYING = ("nonfinite", "vanishing", "saturated")     # kinds whose wording has a detail


class MonitorWarning(UserWarning):
    """A problem the monitor found while training (issued once per module and kind)."""


class Monitor(Measuring):
    """Watch a model's training: per step and per layer, the gradient norm, the weight norm, the
    update:data ratio, activation mean and std, the saturated share (tanh, sigmoid), the dead
    share (ReLU), NaN and Inf; and say what is wrong (`report()`), when it began, in pictures
    (`plot()`).

    `Monitor(model, optimizer)` hooks into the model's layers and into `optimizer.step`, which
    then ends each step: nothing else in the training loop changes. Without an optimizer, call
    `mon.step()` after each `optimizer.step()` (before `zero_grad()`).

    - `every`: record every n-th step (steps are numbered from 0, the n-th `optimizer.step()` call
      ending step n-1); the forward and backward passes of other steps run untouched.
    - `modules`: which modules to watch: None (every module without sub-modules), or names as in
      `model.named_modules()` and / or Module classes.
    - `thresholds`: overrides of `nn.monitor.DEFAULT_THRESHOLDS` (see docs/monitor.md).
    - `warn`: issue a `MonitorWarning` the first time each layer shows each kind of problem.
    - `history`: how many recorded steps to keep; a longer run keeps every 2nd, 4th, ... step.
    - `sample`: the update:data ratio of a parameter with more than 16384 elements is measured
      on this many of them, spread over all columns (its log10 within 0.15 of the exact one
      on the digits' hardest case, 0.03 on dense inputs; docs/monitor.md); every other
      number is exact.
    - `output_grads`: hook the gradient of each module's output (`out_grad_norm`, NaN/Inf in
      it, the histogram of output gradients); False saves those hooks' cost (docs/monitor.md).

    The statistics of a step come from the last forward pass run with gradients enabled before
    the step ends (a pass under `ag.no_grad()`, e.g. an evaluation, is ignored), the gradients
    of its backward pass, and the change the optimizer made. Use `with Monitor(...) as mon:` or
    `mon.close()` to remove the hooks.
    """

    _M = _M

    def __init__(self, model: Module, optimizer: Any = None, *, every: int = 1,
                 modules: Iterable[str | type] | None = None, thresholds: dict | None = None,
                 warn: bool = False, history: int = 1000, sample: int = 1024,
                 output_grads: bool = True) -> None:
        if not isinstance(model, Module):
            raise TypeError(f"Monitor watches an nn.Module, got {type(model).__name__}")
        if int(every) != every or every < 1:
            raise ValueError(f"every must be a positive integer (record every n-th step), got {every!r}")
        if optimizer is not None and not callable(getattr(optimizer, "step", None)):
            raise TypeError(f"optimizer must have a step() method, got {type(optimizer).__name__}")
        self.model, self.optimizer, self.every = model, optimizer, int(every)
        self.output_grads = bool(output_grads)
        self.thresholds = check_thresholds(thresholds)
        self.warn = bool(warn)
        self._params = [_Param(n, p, 0, int(sample), i) for i, (n, p) in enumerate(model.named_parameters())]
        self._large = [p for p in self._params if not p.whole]
        by_id = {id(p.tensor): p for p in self._params}
        self._mods = []
        for name, m in self._select(modules):
            own = [by_id[id(p)] for _, p in m.named_parameters() if id(p) in by_id]
            self._mods.append(_Module(name, m, own, len(self._mods) * len(MODULE_KEYS)))
        base = len(self._mods) * len(MODULE_KEYS)
        for j, p in enumerate(self._params):
            p.col = base + j * len(PARAM_KEYS)
        self._history = History(base + len(self._params) * len(PARAM_KEYS), history)
        self._mcols = np.array([st.col for st in self._mods], np.intp)
        self._has_params = np.array([bool(st.params) for st in self._mods])
        self._active_kinds = [[False] * len(KINDS) for _ in self._mods]
        self._cols = [st.col for st in self._mods]
        self._with_params = [bool(st.params) for st in self._mods]
        self._any_active = False        # some module held some condition at the last recorded step
        self._snapped = self._has_before = False
        self._layout()
        self._trackers = {(i, k): Tracker() for i in range(len(self._mods)) for k in KINDS}
        self._step = 0
        self._active = True
        self._snapped = False
        self._handles: list = []
        self._armed = self._closed = False
        self._restore_step: Callable[[], None] | None = None
        self._update_hook: Callable | None = None
        self._hooked = False            # this step's parameters were read by the update hooks
        self._attach()

    # -- setting up ----------------------------------------------------------------------

    def _select(self, modules: Iterable[str | type] | None) -> list[tuple[str, Module]]:
        named = list(self.model.named_modules())
        if modules is None:
            return [(n, m) for n, m in named if not any(True for _ in m.children())]
        wanted = list(modules)
        names = {n for n, _ in named}
        unknown = [w for w in wanted if isinstance(w, str) and w not in names]
        if unknown:
            raise KeyError(f"Monitor: no module named {', '.join(map(repr, unknown))} in the model; "
                           f"its modules are {', '.join(repr(n) for n in names)}")
        types = tuple(w for w in wanted if isinstance(w, type))
        picked = [(n, m) for n, m in named if n in wanted or (types and isinstance(m, types))]
        if not picked:
            raise ValueError("Monitor: the modules given select no module of the model")
        return picked

    def _attach(self) -> None:
        self._pre_hook = self._make_pre_hook()
        self._forward_hooks = []
        for st in self._mods:
            st.on_grad = self._make_grad_hook(st)
            self._forward_hooks.append((st, self._make_forward_hook(st)))
        opt = self.optimizer
        if opt is not None:
            original = opt.step

            # the weights and gradients the optimizer is given are those of the step's forward
            # and backward passes: read before it changes them. With an update hook (optim's
            # optimizers) a large parameter is read (its norms and sample) just before its own
            # update, while it is in the cache for the optimizer anyway, the small ones as the
            # step begins; without one, all of them as the step begins
            hooked = callable(getattr(opt, "register_update_hook", None))
            if hooked:
                self._update_hook = self._make_update_hook()

            def step(closure: Callable | None = None) -> Any:
                if self._closed:        # closed under another monitor's wrapper: pass through
                    return original() if closure is None else original(closure)
                if self._active:
                    if hooked:
                        self._snapshot_small()
                        self._snapped = self._has_before = self._hooked = True
                    else:
                        self._snapshot(grads=closure is None)
                if closure is None:
                    result = original()
                else:
                    result = original(self._own_pass(closure) if self._active and callable(closure)
                                      else closure)
                self._end_step()
                return result
            step.__doc__ = original.__doc__
            original_zero = opt.zero_grad

            # gradients zeroed: the passes before do not reach the step (out_grad_norm and the
            # activation statistics describe the gradients the step applies)
            def zero_grad(*args: Any, **kwargs: Any) -> Any:
                if self._active and not self._closed:
                    for st in self._mods:
                        st.reset()
                return original_zero(*args, **kwargs)
            zero_grad.__doc__ = original_zero.__doc__

            for name, wrapper in (("step", step), ("zero_grad", zero_grad)):
                # what it wraps: another monitor's wrapper on this optimizer, or the class's
                vars(wrapper)["_monitor"] = (self, opt.__dict__.get(name))
                setattr(opt, name, wrapper)

            def restore() -> None:
                # unwrap the closed monitors' wrappers from the top (one below another
                # monitor's stays in the chain, passing through, until that one is closed)
                for name in ("step", "zero_grad"):
                    top = opt.__dict__.get(name)
                    while getattr(top, "_monitor", None) is not None and top._monitor[0]._closed:
                        top = top._monitor[1]
                        if top is None:
                            delattr(opt, name)
                        else:
                            setattr(opt, name, top)
            self._restore_step = restore
        self._arm()

    def _own_pass(self, closure: Callable) -> Callable:
        """`closure`, first forgetting the outputs seen so far: the step's numbers are those of
        the pass the closure makes (after its zero_grad), not of a pass made before the step."""
        def call() -> Any:
            for st in self._mods:
                st.reset()
            return closure()
        return call

    # hooks are closures, not bound methods: deep-copying a monitored model copies them as they
    # are (a copy's modules are not this monitor's, so its hooks ignore them)
    def _make_pre_hook(self) -> Callable:
        def pre_hook(module: Module, args: tuple) -> None:
            if self._active and not self._snapped and module is self.model and ag.is_grad_enabled():
                self._snapshot()
        return pre_hook

    def _make_forward_hook(self, st: _Module) -> Callable:
        output_grads = self.output_grads

        def forward_hook(module: Module, args: tuple, output: Any) -> None:
            if (self._active and module is st.module and isinstance(output, ag.Tensor)
                    and ag.is_grad_enabled()):
                self._activation(st, output.data)
                # not on a tensor the call did not make (a leaf, an input passed through, as
                # Dropout in eval): the hook would outlive the step and pile up, step after step
                if (output_grads and output.requires_grad and not output.is_leaf
                        and all(a is not output for a in args)):
                    output.register_hook(st.on_grad)
        return forward_hook

    def _make_grad_hook(self, st: _Module) -> Callable:
        def grad_hook(grad: ag.Tensor) -> None:
            a = grad.data
            f = a.reshape(-1)
            ss = float(np.dot(f, f)) if f.dtype.kind == "f" else math.nan
            if not ss < math.inf:               # NaN / Inf, an overflow, or not a float array
                ss, finite = sq_sum(a)
                st.grad_finite &= finite
            st.out_sq += ss
            st.grad_seen = True
            st.grad_sample = keep_sample(st.grad_sample, f[sample_slice(a.shape, _HIST_SAMPLE)])
            st.held.append(a)
        return grad_hook

    def _arm(self) -> None:
        """Hook into the model for a recorded step (between recorded steps no hook is left: an
        unrecorded step runs as if there were no monitor); the handles are kept and put back."""
        if self._handles:
            for h in self._handles:
                h._restore()
        else:
            if self.optimizer is None:  # else the optimizer's step takes the "before" values
                self._handles.append(self.model.register_forward_pre_hook(self._pre_hook))
            if self._update_hook is not None:
                self._handles.append(self.optimizer.register_update_hook(self._update_hook))
            for st, fn in self._forward_hooks:
                self._handles.append(st.module.register_forward_hook(fn))
        self._armed = True

    def _disarm(self) -> None:
        for h in self._handles:
            h.remove()
        self._armed = False

    def close(self) -> None:
        """Remove every hook and give the optimizer its own `step` back; the history stays."""
        self._disarm()
        self._handles.clear()
        self._closed = True
        if self._restore_step is not None:
            self._restore_step()
            self._restore_step = None

    def __enter__(self) -> Monitor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- measuring -----------------------------------------------------------------------

    def _end_step(self) -> None:
        if self._active:
            row = [math.nan] * self._history.rows.shape[1]
            self._parameters(row)
            self._modules(row)
            self._diagnose(row)
            self._history.add(self._step, row)
        self._snapped = False
        self._step += 1
        self._active = self._step % self.every == 0
        if self._active != self._armed and not self._closed:
            self._arm() if self._active else self._disarm()

    def step(self) -> None:
        """End the current step (call it after `optimizer.step()`, before `zero_grad()`); only
        needed when the Monitor was made without the optimizer."""
        if self._restore_step is not None:
            raise RuntimeError("this Monitor was given the optimizer and ends each step when "
                               "optimizer.step() runs; do not call mon.step() as well")
        self._end_step()

    # -- diagnosing ----------------------------------------------------------------------

    def _diagnose(self, row: list[float]) -> None:
        if not self._any_active and self._all_clear(row):     # all healthy: no tracker moves
            for st in self._mods:
                row[st.col + _F] = 0
            return
        step = self._step
        held, values, top = self._conditions(row)
        active = self._active_kinds
        if held == active:              # the same conditions as at the last recorded step
            self._continue_runs(row, held, values, top)
            return
        self._any_active = any(True in h for h in held)
        for i, st in enumerate(self._mods):
            flags = 0
            if not (True in held[i] or True in active[i]):   # this module: nothing to track
                row[st.col + _F] = 0
                continue
            for k, kind in enumerate(KINDS):
                h = held[i][k]
                if not (h or active[i][k]):
                    continue
                tr = self._trackers[(i, kind)]
                onset = self._dead_onset(st) if (h and kind == "dead" and not tr.active) else None
                began = tr.update(step, h, values[i][k], worse=kind != "vanishing",
                                  extra=self._extra(kind, i, top) if h else "", onset=onset)
                if h:
                    flags |= FLAG[kind]
                if began and self.warn and not tr.warned:
                    tr.warned = True
                    warnings.warn(self._message(i, kind, tr), MonitorWarning, stacklevel=4)
            row[st.col + _F] = flags
        self._active_kinds = held

    def _continue_runs(self, row: list[float], held: list[list[bool]], values: list[list[float]],
                       top: int) -> None:
        """`_diagnose` when no condition began or ended: each run goes on (what `Tracker.update`
        does then: the last step, the value, the worst value, the wording's detail)."""
        step = self._step
        for i, st in enumerate(self._mods):
            flags = 0
            if True in held[i]:
                for k, kind in enumerate(KINDS):
                    if held[i][k]:
                        tr = self._trackers[(i, kind)]
                        v = values[i][k]
                        if (v > tr.peak) == (kind != "vanishing") and v != tr.peak:
                            tr.peak, tr.peak_step = v, step
                        tr.last, tr.value = step, v
                        if kind in _VARYING:
                            tr.extra = self._extra(kind, i, top)
                        flags |= FLAG[kind]
            row[st.col + _F] = flags

    def _all_clear(self, row: list[float]) -> bool:
        """True if no module shows any problem in this row (a quick pass of `_conditions`)."""
        th = self.thresholds
        cols = list(zip(self._cols, self._with_params))
        grads = [row[c + _G] if has else math.nan for c, has in cols]
        top = max([g for g in grads if 0 < g < math.inf], default=math.nan)
        low = th["vanishing"] * top                 # NaN if no module has a gradient
        for (c, _), g in zip(cols, grads):
            if (row[c + _NF] == 1.0 or g > th["exploding"] or g < low or row[c + _D] > th["dead"]
                    or row[c + _S] > th["saturated"] or row[c + _A] > th["update_high"]
                    or row[c + _A] < th["update_low"]):
                return False
        return True

    def _conditions(self, row: Any) -> tuple[list[list[bool]], list[list[float]], int]:
        """For one row (a list or an array): per module, whether it shows each kind (in KINDS
        order) and the value that says so; and the module with the largest gradient norm (-1: none)."""
        th, r = self.thresholds, row if isinstance(row, list) else row.tolist()
        cols = self._cols
        grads = [r[c + _G] if has else math.nan for c, has in zip(cols, self._with_params)]
        positive = [(g, i) for i, g in enumerate(grads) if 0 < g < math.inf]
        top_g, top = max(positive) if positive else (math.nan, -1)
        held, values = [], []
        any_other = False
        ex, de, sa, va, hi, lo = (th["exploding"], th["dead"], th["saturated"], th["vanishing"],
                                  th["update_high"], th["update_low"])
        for i, c in enumerate(cols):
            g, dead, sat, avg = grads[i], r[c + _D], r[c + _S], r[c + _A]
            ratio = g / top_g if top >= 0 and 0 <= g < math.inf else math.nan
            h = [r[c + _NF] == 1.0, g > ex, dead > de, sat > sa, ratio < va and i != top, avg > hi, avg < lo]
            any_other = any_other or any(h[:-1])
            held.append(h)
            values.append([1.0, g, dead, sat, ratio, avg, avg])
        if any_other:                   # a small update has a cause already named: not the lr
            for h in held:
                h[-1] = False
        return held, values, top

    def _extra(self, kind: str, i: int, top: int) -> str:
        st = self._mods[i]
        if kind == "nonfinite":
            w = st.nonfinite_where
            return (", ".join(w[:-1]) + " and " + w[-1]) if len(w) > 1 else (w[0] if w else
                                                                              "values or gradients")
        if kind == "vanishing":
            return self._mods[top].label
        if kind == "saturated":
            t = self.thresholds["tanh_saturation" if st.act == "tanh" else "sigmoid_saturation"]
            return f"|tanh| > {t:g}" if st.act == "tanh" else f"sigmoid < {1 - t:.2g} or > {t:g}"
        return ""

    def _dead_onset(self, st: _Module) -> int:
        """The step from which the dead share has been above the threshold, dating each dead
        unit's death to the recorded step after it last fired."""
        assert st.last_alive is not None
        cutoff = max(self._step - int(self.thresholds["dead_window"]) + 1, st.first_seen)
        last = st.last_alive[st.last_alive < cutoff]
        died = np.where(last < st.first_seen, st.first_seen, last + self.every)
        k = int(self.thresholds["dead"] * st.last_alive.size)     # more than k dead units
        return int(np.sort(died)[min(k, died.size - 1)])

    def _message(self, i: int, kind: str, tr: Tracker) -> str:
        return sentence(kind, self._mods[i].label, tr.value if tr.active else tr.peak, tr.onset,
                        None if tr.active else tr.last, tr.extra, first_value=tr.first_value,
                        peak=tr.peak, peak_step=tr.peak_step,
                        window=int(self.thresholds["dead_window"]))

    def diagnoses(self) -> list[Diagnosis]:
        """Every problem seen so far: those still present at the last recorded step first, then
        those that ended; by kind (in `KINDS` order), then by layer."""
        found = []
        for (i, kind), tr in self._trackers.items():
            if tr.runs:
                st = self._mods[i]
                found.append(Diagnosis(st.name, st.label, kind, tr.active, tr.onset, tr.first, tr.last,
                                       tr.value, tr.peak, tr.peak_step, tr.extra,
                                       self._message(i, kind, tr)))
        order = {k: n for n, k in enumerate(KINDS)}
        names = {st.name: n for n, st in enumerate(self._mods)}
        return sorted(found, key=lambda d: (not d.active, order[d.kind], names[d.module]))

    # -- reading -------------------------------------------------------------------------

    @property
    def steps(self) -> list[int]:
        """The recorded steps still kept (all of them until `history` is exceeded)."""
        h = self._history
        return h.steps[:h.n].tolist()

    @property
    def module_names(self) -> list[str]:
        """The monitored modules' dotted names, in model order."""
        return [st.name for st in self._mods]

    def series(self, key: str, params: bool = False) -> dict[str, np.ndarray]:
        """`{name: values over mon.steps}` of one statistic: a key of `MODULE_KEYS` per module,
        or with `params=True` a key of `PARAM_KEYS` per parameter. NaN where not measured."""
        keys, items = (PARAM_KEYS, self._params) if params else (MODULE_KEYS, self._mods)
        if key not in keys:
            raise KeyError(f"unknown statistic {key!r}; choose one of {', '.join(keys)}")
        h, k = self._history, keys.index(key)
        return {it.name: h.rows[:h.n, it.col + k].copy() for it in items}

    def _row_index(self, step: int | None) -> int:
        h = self._history
        if h.n == 0:
            raise RuntimeError("the monitor has recorded no step yet: run a training step (forward, "
                               "backward, optimizer.step()) first")
        if step is None:
            return h.n - 1
        try:
            return h.find(int(step))
        except KeyError:
            kept = h.steps[:h.n]
            near = kept[np.argsort(np.abs(kept - step))[:3]]
            raise KeyError(f"step {step} is not in the monitor's history (kept: {h.n} steps from "
                           f"{kept[0]} to {kept[-1]}; nearest {', '.join(map(str, sorted(near)))}); "
                           f"see mon.steps") from None

    def module_health(self, step: int | None = None) -> dict[str, dict]:
        """Each monitored module's numbers at `step` (default: the last recorded one), with its
        `status` (the most serious problem, or "ok") and `problems` (the report's sentences)."""
        from ._health import module_health
        return module_health(self, self._row_index(step))

    def report(self) -> str:
        """What is wrong, layer by layer, in words, with the numbers and the step it began."""
        from ._health import report
        return report(self)

    def plot(self) -> Any:
        """A matplotlib Figure: gradient norms, update:data ratios (reference 1e-3), dead and
        saturated shares and activation std over the steps, and histograms of the last recorded
        step's activations and output gradients per layer."""
        from ._plot import plot
        return plot(self)

    @property
    def nbytes(self) -> int:
        """Bytes held by the history and the per-layer buffers: bounded whatever the run's length."""
        n = self._history.nbytes
        for st in self._mods:
            for a in (st.last_alive, st.act_sample, st.grad_sample):
                n += 0 if a is None else a.nbytes
        return n + self._work.nbytes

    def __repr__(self) -> str:
        return (f"Monitor({len(self._mods)} modules, {len(self._params)} parameters, every={self.every}, "
                f"{self._history.count} steps recorded, {self._history.n} kept)")
