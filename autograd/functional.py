"""Functional transforms with `torch.autograd.functional` semantics: jacobian, hessian, vjp, jvp,
hvp, vhp."""

from __future__ import annotations

import functools
from typing import Any, Callable, TypeVar, cast

import numpy as np

from .engine import _seeds, grad, run
from .node import JointNode, LeafNode, LockingNode, Node, leaf_node
from .ops import CONTRACTIONS, MIXED_EDGES
from .tensor import Tensor, _new, enable_grad

__all__ = ["jacobian", "hessian", "vjp", "jvp", "hvp", "vhp"]

_F = TypeVar("_F", bound=Callable[..., Any])


def _recording(fn: _F) -> _F:
    """Run `fn` with grad mode on (as torch.autograd.functional does): its derivatives come
    from recorded graphs, inside `no_grad` too."""
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with enable_grad():
            return fn(*args, **kwargs)
    return cast(_F, wrapper)


def _inputs(inputs: Any) -> tuple[tuple, bool]:
    if isinstance(inputs, Tensor):
        return (inputs,), True
    if isinstance(inputs, (tuple, list)) and all(isinstance(t, Tensor) for t in inputs):
        return tuple(inputs), False
    raise TypeError(f"inputs must be a Tensor or a tuple of Tensors, got {type(inputs).__name__}")


def _prepare(inputs: tuple, create_graph: bool) -> tuple:
    """The tensors fn's graph starts from: each requires grad. With `create_graph`, an input
    that requires grad enters through an identity operation, so the result stays connected to
    it (as in PyTorch); otherwise, and for inputs that need no grad, a new leaf sharing the
    input's memory is used (as PyTorch's detach()): while the call's graph holds it, the array
    is read-only, and it is writable again when the call returns."""
    from .ops import reshape
    return tuple(reshape(t, t.shape) if create_graph and t.requires_grad
                 else Tensor(t._data, requires_grad=True) for t in inputs)


def _outputs(out: Any, fn: Callable) -> tuple[tuple, bool]:
    if isinstance(out, Tensor):
        return (out,), True
    if isinstance(out, (tuple, list)) and all(isinstance(t, Tensor) for t in out):
        return tuple(out), False
    raise TypeError(f"{getattr(fn, '__name__', 'fn')} must return a Tensor or a tuple of Tensors, "
                    f"got {type(out).__name__}")


def _grads(outs: tuple, ins: tuple, v: Any, create_graph: bool) -> tuple:
    """ag.grad that returns zeros for unused inputs and for outputs that need no grad."""
    pairs = [(o, g) for o, g in zip(outs, v) if o.requires_grad]
    if not pairs:
        return tuple(_new(np.zeros_like(x._data)) for x in ins)
    gs = grad([p[0] for p in pairs], list(ins), [p[1] for p in pairs], retain_graph=True,
              create_graph=create_graph, allow_unused=True)
    return tuple(_new(np.zeros_like(x._data)) if g is None else g for x, g in zip(ins, gs))


def _vectors(v: Any, like: tuple, what: str) -> tuple:
    if v is None:
        if all(t.size == 1 for t in like):
            return tuple(_new(np.ones_like(t._data)) for t in like)
        raise RuntimeError(f"{what}: v can be omitted only when every tensor it pairs with has a "
                           f"single element; pass v with the shapes {[t.shape for t in like]}")
    vs = (v,) if isinstance(v, (Tensor, np.ndarray)) else tuple(v)
    if len(vs) != len(like):
        raise RuntimeError(f"{what}: v has {len(vs)} entries but {len(like)} are needed")
    out = []
    for vi, t in zip(vs, like):
        vi = vi if isinstance(vi, Tensor) else Tensor(np.asarray(vi, dtype=t.dtype))
        if vi.shape != t.shape:
            raise RuntimeError(f"{what}: v has shape {vi.shape} where {t.shape} is needed")
        out.append(vi)
    return tuple(out)


def _detach(ts: tuple, create_graph: bool) -> tuple:
    return ts if create_graph else tuple(t.detach() for t in ts)


@_recording
def vjp(fn: Callable, inputs: Any, v: Any = None, create_graph: bool = False) -> tuple:
    """(fn(*inputs), v^T J): the vector-Jacobian product at `inputs`."""
    ins, single_in = _inputs(inputs)
    xs = _prepare(ins, create_graph)
    outs, single_out = _outputs(fn(*xs), fn)
    vs = _vectors(v, outs, "vjp")
    gs = _detach(_grads(outs, xs, vs, create_graph), create_graph)
    outs = _detach(outs, create_graph)
    return (outs[0] if single_out else outs), (gs[0] if single_in else gs)


@_recording
def jvp(fn: Callable, inputs: Any, v: Any = None, create_graph: bool = False) -> tuple:
    """(fn(*inputs), J v): the Jacobian-vector product, by differentiating a vjp once more."""
    ins, single_in = _inputs(inputs)
    xs = _prepare(ins, create_graph)
    vs = _vectors(v, ins, "jvp")
    outs, single_out = _outputs(fn(*xs), fn)
    us = tuple(Tensor(np.zeros_like(o._data), requires_grad=True) for o in outs)
    if create_graph:
        pairs = list(zip(_grads(outs, xs, us, True), vs))       # u -> J^T u, linear in u
    else:       # only <J^T u, v> is read, and only its dependence on u (see `_contraction`)
        live = [(o, u) for o, u in zip(outs, us) if o.requires_grad]
        pairs = _contraction(_seeds(tuple(o for o, _ in live), [u for _, u in live], True, "jvp"),
                             xs, vs, us)[1] if live else []
    jv = _grad_pairs(pairs, list(us), create_graph)
    jv = tuple(_new(np.zeros_like(o._data)) if j is None else j for o, j in zip(outs, jv))
    jv = _detach(jv, create_graph)
    outs = _detach(outs, create_graph)
    return (outs[0] if single_out else outs), (jv[0] if single_in and single_out else
                                               jv[0] if single_out else jv)


@_recording
def jacobian(fn: Callable, inputs: Any, create_graph: bool = False) -> Any:
    """d fn(*inputs) / d inputs, shaped output.shape + input.shape.

    One input and one output give a Tensor; tuples give a tuple per input, nested in a tuple
    per output when fn returns a tuple.
    """
    ins, single_in = _inputs(inputs)
    xs = _prepare(ins, create_graph)
    outs, single_out = _outputs(fn(*xs), fn)
    from .ops import reshape, stack
    table = []
    for o in outs:
        rows = []
        for j in range(o.size):
            seed = np.zeros(o.size, dtype=o.dtype)
            seed[j] = 1
            rows.append(_grads((o,), xs, (_new(seed.reshape(o.shape)),), create_graph))
        per_input = []
        for k, x in enumerate(xs):
            if rows:
                jac = reshape(stack([r[k] for r in rows]), o.shape + x.shape)
            else:
                jac = _new(np.zeros(o.shape + x.shape, dtype=x.dtype))
            per_input.append(jac if create_graph else jac.detach())
        table.append(per_input[0] if single_in else tuple(per_input))
    return table[0] if single_out else tuple(table)


@_recording
def hessian(fn: Callable, inputs: Any, create_graph: bool = False) -> Any:
    """Second derivatives of a scalar fn, shaped input.shape + input.shape (nested for tuples)."""
    ins, single_in = _inputs(inputs)

    def gradient(*xs: Any) -> tuple:
        out, _ = _outputs(fn(*xs), fn)
        if len(out) != 1 or out[0].size != 1:
            raise RuntimeError("hessian: fn must return a single Tensor with one element")
        return _grads(out, xs, (_new(np.ones_like(out[0]._data)),), True)

    jac = jacobian(gradient, ins, create_graph=True)
    if single_in:
        h = jac[0][0]
        return h if create_graph else h.detach()
    return tuple(tuple(h if create_graph else h.detach() for h in row) for row in jac)


# ---------------------------------------------------------------- Hessian-vector products

def _output(fn: Callable, xs: tuple, what: str) -> Tensor:
    """fn(*xs), which must be one Tensor with one element."""
    out = fn(*xs)
    if not isinstance(out, Tensor):
        raise TypeError(f"{what}: {getattr(fn, '__name__', 'fn')} must return a single Tensor "
                        f"with one element, got {type(out).__name__}")
    if out.size != 1:
        raise RuntimeError(f"{what}: {getattr(fn, '__name__', 'fn')} must return a Tensor with "
                           f"one element, got shape {out.shape}")
    return out


def _gradient(out: Tensor, xs: tuple, what: str, strict: bool) -> tuple:
    """The gradient of `out` with respect to each of xs, differentiable. An input the output
    does not depend on gets zeros (or, strict, an error)."""
    gs = grad((out,), xs, create_graph=True, allow_unused=True) if out.requires_grad else (None,) * len(xs)
    return _filled(gs, xs, what, strict, "the output of fn does not depend on input {i}")


def _filled(gs: tuple, like: tuple, what: str, strict: bool, why: str) -> tuple:
    """Zeros for the None entries of `gs`; with `strict`, a RuntimeError instead."""
    out = []
    for i, (g, x) in enumerate(zip(gs, like)):
        if g is None:
            if strict:
                raise RuntimeError(f"{what}: {why.format(i=i)}, which strict=True does not allow "
                                   f"(strict=False gives zeros, the mathematical value)")
            g = _new(np.zeros_like(x._data))
        out.append(g)
    return tuple(out)


def _grad_pairs(pairs: list, inputs: list, create_graph: bool, wrt: tuple = ()) -> tuple:
    """ag.grad of the outputs in `pairs` ((output, grad_output), those that require grad) with
    respect to `inputs`; None for each input when no output requires grad. With `wrt`
    (create_graph), the result is recorded only as far as it depends on the tensors `wrt`:
    it is to be differentiated with respect to them alone (see `engine.run`)."""
    pairs = [(o, g) for o, g in pairs if o.requires_grad]
    if not pairs:
        return (None,) * len(inputs)
    if not create_graph:
        return _along(pairs, inputs)
    if not wrt:
        return grad([o for o, _ in pairs], inputs, [g for _, g in pairs], retain_graph=True,
                    create_graph=True, allow_unused=True)
    seeds = _seeds(tuple(o for o, _ in pairs), [g for _, g in pairs], True, "hvp")
    targets = {t._node or leaf_node(t): None for t in inputs}
    run(seeds, True, True, targets, set(), wrt)
    found = [targets[t._node or leaf_node(t)] for t in inputs]
    return tuple(g if g is None or isinstance(g, Tensor) else _new(np.array(g)) for g in found)


def _along(pairs: list, inputs: list) -> tuple:
    """`_grad_pairs` without create_graph: the vectors' arrays seed the pass as they are (no
    copy: nothing in a backward pass writes into a seed), and a result that is a seed, shares
    memory or was given already is copied, so none aliases the caller's vectors or another.
    It is the last pass through the call's graph (as in PyTorch, whose retain_graph follows
    create_graph): its nodes are released as it goes."""
    seeds: dict = {}
    for o, v in pairs:
        g = v._data if v.dtype == o.dtype else v._data.astype(o.dtype)
        node = o._node or leaf_node(o)
        seeds[node] = g if node not in seeds else seeds[node] + g
    handed = {id(g) for g in seeds.values()}
    targets = {t._node or leaf_node(t): None for t in inputs}
    run(seeds, False, False, targets, handed)
    out: list = []
    for t in inputs:
        g = targets[t._node or leaf_node(t)]
        if g is not None and (g.base is not None or id(g) in handed or not g.flags.writeable):
            g = np.array(g)
        if g is not None:
            handed.add(id(g))       # the same array reaching two inputs is copied for the second
        out.append(None if g is None else _new(g))
    return tuple(out)


@_recording
def vhp(func: Callable, inputs: Any, v: Any = None, create_graph: bool = False,
        strict: bool = False) -> tuple:
    """(func(*inputs), v^T H): the product of the vector `v` (shaped as the inputs; a tuple for a
    tuple of inputs) with the Hessian of the scalar `func` at `inputs`, by differentiating the
    gradient once more (torch.autograd.functional.vhp)."""
    ins, single_in = _inputs(inputs)
    xs = _prepare(ins, create_graph)
    vs = _vectors(v, ins, "vhp")
    out = _output(func, xs, "vhp")
    if create_graph:
        gs = _gradient(out, xs, "vhp", strict)
        r = _grad_pairs(list(zip(gs, vs)), list(xs), True)
    else:
        r = _contracted(out, xs, vs, "vhp", strict)
    r = _detach(_filled(r, xs, "vhp", strict, "the Hessian does not depend on input {i}"), create_graph)
    out = out if create_graph else out.detach()
    return out, (r[0] if single_in else r)


@_recording
def hvp(func: Callable, inputs: Any, v: Any = None, create_graph: bool = False,
        strict: bool = False) -> tuple:
    """(func(*inputs), H v): the product of the Hessian of the scalar `func` at `inputs` with the
    vector `v` (shaped as the inputs; a tuple for a tuple of inputs), as
    torch.autograd.functional.hvp.

    When func's graph is made of chainrule's own operations only (no custom `Function`, no
    gradient hook), the Hessian autograd computes is symmetric (see `_symmetric`), so H v is
    computed as v^T H: one differentiable backward and one plain one (see `_contracted`).
    Otherwise the gradient g(x) is differentiated twice, as PyTorch does: u -> J_g^T u (linear
    in u; recorded only where it depends on u, unless create_graph), then its gradient with
    respect to u along v gives J_g v = H v."""
    ins, single_in = _inputs(inputs)
    xs = _prepare(ins, create_graph)
    vs = _vectors(v, ins, "hvp")
    out = _output(func, xs, "hvp")
    if not _symmetric(out, xs):
        r = _double_backward(_gradient(out, xs, "hvp", strict), xs, vs, create_graph, strict)
    elif create_graph:
        gs = _gradient(out, xs, "hvp", strict)
        r = _grad_pairs(list(zip(gs, vs)), list(xs), True)      # (v^T H)^T = H v
    else:
        r = _contracted(out, xs, vs, "hvp", strict)
    r = _detach(_filled(r, xs, "hvp", strict, "the Hessian does not depend on input {i}"),
                create_graph)
    out = out if create_graph else out.detach()
    return out, (r[0] if single_in else r)


def _contracted(out: Tensor, xs: tuple, vs: tuple, what: str, strict: bool) -> tuple:
    """v^T H at the leaves `xs` (None where H does not depend on an input): the gradient of
    <g, v>, g the gradient of `out`, by one recorded backward and one plain one (see
    `_contraction`)."""
    if not out.requires_grad:
        _filled((None,) * len(xs), xs, what, strict, "the output of fn does not depend on input {i}")
        return (None,) * len(xs)
    used, pairs = _contraction(_seeds((out,), None, True, what), xs, vs, ())
    _filled(tuple(out if u else None for u in used), xs, what, strict,
            "the output of fn does not depend on input {i}")
    return _grad_pairs(pairs, list(xs), False)


def _contraction(seeds: dict, xs: tuple, vs: tuple, wrt: tuple) -> tuple:
    """The recorded backward from `seeds` to the leaves `xs`, read only through <g, v> (g the
    gradient reaching each of xs, v its direction; `wrt` as `engine.run`'s). Returns (for each
    input whether the pass reached it, pairs (a, b) whose inner products sum to the sum of
    <g, v>, as `_grad_pairs` takes them to seed the next backward). Where an operation can
    contract more cheaply than its rule (`ops.CONTRACTIONS`: <x^T d, V> as <d, x V> for a
    product's weight), that gradient is never computed; the others are paired with v after."""
    dirs = {(x._node or leaf_node(x)): v._data if v.dtype == x.dtype else v._data.astype(x.dtype)
            for x, v in zip(xs, vs)}
    targets: dict = dict.fromkeys(dirs)
    found: list = []
    reached: set = set()
    # a hook on an input sees (and may change) its whole gradient: such an input's is computed
    takeable = {n: d for n, d in dirs.items() if not (n.meta and n.meta.get("hooks"))}
    run(seeds, True, True, targets, set(), wrt, _contractor(takeable, found, reached))
    gs = [targets[n] for n in dirs]
    pairs = [(g, v) for g, v in zip(gs, vs) if isinstance(g, Tensor)]
    for a, b in found:
        if isinstance(a, Tensor) and a.requires_grad:
            seed = _array(b)
            pairs.append((a, _new(seed if seed.shape == a.shape else np.broadcast_to(seed, a.shape))))
        if isinstance(b, Tensor) and b.requires_grad:
            pairs.append((b, _new(_array(a))))
    return tuple(g is not None or n in reached for g, n in zip(gs, dirs)), pairs


def _array(t: Any) -> np.ndarray:
    return t._data if isinstance(t, Tensor) else np.asarray(t)


def _contractor(dirs: dict, pairs: list, reached: set) -> Callable:
    """`engine.run`'s `contract` for `_contracted`: a node with an input among `dirs` ({leaf
    node: direction}) and a rule in `ops.CONTRACTIONS` gives that input's <gradient, direction>
    as inner products (collected in `pairs`) instead of the gradient."""
    def contract(node: Node, g: Any, need: list) -> list | None:
        rule = CONTRACTIONS.get(node.name)
        if rule is None or type(node) not in _BUILT_IN:    # not a custom Function of that name
            return None
        taken = {i: dirs[p] for i, p in enumerate(node.parents) if p in dirs and need[i]}
        if not taken:
            return None
        ans, operands = node.operands(True)
        done = rule(g, ans, need, taken, *operands)
        if done is None:
            return None
        grads, found = done
        pairs.extend(found)
        reached.update(node.parents[i] for i in taken)
        return grads
    return contract


def _double_backward(gs: tuple, xs: tuple, vs: tuple, create_graph: bool, strict: bool) -> tuple:
    """H v as J_g v, with J_g the Jacobian of the gradient `gs` of func at `xs`: the gradient
    of u -> J_g^T u with respect to u, along v. Exact whether or not H is symmetric."""
    us = [Tensor(np.zeros_like(g._data), requires_grad=True) for g in gs]
    # J^T u for each input, recorded only where it depends on u unless a derivative of the
    # result will be taken (create_graph)
    back = _grad_pairs(list(zip(gs, us)), list(xs), True, () if create_graph else tuple(us))
    back = _filled(back, xs, "hvp", strict, "the Hessian does not depend on input {i}")
    r = _grad_pairs(list(zip(back, vs)), us, create_graph)
    return _filled(r, xs, "hvp", False, "")


_BUILT_IN = (Node, LockingNode, JointNode, LeafNode)


def _mixed_edge(node: Node) -> bool:
    """Whether `node`, with both operands differentiable, sits where its rules' mixed second
    derivatives differ (`ops.MIXED_EDGES`: power at a zero base, binary_cross_entropy at its
    clamp): its Hessian term is then not symmetric."""
    edge = MIXED_EDGES.get(node.name)
    if edge is None or None in node.parents:
        return False
    return not node.arrays or edge(node.arrays)      # freed: nothing to look at


def _symmetric(out: Tensor, xs: tuple) -> bool:
    """Whether the Hessian autograd computes for `out` with respect to `xs` is symmetric, so
    that H v = (v^T H)^T. It is the sum over the graph's nodes of J^T L J terms, J the Jacobian
    of a node's inputs and L the derivative of the node's gradient rule: symmetric when every
    rule is the exact derivative of its operation on the piece it computes (a mask, as
    relu's, is constant there), which the built-in operations' second-order tests check. A
    custom Function's backward need not be such a derivative, nor a hook's replacement of a
    gradient (scaling or clipping one path), so either sends `hvp` to the double backward, as
    does a power or binary_cross_entropy node at an edge of its clamps (`_mixed_edge`)."""
    stops = {x._node or leaf_node(x) for x in xs}
    node = out._node
    if node is None:
        return True
    seen = {node}
    stack = [node]
    while stack:
        node = stack.pop()
        if type(node) not in _BUILT_IN or _hooked(node) or _mixed_edge(node):
            return False
        if node in stops:
            continue
        for p in node.parents:
            if p is not None and p not in seen:
                seen.add(p)
                stack.append(p)
    return True


def _hooked(node: Node) -> bool:
    """Whether a hook that may change the gradient is registered at `node` (retain_grad's only
    reads it)."""
    meta = node.meta
    if not meta or not meta.get("hooks"):
        return False
    return any(h is not meta.get("retain_grad") for h in meta["hooks"])
