"""nn.save / nn.load: atomic replacement, exact keys and trees, clear errors for damaged files."""

import errno
import json
import math
import os
import signal
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nn

ROOT = Path(__file__).resolve().parent.parent


def state(v=1.0, n=5):
    return {"w": np.full((n, 3), v, np.float32), "b": np.arange(n, dtype=np.float64) * v}


def assert_state(loaded, v, n=5):
    assert list(loaded) == ["w", "b"]
    np.testing.assert_array_equal(loaded["w"], np.full((n, 3), v, np.float32))
    np.testing.assert_array_equal(loaded["b"], np.arange(n, dtype=np.float64) * v)


def run_python(code, *args, **kw):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *map(str, args)], env=env,
                            cwd=ROOT, **kw)


# ---------------------------------------------------------------- a failed save loses nothing

def test_a_save_failing_midway_leaves_the_previous_checkpoint_and_no_temp_file(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    nn.save(state(1.0), path)
    real_write = np.lib.format.write_array
    calls = []

    def write_then_fill_the_disk(fp, array, *args, **kw):
        calls.append(1)
        if len(calls) == 2:                 # the second array: part of it, then ENOSPC
            fp.write(b"\x00" * 10)
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fp, array, *args, **kw)

    monkeypatch.setattr(np.lib.format, "write_array", write_then_fill_the_disk)
    with pytest.raises(OSError, match="No space left"):
        nn.save(state(2.0), path)
    assert len(calls) == 2
    assert os.listdir(tmp_path) == ["ckpt.npz"]
    assert_state(nn.load(path), 1.0)


def test_an_interrupt_during_a_save_leaves_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    nn.save(state(1.0), path)

    def interrupted(fp, array, *args, **kw):
        fp.write(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(np.lib.format, "write_array", interrupted)
    with pytest.raises(KeyboardInterrupt):
        nn.save(state(2.0), path)
    assert os.listdir(tmp_path) == ["ckpt.npz"]
    assert_state(nn.load(path), 1.0)


@pytest.mark.skipif(not hasattr(signal, "SIGXFSZ"), reason="needs POSIX file size limits")
def test_a_real_write_error_from_the_os_leaves_the_previous_checkpoint(tmp_path):
    # The kernel refuses to grow a file past RLIMIT_FSIZE (EFBIG): a genuine failed write.
    path = tmp_path / "ckpt.npz"
    nn.save(state(1.0), path)
    proc = run_python("""
        import resource, signal, sys
        import numpy as np, nn
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))
        try:
            nn.save({"w": np.ones((1000, 1000), np.float32)}, sys.argv[1])
        except OSError as err:
            print("failed", err.errno)
    """, path, stdout=subprocess.PIPE, text=True)
    out, _ = proc.communicate(timeout=60)
    assert out.split() == ["failed", str(errno.EFBIG)]
    assert os.listdir(tmp_path) == ["ckpt.npz"]
    assert_state(nn.load(path), 1.0)


def test_a_failed_rename_removes_the_temp_file(tmp_path):
    target = tmp_path / "a_directory"
    target.mkdir()
    (target / "x").write_text("keep")
    with pytest.raises(OSError):
        nn.save(state(), target)
    assert sorted(os.listdir(tmp_path)) == ["a_directory"]
    assert (target / "x").read_text() == "keep"


def test_bad_values_are_refused_before_any_file_is_touched(tmp_path):
    path = tmp_path / "ckpt.npz"
    nn.save(state(1.0), path)
    for bad in ({"w": np.zeros(2), "x": {1, 2}}, {"x": [np.array([object()])]}, {(1, 2): np.ones(1)}):
        with pytest.raises((TypeError, ValueError)):
            nn.save(bad, path)
    cyclic = []
    cyclic.append(cyclic)
    with pytest.raises(ValueError, match="contains itself"):
        nn.save({"c": cyclic}, path)
    assert os.listdir(tmp_path) == ["ckpt.npz"]
    assert_state(nn.load(path), 1.0)


def test_the_file_is_synced_before_the_rename_and_the_directory_after(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append(("fsync", "dir" if os.path.isdir(f"/proc/self/fd/{fd}") else "file"))
        return real_fsync(fd)

    def replace(src, dst):
        events.append(("replace", Path(dst).name))
        return real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    nn.save(state(), tmp_path / "c.npz")
    if sys.platform.startswith("linux"):
        assert events == [("fsync", "file"), ("replace", "c.npz"), ("fsync", "dir")]
    else:
        assert events[:2] == [("fsync", events[0][1]), ("replace", "c.npz")]


def test_permissions_are_the_usual_ones_and_kept_on_replacement(tmp_path):
    path = tmp_path / "c.npz"
    nn.save(state(), path)
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
    path.chmod(0o600)
    nn.save(state(2.0), path)
    assert path.stat().st_mode & 0o777 == 0o600


def test_a_symlink_is_followed_and_stays_a_symlink(tmp_path):
    real = tmp_path / "real.npz"
    nn.save(state(1.0), real)
    link = tmp_path / "latest.npz"
    link.symlink_to(real)
    nn.save(state(2.0), link)
    assert link.is_symlink()
    assert_state(nn.load(real), 2.0)


CONCURRENT_SAVER = """
    import sys
    import numpy as np, nn
    path, who = sys.argv[1], int(sys.argv[2])
    for i in range(25):
        nn.save({"who": np.array(who), "i": np.array(i),
                 "data": np.full(200_000, who * 1000 + i, np.int64)}, path)
"""


def test_concurrent_saves_to_one_path_leave_one_whole_checkpoint(tmp_path):
    path = tmp_path / "shared.npz"
    procs = [run_python(CONCURRENT_SAVER, path, who) for who in range(4)]
    for p in procs:
        assert p.wait(timeout=120) == 0
    got = nn.load(path)
    who, i = int(got["who"]), int(got["i"])
    assert 0 <= who < 4 and 0 <= i < 25
    np.testing.assert_array_equal(got["data"], np.full(200_000, who * 1000 + i, np.int64))
    assert os.listdir(tmp_path) == ["shared.npz"]


KILLED_SAVER = """
    import sys
    import numpy as np, nn
    path = sys.argv[1]
    big = np.empty(8_000_000, np.float64)            # 64 MB per save
    i = 0
    while True:
        big.fill(i)
        nn.save({"i": np.array(i), "big": big}, path)
        if i == 0:
            print("ready", flush=True)
        i += 1
"""


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
@pytest.mark.parametrize("delay", [0.05, 0.13, 0.29])
def test_a_process_killed_while_saving_leaves_a_whole_checkpoint(tmp_path, delay):
    path = tmp_path / "ckpt.npz"
    proc = run_python(KILLED_SAVER, path, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(delay)                     # now inside one of the following saves
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        proc.kill()
        proc.stdout.close()
    got = nn.load(path)
    i = int(got["i"])
    assert got["big"].shape == (8_000_000,)
    assert got["big"][0] == i and got["big"][-1] == i and np.all(got["big"] == i)
    # the killed save may leave its temporary file, never a damaged checkpoint
    assert all(name == "ckpt.npz" or name.startswith(".ckpt.npz.") for name in os.listdir(tmp_path))


# ---------------------------------------------------------------- every key round-trips

def round_trip(tmp_path, obj, name="k.npz"):
    path = tmp_path / name
    nn.save(obj, path)
    return nn.load(path)


def test_keys_that_collide_as_npz_member_names_read_back_their_own_arrays(tmp_path):
    keys = ["a", "a.npy", "a.npy.npy", "", ".npy", "/", "x/../y", "a/b", "nul\x00byte", "名前",
            "emoji 🙂", "__chainrule__", "__chainrule__.json", "__chainrule__/0.npy", "file",
            "allow_pickle", "A", "lone \ud800 surrogate", " ", "back\\slash", "__metadata__"]
    obj = {k: np.array([i], np.int64) for i, k in enumerate(keys)}
    for name in ("k.npz", "k.safetensors"):
        got = round_trip(tmp_path, obj, name)
        assert list(got) == keys
        for i, k in enumerate(keys):
            assert got[k].tolist() == [i], k


@settings(max_examples=60, deadline=None)
@given(keys=st.lists(st.text(max_size=12), unique=True, max_size=8))
def test_any_string_keys_round_trip_exactly(tmp_path_factory, keys):
    tmp_path = tmp_path_factory.mktemp("keys")
    obj = {k: np.full((i % 3, 2), i, np.float32) for i, k in enumerate(keys)}
    for name in ("k.npz", "k.safetensors"):
        got = round_trip(tmp_path, obj, name)
        assert list(got) == keys
        for i, k in enumerate(keys):
            assert got[k].dtype == np.float32 and got[k].shape == (i % 3, 2)
            assert np.all(got[k] == i)


def test_plain_keys_stay_readable_by_np_load(tmp_path):
    path = tmp_path / "m.npz"
    nn.save({"0.weight": np.eye(2), "0.bias": np.zeros(2), "odd key": np.ones(1)}, path)
    with np.load(path, allow_pickle=False) as f:
        np.testing.assert_array_equal(f["0.weight"], np.eye(2))
        np.testing.assert_array_equal(f["0.bias"], np.zeros(2))


def test_same_state_gives_the_same_bytes(tmp_path):
    nn.save(state(), tmp_path / "a.npz")
    nn.save(state(), tmp_path / "b.npz")
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
    with zipfile.ZipFile(tmp_path / "a.npz") as z:        # no clock in the file
        assert {i.date_time for i in z.infolist()} == {(1980, 1, 1, 0, 0, 0)}


def test_an_archive_of_np_savez_with_colliding_names_loads_correctly(tmp_path):
    path = tmp_path / "legacy.npz"
    np.savez(path, **{"a": np.array([1]), "a.npy": np.array([2])})   # members a.npy, a.npy.npy
    got = nn.load(path)
    assert {k: v.tolist() for k, v in got.items()} == {"a": [1], "a.npy": [2]}


# ---------------------------------------------------------------- trees round-trip

scalars = (st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.text(max_size=6)
           | st.floats(allow_nan=True, allow_infinity=True)
           | st.complex_numbers(allow_nan=False, max_magnitude=1e300))
arrays = st.sampled_from([np.float32, np.float64, np.int8, np.uint64, np.bool_, np.complex64]).flatmap(
    lambda dt: st.lists(st.integers(0, 3), max_size=3).map(
        lambda shape: (np.arange(math.prod(shape)) % 7).astype(dt).reshape(shape)))
numpy_scalars = st.sampled_from([np.float32(1.5), np.int64(-3), np.bool_(True), np.float16(0.25)])
keys = st.text(max_size=5) | st.integers(-5, 5) | st.booleans() | st.none() | st.floats(allow_nan=False)
trees = st.recursive(scalars | arrays | numpy_scalars, lambda inner: (
    st.lists(inner, max_size=3) | st.lists(inner, max_size=3).map(tuple)
    | st.dictionaries(keys, inner, max_size=3)), max_leaves=12)


def same(a, b):
    """Equal values of exactly the same types (NaN equal to NaN, -0.0 distinct from 0.0)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, np.ndarray):
        nan = a.dtype.kind in "fc"
        return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b, equal_nan=nan)
    if isinstance(a, np.generic):
        return a.dtype == b.dtype and (a == b or (a != a and b != b))
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a) \
            and all(type(x) is type(y) for x, y in zip(a, b))
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


@settings(max_examples=80, deadline=None)
@given(tree=st.dictionaries(st.text(max_size=5), trees, max_size=4))
def test_any_tree_of_arrays_numbers_strings_lists_and_dicts_round_trips(tmp_path_factory, tree):
    got = round_trip(tmp_path_factory.mktemp("tree"), tree)
    assert same(got, tree)


def test_optimizer_and_scheduler_state_round_trip_with_their_types(tmp_path):
    import autograd as ag
    import optim
    p = ag.tensor([1.0, 2.0], requires_grad=True)
    opt = optim.Adam([p], lr=0.1)
    sched = optim.lr_scheduler.StepLR(opt, step_size=2)
    (p * p).sum().backward()
    opt.step()
    sched.step()
    saved = {"optim": opt.state_dict(), "sched": sched.state_dict()}
    got = round_trip(tmp_path, saved)
    assert same(got, saved)
    assert got["optim"]["param_groups"][0]["betas"] == (0.9, 0.999)
    assert list(got["optim"]["state"]) == [0] and got["optim"]["state"][0]["step"] == 1


def test_the_manifest_is_plain_json_and_nothing_is_pickled(tmp_path):
    path = tmp_path / "t.npz"
    nn.save({"x": [1, 2.5, None, "s", (np.ones(2),)]}, path)
    with zipfile.ZipFile(path) as z:
        manifest = json.loads(z.read("__chainrule__.json"))
        assert manifest["format"] == "chainrule-checkpoint" and manifest["version"] == 1
        for name in z.namelist():
            assert b"pickle" not in z.read(name) and not z.read(name).startswith(b"\x80")


# ---------------------------------------------------------------- damaged files

def saved_bytes(tmp_path):
    path = tmp_path / "good.npz"
    nn.save({"w": np.arange(6, dtype=np.float32).reshape(2, 3), "meta": {"step": 3, "name": "x"}}, path)
    return path.read_bytes(), nn.load(path)


def test_every_truncation_is_a_checkpoint_error_naming_the_file(tmp_path):
    data, _ = saved_bytes(tmp_path)
    bad = tmp_path / "cut.npz"
    for n in range(len(data)):
        bad.write_bytes(data[:n])
        with pytest.raises(nn.CheckpointError) as info:
            nn.load(bad)
        assert info.value.path == str(bad)
        assert str(bad) in str(info.value) and "not a valid chainrule checkpoint" in str(info.value)


def test_every_corrupted_byte_is_detected_or_harmless(tmp_path):
    data, good = saved_bytes(tmp_path)
    bad = tmp_path / "flip.npz"
    detected = 0
    for i in range(len(data)):
        bad.write_bytes(data[:i] + bytes([data[i] ^ 0xFF]) + data[i + 1:])
        try:
            got = nn.load(bad)
        except nn.CheckpointError:
            detected += 1
            continue
        assert same(got, good), i          # e.g. a file date changed: the content is intact
    assert detected > 0.7 * len(data)      # the rest: dates and version fields of the zip


def test_empty_random_and_missing_files_say_what_they_are(tmp_path):
    empty = tmp_path / "empty.npz"
    empty.write_bytes(b"")
    with pytest.raises(nn.CheckpointError, match="empty.npz.*empty \\(0 bytes\\)"):
        nn.load(empty)
    noise = tmp_path / "noise.npz"
    noise.write_bytes(np.random.default_rng(0).bytes(1000))
    with pytest.raises(nn.CheckpointError, match="not a zip archive") as info:
        nn.load(noise)
    assert "pickle" not in str(info.value)
    with pytest.raises(FileNotFoundError):
        nn.load(tmp_path / "missing.npz")
    assert issubclass(nn.CheckpointError, ValueError)


def test_an_archive_claiming_a_huge_array_is_refused_without_allocating_it(tmp_path):
    path = tmp_path / "liar.npz"
    with zipfile.ZipFile(path, "w") as z:
        header = {"descr": "<f8", "fortran_order": False, "shape": (10**9, 10**6)}
        with z.open("x.npy", "w") as f:
            np.lib.format.write_array_header_1_0(f, header)
            f.write(b"\x00" * 16)
    with pytest.raises(nn.CheckpointError, match="x.npy.*declares"):
        nn.load(path)


def test_save_with_the_arguments_swapped_says_so(tmp_path):
    with pytest.raises(TypeError, match="state comes first"):
        nn.save(str(tmp_path / "x.npz"), {"w": np.ones(1)})
    with pytest.raises(TypeError, match="path must be a str"):
        nn.save({"w": np.ones(1)}, 3)


# ---------------------------------------------------------------- safetensors

ST_DTYPES = [np.float32, np.float64, np.float16, np.int8, np.int64, np.uint16, np.bool_]
st_arrays = st.sampled_from(ST_DTYPES).flatmap(
    lambda dt: st.lists(st.integers(0, 3), max_size=3).map(
        lambda shape: (np.arange(math.prod(shape)) % 7).astype(dt).reshape(shape)))
st_trees = st.recursive(st.none() | st.integers() | st.floats() | st.text(max_size=4) | st_arrays,
                        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3),
                        max_leaves=10)


@settings(max_examples=60, deadline=None)
@given(tree=st.dictionaries(st.text(max_size=5), st_trees, max_size=4))
def test_safetensors_round_trips_any_tree(tmp_path_factory, tree):
    got = round_trip(tmp_path_factory.mktemp("st"), tree, name="t.safetensors")
    assert same(got, tree)


def test_safetensors_files_are_read_and_written_by_the_safetensors_library(tmp_path):
    stn = pytest.importorskip("safetensors.numpy")
    model = nn.Sequential(nn.Dense(3, 4, rng=0), nn.Dense(4, 2, rng=1))
    nn.save(model, tmp_path / "m.safetensors")
    theirs = stn.load_file(str(tmp_path / "m.safetensors"))
    assert sorted(theirs) == sorted(model.state_dict())
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(theirs[k], v)
        assert theirs[k].dtype == v.dtype
    stn.save_file({"a": np.arange(3.0), "b": np.ones((2, 2), np.int16)}, str(tmp_path / "x.safetensors"))
    got = nn.load(tmp_path / "x.safetensors")
    assert sorted(got) == ["a", "b"] and got["b"].dtype == np.int16
    np.testing.assert_array_equal(got["a"], [0.0, 1.0, 2.0])


def write_safetensors(path, header, data):
    text = json.dumps(header).encode()
    path.write_bytes(len(text).to_bytes(8, "little") + text + data)


def test_safetensors_bfloat16_loads_as_exact_float32(tmp_path):
    values = np.array([1.5, -2.0, 3.140625], np.float32)        # exactly representable in bfloat16
    bf16 = (values.view(np.uint32) >> 16).astype("<u2")
    write_safetensors(tmp_path / "b.safetensors",
                      {"w": {"dtype": "BF16", "shape": [3], "data_offsets": [0, 6]}}, bf16.tobytes())
    got = nn.load(tmp_path / "b.safetensors")["w"]
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, values)


def test_safetensors_refuses_what_it_cannot_hold_before_touching_the_file(tmp_path):
    path = tmp_path / "c.safetensors"
    nn.save(state(1.0), path)
    for bad in ({"z": np.ones(2, np.complex64)}, {"s": np.array(["text"])}):
        with pytest.raises(ValueError, match="safetensors cannot hold.*save to a path ending in .npz"):
            nn.save(bad, path)
    assert os.listdir(tmp_path) == ["c.safetensors"]
    assert_state(nn.load(path), 1.0)


def test_damaged_safetensors_files_are_checkpoint_errors_or_harmless(tmp_path):
    path = tmp_path / "good.safetensors"
    nn.save({"w": np.arange(6, dtype=np.float32).reshape(2, 3), "meta": {"step": 3}}, path)
    data, good = path.read_bytes(), nn.load(path)
    bad = tmp_path / "bad.safetensors"
    for n in range(len(data)):
        bad.write_bytes(data[:n])
        with pytest.raises(nn.CheckpointError):
            nn.load(bad)
    for i in range(len(data)):
        bad.write_bytes(data[:i] + bytes([data[i] ^ 0xFF]) + data[i + 1:])
        try:
            got = nn.load(bad)
        except nn.CheckpointError:
            continue
        assert same(got, good), i
    write_safetensors(bad, {"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}}, b"\x00" * 8)
    with pytest.raises(nn.CheckpointError, match="declares \\[2\\] of F32 \\(8 bytes\\) but spans 4"):
        nn.load(bad)
    write_safetensors(bad, {"w": {"dtype": "F8_E4M3", "shape": [1], "data_offsets": [0, 1]}}, b"\x00")
    with pytest.raises(nn.CheckpointError, match="F8_E4M3.*NumPy cannot hold"):
        nn.load(bad)


@pytest.mark.parametrize("suffix", [".npz", ".safetensors"])
def test_empty_and_zero_dimensional_arrays_round_trip(tmp_path, suffix):
    tree = {"e": np.zeros((0, 3), np.float32), "ee": np.zeros((2, 0, 0), np.int64), "s": np.array(2.5),
            "g": np.float32(1.25), "big_endian": np.arange(3, dtype=">i4")}
    got = round_trip(tmp_path, tree, name="t" + suffix)
    assert [got[k].shape for k in tree] == [(0, 3), (2, 0, 0), (), (), (3,)]
    assert got["g"] == np.float32(1.25) and type(got["g"]) is np.float32
    np.testing.assert_array_equal(got["big_endian"], [0, 1, 2])


def test_a_missing_directory_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="cannot create a file in the directory of 'x.npz'") as info:
        nn.save(state(), tmp_path / "missing" / "x.npz")
    assert info.value.filename == str(tmp_path / "missing")


def test_a_manifest_nested_beyond_the_recursion_limit_is_a_checkpoint_error(tmp_path):
    path = tmp_path / "deep.npz"
    deep = '{"list": [' * 100_000 + "]}" * 100_000
    manifest = '{"format": "chainrule-checkpoint", "version": 1, "root": {"dict": [[{"str": "x"}, '
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("__chainrule__.json", manifest + deep + "]]}}")
    with pytest.raises(nn.CheckpointError, match="RecursionError"):
        nn.load(path)
    with pytest.raises(ValueError, match="nested too deeply"):
        nested = []
        for _ in range(100_000):
            nested = [nested]
        nn.save({"x": nested}, tmp_path / "y.npz")
    assert sorted(os.listdir(tmp_path)) == ["deep.npz"]
