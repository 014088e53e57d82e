"""Property-based tests: gradients of broadcasting operations for arbitrary compatible shapes."""

import contextlib

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import autograd as ag
from autograd.tensor import STATE

settings.register_profile("chainrule", max_examples=40, deadline=None)
settings.load_profile("chainrule")

shape_pairs = hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3)


def _tensor(shape, seed):
    data = np.random.default_rng(seed).uniform(0.5, 2.0, shape)
    return ag.tensor(data, dtype=np.float64, requires_grad=True)


@given(shapes=shape_pairs, seed=st.integers(0, 2**16),
       op=st.sampled_from([ag.add, ag.subtract, ag.multiply, ag.divide, ag.power, ag.maximum]))
def test_binary_broadcast_gradient_matches_finite_differences(shapes, seed, op):
    a = _tensor(shapes.input_shapes[0], seed)
    b = _tensor(shapes.input_shapes[1], seed + 1)
    out = op(a, b)
    assert out.shape == shapes.result_shape
    assert ag.gradcheck(op, (a, b))


@given(shapes=shape_pairs, seed=st.integers(0, 2**16))
def test_gradient_of_broadcast_sum_counts_copies(shapes, seed):
    a = _tensor(shapes.input_shapes[0], seed)
    b = _tensor(shapes.input_shapes[1], seed + 1)
    (a + b).sum().backward()
    copies_a = int(np.prod(shapes.result_shape)) // max(a.size, 1)
    copies_b = int(np.prod(shapes.result_shape)) // max(b.size, 1)
    np.testing.assert_allclose(a.grad.data, np.full(a.shape, copies_a))
    np.testing.assert_allclose(b.grad.data, np.full(b.shape, copies_b))


@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=4), seed=st.integers(0, 2**16),
       data=st.data())
def test_reduction_gradients_any_axis(shape, seed, data):
    axis = data.draw(st.none() | st.integers(-len(shape), len(shape) - 1))
    keepdims = data.draw(st.booleans())
    x = _tensor(shape, seed)
    for fn in (ag.sum, ag.mean, ag.logsumexp):
        assert ag.gradcheck(lambda v, f=fn: f(v, axis=axis, keepdims=keepdims), (x,))
    # max: distinct values at least 0.01 apart, so no two lie within a finite-difference step
    # of each other (a near-tie makes the central difference straddle the kink)
    spread = np.random.default_rng(seed).permutation(x.size).reshape(shape) * 0.01 + 0.5
    x = ag.tensor(spread, dtype=np.float64, requires_grad=True)
    assert ag.gradcheck(lambda v: ag.max(v, axis=axis, keepdims=keepdims), (x,))


@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3),
       seed=st.integers(0, 2**16))
def test_gradients_have_input_shapes_and_dtypes(shapes, seed):
    a = ag.tensor(np.ones(shapes.input_shapes[0], np.float32), requires_grad=True)
    b = ag.tensor(np.ones(shapes.input_shapes[1], np.float32), requires_grad=True)
    (a * b + a).sum().backward()
    assert a.grad.shape == a.shape and b.grad.shape == b.shape
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float32


@settings(max_examples=60, deadline=None)
@given(program=st.lists(st.tuples(st.integers(0, 2), st.integers(0, 10**6), st.integers(0, 10**6)),
                        min_size=1, max_size=12),
       outputs=st.integers(1, 3), seed=st.integers(0, 2**16))
def test_any_dag_of_operations_matches_finite_differences(program, outputs, seed):
    """Random programs reuse earlier values in any order (diamonds, a value feeding one operation
    twice, inputs listed before or after their own producers), so backward's order is tested."""
    rng = np.random.default_rng(seed)
    x = ag.tensor(rng.uniform(-1, 1, 3), dtype=np.float64, requires_grad=True)
    w = ag.tensor(rng.uniform(-1, 1, 1), dtype=np.float64, requires_grad=True)

    def fn(x, w):
        values = [x, w]
        for op, i, j in program:
            a, b = values[i % len(values)], values[j % len(values)]
            values.append((a * b, ag.sin(a) + b, ag.tanh(a - b) * 0.5)[op])
        return sum(v.sum() for v in values[-outputs:])

    assert ag.gradcheck(fn, (x, w))
    assert ag.gradgradcheck(fn, (x, w))                     # create_graph through the same DAG
    grads = ag.grad(fn(x, w), (x, w), allow_unused=True)
    fn(x, w).backward()
    for g, t in zip(grads, (x, w)):                          # ag.grad and backward agree
        if g is None:
            assert t.grad is None
        else:
            np.testing.assert_allclose(g.data, t.grad.data, rtol=1e-12)


def test_backward_of_several_outputs_sharing_a_graph():
    x = ag.tensor([0.3, -1.2, 2.0], dtype=np.float64, requires_grad=True)
    ys = [x * 2.0, ag.sin(x)]
    ys.append(ys[0] * ys[1])                    # the last output consumes the first two
    ag.backward([y.sum() for y in ys])
    a = x.data
    np.testing.assert_allclose(x.grad.data, 2 + np.cos(a) + 2 * (np.sin(a) + a * np.cos(a)),
                               rtol=1e-12)


_SWITCHES = {
    "no_grad": ag.no_grad, "enable_grad": ag.enable_grad,
    "scope": lambda: ag.scope("s"), "record_values": ag.record_values,
    "detect_anomaly": ag.detect_anomaly,
}


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(sorted(_SWITCHES)), max_size=6))
def test_nested_switches_give_what_each_operation_sees(stack):
    """Any nesting of grad mode, scopes and recording hooks: an operation inside is recorded
    exactly when grad mode is on, gets the open scopes, and everything is restored after."""
    x = ag.tensor([1.0, 2.0], dtype=np.float64, requires_grad=True)
    with contextlib.ExitStack() as es:
        for name in stack:
            es.enter_context(_SWITCHES[name]())
        enabled = True
        for name in stack:
            enabled = {"no_grad": False, "enable_grad": True}.get(name, enabled)
        y = ag.sin(x) * 2.0
        assert y.requires_grad == enabled
        if enabled:
            assert y.grad_fn.scope == ("s",) * stack.count("scope")
            assert y.grad_fn.parents[0].scope == ("s",) * stack.count("scope")
            values = y.grad_fn.meta is not None and "value" in y.grad_fn.meta
            assert values == ("record_values" in stack)
    assert (STATE.enabled, STATE.scope, STATE.observers, STATE.recording) == (True, (), (), 1)
    assert (ag.sin(x) * 2.0).grad_fn.scope == ()
