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
