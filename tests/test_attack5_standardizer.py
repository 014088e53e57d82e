"""Standardizer fits on a Tensor that requires grad (its statistics are constants) and the
gradient flows through the transform, as documented."""

import numpy as np

import autograd as ag
from nn.data import Standardizer

X0 = np.array([[1.0, 2.0, 7.0], [3.0, 5.0, 7.0], [2.0, 11.0, 7.0]])


def test_fit_transform_of_a_tensor_that_requires_grad():
    x = ag.tensor(X0, requires_grad=True)
    st = Standardizer()
    z = st.fit_transform(x)
    np.testing.assert_allclose(st.mean_, X0.mean(axis=0))
    np.testing.assert_allclose(st.scale_, [X0[:, 0].std(), X0[:, 1].std(), 1.0])
    w = np.arange(9.0).reshape(3, 3)
    (z * w).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), w / st.scale_)      # the statistics are constants
    assert x.data.flags.writeable                                   # nothing left locked by fit


def test_fit_of_a_tensor_gives_the_statistics_of_its_values():
    a, b = Standardizer().fit(ag.tensor(X0, requires_grad=True)), Standardizer().fit(X0)
    np.testing.assert_array_equal(a.mean_, b.mean_)
    np.testing.assert_array_equal(a.scale_, b.scale_)
