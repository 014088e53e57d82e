"""Hooks, custom Functions, in-place change detection and NaN/Inf anomaly detection."""

import numpy as np
import pytest
from conftest import Cube, f64

import autograd as ag

# ---------------------------------------------------------------- hooks

def test_hook_on_leaf_sees_gradient_and_can_replace_it():
    x = f64([1.0, 2.0])
    seen = []
    x.register_hook(lambda g: seen.append(g.data.copy()))
    (x * 3.0).sum().backward()
    np.testing.assert_allclose(seen[0], [3.0, 3.0])
    x.grad = None
    x.register_hook(lambda g: g * 0.5)
    (x * 3.0).sum().backward()
    np.testing.assert_allclose(x.grad.data, [1.5, 1.5])


def test_hook_on_intermediate_changes_what_flows_upstream():
    x = f64([1.0, 2.0])
    h = x * x
    h.register_hook(lambda g: ag.zeros_like(g, dtype=np.float64) + 1.0)
    (h * 10.0).sum().backward()
    np.testing.assert_allclose(x.grad.data, 2 * x.data)      # 1 * dh/dx, not 10 * dh/dx


def test_hook_handle_remove():
    x = f64([1.0])
    calls = []
    handle = x.register_hook(lambda g: calls.append(1))
    (x * 2).sum().backward()
    handle.remove()
    (x * 2).sum().backward()
    assert calls == [1]


def test_hook_returning_wrong_shape_is_refused():
    x = f64([1.0, 2.0])
    h = x * 2
    h.register_hook(lambda g: ag.ones(3))
    with pytest.raises(RuntimeError, match=r"hook.*shape \(3,\).*\(2,\)"):
        h.sum().backward()


def test_hook_sees_total_gradient_of_reused_tensor():
    x = f64(2.0)
    h = x * 1.0
    seen = []
    h.register_hook(lambda g: seen.append(g.item()))
    (h * h + h).backward()
    assert seen == [2 * 2.0 + 1]


# ---------------------------------------------------------------- custom Functions

class ScaleBy(ag.Function):
    """Two inputs, one of them a plain number passed through unchanged."""

    @staticmethod
    def forward(ctx, x, k):
        ctx.k = k
        return x * k

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.k, None


def test_custom_function_gradients_and_gradcheck():
    x = f64([1.0, -2.0, 0.5])
    y = Cube.apply(x)
    assert y.grad_fn.name == "Cube"
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, 3 * x.data ** 2)
    assert ag.gradcheck(Cube.apply, (x,))
    assert ag.gradcheck(lambda t: ScaleBy.apply(Cube.apply(t), 2.5), (x,))


def test_custom_function_wrong_shape_names_function_and_shapes():
    class Bad(ag.Function):
        @staticmethod
        def forward(ctx, x):
            return x.sum()

        @staticmethod
        def backward(ctx, grad):
            return np.ones(5)

    x = f64(np.ones(3))
    with pytest.raises(RuntimeError, match=r"Bad.backward.*shape \(5,\).*shape \(3,\)"):
        Bad.apply(x).backward()


def test_custom_function_wrong_number_of_gradients():
    class Two(ag.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, grad):
            return grad, grad

    with pytest.raises(RuntimeError, match="Two.backward returned 2"):
        Two.apply(f64([1.0])).sum().backward()


def test_custom_function_is_differentiable_once_only():
    x = f64([1.0, 2.0])
    (g,) = ag.grad(Cube.apply(x).sum(), x, create_graph=True)
    np.testing.assert_allclose(g.data, [3.0, 12.0])
    with pytest.raises(RuntimeError, match="Cube.backward cannot be differentiated"):
        g.sum().backward()


def test_custom_function_saved_input_is_version_checked():
    x = f64([1.0, 2.0])
    y = Cube.apply(x)
    x.data = np.array([5.0, 5.0])
    with pytest.raises(RuntimeError, match="Cube"):
        y.sum().backward()


def test_custom_function_second_backward_names_retain_graph():
    x = f64([1.0, 2.0])
    y = Cube.apply(x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        y.backward()


# ---------------------------------------------------------------- in-place changes

def test_assigning_data_after_save_raises_naming_operation_and_tensor():
    w = f64([1.0, 2.0], name="w")
    y = (w * w).sum()
    w.data = np.array([3.0, 4.0])
    with pytest.raises(RuntimeError, match=r"'multiply'.*'w'.*version"):
        y.backward()


def test_augmented_assignment_to_data_is_detected():
    x = f64([1.0, 2.0])
    y = ag.sin(x).sum()
    with pytest.raises((RuntimeError, ValueError)):
        x.data += 1
        y.backward()


def test_writing_into_saved_array_is_refused_at_the_write():
    x = f64([1.0, 2.0])
    y = (x * x).sum()
    with pytest.raises(ValueError, match="read-only"):
        x.data[0] = 5.0
    y.backward()
    np.testing.assert_allclose(x.grad.data, [2.0, 4.0])


def test_writing_into_saved_output_is_refused():
    x = f64([1.0, 2.0])
    e = ag.exp(x)                # exp keeps its output for backward
    y = e.sum()
    with pytest.raises(ValueError, match="read-only"):
        e.data[0] = 0.0
    y.backward()
    np.testing.assert_allclose(x.grad.data, np.exp([1.0, 2.0]))


def test_replacing_saved_output_raises_at_backward():
    x = f64([1.0, 2.0])
    e = ag.tanh(x)
    y = e.sum()
    e.data = np.zeros(2)
    with pytest.raises(RuntimeError, match="tanh"):
        y.backward()


def test_arrays_are_writable_again_after_backward_or_when_graph_dies():
    x = f64([1.0, 2.0])
    (x * x).sum().backward()
    x.data[0] = 7.0                      # graph released: allowed
    y = (x * x).sum()
    del y                                # graph dropped without backward
    x.data[1] = 8.0
    np.testing.assert_allclose(x.data, [7.0, 8.0])


def test_in_place_protection_is_not_needed_without_a_graph():
    x = f64([1.0, 2.0])
    with ag.no_grad():
        y = x * x
    x.data[0] = 3.0
    assert y.data[0] == 1.0


# ---------------------------------------------------------------- anomaly detection

def test_anomaly_forward_nan_names_operation_and_user_line():
    x = f64([0.0, 1.0])
    with pytest.raises(RuntimeError) as err, ag.detect_anomaly(), np.errstate(all="ignore"):
        y = ag.log(x) * 0.0        # -inf * 0 = nan
        y.sum()
    msg = str(err.value)
    assert "'multiply'" in msg and "NaN" in msg
    assert "test_engine_depth.py" in msg and "ag.log(x) * 0.0" in msg


def test_anomaly_backward_inf_names_first_operation():
    x = f64([0.0, 4.0])
    with ag.detect_anomaly(), np.errstate(all="ignore"):
        y = ag.sqrt(x).sum()
        with pytest.raises(RuntimeError) as err:
            y.backward()
    msg = str(err.value)
    assert "backward of 'sqrt'" in msg and "Inf" in msg and "ag.sqrt(x).sum()" in msg


def test_anomaly_mode_off_lets_nan_through():
    x = f64([0.0, 4.0])
    y = ag.sqrt(x).sum()
    with np.errstate(divide="ignore"):
        y.backward()
    assert np.isinf(x.grad.data[0])


def test_anomaly_detect_in_grad_from_custom_function():
    class NaNBackward(ag.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1.0

        @staticmethod
        def backward(ctx, grad):
            return grad * np.nan

    x = f64([1.0])
    with ag.detect_anomaly():
        y = NaNBackward.apply(x).sum()
        with pytest.raises(RuntimeError, match="NaNBackward.*NaN"):
            y.backward()


def test_custom_function_cannot_write_into_an_array_another_node_saved():
    class AddOneInPlace(ag.Function):
        @staticmethod
        def forward(ctx, a):
            a += 1
            return a

        @staticmethod
        def backward(ctx, g):
            return g

    x = ag.tensor([0.5, 1.0], dtype=np.float64, requires_grad=True)
    h = x * 2.0
    y = ag.sin(h)                       # saves h's array for its backward
    with pytest.raises(ValueError, match="read-only"):
        AddOneInPlace.apply(h)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, 2 * np.cos(2 * x.data))


# ---------------------------------------------------------------- aliases of saved arrays

def test_writes_through_aliases_of_a_saved_output_are_refused():
    x = f64([1.0, 2.0])
    y = ag.exp(x)
    z = (y * y).sum()                       # saves y
    aliases = [y.detach().data, y.reshape(2, 1).data, y[0:1].data, y.T.data, y.numpy(),
               ag.expand_dims(y, 0).data, ag.flatten(y).data, ag.split(y, 2)[0].data]
    for a in aliases:
        with pytest.raises(ValueError, match="read-only"):
            a[0] = 100.0
    z.backward()
    np.testing.assert_allclose(x.grad.data, 2 * np.exp(2 * x.data))


def test_writing_into_a_leaf_whose_view_was_saved_is_refused_until_backward():
    x = f64([1.0, 2.0, 3.0])
    v = x[0:2]                              # a view of x's array
    z = (v * v).sum()                       # saves the view
    with pytest.raises(ValueError, match="read-only"):
        x.data[0] = 100.0
    z.backward()
    np.testing.assert_allclose(x.grad.data, [2.0, 4.0, 0.0])
    x.data[0] = 100.0                       # released: writable again
    assert x.data[0] == 100.0


def test_an_ndarray_operand_is_locked_while_saved():
    x = f64([1.0, 2.0])
    arr = np.array([3.0, 4.0])
    y = (x * arr).sum()                     # multiply saves arr for x's gradient
    with pytest.raises(ValueError, match="read-only"):
        arr[:] = 0.0
    y.backward()
    np.testing.assert_allclose(x.grad.data, [3.0, 4.0])
    arr[:] = 0.0                            # released: the user's array is writable again
    w = np.ones((2, 2))
    h = x @ w
    del h                                   # graph dropped without backward: unlocked too
    w[0, 0] = 5.0


def test_one_array_saved_by_two_graphs_stays_locked_until_both_are_released():
    x = f64([1.0, 2.0])
    y1, y2 = (x * x).sum(), ag.sin(x).sum()
    y1.backward()
    with pytest.raises(ValueError, match="read-only"):
        x.data[0] = 5.0                     # y2's graph still holds it
    y2.backward()
    x.data[0] = 5.0


class _ExpSavingOutput(ag.Function):
    @staticmethod
    def forward(ctx, a):
        r = np.exp(a)
        ctx.save_for_backward(r)
        return r

    @staticmethod
    def backward(ctx, g):
        (r,) = ctx.saved_arrays
        return g * r


def test_a_function_output_it_saved_cannot_be_written():
    x = f64([1.0, 2.0])
    y = _ExpSavingOutput.apply(x)
    s = y.sum()
    with pytest.raises(ValueError, match="read-only"):
        y.data[0] = 100.0
    s.backward()
    np.testing.assert_allclose(x.grad.data, np.exp([1.0, 2.0]))


def test_differentiating_a_function_gradient_by_its_incoming_gradient_raises():
    x = f64([1.0, 2.0])
    with pytest.raises(RuntimeError, match="differentiable once"):
        ag.functional.jvp(_ExpSavingOutput.apply, x, f64([1.0, 1.0]))


def test_function_outputs_one_numeric_array():
    class Pair(ag.Function):
        @staticmethod
        def forward(ctx, a):
            return a * 2, a * 3

        @staticmethod
        def backward(ctx, g):
            return g

    class ArgMax(ag.Function):
        @staticmethod
        def forward(ctx, a):
            return np.argmax(a)

        @staticmethod
        def backward(ctx, g):
            return None

    class Text(ag.Function):
        @staticmethod
        def forward(ctx, a):
            return np.array(["a", "b"])

        @staticmethod
        def backward(ctx, g):
            return None

    x = f64([1.0, 3.0, 2.0])
    with pytest.raises(TypeError, match="Pair.forward returned a tuple"):
        Pair.apply(x)
    i = ArgMax.apply(x)
    assert i.item() == 1 and not i.requires_grad and i.grad_fn is None
    with pytest.raises(TypeError, match="Text.forward must return a numeric array"):
        Text.apply(x)


def test_anomaly_names_the_first_nan_even_where_nothing_is_recorded():
    data = ag.tensor([-1.0, 2.0], dtype=np.float64)             # needs no gradient
    w = f64([[1.0], [1.0]])
    with ag.detect_anomaly(), np.errstate(invalid="ignore"):
        with pytest.raises(RuntimeError, match="forward of 'log' produced NaN") as err:
            ag.log(data) @ w
        assert "ag.log(data) @ w" in str(err.value)
        with ag.no_grad(), pytest.raises(RuntimeError, match="forward of 'sqrt' produced NaN"):
            ag.sqrt(w - 2.0)
        with pytest.raises(RuntimeError, match="forward of '_LogNoSave' produced NaN"):
            _LogNoSave.apply(data)
    with np.errstate(invalid="ignore"):
        assert np.isnan(ag.log(data).data[0])                   # outside: no check


class _LogNoSave(ag.Function):
    @staticmethod
    def forward(ctx, a):
        return np.log(a)

    @staticmethod
    def backward(ctx, g):
        return g


def test_function_saving_several_inputs():
    class Mul(ag.Function):
        @staticmethod
        def forward(ctx, x, y):
            ctx.save_for_backward(x, y)
            return x * y

        @staticmethod
        def backward(ctx, g):
            x, y = ctx.saved_arrays
            return g * y, g * x

    x, y = f64([1.0, 2.0]), f64([3.0, 4.0])
    out = Mul.apply(x, y)
    with pytest.raises(ValueError, match="read-only"):
        x.data[0] = 9.0
    out.sum().backward()
    np.testing.assert_allclose(x.grad.data, [3.0, 4.0])
    np.testing.assert_allclose(y.grad.data, [1.0, 2.0])


def test_an_ndarray_operand_saved_by_two_graphs_stays_locked_until_both_are_released():
    x = ag.tensor([1.0, 1.0, 1.0], dtype=np.float64, requires_grad=True)
    b = np.ones(3)
    z1, z2 = x * b, x * b
    z1.sum().backward()
    with pytest.raises(ValueError, match="read-only"):
        b[0] = 2.0                          # z2's graph still reads it
    z2.sum().backward()
    np.testing.assert_allclose(x.grad.data, [2.0, 2.0, 2.0])
    b[0] = 2.0


def test_ufunc_out_into_a_tensor_is_a_write_like_any_other():
    x = f64([1.0, 2.0])
    y = ag.sin(x)                                         # saves x
    z = (y * y).sum()                                     # saves y
    with pytest.raises(ValueError, match="read-only"):
        np.add(np.zeros(2), 100.0, out=y)                 # an operation's output
    with pytest.raises(ValueError, match="read-only"):
        np.multiply(np.ones(2), 0.0, out=x)               # a leaf the graph saved
    z.backward()
    np.testing.assert_allclose(x.grad.data, np.sin(2 * np.array([1.0, 2.0])))
    free = ag.tensor([0.0, 0.0], dtype=np.float64)
    np.add(np.ones(2), 1.0, out=free)                     # nothing holds it: written
    np.testing.assert_array_equal(free.data, [2.0, 2.0])
    plain = ag.tensor([1.0, 2.0])
    got = np.add(plain, 1, where=ag.tensor([True, False]), out=np.zeros(2, np.float32))
    np.testing.assert_array_equal(got, [2.0, 0.0])
