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

from ..layers import Dense, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from ..module import Module
from ._diagnose import FLAG, KINDS, Diagnosis, Tracker, check_thresholds, sentence
from ._history import History
from ._stats import log10_ratio, moments, sample_slice, sq_sum

__all__ = ["Monitor", "MonitorWarning", "MODULE_KEYS", "PARAM_KEYS"]

MODULE_KEYS = ("grad_norm", "weight_norm", "update_ratio", "update_ratio_avg", "act_mean", "act_std",
               "saturated", "dead", "dead_batch", "out_grad_norm", "nonfinite", "flags")
PARAM_KEYS = ("grad_norm", "weight_norm", "update_ratio")
_M = {k: i for i, k in enumerate(MODULE_KEYS)}
_P = {k: i for i, k in enumerate(PARAM_KEYS)}
_ACTIVATIONS = ("relu", "leaky_relu", "tanh", "sigmoid", "softmax")
_EMA = 0.2              # weight of the newest step in the averaged update:data ratio (~10 steps)
_HIST_SAMPLE = 4096     # values kept per layer for the histograms of the last step


class MonitorWarning(UserWarning):
    """A problem the monitor found while training (issued once per module and kind)."""


def activation_of(module: Module) -> str | None:
    """The activation a module ends with: "relu", "tanh", "sigmoid", ... or None."""
    for cls, name in ((ReLU, "relu"), (LeakyReLU, "leaky_relu"), (Tanh, "tanh"),
                      (Sigmoid, "sigmoid"), (Softmax, "softmax")):
        if isinstance(module, cls):
            return name
    if isinstance(module, Dense):
        name = module.activation_name
        return name if name in _ACTIVATIONS else None
    return None


def describe(name: str, module: Module) -> str:
    """'layer 0 (Dense 64->128, relu)'."""
    if isinstance(module, Dense):
        what = f"Dense {module.in_features}->{module.out_features}"
        if module.activation_name:
            what += f", {module.activation_name}"
    else:
        extra = module.extra_repr()
        what = type(module).__name__ + (f" {extra}" if extra else "")
    return f"layer {name} ({what})" if name else f"model ({what})"


class _Param:
    """One parameter's per-step state."""

    __slots__ = ("name", "tensor", "col", "sl", "before", "wss", "gss", "finite", "has_grad", "ratio")

    def __init__(self, name: str, tensor: ag.Tensor, col: int, sample: int) -> None:
        self.name, self.tensor, self.col = name, tensor, col
        self.sl = sample_slice(tensor.shape, sample)
        self.before: np.ndarray | None = None
        self.wss = self.gss = self.ratio = math.nan
        self.finite = self.has_grad = True


class _Module:
    """One monitored module's per-step state."""

    __slots__ = ("name", "module", "label", "act", "params", "main", "col", "mean", "std", "sat",
                 "dead", "dead_batch", "act_finite", "out_sq", "grad_finite", "grad_seen",
                 "last_alive", "first_seen", "act_sample", "grad_sample", "ema", "on_grad",
                 "nonfinite_where", "hist_step")

    def __init__(self, name: str, module: Module, params: list[_Param], col: int) -> None:
        self.name, self.module, self.params, self.col = name, module, params, col
        self.label = describe(name, module)
        self.act = activation_of(module)
        # the parameter whose update:data ratio stands for the module: its weight, else the largest
        by_name = {p.name.rsplit(".", 1)[-1]: p for p in params}
        self.main = by_name.get("weight") or max(params, key=lambda p: p.tensor.size, default=None)
        self.last_alive: np.ndarray | None = None
        self.first_seen = 0
        self.act_sample = self.grad_sample = None
        self.hist_step = -1
        self.ema = math.nan
        self.nonfinite_where: list[str] = []
        self.reset()

    def reset(self) -> None:
        self.mean = self.std = self.sat = self.dead = self.dead_batch = math.nan
        self.act_finite = self.grad_finite = True
        self.out_sq = 0.0
        self.grad_seen = False


class Monitor:
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
    - `sample`: the update:data ratio of a parameter with more elements is measured on this many
      of them, spread over all columns (its log10 is then within about 0.02 of the full one).

    The statistics of a step come from the last forward pass run with gradients enabled before
    the step ends (a pass under `ag.no_grad()`, e.g. an evaluation, is ignored), the gradients
    of its backward pass, and the change the optimizer made. Use `with Monitor(...) as mon:` or
    `mon.close()` to remove the hooks.
    """

    _M = _M

    def __init__(self, model: Module, optimizer: Any = None, *, every: int = 1,
                 modules: Iterable[str | type] | None = None, thresholds: dict | None = None,
                 warn: bool = False, history: int = 1000, sample: int = 4096) -> None:
        if not isinstance(model, Module):
            raise TypeError(f"Monitor watches an nn.Module, got {type(model).__name__}")
        if int(every) != every or every < 1:
            raise ValueError(f"every must be a positive integer (record every n-th step), got {every!r}")
        if optimizer is not None and not callable(getattr(optimizer, "step", None)):
            raise TypeError(f"optimizer must have a step() method, got {type(optimizer).__name__}")
        self.model, self.optimizer, self.every = model, optimizer, int(every)
        self.thresholds = check_thresholds(thresholds)
        self.warn = bool(warn)
        self._params = [_Param(n, p, 0, int(sample)) for n, p in model.named_parameters()]
        by_id = {id(p.tensor): p for p in self._params}
        self._mods = []
        for name, m in self._select(modules):
            own = [by_id[id(p)] for _, p in m.named_parameters() if id(p) in by_id]
            self._mods.append(_Module(name, m, own, len(self._mods) * len(MODULE_KEYS)))
        base = len(self._mods) * len(MODULE_KEYS)
        for j, p in enumerate(self._params):
            p.col = base + j * len(PARAM_KEYS)
        self._history = History(base + len(self._params) * len(PARAM_KEYS), history)
        self._trackers = {(i, k): Tracker() for i in range(len(self._mods)) for k in KINDS}
        self._step = 0
        self._active = True
        self._snapped = False
        self._handles: list = []
        self._restore_step: Callable[[], None] | None = None
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
        self._handles.append(self.model.register_forward_pre_hook(self._make_pre_hook()))
        for st in self._mods:
            st.on_grad = self._make_grad_hook(st)
            self._handles.append(st.module.register_forward_hook(self._make_forward_hook(st)))
        opt = self.optimizer
        if opt is not None:
            original = opt.step

            def step(closure: Callable | None = None) -> Any:
                result = original() if closure is None else original(closure)
                self._end_step()
                return result
            step.__doc__ = original.__doc__
            opt.step = step

            def restore() -> None:
                if opt.__dict__.get("step") is step:
                    del opt.step
            self._restore_step = restore

    # hooks are closures, not bound methods: deep-copying a monitored model copies them as they
    # are (a copy's modules are not this monitor's, so its hooks ignore them)
    def _make_pre_hook(self) -> Callable:
        def pre_hook(module: Module, args: tuple) -> None:
            if self._active and not self._snapped and module is self.model and ag.is_grad_enabled():
                self._snapshot()
        return pre_hook

    def _make_forward_hook(self, st: _Module) -> Callable:
        def forward_hook(module: Module, args: tuple, output: Any) -> None:
            if (self._active and module is st.module and isinstance(output, ag.Tensor)
                    and ag.is_grad_enabled()):
                self._activation(st, output.data)
                if output.requires_grad:
                    output.register_hook(st.on_grad)
        return forward_hook

    def _make_grad_hook(self, st: _Module) -> Callable:
        def grad_hook(grad: ag.Tensor) -> None:
            a = grad.data
            ss, finite = sq_sum(a)
            st.out_sq += ss
            st.grad_finite &= finite
            st.grad_seen = True
            st.grad_sample = a.reshape(-1)[sample_slice(a.shape, _HIST_SAMPLE)].copy()
        return grad_hook

    def close(self) -> None:
        """Remove every hook and give the optimizer its own `step` back; the history stays."""
        for h in self._handles:
            h.remove()
        self._handles.clear()
        if self._restore_step is not None:
            self._restore_step()
            self._restore_step = None

    def __enter__(self) -> Monitor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- measuring -----------------------------------------------------------------------

    def _snapshot(self) -> None:
        """Copy the sampled elements of every parameter before the step changes them."""
        for p in self._params:
            p.before = p.tensor.data.reshape(-1)[p.sl].copy()
        self._snapped = True

    def _activation(self, st: _Module, h: np.ndarray) -> None:
        if h.dtype.kind != "f" or h.size == 0:
            return
        st.mean, st.std, st.act_finite = moments(h)
        st.act_sample = h.reshape(-1)[sample_slice(h.shape, _HIST_SAMPLE)].copy()
        st.hist_step = self._step
        if not st.act_finite:
            return
        act, th = st.act, self.thresholds
        if act == "relu":
            self._dead(st, h)
        elif act == "tanh":
            st.sat = np.count_nonzero(np.abs(h) > th["tanh_saturation"]) / h.size
        elif act == "sigmoid":
            st.sat = np.count_nonzero(np.abs(h - 0.5) > th["sigmoid_saturation"] - 0.5) / h.size

    def _dead(self, st: _Module, h: np.ndarray) -> None:
        """Units (last axis) with no positive value in the batch, and in the last dead_window steps."""
        rows = h.reshape(-1, h.shape[-1]) if h.ndim > 1 else h.reshape(1, -1)
        alive = rows.max(axis=0) > 0
        units = alive.size
        if st.last_alive is None or st.last_alive.size != units:
            st.first_seen = self._step
            st.last_alive = np.full(units, self._step - 1, np.int64)
        st.dead_batch = 1.0 - np.count_nonzero(alive) / units
        st.last_alive[alive] = self._step
        cutoff = max(self._step - int(self.thresholds["dead_window"]) + 1, st.first_seen)
        st.dead = np.count_nonzero(st.last_alive < cutoff) / units

    def _parameters(self, row: np.ndarray) -> None:
        for p in self._params:
            t = p.tensor
            w = t.data
            p.wss, p.finite = sq_sum(w)
            row[p.col + _P["weight_norm"]] = math.sqrt(p.wss) if p.finite else math.nan
            g = t.grad
            p.has_grad = g is not None
            p.ratio = math.nan
            if p.has_grad:
                p.gss, gfinite = sq_sum(g.data)
                p.finite &= gfinite
                row[p.col + _P["grad_norm"]] = math.sqrt(p.gss) if gfinite else math.nan
                before = p.before
                if before is not None and w.size and before.size == w.reshape(-1)[p.sl].size:
                    after = w.reshape(-1)[p.sl]
                    p.ratio = log10_ratio(moments(after - before)[1], moments(before)[1])
                    row[p.col + _P["update_ratio"]] = p.ratio
            p.before = None

    def _modules(self, row: np.ndarray) -> None:
        for st in self._mods:
            c = st.col
            where = []
            if st.params:
                with_grad = [p for p in st.params if p.has_grad]
                if with_grad:
                    row[c + _M["grad_norm"]] = math.sqrt(sum(p.gss for p in with_grad))
                row[c + _M["weight_norm"]] = math.sqrt(sum(p.wss for p in st.params))
                if not all(p.finite for p in st.params):
                    where.append("weights or their gradients")
                r = st.main.ratio
                if not math.isnan(r):
                    row[c + _M["update_ratio"]] = r
                    e = st.ema
                    st.ema = r if (math.isnan(e) or math.isinf(e) or math.isinf(r)) else e + _EMA * (r - e)
                row[c + _M["update_ratio_avg"]] = st.ema
            if not st.act_finite:
                where.insert(0, "output")
            if not st.grad_finite:
                where.append("output's gradient")
            row[c + _M["act_mean"]], row[c + _M["act_std"]] = st.mean, st.std
            row[c + _M["saturated"]], row[c + _M["dead"]] = st.sat, st.dead
            row[c + _M["dead_batch"]] = st.dead_batch
            if st.grad_seen:
                row[c + _M["out_grad_norm"]] = math.sqrt(st.out_sq) if st.grad_finite else math.nan
            row[c + _M["nonfinite"]] = 1.0 if where else 0.0
            st.nonfinite_where = where
            st.reset()

    def _end_step(self) -> None:
        if self._active:
            row = np.full(self._history.rows.shape[1], math.nan)
            self._parameters(row)
            self._modules(row)
            self._diagnose(row)
            self._history.add(self._step, row)
        self._snapped = False
        self._step += 1
        self._active = self._step % self.every == 0

    def step(self) -> None:
        """End the current step (call it after `optimizer.step()`, before `zero_grad()`); only
        needed when the Monitor was made without the optimizer."""
        if self._restore_step is not None:
            raise RuntimeError("this Monitor was given the optimizer and ends each step when "
                               "optimizer.step() runs; do not call mon.step() as well")
        self._end_step()

    # -- diagnosing ----------------------------------------------------------------------

    def _diagnose(self, row: np.ndarray) -> None:
        step = self._step
        found = [[self._condition(kind, i, row) for kind in KINDS] for i in range(len(self._mods))]
        low = KINDS.index("update_low")
        if any(held for conds in found for k, (held, _, _) in enumerate(conds) if k != low):
            for conds in found:         # a small update has a cause already named: not the lr
                conds[low] = (False,) + conds[low][1:]
        for i, st in enumerate(self._mods):
            flags = 0
            for kind, (held, value, extra) in zip(KINDS, found[i]):
                tr = self._trackers[(i, kind)]
                onset = self._dead_onset(st) if (held and kind == "dead" and not tr.active) else None
                began = tr.update(step, held, value, worse=kind != "vanishing", extra=extra,
                                  onset=onset)
                if held:
                    flags |= FLAG[kind]
                if began and self.warn and not tr.warned:
                    tr.warned = True
                    warnings.warn(self._message(i, kind, tr), MonitorWarning, stacklevel=4)
            row[st.col + _M["flags"]] = flags

    def _condition(self, kind: str, i: int, row: np.ndarray) -> tuple[bool, float, str]:
        """Whether module i shows `kind` in `row`, the value that says so and a detail."""
        st, th = self._mods[i], self.thresholds
        c = st.col
        if kind == "nonfinite":
            return row[c + _M["nonfinite"]] == 1.0, 1.0, " and ".join(st.nonfinite_where)
        if kind == "exploding":
            g = row[c + _M["grad_norm"]]
            return bool(g > th["exploding"]), g, ""
        if kind == "dead":
            d = row[c + _M["dead"]]
            return bool(d > th["dead"]), d, ""
        if kind == "saturated":
            s = row[c + _M["saturated"]]
            t = th["tanh_saturation"] if st.act == "tanh" else th["sigmoid_saturation"]
            what = f"|tanh| > {t:g}" if st.act == "tanh" else f"sigmoid < {1 - t:.2g} or > {t:g}"
            return bool(s > th["saturated"]), s, what
        if kind == "vanishing":
            norms = [(row[m.col + _M["grad_norm"]], j) for j, m in enumerate(self._mods) if m.params]
            norms = [(g, j) for g, j in norms if g > 0 and math.isfinite(g)]
            g = row[c + _M["grad_norm"]]
            if not norms or not (g >= 0 and math.isfinite(g)):
                return False, math.nan, ""
            top, j = max(norms)
            return bool(g / top < th["vanishing"]) and j != i, g / top, self._mods[j].label
        e = row[c + _M["update_ratio_avg"]]
        if kind == "update_high":
            return bool(e > th["update_high"]), e, ""
        return bool(e < th["update_low"]), e, ""

    def _dead_onset(self, st: _Module) -> int:
        """The step from which the dead share has been above the threshold, dating each dead
        unit's death to the recorded step after it last fired."""
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
        return n + sum(0 if p.before is None else p.before.nbytes for p in self._params)

    def __repr__(self) -> str:
        return (f"Monitor({len(self._mods)} modules, {len(self._params)} parameters, every={self.every}, "
                f"{self._history.count} steps recorded, {self._history.n} kept)")
