"""ONNX export: an output or operand made by an unrecorded operation is named as such."""

import numpy as np
import pytest

import autograd as ag

pytest.importorskip("onnx")

X = np.linspace(-2, 2, 6, dtype=np.float32).reshape(2, 3)


@pytest.mark.parametrize("fn", [lambda a: a // 2.0, lambda a: a > 0, lambda a: a.astype(np.int64),
                                lambda a: ag.argmax(a, axis=1)])
def test_an_unrecorded_output_is_not_called_a_constant(fn):
    with pytest.raises(ag.onnx.ExportError, match="output 0 changes with the input but was not "
                       "computed by recorded operations") as err:
        ag.onnx.export(fn, X)
    assert "//, a comparison, astype to an integer or bool dtype" in str(err.value)


def test_a_true_constant_output_is_still_called_one():
    with pytest.raises(ag.onnx.ExportError, match="output 0 does not depend on the inputs"):
        ag.onnx.export(lambda a: ag.tensor([1.0, 2.0]), X)


def test_an_unrecorded_operand_names_the_likely_cause():
    with pytest.raises(ag.onnx.ExportError, match="no gradient, such as //"):
        ag.onnx.export(lambda a: (a // 2.0) * a, X)


W = ag.tensor(np.linspace(-1, 1, 6, dtype=np.float32).reshape(3, 2), requires_grad=True)


@pytest.mark.parametrize("kw, names", [
    ({"params": {"output": W}}, (["input"], ["output"])),          # a parameter named output
    ({"params": {"input": W}}, (["input"], ["output"])),
    ({"params": {"w": W}, "output_names": ["w"]}, (["input"], ["w"])),
    ({"params": {"w": W}, "input_names": ["w"]}, (["w"], ["output"])),
    ({"input_names": ["in put/x:0"], "output_names": ["out.y"]}, (["in put/x:0"], ["out.y"])),
])
def test_input_and_output_names_are_kept_as_given(kw, names):
    ort = pytest.importorskip("onnxruntime")
    proto = ag.onnx.export(lambda a: ag.tanh(a @ W), X, **kw)
    assert ([i.name for i in proto.graph.input], [o.name for o in proto.graph.output]) == names
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {names[0][0]: X})
    assert np.allclose(got, np.tanh(X @ W.numpy()), atol=1e-6)


def test_an_input_and_an_output_of_the_same_name_are_refused():
    with pytest.raises(ValueError, match="'y' is both an input and an output name"):
        ag.onnx.export(lambda a: a * 2.0, X, input_names=["y"], output_names=["y"])
