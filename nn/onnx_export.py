"""`nn.export_onnx(model, example_input, path)`: a model to an ONNX file, in eval mode."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

import autograd as ag

from .module import Module

__all__ = ["export_onnx"]


def export_onnx(model: Module, example_input: Any, path: str | os.PathLike | None, *,
                dynamic_batch: bool = True, input_names: list[str] | None = None,
                output_names: list[str] | None = None) -> Any:
    """Write `model` as an ONNX file (opset 18) traced on `example_input` (a tuple for a model
    of several inputs); returns the `onnx.ModelProto`.

    A float example is cast to the dtype of the model's parameters (a float32 model takes
    float32 inputs, even from a float64 example). The model is traced in eval mode (batch norm
    with its running statistics, dropout the identity) and put back in the mode it was in.
    Parameters become initializers named as in `state_dict()`; axis 0 of the inputs and outputs
    is the dynamic dimension `batch` unless `dynamic_batch=False`. Needs the `onnx` package
    (`pip install "chainrule[onnx]"`); an operation with no ONNX mapping raises
    `ag.onnx.ExportError` naming it and its module.
    """
    if not isinstance(model, Module):
        raise TypeError(f"nn.export_onnx exports a Module, got {type(model).__name__}; for a "
                        f"function use ag.onnx.export(fn, inputs, path)")
    example_input = _in_model_dtype(model, example_input)
    modes = [(m, m.training) for m in model.modules()]
    frozen = [p for p in model.parameters() if not p.requires_grad]
    model.eval()
    for p in frozen:                    # traced like the others, so their operations are recorded
        p.requires_grad_(True)
    try:
        return ag.onnx.export(model, example_input, path, params=model, dynamic_batch=dynamic_batch,
                              input_names=input_names, output_names=output_names)
    finally:
        for p in frozen:
            p.requires_grad_(False)
            p.grad = None
        for m, training in modes:
            m.training = training


def _in_model_dtype(model: Module, example: Any) -> Any:
    """Float examples as the dtype of the model's first float parameter."""
    dtype = next((p.dtype for p in model.parameters() if p.dtype.kind == "f"), None)
    if dtype is None:
        return example

    def cast(x: Any) -> Any:
        arr = np.asarray(x.data if isinstance(x, ag.Tensor) else x)
        return arr.astype(dtype) if arr.dtype.kind == "f" and arr.dtype != dtype else x
    return tuple(cast(x) for x in example) if isinstance(example, tuple) else cast(example)
