"""Attack round 13, the ONNX export part (a file of its own: the NumPy 1.24 CI run, where
the onnx package cannot import, leaves out tests/test_*onnx*.py). Each test failed before
its fix."""

from __future__ import annotations

import numpy as np
import pytest

import nn


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
