"""What the monitor measures at a recorded step: the per-parameter and per-module state, and
the methods that fill one row of the history (a mixin of `Monitor`).

The hot path of a recorded step: as few NumPy calls as possible (each costs 1 to 3 us here).
"""

from __future__ import annotations

import math

import numpy as np

import autograd as ag

from ..layers import Dense, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from ..module import Module
from ._stats import log10_ratio, moments, sample_slice, sq_sum

__all__ = ["MODULE_KEYS", "PARAM_KEYS", "Measuring", "activation_of", "describe"]

MODULE_KEYS = ("grad_norm", "weight_norm", "update_ratio", "update_ratio_avg", "act_mean", "act_std",
               "saturated", "dead", "dead_batch", "out_grad_norm", "nonfinite", "flags")
PARAM_KEYS = ("grad_norm", "weight_norm", "update_ratio")
_M = {k: i for i, k in enumerate(MODULE_KEYS)}
_P = {k: i for i, k in enumerate(PARAM_KEYS)}
_ACTIVATIONS = ("relu", "leaky_relu", "tanh", "sigmoid", "softmax")
_G, _W, _U, _A, _AM, _AS, _S, _D, _DB, _OG, _NF, _F = range(len(MODULE_KEYS))
_EMA = 0.2              # weight of the newest step in the averaged update:data ratio (~10 steps)
_WHOLE = 4096          # parameters up to this size are not sampled
_HIST_SAMPLE = 4096     # values kept per layer for the histograms of the last step


def _std(total: float, squares: float, n: int, x: np.ndarray, start: int) -> float:
    """The std of x[start:start + n] from its sum and sum of squares; computed directly when
    that loses precision (the mean much larger than the std)."""
    mean = total / n
    var = squares / n - mean * mean
    if not var >= 1e-3 * mean * mean:
        if not math.isfinite(mean):
            return math.nan
        var = float(np.var(x[start:start + n]))
    return math.sqrt(var)


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

    __slots__ = ("name", "tensor", "col", "sl", "whole", "index", "wss", "gss", "finite", "has_grad",
                 "ratio", "hook_ss", "hook_calls")

    def __init__(self, name: str, tensor: ag.Tensor, col: int, sample: int, index: int) -> None:
        self.name, self.tensor, self.col, self.index = name, tensor, col, index
        # up to _WHOLE elements a parameter is used whole (exact, and fewer NumPy calls)
        self.sl = sample_slice(tensor.shape, max(sample, _WHOLE))
        self.sl = self.sl if self.sl.step == 1 else sample_slice(tensor.shape, sample)
        self.whole = self.sl.step == 1                # the sample is the whole parameter
        self.hook_ss = math.nan                       # its gradient's sum of squares, from backward
        self.hook_calls = 0
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


class Measuring:
    """The measuring half of `Monitor` (which holds the state these methods read)."""

    _params: list[_Param]
    _large: list[_Param]
    _mods: list[_Module]
    _step: int
    every: int
    thresholds: dict[str, float]

    def _snapshot(self) -> None:
        """Before the step's forward pass: copy the sampled elements of every parameter into one
        float64 array (a parameter of at most `sample` elements whole), with their sums, and take
        the weight norms (reading the large weights here also brings them into the cache for
        the forward pass)."""
        params = self._params
        parts = [p.tensor.data.reshape(-1)[p.sl] for p in params]
        lens = [a.size for a in parts]
        if lens != self._lens:
            self._lens = lens
            self._starts = np.concatenate([[0], np.cumsum(lens[:-1])]).astype(np.intp)
        b = np.concatenate(parts).astype(np.float64)
        bsum = np.add.reduceat(b, self._starts).tolist()
        bsq = np.add.reduceat(b * b, self._starts).tolist()
        for p in self._large:
            f = p.tensor.data.reshape(-1)
            p.wss = float(np.dot(f, f))
        for p in params:
            if p.whole:
                p.wss = bsq[p.index]
            p.finite = math.isfinite(p.wss)
        self._before, self._bsum, self._bsq = b, bsum, bsq
        self._snapped = True

    def _activation(self, st: _Module, h: np.ndarray) -> None:
        if h.dtype.kind != "f" or h.size == 0:
            return
        flat = h.reshape(-1)
        n = flat.size
        ss = float(np.dot(flat, flat))
        mean = float(np.add.reduce(flat)) / n
        var = ss / n - mean * mean
        if not (var >= 1e-4 * mean * mean and math.isfinite(var)):   # NaN/Inf, or cancellation
            mean, std, finite = moments(flat)
        else:
            std, finite = math.sqrt(var), True
        st.mean, st.std, st.act_finite = mean, std, finite
        # an operation's output is read-only (nothing writes into it): keep it, sample it if plotted
        st.act_sample = h if not h.flags.writeable else flat[sample_slice(h.shape, _HIST_SAMPLE)].copy()
        st.hist_step = self._step
        if not finite:
            return
        act = st.act
        if act == "relu":
            self._dead(st, h)
        elif act == "tanh":
            st.sat = np.count_nonzero(np.abs(flat) > self.thresholds["tanh_saturation"]) / n
        elif act == "sigmoid":
            st.sat = np.count_nonzero(np.abs(flat - 0.5) > self.thresholds["sigmoid_saturation"] - 0.5) / n

    def _dead(self, st: _Module, h: np.ndarray) -> None:
        """Units (last axis) with no positive value in the batch, and in the last dead_window steps."""
        rows = h.reshape(-1, h.shape[-1]) if h.ndim > 1 else h.reshape(1, -1)
        alive = rows.max(axis=0) > 0
        units = alive.size
        if st.last_alive is None or st.last_alive.size != units:
            st.first_seen = self._step
            st.last_alive = np.full(units, self._step - 1, np.int64)
        st.dead_batch = 1.0 - np.count_nonzero(alive) / units
        np.putmask(st.last_alive, alive, self._step)
        cutoff = max(self._step - int(self.thresholds["dead_window"]) + 1, st.first_seen)
        st.dead = np.count_nonzero(st.last_alive < cutoff) / units

    def _parameters(self, row: list[float]) -> None:
        """Gradient norms and update:data ratios of every parameter (weight norms were taken
        before the forward pass), in few NumPy calls: the samples of all parameters sit in one
        array; a large parameter's gradient norm was taken in backward (see _make_param_hook)."""
        params = self._params
        if not self._snapped:                   # the model itself was not called: no "before"
            self._snapshot()
            self._before = None
        gss = [math.nan] * len(params)
        small = [p for p in params if p.whole and p.tensor.grad is not None]
        if small:
            g = np.concatenate([p.tensor.grad.data.reshape(-1) for p in small]).astype(np.float64)
            gl = [p.tensor.size for p in small]
            sums = np.add.reduceat(g * g, np.concatenate([[0], np.cumsum(gl[:-1])]).astype(np.intp))
            for p, v in zip(small, sums.tolist()):
                gss[p.index] = v
        for p in self._large:
            if p.tensor.grad is not None:
                if p.hook_calls == 1:           # one backward, into an empty .grad: its norm
                    gss[p.index] = p.hook_ss
                else:
                    f = p.tensor.grad.data.reshape(-1)
                    gss[p.index] = float(np.dot(f, f))
            p.hook_calls = 0
        ratios = self._update_ratios()
        for p, g, r in zip(params, gss, ratios):
            p.has_grad = p.tensor.grad is not None
            p.gss = g
            if not (p.finite and (math.isfinite(g) or not p.has_grad)):
                self._nonfinite(p)
            p.ratio = r if p.has_grad else math.nan
            c = p.col
            row[c] = math.sqrt(p.gss) if p.gss >= 0 else math.nan
            row[c + 1] = math.sqrt(p.wss) if p.wss >= 0 else math.nan
            row[c + 2] = p.ratio

    def _nonfinite(self, p: _Param) -> None:
        """Sort out a parameter whose sums are not finite: NaN / Inf, or squares that overflowed."""
        p.wss, wfinite = sq_sum(p.tensor.data)
        p.finite = wfinite
        if not wfinite:
            p.wss = math.nan
        if p.has_grad:
            p.gss, gfinite = sq_sum(p.tensor.grad.data)
            p.finite &= gfinite
            if not gfinite:
                p.gss = math.nan

    def _update_ratios(self) -> list[float]:
        """log10 std(update) / std(weight before) of each parameter, on its sampled elements."""
        before, self._before = self._before, None
        lens, starts = self._lens, self._starts
        if before is None:
            return [math.nan] * len(lens)
        parts = [p.tensor.data.reshape(-1)[p.sl] for p in self._params]
        if [a.size for a in parts] != lens:         # a parameter's .data was reshaped
            return [math.nan] * len(lens)
        d = np.concatenate(parts).astype(np.float64)
        d -= before
        dsum = np.add.reduceat(d, starts).tolist()
        dsq = np.add.reduceat(d * d, starts).tolist()
        out = []
        for i, n in enumerate(lens):
            num = _std(dsum[i], dsq[i], n, d, starts[i])
            den = _std(self._bsum[i], self._bsq[i], n, before, starts[i])
            out.append(log10_ratio(num, den))
        return out

    def _modules(self, row: list[float]) -> None:
        for st in self._mods:
            c = st.col
            where = []
            if st.params:
                gss = wss = 0.0
                grads = finite = True
                for p in st.params:
                    wss += p.wss
                    gss += p.gss if p.has_grad else 0.0
                    grads = grads and p.has_grad
                    finite = finite and p.finite
                if grads or any(p.has_grad for p in st.params):
                    row[c + _G] = math.sqrt(gss)
                row[c + _W] = math.sqrt(wss)
                if not finite:
                    where.append("weights (or their gradients)")
                r = st.main.ratio
                if r == r:                                  # not NaN
                    row[c + _U] = r
                    e = st.ema
                    st.ema = r if (e != e or math.isinf(e) or math.isinf(r)) else e + _EMA * (r - e)
                row[c + _A] = st.ema
            if not st.act_finite:
                where.insert(0, "output")
            if not st.grad_finite:
                where.append("output's gradient")
            row[c + _AM], row[c + _AS], row[c + _S], row[c + _D] = st.mean, st.std, st.sat, st.dead
            row[c + _DB] = st.dead_batch
            if st.grad_seen:
                row[c + _OG] = math.sqrt(st.out_sq) if st.grad_finite else math.nan
            row[c + _NF] = 1.0 if where else 0.0
            st.nonfinite_where = where
            st.reset()
