"""The small-batch paths (issue #20, W1 at batch 32): plain SGD's one-loop step, the affine
rules' scratch views kept per shape, the spelled-out lock of an array owning its memory, a
leaf's first gradient stored inline, `ag.scope` without the switch property, and
cross-entropy's one-pass label check. Each keeps the behaviour of the general path."""

import threading

import numpy as np
import pytest

import autograd as ag
import nn
import optim
from autograd import ops, protection
from autograd.tensor import OFF, OFF_OBSERVED, RECORD, RECORD_OBSERVED, RECORD_SCOPED, STATE, Observer


class GeneralSGD(optim.SGD):
    """SGD through the per-parameter `_update` (a subclass that overrides it keeps it)."""

    calls = 0

    def _update(self, x, g, state, group, w):
        type(self).calls += 1
        super()._update(x, g, state, group, w)


def params(seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    return [ag.tensor(rng.standard_normal(s).astype(dtype), requires_grad=True)
            for s in [(5, 3), (3,), (3, 2), (2,)]]


def train(make, steps=6, dtype=np.float32):
    ps = params(dtype=dtype)
    opt = make(ps)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 5)).astype(dtype)
    y = rng.integers(0, 2, 4)
    for _ in range(steps):
        opt.zero_grad()
        h = ag.affine(x, ps[0], ps[1], activation="tanh")
        nn.functional.cross_entropy(ag.affine(h, ps[2], ps[3]), y).backward()
        opt.step()
    return ps, opt


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_plain_sgd_gives_the_bits_of_the_per_parameter_update(dtype):
    GeneralSGD.calls = 0
    fast, opt = train(lambda ps: optim.SGD(ps, lr=0.3), dtype=dtype)
    slow, _ = train(lambda ps: GeneralSGD(ps, lr=0.3), dtype=dtype)
    assert GeneralSGD.calls == 6 * 4             # the subclass's _update ran for every parameter
    for a, b in zip(fast, slow):
        assert a.dtype == dtype
        np.testing.assert_array_equal(a.data, b.data)
    assert all(p in opt.state and opt.state[p] == {} for p in fast)   # as the general path gives


def test_plain_sgd_matches_the_formula_and_skips_parameters_without_gradient():
    p = ag.tensor(np.array([1.0, 2.0], np.float32), requires_grad=True)
    unused = ag.tensor(np.array([5.0], np.float32), requires_grad=True)
    opt = optim.SGD([p, unused], lr=0.5)
    p.grad = ag.tensor(np.array([0.25, -1.0], np.float32))
    opt.step()
    expected = np.float32([1.0, 2.0]) - np.float32([0.25, -1.0]) * np.float32(0.5)
    np.testing.assert_array_equal(p.data, expected)
    assert unused.grad is None and unused.data.tolist() == [5.0] and unused not in opt.state


def test_plain_sgd_refuses_a_gradient_of_another_shape():
    p = ag.tensor(np.zeros(3, np.float32), requires_grad=True)
    opt = optim.SGD([p], lr=0.1)
    p.grad = ag.tensor(np.ones(3, np.float32))
    p.data = np.zeros(4, np.float32)            # the value replaced by another shape
    with pytest.raises(ValueError, match=r"shape \(4,\) has a gradient of shape \(3,\)"):
        opt.step()


def test_plain_sgd_updates_a_copy_of_a_parameter_a_live_graph_holds():
    p = ag.tensor(np.ones(3, np.float32), requires_grad=True)
    opt = optim.SGD([p], lr=0.5)
    (p * p).sum().backward()
    held = ag.sin(p).sum()                      # a live graph saved p: its array is read-only
    before = p.data
    assert not before.flags.writeable
    opt.step()
    assert p.data is not before and before.tolist() == [1.0, 1.0, 1.0]
    np.testing.assert_array_equal(p.data, [0.0, 0.0, 0.0])
    with pytest.raises(RuntimeError, match="modified after it was saved"):
        held.backward()


def test_momentum_weight_decay_and_hooks_take_the_general_path():
    ps_a, _ = train(lambda ps: optim.SGD(ps, lr=0.1, weight_decay=0.01))
    ps_b, _ = train(lambda ps: GeneralSGD(ps, lr=0.1, weight_decay=0.01))
    for a, b in zip(ps_a, ps_b):
        np.testing.assert_array_equal(a.data, b.data)
    seen = []
    p = ag.tensor(np.ones(2, np.float32), requires_grad=True)
    opt = optim.SGD([p], lr=1.0)
    opt.register_update_hook(lambda t: seen.append(t.grad.data.tolist()))
    p.grad = ag.tensor(np.array([1.0, 2.0], np.float32))
    opt.step()
    assert seen == [[1.0, 2.0]] and p.data.tolist() == [0.0, -1.0]


def unfused_relu(x, w, b, g):
    y = np.maximum(x @ w + b, 0)
    t = g * (y > 0)
    return [t @ w.T, x.T @ t, t.sum(axis=0)]


def test_scratch_views_per_shape_give_the_formula_for_changing_batch_sizes():
    rng = np.random.default_rng(0)
    w, b = rng.standard_normal((4, 3)), rng.standard_normal(3)
    results = []
    for batch in [3, 7, 3, 1, 7]:               # the buffer grows at 7: older views are dropped
        x, g = rng.standard_normal((batch, 4)), rng.standard_normal((batch, 3))
        ts = [ag.tensor(a, requires_grad=True) for a in (x, w, b)]
        ag.affine(*ts, activation="relu").backward(ag.tensor(g))
        got = [t.grad.data for t in ts]
        for a, e in zip(got, unfused_relu(x, w, b, g)):
            np.testing.assert_allclose(a, e, rtol=1e-12, atol=1e-12)
        results.append((got, unfused_relu(x, w, b, g)))
    for got, expected in results:               # no gradient shares the scratch memory
        for a, e in zip(got, expected):
            np.testing.assert_allclose(a, e, rtol=1e-12, atol=1e-12)
    views = ops._SCRATCH.__dict__["views"]
    bufs = ops._SCRATCH.__dict__["bufs"]
    for (slot, dtype, shape), view in views.items():
        assert np.shares_memory(view, bufs[(slot, dtype)]) and view.shape == shape


def test_scratch_views_are_bounded():
    w = ag.tensor(np.ones((2, 2)), requires_grad=True)
    for batch in range(1, 100):
        ag.affine(np.ones((batch, 2)), w, activation="tanh").sum().backward()
    assert len(ops._SCRATCH.__dict__["views"]) <= 65
    np.testing.assert_allclose(w.grad.data, 4950 * (1 - np.tanh(2.0) ** 2) * np.ones((2, 2)))


def test_a_parameter_saved_by_two_graphs_stays_locked_until_both_are_released():
    a = np.ones(3)
    w = ag.Tensor(a, requires_grad=True)
    first = (ag.sin(w) * 2.0).sum()
    second = (ag.cos(w) * 2.0).sum()
    assert protection._LOCKED[id(a)][1] == 2 and not a.flags.writeable
    first.backward()
    with pytest.raises(ValueError, match="read-only"):
        a[0] = 5.0
    second.backward()
    a[0] = 5.0                                  # writable again: no graph holds it
    assert id(a) not in protection._LOCKED


def test_an_array_made_read_only_by_the_user_is_neither_counted_nor_unlocked():
    a = np.ones(3)
    a.setflags(write=False)
    arr, locked = protection.protect(a)
    assert arr is a and locked == () and id(a) not in protection._LOCKED
    assert not a.flags.writeable


def test_memory_shared_with_a_tensor_built_on_a_view_is_still_copied():
    A = np.arange(6.0)
    t = ag.Tensor(A[:3], requires_grad=True)       # notes A's memory as shared
    arr, locked = protection.protect(A)
    assert arr is not A and np.array_equal(arr, A) and locked == (A,)
    protection.unlock_arrays(locked)
    assert A.flags.writeable and t.shape == (3,)


def test_locks_from_several_threads_balance():
    a = np.ones(4)
    w = ag.Tensor(a, requires_grad=True)

    def work():
        for _ in range(200):
            (ag.sin(w) * 1.0).sum().backward()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert id(a) not in protection._LOCKED and a.flags.writeable
    np.testing.assert_allclose(w.grad.data, 800 * np.cos(1.0))


def test_a_leafs_first_gradient_is_a_plain_tensor_of_its_own():
    w = ag.tensor(np.ones((2, 3), np.float32), requires_grad=True)
    b = ag.tensor(np.zeros(3, np.float32), requires_grad=True)
    ag.affine(np.ones((4, 2), np.float32), w, b).sum().backward()
    for t, value in ((w, 4.0), (b, 4.0)):
        g = t.grad
        assert type(g) is ag.Tensor and g.is_leaf and not g.requires_grad and g.name is None
        assert g.dtype == np.float32 and g.shape == t.shape and g.data.flags.writeable
        np.testing.assert_array_equal(g.data, np.full(t.shape, value))
    assert not np.shares_memory(w.grad.data, b.grad.data)


def test_a_gradient_a_hook_saw_is_copied_into_grad():
    w = ag.tensor(np.ones(3), requires_grad=True)
    kept = []
    y = w * 2.0
    y.register_hook(lambda g: kept.append(g))
    y.sum().backward()
    assert not np.shares_memory(w.grad.data, kept[0].data)
    np.testing.assert_array_equal(w.grad.data, [2.0, 2.0, 2.0])


def test_a_leaf_replaced_by_another_shape_before_backward_refuses_its_gradient():
    w = ag.tensor(np.ones(3), requires_grad=True)
    y = (w * 2.0).sum()
    w.data = np.ones(4)
    with pytest.raises((ValueError, RuntimeError)):
        y.backward()


class Watcher(Observer):
    def recorded(self, node, out, inputs, attrs=None):
        pass


@pytest.mark.parametrize("grad_on", [True, False])
@pytest.mark.parametrize("watched", [True, False])
def test_a_scope_sets_and_restores_the_recording_mode(grad_on, watched):
    expected_outside = (RECORD if grad_on else OFF) if not watched else \
        (RECORD_OBSERVED if grad_on else OFF_OBSERVED)
    expected_inside = ((RECORD_OBSERVED if watched else RECORD_SCOPED) if grad_on else
                       (OFF_OBSERVED if watched else OFF))
    mode = ag.enable_grad() if grad_on else ag.no_grad()
    watcher = Watcher()
    with mode:
        if watched:
            watcher.__enter__()
        try:
            assert STATE.recording == expected_outside
            with ag.scope("outer") as s:
                assert isinstance(s, ag.scope) and STATE.scope == ("outer",)
                assert STATE.recording == expected_inside
                with ag.scope("inner"):
                    assert STATE.scope == ("outer", "inner")
                assert STATE.scope == ("outer",) and STATE.recording == expected_inside
            assert STATE.scope == () and STATE.recording == expected_outside
        finally:
            if watched:
                watcher.__exit__(None, None, None)


def test_modules_label_their_nodes_and_leave_no_scope_behind():
    model = nn.Sequential(nn.Dense(3, 4, "relu", rng=0), nn.Dense(4, 2, rng=1))
    out = model(ag.ones((2, 3)))
    node = out.grad_fn
    assert node.scope == (model, model[1])
    assert node.parents[0].scope == (model, model[0])
    assert STATE.scope == () and STATE.recording == RECORD


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.int64])
@pytest.mark.parametrize("bad", [-1, 3])
def test_cross_entropy_refuses_labels_out_of_range_for_every_integer_dtype(dtype, bad):
    logits = ag.tensor(np.zeros((3, 3)), requires_grad=True)
    labels = np.array([0, bad, 2], dtype)
    with pytest.raises(ValueError, match=f"label {bad} is out of range for 3 classes"):
        ag.softmax_cross_entropy(logits, labels, "mean")
    low = np.array([np.iinfo(dtype).min, 0, 1], dtype)
    with pytest.raises(ValueError, match="out of range"):
        ag.softmax_cross_entropy(logits, low, "mean")


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.uint32, np.uint64, np.int8, np.int64])
def test_cross_entropy_accepts_every_label_in_range(dtype):
    logits = ag.tensor(np.array([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]]), requires_grad=True)
    labels = np.array([2, 0], dtype)
    loss = ag.softmax_cross_entropy(logits, labels, "mean")
    x = logits.data
    expected = np.mean(np.log(np.exp(x).sum(axis=1)) - x[[0, 1], [2, 0]])
    np.testing.assert_allclose(loss.item(), expected, rtol=1e-12)
    loss.backward()
    p = np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)
    p[[0, 1], [2, 0]] -= 1
    np.testing.assert_allclose(logits.grad.data, p / 2, rtol=1e-12)


@pytest.mark.parametrize("order", ["<", ">"])
def test_cross_entropy_checks_labels_of_either_byte_order(order):
    logits = ag.tensor(np.zeros((3, 4)), requires_grad=True)
    for bad in (-1, 4, -(2 ** 31), 2 ** 31 - 1):
        labels = np.array([0, bad, 1], dtype=f"{order}i4")
        with pytest.raises(ValueError, match=f"label {bad} is out of range for 4 classes"):
            ag.softmax_cross_entropy(logits, labels, "mean")
    labels = np.array([3, 0, 1], dtype=f"{order}i8")
    loss = ag.softmax_cross_entropy(logits, labels, "sum")
    np.testing.assert_allclose(loss.item(), 3 * np.log(4.0), rtol=1e-12)
    loss.backward()
    expected = np.full((3, 4), 0.25)
    expected[[0, 1, 2], [3, 0, 1]] -= 1
    np.testing.assert_allclose(logits.grad.data, expected, rtol=1e-12)
