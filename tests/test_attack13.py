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


def test_embedding_with_padding_exports_when_the_example_holds_padding() -> None:
    # the padding mask (a `where` whose condition is made from the indices with NumPy) has the
    # batch's shape: the export was refused, telling the user to compute it with recorded
    # operations, although it is nn's own layer and the mask only shapes the gradient
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    import autograd as ag
    model = nn.Sequential(nn.Embedding(10, 4, padding_idx=0, rng=0), nn.Flatten(),
                          nn.Dense(12, 2, rng=1))
    model[0].weight.data[0] = 7.0               # a padding row that is not zero: read as it is
    proto = nn.export_onnx(model, np.array([[1, 0, 3], [0, 0, 2]]), None)
    onnx.checker.check_model(proto)
    assert [n.op_type for n in proto.graph.node] == ["Gather", "Reshape", "MatMul", "Add"]
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    model.eval()
    for batch in (1, 5):
        x = np.random.default_rng(batch).integers(0, 3, (batch, 3))
        with ag.no_grad():
            want = model(x).numpy()
        assert np.allclose(session.run(None, {"input": x})[0], want, atol=1e-6)
    model.train()
    model(np.array([[0, 1, 0]])).sum().backward()     # the padding row still gets no gradient
    assert model[0].weight.grad.data[0].tolist() == [0.0] * 4
    assert np.any(model[0].weight.grad.data[1] != 0)


# ---------------------------------------------------------------- frozen parameters and the export


def test_export_keeps_a_frozen_parameters_gradient() -> None:
    # the export unfroze frozen parameters to trace them and then set their .grad to None:
    # a gradient accumulated before the export (fine-tuning, then freezing a layer) was lost
    pytest.importorskip("onnx")
    import autograd as ag
    model = nn.Sequential(nn.Dense(3, 2, rng=0))
    model(ag.ones((4, 3))).sum().backward()
    model[0].bias.requires_grad_(False)
    before = model[0].bias.grad.data.copy()
    nn.export_onnx(model, np.ones((2, 3), np.float32), None)
    assert not model[0].bias.requires_grad
    assert model[0].bias.grad is not None and np.array_equal(model[0].bias.grad.data, before)


def test_export_of_a_model_with_a_frozen_integer_parameter() -> None:
    # the export called requires_grad_(True) on every frozen parameter: an integer one raised
    # "only floating-point tensors can require grad" from inside the export
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    import autograd as ag

    class Scaled(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.dense = nn.Dense(3, 2, rng=0)
            self.k = nn.Parameter(np.array([2, 3]), requires_grad=False)

        def forward(self, x: ag.Tensor) -> ag.Tensor:
            return self.dense(x) * self.k

    model = Scaled()
    proto = nn.export_onnx(model, np.ones((2, 3), np.float32), None)
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    with ag.no_grad():
        assert np.allclose(session.run(None, {"input": x})[0], model(x).numpy(), atol=1e-6)
    assert not model.k.requires_grad


# ---------------------------------------------------------------- load_state_dict from Parameters


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


def test_export_refuses_an_example_of_batch_size_zero() -> None:
    # the second trace repeats the first sample, of which there is none: both traces had batch
    # size 0, no axis was found to differ, and the file took only empty batches (ONNX Runtime:
    # "Got: 3 Expected: 0") although the export promises a dynamic batch axis
    pytest.importorskip("onnx")
    import autograd as ag
    model = nn.Dense(6, 5, rng=0)
    with pytest.raises(ag.onnx.ExportError, match="batch size 0"):
        nn.export_onnx(model, np.zeros((0, 6), np.float32), None)
    proto = nn.export_onnx(model, np.zeros((0, 6), np.float32), None, dynamic_batch=False)
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_value == 0
    proto = nn.export_onnx(model, np.zeros((1, 6), np.float32), None)
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.uint16, np.uint32, np.int32, np.int64])
def test_embedding_exports_with_any_integer_index_dtype(dtype: type) -> None:
    # ONNX's Gather takes int32 and int64 indices: a uint8 input failed onnx's checker with
    # "indices typestr: Tind, has unsupported type: tensor(uint8)" instead of exporting
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    import autograd as ag
    model = nn.Sequential(nn.Embedding(10, 4, rng=0), nn.Flatten())
    proto = nn.export_onnx(model, np.array([[1, 0, 3]], dtype), None)
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    x = np.array([[9, 2, 0], [4, 4, 1]], dtype)
    with ag.no_grad():
        assert np.array_equal(session.run(None, {"input": x})[0], model(x).numpy())
