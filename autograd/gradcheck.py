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


def _numerical(fn: Callable, inputs: tuple, i: int, eps: float, n_out: list) -> list:
    """Columns of d out_k / d input_i by central differences, one (out.size, in.size) per output."""
    x = inputs[i]
    base = x._data.astype(x.dtype, copy=True)
    flat = base.reshape(-1)
    jac = [np.zeros((n, flat.size)) for n in n_out]
    for m in range(flat.size):
        vals = []
        for step in (eps, -eps):
            pert = flat.copy()
            pert[m] += step
            moved = Tensor(pert.reshape(base.shape), requires_grad=True)
            args = [moved if a is x else a for a in inputs]     # a tensor passed twice moves twice
            outs = _outputs(fn(*args))      # grad mode stays on: fn may differentiate inside
            vals.append([np.asarray(o._data, dtype=np.float64).reshape(-1) if o is not None
                         else None for o in outs])
        for k in range(len(n_out)):
            if vals[0][k] is not None:
                jac[k][:, m] = (vals[0][k] - vals[1][k]) / (2 * eps)
    return jac


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
    name = _fn_name(fn)
    for pos, i in enumerate(diff_idx):
        numerical = _numerical(fn, inputs, i, eps, n_out)
        for k, o in enumerate(outs):
            if o is None:
                continue
            a = analytical[k][pos]
            n = numerical[k]
            err = np.abs(a - n)
            excess = err - (atol + rtol * np.abs(n))
            if excess.size and excess.max() > 0:
                r, c = np.unravel_index(np.argmax(excess), excess.shape)
                out_idx = [int(j) for j in np.unravel_index(r, o.shape)] if o.shape else []
                in_idx = [int(j) for j in np.unravel_index(c, inputs[i].shape)] if inputs[i].shape else []
                with np.errstate(divide="ignore", invalid="ignore"):
                    rel = np.where(err == 0, 0.0, err / np.abs(n))     # inf where numerical is 0
                msg = (
                    f"gradcheck of {name}: the gradient of output {k} (shape {o.shape}) with "
                    f"respect to input {i} (shape {inputs[i].shape}"
                    f"{', ' + repr(inputs[i].name) if inputs[i].name else ''}) is wrong.\n"
                    f"  worst element: d output{out_idx} / d input{in_idx}\n"
                    f"  analytical {a[r, c]:.10g}  numerical {n[r, c]:.10g}\n"
                    f"  largest absolute error {err.max():.3g}, largest relative error "
                    f"{rel.max():.3g} (atol={atol}, rtol={rtol}, eps={eps})")
                if raise_exception:
                    raise GradcheckError(msg)
                return False
    return True


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


