"""Issue #14, writes between forward and backward. Property: any sequence of writes into any
array reachable from a recorded graph is refused, raises at backward, or leaves the gradient
equal to a fresh computation from the values the forward pass saw."""

import os
import tempfile

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import autograd as ag

settings.register_profile("chainrule", max_examples=40, deadline=None)
settings.load_profile("chainrule")

_TMP = tempfile.mkdtemp(prefix="chainrule-writes-")


class _SavesTranspose(ag.Function):
    """sum(a * a.T.T * c): saves a view of its input (a.T) and its ndarray argument c."""

    @staticmethod
    def forward(ctx, a, c):
        ctx.save_for_backward(a.T, c)
        return (a * a * c).sum()

    @staticmethod
    def backward(ctx, g):
        at, c = ctx.saved_arrays
        return 2 * g * at.T * c, None


class _Identity(ag.Function):
    """Returns its input's own array, or a buffer it keeps."""

    buffer = None

    @staticmethod
    def forward(ctx, a):
        if _Identity.buffer is not None:
            _Identity.buffer[...] = a
            return _Identity.buffer
        return a

    @staticmethod
    def backward(ctx, g):
        return g


# Each scenario builds a graph from `v` (a dict of arrays, the values) and returns
# (loss, the leaves to differentiate, {name: what a write can reach}). Reachable are arrays
# (written into) and tensors (written into through .data, or given a new .data).

def leaf_owner(v):
    A = v["A"]
    x = ag.Tensor(A, requires_grad=True)
    loss = (ag.sin(x) * x).sum() + (x @ v["W"]).sum()
    return loss, [x], {"A": A, "x": x, "A view": A[:, :2], "x.numpy()": x.numpy()}


def leaf_on_a_view(v):
    C = v["C"]
    sibling = C.reshape(4, 3)                   # a view made before the graph
    x = ag.Tensor(C[:, :2], requires_grad=True)
    w = ag.Tensor(v["W"][:2], requires_grad=True)
    loss = (x * x).sum() + (x.T.sum(axis=1) * ag.sin(x).sum()).sum() + (x @ w).sum()
    return loss, [x, w], {"C": C, "sibling": sibling, "x": x, "w": w, "W": v["W"]}


def operands(v):
    B = v["B"]
    x = ag.Tensor(v["A"].copy(), requires_grad=True)
    b, part, spread = B[0], B[1:], np.broadcast_to(B[2], (3, 4))
    loss = (x[0] * b).sum() + (x[1:] * part).sum() + (x * spread * x).sum()
    return loss, [x], {"B": B, "b": b, "part": part, "x": x}


def indices(v):
    x = ag.Tensor(v["A"][0].copy(), requires_grad=True)
    idx, mask = v["idx"], v["mask"]
    loss = (x[idx] * x[idx]).sum() + (x[mask] ** 3).sum() + (x[(idx, )] * 2.0).sum()
    return loss, [x], {"idx": idx, "mask": mask, "x": x}


def labels(v):
    logits = ag.Tensor(v["A"], requires_grad=True)
    y = v["labels"]
    loss = ag.softmax_cross_entropy(logits * logits, y, reduction="sum")
    return loss, [logits], {"labels": y, "logits": logits, "A": v["A"]}


def custom_function(v):
    A, c = v["A"], v["B"]
    x = ag.Tensor(A, requires_grad=True)
    loss = _SavesTranspose.apply(x, c)
    return loss, [x], {"A": A, "c": c, "x": x}


def memmap(v):
    path = os.path.join(_TMP, f"m{os.getpid()}-{id(v)}.dat")
    m = np.memmap(path, dtype=np.float64, mode="w+", shape=(3, 4))
    m[:] = v["B"]
    m.flush()
    other = np.memmap(path, dtype=np.float64, mode="r+", shape=(3, 4))     # a second mapping
    x = ag.Tensor(v["A"].copy(), requires_grad=True)
    y = ag.Tensor(m, requires_grad=True)        # a leaf on mapped memory
    loss = (x * m * x).sum() + (ag.sin(y) * x).sum()
    return loss, [x, y], {"m": m, "other mapping": other, "x": x, "y": y}


def function_output(v):
    A = v["A"]
    x = ag.Tensor(A, requires_grad=True)
    y = _Identity.apply(x)                  # its output is x's own array
    loss = (ag.sin(y) * y.T.T).sum()
    return loss, [x], {"A": A, "x": x, "y": y}


SCENARIOS = [leaf_owner, leaf_on_a_view, operands, indices, labels, custom_function, memmap,
             function_output]


def _values(seed):
    rng = np.random.default_rng(seed)
    return {"A": rng.standard_normal((3, 4)), "C": rng.standard_normal((3, 4)),
            "B": rng.standard_normal((3, 4)), "W": rng.standard_normal((4, 2)),
            "idx": rng.integers(-4, 4, 5), "mask": rng.random(4) > 0.5,
            "labels": rng.integers(0, 4, 3)}


def _write(target, how, value):
    """One write; True if it got through, False if refused."""
    try:
        if isinstance(target, ag.Tensor):
            if how == "replace":
                target.data = target.data * 0 + value
            else:
                target.data[(0,) * target.ndim] = value
        elif how == "all":
            target[...] = value
        else:
            target[(0,) * target.ndim] = value
        return True
    except ValueError as err:
        assert "read-only" in str(err)
        return False


@settings(max_examples=120)
@given(scenario=st.sampled_from(SCENARIOS), seed=st.integers(0, 2**16), data=st.data())
def test_any_writes_are_refused_raise_at_backward_or_leave_the_gradient_exact(scenario, seed, data):
    fresh_loss, fresh_leaves, _ = scenario(_values(seed))
    expected = [g.data.copy() for g in ag.grad(fresh_loss, fresh_leaves)]

    loss, leaves, reachable = scenario(_values(seed))
    names = sorted(reachable)
    writes = data.draw(st.lists(st.tuples(st.sampled_from(names),
                                          st.sampled_from(["one", "all", "replace"]),
                                          st.integers(-3, 3)), min_size=1, max_size=4))
    for name, how, value in writes:
        target = reachable[name]
        if how == "replace" and not isinstance(target, ag.Tensor):
            how = "all"
        if target.dtype == bool:
            value = bool(value % 2)
        _write(target, how, value)
    try:
        got = ag.grad(loss, leaves)
    except RuntimeError as err:
        assert "modified" in str(err) or "replaced" in str(err)
        return
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g.data, e, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------- the cases of the issue

def _scenario_case(scenario, write):
    loss, leaves, reachable = scenario(_values(7))
    fresh = [g.data.copy() for g in ag.grad(*scenario(_values(7))[:2])]
    write(reachable)
    got = ag.grad(loss, leaves)
    for g, e in zip(got, fresh):
        np.testing.assert_allclose(g.data, e, rtol=1e-12)


@pytest.mark.parametrize("scenario, name", [
    (custom_function, "A"), (custom_function, "c"), (operands, "B"), (operands, "b"),
    (leaf_owner, "A"), (leaf_owner, "A view"), (leaf_owner, "x.numpy()"),
    (leaf_on_a_view, "C"), (leaf_on_a_view, "x"),
])
def test_a_write_into_a_saved_array_is_refused(scenario, name):
    loss, leaves, reachable = scenario(_values(3))
    target = reachable[name]
    target = target.data if isinstance(target, ag.Tensor) else target
    with pytest.raises(ValueError, match="read-only"):
        target[...] = 1 if target.dtype != bool else True


@pytest.mark.parametrize("scenario, name", [
    (indices, "idx"), (indices, "mask"), (labels, "labels"),        # copied: small
    (memmap, "other mapping"), (leaf_on_a_view, "sibling"),
])
def test_a_write_into_a_copied_array_leaves_the_gradient_exact(scenario, name):
    def write(reachable):
        target = reachable[name]
        target[...] = True if target.dtype == bool else 1
    _scenario_case(scenario, write)


def test_writes_through_index_arrays_after_the_lock_is_released_do_not_matter():
    x = ag.tensor([1.0, 2.0, 3.0], requires_grad=True)
    idx = np.array([0, 0, 2])
    y = x[idx].sum()
    idx.setflags(write=True)        # even a forced write does not reach the saved copy
    idx[:] = 1
    y.backward()
    np.testing.assert_array_equal(x.grad.data, [2.0, 0.0, 1.0])


def test_a_create_graph_backward_through_changed_shared_memory_raises():
    C = np.arange(12.0).reshape(3, 4)
    sibling = C.reshape(12)
    x = ag.Tensor(C[:, :2], requires_grad=True)
    y = (x * x * x).sum()
    sibling[0] = 100.0
    with pytest.raises(RuntimeError, match="modified after it was saved"):
        ag.grad(y, x, create_graph=True)
    np.testing.assert_array_equal(ag.grad((x * 1.0).sum(), x)[0].data, np.ones((3, 2)))


@pytest.mark.parametrize("kept", [False, True])
def test_a_function_output_the_user_holds_is_locked(kept):
    A = np.array([1.0, 2.0])
    x = ag.Tensor(A.copy(), requires_grad=True)
    _Identity.buffer = np.zeros(2) if kept else None
    y = _Identity.apply(x)
    z = (ag.sin(y) * 1.0).sum()             # sin saves y: the user's array behind it
    target = _Identity.buffer if kept else x.data
    with pytest.raises(ValueError, match="read-only"):
        target[0] = 100.0
    z.backward()
    np.testing.assert_allclose(x.grad.data, np.cos(A))
    _Identity.buffer = None
