"""ONNX export: an index whose ints or slice bounds follow the batch size is refused, not frozen."""

import re

import numpy as np
import pytest

import autograd as ag

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

W = ag.tensor(np.linspace(-1, 1, 8).reshape(4, 2), requires_grad=True)
X = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)


@pytest.mark.parametrize("fn, shown", [
    (lambda x: (x @ W)[: x.shape[0] - 1], r"\[:2\] is \[:3\]"),
    (lambda x: (x @ W)[x.shape[0] - 1], r"\[2\] is \[3\]"),
    (lambda x: (x @ W)[1:x.shape[0]:2, :1], r"\[1:3:2, :1\] is \[1:4:2, :1\]"),
])
def test_batch_dependent_index_is_refused(fn, shown):
    with pytest.raises(ag.onnx.ExportError, match="depends on the batch size") as err:
        ag.onnx.export(fn, X, params={"w": W})
    assert "getitem" in str(err.value)

    assert re.search(shown, str(err.value))


@pytest.mark.parametrize("fn", [
    lambda x: (x @ W)[:-1], lambda x: (x @ W)[-1], lambda x: (x @ W)[:2, ::-1], lambda x: (x @ W)[..., 1],
])
def test_constant_index_exports_for_any_batch(fn):
    proto = ag.onnx.export(fn, X, params={"w": W})
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    for n in (3, 6):
        x = np.random.default_rng(n).standard_normal((n, 4)).astype(np.float32)
        (got,) = session.run(None, {"input": x})
        assert np.allclose(got, fn(ag.tensor(x)).numpy(), atol=1e-6)


def test_fixed_batch_export_keeps_the_example_index():
    fn = lambda x: (x @ W)[: x.shape[0] - 1]      # noqa: E731
    proto = ag.onnx.export(fn, X, params={"w": W}, dynamic_batch=False)
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {"input": X})
    assert np.allclose(got, fn(ag.tensor(X)).numpy(), atol=1e-6)


@pytest.mark.parametrize("fn, said", [
    (lambda x: ag.softmax(x @ W, axis=0 if x.shape[0] == 3 else 1),
     "axis=(0,) at batch size 3 and axis=(1,) at 4"),
    (lambda x: ag.leaky_relu(x @ W, 0.125 * x.shape[0]),
     "negative_slope=0.375 at batch size 3 and negative_slope=0.5 at 4"),
    (lambda x: ag.var(x @ W, axis=1, ddof=x.shape[0] - 3), "ddof=0 at batch size 3 and ddof=1 at 4"),
])
def test_batch_dependent_attribute_is_refused(fn, said):
    # the same operations at both batch sizes, but an attribute computed from the batch size
    with pytest.raises(ag.onnx.ExportError, match="depends on the batch size") as err:
        ag.onnx.export(fn, X, params={"w": W})
    assert said in str(err.value)
