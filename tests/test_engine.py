"""The backward pass: accumulation, graph shapes, retain_graph, grad modes, depth."""

import threading
import tracemalloc

import numpy as np
import pytest
from conftest import f64

import autograd as ag


def test_reused_input_accumulates():
    a = f64(3.0)
    (a * a).backward()
    assert a.grad.item() == 6.0


def test_diamond_graph():
    a = f64(3.0)
    b = a + a
    c = b * b          # c = 4 a^2, dc/da = 8 a
    c.backward()
    assert a.grad.item() == 24.0


def test_wide_diamond_with_shared_intermediate():
    x = f64([1.0, 2.0])
    h = ag.exp(x)
    y = (h * 2.0 + h * h + ag.sin(h)).sum()
    y.backward()
    e = np.exp(x.data)
    np.testing.assert_allclose(x.grad.data, (2 + 2 * e + np.cos(e)) * e)


def test_gradient_accumulates_across_backward_calls():
    x = f64([1.0, 2.0])
    (x * 3.0).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.data, [3 + 2, 3 + 4])


def test_leaf_grads_do_not_alias_each_other():
    a, b = f64([1.0, 2.0]), f64([3.0, 4.0])
    (a + b).sum().backward()
    a.grad.data *= 10
    np.testing.assert_allclose(b.grad.data, [1.0, 1.0])


def test_user_seed_is_not_aliased_into_grad():
    x = f64([1.0, 2.0])
    seed = np.array([1.0, 1.0])
    x.backward(seed)
    x.grad.data += 1
    np.testing.assert_array_equal(seed, [1.0, 1.0])


def test_backward_order_is_reverse_topological_without_recursion():
    x = f64(0.5)
    y = x
    order = []
    for i in range(100_000):
        y = y * 1.0
        if i % 1000 == 0:           # a hook runs when the engine reaches that tensor's node
            y.register_hook(lambda g, i=i: order.append(i))
    y.backward()
    assert x.grad.item() == 1.0
    assert order == list(range(99_000, -1, -1000))      # latest first, each once


def test_backward_runs_a_node_after_every_node_that_uses_it():
    x = f64(2.0)
    a = x * 2.0
    b = a + 1.0
    c = a * 3.0
    d = b * c
    order = []
    for name, t in (("a", a), ("b", b), ("c", c), ("d", d)):
        t.register_hook(lambda g, name=name: order.append(name))
    d.backward()
    assert order.index("d") < order.index("b") < order.index("a")
    assert order.index("d") < order.index("c") < order.index("a")
    assert sorted(order) == ["a", "b", "c", "d"]        # each node once, its gradient complete
    assert x.grad.item() == 2 * (6 * 2.0) + (2 * 2.0 + 1) * 6      # d = (2x + 1) * 6x


def test_100k_chain_has_no_recursion_limit_and_frees_memory():
    x = ag.tensor(np.ones(1), requires_grad=True)
    tracemalloc.start()
    y = x
    for _ in range(100_000):
        y = y + 1.0
    y.sum().backward()
    del y
    current, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert x.grad.item() == 1.0
    assert current < 5_000_000      # the graph is gone once the output is dropped


@pytest.mark.slow
def test_million_op_chain_backpropagates():
    x = ag.tensor(np.zeros(1), requires_grad=True)
    y = x
    for _ in range(1_000_000):
        y = y + 1e-6
    y.sum().backward()
    assert x.grad.item() == 1.0
    np.testing.assert_allclose(y.data, [1.0], rtol=1e-3)


def test_retain_graph_allows_second_backward():
    x = f64([1.0, 2.0])
    y = (ag.exp(x) * x).sum()
    y.backward(retain_graph=True)
    first = x.grad.data.copy()
    y.backward()
    np.testing.assert_allclose(x.grad.data, 2 * first)


def test_second_backward_through_freed_graph_names_retain_graph():
    x = f64([1.0, 2.0])
    y = (ag.exp(x) * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        y.backward()


def test_graph_that_saved_only_constants_can_backward_twice():
    x = f64([1.0, 2.0])
    y = (x * 3.0 + 1.0 - 2.0 / 4.0).sum()        # saves the number 3.0, no tensor
    y.backward()
    y.backward()
    np.testing.assert_allclose(x.grad.data, [6.0, 6.0])


def test_python_numbers_keep_the_tensor_dtype_and_exact_values():
    for dtype in (np.float16, np.float32, np.float64):
        a = np.array([0.1, -2.5, 3.0], dtype)
        x = ag.tensor(a, requires_grad=True)
        for _ in range(2):                      # the second time the number comes from the cache
            for y, expected in ((x * 1.001, a * 1.001), (0.3 - x, 0.3 - a), (x + 7, a + 7),
                                (2 ** x, 2 ** a), (x * -0.0, a * -0.0)):
                assert y.dtype == dtype
                np.testing.assert_array_equal(y.data, expected)
                assert np.signbit(y.data).tolist() == np.signbit(expected).tolist()
    x32 = ag.tensor([1.0, 2.0], requires_grad=True)
    for _ in range(2):                          # an overflowing number warns every time, as NumPy
        with pytest.warns(RuntimeWarning, match="overflow"):
            assert np.isinf((x32 * 1e300).data).all()
    assert (ag.tensor([1, 2]) * 1.5).dtype == ag.get_default_dtype()   # int tensor and float: default dtype


def test_replacing_data_before_saving_is_fine_and_after_saving_is_caught():
    x = f64([1.0, 2.0])
    x.data = np.array([3.0, 4.0])                # before the graph: the new value is saved
    y = (x * x).sum()
    y.backward()
    np.testing.assert_allclose(x.grad.data, [6.0, 8.0])
    z = (x * x).sum()
    x.data = np.array([5.0, 6.0])
    with pytest.raises(RuntimeError, match="'multiply'.*version"):
        z.backward()


def test_graph_saved_arrays_are_released_after_backward():
    x = f64([1.0, 2.0])
    y = ag.exp(x)
    z = (y * x).sum()
    z.backward()
    assert z.grad_fn.freed or not z.grad_fn.saved
    assert y.grad_fn.ans is None
    assert y.grad_fn.freed


def test_no_grad_records_nothing_and_is_a_decorator():
    x = f64([1.0])
    with ag.no_grad():
        y = x * 2
        assert not ag.is_grad_enabled()
        with ag.enable_grad():
            z = x * 2
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad

    @ag.no_grad()
    def f(t):
        return t * 3
    assert not f(x).requires_grad
    assert ag.is_grad_enabled()


def test_grad_mode_is_per_thread():
    seen = {}

    def worker():
        seen["enabled"] = ag.is_grad_enabled()
        x = f64([1.0])
        seen["records"] = (x * 2).requires_grad

    with ag.no_grad():
        th = threading.Thread(target=worker)
        th.start()
        th.join()
        assert not ag.is_grad_enabled()
    assert seen == {"enabled": True, "records": True}


def test_ag_grad_leaves_dot_grad_alone():
    x = f64([1.0, 2.0])
    (gx,) = ag.grad((x * x).sum(), x)
    np.testing.assert_allclose(gx.data, [2.0, 4.0])
    assert x.grad is None


def test_ag_grad_with_respect_to_intermediate():
    x = f64([1.0, 2.0])
    h = x * 3.0
    y = (h * h).sum()
    gh, gx = ag.grad(y, [h, x])
    np.testing.assert_allclose(gh.data, 2 * h.data)
    np.testing.assert_allclose(gx.data, 18 * x.data)


def test_ag_grad_grad_outputs_and_multiple_outputs():
    x = f64([1.0, 2.0])
    y1, y2 = x * 2.0, x * x
    (g,) = ag.grad([y1, y2], x, grad_outputs=[np.array([1.0, 0.0]), np.array([1.0, 1.0])])
    np.testing.assert_allclose(g.data, [2 + 2, 0 + 4])


def test_ag_grad_unused_input():
    x, z = f64([1.0]), f64([2.0])
    y = (x * 2).sum()
    with pytest.raises(RuntimeError, match="allow_unused"):
        ag.grad(y, [x, z], retain_graph=True)
    gx, gz = ag.grad(y, [x, z], allow_unused=True)
    assert gz is None and gx.item() == 2.0


def test_backward_on_non_scalar_needs_grad():
    x = f64([1.0, 2.0])
    with pytest.raises(RuntimeError, match=r"grad=.*shape \(2,\)"):
        (x * 2).backward()
    (x * 2).backward(np.array([1.0, 3.0]))
    np.testing.assert_allclose(x.grad.data, [2.0, 6.0])


def test_backward_grad_of_wrong_shape_is_refused():
    x = f64([1.0, 2.0])
    with pytest.raises(RuntimeError, match=r"shape \(3,\).*shape \(2,\)"):
        (x * 2).backward(np.ones(3))


def test_backward_on_tensor_without_grad_explains():
    with pytest.raises(RuntimeError, match="requires_grad=True"):
        ag.tensor([1.0]).sum().backward()


def test_gradients_keep_float32():
    x = ag.tensor(np.ones((3, 4), np.float32), requires_grad=True)
    w = ag.tensor(np.ones((4, 2), np.float32), requires_grad=True)
    y = ag.sigmoid(x @ w * 0.5 + 1.0).mean()
    y.backward()
    assert y.dtype == np.float32
    assert x.grad.dtype == np.float32 and w.grad.dtype == np.float32


def test_gradient_cast_back_to_input_dtype_when_mixing():
    x = ag.tensor(np.ones(3, np.float32), requires_grad=True)
    (x * np.ones(3, np.float64)).sum().backward()
    assert x.grad.dtype == np.float32


def test_one_tensor_feeding_many_operations():
    x = ag.tensor(np.ones(2), requires_grad=True)
    total = None
    for i in range(20_000):
        term = x * float(i % 3)
        total = term if total is None else total + term
    total.sum().backward()
    np.testing.assert_allclose(x.grad.data, [sum(i % 3 for i in range(20_000))] * 2)


def test_scope_and_observers_are_per_thread_and_restored():
    from autograd.tensor import STATE
    seen = {}

    def worker():
        x = f64([1.0])
        seen["scope"] = (x * 2).grad_fn.scope
        seen["state"] = (STATE.scope, STATE.observers, STATE.recording)

    calls = []
    with ag.scope("outer"):
        with ag.record_values():
            x = f64([1.0, 2.0])
            y = ag.sin(x) + 1.0
            calls.append(y.grad_fn.meta["value"]["shape"])
            th = threading.Thread(target=worker)
            th.start()
            th.join()
        assert y.grad_fn.scope == ("outer",)
        assert y.grad_fn.parents[0].scope == ("outer",)
    assert calls == [(2,)]
    assert seen == {"scope": (), "state": ((), (), 1)}
    assert (STATE.scope, STATE.observers, STATE.recording) == ((), (), 1)
    with ag.no_grad():
        assert STATE.recording == 0
        with ag.scope("inside no_grad"):
            assert STATE.recording == 0 and not (f64([1.0]) * 2).requires_grad
    assert (f64([1.0]) * 2).grad_fn.scope == ()


class _Log(ag.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.log(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g / x


def test_custom_function_nodes_get_scope_and_anomaly_check():
    x = f64([1.0, 2.0])
    with ag.scope("block"):
        y = _Log.apply(x)
    assert y.grad_fn.scope == ("block",)
    with ag.detect_anomaly():
        with pytest.raises(RuntimeError, match="forward of '_Log' produced NaN"), \
                np.errstate(invalid="ignore"):
            _Log.apply(f64([-1.0]))


def test_grad_with_respect_to_an_intermediate_leaves_the_graph_below_it():
    x = f64([1.0, 2.0])
    h = ag.exp(x)
    y = (h * h).sum()
    (gh,) = ag.grad(y, h)
    np.testing.assert_allclose(gh.data, 2 * np.exp([1.0, 2.0]))
    (h * 3).sum().backward()                # exp's saved output is still there
    np.testing.assert_allclose(x.grad.data, 3 * np.exp([1.0, 2.0]))
    with pytest.raises(RuntimeError, match="second time"):
        ag.grad(y, h)                       # but the part between y and h was freed


def test_grad_needs_at_least_one_input_and_output():
    x = f64([1.0])
    with pytest.raises(ValueError, match="inputs is empty"):
        ag.grad((x * 2).sum(), [])
    with pytest.raises(ValueError, match="outputs is empty"):
        ag.grad([], x)


def test_grad_mode_decorators_cover_generators_and_the_bare_form():
    @ag.no_grad()
    def steps(x):
        got = yield (x * 2).requires_grad, ag.is_grad_enabled()
        yield got, ag.is_grad_enabled()
        return "done"

    @ag.no_grad
    def bare(x):
        return (x * 2).requires_grad

    x = f64([1.0])
    gen = steps(x)
    assert next(gen) == (False, False)
    assert ag.is_grad_enabled()                     # outside the generator: unchanged
    assert gen.send("sent") == ("sent", False)
    with pytest.raises(StopIteration) as stop:
        next(gen)
    assert stop.value.value == "done"
    assert bare(x) is False and bare.__name__ == "bare"
    with ag.no_grad():
        assert list(ag.enable_grad()(lambda: (yield (x * 2).requires_grad))()) == [True]
        assert not ag.is_grad_enabled()
    with pytest.raises(TypeError, match="decorates a function"):
        ag.no_grad()(3)


def test_gradgradcheck_refuses_grad_outputs_that_do_not_match():
    x = f64([1.0, 2.0])
    with pytest.raises(ValueError, match="2 grad_outputs for 1 output"):
        ag.gradgradcheck(lambda a: a * a, (x,), grad_outputs=(f64([1.0, 1.0]), f64([1.0, 1.0])))
    with pytest.raises(ValueError, match="shape \\(3,\\)"):
        ag.gradgradcheck(lambda a: a * a, (x,), grad_outputs=f64([1.0, 1.0, 1.0]))


def test_threads_saving_one_parameter_keep_its_lock_count():
    from autograd.protection import _LOCKED
    w = f64(np.ones(3))
    errors = []

    def worker():
        try:
            for _ in range(300):
                (w * w).sum().backward()            # saves w, then releases it
        except Exception as err:                    # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors
    assert id(w.data) not in _LOCKED and w.data.flags.writeable
    np.testing.assert_allclose(w.grad.data, np.full(3, 2 * 4 * 300.0))
