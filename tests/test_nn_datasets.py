import numpy as np

from nn.datasets import load_digits


def test_digits_shapes_dtypes_and_values():
    X, y = load_digits()
    assert X.shape == (1797, 64) and X.dtype == np.float32
    assert y.shape == (1797,) and y.dtype == np.int64
    assert X.min() == 0.0 and X.max() == 16.0
    np.testing.assert_array_equal(X, np.round(X))
    np.testing.assert_array_equal(np.bincount(y), [178, 182, 177, 183, 181, 182, 181, 179, 174, 180])


def test_digits_first_image_is_a_zero():
    X, y = load_digits()
    assert y[0] == 0 and y[1] == 1
    first = X[0].reshape(8, 8)
    np.testing.assert_array_equal(first[0], [0, 0, 5, 13, 9, 1, 0, 0])
    assert X.sum() == 561718.0
