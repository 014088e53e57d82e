"""Module and Parameter (the containers, Sequential to ParameterDict, are in `containers.py`).

A Module registers every attribute that is a Parameter or a Module when it is assigned, so
`named_parameters()` finds them with dotted names such as `layers.0.weight`.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, NamedTuple

import numpy as np

import autograd as ag

from . import _validate
from . import hooks as _hooks

__all__ = ["Parameter", "Module", "LoadResult"]


class Parameter(ag.Tensor):
    """A Tensor that requires grad and that modules register: `nn.Parameter(np.zeros(3))`.

    Python floats become the default dtype (float32); an ndarray keeps its dtype (no copy).
    """

    __slots__ = ()

    def __init__(self, data: Any, requires_grad: bool = True, name: str | None = None) -> None:
        super().__init__(data, requires_grad=requires_grad, name=name)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class LoadResult(NamedTuple):
    """What `load_state_dict(..., strict=False)` skipped."""

    missing_keys: list[str]
    unexpected_keys: list[str]


class Module:
    """Base class of layers and models: subclass it, assign layers and Parameters in
    `__init__`, and write `forward`. Calling the module runs `forward`."""

    training: bool

    def __init__(self) -> None:
        # setdefault: a subclass may have assigned attributes before calling super().__init__()
        d = self.__dict__
        d.setdefault("_parameters", {})
        d.setdefault("_modules", {})
        d.setdefault("_buffers", {})
        d.setdefault("_non_persistent", set())
        d.setdefault("training", True)

    # -- registration --------------------------------------------------------------------

    if TYPE_CHECKING:
        # registered values (parameters, submodules, buffers) live in the instance's __dict__, so
        # Python never calls this; it tells type checkers that such attributes exist, as in PyTorch
        def __getattr__(self, name: str) -> Any: ...

    def __setattr__(self, name: str, value: Any) -> None:
        d = self.__dict__
        if "_parameters" not in d:
            Module.__init__(self)
        params, modules = d["_parameters"], d["_modules"]
        buffers = d.setdefault("_buffers", {})
        # a name lives in one place; re-assigning within a registry keeps its position
        # registered values are also kept as plain attributes, so reading them is fast and
        # needs no __getattr__ (the registries only give the order and the kind)
        if isinstance(value, (Parameter, Module)) and ("." in name or not name):
            raise KeyError(f"{type(self).__name__}: a {type(value).__name__} cannot be registered "
                           f"under the name {name!r}: state_dict() names are dotted paths, so a "
                           f"name must be non-empty and without '.'")
        if isinstance(value, Parameter):
            modules.pop(name, None)
            self._drop_buffer(name)
            params[name] = value
            d[name] = value
        elif isinstance(value, Module):
            params.pop(name, None)
            self._drop_buffer(name)
            modules[name] = value
            d[name] = value
        elif name in buffers:               # a new value for a buffer keeps it a buffer
            buffers[name] = d[name] = _as_buffer(value, f"{type(self).__name__}.{name}")
        else:
            if name in params and value is not None:
                raise TypeError(
                    f"cannot assign a {type(value).__name__} to {type(self).__name__}.{name}, "
                    f"which is a parameter: it would stop being registered (and be left out of "
                    f"parameters(), state_dict() and checkpoints). Assign nn.Parameter(value) to "
                    f"replace it, write into it under `with ag.no_grad():`, or `del` it first to "
                    f"make the name a plain attribute")
            params.pop(name, None)
            modules.pop(name, None)
            if isinstance(value, (list, tuple)) and any(isinstance(v, Module) for v in value):
                warnings.warn(f"{type(self).__name__}.{name} is a {type(value).__name__} holding "
                              f"Modules; their parameters are not registered. Wrap it in "
                              f"nn.ModuleList(...) instead", stacklevel=2)
            elif isinstance(value, dict) and any(isinstance(v, (Module, Parameter))
                                                 for v in value.values()):
                warnings.warn(f"{type(self).__name__}.{name} is a dict holding Modules or "
                              f"Parameters; they are not registered (not in parameters(), "
                              f"state_dict() or checkpoints). Wrap it in nn.ModuleDict(...) "
                              f"(Modules) or nn.ParameterDict(...) (Parameters)", stacklevel=2)
            object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        d = self.__dict__
        for registry in ("_parameters", "_modules", "_buffers"):
            if name in d.get(registry, {}):
                del d[registry][name]
                d.get("_non_persistent", set()).discard(name)
                d.pop(name, None)
                return
        object.__delattr__(self, name)

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._modules)
                      | set(self._buffers))

    # -- registering by name (PyTorch's add_module / register_parameter) -----------------

    def _free_name(self, name: Any, kind: str, registry: str) -> str:
        """`name` if a `kind` may be registered under it: a non-empty string without '.' that
        is not an attribute already, unless it is in `registry` (then it is replaced) or a
        plain attribute that is None (how an empty parameter or module slot is kept here)."""
        if not isinstance(name, str):
            raise TypeError(f"{type(self).__name__}: a {kind} name must be a string, got "
                            f"{name!r} ({type(name).__name__})")
        if not name or "." in name:
            raise KeyError(f"{type(self).__name__}: a {kind} cannot be registered under the name "
                           f"{name!r}: state_dict() names are dotted paths, so a name must be "
                           f"non-empty and without '.'")
        d = self.__dict__
        if "_parameters" not in d:
            Module.__init__(self)
        if name in d[registry]:
            return name
        taken = None
        if name in d["_parameters"]:
            taken = "a parameter"
        elif name in d["_modules"]:
            taken = "a submodule"
        elif name in d.get("_buffers", {}):
            taken = "a buffer"
        elif name in d and d[name] is not None:
            taken = "an attribute"
        elif name not in d and hasattr(type(self), name):
            raise KeyError(f"{type(self).__name__}: attribute {name!r} already exists "
                           f"({type(self).__name__}.{name} is a method or class attribute); "
                           f"pick another name")
        if taken is not None:
            fix = "" if name == "training" or name.startswith("_") else \
                f", or delete it first (del module.{name})"
            raise KeyError(f"{type(self).__name__}: attribute {name!r} already exists ({taken}); "
                           f"pick another name{fix}")
        return name

    def add_module(self, name: str, module: Module | None) -> None:
        """Register `module` as the submodule `name`, as `setattr(self, name, module)` does (so
        names that are not identifiers work too, as `nn.Sequential` uses "0", "1", ...).
        Replacing a registered submodule keeps its position; `None` empties the name (kept as a
        plain attribute). A name that is already a parameter, buffer, attribute or method is
        a KeyError, as in PyTorch."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(self).__name__}.add_module: {name!r} must be a Module or None, "
                            f"got {type(module).__name__}")
        setattr(self, self._free_name(name, "module", "_modules"), module)

    register_module = add_module

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register `param` (an `nn.Parameter`, or None for an empty slot such as a missing
        bias) under `name`, as `setattr(self, name, param)` does; replacing a registered
        parameter keeps its position. A plain Tensor or array is a TypeError (wrap it in
        `nn.Parameter`); a name that is already a submodule, buffer, attribute or method is a
        KeyError, as in PyTorch."""
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"{type(self).__name__}.register_parameter: cannot register a "
                            f"{type(param).__name__} as parameter {name!r}: nn.Parameter or None "
                            f"required; wrap it: nn.Parameter(value)")
        setattr(self, self._free_name(name, "parameter", "_parameters"), param)

    # -- buffers -------------------------------------------------------------------------

    def register_buffer(self, name: str, tensor: Any, persistent: bool = True) -> None:
        """Register `tensor` (a Tensor, an ndarray, or None) as buffer `name`: state that is not
        learnt, such as BatchNorm's running statistics. It is kept as a Tensor (an ndarray is
        wrapped, not copied), read as `self.name`; it is in `state_dict()` (unless `persistent=False`
        or it is None) and so in `nn.save`, never in `parameters()`. Assigning a new value to
        `self.name` later keeps it a buffer."""
        if not isinstance(name, str) or not name or "." in name:
            raise KeyError(f"register_buffer: the name must be a non-empty string without '.', "
                           f"got {name!r}")
        d = self.__dict__
        if "_parameters" not in d:
            Module.__init__(self)
        if name in self._parameters or name in self._modules or (
                name in d and name not in self._buffers) or (
                name not in d and hasattr(type(self), name)):
            raise KeyError(f"register_buffer: attribute {name!r} already exists on "
                           f"{type(self).__name__}; pick another name or delete it first")
        self._buffers[name] = d[name] = _as_buffer(tensor, f"{type(self).__name__}.{name}")
        if persistent:
            self._non_persistent.discard(name)
        else:
            self._non_persistent.add(name)

    def _drop_buffer(self, name: str) -> None:
        d = self.__dict__
        if name in d.get("_buffers", {}):
            del d["_buffers"][name]
            d["_non_persistent"].discard(name)

    def named_buffers(self, prefix: str = "",
                      remove_duplicate: bool = True) -> Iterator[tuple[str, ag.Tensor]]:
        """Every buffer in the tree (None ones left out) with its dotted name
        (`0.running_mean`); a buffer reached twice is yielded once unless `remove_duplicate=False`."""
        seen: set[int] = set()
        for mname, module in self.named_modules(prefix, remove_duplicate=remove_duplicate):
            for bname, b in module.__dict__.get("_buffers", {}).items():
                if b is None or (remove_duplicate and id(b) in seen):
                    continue
                seen.add(id(b))
                yield (f"{mname}.{bname}" if mname else bname), b

    def buffers(self) -> Iterator[ag.Tensor]:
        """Every buffer in the tree, each once."""
        for _, b in self.named_buffers():
            yield b

    def _named_state(self) -> Iterator[tuple[str, ag.Tensor]]:
        """What `state_dict()` holds, as PyTorch orders it: each module's Parameters, then its
        persistent buffers, module by module; shared ones under every name."""
        for mname, module in self.named_modules(remove_duplicate=False):
            skip = module.__dict__.get("_non_persistent", set())
            entries = list(module._parameters.items()) + [
                (k, b) for k, b in module.__dict__.get("_buffers", {}).items()
                if b is not None and k not in skip]
            for name, t in entries:
                yield (f"{mname}.{name}" if mname else name), t

    # -- running -------------------------------------------------------------------------

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} has no forward(); define one in the subclass")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        hooks = self.__dict__.get("_hooks")
        if hooks is not None and hooks.any:     # see nn/hooks.py
            return _hooks.call_with_hooks(self, hooks, args, kwargs)
        with ag.scope(self):        # draw_graph clusters the operations recorded here by module
            return self.forward(*args, **kwargs)

    # -- hooks (nn/hooks.py) -------------------------------------------------------------

    def register_forward_pre_hook(self, hook: Callable, *, prepend: bool = False,
                                  with_kwargs: bool = False) -> _hooks.RemovableHandle:
        """Run `hook(module, args)` before each `forward`; a returned value replaces the
        positional arguments (a non-tuple is wrapped in one). With `with_kwargs=True` it is
        `hook(module, args, kwargs)` returning None or `(args, kwargs)`. `prepend` runs it
        before the hooks already registered. Returns a handle: `.remove()`, or use it in `with`."""
        return _hooks.register(self, "pre", hook, with_kwargs, prepend)

    def register_forward_hook(self, hook: Callable, *, prepend: bool = False,
                              with_kwargs: bool = False) -> _hooks.RemovableHandle:
        """Run `hook(module, args, output)` after each `forward` (`hook(module, args, kwargs,
        output)` with `with_kwargs=True`); a returned value replaces the output."""
        return _hooks.register(self, "forward", hook, with_kwargs, prepend)

    def register_output_grad_hook(self, hook: Callable, *,
                                  prepend: bool = False) -> _hooks.RemovableHandle:
        """Run `hook(module, grad)` during backward when the gradient of the loss with respect
        to this module's output is complete (once per output tensor, per call); a returned
        Tensor replaces that gradient. Like PyTorch's `register_full_backward_pre_hook`, but
        per output tensor. Outputs of calls made while grad mode is off are not watched. An
        output the call did not make (an input passed through, a leaf) is returned as
        `ag.clone` of it, so the hook sees only the gradient that flows through this call."""
        return _hooks.register(self, "output_grad", hook, False, prepend)

    # -- traversal -----------------------------------------------------------------------

    def named_modules(self, prefix: str = "",
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Module]]:
        """Every module in the tree, pre-order, as `(dotted_name, module)`; the root is `prefix`
        (`""`). A module reached twice is yielded once, unless `remove_duplicate=False`: then
        it is yielded under every name (a module inside itself is still entered once)."""
        seen: set[int] = set()
        stack: list[tuple[str, Module, frozenset[int]]] = [(prefix, self, frozenset())]
        while stack:
            name, module, ancestors = stack.pop()
            if id(module) in (seen if remove_duplicate else ancestors):
                continue
            seen.add(id(module))
            yield name, module
            if not remove_duplicate:
                ancestors = ancestors | {id(module)}
            kids = [(f"{name}.{k}" if name else k, m, ancestors) for k, m in module._modules.items()]
            stack.extend(reversed(kids))

    def modules(self) -> Iterator[Module]:
        """Every module in the tree, this one first."""
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """The direct sub-modules as `(name, module)`."""
        seen: set[int] = set()
        for name, m in self._modules.items():
            if id(m) not in seen:
                seen.add(id(m))
                yield name, m

    def children(self) -> Iterator[Module]:
        """The direct sub-modules."""
        for _, m in self.named_children():
            yield m

    def named_parameters(self, prefix: str = "",
                         remove_duplicate: bool = True) -> Iterator[tuple[str, Parameter]]:
        """Every Parameter in the tree with its dotted name (`layers.0.weight`); a Parameter
        shared by several modules or names is yielded once, under its first name, unless
        `remove_duplicate=False`: then it is yielded under every name (as `state_dict` lists it)."""
        seen: set[int] = set()
        for mname, module in self.named_modules(prefix, remove_duplicate=remove_duplicate):
            for pname, p in module._parameters.items():
                if remove_duplicate:
                    if id(p) in seen:
                        continue
                    seen.add(id(p))
                yield (f"{mname}.{pname}" if mname else pname), p

    def parameters(self) -> Iterator[Parameter]:
        """Every Parameter in the tree, each once."""
        for _, p in self.named_parameters():
            yield p

    def num_parameters(self) -> int:
        """How many numbers the Parameters of the tree hold."""
        return sum(p.size for p in self.parameters())

    def get_submodule(self, target: str) -> Module:
        """The submodule at the dotted path `target` (`"blocks.0"`); `""` is this module. A
        step that is not a registered submodule is an AttributeError naming it, as in PyTorch."""
        if not isinstance(target, str):
            raise TypeError(f"get_submodule: target must be a dotted path string such as "
                            f"'layers.0', got {target!r} ({type(target).__name__})")
        module: Module = self
        path = ""
        for atom in target.split(".") if target else []:
            kids = module.__dict__.get("_modules", {})
            if atom not in kids:
                where = f" (at {path!r})" if path else ""
                if atom and hasattr(module, atom):
                    raise AttributeError(f"get_submodule({target!r}): `{atom}` of "
                                         f"{type(module).__name__}{where} is not an nn.Module")
                raise AttributeError(f"get_submodule({target!r}): {type(module).__name__}{where} "
                                     f"has no attribute `{atom}`; its submodules are "
                                     f"{list(kids)}")
            module = kids[atom]
            path = f"{path}.{atom}" if path else atom
        return module

    def get_parameter(self, target: str) -> Parameter:
        """The Parameter at the dotted path `target` (`"blocks.0.weight"`, as
        `named_parameters()` names it); an AttributeError naming what is missing otherwise."""
        if not isinstance(target, str):
            raise TypeError(f"get_parameter: target must be a dotted path string such as "
                            f"'layers.0.weight', got {target!r} ({type(target).__name__})")
        module_path, _, name = target.rpartition(".")
        module = self.get_submodule(module_path)
        params = module.__dict__.get("_parameters", {})
        if name not in params:
            if name and hasattr(module, name):
                raise AttributeError(f"get_parameter({target!r}): `{name}` is not an nn.Parameter")
            raise AttributeError(f"get_parameter({target!r}): {type(module).__name__} has no "
                                 f"attribute `{name}`; its parameters are {list(params)}")
        return params[name]

    # -- training helpers ----------------------------------------------------------------

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Set `.grad = None` on every Parameter (or, `set_to_none=False`, fill it with zeros),
        as PyTorch's `Module.zero_grad` and the optimizers' `zero_grad`."""
        set_to_none = _validate.flag(f"{type(self).__name__}.zero_grad", "set_to_none", set_to_none)
        clear_grads(self.parameters(), set_to_none)

    def train(self, mode: bool = True) -> Module:
        """Set `.training` on this module and all sub-modules; returns self. `mode` is True or
        False: a string such as "False" or "eval" is refused, not read as truthy."""
        mode = _validate.flag(f"{type(self).__name__}.train", "mode", mode)
        for m in self.modules():
            m.training = mode
        return self

    def eval(self) -> Module:
        """`train(False)`."""
        return self.train(False)

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """Call `fn(module)` on every submodule, then on this module (children before their
        parent, as PyTorch's `Module.apply`, e.g. to initialise weights); returns self. A
        module registered twice under one parent is visited once there, one reachable through
        several parents once per parent, as in PyTorch. Walked with a loop, not recursion."""
        if not callable(fn):
            raise TypeError(f"{type(self).__name__}.apply: fn must be a function of a module, got "
                            f"a {type(fn).__name__}")
        stack: list[tuple[Module, bool, frozenset[int]]] = [(self, False, frozenset())]
        while stack:
            module, expanded, ancestors = stack.pop()
            if expanded:
                fn(module)
                continue
            stack.append((module, True, ancestors))
            inner = ancestors | {id(module)}            # a module inside itself: entered once
            kids = [m for m in module.children() if id(m) not in inner]
            stack.extend((m, False, inner) for m in reversed(kids))
        return self

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Set `requires_grad` on every Parameter of the tree (False freezes them: backward
        leaves their `.grad` alone); returns self. `requires_grad` is True or False."""
        requires_grad = _validate.flag(f"{type(self).__name__}.requires_grad_", "requires_grad",
                                       requires_grad)
        params = list(self.named_parameters())
        if requires_grad:
            bad = [f"{n} ({p.dtype})" for n, p in params if p.dtype.kind not in "f"]
            if bad:
                raise TypeError(f"{type(self).__name__}.requires_grad_(True): only float "
                                f"parameters can require grad; not {', '.join(bad)}. Nothing "
                                f"was changed")
        for _, p in params:
            p.requires_grad_(requires_grad)
        return self

    def _cast_floats(self, dtype: type) -> Module:
        """Cast every floating-point Parameter, its `.grad`, and every floating-point buffer of
        the tree to `dtype` in place: the same Tensor objects get new arrays."""
        seen: set[int] = set()
        for module in self.modules():
            tensors = list(module._parameters.values()) + [
                b for b in module.__dict__.get("_buffers", {}).values() if b is not None]
            for t in tensors:
                if id(t) in seen or t.dtype.kind != "f" or t.dtype == dtype:
                    continue
                seen.add(id(t))
                t.data = t.data.astype(dtype)
                grad = t.grad
                if grad is not None:
                    t.grad = ag.Tensor(grad.data.astype(dtype))
        return self

    def float(self) -> Module:
        """Cast floating-point parameters (with their gradients) and buffers to float32, in
        place: each Parameter stays the same object, so an optimizer built on them updates the
        cast values (its existing buffers keep their dtype: see docs/nn.md). Integer buffers
        are left alone. Returns self."""
        return self._cast_floats(np.float32)

    def double(self) -> Module:
        """`float()`, to float64."""
        return self._cast_floats(np.float64)

    # -- state ---------------------------------------------------------------------------

    def state_dict(self) -> dict[str, np.ndarray]:
        """A copy of every Parameter's and persistent buffer's value, by dotted name. A
        Parameter shared under several names (tied weights, a module registered twice) is
        listed under each of them, as in PyTorch; `named_parameters()` lists it once."""
        return {name: np.array(p.data, copy=True) for name, p in self._named_state()}

    def load_state_dict(self, state: dict[str, Any], strict: bool = True) -> LoadResult:
        """Copy `state` into the Parameters and persistent buffers (cast to each one's dtype).

        Every name of a shared Parameter is a key, as in `state_dict()`; if several of them are
        given they must hold the same value. Everything is checked before anything is written:
        missing or unexpected keys (with `strict`), shape mismatches and differing values for
        one shared Parameter raise one RuntimeError listing all of them, and the module is left
        unchanged.
        """
        if not isinstance(state, Mapping):
            raise TypeError(f"load_state_dict: state must be a dict of name -> array (as "
                            f"state_dict() and nn.load give), got {type(state).__name__}")
        own = dict(self._named_state())
        missing = [k for k in own if k not in state]
        unexpected = [k for k in state if k not in own]
        problems = []
        values = {}
        first_name: dict[int, str] = {}     # id(Parameter) -> the first key that loads it
        for k, p in own.items():
            if k not in state:
                continue
            value = state[k]     # a Tensor (another model's Parameter) gives its values
            arr = np.asarray(value.data if isinstance(value, ag.Tensor) else value)
            if arr.shape != p.shape:
                hint = (" (transposed: PyTorch's (out, in) layout? load with "
                        "nn.load_torch_state_dict(model, state))") if arr.shape == p.shape[::-1] else ""
                problems.append(f"  {k}: shape {arr.shape} in the state, {p.shape} in the model{hint}")
            elif arr.dtype.kind not in "biuf":
                problems.append(f"  {k}: dtype {arr.dtype} is not numeric")
            elif id(p) not in first_name:
                first_name[id(p)] = k
                values[k] = arr
            elif not np.array_equal(arr.astype(p.dtype), values[first_name[id(p)]].astype(p.dtype),
                                    equal_nan=True):
                problems.append(f"  {k}: the same Parameter as {first_name[id(p)]}, but the state "
                                f"gives them different values")
        if strict:
            problems = ([f"  missing key: {k}" for k in missing]
                        + [f"  unexpected key: {k}" for k in unexpected] + problems)
        nested = [k for k in unexpected if isinstance(state[k], dict) and set(state[k]) & set(own)]
        if problems and nested:       # a whole checkpoint, e.g. {"model": ..., "optim": ...}
            problems.append(f"  (the model's state looks nested: pass state[{nested[0]!r}])")
        elif problems and strict:
            problems += _prefix_hint(missing, unexpected)
        if problems:
            raise RuntimeError(f"load_state_dict into {type(self).__name__}: the state does not fit "
                               f"({len(problems)} problem(s)); nothing was loaded:\n"
                               + "\n".join(problems))
        for k, arr in values.items():
            own[k].data = arr.astype(own[k].dtype, copy=True)
        return LoadResult(missing, unexpected)

    # -- repr ----------------------------------------------------------------------------

    def extra_repr(self) -> str:
        """The text inside the parentheses of this module's one-line repr."""
        return ""

    def __repr__(self) -> str:
        return "\n".join(self._repr_lines())

    def _repr_lines(self) -> list[str]:
        n = self.num_parameters()
        count = f"  # {n:,} parameter{'s' if n != 1 else ''}" if n else ""
        head = f"{type(self).__name__}({self.extra_repr()}"
        kids = list(self._modules.items())
        if not kids:
            return [head + ")" + count]
        lines = [head + count]
        for name, m in kids:
            sub = m._repr_lines()
            lines.append(f"  ({name}): {sub[0]}")
            lines.extend("  " + line for line in sub[1:])
        lines.append(")")
        return lines


def clear_grads(params: Iterable[ag.Tensor], set_to_none: bool) -> None:
    """`zero_grad` of a Module or an optimizer: each `.grad` set to None, or (`set_to_none`
    False) filled with zeros, in place where the array is writable (a graph may hold it)."""
    for p in params:
        if set_to_none or p.grad is None:
            p.grad = None
        elif p.grad.data.flags.writeable:
            p.grad.data[...] = 0
        else:
            p.grad = ag.zeros_like(p.grad)


def _prefix_hint(missing: list[str], unexpected: list[str]) -> list[str]:
    """A hint when the state's keys are the model's with one prefix added or removed (a state
    saved from a model wrapping this one, such as `module.` or `0.`, or from a part of it)."""
    if not missing or len(missing) != len(unexpected):
        return []
    for longer, shorter, fix in ((unexpected, missing, "strip it from the state's keys"),
                                 (missing, unexpected, "add it to the state's keys")):
        if not longer[0].endswith(shorter[0]):
            continue
        prefix = longer[0][:len(longer[0]) - len(shorter[0])]
        if prefix.endswith(".") and sorted(longer) == sorted(prefix + k for k in shorter):
            return [f"  (the state's keys differ from the model's by the prefix {prefix!r}: {fix}, "
                    f"or load into the matching submodule)"]
    return []


def _as_buffer(value: Any, where: str) -> ag.Tensor | None:
    """A buffer's value as a Tensor: a Tensor as it is (but not the output of a recorded
    operation, which would keep its graph alive), an ndarray wrapped without a copy, a NumPy
    scalar as a 0-d array; None stays None."""
    if value is None:
        return None
    if isinstance(value, Parameter):
        raise TypeError(f"{where}: a Parameter cannot be a buffer; assign it as a Parameter")
    if isinstance(value, ag.Tensor):
        if value.requires_grad and not value.is_leaf:
            raise TypeError(f"{where}: a buffer must not be the output of a recorded operation; "
                            f"give it .detach()")
        return value
    if isinstance(value, np.ndarray):
        return ag.Tensor(value)
    if isinstance(value, np.generic):           # what arithmetic on a 0-d array gives
        return ag.Tensor(np.asarray(value))
    raise TypeError(f"{where} is a buffer: assign a Tensor, an ndarray or None, "
                    f"got {type(value).__name__}")
