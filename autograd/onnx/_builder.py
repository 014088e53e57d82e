"""The ONNX graph under construction: values, constants, parameters and nodes.

Every traced Tensor becomes one named ONNX value. Constants (arrays and numbers an operation
read) become initializers; when the function was traced at two batch sizes, each constant is
compared with its twin from the second trace, so a constant that depends on the batch (or on
the input's values) is refused instead of being frozen into the file.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper

from ..tensor import Tensor
from ._trace import ExportError, Record, Trace

INT_MAX = np.iinfo(np.int64).max
INT_MIN = np.iinfo(np.int64).min


def onnx_type(dtype: np.dtype) -> int:
    return helper.np_dtype_to_tensor_dtype(np.dtype(dtype))


class Builder:
    """Accumulates ONNX nodes and initializers while the records are converted in order."""

    def __init__(self, trace: Trace, twin: Trace | None, param_names: dict[int, str],
                 module_names: dict[int, str]) -> None:
        self.trace, self.twin = trace, twin
        self.param_names = param_names          # id(Tensor) -> dotted name
        self.module_names = module_names        # id(Module) -> dotted name
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.values: dict[Any, str] = {}        # Node or id(input/parameter Tensor) -> value name
        self.constants: dict[Any, str] = {}
        self._keep: list[Any] = []              # arrays whose id() is a key of `constants`
        self.used: set[str] = set()
        self.index = 0                          # the record being converted
        self.record: Record | None = None

    # -- names ---------------------------------------------------------------------------

    def fresh(self, base: str) -> str:
        base = "".join(c if c.isalnum() or c in "._/" else "_" for c in base) or "v"
        name, i = base, 1
        while name in self.used:
            name, i = f"{base}_{i}", i + 1
        self.used.add(name)
        return name

    def where(self, record: Record | None = None) -> str:
        """'in module 0 (Dense)' for the innermost module of the record's scope."""
        record = record or self.record
        if record is None or not record.scope:
            return "outside any module"
        m = record.scope[-1]
        name = self.module_names.get(id(m))
        label = f"'{name}'" if name else "(root)" if name == "" else "<unnamed>"
        return f"in module {label} ({type(m).__name__})"

    def prefix(self) -> str:
        """'0/' for a value made inside module 0 (Netron shows the module in the name)."""
        r = self.record
        name = self.module_names.get(id(r.scope[-1])) if r is not None and r.scope else None
        return f"{name}/" if name else ""

    def error(self, what: str, hint: str = "") -> ExportError:
        r = self.record
        head = f"ONNX export: operation '{r.name}' {self.where()}" if r else "ONNX export"
        return ExportError(f"{head}: {what}" + (f". {hint}" if hint else ""))

    # -- nodes ---------------------------------------------------------------------------

    def add(self, op: str, inputs: list[str], base: str | None = None, **attrs: Any) -> str:
        """An ONNX node with one output; returns the output's name."""
        out = self.fresh(self.prefix() + (base or (self.record.name if self.record else op)))
        self.nodes.append(helper.make_node(op, inputs, [out], name=self.fresh(f"{op}_{out}"),
                                           **attrs))
        return out

    def const(self, arr: Any, base: str = "const") -> str:
        arr = np.asarray(arr)
        key = (id(arr), arr.dtype.str) if arr.ndim else (arr.dtype.str, arr.item())
        name = self.constants.get(key)
        if name is None:
            self._keep.append(arr)
            name = self.constants[key] = self.fresh(base)
            self.initializers.append(numpy_helper.from_array(np.array(arr, order="C"), name))
        return name

    def ints(self, values: Any, what: str = "ints") -> str:
        """A 1-D int64 constant (axes, shapes, slice bounds), named after the operation."""
        r = self.record
        base = f"{self.prefix()}{r.name}_{what}" if r is not None else what
        return self.const(np.asarray(values, np.int64).reshape(-1), base)

    # -- for module converters (see _modules.py) -------------------------------------------

    def tensor(self, t: Any, name: str) -> str:
        """A module's Parameter (an initializer under its dotted name) or state (a constant
        named `name`, e.g. `1.running_var`)."""
        if isinstance(t, Tensor) and t.requires_grad and t._node is None:
            return self.value(t, 0)[0]
        arr = _plain(t)
        key = (id(arr), arr.dtype.str)
        if key not in self.constants:
            self._keep.append(arr)
            self.constants[key] = self.fresh(name)
            self.initializers.append(numpy_helper.from_array(np.array(arr, order="C"),
                                                             self.constants[key]))
        return self.constants[key]

    def module_name(self, module: Any) -> str:
        """The dotted name of a module of the exported model ('' for the root or unknown)."""
        return self.module_names.get(id(module), "")

    # -- operands ------------------------------------------------------------------------

    def twin_record(self) -> Record | None:
        return None if self.twin is None else self.twin.records[self.index]

    def twin_value(self, position: int) -> Any:
        t = self.twin_record()
        return None if t is None else t.inputs[position]

    def check_constant(self, value: Any, twin: Any, what: str) -> None:
        """Refuse a constant that differs between the two traces."""
        if self.twin is None:
            return
        a, b = _plain(value), _plain(twin)
        if a.shape != b.shape:
            raise self.error(
                f"{what} has shape {a.shape} at one batch size and {b.shape} at another: it depends "
                f"on the batch size, so it cannot be a constant of a graph with a dynamic batch axis",
                "Compute it from the input with recorded operations (one whose result carries no "
                "gradient, such as //, a comparison or a cast to integers, is not recorded), or "
                "export with dynamic_batch=False")
        if not np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"):
            raise self.error(
                f"{what} (shape {a.shape}) changes with the input's values: it was computed "
                f"outside the recorded graph (from .data or NumPy, or by an operation whose result "
                f"carries no gradient, such as // or a cast to integers), so ONNX would freeze it",
                "Compute it with autograd operations on the input")

    def operand(self, position: int, dtype: Any = None) -> str:
        """The ONNX value of input `position` of the current record, cast to `dtype` if given."""
        assert self.record is not None
        name, have = self.value(self.record.inputs[position], position, dtype)
        if dtype is not None and have != np.dtype(dtype):
            return self.add("Cast", [name], base=f"{name}_cast", to=onnx_type(dtype))
        return name

    def value(self, x: Any, position: int, dtype: Any = None) -> tuple[str, np.dtype]:
        """(ONNX name, dtype) of an operand: a traced value, an input, a parameter or a constant
        (made in `dtype` if given)."""
        if isinstance(x, Tensor):
            node = x._node
            if node is not None and node in self.values:
                return self.values[node], x.dtype
            if id(x) in self.values:                    # a graph input or a parameter
                return self.values[id(x)], x.dtype
            if node is None and x.requires_grad:        # a parameter: an initializer by name
                name = self.fresh(self.param_names.get(id(x)) or x.name or "param")
                self.initializers.append(numpy_helper.from_array(np.array(x._data, order="C"), name))
                self.values[id(x)] = name
                self._keep.append(x)
                return name, x.dtype
        self.check_constant(x, self.twin_value(position), f"its operand {position}")
        arr = _plain(x)
        if dtype is not None and arr.dtype != np.dtype(dtype):
            arr = arr.astype(dtype)
        return self.const(arr, self.constant_name(arr)), arr.dtype

    def constant_name(self, arr: np.ndarray) -> str:
        """A buffer's dotted name if `arr` holds one of the current module's buffers' values."""
        r = self.record
        if r is not None and r.scope:
            m = r.scope[-1]
            for bname, b in getattr(m, "_buffers", {}).items():
                if b is not None and b.size == arr.size and b.dtype.kind == arr.dtype.kind and \
                        np.array_equal(b._data.reshape(-1).astype(arr.dtype), arr.reshape(-1)):
                    prefix = self.module_names.get(id(m))
                    return f"{prefix}.{bname}" if prefix else bname
        return f"{self.prefix()}{r.name}_const" if r else "const"

    def dynamic(self, shape: tuple[int, ...], twin_shape: tuple[int, ...] | None) -> list[int]:
        """The axes whose size differs between the traces (the batch-dependent ones)."""
        if twin_shape is None:
            return []
        return [i for i, (a, b) in enumerate(zip(shape, twin_shape)) if a != b]

    def out_dynamic(self) -> list[int]:
        assert self.record is not None
        t = self.twin_record()
        return self.dynamic(self.record.out.shape, None if t is None else t.out.shape)

    def shape_const(self, shape: tuple[int, ...], dyn: list[int], fill: int = -1) -> str:
        """A shape for Reshape (dynamic axis -1) or Expand (dynamic axes 1)."""
        if fill == -1 and len(dyn) > 1:
            raise self.error(f"its output shape {shape} has {len(dyn)} batch-dependent axes; "
                             f"ONNX's Reshape can infer only one",
                             "Export with dynamic_batch=False")
        return self.ints([fill if i in dyn else n for i, n in enumerate(shape)], "shape")


def _plain(x: Any) -> np.ndarray:
    if isinstance(x, Tensor):
        return x._data
    return np.asarray(x)
