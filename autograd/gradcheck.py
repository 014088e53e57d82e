"""Gradients against central finite differences."""

from __future__ import annotations

import warnings
from typing import Any, Callable

import numpy as np

from .engine import grad
from .tensor import Tensor


class GradcheckError(RuntimeError):
    """Analytical and numerical gradients disagree; the message says where and by how much."""


def _outputs(result: Any) -> tuple:
    if isinstance(result, Tensor):
        return (result,)
    if isinstance(result, (tuple, list)) and all(isinstance(r, Tensor) or r is None for r in result):
        return tuple(result)
    raise TypeError(f"gradcheck: fn must return a Tensor or a tuple of Tensors, got {type(result).__name__}")


def _fn_name(fn: Callable) -> str:
    owner = getattr(fn, "__self__", None)
    if isinstance(owner, type):             # e.g. a custom Function's `Cube.apply`
        return f"{owner.__name__}.{fn.__name__}"
    return getattr(fn, "__qualname__", None) or type(fn).__name__


def _differentiable(inputs: tuple, what: str) -> list:
    """Positions of the inputs that require grad; warns (at the caller's caller) for those
    that are not float64."""
    diff_idx = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not diff_idx:
        raise ValueError(f"{what}: no input requires grad; create inputs with requires_grad=True")
    for i in diff_idx:
        if inputs[i].dtype != np.float64:
            warnings.warn(
                f"{what}: input {i} is {inputs[i].dtype}, not float64; finite differences "
                f"in low precision are unreliable", stacklevel=3)
    return diff_idx


def _moved(fn: Callable, inputs: tuple, i: int, m: int, step: float) -> list:
    """The outputs of `fn` (flat float64 arrays, None where an output is None) with element `m`
    of input `i` moved by `step`."""
    x = inputs[i]
    # C order: element m of the flat (C-order) Jacobian column; reshape(-1) of another layout
    # (a Fortran-ordered input) is a copy, so the step would be lost and the difference zero
    pert = np.array(x._data, dtype=x.dtype, copy=True, order="C")
    pert.reshape(-1)[m] += step
    moved = Tensor(pert, requires_grad=True)
    args = [moved if a is x else a for a in inputs]     # a tensor passed twice moves twice
    outs = _outputs(fn(*args))      # grad mode stays on: fn may differentiate inside
    return [np.asarray(o._data, dtype=np.float64).reshape(-1) if o is not None else None
            for o in outs]


def _numerical(fn: Callable, inputs: tuple, i: int, eps: float, n_out: list) -> list:
    """Columns of d out_k / d input_i by central differences, one (out.size, in.size) per output."""
    jac = [np.zeros((n, inputs[i].size)) for n in n_out]
    for m in range(inputs[i].size):
        up, down = _moved(fn, inputs, i, m, eps), _moved(fn, inputs, i, m, -eps)
        with np.errstate(invalid="ignore", over="ignore"):
            for k in range(len(n_out)):
                if up[k] is not None:
                    jac[k][:, m] = (up[k] - down[k]) / (2 * eps)
    return jac


def _worst(a: np.ndarray, n: np.ndarray, atol: float, rtol: float) -> tuple | None:
    """The (row, column) where the analytical `a` and numerical `n` Jacobians disagree most, or
    None. NaN or Inf on one side only, or different non-finite values, always disagree (and
    come first); finite pairs disagree past atol + rtol * |n|."""
    finite = np.isfinite(a) & np.isfinite(n)
    same = (a == n) | (np.isnan(a) & np.isnan(n))
    odd = ~finite & ~same
    if odd.any():
        return np.unravel_index(np.argmax(odd), odd.shape)
    excess = np.where(finite, np.abs(a - n) - (atol + rtol * np.abs(n)), 0.0) if finite.size else finite
    if excess.size and excess.max() > 0:
        return np.unravel_index(np.argmax(excess), excess.shape)
    return None


def _conditioning(fn: Callable, inputs: tuple, i: int, k: int, r: int, c: int, eps: float,
                  analytical: float, atol: float, rtol: float) -> str:
    """A remedy when the central difference at this element is itself unreliable: a kink (the
    one-sided differences disagree, and still as much with a step ten times smaller, as abs or
    relu at 0), a steep change (the central difference moves when the step shrinks, as near a
    pole), or a NaN/Inf within eps of the point. A smooth function passes all three, so a
    plainly wrong gradient gets no remedy."""
    at = {step: _moved(fn, inputs, i, c, step)[k][r] for step in (0.0, eps, -eps, eps / 10, -eps / 10)}
    if not np.isfinite(list(at.values())).all():
        return (f"\n  the function is NaN or Inf within eps of this point (f(x - eps) = {at[-eps]:.6g}, "
                f"f(x) = {at[0.0]:.6g}, f(x + eps) = {at[eps]:.6g}): the point is at the edge of the "
                f"function's domain, where finite differences fail; check at a point inside it, or "
                f"with a smaller `eps`")
    f0 = at[0.0]
    right, left = (at[eps] - f0) / eps, (f0 - at[-eps]) / eps
    gap, gap_small = right - left, (at[eps / 10] + at[-eps / 10] - 2 * f0) / (eps / 10)
    central, central_small = (right + left) / 2, (at[eps / 10] - at[-eps / 10]) / (eps / 5)
    kink = abs(gap) > atol + rtol * max(abs(right), abs(left)) and abs(gap_small) > abs(gap) / 2
    steep = abs(central - central_small) > atol + rtol * abs(central_small)
    if not (kink or steep):
        return ""
    side = ""
    for name, v in (("right", right), ("left", left)):
        if kink and abs(analytical - v) <= atol + rtol * abs(v):
            side = f"; the analytical value matches the difference from the {name}"
    what = (f"the one-sided differences disagree (from the right {right:.6g}, from the left "
            f"{left:.6g}){side}: a kink (abs or relu at 0, max at a tie)" if kink else
            f"the central difference changes with the step ({central:.6g} with eps={eps}, "
            f"{central_small:.6g} with eps={eps / 10:g}): a steep change (near a pole)")
    return (f"\n  the numerical derivative is unreliable here: {what} within eps of this point, "
            f"where central differences do not give the derivative; check at a point away from "
            f"it, or pass a different `eps` (smaller near a pole)")


def _analytical(outs: tuple, diff: list) -> list:
    """Rows of d out_k / d input for every differentiable input, via one backward per element."""
    result = [[np.zeros((o.size if o is not None else 0, x.size)) for x in diff] for o in outs]
    for k, o in enumerate(outs):
        if o is None or not o.requires_grad:
            continue
        for j in range(o.size):
            seed = np.zeros(o.size, dtype=o.dtype)
            seed[j] = 1
            grads = grad(o, diff, seed.reshape(o.shape), retain_graph=True, allow_unused=True)
            for idx, gi in enumerate(grads):
                if gi is not None:
                    result[k][idx][j] = np.asarray(gi._data, dtype=np.float64).reshape(-1)
    return result


def gradcheck(fn: Callable, inputs: Any, *, eps: float = 1e-6, atol: float = 1e-5,
              rtol: float = 1e-3, raise_exception: bool = True) -> bool:
    """Compare the gradients of `fn(*inputs)` with central finite differences.

    Every input that requires grad is checked against every output. On a mismatch raises
    `GradcheckError` naming the input, output, worst element, both values and the errors
    (or returns False with `raise_exception=False`).
    """
    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    diff_idx = _differentiable(inputs, "gradcheck")
    outs = _outputs(fn(*inputs))
    diff = [inputs[i] for i in diff_idx]
    analytical = _analytical(outs, diff)
    n_out = [o.size if o is not None else 0 for o in outs]
    for pos, i in enumerate(diff_idx):
        numerical = _numerical(fn, inputs, i, eps, n_out)
        for k, o in enumerate(outs):
            if o is None:
                continue
            worst = _worst(analytical[k][pos], numerical[k], atol, rtol)
            if worst is not None:
                msg = _report(fn, inputs, i, k, o, analytical[k][pos], numerical[k], worst,
                              eps, atol, rtol)
                if raise_exception:
                    raise GradcheckError(msg)
                return False
    return True


def _report(fn: Callable, inputs: tuple, i: int, k: int, o: Tensor, a: np.ndarray,
            n: np.ndarray, worst: tuple, eps: float, atol: float, rtol: float) -> str:
    r, c = (int(j) for j in worst)
    out_idx = [int(j) for j in np.unravel_index(r, o.shape)] if o.shape else []
    in_idx = [int(j) for j in np.unravel_index(c, inputs[i].shape)] if inputs[i].shape else []
    finite = np.isfinite(a) & np.isfinite(n)
    with np.errstate(divide="ignore", invalid="ignore"):
        err = np.where(finite, np.abs(a - n), 0.0)
        rel = np.where(err == 0, 0.0, err / np.abs(n))     # inf where numerical is 0
    nonfinite = int(np.count_nonzero(~finite & ~((a == n) | (np.isnan(a) & np.isnan(n)))))
    odd = (f"\n  {nonfinite} element(s) are NaN or Inf on one side only (or differ in kind)"
           if nonfinite else "")
    return (
        f"gradcheck of {_fn_name(fn)}: the gradient of output {k} (shape {o.shape}) with "
        f"respect to input {i} (shape {inputs[i].shape}"
        f"{', ' + repr(inputs[i].name) if inputs[i].name else ''}) is wrong.\n"
        f"  worst element: d output{out_idx} / d input{in_idx}\n"
        f"  analytical {a[r, c]:.10g}  numerical {n[r, c]:.10g}{odd}\n"
        f"  largest absolute error {err.max() if err.size else 0:.3g}, largest relative error "
        f"{rel.max() if rel.size else 0:.3g} among finite pairs (atol={atol}, rtol={rtol}, eps={eps})"
        + (_unused(i) if not n.any() and a.any() else
           _conditioning(fn, inputs, i, k, r, c, eps, float(a[r, c]), atol, rtol)))


def _unused(i: int) -> str:
    """The remedy when moving input `i` never changed the output, though its gradient is not zero."""
    return (f"\n  moving input {i} never changed the output, so its true gradient is zero; if fn "
            f"should depend on it: fn is called with moved copies of the inputs and must compute "
            f"from its arguments (a closure over the tensor itself, as `lambda w: "
            f"loss(model(x))` for a model's parameter, ignores them)")


def gradgradcheck(fn: Callable, inputs: Any, grad_outputs: Any = None, *, eps: float = 1e-6,
                  atol: float = 1e-5, rtol: float = 1e-3, raise_exception: bool = True,
                  seed: int = 0) -> bool:
    """Check second derivatives: gradcheck of the (create_graph) gradient of `fn`.

    `grad_outputs` default to random float64 tensors (from `seed`); they are checked too.
    """
    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    outs = _outputs(fn(*inputs))
    if grad_outputs is None:
        rng = np.random.default_rng(seed)
        grad_outputs = tuple(Tensor(rng.standard_normal(o.shape), requires_grad=True) for o in outs)
    elif isinstance(grad_outputs, (Tensor, np.ndarray)):
        grad_outputs = (grad_outputs,)
    grad_outputs = tuple(g if isinstance(g, Tensor) else Tensor(np.asarray(g, np.float64),
                                                                requires_grad=True)
                         for g in grad_outputs)
    if len(grad_outputs) != len(outs):
        raise ValueError(f"gradgradcheck: got {len(grad_outputs)} grad_outputs for {len(outs)} "
                         f"output(s) of {_fn_name(fn)}; give one per output")
    for i, (go, o) in enumerate(zip(grad_outputs, outs)):
        if tuple(np.shape(go)) != tuple(o.shape):
            raise ValueError(f"gradgradcheck: grad_outputs[{i}] has shape {tuple(np.shape(go))}, "
                             f"output {i} has shape {tuple(o.shape)}")
    n = len(inputs)
    diff_idx = _differentiable(inputs, "gradgradcheck")

    def first_derivatives(*args: Any) -> tuple:
        ins, gos = args[:n], args[n:]
        o = _outputs(fn(*ins))
        pairs = [(oo, go) for oo, go in zip(o, gos) if oo is not None and oo.requires_grad]
        gs = grad([p[0] for p in pairs], [ins[i] for i in diff_idx], [p[1] for p in pairs],
                  create_graph=True, allow_unused=True)
        return tuple(gs)

    first_derivatives.__qualname__ = f"the gradient of {_fn_name(fn)}"
    with warnings.catch_warnings():     # the low-precision warning was given above, at the caller
        warnings.filterwarnings("ignore", message="gradcheck: input")
        return gradcheck(first_derivatives, inputs + grad_outputs, eps=eps, atol=atol, rtol=rtol,
                         raise_exception=raise_exception)


