"""The Optimizer base: parameter groups, per-parameter state, state_dict, and in-place updates.

A subclass validates its hyperparameters in `_check_group` and updates one parameter in
`_update(x, g, state, group, w)`: `x` is the parameter's array (updated in place), `g` its
gradient (read only), `state` its dict of buffers, `w` a scratch array shaped like `x`.
"""

from __future__ import annotations

import copy
import difflib
import math
import operator
import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

import autograd as ag
from nn import _validate
from nn.hooks import RemovableHandle
from nn.module import clear_grads

__all__ = ["Optimizer", "ParamState"]


class ParamState:
    """Per-parameter state keyed by identity: `opt.state[p]` is the dict of `p`'s buffers.

    Tensors compare elementwise with `==`, so a plain dict or `in` on a list would misbehave;
    this mapping looks parameters up by `id` and keeps a reference so ids are not reused.
    As PyTorch's `defaultdict(dict)`: `opt.state[p]` for a parameter with no state yet (before
    the first step) is an empty dict, stored, so what is written into it stays; `p in
    opt.state` and `get` do not create one.
    """

    def __init__(self) -> None:
        self._items: dict[int, tuple[ag.Tensor, dict[str, Any]]] = {}

    def __getitem__(self, p: ag.Tensor) -> dict[str, Any]:
        item = self._items.get(id(p))
        if item is not None:
            return item[1]
        _check_key(p)
        return self.setdefault(p)

    def __setitem__(self, p: ag.Tensor, value: dict[str, Any]) -> None:
        _check_key(p)
        if not isinstance(value, dict):
            raise TypeError(f"the optimizer state of a parameter is a dict of buffers (name -> "
                            f"value), got {type(value).__name__}")
        self._items[id(p)] = (p, value)

    def __delitem__(self, p: ag.Tensor) -> None:
        if id(p) not in self._items:
            _check_key(p)
            raise KeyError(f"no optimizer state for the tensor of shape {p.shape}")
        del self._items[id(p)]

    def __contains__(self, p: object) -> bool:
        return id(p) in self._items

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[ag.Tensor]:
        return (p for p, _ in self._items.values())

    def get(self, p: ag.Tensor, default: Any = None) -> Any:
        item = self._items.get(id(p))
        return default if item is None else item[1]

    def setdefault(self, p: ag.Tensor) -> dict[str, Any]:
        """`p`'s state, created empty on first use."""
        item = self._items.get(id(p))
        if item is None:
            item = self._items[id(p)] = (p, {})
        return item[1]

    def items(self) -> Iterator[tuple[ag.Tensor, dict[str, Any]]]:
        return iter(list(self._items.values()))

    def keys(self) -> Iterator[ag.Tensor]:
        """The parameters that have state."""
        return iter(self)

    def values(self) -> Iterator[dict[str, Any]]:
        """Their state dicts."""
        return iter([s for _, s in self._items.values()])

    def clear(self) -> None:
        self._items.clear()

    def __repr__(self) -> str:
        return f"ParamState({len(self)} parameters)"

    def __getstate__(self) -> dict[str, Any]:
        return {"items": list(self._items.values())}

    def __setstate__(self, state: dict[str, Any]) -> None:
        # a copy (copy.deepcopy, pickle) holds new parameter objects: key them by their own ids,
        # or every lookup of a copied parameter would miss and its buffers be silently restarted
        items = state["items"] if "items" in state else state.get("_items", {}).values()
        self._items = {id(p): (p, s) for p, s in items}


def _check_key(p: Any) -> None:
    if not isinstance(p, ag.Tensor):
        raise TypeError(f"opt.state is keyed by the parameter Tensors (opt.state[p] for p in "
                        f"model.parameters()), got {p!r} ({type(p).__name__}); the saved state by "
                        f"position is opt.state_dict()['state']")


# ---------------------------------------------------------------- hyperparameter checks

def check_range(name: str, value: Any, lo: float, hi: float = math.inf, hi_open: bool = False,
                owner: str = "optimizer") -> float:
    """`value` as a Python float: a real number (not a bool or string), finite, in [lo, hi]
    (or [lo, hi)); otherwise a TypeError or ValueError naming `owner`, `name` and the value."""
    return _validate.real(owner, name, value, lo, hi, hi_open=hi_open)


def _refuse_unordered(owner: str, params: Any, what: str) -> None:
    if isinstance(params, (set, frozenset)):
        raise TypeError(f"{owner}: {what} is a set, whose order is undefined (so a saved optimizer "
                        f"state could not be matched to the parameters); pass a list instead")


# ---------------------------------------------------------------- the base class

class Optimizer:
    """Base of all optimizers.

    `params` is an iterable of Tensors (e.g. `model.parameters()`) or a list of dicts (param
    groups), each with `params` and optionally its own hyperparameters (e.g. `lr`); missing ones
    come from the constructor's arguments (`defaults`).
    """

    # The per-parameter buffers a subclass keeps, checked by `load_state_dict`: name -> "array"
    # (shaped as the parameter) or "count" (an int >= 0); the names in each tuple of `_together`
    # come all or none. None (a subclass that does not say): buffers are copied unchecked.
    _buffers: dict[str, str] | None = None
    _together: tuple[tuple[str, ...], ...] = ()

    def __init__(self, params: Iterable[ag.Tensor] | Iterable[dict[str, Any]],
                 defaults: dict[str, Any]) -> None:
        self.defaults = dict(defaults)
        self.param_groups: list[dict[str, Any]] = []
        self.state = ParamState()
        self._workspace: dict[np.dtype, np.ndarray] = {}
        self._views: dict[tuple, np.ndarray] = {}       # scratch views by (dtype, shape)
        self._checked: dict[int, tuple] = {}            # groups whose values passed _check_group
        self._update_hooks: dict[int, Callable] = {}    # register_update_hook
        name = type(self).__name__
        if isinstance(params, ag.Tensor):
            raise TypeError(
                f"{name}: params must be an iterable of Tensors or of dicts (param groups), got a "
                f"single Tensor; pass [tensor] instead")
        _refuse_unordered(name, params, "params")
        if callable(getattr(params, "parameters", None)):
            raise TypeError(f"{name}: params is a {type(params).__name__}; pass model.parameters()")
        try:
            groups: list[Any] = [params] if isinstance(params, dict) else list(params)
        except TypeError:
            raise TypeError(f"{name}: params must be an iterable of Tensors or of dicts (param "
                            f"groups), got a {type(params).__name__}") from None
        if not groups:
            raise ValueError(f"{name}: the optimizer got an empty parameter list")
        if all(isinstance(g, dict) for g in groups):
            for g in groups:        # a warning points at the line that built the optimizer
                self._add_param_group(g, stacklevel=4)
        elif not any(isinstance(g, dict) for g in groups):
            self._add_param_group({"params": groups}, stacklevel=4)
        else:
            raise TypeError("params must be all Tensors or all dicts (param groups), not a mix")

    # -- groups --------------------------------------------------------------------------

    def add_param_group(self, group: dict[str, Any]) -> None:
        """Add a group: a dict with `params` and optional hyperparameters overriding the defaults.
        A key that is not a setting but close to one (`weight_deacy`) draws a warning."""
        self._add_param_group(group, stacklevel=3)

    def _add_param_group(self, group: dict[str, Any], stacklevel: int) -> None:
        if not isinstance(group, dict):
            raise TypeError(f"a param group must be a dict, got {type(group).__name__}")
        if "params" not in group:
            raise ValueError("a param group needs a 'params' entry")
        params = group["params"]
        gi = len(self.param_groups)
        if isinstance(params, ag.Tensor):
            params = [params]
        _refuse_unordered(type(self).__name__, params, f"the params of group {gi}")
        if isinstance(params, dict):
            raise TypeError(f"the params of group {gi} are a dict; pass a list of Tensors "
                            f"(e.g. list(d.values()))")
        params = list(params)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        for i, p in enumerate(params):
            if not isinstance(p, ag.Tensor):
                hint = " (iterating over named_parameters() or a dict? pass the Tensors)" \
                    if isinstance(p, (str, tuple)) else ""
                raise TypeError(f"param {i} of group {gi} is a {type(p).__name__}, not a Tensor{hint}")
            if not p.is_leaf:
                raise ValueError(
                    f"param {i} of group {gi} (shape {p.shape}) is not a leaf: an optimizer can only "
                    f"update tensors created by the user")
            if id(p) in seen:
                raise ValueError(
                    f"param {i} of group {gi} (shape {p.shape}) was given more than once; each "
                    f"parameter may appear in only one place")
            seen.add(id(p))
        for k in group:
            near = difflib.get_close_matches(str(k).lower(), list(self.defaults), n=1, cutoff=0.8)
            if k not in self.defaults and near:
                warnings.warn(f"{type(self).__name__}: param group {gi} has the key {k!r}, which is "
                              f"not one of its settings: did you mean {near[0]!r}? (the group "
                              f"keeps {k!r} but the update does not read it)", stacklevel=stacklevel)
        new = {**self.defaults, **{k: v for k, v in group.items() if k != "params"}}
        self._check_group(new)
        self.param_groups.append({"params": params, **new})

    def _check_group(self, group: dict[str, Any]) -> None:
        """Validate a group's hyperparameters, storing them as Python floats (subclasses extend)."""
        group["lr"] = self._range("lr (learning rate)", group["lr"], 0.0)

    def _range(self, name: str, value: Any, lo: float, hi: float = math.inf, hi_open: bool = False) -> float:
        """A hyperparameter as a finite float in [lo, hi] (or [lo, hi)), or a clear error."""
        return _validate.real(type(self).__name__, name, value, lo, hi, hi_open=hi_open)

    def _flag(self, name: str, value: Any) -> bool:
        return _validate.flag(type(self).__name__, name, value)

    def _params(self) -> list[ag.Tensor]:
        return [p for g in self.param_groups for p in g["params"]]

    # -- the step ------------------------------------------------------------------------

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear every parameter's gradient: `.grad = None` (or fill it with zeros)."""
        if set_to_none is not True:
            set_to_none = self._flag("set_to_none", set_to_none)
        for group in self.param_groups:
            clear_grads(group["params"], set_to_none)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient; returns `closure()` (recomputing the loss) if given."""
        loss = None
        if closure is not None and not callable(closure):
            raise TypeError(f"{type(self).__name__}.step: closure must be a function that recomputes "
                            f"the loss, got a {type(closure).__name__}")
        if closure is not None:
            with ag.enable_grad():
                loss = closure()
        self._check_groups()                # all groups first: no half-done step on a bad value
        hooks, checked = self._update_hooks, self._checked
        for group in self.param_groups:
            rate = None if hooks else checked[id(group)][3]     # (the group's `_plain_rate`)
            if rate is not None:
                self._plain_step(group["params"], rate)
                continue
            setdefault, scratch, update = self.state.setdefault, self._scratch, self._update
            for p in group["params"]:
                grad = p.grad
                if grad is None:
                    continue
                if hooks:
                    for fn in list(hooks.values()):
                        fn(p)
                    grad = p.grad       # what a hook assigned (gradient, value) is what is used
                    if grad is None:
                        continue
                g = grad.data
                x = p.data
                if g.shape != x.shape:
                    raise ValueError(f"a parameter of shape {x.shape} has a gradient of shape {g.shape}")
                if x.flags.writeable:
                    update(x, g, setdefault(p), group, scratch(x))
                else:
                    # A live graph saved this parameter and made its array read-only: update a
                    # copy and assign it, so that graph's backward reports the change (version check).
                    x = x.copy()
                    update(x, g, setdefault(p), group, scratch(x))
                    p.data = x
        return loss

    def register_update_hook(self, hook: Callable[[ag.Tensor], None]) -> RemovableHandle:
        """Run `hook(param)` in `step()` just before each parameter with a gradient is updated
        (after the closure, if any). Its value and gradient are then in the CPU cache for the
        update anyway: `nn.Monitor` takes their norms there. The update uses the gradient and
        value the hooks leave (one may assign `.grad`, None skips the parameter, or `.data`).
        Returns a handle (`.remove()`)."""
        if not callable(hook):
            raise TypeError(f"an update hook must be callable, got {type(hook).__name__}")
        handle = RemovableHandle(self._update_hooks)
        self._update_hooks[handle.id] = handle._entry = hook
        return handle

    def _check_groups(self) -> None:
        """Validate every group's hyperparameters, skipping a group none of whose values was
        replaced since it last passed (values are compared by identity: a float stored by the
        check stays the same object until the user assigns another). The snapshot keeps the
        group's `_plain_rate` too, which depends on those values only."""
        checked = self._checked
        for group in self.param_groups:
            snap = checked.get(id(group))
            if snap is not None and snap[0] is group and len(snap[1]) == len(group) \
                    and all(map(operator.is_, snap[1], group.values())) and tuple(group) == snap[2]:
                continue
            self._check_group(group)
            checked[id(group)] = (group, tuple(group.values()), tuple(group), self._plain_rate(group))

    def _update(self, x: np.ndarray, g: np.ndarray, state: dict[str, Any], group: dict[str, Any],
                w: np.ndarray) -> None:
        raise NotImplementedError

    def _plain_rate(self, group: dict[str, Any]) -> float | None:
        """The learning rate when the group's update is `x -= g * lr` and keeps no buffers
        (plain SGD), so `_plain_step` may run it; None otherwise (subclasses say when)."""
        return None

    def _plain_step(self, params: list[ag.Tensor], lr: float) -> None:
        """`step`'s loop for a group whose update is `x -= g * lr` (see `_plain_rate`) and with
        no update hooks: the same arithmetic as `_update`'s, with the per-parameter calls
        (state, scratch, update) spelled out."""
        items, views, multiply, subtract = self.state._items, self._views, np.multiply, np.subtract
        dtype: Any = None
        rate: Any = None
        for p in params:
            grad = p.grad
            if grad is None:
                continue
            g = grad.data
            x = p.data
            if g.shape != x.shape:
                raise ValueError(f"a parameter of shape {x.shape} has a gradient of shape {g.shape}")
            if id(p) not in items:
                self.state.setdefault(p)        # an empty state, as `step` gives every parameter
            w = views.get((x.dtype, x.shape))
            if w is None:
                w = self._scratch(x)
            if x.dtype is not dtype:
                dtype = x.dtype
                rate = _rate(lr, dtype)
            if x.flags.writeable:       # (the outputs positionally: `out=` is parsed per call)
                multiply(g, rate, w)
                subtract(x, w, x)
            else:                   # held by a live graph: update a copy (see `step`)
                x = x.copy()
                multiply(g, rate, w)
                subtract(x, w, x)
                p.data = x

    def _scratch(self, x: np.ndarray) -> np.ndarray:
        """A scratch array shaped like `x`: a view into one buffer per dtype, as big as the largest param."""
        key = (x.dtype, x.shape)
        view = self._views.get(key)
        if view is None:
            buf = self._workspace.get(x.dtype)
            if buf is None or buf.size < x.size:
                buf = self._workspace[x.dtype] = np.empty(x.size, x.dtype)
                self._views = {k: v for k, v in self._views.items() if k[0] != x.dtype}
            view = self._views[key] = buf[:x.size].reshape(x.shape)
        return view

    # -- saving and loading --------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """`{"state": {index: {name: copy}}, "param_groups": [{..., "params": [index, ...]}]}`.

        Parameters are numbered by position over all groups in order; arrays are copies.
        """
        index = {id(p): i for i, p in enumerate(self._params())}
        state = {}
        for p, s in self.state.items():
            if id(p) in index and s:
                state[index[id(p)]] = {k: v.copy() if isinstance(v, np.ndarray) else copy.deepcopy(v)
                                       for k, v in s.items()}
        groups = []
        for g in self.param_groups:
            saved = {k: copy.deepcopy(v) for k, v in g.items() if k != "params"}
            saved["params"] = [index[id(p)] for p in g["params"]]
            groups.append(saved)
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore hyperparameters and buffers saved by `state_dict` (buffers are copied).

        The saved groups' `params` lists are matched, in order, to this optimizer's parameters
        (as in PyTorch), so the groups must have the same sizes and the buffers the parameters'
        shapes. Anything that does not fit raises a ValueError (a TypeError for a value of the
        wrong type) saying where, and the optimizer is left unchanged.
        """
        where = f"{type(self).__name__}.load_state_dict"
        saved_groups, saved_state = _check_layout(where, state_dict)
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"{where}: the saved state has {len(saved_groups)} param groups, this "
                             f"optimizer has {len(self.param_groups)}")
        index: dict[Any, ag.Tensor] = {}
        for i, (sg, g) in enumerate(zip(saved_groups, self.param_groups)):
            if len(sg["params"]) != len(g["params"]):
                raise ValueError(f"{where}: param group {i} has {len(g['params'])} parameters, the "
                                 f"saved one {len(sg['params'])}")
            index.update(zip(sg["params"], g["params"]))
        new_groups = []
        for i, (sg, g) in enumerate(zip(saved_groups, self.param_groups)):
            foreign = sorted(set(sg) - set(g) - {"params", "initial_lr"})
            if foreign:
                raise ValueError(f"{where}: saved param group {i} has settings {foreign} that "
                                 f"{type(self).__name__} does not use: was it saved from another "
                                 f"kind of optimizer?")
            new = {**{k: v for k, v in g.items() if k != "params"},
                   **{k: copy.deepcopy(v) for k, v in sg.items() if k != "params"}}
            self._check_group(new)
            new_groups.append(new)
        new_state = [(index[key], _copy_buffers(where, key, index[key], s, type(self)))
                     for key, s in _match_keys(where, saved_state, index)]
        for g, new in zip(self.param_groups, new_groups):
            g.update(new)
        self.state.clear()
        for p, bufs in new_state:
            self.state[p] = bufs

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, g in enumerate(self.param_groups):
            hp = ", ".join(f"{k}={v}" for k, v in g.items() if k != "params")
            lines.append(f"  group {i}: {len(g['params'])} params, {hp}")
        return "\n".join(lines + [")"])


_RATES: dict[tuple, np.ndarray] = {}     # (rate, dtype) -> the rate as a 0-d array of that dtype


def _rate(lr: float, dtype: np.dtype) -> np.ndarray:
    """`lr` as a read-only 0-d array of `dtype`: the value NumPy would convert the float to in
    `g * lr` (it takes the array's dtype), which NumPy otherwise converts at every call (on a
    small parameter the conversion costs as much as the multiplication)."""
    key = (lr, dtype)
    rate = _RATES.get(key)
    if rate is None:
        rate = np.array(lr, dtype=dtype)
        rate.setflags(write=False)
        if len(_RATES) >= 256:      # many learning rates (a schedule): start again
            _RATES.clear()
        _RATES[key] = rate
    return rate


# ---------------------------------------------------------------- checking a saved state

def _check_layout(where: str, sd: Any) -> tuple[list[dict[str, Any]], dict[Any, Any]]:
    """The groups and state of a state_dict, after checking its shape: a dict with exactly
    'state' (a dict of dicts) and 'param_groups' (a list of dicts whose 'params' are ids)."""
    fix = "pass what optimizer.state_dict() returned (e.g. nn.load(path)['optim'] if saved under 'optim')"
    if not isinstance(sd, dict):
        raise TypeError(f"{where}: expected a dict with 'state' and 'param_groups', got a "
                        f"{type(sd).__name__}; {fix}")
    if set(sd) != {"state", "param_groups"}:
        found = ", ".join(repr(k) for k in sd) or "none"
        raise ValueError(f"{where}: an optimizer state_dict has exactly the keys 'state' and "
                         f"'param_groups'; this one has {found}; {fix}")
    groups, state = sd["param_groups"], sd["state"]
    if not isinstance(groups, (list, tuple)) or not all(isinstance(g, dict) for g in groups):
        raise TypeError(f"{where}: 'param_groups' must be a list of dicts, got {type(groups).__name__}")
    if not isinstance(state, dict) or not all(isinstance(v, dict) for v in state.values()):
        raise TypeError(f"{where}: 'state' must be a dict of dicts (parameter id -> buffers)")
    seen: set[Any] = set()
    for i, g in enumerate(groups):
        ids = g.get("params")
        if not isinstance(ids, (list, tuple)):
            raise ValueError(f"{where}: saved param group {i} has no 'params' list of parameter ids")
        for pid in ids:
            if isinstance(pid, bool) or not isinstance(pid, (int, np.integer, str)) or pid in seen:
                raise ValueError(f"{where}: saved param group {i} has a bad or repeated parameter "
                                 f"id {pid!r}")
            seen.add(pid)
    return list(groups), state


def _match_keys(where: str, state: dict[Any, Any], index: dict[Any, ag.Tensor]) -> list[tuple[Any, Any]]:
    """Each saved state entry with the parameter id it belongs to (`"3"` matches id 3 too)."""
    out = []
    for key, s in state.items():
        k = key
        if k not in index and isinstance(k, str) and k.isdigit() and int(k) in index:
            k = int(k)
        if k not in index:
            raise ValueError(f"{where}: the saved state has buffers for parameter id {key!r}, which "
                             f"no saved param group lists")
        out.append((k, s))
    return out


def _check_schema(where: str, key: Any, p: ag.Tensor, s: dict[str, Any],
                  schema: dict[str, str], together: tuple[tuple[str, ...], ...]) -> dict[str, Any]:
    """`s` with each buffer checked against `schema` (see `Optimizer._buffers`): a state from
    another kind of optimizer or a damaged file is refused here, not at the next step (or, for
    an unknown name, silently ignored while the buffers restart from zero)."""
    unknown = sorted(map(str, set(s) - set(schema)))
    if unknown:
        raise ValueError(f"{where}: the saved state of parameter {key} has buffers {unknown}, "
                         f"which this optimizer does not keep (it keeps {sorted(schema)}): was it "
                         f"saved from another kind of optimizer?")
    for names in together:
        have = [n for n in names if n in s]
        if have and len(have) != len(names):
            raise ValueError(f"{where}: the saved state of parameter {key} has {have} but not "
                             f"{[n for n in names if n not in s]}; they are saved together")
    out = dict(s)
    for name, v in s.items():
        if schema[name] == "count":
            ok = isinstance(v, (int, np.integer, np.floating, np.ndarray)) and not isinstance(v, bool) \
                and np.ndim(v) == 0 and np.asarray(v).dtype.kind in "iuf"
            if not ok or not float(v) >= 0 or not float(v).is_integer():
                raise TypeError(f"{where}: saved buffer {name!r} of parameter {key} must be a "
                                f"count (an int >= 0), got {v!r}")
            out[name] = int(v)
        elif not isinstance(v, np.ndarray):
            raise TypeError(f"{where}: saved buffer {name!r} of parameter {key} must be an array "
                            f"of the parameter's shape {p.shape}, got a {type(v).__name__}")
    return out


def _copy_buffers(where: str, key: Any, p: ag.Tensor, s: dict[str, Any],
                  optimizer: type[Optimizer] | None = None) -> dict[str, Any]:
    arrays: set[str] = set()
    if optimizer is not None and optimizer._buffers is not None:
        s = _check_schema(where, key, p, s, optimizer._buffers, optimizer._together)
        arrays = {n for n, kind in optimizer._buffers.items() if kind == "array"}
    bufs = {}
    for name, v in s.items():
        if isinstance(v, np.ndarray) and (v.ndim > 0 or name in arrays):
            if v.shape != p.shape:
                raise ValueError(f"{where}: saved buffer {name!r} of parameter {key} has shape "
                                 f"{v.shape}, the parameter has shape {p.shape}")
            if v.dtype.kind not in "biufc":
                raise TypeError(f"{where}: saved buffer {name!r} of parameter {key} has dtype {v.dtype}")
            v = np.array(v, dtype=p.dtype, copy=True)
        else:
            v = copy.deepcopy(v)
        bufs[name] = v
    return bufs
