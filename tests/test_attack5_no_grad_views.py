"""A view of an operation's output taken under no_grad cannot be written into: the output may
be what a rule reads at backward (exp keeps its output, sin its input), and a write through the
view gave a silently wrong gradient."""

import numpy as np
import pytest

import autograd as ag

VIEWS = {
    "slice": lambda y: y[0:2],
    "ellipsis": lambda y: y[...],
    "reshape": lambda y: y.reshape(2),
    "view": lambda y: y.view(-1),
    "transpose": lambda y: y.T,
    "expand_dims": lambda y: ag.expand_dims(y, 0),
    "squeeze (nothing to squeeze)": lambda y: y.squeeze(),
    "flatten": ag.flatten,
    "split": lambda y: ag.split(y, 1)[0],
    "einsum": lambda y: ag.einsum("i->i", y),
    "Tensor(y)": ag.Tensor,
}


def _graph(op):
    x = ag.tensor([1.0, 2.0], dtype=np.float64, requires_grad=True)
    return x, op(x)


@pytest.mark.parametrize("op, expected", [(ag.exp, np.exp), (lambda t: ag.sin(t) * 1.0, np.cos)])
@pytest.mark.parametrize("make", list(VIEWS.values()), ids=list(VIEWS))
def test_writing_through_a_no_grad_view_is_refused_and_backward_stays_right(make, op, expected):
    x, y = _graph(op)
    with ag.no_grad():
        v = make(y)
        with pytest.raises(ValueError, match="read-only"):
            v += 1.0
        with pytest.raises(ValueError, match="read-only"):
            v.data[...] = 0.0
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), expected(np.array([1.0, 2.0])))


def test_a_view_made_before_the_output_is_saved_is_refused_too():
    x = ag.tensor([1.0, 2.0], dtype=np.float64, requires_grad=True)
    y = x * 2.0
    with ag.no_grad():
        v = y[0:2]
    z = ag.sin(y)                       # saves y after the view was taken
    with ag.no_grad(), pytest.raises(ValueError, match="read-only"):
        v -= 1.0
    z.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.cos([2.0, 4.0]))


def test_no_grad_views_of_a_leaf_still_update_it_in_place():
    w = ag.tensor([1.0, 2.0, 3.0], requires_grad=True)
    with ag.no_grad():
        row = w.reshape(1, 3)
        row -= 1.0                       # as PyTorch: the leaf changes through its view
        piece = w[1:]
        piece *= 2.0
    assert w.tolist() == [0.0, 2.0, 4.0]


def test_fresh_no_grad_results_of_an_output_stay_writable():
    x, y = _graph(ag.exp)
    with ag.no_grad():
        z = y * 2.0
        z += 1.0
        c = ag.tensor(y)                 # a copy
        c.data[0] = 5.0
    assert z.data.flags.writeable and c.tolist()[0] == 5.0
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.exp([1.0, 2.0]))


def test_a_view_of_a_constant_written_after_the_graph_saved_it_leaves_the_gradient_right():
    w = ag.tensor([1.0, 1.0], dtype=np.float64, requires_grad=True)
    c = ag.tensor([3.0, 4.0], dtype=np.float64)
    flat = c.reshape(2)                  # unrecorded (nothing needs grad): a leaf on c's memory
    loss = (w * c).sum()                 # saves c
    flat += 1.0                          # grad mode on, in place: c changes, as in PyTorch
    assert c.tolist() == [4.0, 5.0]
    loss.backward()
    assert w.grad.tolist() == [3.0, 4.0]     # what the forward pass multiplied by


def test_a_view_of_a_detached_parameter_written_under_no_grad_leaves_the_gradient_right():
    x = ag.tensor([1.0, 2.0], dtype=np.float64, requires_grad=True)
    alias = x.detach().reshape(2)
    y = ag.sin(x).sum()
    with ag.no_grad():
        alias += 1.0
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), np.cos([1.0, 2.0]))
