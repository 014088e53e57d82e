"""copy.copy of a leaf is independent of the original (docs/autograd.md, docs/pytorch.md)."""

import copy

import numpy as np

import autograd as ag


def test_a_backward_into_the_copy_leaves_the_originals_grad_alone():
    x = ag.tensor([1.0, 2.0], requires_grad=True, name="x")
    (x * 2).sum().backward()
    c = copy.copy(x)
    assert c.grad is not x.grad and c.grad.tolist() == [2.0, 2.0]
    (c * 3).sum().backward()
    assert x.grad.tolist() == [2.0, 2.0]
    assert c.grad.tolist() == [5.0, 5.0]
    (x * 4).sum().backward()
    assert x.grad.tolist() == [6.0, 6.0] and c.grad.tolist() == [5.0, 5.0]


def test_an_update_of_the_copy_leaves_the_originals_value_alone():
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    c = copy.copy(x)
    with ag.no_grad():
        c -= 1.0
    assert x.tolist() == [1.0, 2.0] and c.tolist() == [0.0, 1.0]
    assert c.requires_grad and c.is_leaf and c.grad is None


def test_the_copy_of_a_create_graph_gradient_is_a_plain_value():
    x = ag.tensor([1.0, 2.0], dtype=np.float64, requires_grad=True)
    (x ** 3).sum().backward(create_graph=True)
    c = copy.copy(x)
    assert c.grad.tolist() == [3.0, 12.0] and not c.grad.requires_grad
