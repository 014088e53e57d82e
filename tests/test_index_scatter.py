"""x[idx]'s gradient (rows of g added at integer indices) equals np.add.at's bit for bit, on
every path of ops._scatter_rows (1-D rows, wider rows, several chunks)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import autograd as ag
from autograd import ops


def reference(shape, idx, g, dtype):
    """np.add.at on the rows, in dtype."""
    out = np.zeros(shape, dtype)
    np.add.at(out, (idx,), g)
    return out


@settings(max_examples=150, deadline=None)
@given(n_rows=st.integers(1, 9), rest=st.lists(st.integers(0, 4), max_size=2),
       idx_shape=st.lists(st.integers(0, 5), max_size=2), seed=st.integers(0, 2**16),
       dtype=st.sampled_from([np.float32, np.float64]), unsigned=st.booleans())
def test_matches_add_at(n_rows, rest, idx_shape, seed, dtype, unsigned):
    rng = np.random.default_rng(seed)
    shape = (n_rows, *rest)
    idx = rng.integers(-n_rows, n_rows, idx_shape)        # repeats and negative indices
    if unsigned:
        idx = (idx % n_rows).astype(np.uint64)
    g = rng.standard_normal(tuple(idx_shape) + tuple(rest)).astype(dtype)
    got = ops.index_add(g, (idx,), shape, True, dtype)
    assert got.dtype == dtype and got.shape == shape
    np.testing.assert_array_equal(got, reference(shape, idx, g, dtype))


@pytest.mark.parametrize("n, k", [(5000, 1), (3000, 8), (7000, 10), (100, 200), (3, 70000)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_large_paths(n, k, dtype):
    rng = np.random.default_rng(n + k)
    idx = rng.integers(0, 30, n)
    g = rng.standard_normal((n, k)).astype(dtype)
    got = ops.index_add(g, (idx,), (30, k), True, dtype)
    np.testing.assert_array_equal(got, reference((30, k), idx, g, dtype))


@pytest.mark.parametrize("n", [6, 40000])
def test_inf_and_nan_stay_in_their_rows(n):
    idx = np.zeros(n, np.intp)
    idx[1::2] = 2
    g = np.ones((n, 2), np.float32)
    g[0, 0], g[1, 1] = np.inf, np.nan
    out = ops.index_add(g, (idx,), (4, 2), True, np.float32)
    assert out[0, 0] == np.inf and np.isnan(out[2, 1])
    assert out[0, 1] == n // 2 and out[2, 0] == n // 2
    np.testing.assert_array_equal(out[[1, 3]], 0)


def test_embedding_gradient_through_indexing():
    C = ag.tensor(np.arange(12.0).reshape(4, 3), requires_grad=True)
    X = np.array([[0, 1, 1], [3, 1, -4]])
    (C[X] * np.arange(18.0).reshape(2, 3, 3)).sum().backward()
    want = np.zeros((4, 3))
    np.add.at(want, X, np.arange(18.0).reshape(2, 3, 3))
    np.testing.assert_array_equal(C.grad.data, want)
    c0 = ag.tensor(np.random.default_rng(0).standard_normal((4, 3)), requires_grad=True)
    assert ag.gradcheck(lambda c: (c[X] ** 2).sum(), [c0])
