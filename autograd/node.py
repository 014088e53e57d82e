"""The recorded graph: a `Node` per operation, a `LeafNode` per leaf that requires grad.

A node holds its parents (the Nodes of the inputs that need a gradient; one or two in the
node's own slots, so a deep graph keeps one object per operation), one vector-Jacobian rule
per input (or one joint rule), and what those rules need (`saved` operands, `ans` the output
value). `record.py` makes them; `engine.py` walks them.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any, Sequence

import numpy as np

from .protection import unlock_arrays, unlock_later
from .tensor import CLOCK, Tensor, _new


class Node:
    """One recorded operation: parents, per-input gradient rules, and what the rules need."""

    # The parents of a node of one or two inputs live in its own slots `p0`, `p1`, not in a
    # tuple: one object per recorded operation for the garbage collector to walk (a full
    # collection walks every live node), not two. A node of three inputs or more keeps them
    # all as a tuple in `p1` (`p0` their first). `parents` reads them as one tuple. Few slots:
    # each is one more write per operation, and one more field each collection visits.
    __slots__ = ("name", "p0", "p1", "arity", "vjps", "saved", "arrays", "ans", "shape",
                 "dtype", "scope", "meta", "seq", "__weakref__")
    rule_per_input = True   # `vjps[i]` gives input i's gradient (False: the node's own `vjp` computes them)
    user_rule = False       # its gradients come from user code (a custom Function's backward)
    p0: Any
    p1: Any                 # a Node, None, or (three inputs or more) the tuple of all parents
    arrays: Any             # a tuple; None once released (`freed`)

    # No __init__: `cls()` makes a node faster than `object.__new__(cls)` (`record.node_tensor`
    # writes an operation's node's fields itself; the other nodes call `setup`).

    def setup(self, name: str, parents: tuple, vjps: Any, saved: tuple, arrays: tuple,
              ans: np.ndarray | None, shape: tuple, dtype: np.dtype) -> None:
        """Write the node's fields (`record.node_tensor` writes the same ones)."""
        self.name = name
        # the Nodes of the inputs (None: that input needs no gradient), see `parents`
        n = self.arity = len(parents)
        self.p0 = parents[0] if n else None
        self.p1 = parents[1] if n == 2 else parents if n > 2 else None
        self.vjps = vjps            # rule(g, ans, *saved) -> gradient of that input
        self.saved = saved          # operands the rules read, when one is a Tensor to version-
        #                             check; empty when all are constants (nothing to check or
        #                             free: such a node can run in a second backward)
        self.arrays = arrays        # the same operands as arrays, for first-order backward;
        #                             None once released (`freed`)
        self.ans = ans              # output value, when a rule needs it
        self.shape = shape
        self.dtype = dtype
        self.scope = ()             # module scope at creation, for draw_graph clusters (new_node)
        self.meta: dict | None = None   # rarely used extras: hooks, creation trace, recorded grad norm
        # creation time: the nodes of its inputs are older, and a saved Tensor whose _version
        # (time of its last .data replacement) is later was replaced after it was saved
        self.seq = next(CLOCK)

    @property
    def parents(self) -> tuple:
        """The Nodes of the inputs, one per input, in order (None: that input needs no gradient)."""
        n = self.arity
        if n == 2:
            return (self.p0, self.p1)
        if n == 1:
            return (self.p0,)
        return self.p1 if n else ()     # three inputs or more; () for a leaf

    @property
    def freed(self) -> bool:
        """Whether backward released what the rules saved (`arrays` is None then)."""
        return self.arrays is None

    # -- backward ----------------------------------------------------------------------

    def operands(self, create_graph: bool) -> tuple:
        """(ans, saved) for the rules: arrays, or Tensors when building a differentiable graph
        (the output then is a Tensor made by this node, so its dependence is recorded), except
        for a node older than the tensors the next derivative is taken with respect to (`run`'s
        `wrt`): constants to it, its operands are arrays, and only the work on `g` is recorded."""
        if create_graph:
            if self.seq < _HORIZON.seq:
                return self.ans, self.arrays
            if self.saved:
                self.check_copies()
            operands = self.saved or self.arrays    # Tensors where any were saved, else constants
            return (None if self.ans is None else _new(self.ans, self)), operands
        return self.ans, self.arrays

    def check_copies(self) -> None:
        """Where the node saved a copy of a tensor's memory (see `protect`), a differentiable
        backward still reads the tensor: raise if its memory changed since."""
        for t, arr in zip(self.saved, self.arrays):
            if isinstance(t, Tensor) and arr is not t._data and t._version <= self.seq \
                    and not np.array_equal(arr, t._data, equal_nan=True):
                raise RuntimeError(
                    f"a tensor saved by '{self.name}' for its backward was modified after it was "
                    f"saved: {_describe(t)} shares memory with an array that was written "
                    f"since (through a view made before the graph saved it); with "
                    f"create_graph=True its gradient would be wrong")

    def vjp(self, g: Any, need: Sequence[bool] | None, create_graph: bool) -> list:
        """The gradient for each parent (None where no gradient is wanted)."""
        ans, saved = self.operands(create_graph)
        out: list = []
        for i, parent in enumerate(self.parents):
            if parent is None or (need is not None and not need[i]):
                out.append(None)
            else:
                out.append(self.vjps[i](g, ans, *saved))
        return out

    def check_saved(self) -> None:
        """Raise if the graph was freed or a saved tensor changed since it was saved."""
        if self.arrays is None:
            raise RuntimeError(
                f"trying to backward through the graph a second time: the values saved by "
                f"'{self.name}' were freed after the first backward; pass retain_graph=True to "
                f"the first backward() (or ag.grad) if you need to backward through it again")
        for t in self.saved:
            if isinstance(t, Tensor) and t._version > self.seq:
                raise RuntimeError(
                    f"a tensor saved by '{self.name}' for its backward was modified after it was "
                    f"saved: {_describe(t)} had its .data replaced, a newer version than the one "
                    f"saved. Do not assign or write into .data between the forward pass and "
                    f"backward()")
        for p in self.parents:
            if type(p) is LeafNode and p.since > self.seq:
                t = p.tensor()
                raise RuntimeError(
                    f"backward: '{self.name}' was recorded when its input, "
                    f"{'a leaf' if t is None else _describe(t)} now, had another shape: its .data "
                    f"was replaced since (and the tensor used again), so the gradient of the old "
                    f"shape cannot be given to it; run the forward pass again")
        if self.ans is not None and self.meta and self.meta.get("ans_stale"):
            raise RuntimeError(
                f"the output of '{self.name}' (shape {self.shape}) was replaced through .data after "
                f"'{self.name}' saved it for its backward; its gradient would be wrong")

    def release(self) -> None:
        """Drop what the rules saved."""
        self.saved = ()
        self.arrays = None
        self.ans = None

    # -- introspection -----------------------------------------------------------------

    def set_meta(self, key: str, value: Any) -> None:
        if self.meta is None:
            self.meta = {}
        self.meta[key] = value

    @property
    def trace(self) -> str | None:
        """Where in user code this node was created (recorded under detect_anomaly)."""
        return self.meta.get("trace") if self.meta else None

    def __repr__(self) -> str:
        return f"<{self.name} {self.shape}>"


class LockingNode(Node):
    """A Node that locked arrays the user can reach (`locked`, see `protection.hold`): it unlocks them when
    released, or when it dies if its graph is dropped without a backward."""

    __slots__ = ("locked",)
    locked: tuple

    def release(self) -> None:
        if self.arrays is not None:
            if self.locked:
                unlock_arrays(self.locked)
                self.locked = ()
            self.saved = ()         # `Node.release(self)`, inlined (once per node per backward)
            self.arrays = None
            self.ans = None

    def __del__(self) -> None:
        # a finalizer may run inside any allocation, even while this thread holds the lock
        # guard: it never waits for it (see `unlock_later`)
        if self.arrays is not None:
            unlock_later(self.locked)
            self.locked = ()
            Node.release(self)


class JointNode(LockingNode):
    """A fused operation whose gradients share work: one rule `vjps(g, ans, need, *saved)`
    returns the gradients of all inputs at once (`need[i]` says which are wanted)."""

    __slots__ = ()
    rule_per_input = False

    def vjp(self, g: Any, need: Sequence[bool] | None, create_graph: bool) -> list:
        ans, saved = self.operands(create_graph) if create_graph else (self.ans, self.arrays)
        wanted = [p is not None for p in self.parents] if need is None else \
            [p is not None and need[i] for i, p in enumerate(self.parents)]
        return list(self.vjps(g, ans, wanted, *saved))


class LeafNode(Node):
    """The node of a leaf tensor: the backward pass ends here and accumulates into `.grad`."""

    __slots__ = ("tensor", "since")

    def __init__(self, t: Tensor) -> None:
        self.setup("leaf", (), (), (), (), None, t._data.shape, t._data.dtype)
        self.tensor = weakref.ref(t)
        # when `shape` was last changed (a CLOCK time; 0: it is the shape the node was made
        # with): a node recorded earlier saw the leaf at another shape (`Node.check_saved`)
        self.since = 0
        self.scope = ()
        if t.name:              # draw_graph still names the leaf once the tensor is gone
            self.meta = {"name": t.name}

    def check_saved(self) -> None:
        pass

    def release(self) -> None:
        pass

    def __repr__(self) -> str:
        t = self.tensor()
        return f"<leaf {t.name if t is not None and t.name else self.shape}>"


_LEAF_GUARD = threading.Lock()      # threads using a fresh leaf at once must share its node


def leaf_node(t: Tensor) -> LeafNode:
    """The LeafNode of `t`, made on first use (once, even when several threads use `t` first)."""
    node = t._leaf
    if node is None:
        with _LEAF_GUARD:
            node = t._leaf
            if node is None:
                node = t._leaf = LeafNode(t)
    elif t._version:        # its .data was replaced: the node follows the new value's shape and
        data = t._data      # dtype, and dates a new shape (the nodes recorded before it sent a
        if data.shape != node.shape:    # gradient of the old shape: `Node.check_saved`)
            node.since = next(CLOCK)
            node.shape = data.shape
        node.dtype = data.dtype
    return node


def _describe(t: Tensor) -> str:
    return f"tensor {t.name!r} of shape {t.shape}" if t.name else f"a tensor of shape {t.shape}"


class _Horizon(threading.local):
    seq = 0         # per thread: nodes created before it read their operands as constants (`run`)


_HORIZON = _Horizon()
