"""Recording an operation: `record` (and its one- and two-operand forms) decides whether a node
is needed, holds what the rules will read (copied, locked or checked: see `protection`), and
`new_node` makes the node and the output Tensor (its fields written by `node_tensor`, the one
place either is made for an operation).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .node import JointNode, LockingNode, Node, leaf_node
from .protection import FROZEN, hold_constant, protect, shared
from .tensor import (
    _NDARRAY,
    CLOCK,
    OFF_OBSERVED,
    RECORD,
    RECORD_OBSERVED,
    RECORD_SCOPED,
    STATE,
    Tensor,
    _new,
)


def record(name: str, out: np.ndarray, inputs: tuple, vjps: Any, saved: tuple = (),
           keep_ans: bool = False, attrs: dict | None = None) -> Tensor:
    """Wrap `out` in a Tensor; if grad mode is on and an input requires grad, record a Node.

    `inputs` are the operands (Tensors or constants), `vjps` one rule per input (or, for a
    fused operation, one callable giving all inputs' gradients: see `JointNode`), `saved` the
    operands the rules read (passed after `g` and `ans`), `keep_ans` whether the rules read
    the output value. `attrs` (axis, shape, key, ...) go only to the observers (the ONNX
    tracer reads them); nothing keeps them.
    """
    mode = STATE.recording
    if mode < RECORD:
        return _unrecorded_view(name, out, mode, inputs)
    if len(inputs) == 2:        # the most frequent case, spelled out (faster than the general one)
        a, b = inputs
        pa = (a._node or leaf_node(a)) if isinstance(a, Tensor) and a._requires_grad else None
        pb = (b._node or leaf_node(b)) if isinstance(b, Tensor) and b._requires_grad else None
        if pa is None and pb is None:
            return _unrecorded_view(name, out, mode, inputs)
        parents: tuple = (pa, pb)
    elif len(inputs) == 1:      # the next most frequent (shape operations, reductions, indexing)
        x = inputs[0]
        if not (isinstance(x, Tensor) and x._requires_grad):
            return _unrecorded_view(name, out, mode, inputs)
        parents = (x._node or leaf_node(x),)
    else:
        parents = tuple([(x._node or leaf_node(x)) if isinstance(x, Tensor) and x._requires_grad
                         else None for x in inputs])
        if parents.count(None) == len(parents):
            return _unrecorded_view(name, out, mode, inputs)
    arrays = locked = ()
    if saved:
        arrays, locked, tensors = saved_arrays(saved)
        if not tensors:
            saved = ()  # only constants: nothing to version-check, the node can run again
    return new_node(None, name, parents, vjps, saved, arrays, locked, out, keep_ans, inputs, mode,
                    attrs)


def _unrecorded_view(name: str, out: Any, mode: int, inputs: tuple) -> Tensor:
    """`unrecorded`, for an output that may share an input's memory (a shape operation or
    indexing gives a view). It is a leaf whose `.data` is writable, so: a view of an
    operation's output (which a graph may read at backward) is made read-only, as that
    output's own `.data` is; in grad mode, a view of other memory (a leaf's, an ndarray's) is
    noted as shared (`protection.shared`), so a graph that saves that memory later saves a
    copy, which writes through the view cannot reach (as for `Tensor(A[:, :2])`)."""
    if type(out) is np.ndarray and (out.base is not None or (
            len(inputs) == 1 and type(inputs[0]) is Tensor and out is inputs[0]._data)):
        for x in inputs:
            xd = x._data if isinstance(x, Tensor) else x
            if isinstance(x, Tensor) and x._node is not None:
                if out is xd or np.may_share_memory(out, xd):
                    out.setflags(write=False)
                    break
            elif mode >= RECORD and type(xd) is np.ndarray and out is not xd and \
                    np.may_share_memory(out, xd):          # not under no_grad: eval stays fast
                shared(out)
                break
    return unrecorded(name, out, mode)


SAVE, SAVE_FOR_OTHER = 1, 2     # `record_binary`: an operand the rules read always, or only for
#                                 the other operand's gradient (0: never)


def record_binary(name: str, out: np.ndarray, a: Any, b: Any, vjps: tuple, save_a: int = 0,
                  save_b: int = 0, keep_ans: bool = False) -> Tensor:
    """`record` for an operation of two operands (elementwise arithmetic, the most frequent),
    with less work per call: the rules get `(a, b)` (their arrays) when either is saved, and
    `save_a` / `save_b` say when each is (`SAVE`, `SAVE_FOR_OTHER`: only when the other operand
    needs a gradient, as multiply's rules; 0: never, None is passed in its place)."""
    mode = STATE.recording
    if mode < RECORD:
        return unrecorded(name, out, mode)
    pa = (a._node or leaf_node(a)) if isinstance(a, Tensor) and a._requires_grad else None
    pb = (b._node or leaf_node(b)) if isinstance(b, Tensor) and b._requires_grad else None
    if pa is None and pb is None:
        return unrecorded(name, out, mode)
    saved: tuple = ()
    arrays: tuple = ()
    locked: tuple = ()
    if save_a or save_b:
        sa = a if save_a == SAVE or (save_a and pb is not None) else None
        sb = b if save_b == SAVE or (save_b and pa is not None) else None
        if (sa is not None and id(sa) not in FROZEN) or (sb is not None and id(sb) not in FROZEN):
            arrays, locked, tensors = saved_arrays((sa, sb))
            if tensors:
                saved = (sa, sb)
        else:
            # None and a cached constant (the most frequent: the operand that needs a gradient is
            # not frozen, so it is the None): nothing to hold, and one tuple per constant
            key = id(sb) if sa is None else -id(sa)
            arrays = _CONSTANT_PAIRS.get(key) or _constant_pair(key, sa, sb)
    return new_node(LockingNode if locked else Node, name, (pa, pb), vjps, saved, arrays, locked,
                    out, keep_ans, (a, b), mode)


def record_unary(name: str, out: np.ndarray, x: Any, vjps: tuple, save_input: bool = False,
                 keep_ans: bool = False) -> Tensor:
    """`record` for an elementwise operation of one input whose one rule (`vjps`, a 1-tuple)
    reads the input (`save_input`) or the output (`keep_ans`): the same graph, with less work
    per call. (`ops._elementwise` makes the node itself in the most frequent case.)"""
    mode = STATE.recording
    if mode < RECORD or not (isinstance(x, Tensor) and x._requires_grad):
        return unrecorded(name, out, mode)
    saved: tuple = ()
    arrays: tuple = ()
    locked: tuple = ()
    if save_input:
        arr = x._data       # `hold(x)`, inlined: an operation's fresh output needs nothing
        arr, locked = protect(arr) if x._node is None or arr.base is not None or x._version \
            else (arr, ())
        saved, arrays = (x,), (arr,)
    return new_node(LockingNode if locked else Node, name, (x._node or leaf_node(x),), vjps, saved,
                    arrays, locked, out, keep_ans, (x,), mode)


def record_constant(name: str, out: Any, a: Any, pair: tuple, vjps: tuple, save_a: int,
                    save_b: int, keep_ans: bool) -> Tensor:
    """`record_binary` for `a op c`, `a` a Tensor (exactly) and `c` a cached constant (`pair`
    is `(None, c)`, from `ops._constant`'s cache): in plain grad mode, when the rules do not
    read `a` itself, the node keeps that shared pair and nothing else, as `record_binary`
    would, with less work (`t * 2`, `t + 1` are the most frequent operations of all)."""
    mode = STATE.recording
    if mode == RECORD and a._requires_grad and save_a != SAVE and type(out) is _NDARRAY:
        parent = a._node    # the shape of `a` (and of a's node, unless .data was replaced)
        return node_tensor(Node, name, parent or leaf_node(a), None, 2, vjps, (),
                            pair if save_b else (), out if keep_ans else None, out,
                            parent.shape if parent is not None and a._version == 0 else None)
    if type(out) is not np.ndarray:
        out = np.asarray(out)       # NumPy gives a scalar for 0-d operands (observers get arrays)
    if mode < RECORD:
        return unrecorded(name, out, mode)
    return record_binary(name, out, a, pair[1], vjps, save_a, save_b, keep_ans)


def new_node(cls: type | None, name: str, parents: tuple, vjps: Any, saved: tuple, arrays: tuple,
             locked: tuple, out: np.ndarray, keep_ans: bool, inputs: tuple, mode: int,
             attrs: dict | None = None) -> Tensor:
    """A node for `record`, `record_binary` and `Function.apply` (and `record_unary` when a
    module's scope is open or it locked arrays): its class (`cls`, or picked: a `JointNode`
    for one joint rule, a `LockingNode` when it locked arrays), the arrays it locked, the
    scope and the observers told; returns the output Tensor. Its fields are written by
    `node_tensor`, the one place they are, which plain grad mode calls directly."""
    if cls is None:
        cls = (LockingNode if locked else Node) if type(vjps) is tuple else JointNode
    if type(out) is not np.ndarray:
        out = np.asarray(out)   # NumPy gives a scalar for a 0-d result
    n = len(parents)
    t = node_tensor(cls, name, parents[0] if n else None,
                    parents[1] if n == 2 else parents if n > 2 else None, n,   # (see Node.parents)
                    vjps, saved, arrays, out if keep_ans else None, out)
    node = t._node
    if cls is not Node:
        node.locked = locked
    if mode >= RECORD_SCOPED:
        state = STATE       # (the fields behind the properties `scope`, `observers`)
        node.scope = state._scope
        if mode == RECORD_OBSERVED:
            for observer in state._observers:
                observer.recorded(node, out, inputs, attrs)
    return t


def node_tensor(cls: type, name: str, p0: Any, p1: Any, arity: int, vjps: Any, saved: tuple,
                 arrays: tuple, ans: np.ndarray | None, out: np.ndarray,
                 shape: tuple | None = None) -> Tensor:
    """The node's fields and the output Tensor: `cls(name, parents, ...)` and `_new(out,
    node)` spelled out, without their calls (this is the hottest path). `shape` is `out.shape`
    when the caller has it as a shared tuple already (an input's node's). `p0`, `p1` are as
    `Node.parents` reads them; `scope` stays empty unless a module's scope is open, where
    `new_node` sets it."""
    node: Any = cls()           # (Node has no __init__: see there)
    node.name = name
    node.arity = arity          # `parents`, in the node's slots (see `Node.parents`)
    node.p0 = p0
    node.p1 = p1
    node.vjps = vjps
    node.saved = saved
    node.arrays = arrays
    node.ans = ans
    if shape is None:
        shape = out.shape
        known = _SHAPES.get(shape)  # one tuple per shape, shared (see `_SHAPES`)
        if known is None:
            _share_shape(shape)
        else:
            shape = known
    node.shape = shape
    node.dtype = out.dtype
    node.meta = None
    node.seq = next(CLOCK)
    node.scope = ()
    t = _new_tensor(Tensor)
    t._data = out
    t._node = node
    t._leaf = t._grad = t.name = None
    t._requires_grad = True
    t._version = 0
    return t


def saved_arrays(saved: tuple) -> tuple:
    """(the arrays a node's rules read for `saved`, the arrays locked to keep them, whether a
    Tensor was saved): see `protection.hold` and `protection.hold_constant`."""
    arrays, locked, tensors = [], (), False
    for s in saved:
        if s is None or id(s) in FROZEN:    # nothing saved, or a constant nobody writes into
            arr = s
        elif isinstance(s, Tensor):
            tensors = True
            arr = s._data   # `hold(s)`, inlined: an operation's fresh output needs nothing
            if s._node is None or arr.base is not None or s._version:
                arr, lk = protect(arr)
                locked += lk
        elif s is None or type(s) in _NUMBERS:
            arr = s
        else:
            arr, lk = hold_constant(s)
            locked += lk
        arrays.append(arr)
    return tuple(arrays), locked, tensors


_NUMBERS = (int, float, bool)
# Tuples a node keeps, made once and shared by every node that keeps an equal one: each tuple
# a node kept for itself would be one more object per operation, counted by the garbage
# collector (a deep graph triggers a full collection, which walks every live node, per 70,000
# objects allocated and kept) and 60-80 bytes of memory.
_SHAPES: dict = {}          # shape -> the same shape (at most 4,096 shapes; then one per node)


def _share_shape(shape: tuple) -> tuple:
    if len(_SHAPES) < 4096:
        _SHAPES[shape] = shape
    return shape


_CONSTANT_PAIRS: dict = {}  # record_binary's `arrays` (None, c) by id(c), (c, None) by -id(c), c
#                             None or a cached constant (`FROZEN`: kept for good, its id is never reused)


def _constant_pair(key: int, a: Any, b: Any) -> tuple:
    pair = _CONSTANT_PAIRS[key] = (a, b)
    return pair
_new_tensor = Tensor.__new__


def unrecorded(name: str, out: np.ndarray, mode: int) -> Tensor:
    """The output of an operation that records no node; the observers (detect_anomaly) still
    see it."""
    if mode == OFF_OBSERVED or mode == RECORD_OBSERVED:
        for observer in STATE.observers:
            observer.unrecorded(name, out)
    return _new(out)
