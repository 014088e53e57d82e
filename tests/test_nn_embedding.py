"""one_hot, embedding / Embedding: values, accumulated gradients, padding_idx, errors."""

import numpy as np
import pytest

import autograd as ag
import nn
import nn.functional as F

RNG = np.random.default_rng(0)


def test_one_hot_values_shape_and_dtype():
    out = F.one_hot(np.array([[0, 2], [1, 2]]), num_classes=4)
    assert out.shape == (2, 2, 4) and out.dtype == np.int64 and not out.requires_grad
    np.testing.assert_array_equal(out.data[0], [[1, 0, 0, 0], [0, 0, 1, 0]])
    np.testing.assert_array_equal(out.data[1], [[0, 1, 0, 0], [0, 0, 1, 0]])
    np.testing.assert_array_equal(F.one_hot([3, 0]).data, [[0, 0, 0, 1], [1, 0, 0, 0]])   # inferred 4
    np.testing.assert_array_equal(F.one_hot(ag.tensor(1)).data, [0, 1])                  # 0-d input
    assert F.one_hot(np.zeros(0, np.int64), 3).shape == (0, 3)


@pytest.mark.parametrize("bad,kwargs,err,match", [
    ([0.0, 1.0], {}, TypeError, "indices must be integers, got dtype float"),
    ([True, False], {}, TypeError, "got dtype bool"),
    ([0, -1], {}, ValueError, "must be >= 0"),
    ([0, 3], {"num_classes": 3}, ValueError, "index 3 is out of range for num_classes=3"),
    ([0], {"num_classes": 0}, ValueError, "num_classes must be positive"),
    (np.zeros(0, np.int64), {}, ValueError, "cannot infer num_classes"),
])
def test_one_hot_errors(bad, kwargs, err, match):
    with pytest.raises(err, match=match):
        F.one_hot(np.asarray(bad), **kwargs)


def test_embedding_init_is_standard_normal():
    e = nn.Embedding(2000, 50, rng=0)
    assert e.weight.shape == (2000, 50) and e.weight.dtype == np.float32
    w = e.weight.data
    assert abs(w.mean()) < 0.01 and abs(w.std() - 1) < 0.01       # 100,000 draws: se 0.003
    np.testing.assert_array_equal(nn.Embedding(2000, 50, rng=0).weight.data, w)   # seeded


@pytest.mark.parametrize("shape", [(), (5,), (2, 3), (2, 1, 4)])
def test_embedding_forward_picks_rows(shape):
    e = nn.Embedding(6, 3, rng=1)
    idx = RNG.integers(0, 6, size=shape)
    out = e(idx)
    assert out.shape == shape + (3,)
    np.testing.assert_array_equal(out.data, e.weight.data[idx])


def test_embedding_gradient_adds_over_repeated_indices():
    e = nn.Embedding(5, 2, rng=0)
    idx = np.array([[1, 3, 1], [1, 0, 3]])                         # row 1 three times, 3 twice
    g = RNG.standard_normal((2, 3, 2))
    (e(idx) * g).sum().backward()
    expected = np.zeros((5, 2))
    expected[1] = g[0, 0] + g[0, 2] + g[1, 0]
    expected[3] = g[0, 1] + g[1, 2]
    expected[0] = g[1, 1]
    np.testing.assert_allclose(e.weight.grad.data, expected, rtol=1e-6)


@pytest.mark.parametrize("shape", [(7,), (3, 4), (2, 2, 3)])
def test_embedding_gradcheck_with_repeated_indices(shape):
    w = ag.tensor(RNG.standard_normal((4, 3)), requires_grad=True)
    idx = RNG.integers(0, 4, size=shape)                           # more lookups than rows
    up = RNG.standard_normal(shape + (3,))
    assert ag.gradcheck(lambda w: F.embedding(idx, w) * up, (w,))
    # padding_idx: the padding row's gradient is zero by design (finite differences would see
    # it), every other row's is the one gradcheck verified
    idx.flat[0] = 2
    plain, = ag.grad((F.embedding(idx, w) * up).sum(), w)
    padded, = ag.grad((F.embedding(idx, w, padding_idx=2) * up).sum(), w)
    expected = plain.data.copy()
    expected[2] = 0
    np.testing.assert_array_equal(padded.data, expected)
    assert np.any(plain.data[2] != 0)


def test_padding_idx_row_starts_at_zero_and_gets_no_gradient():
    e = nn.Embedding(4, 3, padding_idx=-1, rng=0)                  # -1 means row 3
    assert e.padding_idx == 3
    np.testing.assert_array_equal(e.weight.data[3], np.zeros(3))
    assert np.all(e.weight.data[:3] != 0)
    e.weight.data = e.weight.data + 1.0                            # the padding row is still read
    idx = np.array([3, 0, 3, 1])
    out = e(idx)
    np.testing.assert_array_equal(out.data, e.weight.data[idx])
    out.sum().backward()
    np.testing.assert_array_equal(e.weight.grad.data, [[1, 1, 1], [1, 1, 1], [0, 0, 0], [0, 0, 0]])
    assert "padding_idx=3" in repr(e)


def test_embedding_errors():
    e = nn.Embedding(4, 3)
    with pytest.raises(TypeError, match="indices must be integers, got dtype float64"):
        e(np.array([0.0, 1.0]))
    with pytest.raises(TypeError, match="got dtype bool"):
        e(np.array([True]))
    with pytest.raises(IndexError, match="index 4 is out of range for 4 embeddings"):
        e(np.array([0, 4]))
    with pytest.raises(IndexError, match="index -1 is out of range"):
        e(np.array([-1]))
    with pytest.raises(ValueError, match="padding_idx 4 must lie in"):
        nn.Embedding(4, 3, padding_idx=4)
    with pytest.raises(ValueError, match="sizes must be positive"):
        nn.Embedding(0, 3)
    with pytest.raises(ValueError, match="weight must be 2-D"):
        F.embedding([0], np.zeros(3))


def test_embedding_accepts_int_tensors_and_lists_and_from_pretrained():
    table = np.arange(12, dtype=np.float64).reshape(4, 3)
    e = nn.Embedding.from_pretrained(table)
    assert not e.weight.requires_grad and e.weight.dtype == np.float64
    np.testing.assert_array_equal(e(ag.tensor([2, 0])).data, table[[2, 0]])
    np.testing.assert_array_equal(e([[1]]).data, table[[[1]]])
    table[0, 0] = 99                                               # a copy was taken
    assert e.weight.data[0, 0] == 0
    assert nn.Embedding.from_pretrained(table, freeze=False).weight.requires_grad
