"""Third adversarial round, checkpoints: a path that names a directory. nn.save('ckpt/') wrote a
file called 'ckpt' that nn.load('ckpt/') could not read; nn.save of an existing directory wrote
the whole checkpoint into the directory's parent first and then failed naming a temporary file."""

import os
import pickle
import zipfile

import numpy as np
import pytest

import nn

STATE = {"w": np.arange(6.0).reshape(2, 3), "step": 3}


def test_a_path_with_a_trailing_separator_is_refused_and_nothing_is_written(tmp_path):
    path = str(tmp_path / "ckpt") + os.sep
    with pytest.raises(IsADirectoryError) as err:
        nn.save(STATE, path)
    assert "directory" in str(err.value) and "model.npz" in str(err.value)
    assert os.listdir(tmp_path) == []          # no file 'ckpt', no temporary file


def test_an_existing_directory_is_refused_naming_it_and_the_parent_is_untouched(tmp_path):
    target = tmp_path / "runs"
    target.mkdir()
    with pytest.raises(IsADirectoryError) as err:
        nn.save(STATE, target)
    msg = str(err.value)
    assert "nn.save" in msg and repr(str(target)) in msg and ".tmp" not in msg
    assert sorted(os.listdir(tmp_path)) == ["runs"] and os.listdir(target) == []


def test_a_symlink_to_a_directory_is_a_directory(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    with pytest.raises(IsADirectoryError):
        nn.save(STATE, tmp_path / "link")
    assert (tmp_path / "link").is_symlink() and os.listdir(tmp_path / "real") == []


def test_an_empty_path_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="empty"):
        nn.save(STATE, "")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("name", ["m.npz", "m.safetensors", "m", "sub/m.npz", "./m.npz"])
def test_every_path_save_accepts_loads_back_as_written(tmp_path, monkeypatch, name):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    nn.save(STATE, name)
    back = nn.load(name)
    assert np.array_equal(back["w"], STATE["w"]) and back["step"] == 3


def test_a_torch_save_file_is_named_as_such_with_the_way_to_convert_it(tmp_path):
    # it was "member 'x/data.pkl' is not an .npy array"; torch.save writes a zip whose
    # 'data.pkl' is a pickle (built here without torch, which CI does not install)
    path = tmp_path / "x.pt"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("x/data.pkl", pickle.dumps({"w": [1.0, 1.0]}))
        zf.writestr("x/version", "3\n")
    with pytest.raises(nn.CheckpointError) as err:
        nn.load(path)
    msg = str(err.value)
    assert "torch.save" in msg and "pickle" in msg and "safetensors" in msg
    assert "load_torch_state_dict" in msg


def test_a_real_torch_save_file_if_torch_is_here(tmp_path):
    torch = pytest.importorskip("torch")
    path = tmp_path / "x.pt"
    torch.save({"w": torch.ones(2)}, path)
    with pytest.raises(nn.CheckpointError, match="torch.save"):
        nn.load(path)
