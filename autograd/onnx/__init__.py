"""Export a traced function (or model) to ONNX: `ag.onnx.export(fn, inputs, path)`.

The function runs once on the example inputs (twice, at two batch sizes, for a dynamic batch
axis); every operation it records is written as ONNX operators, parameters as initializers.
Needs the `onnx` package (`pip install "chainrule[onnx]"`), imported only when exporting.
See docs/export.md for the table of operations.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from ..tensor import Tensor
from ._modules import register_module
from ._trace import ExportError, Trace, align, as_array, grown, run

if TYPE_CHECKING:
    import onnx

__all__ = ["export", "ExportError", "supported_operations", "register_module"]

OPSET = 18


def _onnx() -> Any:
    try:
        import onnx
    except ImportError:
        raise ImportError("ONNX export needs the onnx package: pip install 'chainrule[onnx]' "
                          "(or pip install onnx)") from None
    return onnx


def supported_operations() -> list[str]:
    """The names of the recorded operations that export maps to ONNX."""
    from ._ops import CONVERTERS
    return sorted(CONVERTERS)


def _names(params: Any) -> tuple[dict[int, str], dict[int, str]]:
    """id -> dotted name of the parameters and of the modules of `params` (a Module or a dict)."""
    if params is None:
        return {}, {}
    if isinstance(params, dict):
        return {id(t): str(k) for k, t in params.items()}, {}
    if hasattr(params, "named_parameters"):
        modules = {id(m): n for n, m in params.named_modules()} if hasattr(params, "named_modules") \
            else {}
        return {id(p): n for n, p in params.named_parameters()}, modules
    raise TypeError(f"ag.onnx.export: params must be a Module or a dict of named Tensors, got "
                    f"{type(params).__name__}")


def _needed(trace: Trace) -> set:
    """The nodes the outputs depend on (the rest of the records is left out of the file)."""
    recorded = {r.node: r for r in trace.records}
    seen: set = set()
    stack: list = [t._node for t in trace.outputs if t._node in recorded]
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        for x in recorded[node].inputs:
            if isinstance(x, Tensor) and x._node in recorded and x._node not in seen:
                stack.append(x._node)
    return seen


def _value_info(name: str, arr: np.ndarray, twin: np.ndarray | None) -> Any:
    from onnx import helper

    from ._builder import onnx_type
    shape: list[Any] = list(arr.shape)
    if twin is not None:
        shape = ["batch" if a != b else a for a, b in zip(arr.shape, twin.shape)]
    return helper.make_tensor_value_info(name, onnx_type(arr.dtype), shape)


def export(fn: Callable, inputs: Any, path: str | os.PathLike | None = None, *, params: Any = None,
           input_names: list[str] | None = None, output_names: list[str] | None = None,
           dynamic_batch: bool = True) -> onnx.ModelProto:
    """Trace `fn(*inputs)` and write it to `path` as an ONNX model (opset 18); returns the model.

    `inputs`: one example (a Tensor, an array or a nested list) or a tuple of them; axis 0 of
    each is the batch axis, exported as the dynamic dimension `batch` unless
    `dynamic_batch=False`. `params`: a Module or a `{name: Tensor}` dict naming the parameters
    (initializers) and modules (in errors); a Module given as `fn` names its own. An operation
    with no ONNX mapping raises `ExportError` naming it and its module. The model passes
    `onnx.checker` before it is written.
    """
    onnx = _onnx()
    from onnx import helper

    from ._builder import Builder
    from ._ops import CONVERTERS
    examples = list(inputs) if isinstance(inputs, tuple) else [inputs]
    if not examples:
        raise ValueError("ag.onnx.export: give at least one example input")
    arrays = [as_array(x) for x in examples]
    if params is None and hasattr(fn, "named_parameters"):
        params = fn
    param_names, module_names = _names(params)
    trace = run(fn, arrays)
    needed = _needed(trace)
    b = Builder(trace, None, param_names, module_names)
    for record in trace.records:            # does every operation have a mapping?
        if record.node in needed and record.name not in CONVERTERS:
            b.record = record
            raise b.error("it has no ONNX mapping",
                          f"Operations that export: {', '.join(supported_operations())}")
    if dynamic_batch:
        b.twin = _second_trace(fn, arrays, trace)
    input_names = _names_for("input", input_names, len(trace.inputs))
    output_names = _names_for("output", output_names, len(trace.outputs))
    _reserve(b, input_names, output_names)
    graph_inputs = _inputs(b, input_names)
    _convert_records(b, needed)
    graph_outputs = _outputs(b, output_names)
    graph = helper.make_graph(b.nodes, "chainrule", graph_inputs, graph_outputs, b.initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="chainrule")
    model.ir_version = 8                    # the IR of opset 18: readable by older runtimes too
    onnx.checker.check_model(model, full_check=True)
    if path is not None:
        onnx.save(model, os.fspath(path))
    return model


def _convert_records(b: Any, needed: set) -> None:
    """Every needed record as ONNX operators; a registered module's call as its own operator."""
    from ._modules import MODULES, segments
    from ._ops import CONVERTERS
    records = b.trace.records
    calls = segments(records, needed, b.trace.inputs, b.trace.outputs)
    pending: list[int] = []             # the records of a call that may become one operator
    first = {start: end for end, (_, start, _) in calls.items()}
    end = -1
    for i, record in enumerate(records):
        if record.node not in needed:
            continue
        if i in first:
            end = first[i]
        if i <= end:
            pending.append(i)
            if i < end:
                continue
            module, _, x = calls[end]
            b.index, b.record = i, record
            x_name = b.values[x._node] if x._node in b.values else b.values[id(x)]
            out = MODULES[type(module)](b, module, x_name, x.dtype)
            if out is not None:
                b.values[record.node] = out
                pending = []
                continue
        for k in pending or [i]:
            b.index, b.record = k, records[k]
            b.values[records[k].node] = CONVERTERS[records[k].name](b)
        pending = []
    b.record = None


def _second_trace(fn: Callable, arrays: list[np.ndarray], trace: Trace) -> Trace:
    """The function traced again with one more sample: what changes is batch-dependent."""
    sizes = (arrays[0].shape[0], arrays[0].shape[0] + 1) if arrays[0].ndim else (0, 0)
    try:
        twin = run(fn, [grown(a) for a in arrays])
    except ExportError:
        raise
    except Exception as err:
        raise ExportError(f"ONNX export: the function fails at batch size {sizes[1]} (traced "
                          f"again to find the batch axis): {type(err).__name__}: {err}. Pass "
                          f"dynamic_batch=False to export it for the example's batch "
                          f"size only") from err
    align(trace, twin, sizes)
    return twin


_UNRECORDED = ("an operation whose result carries no gradient (//, a comparison, astype to an "
               "integer or bool dtype, argmax/argmin) or from .data or NumPy")


def _reserve(b: Any, input_names: list[str], output_names: list[str]) -> None:
    """Keep the graph's input and output names as given: no parameter or intermediate value
    may take one (a parameter named `output` would otherwise clash with the output)."""
    shared = sorted(set(input_names) & set(output_names))
    if shared:
        raise ValueError(f"ag.onnx.export: {shared[0]!r} is both an input and an output name; "
                         f"give the inputs and the outputs different names")
    b.used.update(input_names, output_names)


def _not_traced(b: Any, i: int, t: Any) -> ExportError:
    """The error for output `i` (`t`), which no recorded operation produced."""
    other = None if b.twin is None else b.twin.outputs[i]
    if other is not None and (np.shape(other) != np.shape(t) or
                              not np.array_equal(np.asarray(other.data), np.asarray(t.data))):
        return ExportError(f"ONNX export: output {i} changes with the input but was not computed "
                           f"by recorded operations: it comes from {_UNRECORDED}, which the trace "
                           f"cannot see; compute it with differentiable operations")
    return ExportError(f"ONNX export: output {i} does not depend on the inputs or the parameters "
                       f"(it is a constant, or it comes from {_UNRECORDED}); return something "
                       f"computed from them")


def _names_for(kind: str, names: list[str] | None, n: int) -> list[str]:
    if names is None:
        return [kind] if n == 1 else [f"{kind}_{i}" for i in range(n)]
    if len(names) != n or len(set(names)) != n:
        raise ValueError(f"ag.onnx.export: {kind}_names gives {len(names)} names ({names}) for "
                         f"{n} {kind}s; give one distinct name per {kind}")
    return [str(x) for x in names]


def _inputs(b: Any, input_names: list[str] | None) -> list:
    """Name the graph's inputs and describe them (axis `batch` where the traces differ)."""
    trace, twin = b.trace, b.twin
    infos = []
    for i, (t, name) in enumerate(zip(trace.inputs, _names_for("input", input_names,
                                                                len(trace.inputs)))):
        b.values[id(t)] = name                  # reserved by _reserve
        infos.append(_value_info(b.values[id(t)], t._data,
                                 None if twin is None else twin.inputs[i]._data))
    return infos


def _outputs(b: Any, output_names: list[str] | None) -> list:
    """Name the graph's outputs (renaming the values that hold them) and describe them."""
    from onnx import helper
    outs = b.trace.outputs
    names = _names_for("output", output_names, len(outs))
    infos: list = []
    taken = {v for v in b.values.values()} | {i.name for i in b.initializers}
    for i, (t, want) in enumerate(zip(outs, names)):
        if t._node is not None and t._node in b.values:
            have = b.values[t._node]
        elif id(t) in b.values:
            have = b.values[id(t)]
        else:
            raise _not_traced(b, i, t)
        produced = any(have in n.output for n in b.nodes)
        if produced and want not in taken and have not in {x.name for x in infos}:
            for n in b.nodes:
                n.input[:] = [want if v == have else v for v in n.input]
                n.output[:] = [want if v == have else v for v in n.output]
            b.values = {k: (want if v == have else v) for k, v in b.values.items()}
        else:
            b.nodes.append(helper.make_node("Identity", [have], [want], name=f"Identity_{want}"))
        twin = None if b.twin is None else b.twin.outputs[i]._data
        infos.append(_value_info(want, t._data, twin))
    return infos
