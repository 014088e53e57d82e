"""Custom operations: `ag.Function` with forward and backward on ndarrays."""

from __future__ import annotations

from typing import Any

import numpy as np

from .node import LockingNode, Node, leaf_node
from .protection import hold, protect
from .record import new_node, unrecorded
from .tensor import CLOCK, RECORD, STATE, Tensor, _new, no_grad


class FunctionCtx:
    """What `forward` hands to `backward`: saved arrays and which inputs need a gradient."""

    def __init__(self, needs_input_grad: tuple) -> None:
        self.needs_input_grad = needs_input_grad
        self._saved: tuple | None = ()

    def save_for_backward(self, *arrays: Any) -> None:
        """Keep arrays (inputs, the output, intermediates) for `backward`."""
        self._saved = arrays

    @property
    def saved_arrays(self) -> tuple:
        """What `save_for_backward` kept (ndarrays, as `forward` saw them); `saved_tensors` is
        PyTorch's name for the same tuple."""
        if self._saved is None:
            raise RuntimeError(
                "the saved arrays of this Function were freed after the first backward; pass "
                "retain_graph=True to the first backward() to backward through it again")
        return self._saved

    saved_tensors = saved_arrays        # PyTorch's name (the values are ndarrays here too)


class FunctionNode(LockingNode):
    """A Node whose gradients come from one call of a user's `Function.backward`."""

    __slots__ = ("fn", "ctx", "in_shapes")
    rule_per_input = False
    user_rule = True        # the arrays backward returns may be the user's (see `engine._propagate`)
    fn: Any             # the Function subclass, set by its apply
    ctx: Any            # its context object
    in_shapes: tuple    # the shapes of forward's inputs

    def vjp(self, g: Any, need: Any, create_graph: bool) -> list:
        arr = np.asarray(g._data if isinstance(g, Tensor) else g).view()
        arr.setflags(write=False)       # it may be other tensors' gradient too (add shares one)
        name = self.fn.__name__
        with no_grad():
            try:
                grads = self.fn.backward(self.ctx, arr)
            except ValueError as err:
                if "read-only" not in str(err):
                    raise
                raise ValueError(
                    f"{name}.backward wrote into a read-only array: the gradient it receives (the same "
                    f"array may be other tensors' gradient) or an array a graph holds; compute a new "
                    f"array instead (grad = grad * 3, not grad *= 3)") from err
        if isinstance(grads, list):
            grads = tuple(grads)
        elif not isinstance(grads, tuple):
            grads = (grads,)
        if len(grads) != len(self.parents):
            raise RuntimeError(
                f"{name}.backward returned {len(grads)} gradient(s), but forward took "
                f"{len(self.parents)} input(s); return one gradient (or None) per forward input")
        out: list = []
        for i, (gi, parent, shape) in enumerate(zip(grads, self.parents, self.in_shapes)):
            if parent is None or gi is None:
                out.append(None)
                continue
            gi = np.asarray(gi._data if isinstance(gi, Tensor) else gi)
            if gi.shape != shape:
                raise RuntimeError(
                    f"{name}.backward returned a gradient of shape {gi.shape} for input {i}, "
                    f"which has shape {shape}; the shapes must be equal")
            if create_graph:    # depends on g and the inputs, but cannot be differentiated
                # (a copy: backward may return an array the user holds, such as an input's own
                # value or a saved array, and this Tensor may become a leaf's .grad as it is)
                gi = np.array(gi)
                g_node = (g._node or leaf_node(g)) if isinstance(g, Tensor) and g.requires_grad else None
                gi = _new(gi, _NotDifferentiable(name, (self, g_node), gi))
            out.append(gi)
        return out

    def release(self) -> None:
        LockingNode.release(self)
        self.ctx._saved = None


class _NotDifferentiable(Node):
    """Marks a gradient made by a custom Function's backward: it cannot be differentiated."""

    __slots__ = ()
    rule_per_input = False

    def __init__(self, name: str, parents: tuple, g: np.ndarray) -> None:
        self.setup(f"{name}.backward", parents, (), (), (), None, g.shape, g.dtype)

    def vjp(self, g: Any, need: Any, create_graph: bool) -> list:
        raise RuntimeError(
            f"{self.name} cannot be differentiated: custom Functions are differentiable once. "
            f"For higher-order gradients write the operation with ag operations instead")


class Function:
    """Base class of custom operations.

    Subclasses define `forward(ctx, *args)` and `backward(ctx, grad)` as static methods on
    ndarrays; `backward` returns one gradient (or None) per forward input. Use `Cls.apply(...)`.
    """

    @staticmethod
    def forward(ctx: FunctionCtx, *args: Any) -> Any:
        raise NotImplementedError("a Function subclass must define forward(ctx, *args)")

    @staticmethod
    def backward(ctx: FunctionCtx, grad: np.ndarray) -> Any:
        raise NotImplementedError("a Function subclass must define backward(ctx, grad)")

    @classmethod
    def apply(cls, *args: Any) -> Tensor:
        """Run forward on the arrays of `args` and record the operation."""
        needs = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        ctx = FunctionCtx(needs)
        # `.data`, as user code gets it: an array a live graph saved comes read-only
        arrays = [a.data if isinstance(a, Tensor) else a for a in args]
        with no_grad():
            out = cls.forward(ctx, *arrays)
        name = cls.__name__
        if isinstance(out, (tuple, list)):
            raise TypeError(f"{name}.forward returned a {type(out).__name__}: a Function has one "
                            f"output array; for several outputs write one Function per output")
        if isinstance(out, Tensor):
            out = out._data
        out = np.asarray(out)
        if out.dtype.kind not in "biufc":
            raise TypeError(f"{name}.forward must return a numeric array, got dtype {out.dtype}")
        mode = STATE.recording
        if mode < RECORD or not any(needs) or out.dtype.kind not in "fc":  # integers: no gradient
            return unrecorded(name, out, mode)
        # saved arrays that are an input's value are version-checked and locked like any op's;
        # every other saved array (a view of an input such as `a.T`, an ndarray argument, an
        # intermediate) is locked with the memory it views, or copied when no lock can hold it
        kept = ctx._saved or ()
        saved = tuple(a for a in args if isinstance(a, Tensor) and any(s is a._data for s in kept))
        locked: tuple = ()
        for t in saved:
            locked += hold(t)[1]
        own = [t._data for t in saved]
        protected = []
        for s in kept:
            if isinstance(s, np.ndarray) and not any(s is o for o in own):
                s, lk = protect(s)
                locked += lk
            protected.append(s)
        if kept:
            ctx._saved = tuple(protected)
        # the output array came from user code, which may keep it (or return an input's array):
        # held like a saved array, since the nodes of later operations save it as the output of
        # an operation, which they otherwise take as nobody else's
        out, lk = protect(out)
        locked += lk
        parents = tuple(a._node or leaf_node(a) if need else None for a, need in zip(args, needs))
        result = new_node(FunctionNode, name, parents, (), saved, (), locked, out, False, args, mode)
        node = result._node
        node.fn = cls
        node.ctx = ctx
        node.in_shapes = tuple(np.shape(a) for a in arrays)
        # the lock above lasts as long as this node's saved values: a backward through it
        # releases it while later nodes may still save the output. Dated as an array assigned
        # to `.data` is (`protection.hold`: the user may hold it), each node that saves the
        # output locks it for itself
        result._version = next(CLOCK)
        return result
