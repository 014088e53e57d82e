"""What the monitor measures at a recorded step: the per-parameter and per-module state, and
the methods that fill one row of the history (a mixin of `Monitor`).

The hot path of a recorded step: as few NumPy calls as possible (each costs 1 to 3 us here).
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

import autograd as ag

from ..layers import Dense, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from ..module import Module
from ._stats import log10_ratio, moments, sample_slice, sq_sum

__all__ = ["MODULE_KEYS", "PARAM_KEYS", "Measuring", "activation_of", "describe", "keep_sample"]

MODULE_KEYS = ("grad_norm", "weight_norm", "update_ratio", "update_ratio_avg", "act_mean", "act_std",
               "saturated", "dead", "dead_batch", "out_grad_norm", "nonfinite", "flags")
PARAM_KEYS = ("grad_norm", "weight_norm", "update_ratio")
_M = {k: i for i, k in enumerate(MODULE_KEYS)}
_P = {k: i for i, k in enumerate(PARAM_KEYS)}
_ACTIVATIONS = ("relu", "leaky_relu", "tanh", "sigmoid", "softmax")
_G, _W, _U, _A, _AM, _AS, _S, _D, _DB, _OG, _NF, _F = range(len(MODULE_KEYS))
_EMA = 0.2              # weight of the newest step in the averaged update:data ratio (~10 steps)
_WHOLE = 16384         # parameters up to this size are not sampled
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


def keep_sample(buf: np.ndarray | None, v: np.ndarray) -> np.ndarray:
    """`v` copied into `buf` if it fits, else into a new array."""
    if buf is not None and buf.shape == v.shape and buf.dtype == v.dtype:
        np.copyto(buf, v)
        return buf
    return v.copy()


def _ignore(grad: ag.Tensor) -> None:
    """A placeholder output-gradient hook."""


def _grad_of(p: _Param) -> np.ndarray:
    g = p.tensor.grad
    assert g is not None
    return g.data


def _ratio(dsum: float, dsq: float, bsum: float, bsq: float, n: int, work: np.ndarray,
           start: int) -> float:
    """log10 std(update) / std(before) from their sums over n elements (rows 2 and 0 of `work`
    from `start`), straight from the sums unless they lose precision."""
    md, mb = dsum / n, bsum / n
    vd, vb = dsq / n - md * md, bsq / n - mb * mb
    if vb > 0 and vd >= 1e-3 * md * md and vb >= 1e-3 * mb * mb and vd < math.inf and vb < math.inf:
        return 0.5 * math.log10(vd / vb) if vd > 0 else -math.inf
    return log10_ratio(_std(dsum, dsq, n, work[1], start), _std(bsum, bsq, n, work[0], start))


def activation_of(module: Module) -> str | None:
    """The activation a module ends with: "relu", "tanh", "sigmoid", ... or None."""
    for cls, name in ((ReLU, "relu"), (LeakyReLU, "leaky_relu"), (Tanh, "tanh"),
                      (Sigmoid, "sigmoid"), (Softmax, "softmax")):
        if isinstance(module, cls):
            return name
    if isinstance(module, Dense):
        act = module.activation_name
        return act if act in _ACTIVATIONS else None
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
    """One parameter's per-step state; `start` and `n` place its sample in the work matrix."""

    __slots__ = ("name", "tensor", "col", "sample", "sl", "shape", "whole", "index", "start", "n",
                 "wss", "gss", "finite", "has_grad", "ratio", "pre_gss", "pre_grad", "src_data",
                 "src", "dst_b", "dst_a", "dst_g", "seen")

    def __init__(self, name: str, tensor: ag.Tensor, col: int, sample: int, index: int) -> None:
        self.name, self.tensor, self.col, self.index = name, tensor, col, index
        self.sample = sample
        self.shape = tensor.shape
        self.sl = self.slice_for(tensor.shape)
        self.whole = self.sl.step == 1                # the sample is the whole parameter
        self.start = self.n = 0
        self.src_data: np.ndarray | None = None      # the array `src` (the sampled view) is of
        self.src = self.dst_b = self.dst_a = self.dst_g = np.zeros(0)
        self.pre_gss = math.nan                       # its gradient's sum of squares before the update
        self.pre_grad = False
        self.seen = False                             # read by the optimizer's update hooks this step
        self.wss = self.gss = self.ratio = math.nan
        self.finite = self.has_grad = True

    def view(self) -> np.ndarray | None:
        """The sampled elements of the parameter's current array (a view, kept while the
        parameter keeps its array); None if its shape changed."""
        data = self.tensor.data
        if data is not self.src_data:
            if data.shape != self.shape:
                return None
            v = data.reshape(-1)[self.sl]
            if not data.flags.c_contiguous:        # reshape copied: nothing to keep
                return v
            self.src_data, self.src = data, v
        return self.src

    def slice_for(self, shape: tuple) -> slice:
        """Up to _WHOLE elements a parameter is used whole (exact, and fewer NumPy calls)."""
        sl = sample_slice(shape, max(self.sample, _WHOLE))
        return sl if sl.step == 1 else sample_slice(shape, self.sample)


class _Module:
    """One monitored module's per-step state."""

    __slots__ = ("name", "module", "label", "act", "params", "main", "col", "mean", "std", "sat",
                 "dead", "dead_batch", "act_finite", "out_sq", "grad_finite", "grad_seen",
                 "last_alive", "first_seen", "act_sample", "grad_sample", "ema", "on_grad",
                 "nonfinite_where", "hist_step", "ones", "held")

    def __init__(self, name: str, module: Module, params: list[_Param], col: int) -> None:
        self.name, self.module, self.params, self.col = name, module, params, col
        self.label = describe(name, module)
        self.act = activation_of(module)
        # the parameter whose update:data ratio stands for the module: its weight, else the largest
        by_name = {p.name.rsplit(".", 1)[-1]: p for p in params}
        self.main = by_name.get("weight") or max(params, key=lambda p: p.tensor.size, default=None)
        self.last_alive: np.ndarray | None = None
        self.first_seen = 0
        self.act_sample: np.ndarray | None = None
        self.grad_sample: np.ndarray | None = None
        self.on_grad: Callable[[ag.Tensor], None] = _ignore     # set by Monitor._attach
        self.ones = np.ones(0)          # a ReLU's column sums: ones @ output
        self.hist_step = -1
        self.ema = math.nan
        self.nonfinite_where: list[str] = []
        self.held: list[np.ndarray] = []
        self.reset()

    def reset(self) -> None:
        self.mean = self.std = self.sat = self.dead = self.dead_batch = math.nan
        self.act_finite = self.grad_finite = True
        self.out_sq = 0.0
        self.grad_seen = False
        self.held.clear()


class Measuring:
    """The measuring half of `Monitor` (which holds the state these methods read).

    The sampled elements of every parameter sit side by side in one work matrix `_work`
    (float32 for a float32 model; rows: before, update, gradient (small parameters), then
    their squares), so that two element-wise passes and one `np.add.reduceat` give every
    parameter's sums."""

    _params: list[_Param]
    _large: list[_Param]
    _mods: list[_Module]
    _step: int
    every: int
    thresholds: dict[str, float]
    _snapped: bool
    _has_before: bool
    _hooked: bool
    _work: np.ndarray
    _large_by_id: dict[int, _Param]
    _flat_starts: np.ndarray
    _starts: np.ndarray

    def _layout(self) -> None:
        """Place each parameter's sample (its elements if small) in the work matrix."""
        s = 0
        for p in self._params:
            p.shape = p.tensor.shape
            p.sl = p.slice_for(p.shape)
            p.whole = p.sl.step == 1
            p.n = len(range(*p.sl.indices(p.tensor.size)))
            p.start, s = s, s + max(p.n, 1)         # an empty parameter keeps a slot of 0
        # float32 when every parameter is (the difference of two float32 values close to each
        # other is exact; sums are pairwise): half the bytes of float64 to pass over
        dtype = np.result_type(np.float32, *(p.tensor.dtype for p in self._params))
        self._work = work = np.zeros((6, max(s, 1)), dtype if dtype.kind == "f" else np.float64)
        self._large_by_id = {id(p.tensor): p for p in self._params if not p.whole}
        starts = np.array([p.start for p in self._params], np.intp)
        # one 1-D reduceat over the flattened matrix: much faster than along axis 1 of 2-D
        self._flat_starts = (starts + work.shape[1] * np.arange(6)[:, None]).reshape(-1)
        for p in self._params:
            sl = slice(p.start, p.start + p.n)
            p.src_data = None
            p.dst_b, p.dst_a = work[0, sl], work[1, sl]
            p.dst_g = work[2, sl].reshape(p.shape) if p.whole else work[2, sl]

    def _snapshot(self, grads: bool = False) -> None:
        """Before the update (when the step of an optimizer without update hooks begins, or
        without an optimizer before the step's forward pass): copy the sampled elements of
        every parameter into the work matrix and take the large parameters' weight norms,
        with `grads` their gradient norms."""
        for p in self._params:
            v = p.src if p.tensor.data is p.src_data else p.view()
            if v is None:                       # a parameter's .data was replaced: a new layout
                self._layout()
                v = p.view()
                assert v is not None
            np.copyto(p.dst_b, v)
            if not p.whole:
                f = p.tensor.data.reshape(-1)
                p.wss = float(np.dot(f, f))
                g = p.tensor.grad if grads else None
                if g is not None:
                    f = g.data.reshape(-1)
                    p.pre_gss = float(np.dot(f, f))
                    p.pre_grad = True
        self._snapped = self._has_before = True

    def _snapshot_small(self) -> None:
        """As the optimizer's step begins: copy the parameters used whole into the work matrix
        (the update hook reads the large ones)."""
        for p in self._params:
            v = p.src if p.tensor.data is p.src_data else p.view()
            if v is None:                       # a parameter's .data has a new shape
                self._layout()
                self._snapshot_small()
                return
            if p.whole:
                np.copyto(p.dst_b, v)

    def _make_update_hook(self) -> Callable:
        """The optimizer's update hook: just before a large parameter is updated, copy its
        sampled elements into the work matrix and take its weight and gradient norms, while the
        optimizer has it in the cache (cheaper than passes of their own)."""
        def before(t: ag.Tensor) -> None:
            p = self._large_by_id.get(id(t))
            if p is None:
                return
            x = t.data
            v = p.src if x is p.src_data else p.view()
            grad = t.grad
            if v is None or grad is None:       # a new shape: _parameters sees to it
                return
            np.copyto(p.dst_b, v)
            f = x.reshape(-1)
            p.wss = float(np.dot(f, f))
            f = grad.data.reshape(-1)
            p.pre_gss = float(np.dot(f, f))
            p.pre_grad = p.seen = True
        return before

    def _activation(self, st: _Module, h: np.ndarray) -> None:
        """Mean, std, and the saturated or dead share of one module's output: about five NumPy
        calls (a ReLU's column sums come from one matrix-vector product)."""
        if h.dtype.kind != "f" or h.size == 0:
            return
        flat = h.reshape(-1)
        n = flat.size
        ss = float(np.dot(flat, flat))
        act = st.act
        cols = None
        if act == "relu":
            rows = h.reshape(-1, h.shape[-1]) if h.ndim > 1 else h.reshape(1, -1)
            ones = st.ones
            if ones.shape[0] != rows.shape[0] or ones.dtype != rows.dtype:
                ones = st.ones = np.ones(rows.shape[0], rows.dtype)
            cols = ones @ rows                  # per unit: the sum over the batch
            mean = float(np.add.reduce(cols)) / n
        else:
            mean = float(np.add.reduce(flat)) / n
        var = ss / n - mean * mean
        if not (var >= 1e-4 * mean * mean and math.isfinite(var)):   # NaN/Inf, or cancellation
            mean, std, finite = moments(flat)
        else:
            std, finite = math.sqrt(var), True
        st.mean, st.std, st.act_finite = mean, std, finite
        # a sample for the histogram, in a kept buffer (keeping the output itself alive until
        # the next recorded step costs more: the memory of the next passes is then not reused)
        st.act_sample = keep_sample(st.act_sample, flat[sample_slice(h.shape, _HIST_SAMPLE)])
        st.hist_step = self._step
        if not finite:
            return
        if cols is not None:
            self._dead(st, cols)
        elif act == "tanh":
            st.sat = np.count_nonzero(np.abs(flat) > self.thresholds["tanh_saturation"]) / n
        elif act == "sigmoid":
            st.sat = np.count_nonzero(np.abs(flat - 0.5) > self.thresholds["sigmoid_saturation"] - 0.5) / n

    def _dead(self, st: _Module, cols: np.ndarray) -> None:
        """Units (last axis) with no positive value in the batch, and in the last dead_window
        steps, from the ReLU output's column sums (a sum of values >= 0 is > 0 exactly when
        one of them is)."""
        units = cols.size
        step = self._step
        if st.last_alive is None or st.last_alive.size != units:
            st.first_seen = step
            st.last_alive = np.full(units, step - 1, np.int64)
        alive = np.count_nonzero(cols)
        st.dead_batch = 1.0 - alive / units
        if alive == units:
            st.last_alive.fill(step)
            st.dead = 0.0
            return
        np.putmask(st.last_alive, cols, step)
        cutoff = max(step - int(self.thresholds["dead_window"]) + 1, st.first_seen)
        st.dead = np.count_nonzero(st.last_alive < cutoff) / units

    def _parameters(self, row: list[float]) -> None:
        """Gradient norms, weight norms and update:data ratios of every parameter in a handful
        of NumPy calls: one copy per parameter of its sampled elements after the update (and of
        a small parameter's gradient), two element-wise passes and one `reduceat` over the work
        matrix. A large parameter's weight and gradient norms were taken by the optimizer's
        update hook (else by _snapshot)."""
        params = self._params
        if not self._snapped:                   # the model itself was not called: no "before"
            self._snapshot()
            self._has_before = False
        work = self._work
        reshaped = False
        moved = set()           # parameters with a new shape within the step
        hooked = self._hooked
        for p in params:
            v = p.src if p.tensor.data is p.src_data else p.view()
            grad = p.tensor.grad
            p.has_grad = grad is not None
            if v is None:                       # a new shape within the step: no ratio
                reshaped = True
                moved.add(p.index)
                continue
            if hooked and not (p.whole or p.seen):  # not updated (no gradient): before = after
                np.copyto(p.dst_b, v)
                f = p.tensor.data.reshape(-1)
                p.wss = float(np.dot(f, f))
            np.copyto(p.dst_a, v)
            if p.whole:
                if grad is None:
                    p.dst_g.fill(0.0)
                else:
                    np.copyto(p.dst_g, grad.data)
        np.subtract(work[1], work[0], out=work[1])          # the update
        np.multiply(work[:3], work[:3], out=work[3:])       # squares
        sums = np.add.reduceat(work.reshape(-1), self._flat_starts).tolist()
        k = len(params)
        bsum, dsum = sums[:k], sums[k:2 * k]
        bsq, dsq, gsq = sums[3 * k:4 * k], sums[4 * k:5 * k], sums[5 * k:]
        ratios = self._has_before and not reshaped
        for i, p in enumerate(params):
            if p.index in moved:                # its norms as the step ends (its slots are stale)
                f = p.tensor.data.reshape(-1)
                p.wss = float(np.dot(f, f))
                g = math.nan
                if p.has_grad:
                    f = _grad_of(p).reshape(-1)
                    g = float(np.dot(f, f))
                p.pre_grad = False
            elif p.whole:
                p.wss, g = bsq[i], gsq[i]
            else:
                g = math.nan
                if p.has_grad:
                    if p.pre_grad:              # taken before the update
                        g = p.pre_gss
                    else:
                        f = _grad_of(p).reshape(-1)
                        g = float(np.dot(f, f))
                p.pre_grad = False
            p.seen = False
            p.gss = g if p.has_grad else math.nan
            p.finite = math.isfinite(p.wss)
            if not (p.finite and (math.isfinite(g) or not p.has_grad)):
                self._nonfinite(p)
            r = math.nan
            if ratios and p.has_grad and p.n:
                bq = bsq[i]
                if not p.whole and p.wss < math.inf:    # the weight's own sum of squares: exact
                    bq = p.wss * (p.n / p.tensor.size)
                r = _ratio(dsum[i], dsq[i], bsum[i], bq, p.n, work, p.start)
            p.ratio = r
            c = p.col
            gss, wss = p.gss, p.wss
            row[c] = math.sqrt(gss) if gss >= 0 else math.nan
            row[c + 1] = math.sqrt(wss) if wss >= 0 else math.nan
            row[c + 2] = r
        self._has_before = self._hooked = False
        if reshaped:                            # place the new shapes for the next step
            self._layout()

    def _nonfinite(self, p: _Param) -> None:
        """Sort out a parameter whose sums are not finite: NaN / Inf, or squares that overflowed."""
        p.wss, wfinite = sq_sum(p.tensor.data)
        p.finite = wfinite
        if not wfinite:
            p.wss = math.nan
        if p.has_grad:
            p.gss, gfinite = sq_sum(_grad_of(p))
            p.finite &= gfinite
            if not gfinite:
                p.gss = math.nan

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
                r = st.main.ratio if st.main is not None else math.nan
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
