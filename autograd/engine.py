"""The reverse-mode engine: hooks, anomaly detection, and the backward pass.

`run` walks the graph of `Node`s (node.py; made by record.py) with a loop, latest-created node
first (the order of the forward pass, reversed), so each rule runs once, when its gradient is
complete; a `LeafNode` accumulates into its tensor's `.grad`. Broadcasting is undone in one
place, `unbroadcast`, for every operation.
"""

from __future__ import annotations

import heapq
import sys
import threading
import traceback
from typing import Any, Callable, Sequence

import numpy as np

from . import tensor as _tensor_module
from .node import _HORIZON, JointNode, LockingNode, Node, _describe, leaf_node
from .protection import lock_array, unlock_arrays, unlock_each
from .tensor import MUTATIONS, OFF, OFF_OBSERVED, STATE, Observer, Tensor, _new

_new_tensor = Tensor.__new__


# ---------------------------------------------------------------- hooks

class RemovableHandle:
    """Returned by `register_hook`; `remove()` unregisters the hook."""

    def __init__(self, hooks: list, fn: Callable) -> None:
        self._hooks = hooks
        self._fn = fn

    def remove(self) -> None:
        if self._fn in self._hooks:
            self._hooks.remove(self._fn)


def register_hook(t: Tensor, fn: Callable) -> RemovableHandle:
    if not t.requires_grad:
        raise RuntimeError("cannot register a hook on a tensor that does not require grad")
    if not callable(fn):
        raise TypeError(f"register_hook needs a callable, got {type(fn).__name__}")
    node = t._node or leaf_node(t)
    if node.meta is None or "hooks" not in node.meta:
        node.set_meta("hooks", [])
    hooks = node.meta["hooks"]
    hooks.append(fn)
    return RemovableHandle(hooks, fn)


def _read_only(g: Any) -> np.ndarray:
    """A read-only view of the gradient array `g`."""
    view = np.asarray(g).view()
    view.setflags(write=False)      # (`flags.writeable = False` costs twice as much, and under
    return view                     # tracemalloc leaves ~57-byte blocks behind now and then)


def _run_hooks(node: Node, g: Any, create_graph: bool, handed: set, fresh: set) -> Any:
    """Run the hooks on `g`. Every array a hook saw or returned may be held by user code: its
    id goes into `handed` (a leaf's .grad gets a copy of it) and out of `fresh` (the pass never
    adds into it in place)."""
    what = "the leaf" if not node.parents else f"the output of '{node.name}'"
    for fn in list(node.meta["hooks"]):
        # g may be on its way to other inputs too (add hands one array to both): a hook writing
        # into its argument would change their gradients, so the write is refused (read-only)
        if not create_graph:
            wrapped = _new(_read_only(g))
            handed.update((id(g), id(wrapped._data)))      # the hook may keep it: never added
            fresh.discard(id(g))                            # into in place, copied into a .grad
            result = fn(wrapped)
        else:                               # the graph's Tensor itself, locked while the hook runs
            locked = lock_array(g._data)
            try:
                result = fn(g)
            finally:
                unlock_arrays(locked)
        if result is None:
            continue
        kind = np.asarray(result._data if isinstance(result, Tensor) else result).dtype.kind \
            if isinstance(result, (Tensor, np.ndarray, int, float, np.generic)) else "?"
        if kind not in "fiu" or isinstance(result, bool):
            dtype = f" of dtype {result.dtype}" if isinstance(result, (Tensor, np.ndarray)) else ""
            raise TypeError(
                f"a hook on {what} returned {type(result).__name__}{dtype}: a hook must return "
                f"None (keep the gradient) or a real Tensor of the gradient's shape {tuple(node.shape)}")
        if not isinstance(result, Tensor):
            result = Tensor(np.asarray(result))
        if result.shape != tuple(node.shape):
            raise RuntimeError(
                f"a hook on {what} returned a gradient of shape {result.shape}, "
                f"expected {tuple(node.shape)}")
        if result.dtype != node.dtype and node.dtype.kind == "f":   # as the rules' gradients
            result = result.astype(node.dtype)
        g = result if create_graph else result._data
        if not create_graph:
            handed.add(id(g))
            fresh.discard(id(g))
    return g


# ---------------------------------------------------------------- anomaly detection

def _user_trace() -> str:
    """The innermost stack frame outside this package, as 'file:line in function: code'."""
    pkg = __file__.rsplit("/", 1)[0]
    for frame in reversed(traceback.extract_stack()[:-2]):
        if not frame.filename.startswith(pkg):
            return f'File "{frame.filename}", line {frame.lineno}, in {frame.name}: {frame.line}'
    return "<unknown>"


def _anomaly_value(name: str, out: np.ndarray, trace: str | None = None) -> None:
    if out.dtype.kind in "fc" and np.isnan(out).any():
        raise RuntimeError(
            f"detect_anomaly: the forward of '{name}' produced NaN (output shape {out.shape}).\n"
            f"  created at {trace or _user_trace()}")


class detect_anomaly(Observer):
    """Stop at the first operation whose forward gives NaN or whose backward gives NaN/Inf."""

    def recorded(self, node: Node, out: np.ndarray, inputs: tuple, attrs: dict | None = None) -> None:
        node.set_meta("trace", _user_trace())
        _anomaly_value(node.name, out, node.trace)

    def unrecorded(self, name: str, out: np.ndarray) -> None:
        _anomaly_value(name, out)

    def backward(self, node: Node, g: Any, grads: Any) -> None:
        for i, gi in enumerate(grads):
            if gi is None:
                continue
            arr = gi._data if isinstance(gi, Tensor) else np.asarray(gi)
            if arr.dtype.kind in "fc" and not np.isfinite(arr).all():
                kind = "NaN" if np.isnan(arr).any() else "Inf"
                raise RuntimeError(
                    f"detect_anomaly: the backward of '{node.name}' produced {kind} in the "
                    f"gradient of its input {i} (shape {arr.shape}).\n  '{node.name}' was created "
                    f"at {node.trace or '<created before detect_anomaly was entered>'}")


# ---------------------------------------------------------------- the backward pass

_LEADING = [tuple(range(n)) for n in range(8)]
_ALL_WANTED = [(True,) * n for n in range(8)]   # a joint rule's `need` when every input is wanted


def _wanted(parents: tuple) -> tuple:
    """A joint rule's `need`: which inputs need a gradient (those with a node)."""
    if len(parents) == 3:           # affine's (x, weight, bias), x a batch that needs none
        a, b, c = parents
        return (a is not None, b is not None, c is not None)
    return tuple([p is not None for p in parents])


def unbroadcast(g: Any, shape: tuple, node: Node) -> Any:
    """Sum `g` over the axes broadcasting added or stretched, to get back `shape`."""
    gshape = g.shape
    lead = len(gshape) - len(shape)
    total = np.add.reduce if type(g) is np.ndarray else _tensor_sum    # the method wraps in Python
    if lead > 0 and gshape[lead:] == shape:                 # only leading axes were added
        return total(g, axis=_LEADING[lead] if lead < 8 else tuple(range(lead)))
    if lead < 0 or any(s != 1 and s != gs for s, gs in zip(shape, gshape[lead:])):
        raise RuntimeError(
            f"'{node.name}' produced a gradient of shape {tuple(gshape)} for an input of shape "
            f"{tuple(shape)}; the shapes are not broadcast-compatible")
    if lead:
        g = total(g, axis=_LEADING[lead] if lead < 8 else tuple(range(lead)))
        if g.shape == shape:
            return g
    stretched = tuple(i for i, s in enumerate(shape) if s == 1 and g.shape[i] != 1)
    if stretched:
        g = total(g, axis=stretched, keepdims=True)
    return g


def _tensor_sum(g: Tensor, axis: tuple, keepdims: bool = False) -> Tensor:
    return g.sum(axis=axis, keepdims=keepdims)


def _needed(roots: Sequence[Node], targets: dict) -> set:
    """Nodes with a target below them: only they need their rules run (a target itself only
    if another target lies below it)."""
    seen = set(roots)
    stack = list(seen)
    while stack:
        for p in stack.pop().parents:
            if p is not None and p not in seen:
                seen.add(p)
                stack.append(p)
    needed = set()
    for node in sorted(seen, key=_creation):            # a node's inputs come before it
        if any(p in needed or p in targets for p in node.parents if p is not None):
            needed.add(node)
    return needed


def _creation(node: Node) -> int:
    return node.seq



def run(seeds: dict, retain_graph: bool, create_graph: bool, targets: dict | None = None,
        handed: set | None = None, wrt: Sequence[Tensor] = (),
        contract: Callable | None = None) -> None:
    """Propagate `seeds` ({node: gradient}) to every leaf, in reverse topological order.

    Nodes run latest-created first (a node is always created after its inputs' nodes), so when
    a node runs, every node that could still send it gradient has already run. Without
    `targets`, leaves accumulate into `.grad`. With `targets` ({node: None}), the gradient
    arriving at each target node is stored there instead and `.grad` is not touched. `handed`
    collects the ids of arrays user code has seen (hooks), which must be copied before being
    handed out as a gradient.

    `wrt` (with create_graph; internal, for `functional.hvp`): the tensors the next derivative
    of what this pass records will be taken with respect to, and the only ones. A node created
    before all of them cannot depend on them (a node is created after its inputs), so its rules
    get its saved values as arrays (`Node.operands`) and record only the operations on the
    gradient flowing in (a Tensor): what the next derivative can reach.

    `contract` (with targets; internal, for `functional` hvp, vhp and jvp): called as
    `contract(node, g, need)` before a node's rules; it returns the node's input gradients
    itself (having taken over some of them), or None to let the rules run.
    """
    needed = None if targets is None else _needed(list(seeds), targets)
    if handed is None:
        handed = set()          # ids of arrays given to a leaf's .grad, or seen by hooks
    # rules record only when building a differentiable graph (`STATE.enabled = create_graph`,
    # the fields written without the property); only such a pass reads the horizon
    state = STATE
    grad_mode, recording, scope, watching = state._enabled, state.recording, state._scope, \
        state._watching
    horizon = _HORIZON.seq if create_graph else None
    state._enabled = create_graph
    if create_graph:
        state._sync()
        _HORIZON.seq = min((t._node or leaf_node(t)).seq for t in wrt) if wrt else 0
    else:
        state.recording = OFF_OBSERVED if watching else OFF     # what `_sync` gives
    locks: list = []            # see `_propagate`
    try:
        _propagate(seeds, retain_graph, create_graph, targets, needed, handed, contract, locks)
    finally:
        if locks:               # (a pass stopped by an error)
            unlock_each(locks)
        state._enabled = grad_mode
        if state._scope is scope and state._watching is watching:
            state.recording = recording     # nothing it depends on changed during the pass
        else:
            state._sync()
        if horizon is not None:
            _HORIZON.seq = horizon


def _propagate(seeds: dict, retain_graph: bool, create_graph: bool, targets: dict | None,
               needed: set | None, handed: set, contract: Callable | None = None,
               locks: list | None = None) -> None:
    """`run`'s loop. It stays one function (longer than the others): it runs once per node,
    and each call it would make to a helper would cost a tenth of a first-order backward."""
    observers = STATE.backward_observers
    # first order, every input wanted, nobody watching: the loop calls each rule itself
    rules_in_loop = not create_graph and needed is None and not observers
    # What may be written in place: only a gradient buffer this pass allocated (`fresh`, by
    # id) and nobody else has seen yet; a hook, a leaf's .grad, a rule reading it take it out.
    fresh: set = set()
    # The chain shortcut: the node reached first by the node that just ran waits outside the
    # heap and the table, with its gradient; in a chain it is the next to run, and runs straight
    # away (it joins the heap only when a later-created node is waiting). One seed starts there.
    if len(seeds) == 1:
        ((next_node, next_g),) = seeds.items()
        grads: dict = {}
        waiting: list = []
    else:
        next_node = next_g = None
        grads = dict(seeds)     # the gradient reached so far, of each node waiting in the heap
        waiting = [(-node.seq, node) for node in seeds]     # a heap: the latest-created on top
        heapq.heapify(waiting)
    last_mutation = MUTATIONS[0]
    push, pop, ndarray = heapq.heappush, heapq.heappop, np.ndarray     # read once, as locals
    # A first-order pass nobody watches gathers the leaves' gradients here (summed when a leaf
    # is reached twice) and stores them into `.grad` once the loop ends, all under one
    # acquisition of the guard: a leaf never waits in the heap. A leaf with hooks, or one the
    # pass started from, goes through the heap as any node (its hooks then run in their turn).
    leaves: dict | None = {} if rules_in_loop else None
    # and the gradients of the leaves that did go through the heap (their hooks run in their
    # turn), stored with the others: a pass that fails stores no leaf gradient at all (in any
    # pass that stores into .grad: one watched or differentiable too)
    reached: dict | None = {} if targets is None else None
    # Such a pass also gathers in `locks` (`run`'s) the arrays the nodes it releases had locked,
    # one tuple per node in release order, and unlocks them together: before any user code
    # runs (a hook, a custom Function's backward), when the loop ends, or (`run`) on an error.
    if not rules_in_loop:
        locks = None
    while True:
        if next_node is not None and (not waiting or -waiting[0][0] < next_node.seq):
            node = next_node
            g = next_g
            next_node = None
        elif waiting:
            if next_node is not None:           # a later-created node waits: queue it
                grads[next_node] = next_g
                push(waiting, (-next_node.seq, next_node))
                next_node = None
            node = pop(waiting)[1]
            g = grads.pop(node)
        else:
            if locks:
                unlock_each(locks)
                locks.clear()
            if create_graph:
                if reached:
                    _store_recorded(reached)
            elif leaves or reached:     # (`reached` is a dict here: the pass stores into .grad)
                _store_leaves(leaves or {}, handed, fresh, reached or {})
            break
        if fresh:
            fresh.discard(id(g))    # its rules may pass it on as it is, to several inputs
        if rules_in_loop and type(node) is Node and node.p1 is None and not node.meta:
            # a run of one-input nodes, each next in order anyway: `_run_chain`, without the heap
            # (its first node tested here: a fused node or a leaf skips the call)
            node, g = _run_chain(node, g, -waiting[0][0] if waiting else 0, retain_graph,
                                 last_mutation)
            if node is None:
                continue            # a rule gave no gradient: this path ends
        if node.meta and node.meta.get("hooks"):
            if locks:
                unlock_each(locks)
                locks.clear()
            g = _run_hooks(node, g, create_graph, handed, fresh)
            last_mutation = MUTATIONS[0]    # a hook may have replaced a saved tensor's .data
        arity = node.arity
        if not arity:               # a leaf: the end of a path
            if reached is not None:
                prev = reached.get(node)
                reached[node] = g if prev is None else prev + g
            elif node in targets:
                targets[node] = g
            for observer in observers:
                observer.backward(node, g, ())
            continue
        if targets is not None:
            if node in targets:
                targets[node] = g
            if node not in needed:
                continue            # no target below: stop here, leaving its graph intact
        if node.arrays is None or node.seq < last_mutation:     # freed, or a .data replaced
            node.check_saved()
        # `node.parents`, read from the slots without the property's call
        parents = (node.p0, node.p1) if arity == 2 else (node.p0,) if arity == 1 else node.p1
        if rules_in_loop and node.rule_per_input:
            rules = node.vjps
            ans = node.ans
            saved = node.arrays
            input_grads = None
        elif rules_in_loop and type(node) is JointNode:     # `node.vjp`, inlined
            input_grads = node.vjps(g, node.ans, _ALL_WANTED[arity] if arity < 8 and None not in
                                    parents else _wanted(parents), *node.arrays)
        else:
            if locks:               # the node's rule may be user code (a custom Function)
                unlock_each(locks)
                locks.clear()
            need = None if needed is None else [p in needed or p in targets for p in parents]
            input_grads = None if contract is None else contract(node, g, need)
            if input_grads is None:
                input_grads = node.vjp(g, need, create_graph)
                last_mutation = MUTATIONS[0]    # (a custom Function's backward is user code)
                if node.user_rule:  # it may return arrays the user holds (an input's value, a
                    # saved array): copied before one becomes a .grad, never added into
                    handed.update([id(gi) for gi in input_grads if gi is not None])
            if observers:       # they see the gradients as the inputs will receive them
                input_grads = [None if gi is None else fit_to_input(gi, p, node, create_graph)
                               for gi, p in zip(input_grads, parents)]
                for observer in observers:
                    observer.backward(node, g, input_grads)
        for i, p in enumerate(parents):
            if p is None:
                continue
            gi = rules[i](g, ans, *saved) if input_grads is None else input_grads[i]
            if gi is None:
                continue
            if type(gi) is not ndarray or gi.shape != p.shape or gi.dtype is not p.dtype:
                gi = fit_to_input(gi, p, node, create_graph)
            if p is next_node:
                next_g = _add(next_g, gi, fresh, create_graph)
                continue
            if not p.arity and leaves is not None and (p in leaves or not (
                    p.meta and p.meta.get("hooks") or p in grads)):
                prev = leaves.get(p)    # a leaf: stored when the pass ends (see above)
                leaves[p] = gi if prev is None else _add(prev, gi, fresh, False)
                continue
            prev = grads.get(p) if grads else None
            if prev is not None:
                grads[p] = _add(prev, gi, fresh, create_graph)
            elif next_node is None:
                next_node, next_g = p, gi
            else:
                grads[p] = gi
                push(waiting, (-p.seq, p))
        # free what the rules saved (a plain Node with nothing saved has nothing to free)
        if retain_graph:
            continue
        cls = type(node)
        if cls is Node:
            if node.saved or node.ans is not None:
                node.saved = ()         # `node.release()`, inlined
                node.arrays = None
                node.ans = None
        elif locks is not None and (cls is JointNode or cls is LockingNode):
            if node.arrays is not None:     # `LockingNode.release`, its locks kept in `locks`
                if node.locked:
                    locks.append(node.locked)
                    node.locked = ()
                node.saved = ()
                node.arrays = None
                node.ans = None
        else:
            node.release()


def _run_chain(node: Node, g: Any, bound: int, retain_graph: bool, last_mutation: int) -> tuple:
    """`_propagate`'s loop for a chain (a first-order pass, nobody watching): runs `node` and
    the nodes below it one after the other while each is a plain `Node` (one rule per input,
    nothing locked) with one input that needs a gradient (`p0`) and no hooks, and that input
    was created after every node waiting in the heap (`bound`: the latest of their creation
    times), so it is the next to run anyway and nothing else can still reach it; the node
    whose input is a leaf is left to the loop. Returns the first node it did not run, with its
    gradient (None, None when a rule gave no gradient).
    The gradients here are the loop's `g` (taken out of `fresh` before the call) and the
    rules' fresh results: none is a buffer this pass may write into. The caller checked the
    first node's class, `p1` and `meta`; the loop checks each next one's."""
    ndarray = np.ndarray
    while True:
        p = node.p0
        if p is None or p.seq <= bound or not p.arity:
            break               # (a leaf's gradient is delivered by the loop, as any other)
        if node.arrays is None or node.seq < last_mutation:
            node.check_saved()
        rule = node.vjps[0]
        arrays = node.arrays
        if not arrays:      # `rule(g, ans, *arrays)`, without making the tuple of arguments
            gi = rule(g, node.ans)
        elif len(arrays) == 1:
            gi = rule(g, node.ans, arrays[0])
        elif len(arrays) == 2:      # a binary operation with a constant (`t * 2`)
            gi = rule(g, node.ans, arrays[0], arrays[1])
        else:
            gi = rule(g, node.ans, *arrays)
        if gi is not None and (type(gi) is not ndarray or gi.shape != p.shape or
                               gi.dtype is not p.dtype):
            gi = fit_to_input(gi, p, node, False)
        if not retain_graph and (node.saved or node.ans is not None):
            node.saved = ()         # `node.release()`, inlined, as `_propagate` does
            node.arrays = None
            node.ans = None
        if gi is None:
            return None, None
        node, g = p, gi
        if type(node) is not Node or node.p1 is not None or node.meta:    # (p1: Node.parents)
            break
    return node, g


def fit_to_input(g: Any, p: Node, node: Node, create_graph: bool) -> Any:
    """`node`'s gradient `g` for its input `p` in `p`'s shape (broadcasting undone) and dtype."""
    if type(g) is not np.ndarray and not create_graph:
        g = np.asarray(g)       # NumPy returns scalars for 0-d results
    if g.shape != p.shape:
        g = unbroadcast(g, p.shape, node)
    if g.dtype != p.dtype and p.dtype.kind in "fc":
        if g.dtype.kind == "c" and p.dtype.kind == "f":
            _complex_error(node)
        g = g.astype(p.dtype)
    return g


def _complex_error(node: Node) -> None:
    raise TypeError(
        f"'{node.name}' gives a complex gradient for a real input: chainrule differentiates real "
        f"functions only (complex gradients follow conventions that differ between libraries); "
        f"compute with real and imaginary parts as separate float tensors")


def _add(prev: Any, g: Any, fresh: set, create_graph: bool) -> Any:
    """prev + g, in place when `prev` is a buffer this pass allocated and nobody has seen."""
    if create_graph:
        return prev + g
    if id(prev) in fresh:
        np.add(prev, g, out=prev)
        return prev
    acc = prev + g
    if type(acc) is not np.ndarray:
        acc = np.asarray(acc)
    fresh.add(id(acc))
    return acc


_ACCUMULATE_GUARD = threading.Lock()    # backward passes on several threads may share a leaf


def _store_leaves(leaves: dict, handed: set, fresh: set, reached: dict) -> None:
    """Store the leaves' gradients a first-order pass gathered ({leaf node: gradient}) into
    `.grad`; hooks registered on a leaf while the pass ran run first, on its whole gradient.
    `reached` holds the gradients of the leaves that went through the loop (their hooks ran)."""
    for node, g in leaves.items():
        if node.meta and node.meta.get("hooks"):
            leaves[node] = _run_hooks(node, g, False, handed, fresh)
    for node, g in reached.items():
        prev = leaves.get(node)
        leaves[node] = g if prev is None else prev + g
    _store(leaves, handed)


def _store(leaves: dict, handed: set) -> None:
    """Add each gradient of `leaves` ({leaf node: array}) into its tensor's `.grad`, under one
    acquisition of the guard. An array user code has seen (`handed`), a view or a read-only
    array is copied before it becomes a `.grad`."""
    _ACCUMULATE_GUARD.acquire()     # not `with`: this runs once per backward
    try:
        # all checked before any is stored: a pass that raises here leaves every .grad as it was
        checked = []
        for node, g in leaves.items():
            t = node.tensor()
            if t is None or not t._requires_grad:
                continue
            if type(g) is not np.ndarray:
                g = np.array(g)
            data = t._data
            grad: Any = t._grad     # a leaf's: `t.grad` without the property
            if g.shape != data.shape or g.dtype != data.dtype or (
                    grad is not None and grad._data.shape != g.shape):
                g = _fit_leaf(t, g)     # its value was replaced since the forward pass
            checked.append((t, g, grad))
        for t, g, grad in checked:
            if grad is None:
                if g.base is not None or id(g) in handed or not g.flags.writeable:
                    g = np.array(g)
                handed.add(id(g))
                if g.dtype == t._data.dtype:
                    gt = _new_tensor(Tensor)    # `_new(g)`, inlined; what the `grad` setter
                    gt._data = g                # checks, checked above
                    gt._node = gt._leaf = gt._grad = gt.name = None
                    gt._requires_grad = False
                    gt._version = 0
                    t._grad = gt
                else:
                    t.grad = _new(g)    # (the byte order differs: the setter converts)
            elif grad._node is None and not grad._requires_grad and grad._data.flags.writeable:
                grad._data += g
            else:
                t.grad = _new(grad._data + g)
    finally:
        _ACCUMULATE_GUARD.release()


def _store_recorded(leaves: dict) -> None:
    """`_store` for a differentiable pass: the gradients of `leaves` ({leaf node: gradient}) are
    recorded Tensors, and each `.grad` becomes a new Tensor (differentiable in turn). All are
    checked before any is stored, as there."""
    fresh = {}
    for node, g in leaves.items():
        gt = g if isinstance(g, Tensor) else _new(g)
        if gt._node is None:    # a leaf user code holds (a seed, a hook's result): never the
            # .grad itself, which zero_grad(set_to_none=False) and in-place updates write into
            gt = gt.clone() if gt._requires_grad else _new(np.array(gt._data))
        fresh[node] = gt
    with _ACCUMULATE_GUARD:
        checked = []
        for node, gt in fresh.items():
            t = node.tensor()
            if t is None or not t._requires_grad:
                continue
            grad: Any = t._grad
            data = t._data
            if gt.shape != data.shape or gt.dtype != data.dtype or (
                    grad is not None and grad.shape != gt.shape):
                gt = _fit_leaf(t, gt)
            if grad is not None:
                gt = grad + gt
            if gt.dtype != data.dtype:      # (an old .grad of another dtype, or the byte order)
                gt = gt.astype(data.dtype)
            checked.append((t, gt))
        for t, gt in checked:
            t._grad = gt    # (what the `grad` setter checks, checked above)


def _fit_leaf(t: Tensor, g: Any) -> Any:
    """The gradient `g` (an array, or a Tensor in a differentiable pass) of the leaf `t` whose
    shape or dtype is not its value's: its value was replaced (`t.data = ...`, `Module.double()`)
    since the graph was recorded. Another shape raises (`_reshaped`), unless the `.grad` stored
    earlier has the gradient's shape (then it is added into it, as before); another float dtype
    is cast to the leaf's (the gradient of a graph that saved the old value is refused before,
    by the version check); a value that is no longer float raises."""
    grad = t._grad
    data = t._data
    if grad is None:
        if g.shape != data.shape:
            _reshaped(t, g.shape, None)
    elif grad.shape != g.shape:
        _reshaped(t, g.shape, grad.shape)
    if g.dtype != data.dtype and g.dtype.newbyteorder("=") != data.dtype.newbyteorder("="):
        if data.dtype.kind != "f":
            raise RuntimeError(
                f"backward: {_describe(t)} has a {g.dtype} gradient but its value is {data.dtype} "
                f"now: its .data was replaced since the graph was recorded, by an array that "
                f"cannot have a gradient; run the forward pass again")
        g = g.astype(data.dtype)
    return g


def _reshaped(t: Tensor, shape: tuple, grad_shape: tuple | None) -> None:
    """Raise for a leaf whose value was replaced by one of another shape: its gradient has
    `shape` (the leaf's when the graph was recorded), its `.grad` (if any) `grad_shape`."""
    if grad_shape is None:
        raise RuntimeError(
            f"backward: the gradient of {_describe(t)} has shape {tuple(shape)}, the leaf's "
            f"shape when the graph was recorded; its .data was replaced since by an array of "
            f"another shape: run the forward pass again")
    raise RuntimeError(
        f"backward: {_describe(t)} has a .grad of shape {tuple(grad_shape)} and a new gradient "
        f"of shape {tuple(shape)}: its .data was replaced by an array of another shape since "
        f"that .grad was stored, and adding them would broadcast; clear it first (t.grad = None "
        f"or the optimizer's zero_grad())")


_ONES: dict = {}     # (dtype, shape) -> a read-only array of ones: a first-order pass's seed


def _ones(like: np.ndarray) -> np.ndarray:
    """Ones shaped as the one-element array `like`, read-only (no rule writes into a gradient
    it receives; a leaf's .grad gets a copy), kept per dtype and shape."""
    ones = _ONES.get((like.dtype, like.shape))
    if ones is None:
        ones = np.ones_like(like)
        ones.setflags(write=False)
        if len(_ONES) < 64:
            _ONES[(like.dtype, like.shape)] = ones
    return ones


def _seed(t: Tensor, grad: Any, create_graph: bool, what: str) -> Any:
    if t.dtype.kind == "c":
        raise TypeError(
            f"{what}: the output is complex ({t.dtype}); chainrule differentiates real functions "
            f"only: take a real part of it (for example its squared magnitude) as the output")
    if grad is None:
        if t._data.size != 1:
            raise RuntimeError(
                f"{what} needs a gradient for a non-scalar output of shape {t.shape}: pass "
                f"grad=<a tensor of shape {t.shape}> (for example ag.ones_like(t)), or reduce "
                f"the output to one element first (t.sum())")
        g = np.ones_like(t._data) if create_graph else _ones(t._data)
    else:
        if isinstance(grad, Tensor):
            if create_graph:
                if grad.shape != t.shape:
                    raise RuntimeError(
                        f"{what}: grad has shape {grad.shape} but the output has shape {t.shape}")
                return grad
            grad = grad._data
        g = np.array(grad, dtype=t.dtype)
        if g.shape != t.shape:
            raise RuntimeError(f"{what}: grad has shape {g.shape} but the output has shape {t.shape}")
    return _new(g) if create_graph else g


def _as_tensors(x: Any, what: str) -> tuple:
    if isinstance(x, Tensor):
        return (x,)
    if isinstance(x, (list, tuple)):
        if not x:
            raise ValueError(f"{what} is empty: give at least one Tensor")
        if all(isinstance(t, Tensor) for t in x):
            return tuple(x)
    raise TypeError(f"{what} must be a Tensor or a sequence of Tensors, got {type(x).__name__}")


def _seeds(outputs: tuple, grads: Any, create_graph: bool, what: str) -> dict:
    if grads is None:
        grads = (None,) * len(outputs)
    elif isinstance(grads, (Tensor, np.ndarray)) or not isinstance(grads, (list, tuple)):
        grads = (grads,)
    if len(grads) != len(outputs):
        raise ValueError(f"{what}: got {len(grads)} gradients for {len(outputs)} outputs")
    seeds: dict = {}
    for t, grad in zip(outputs, grads):
        if not t.requires_grad:
            raise RuntimeError(
                f"{what}: the output does not require grad and has no grad_fn; make sure an input "
                f"was created with requires_grad=True and that it was not computed under no_grad()")
        node = t._node or leaf_node(t)
        g = _seed(t, grad, create_graph, what)
        seeds[node] = g if node not in seeds else seeds[node] + g
    return seeds


def backward(tensors: tuple, grads: Any = None, retain_graph: bool = False,
             create_graph: bool = False) -> None:
    """Accumulate the gradients of `tensors` into the `.grad` of every leaf that requires grad."""
    if grads is None and not create_graph and len(tensors) == 1:
        t = tensors[0]      # the usual case, a one-element real output of an operation (a loss)
        if isinstance(t, Tensor) and t._node is not None and t._data.size == 1 and \
                t._data.dtype.kind == "f":
            run({t._node: _ones(t._data)}, retain_graph, False)
            return
    seeds = _seeds(tuple(tensors), grads, create_graph, "backward()")
    run(seeds, retain_graph or create_graph, create_graph)


def grad(outputs: Any, inputs: Any, grad_outputs: Any = None, retain_graph: bool | None = None,
         create_graph: bool = False, allow_unused: bool = False) -> tuple:
    """The gradients of `outputs` with respect to each of `inputs`, without touching `.grad`."""
    outputs = _as_tensors(outputs, "outputs")
    inputs = _as_tensors(inputs, "inputs")
    for i, t in enumerate(inputs):
        if not t.requires_grad:
            raise RuntimeError(f"ag.grad: input {i} (shape {t.shape}) does not require grad")
    if retain_graph is None:
        retain_graph = create_graph
    seeds = _seeds(outputs, grad_outputs, create_graph, "ag.grad")
    targets = {t._node or leaf_node(t): None for t in inputs}
    handed: set = set()
    run(seeds, retain_graph, create_graph, targets, handed)
    result: list = []
    seen: set = set()
    for i, t in enumerate(inputs):
        g = targets[t._node or leaf_node(t)]
        if g is None:
            if not allow_unused:
                raise RuntimeError(
                    f"ag.grad: input {i} ({_describe(t)}) was not used to compute the outputs; "
                    f"pass allow_unused=True to get None for it")
            result.append(None)
            continue
        if isinstance(g, Tensor):
            result.append(g)
            continue
        if g.base is not None or id(g) in seen or id(g) in handed or not g.flags.writeable:
            g = np.array(g)
        seen.add(id(g))
        result.append(_new(g))
    return tuple(result)


_tensor_module._engine = sys.modules[__name__]
