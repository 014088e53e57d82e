"""ONNX export: a constant computed from the input's values outside the graph is refused even
when one more copy of the first sample would not change it (a maximum, the first row)."""

import numpy as np
import pytest

import autograd as ag
import nn

pytest.importorskip("onnx")

W = ag.tensor(np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3), requires_grad=True)
X = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)


@pytest.mark.parametrize("fn", [
    lambda a: (a @ W) / float(np.abs(a.data).max()),
    lambda a: (a @ W) - a.data[0].sum(),
    lambda a: (a @ W) * np.float32(a.data.min()),
])
def test_a_value_read_from_data_is_refused(fn):
    with pytest.raises(ag.onnx.ExportError, match="changes with the input's values"):
        ag.onnx.export(fn, X, params={"w": W})
    ag.onnx.export(fn, X, params={"w": W}, dynamic_batch=False)     # one batch: as documented


def test_inputs_that_must_stay_probabilities_still_export():
    ort = pytest.importorskip("onnxruntime")
    rng = np.random.default_rng(1)
    p = rng.dirichlet(np.ones(4), size=3).astype(np.float32)

    class Checked(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.d = nn.Dense(4, 2)

        def forward(self, x):
            v = x.numpy() if isinstance(x, ag.Tensor) else np.asarray(x)
            assert np.all(v >= 0) and np.allclose(v.sum(axis=1), 1, atol=1e-5)
            return self.d(ag.log(x))

    model = Checked()
    proto = nn.export_onnx(model, p, None)
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    q = rng.dirichlet(np.ones(4), size=6).astype(np.float32)
    with ag.no_grad():
        assert np.allclose(session.run(None, {"input": q})[0], model(q).numpy(), atol=1e-5)
