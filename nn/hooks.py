"""Module hooks: run your function before or after a module's forward, or when the gradient of
its output arrives during backward.

    handle = model.register_forward_hook(lambda m, args, out: print(type(m).__name__, out.shape))
    model(x)
    handle.remove()                     # or: with model.register_forward_hook(fn): model(x)

`Module.__call__` hands over to `call_with_hooks` only when the module has hooks, so a module
without hooks pays one dictionary lookup per call (and, once it has had hooks, one attribute
read: `ModuleHooks.any`).
"""

from __future__ import annotations

import itertools
from typing import Any, Callable

import autograd as ag

__all__ = ["RemovableHandle", "ModuleHooks", "call_with_hooks"]

_IDS = itertools.count()


class RemovableHandle:
    """What a `register_*_hook` method returns: `remove()` unregisters the hook (again is a
    no-op); as a context manager it removes the hook on leaving the block."""

    __slots__ = ("_table", "_hooks", "_entry", "id")

    def __init__(self, table: dict[int, Any], hooks: ModuleHooks | None = None) -> None:
        self._table = table
        self._hooks = hooks
        self._entry: Any = None
        self.id = next(_IDS)

    def _restore(self) -> None:
        """Register the removed hook again, last (cheaper than a new registration: nn.Monitor
        does it before every recorded step)."""
        if self._entry is not None and self.id not in self._table:
            self._table[self.id] = self._entry
            if self._hooks is not None:
                self._hooks.any = True

    def remove(self) -> None:
        self._table.pop(self.id, None)
        if self._hooks is not None:
            self._hooks.count()

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()

    def __repr__(self) -> str:
        state = "active" if self.id in self._table else "removed"
        return f"<RemovableHandle {self.id} ({state})>"


class ModuleHooks:
    """The hooks of one module: three tables `{handle id: (fn, with_kwargs)}` in calling order."""

    __slots__ = ("pre", "forward", "output_grad", "any")

    def __init__(self) -> None:
        self.pre: dict[int, tuple[Callable, bool]] = {}
        self.forward: dict[int, tuple[Callable, bool]] = {}
        self.output_grad: dict[int, tuple[Callable, bool]] = {}
        self.any = False        # some hook is registered (what Module.__call__ reads)

    def __len__(self) -> int:
        return len(self.pre) + len(self.forward) + len(self.output_grad)

    def count(self) -> None:
        self.any = bool(self.pre or self.forward or self.output_grad)

    def add(self, kind: str, fn: Callable, with_kwargs: bool = False,
            prepend: bool = False) -> RemovableHandle:
        if not callable(fn):
            raise TypeError(f"a hook must be callable, got {type(fn).__name__}")
        table = getattr(self, kind)
        handle = RemovableHandle(table, self)
        table[handle.id] = handle._entry = (fn, bool(with_kwargs))
        if prepend:                          # dicts keep insertion order: rebuild with it first
            items = list(table.items())
            table.clear()
            table.update([items[-1], *items[:-1]])
        self.any = True
        return handle


def _hooks_of(module: Any) -> ModuleHooks:
    hooks = module.__dict__.get("_hooks")
    if hooks is None:
        hooks = ModuleHooks()
        object.__setattr__(module, "_hooks", hooks)
    return hooks


def register(module: Any, kind: str, fn: Callable, with_kwargs: bool = False,
             prepend: bool = False) -> RemovableHandle:
    """Add a hook of `kind` ("pre", "forward" or "output_grad") to `module`."""
    return _hooks_of(module).add(kind, fn, with_kwargs, prepend)


def call_with_hooks(module: Any, hooks: ModuleHooks, args: tuple, kwargs: dict) -> Any:
    """`module(*args, **kwargs)` with its hooks: pre-hooks, forward, forward hooks, then an
    autograd hook on each output tensor for the output-grad hooks."""
    with ag.scope(module):
        for fn, with_kwargs in list(hooks.pre.values()):
            if with_kwargs:
                result = fn(module, args, kwargs)
                if result is not None:
                    if not (isinstance(result, tuple) and len(result) == 2):
                        raise RuntimeError(
                            f"a forward pre-hook registered with with_kwargs=True must return None "
                            f"or a tuple (args, kwargs), got {type(result).__name__}")
                    args, kwargs = result
            else:
                result = fn(module, args)
                if result is not None:
                    args = result if isinstance(result, tuple) else (result,)
        output = module.forward(*args, **kwargs)
        for fn, with_kwargs in list(hooks.forward.values()):
            result = fn(module, args, kwargs, output) if with_kwargs else fn(module, args, output)
            if result is not None:
                output = result
        if hooks.output_grad and ag.is_grad_enabled():
            output = _own_outputs(output, {id(a) for a in (*args, *kwargs.values())})
    if hooks.output_grad and ag.is_grad_enabled():
        _watch_output(module, hooks, output)
    return output


def _own_outputs(output: Any, inputs: set[int]) -> Any:
    """`output` with each tensor that this call did not make (an input passed through, as
    Dropout in eval does, or a leaf) replaced by `ag.clone` of it: a hook on the tensor itself
    would outlive the call, pile up over calls, fire for backward passes that never go through
    the module, and a replaced gradient would replace the tensor's whole gradient."""
    def own(t: Any) -> Any:
        if isinstance(t, ag.Tensor) and t.requires_grad and (t.is_leaf or id(t) in inputs):
            return ag.clone(t)
        return t
    if isinstance(output, ag.Tensor):
        return own(output)
    if type(output) in (tuple, list):
        return type(output)(own(t) for t in output)
    if isinstance(output, tuple) and hasattr(output, "_make"):          # a namedtuple
        return output._make(own(t) for t in output)
    if type(output) is dict:
        return {k: own(t) for k, t in output.items()}
    return output


def _watch_output(module: Any, hooks: ModuleHooks, output: Any) -> None:
    """Register one autograd hook on each tensor of `output` (a Tensor, or a tuple / list /
    dict holding some) that runs the module's output-grad hooks current at backward time."""
    if isinstance(output, ag.Tensor):
        tensors = [output]
    elif isinstance(output, (tuple, list)):
        tensors = [t for t in output if isinstance(t, ag.Tensor)]
    elif isinstance(output, dict):
        tensors = [t for t in output.values() if isinstance(t, ag.Tensor)]
    else:
        tensors = []
    table = hooks.output_grad

    def on_grad(grad: ag.Tensor) -> ag.Tensor | None:
        replaced = None
        for fn, _ in list(table.values()):
            result = fn(module, grad if replaced is None else replaced)
            if result is not None:
                replaced = (result if isinstance(result, ag.Tensor)
                            else ag.tensor(result, dtype=grad.dtype))
        return replaced

    for t in tensors:
        if t.requires_grad:
            t.register_hook(on_grad)
