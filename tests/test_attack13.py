"""Attacks on checkpoints, the ONNX export and the graph viewer (session 13). Each test failed
before its fix."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import nn

# ---------------------------------------------------------------- a damaged zip end record


def _damage_end_record(path: Path) -> None:
    data = bytearray(path.read_bytes())
    end = data.rfind(b"PK\x05\x06")
    data[end + 8:end + 20] = bytes(12)       # entry counts, directory size and offset zeroed
    path.write_bytes(bytes(data))


def test_zeroed_end_record_is_damage_not_an_empty_checkpoint(tmp_path: Path) -> None:
    # zipfile took the whole file for data prepended to an archive of no members: nn.load
    # returned {} and load_state_dict(..., strict=False) loaded nothing, silently
    path = tmp_path / "c.npz"
    nn.save({"w": np.arange(6.0), "step": 3}, path)
    _damage_end_record(path)
    with pytest.raises(nn.CheckpointError, match="does not account for its first"):
        nn.load(path)


def test_data_prepended_to_a_checkpoint_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "c.npz"
    nn.save({"w": np.arange(6.0)}, path)
    path.write_bytes(b"junk" + path.read_bytes())
    with pytest.raises(nn.CheckpointError, match="first 4 bytes"):
        nn.load(path)


def test_plain_and_empty_npz_archives_still_load(tmp_path: Path) -> None:
    np.savez(tmp_path / "empty.npz")
    assert nn.load(tmp_path / "empty.npz") == {}
    np.savez_compressed(tmp_path / "z.npz", a=np.arange(3), b=np.ones((2, 2)))
    out = nn.load(tmp_path / "z.npz")
    assert list(out) == ["a", "b"] and out["a"].tolist() == [0, 1, 2]
    nn.save({}, tmp_path / "nothing.npz")
    assert nn.load(tmp_path / "nothing.npz") == {}
    assert os.path.getsize(tmp_path / "empty.npz") == 22


# ---------------------------------------------------------------- rendering to a name starting with '-'


@pytest.mark.parametrize("kwargs, made", [
    (dict(filename="-x.gv", format="svg"), "-x.gv.svg"),        # dot: -x (reduce), graph from stdin
    (dict(filename="g.gv", outfile="-o.svg"), "-o.svg"),         # dot: "Missing argument for -o"
    (dict(filename="-q.gv", outfile="-q.png"), "-q.png"),        # dot: -q (quiet), nothing written
])
def test_render_to_a_file_name_starting_with_a_dash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    kwargs: dict, made: str) -> None:
    # the names went to the program as they were, so it read them as options: it failed with
    # a usage message, or read the graph from stdin (blocking in a terminal) and render()
    # returned the path of a file it never wrote
    import autograd as ag
    monkeypatch.chdir(tmp_path)
    w = ag.tensor(np.ones(3), requires_grad=True, name="w")
    drawing = ag.draw_graph((w * 2.0).sum())
    out = drawing.render(**kwargs)
    assert out == made
    data = (tmp_path / made).read_bytes()
    assert data.startswith(b"\x89PNG") if made.endswith(".png") else b"<svg" in data


# ---------------------------------------------------------------- Embedding(padding_idx) to ONNX


def test_load_state_dict_takes_another_models_parameters() -> None:
    # np.asarray(Parameter) is refused while grad mode is on (it would drop the gradient), so
    # loading dict(other.named_parameters()) raised "cannot convert a tensor that requires grad"
    # from inside load_state_dict; PyTorch loads it
    import autograd as ag
    source = nn.Sequential(nn.Dense(3, 2, rng=0), nn.LayerNorm(2))
    target = nn.Sequential(nn.Dense(3, 2, rng=1), nn.LayerNorm(2))
    target.load_state_dict(dict(source.named_parameters()))
    for (name, a), (_, b) in zip(source.named_parameters(), target.named_parameters()):
        assert np.array_equal(a.data, b.data), name
        assert a.data is not b.data and b.requires_grad
    target[0].weight.data[0, 0] = 99.0                  # a copy, not the source's array
    assert source[0].weight.data[0, 0] != 99.0
    target.load_state_dict({k: ag.tensor(v) for k, v in source.state_dict().items()})


# ---------------------------------------------------------------- an empty example batch
