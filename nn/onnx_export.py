"""`nn.export_onnx(model, example_input, path)`: a model to an ONNX file, in eval mode."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

import autograd as ag

from . import embedding as _embedding
from .module import Module
from .normalization import BatchNorm1d, LayerNorm

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
    # frozen float parameters are traced like the others (an integer one stays a constant: it
    # cannot require grad); each keeps the .grad it had
    frozen = [(p, p.grad) for p in model.parameters() if not p.requires_grad and p.dtype.kind == "f"]
    model.eval()
    forward_only = _embedding.FORWARD_ONLY.set(True)   # no padding mask: see nn/embedding.py
    for p, _ in frozen:                 # traced like the others, so their operations are recorded
        p.requires_grad_(True)
    try:
        return ag.onnx.export(model, example_input, path, params=model, dynamic_batch=dynamic_batch,
                              input_names=input_names, output_names=output_names)
    finally:
        _embedding.FORWARD_ONLY.reset(forward_only)
        for p, grad in frozen:
            p.requires_grad_(False)
            p.grad = grad
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


def _state(b: Any, module: Module, attr: str, default: Any) -> str:
    """The ONNX name of `module.attr` (its dotted name), or of `default` if it is None."""
    value = getattr(module, attr)
    prefix = b.module_name(module)
    name = f"{prefix}.{attr}" if prefix else attr
    return b.tensor(default if value is None else value, name)


def _batch_norm(b: Any, m: BatchNorm1d, x: str, dtype: np.dtype) -> str | None:
    """BatchNormalization with the running statistics (eval mode)."""
    if m.training or not m.track_running_stats or m.running_mean.dtype != dtype:
        return None
    c = m.num_features
    inputs = [x, _state(b, m, "weight", np.ones(c, dtype)), _state(b, m, "bias", np.zeros(c, dtype)),
              _state(b, m, "running_mean", None), _state(b, m, "running_var", None)]
    return b.add("BatchNormalization", inputs, epsilon=m.eps)


def _layer_norm(b: Any, m: LayerNorm, x: str, dtype: np.dtype) -> str | None:
    """LayerNormalization over the last len(normalized_shape) axes."""
    if m.weight is not None and m.weight.dtype != dtype:
        return None
    shape = m.normalized_shape
    inputs = [x, _state(b, m, "weight", np.ones(shape, dtype))]
    if m.bias is not None:
        inputs.append(_state(b, m, "bias", None))
    return b.add("LayerNormalization", inputs, axis=-len(shape), epsilon=m.eps)


ag.onnx.register_module(BatchNorm1d, _batch_norm)
ag.onnx.register_module(LayerNorm, _layer_norm)
