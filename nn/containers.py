"""The containers: Sequential, ModuleList, ModuleDict, ParameterList and ParameterDict."""

from __future__ import annotations

from collections.abc import ItemsView, KeysView, Mapping, ValuesView
from typing import Any, Iterable, Iterator

import numpy as np

import autograd as ag

from .module import Module, Parameter

__all__ = ["Sequential", "ModuleList", "ModuleDict", "ParameterList", "ParameterDict"]


_MODULE_CALL = Module.__call__


class Sequential(Module):
    """Runs its modules one after another: `Sequential(Dense(4, 8, "relu"), Dense(8, 1))`; or,
    as PyTorch's, one dict (an OrderedDict) of named modules: `Sequential({"hidden": ..., "out": ...})`,
    whose names are then those of `state_dict()`."""

    def __init__(self, *modules: Module) -> None:
        super().__init__()
        named: Iterable[tuple[Any, Any]] = enumerate(modules)
        if len(modules) == 1 and isinstance(modules[0], Mapping):
            named = modules[0].items()
        for i, m in named:
            if not isinstance(m, Module):
                raise TypeError(f"Sequential: item {i!r} is a {type(m).__name__}, not a Module; wrap "
                                f"functions in a Module (e.g. nn.ReLU() instead of ag.relu)")
            if not isinstance(i, (int, str)):
                raise TypeError(f"Sequential: the names of modules are strings, got {i!r}")
            if isinstance(i, str) and (hasattr(type(self), i) or i in self.__dict__):
                raise KeyError(f"Sequential: the name {i!r} is taken by an attribute of "
                               f"Sequential (a method or 'training'); pick another name")
            setattr(self, str(i), m)

    def forward(self, x: Any) -> Any:
        for m in self._modules.values():
            hooks = m.__dict__.get("_hooks")
            if type(m).__call__ is _MODULE_CALL and (hooks is None or not hooks.any):
                with ag.scope(m):       # `m(x)`, without the call's frame and argument tuple
                    x = m.forward(x)
            else:
                x = m(x)
        return x

    def __getitem__(self, idx: int | slice) -> Module:
        """`seq[i]` is the i-th module; `seq[a:b]` a Sequential of those modules that keeps
        their names (`seq[1:]` starts at `1`, so its parameters are named as in `seq`)."""
        if isinstance(idx, slice):
            part = Sequential()
            for name, m in list(self._modules.items())[idx]:
                setattr(part, name, m)
            return part
        return list(self._modules.values())[idx]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(list(self._modules.values()))


class ModuleList(Module):
    """A list of modules whose parameters are registered (`layers.0.weight`, ...)."""

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def _check(self, m: Any) -> Module:
        if not isinstance(m, Module):
            raise TypeError(f"ModuleList holds Modules, got a {type(m).__name__}")
        return m

    def append(self, module: Module) -> ModuleList:
        setattr(self, str(len(self._modules)), self._check(module))
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        for m in modules:
            self.append(m)
        return self

    def __getitem__(self, idx: int | slice) -> Any:
        mods = list(self._modules.values())
        if isinstance(idx, slice):
            return ModuleList(mods[idx])
        return mods[idx]

    def __setitem__(self, idx: int, module: Module) -> None:
        n = len(self._modules)
        if not -n <= idx < n:
            raise IndexError(f"ModuleList index {idx} out of range for length {n}")
        setattr(self, str(idx % n), self._check(module))

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(list(self._modules.values()))

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("ModuleList has no forward(); iterate over it in your own forward")


def _as_parameter(owner: str, value: Any) -> Parameter:
    """`value` as a Parameter: a Parameter as it is, a Tensor or an ndarray wrapped (no copy),
    as PyTorch's ParameterList and ParameterDict wrap a Tensor."""
    if isinstance(value, Parameter):
        return value
    if isinstance(value, (ag.Tensor, np.ndarray)):
        return Parameter(value.data if isinstance(value, ag.Tensor) else value)
    raise TypeError(f"{owner} holds Parameters (a Tensor or ndarray is wrapped in nn.Parameter), "
                    f"got {type(value).__name__}")


def _parameter_lines(module: Module, head: str, count: str) -> list[str]:
    """The repr of a Parameter container: one line per Parameter, with its shape and dtype."""
    params = module._parameters
    if not params:
        return [head + ")" + count]
    lines = [head + count]
    for name, p in params.items():
        grad = "" if p.requires_grad else ", requires_grad=False"
        lines.append(f"  ({name}): Parameter of shape {p.shape}, {p.dtype}{grad}")
    return lines + [")"]


class _Dict(Module):
    """What ModuleDict and ParameterDict share: dict methods over one registry, whose keys
    are the attribute names (so `state_dict()` names are `key.param` or `key`)."""

    _registry = "_modules"
    _kind = "module"

    def _check(self, value: Any) -> Any:
        raise NotImplementedError

    def _store(self, items: list[tuple[Any, Any]]) -> None:
        """Check every key and value first, then register them: a bad one changes nothing."""
        owner = type(self).__name__
        checked = []
        for key, value in items:
            value = self._check(value)
            if isinstance(key, str) and "." in key:
                raise KeyError(f"{owner}: key {key!r} contains '.', which state_dict() uses to "
                               f"separate names; use another character such as '_'")
            checked.append((self._free_name(key, self._kind, self._registry), value))
        for key, value in checked:
            setattr(self, key, value)

    def __getitem__(self, key: str) -> Any:
        entries = self.__dict__[self._registry]
        if key not in entries:
            raise KeyError(f"{type(self).__name__} has no key {key!r}; its keys are {list(entries)}")
        return entries[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._store([(key, value)])

    def __delitem__(self, key: str) -> None:
        self[key]                   # a missing key: the KeyError naming the keys
        delattr(self, key)

    def __len__(self) -> int:
        return len(self.__dict__[self._registry])

    def __iter__(self) -> Iterator[str]:
        return iter(list(self.__dict__[self._registry]))

    def __contains__(self, key: object) -> bool:
        return key in self.__dict__[self._registry]

    def keys(self) -> KeysView[str]:
        """The keys, in insertion order."""
        return self.__dict__[self._registry].keys()

    def values(self) -> ValuesView[Any]:
        """The values, in insertion order."""
        return self.__dict__[self._registry].values()

    def items(self) -> ItemsView[str, Any]:
        """`(key, value)` pairs, in insertion order."""
        return self.__dict__[self._registry].items()

    def pop(self, key: str) -> Any:
        """Remove `key` and return its value (a KeyError naming the keys if it is missing)."""
        value = self[key]
        del self[key]
        return value

    def clear(self) -> None:
        """Remove every entry."""
        for key in list(self):
            del self[key]

    def update(self, entries: Mapping[str, Any] | Iterable[tuple[str, Any]]) -> None:
        """Add or replace entries from a mapping (in its order) or an iterable of `(key, value)`
        pairs; every entry is checked before any is stored."""
        owner = type(self).__name__
        if isinstance(entries, Mapping):
            self._store(list(entries.items()))
            return
        if isinstance(entries, (str, bytes)) or not isinstance(entries, Iterable):
            raise TypeError(f"{owner}.update takes a mapping or an iterable of (key, value) "
                            f"pairs, got {type(entries).__name__}")
        pairs = []
        for i, pair in enumerate(entries):
            if isinstance(pair, (str, bytes)) or not isinstance(pair, Iterable):
                raise TypeError(f"{owner}.update: element #{i} is a {type(pair).__name__}, not a "
                                f"(key, value) pair")
            pair = tuple(pair)
            if len(pair) != 2:
                raise ValueError(f"{owner}.update: element #{i} has length {len(pair)}; 2 is "
                                 f"required (key, value)")
            pairs.append(pair)
        self._store(pairs)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} has no forward(); index it in your own "
                                  f"forward")


class ModuleDict(_Dict):
    """A dict of modules whose parameters are registered under their keys
    (`heads["cls"].weight` is `heads.cls.weight` in `state_dict()`), as PyTorch's ModuleDict:
    `nn.ModuleDict({"cls": nn.Dense(8, 10), "box": nn.Dense(8, 4)})`. Keys are strings without
    '.' that are not names of ModuleDict's methods; insertion order is kept."""

    def __init__(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]] | None = None
                 ) -> None:
        super().__init__()
        if modules is not None:
            self.update(modules)

    def _check(self, value: Any) -> Module:
        if not isinstance(value, Module):
            hint = "; remove a key with del d[key]" if value is None else ""
            raise TypeError(f"ModuleDict holds Modules, got {type(value).__name__}{hint}")
        return value

    def __getitem__(self, key: str) -> Module:
        return super().__getitem__(key)

    def values(self) -> ValuesView[Module]:
        """The modules, in insertion order."""
        return self._modules.values()

    def items(self) -> ItemsView[str, Module]:
        """`(key, module)` pairs, in insertion order."""
        return self._modules.items()

    def pop(self, key: str) -> Module:
        """Remove `key` and return its module."""
        return super().pop(key)


class ParameterDict(_Dict):
    """A dict of Parameters registered under their keys (`state_dict()` names are the keys),
    as PyTorch's ParameterDict; a Tensor or ndarray stored in it is wrapped in `nn.Parameter`
    (no copy)."""

    _registry = "_parameters"
    _kind = "parameter"

    def __init__(self, parameters: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None
                 ) -> None:
        super().__init__()
        if parameters is not None:
            self.update(parameters)

    def _check(self, value: Any) -> Parameter:
        return _as_parameter("ParameterDict", value)

    def __getitem__(self, key: str) -> Parameter:
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:
        """The Parameter under `key`, or `default`."""
        return self._parameters.get(key, default)

    def values(self) -> ValuesView[Parameter]:
        """The Parameters, in insertion order."""
        return self._parameters.values()

    def items(self) -> ItemsView[str, Parameter]:
        """`(key, Parameter)` pairs, in insertion order."""
        return self._parameters.items()

    def pop(self, key: str) -> Parameter:
        """Remove `key` and return its Parameter."""
        return super().pop(key)

    def _repr_lines(self) -> list[str]:
        n = self.num_parameters()
        count = f"  # {n:,} parameter{'s' if n != 1 else ''}" if n else ""
        return _parameter_lines(self, f"{type(self).__name__}(", count)


class ParameterList(Module):
    """A list of Parameters registered as `0`, `1`, ... (as PyTorch's ParameterList); a Tensor
    or ndarray stored in it is wrapped in `nn.Parameter` (no copy)."""

    def __init__(self, values: Iterable[Any] | None = None) -> None:
        super().__init__()
        if values is not None:
            self.extend(values)

    def append(self, value: Any) -> ParameterList:
        """Add one Parameter at the end; returns self."""
        setattr(self, str(len(self._parameters)), _as_parameter("ParameterList", value))
        return self

    def extend(self, values: Iterable[Any]) -> ParameterList:
        """Add Parameters at the end (all checked before any is added); returns self."""
        if isinstance(values, (ag.Tensor, np.ndarray)) or not isinstance(values, Iterable):
            raise TypeError(f"ParameterList.extend takes an iterable of Parameters, got a "
                            f"{type(values).__name__}; for one, use append")
        for p in [_as_parameter("ParameterList", v) for v in values]:
            self.append(p)
        return self

    def __iadd__(self, values: Iterable[Any]) -> ParameterList:
        return self.extend(values)

    def _index(self, idx: Any) -> int:
        n = len(self._parameters)
        if isinstance(idx, (bool, np.bool_)) or not isinstance(idx, (int, np.integer)):
            raise TypeError(f"ParameterList indices must be integers or slices, got "
                            f"{type(idx).__name__}")
        if not -n <= idx < n:
            raise IndexError(f"ParameterList index {idx} out of range for length {n}")
        return int(idx) % n

    def __getitem__(self, idx: int | slice) -> Any:
        params = list(self._parameters.values())
        if isinstance(idx, slice):
            return ParameterList(params[idx])
        return params[self._index(idx)]

    def __setitem__(self, idx: int, value: Any) -> None:
        setattr(self, str(self._index(idx)), _as_parameter("ParameterList", value))

    def __len__(self) -> int:
        return len(self._parameters)

    def __iter__(self) -> Iterator[Parameter]:
        return iter(list(self._parameters.values()))

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("ParameterList has no forward(); iterate over it in your own "
                                  "forward")

    def _repr_lines(self) -> list[str]:
        n = self.num_parameters()
        count = f"  # {n:,} parameter{'s' if n != 1 else ''}" if n else ""
        return _parameter_lines(self, f"{type(self).__name__}(", count)
