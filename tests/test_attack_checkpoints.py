"""Checkpoints under attack: files whose damage or content once loaded silently wrong, or raised
something other than nn.CheckpointError."""

import json
import os
import struct

import numpy as np
import pytest

import nn

STATE = {"w": np.arange(6, dtype=np.float32).reshape(2, 3), "z": np.zeros((0, 3)),
         "opt": {"step": 3, "lr": 0.1, "m": [np.ones(2)]}}


def _same(a, b):
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape \
            and np.array_equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(_same, a, b))
    return type(a) is type(b) and a == b


def test_safetensors_whose_data_ends_like_a_zip_loads(tmp_path):
    # the last 22 bytes of the data are a zip end-of-central-directory record: the file used to be
    # read as an empty zip archive and nn.load returned {}
    payload = np.frombuffer(b"PK\x05\x06" + b"\x00" * 18, np.uint8).copy()
    path = tmp_path / "eocd.safetensors"
    nn.save({"w": payload, "step": 7}, path)
    got = nn.load(path)
    assert np.array_equal(got["w"], payload) and got["step"] == 7
    from safetensors.numpy import save_file
    save_file({"w": payload}, str(tmp_path / "lib.safetensors"))
    assert np.array_equal(nn.load(tmp_path / "lib.safetensors")["w"], payload)


@pytest.mark.parametrize("old, new", [
    (b'\\"int\\": 3', b'\\"int\\": 2'),             # a number in the manifest
    (b'"chainrule":', b'"chainrulf":'),             # the manifest's key: used to load without it
    (b'"chainrule.crc32"', b'"chainrule.crc33"'),   # the data CRC's key: used to skip the check
    (b'"shape": [0, 3]', b'"shape": [0, 2]'),       # an empty tensor's shape
    (b'"dtype": "F32"', b'"dtype": "I32"'),         # reinterpreted bytes
])
def test_damaged_safetensors_header_is_refused(tmp_path, old, new):
    path = tmp_path / "c.safetensors"
    nn.save(STATE, path)
    raw = path.read_bytes()
    assert raw.count(old) == 1
    path.write_bytes(raw.replace(old, new))
    with pytest.raises(nn.CheckpointError):
        nn.load(path)


def test_every_single_bit_flip_of_a_safetensors_header_raises_or_changes_nothing(tmp_path):
    path = tmp_path / "c.safetensors"
    nn.save(STATE, path)
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    damaged = tmp_path / "d.safetensors"
    for i in range(8, 8 + n):
        for bit in (0, 1, 2):
            b = bytearray(raw)
            b[i] ^= 1 << bit
            damaged.write_bytes(bytes(b))
            try:
                got = nn.load(damaged)
            except nn.CheckpointError:
                continue
            assert _same(STATE, got), (i, bit, raw[i - 10:i + 10])


def test_safetensors_without_the_header_crc_still_load(tmp_path):
    # files written before the header CRC existed: the manifest and the data CRC only
    path = tmp_path / "c.safetensors"
    nn.save(STATE, path)
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    del header["__metadata__"]["chainrule.header_crc32"]
    text = json.dumps(header).encode()
    text += b" " * (-(8 + len(text)) % 8)
    path.write_bytes(struct.pack("<Q", len(text)) + text + raw[8 + n:])
    assert _same(STATE, nn.load(path))


def test_zip_member_marked_encrypted_is_a_checkpoint_error(tmp_path):
    path = tmp_path / "c.npz"
    nn.save(STATE, path)
    raw = bytearray(path.read_bytes())
    entry = raw.index(b"PK\x01\x02")       # the first central directory entry (the manifest)
    raw[entry + 8] |= 1                  # its flag bits: "encrypted" (zipfile raised RuntimeError)
    path.write_bytes(bytes(raw))
    with pytest.raises(nn.CheckpointError, match="encrypted"):
        nn.load(path)


def test_a_very_long_plain_key_round_trips(tmp_path):
    # a zip member name is limited to 65,535 bytes: such a key used to fail with struct.error
    state = {"k" * 70_000: np.ones(2), "k" * 250: np.zeros(1)}
    for name in ("c.npz", "c.safetensors"):
        nn.save(state, tmp_path / name)
        got = nn.load(tmp_path / name)
        assert list(got) == list(state) and np.array_equal(got["k" * 70_000], np.ones(2))
    assert os.listdir(tmp_path) == sorted(os.listdir(tmp_path)) and len(os.listdir(tmp_path)) == 2
    assert np.load(tmp_path / "c.npz")["k" * 250].tolist() == [0.0]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_saving_to_a_named_pipe_writes_into_it(tmp_path):
    # the same path as a device: /dev/null was replaced by a regular file when root saved there
    import stat
    import threading

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    nn.save(STATE, fifo)                # it used to be replaced by a regular file (root: /dev/null)
    reader.join(10)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    (tmp_path / "copy.npz").write_bytes(received[0])
    assert _same(STATE, nn.load(tmp_path / "copy.npz"))
    assert sorted(os.listdir(tmp_path)) == ["copy.npz", "pipe"]

