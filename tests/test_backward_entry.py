"""`backward()` of a one-element output: the seed (a shared read-only array of ones) and the
thread's recording mode around the pass (engine.backward, engine.run)."""

import numpy as np
import pytest

import autograd as ag
from autograd.tensor import RECORD, RECORD_OBSERVED, RECORD_SCOPED, STATE


def test_seed_handed_straight_to_a_leaf_becomes_its_own_writable_grad():
    x = ag.tensor(np.array([2.0]), requires_grad=True)
    (x + 0.0).backward()        # add's rule passes the seed on as it is
    g = x.grad.numpy()
    assert g.flags.writeable
    np.testing.assert_array_equal(g, [1.0])
    g[...] = 5.0                # the user's .grad: writing into it changes no later seed
    x.grad = None
    (x + 0.0).backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0])
    (x * 3.0).backward()        # accumulates into the stored gradient
    np.testing.assert_array_equal(x.grad.numpy(), [4.0])


def test_one_element_outputs_of_several_shapes_and_dtypes():
    for dtype in (np.float16, np.float32, np.float64):
        x = ag.tensor(np.array([[0.5]], dtype=dtype), requires_grad=True)
        y = ag.exp(x) * 2.0         # shape (1, 1)
        y.backward(retain_graph=True)
        y.backward()                # the same seed again: adds the same gradient
        assert x.grad.dtype == dtype
        np.testing.assert_allclose(x.grad.numpy(), 4 * np.exp([[0.5]]), rtol=2e-3)


def test_hook_on_the_output_sees_ones_and_may_replace_them():
    x = ag.tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = (x * x).sum()
    seen = []
    y.register_hook(lambda g: seen.append(g.numpy().copy()) or g * 3.0)
    y.backward()
    np.testing.assert_array_equal(seen[0], 1.0)
    np.testing.assert_allclose(x.grad.numpy(), [6.0, 12.0])


def test_recording_mode_restored_inside_a_scope_and_after_a_hook_adds_an_observer():
    x = ag.tensor(np.array([1.0, 2.0]), requires_grad=True)
    with ag.scope("outer"):
        (x * x).sum().backward()
        assert STATE.recording == RECORD_SCOPED         # the scope's labels still recorded
        y = x * 2.0
        assert y.grad_fn.scope == ("outer",)
    assert STATE.recording == RECORD
    anomaly = ag.detect_anomaly()
    z = (x * 3.0).sum()
    z.register_hook(lambda g: anomaly.__enter__() and None)    # an observer left installed
    try:
        z.backward()
        assert STATE.recording == RECORD_OBSERVED       # worked out again: it watches now
        np.testing.assert_allclose(x.grad.numpy(), [2.0 + 3.0, 4.0 + 3.0])
    finally:
        anomaly.__exit__(None, None, None)
    assert STATE.recording == RECORD
    w = (x * x).sum()
    with ag.no_grad():
        w.backward()
        assert STATE.recording < RECORD and not ag.is_grad_enabled()
    assert ag.is_grad_enabled()


def test_non_scalar_output_still_needs_a_gradient():
    x = ag.tensor(np.array([1.0, 2.0]), requires_grad=True)
    with pytest.raises(RuntimeError, match="non-scalar"):
        (x * 2.0).backward()
