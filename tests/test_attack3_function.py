"""Third adversarial round, custom Functions whose backward writes into the gradient it receives
(`grad *= 3; return grad`, NumPy's usual idiom): that array was also the gradient of other
tensors (an addition hands one gradient to both inputs), so their gradients silently changed."""

import numpy as np
import pytest

import autograd as ag


class TripleInPlace(ag.Function):
    @staticmethod
    def forward(ctx, x):
        return x * 3

    @staticmethod
    def backward(ctx, grad):
        grad *= 3
        return grad


class Triple(ag.Function):
    @staticmethod
    def forward(ctx, x):
        return x * 3

    @staticmethod
    def backward(ctx, grad):
        return grad * 3


@pytest.mark.parametrize("left", [True, False])
def test_a_backward_writing_into_its_gradient_is_refused_with_a_clear_error(left):
    # w.grad was [3, 3] instead of [1, 1]
    x = ag.tensor(np.array([1.0, 2.0]), requires_grad=True)
    w = ag.tensor(np.array([5.0, 6.0]), requires_grad=True)
    y = TripleInPlace.apply(x)
    z = y + w if left else w + y
    with pytest.raises(ValueError) as err:
        z.backward(ag.tensor(np.array([1.0, 1.0])))
    msg = str(err.value)
    assert "TripleInPlace.backward" in msg and "read-only" in msg and "grad = grad * 3" in msg


@pytest.mark.parametrize("left", [True, False])
def test_a_backward_computing_a_new_array_gives_every_branch_its_gradient(left):
    x = ag.tensor(np.array([1.0, 2.0]), requires_grad=True)
    w = ag.tensor(np.array([5.0, 6.0]), requires_grad=True)
    y = Triple.apply(x)
    (y + w if left else w + y).backward(ag.tensor(np.array([1.0, 2.0])))
    assert np.array_equal(x.grad.data, [3.0, 6.0]) and np.array_equal(w.grad.data, [1.0, 2.0])


def test_a_backward_returning_its_gradient_unchanged_still_works():
    class Ident(ag.Function):
        @staticmethod
        def forward(ctx, x):
            return x.copy()

        @staticmethod
        def backward(ctx, grad):
            return grad

    x = ag.tensor(np.array([1.0, 2.0]), requires_grad=True)
    w = ag.tensor(np.array([5.0, 6.0]), requires_grad=True)
    (Ident.apply(x) + w).sum().backward()
    (Ident.apply(x) * 2).sum().backward()           # x.grad accumulates
    assert np.array_equal(x.grad.data, [3.0, 3.0]) and np.array_equal(w.grad.data, [1.0, 1.0])
    assert x.grad.data.flags.writeable


def test_other_value_errors_of_a_backward_pass_through_unchanged():
    class Bad(ag.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1

        @staticmethod
        def backward(ctx, grad):
            raise ValueError("my own problem")

    x = ag.tensor(np.array([1.0]), requires_grad=True)
    with pytest.raises(ValueError, match="^my own problem$"):
        Bad.apply(x).sum().backward()
