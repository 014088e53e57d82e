import math

import numpy as np
import pytest

import autograd as ag
import nn.init as init

SHAPE = (1000, 1000)


@pytest.mark.parametrize("fn,std", [
    (init.he_normal, math.sqrt(2 / 1000)),
    (init.lecun_normal, math.sqrt(1 / 1000)),
    (init.xavier_normal, math.sqrt(2 / 2000)),
])
def test_normal_initializers_std(fn, std):
    w = fn(SHAPE, rng=0)
    assert w.shape == SHAPE and w.dtype == np.float32
    assert abs(w.std() / std - 1) < 0.005            # 1e6 samples: ~0.07% expected error
    assert abs(w.mean()) < 0.005 * std


@pytest.mark.parametrize("fn,bound", [
    (init.he_uniform, math.sqrt(6 / 1000)),
    (init.xavier_uniform, math.sqrt(6 / 2000)),
])
def test_uniform_initializers_bounds(fn, bound):
    w = fn(SHAPE, rng=0)
    assert w.dtype == np.float32
    assert w.max() <= bound and w.min() >= -bound
    assert w.max() > 0.999 * bound and w.min() < -0.999 * bound
    assert abs(w.std() / (bound / math.sqrt(3)) - 1) < 0.005


def test_fans_default_and_explicit():
    w = init.he_normal((4000, 10), rng=0)          # fan_in = shape[0]
    assert abs(w.std() / math.sqrt(2 / 4000) - 1) < 0.02
    w = init.he_normal((4000, 10), fan_in=50, rng=0)
    assert abs(w.std() / math.sqrt(2 / 50) - 1) < 0.02
    w = init.xavier_uniform((20, 3000), rng=0)      # fan_out = shape[1]
    assert np.abs(w).max() <= math.sqrt(6 / 3020)
    w = init.xavier_normal(100000, rng=0)           # 1-D: fan_out = shape[0]
    assert abs(w.std() / math.sqrt(2 / 200000) - 1) < 0.01


def test_zeros_ones_normal():
    assert init.zeros((2, 3)).dtype == np.float32 and not init.zeros((2, 3)).any()
    np.testing.assert_array_equal(init.ones(3), [1.0, 1.0, 1.0])
    w = init.normal(SHAPE, 0.05, rng=1)
    assert abs(w.std() / 0.05 - 1) < 0.005


def test_default_dtype_is_followed():
    ag.set_default_dtype(np.float64)
    try:
        assert init.he_normal((3, 3), rng=0).dtype == np.float64
        assert init.zeros(3).dtype == np.float64
    finally:
        ag.set_default_dtype(np.float32)


def test_seeds_reproduce_and_global_generator_is_used():
    np.testing.assert_array_equal(init.he_normal((5, 5), rng=3), init.he_normal((5, 5), rng=3))
    ag.manual_seed(11)
    a = init.lecun_normal((5, 5))
    ag.manual_seed(11)
    np.testing.assert_array_equal(a, init.lecun_normal((5, 5)))
