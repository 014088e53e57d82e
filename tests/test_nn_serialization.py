import zipfile

import numpy as np
import pytest

import nn


def model():
    return nn.Sequential(nn.Dense(3, 4, activation="relu", rng=0), nn.Dense(4, 2, rng=1))


def test_save_module_load_round_trip(tmp_path):
    m = model()
    path = tmp_path / "ckpt.npz"
    nn.save(m, path)
    state = nn.load(path)
    assert list(state) == ["0.weight", "0.bias", "1.weight", "1.bias"]
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(state[k], v)
        assert state[k].dtype == np.float32
    other = nn.Sequential(nn.Dense(3, 4, activation="relu", rng=5), nn.Dense(4, 2, rng=6))
    x = np.array([[1.0, -2.0, 0.5]], np.float32)
    assert not np.array_equal(other(x).data, m(x).data)
    other.load_state_dict(state)
    np.testing.assert_array_equal(other(x).data, m(x).data)


def test_save_dict_at_exact_path(tmp_path):
    path = tmp_path / "weights.ckpt"
    nn.save({"a": np.arange(3.0), "b.c": np.eye(2, dtype=np.float32)}, str(path))
    assert path.exists() and not (tmp_path / "weights.ckpt.npz").exists()
    state = nn.load(str(path))
    np.testing.assert_array_equal(state["a"], [0.0, 1.0, 2.0])
    assert state["b.c"].dtype == np.float32


def test_save_does_not_depend_on_np_savez(tmp_path, monkeypatch):
    # np.savez's signature changed in NumPy 2.1 (allow_pickle); the archive is written directly
    def no_savez(*args, **kwds):
        raise AssertionError("np.savez was called")

    monkeypatch.setattr(np, "savez", no_savez)
    m = model()
    path = tmp_path / "m.npz"
    nn.save(m, path)
    other = nn.Sequential(nn.Dense(3, 4, activation="relu", rng=5), nn.Dense(4, 2, rng=6))
    other.load_state_dict(nn.load(path))
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(other.state_dict()[k], v)


def test_save_refuses_object_arrays_before_writing(tmp_path):
    path = tmp_path / "x.npz"
    with pytest.raises(ValueError, match="'x' is an array of Python objects.*pickle"):
        nn.save({"w": np.zeros(2), "x": np.array([{"a": 1}], dtype=object)}, path)
    assert not path.exists()


def test_load_refuses_pickled_objects(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, x=np.array([{"a": 1}], dtype=object))    # numpy pickles object arrays
    with pytest.raises(ValueError, match="contains pickled objects.*never loads pickle"):
        nn.load(path)


def test_load_refuses_a_pickle_file(tmp_path):
    path = tmp_path / "evil.npy"
    np.save(path, np.array([object()], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="never loads pickle"):
        nn.load(path)


def test_saved_file_holds_no_pickle(tmp_path):
    path = tmp_path / "m.npz"
    nn.save(model(), path)
    with zipfile.ZipFile(path) as z:
        assert sorted(z.namelist()) == ["0.bias.npy", "0.weight.npy", "1.bias.npy", "1.weight.npy",
                                        "__chainrule__.json"]
    with np.load(path, allow_pickle=False) as f:
        assert f["0.weight"].shape == (3, 4)


def test_bad_inputs(tmp_path):
    with pytest.raises(TypeError, match="Module or a dict"):
        nn.save([1, 2], tmp_path / "x.npz")
    nn.save({"file": np.zeros(1), "allow_pickle": np.ones(1)}, tmp_path / "x.npz")   # np.savez's names
    assert {k: v.tolist() for k, v in nn.load(tmp_path / "x.npz").items()} == \
        {"file": [0.0], "allow_pickle": [1.0]}
    np.save(tmp_path / "one.npy", np.zeros(2))
    with pytest.raises(ValueError, match="not an .npz archive"):
        nn.load(tmp_path / "one.npy")
