import numpy as np
import pytest

import autograd as ag
from nn.data import DataLoader, Standardizer

# -- Standardizer --------------------------------------------------------------------------

X = np.array([[1.0, 10.0, 5.0], [3.0, 20.0, 5.0], [5.0, 60.0, 5.0]], np.float32)


def test_standardizer_z_scores_with_training_stats():
    s = Standardizer()
    Z = s.fit_transform(X)
    np.testing.assert_allclose(s.mean_, [3.0, 30.0, 5.0])
    np.testing.assert_allclose(Z[:, 0], [-1.2247449, 0.0, 1.2247449], rtol=1e-6)
    np.testing.assert_allclose(Z[:, :2].mean(0), [0.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(Z[:, :2].std(0), [1.0, 1.0], rtol=1e-6)
    assert Z.dtype == np.float32 and isinstance(Z, np.ndarray)


def test_standardizer_constant_feature_is_centred_not_divided():
    Z = Standardizer().fit_transform(X)
    np.testing.assert_array_equal(Z[:, 2], [0.0, 0.0, 0.0])
    assert np.all(np.isfinite(Z))
    np.testing.assert_allclose(Standardizer().fit(X).transform(np.array([[3.0, 30.0, 7.0]]))[0, 2], 2.0)


def test_standardizer_test_data_uses_training_stats():
    s = Standardizer().fit(X)
    np.testing.assert_allclose(s.transform(np.array([[3.0, 30.0, 5.0]], np.float32)), [[0, 0, 0]])
    std0 = X[:, 0].std()
    np.testing.assert_allclose(s.transform(np.array([[7.0, 30.0, 5.0]]))[0, 0], 4.0 / std0, rtol=1e-6)


def test_inverse_transform_round_trips():
    s = Standardizer().fit(X)
    np.testing.assert_allclose(s.inverse_transform(s.transform(X)), X, rtol=1e-6)


def test_standardizer_tensors_in_tensors_out_with_gradient():
    s = Standardizer().fit(ag.tensor(X))
    t = ag.tensor(X, requires_grad=True)
    Z = s.transform(t)
    assert isinstance(Z, ag.Tensor) and Z.dtype == np.float32
    np.testing.assert_allclose(Z.data, s.transform(X), rtol=1e-6)
    Z.sum().backward()
    np.testing.assert_allclose(t.grad.data[0], 1.0 / s.scale_, rtol=1e-6)
    back = s.inverse_transform(Z)
    assert isinstance(back, ag.Tensor)
    np.testing.assert_allclose(back.data, X, rtol=1e-6)


def test_integer_input_gives_default_float():
    Z = Standardizer().fit_transform(np.array([[0, 2], [4, 2]], np.uint8))
    assert Z.dtype == np.float32
    np.testing.assert_allclose(Z, [[-1.0, 0.0], [1.0, 0.0]])


def test_python_lists_of_floats_give_the_default_dtype():
    rows = [[1.0, 10.0], [3.0, 20.0], [5.0, 60.0]]
    s = Standardizer()
    Z = s.fit_transform(rows)
    assert isinstance(Z, np.ndarray) and Z.dtype == np.float32
    np.testing.assert_allclose(Z[:, 0], [-1.2247449, 0.0, 1.2247449], rtol=1e-6)
    assert s.transform([[3.0, 30.0]]).dtype == np.float32
    back = s.inverse_transform([[0.0, 0.0], [1.0, -1.0]])
    assert back.dtype == np.float32
    np.testing.assert_allclose(back, [[3.0, 30.0], [3.0 + np.sqrt(8 / 3), 30.0 - np.sqrt(1400 / 3)]],
                               rtol=1e-6)
    assert s.transform([[3, 30]]).dtype == np.float32                  # Python ints: default float
    assert s.transform(np.array([[3.0, 30.0]])).dtype == np.float64    # an ndarray keeps its dtype
    ag.set_default_dtype(np.float64)
    try:
        assert Standardizer().fit_transform(rows).dtype == np.float64
    finally:
        ag.set_default_dtype(np.float32)


def test_standardizer_noise_only_feature_is_constant():
    # differences of a few units in the last place are rounding noise, not a feature
    X64 = np.array([[1e-9, 2.0], [1e-9 + 1e-24, 4.0]])
    s = Standardizer().fit(X64)
    np.testing.assert_array_equal(s.scale_, [1.0, 1.0])
    Z = s.transform(X64)
    np.testing.assert_allclose(Z[:, 0], [0.0, 0.0], atol=1e-23)
    np.testing.assert_allclose(Z[:, 1], [-1.0, 1.0])
    one = np.float32(1.0)
    X32 = np.array([[one], [np.nextafter(one, np.float32(2))], [np.nextafter(one, np.float32(0))]])
    Z = Standardizer().fit_transform(X32)
    assert Z.dtype == np.float32
    np.testing.assert_allclose(Z[:, 0], [0.0, 0.0, 0.0], atol=1e-6)


def test_standardizer_small_but_real_feature_is_scaled():
    for dtype in (np.float64, np.float32):
        X = (1e-9 * np.array([[1.0], [2.0], [3.0]])).astype(dtype)
        s = Standardizer().fit(X)
        np.testing.assert_allclose(s.scale_, [1e-9 * np.sqrt(2 / 3)], rtol=1e-6)
        np.testing.assert_allclose(s.transform(X)[:, 0], [-1.2247449, 0.0, 1.2247449], rtol=1e-5)
    # integers are exact: any difference is real
    X = np.array([[10**15], [10**15 + 1]])
    np.testing.assert_allclose(Standardizer().fit(X).scale_, [0.5])


def test_transform_before_fit_is_clear():
    with pytest.raises(RuntimeError, match="before fit"):
        Standardizer().transform(X)


def test_transform_with_wrong_feature_count():
    with pytest.raises(ValueError, match=r"\(3,\).*\(2, 4\)"):
        Standardizer().fit(X).transform(np.zeros((2, 4)))


# -- DataLoader ----------------------------------------------------------------------------

XS = np.arange(20, dtype=np.float32).reshape(10, 2)
YS = np.arange(10)


def test_batches_cover_data_in_order_without_shuffle():
    dl = DataLoader(XS, YS, batch_size=4, shuffle=False)
    batches = list(dl)
    assert len(dl) == 3 and len(batches) == 3
    assert [b[0].shape for b in batches] == [(4, 2), (4, 2), (2, 2)]
    assert all(isinstance(t, ag.Tensor) for b in batches for t in b)
    np.testing.assert_array_equal(np.concatenate([b[1].data for b in batches]), YS)
    np.testing.assert_array_equal(batches[1][0].data, XS[4:8])


def test_dtypes_are_kept_labels_stay_integer():
    xb, yb = next(iter(DataLoader(XS, YS, batch_size=3)))
    assert xb.dtype == np.float32 and yb.dtype.kind == "i"
    assert not yb.requires_grad


def test_python_lists_follow_ag_tensor_dtypes():
    xb, yb = next(iter(DataLoader([[0.5, 1.0], [1.5, 2.0], [2.5, 3.0]], [0, 2, 1],
                                  batch_size=3, shuffle=False)))
    assert xb.dtype == np.float32 and yb.dtype.kind == "i"
    np.testing.assert_array_equal(xb.data, [[0.5, 1.0], [1.5, 2.0], [2.5, 3.0]])
    np.testing.assert_array_equal(yb.data, [0, 2, 1])
    (b,) = next(iter(DataLoader(np.array([[0.5], [1.5]]), batch_size=2)))
    assert b.dtype == np.float64                                        # an ndarray keeps its dtype
    ag.set_default_dtype(np.float64)
    try:
        (b,) = next(iter(DataLoader([0.5, 1.5], batch_size=2)))
        assert b.dtype == np.float64
    finally:
        ag.set_default_dtype(np.float32)


def test_shuffle_is_a_permutation_and_rows_stay_paired():
    dl = DataLoader(XS, YS, batch_size=3, rng=0)
    xs, ys = zip(*[(x.data, y.data) for x, y in dl])
    ys = np.concatenate(ys)
    assert sorted(ys) == list(range(10)) and not np.array_equal(ys, YS)
    np.testing.assert_array_equal(np.concatenate(xs), XS[ys])


def test_same_seed_same_order_new_order_each_epoch():
    def orders(dl, epochs=2):
        return [np.concatenate([b[0].data for b in dl]).tolist() for _ in range(epochs)]

    a = orders(DataLoader(YS, batch_size=4, rng=5))
    b = orders(DataLoader(YS, batch_size=4, rng=5))
    assert a == b and a[0] != a[1]
    ag.manual_seed(1)
    c = orders(DataLoader(YS, batch_size=4), 1)
    ag.manual_seed(1)
    assert c == orders(DataLoader(YS, batch_size=4), 1)


def test_drop_last():
    dl = DataLoader(XS, YS, batch_size=4, drop_last=True)
    assert len(dl) == 2
    assert [b[0].shape[0] for b in dl] == [4, 4]
    assert len(DataLoader(XS, batch_size=5, drop_last=True)) == 2


def test_single_array_gives_one_tuples():
    (b,) = next(iter(DataLoader(XS, batch_size=10, shuffle=False)))
    np.testing.assert_array_equal(b.data, XS)


def test_mismatched_lengths_are_refused():
    with pytest.raises(ValueError, match="different lengths 10, 9"):
        DataLoader(XS, YS[:9])


def test_bad_batch_size_and_no_arrays():
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(XS, batch_size=0)
    with pytest.raises(ValueError, match="at least one array"):
        DataLoader()
