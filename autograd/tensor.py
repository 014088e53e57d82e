"""The Tensor type, grad mode, and the functions that create tensors."""

from __future__ import annotations

import builtins
import functools
import inspect
import itertools
import operator
import threading
import warnings
import weakref
from typing import TYPE_CHECKING, Any, Callable, Iterator

import numpy as np

from .protection import shared

__all__ = [
    "Tensor", "tensor", "zeros", "ones", "empty", "full", "zeros_like", "ones_like", "arange",
    "randn", "rand", "manual_seed", "set_default_dtype", "get_default_dtype",
    "no_grad", "enable_grad", "is_grad_enabled", "get_rng", "scope",
]


# ---------------------------------------------------------------- grad mode and observers

# What an operation does, read in one lookup (`STATE.recording`), kept in step with the switches
# below by their setters:
RECORD = 1              # grad mode on: record a node when an input requires grad
RECORD_SCOPED = 2       # the same, and each node gets the scope labels (a module's, nobody watching)
RECORD_OBSERVED = 3     # the same, and each node goes to the observers too
OFF = 0                 # grad mode off (no_grad): record nothing
OFF_OBSERVED = -1       # off, and the observers still see each output (detect_anomaly checks it)


class Observer:
    """Something that watches the graph being built and walked: `record_values`,
    `record_grad_norms`, `detect_anomaly`, `explain_backward` (Chainer's function hooks are the
    model). A subclass overrides what it needs; `with observer:` installs it on this thread,
    after the observers installed already (they are called first), until the block ends."""

    def recorded(self, node: Any, out: np.ndarray, inputs: tuple, attrs: dict | None = None) -> None:
        """A node was recorded: `out` is the operation's output array, `inputs` its operands,
        `attrs` the operation's arguments beyond its operands (axis, keepdims, index key, ...)
        where it passes them, else None (the ONNX tracer reads them)."""

    def unrecorded(self, name: str, out: np.ndarray) -> None:
        """Operation `name` gave `out` and recorded no node (no_grad, or no input needs grad)."""

    def backward(self, node: Any, g: Any, grads: Any) -> None:
        """`node` ran in a backward pass: `g` is the gradient that reached its output, `grads`
        what it sent to each input, already reduced to that input's shape and dtype (None where
        nothing was sent; `()` for a leaf)."""

    def __enter__(self) -> Any:
        STATE.observers = STATE.observers + (self,)
        return self

    def __exit__(self, *exc: object) -> None:
        # the innermost entry only: the observer may be entered again inside its own block
        observers = STATE.observers
        last = max((i for i, o in enumerate(observers) if o is self), default=None)
        if last is not None:
            STATE.observers = observers[:last] + observers[last + 1:]


def _overrides(observer: Observer, *methods: str) -> bool:
    return any(getattr(type(observer), m) is not getattr(Observer, m) for m in methods)


def _switch(name: str) -> property:
    """A switch of `_ThreadState` stored as `_name`; setting it updates the summaries."""
    private = "_" + name

    def set_switch(state: _ThreadState, value: Any) -> None:
        setattr(state, private, value)
        state._sync()
    return property(operator.attrgetter(private), set_switch)


class _ThreadState(threading.local):
    """Per-thread switches, and what the engine reads of them: `recording` (a mode above) for
    each operation, `backward_observers` for each backward pass."""

    _enabled = True     # grad mode
    _scope: tuple = ()  # scope labels (e.g. Modules) given to new nodes, for draw_graph clusters
    _observers: tuple = ()      # the installed Observers, outermost first
    _watching = False   # whether one of them overrides `recorded` or `unrecorded`
    recording = RECORD
    backward_observers: tuple = ()      # the observers that override `Observer.backward`

    def _sync(self) -> None:
        # cheap: it runs twice per Module call (the module's scope); what depends on the
        # observers is worked out when they change (`_set_observers`)
        if self._enabled:
            self.recording = RECORD_OBSERVED if self._watching else \
                RECORD_SCOPED if self._scope else RECORD
        else:
            self.recording = OFF_OBSERVED if self._watching else OFF

    def _set_observers(self, observers: tuple) -> None:
        self._observers = observers
        self._watching = any(_overrides(o, "recorded", "unrecorded") for o in observers)
        self.backward_observers = tuple(o for o in observers if _overrides(o, "backward"))
        self._sync()

    enabled = _switch("enabled")
    scope = _switch("scope")
    observers = property(operator.attrgetter("_observers"), _set_observers)


STATE = _ThreadState()
CLOCK = itertools.count(1)  # numbers graph nodes in creation order and dates .data replacements
MUTATIONS = [0]     # the CLOCK time of the last .data replacement (lets backward skip version checks)


class _GradMode:
    """Base of `no_grad` / `enable_grad`: a context manager and a decorator, with or without
    parentheses (`@ag.no_grad()`, `@ag.no_grad`); a decorated generator runs each step in the mode."""

    mode = True
    _prevs: dict[int, list[bool]]   # thread id -> the modes to restore, one per open entry

    def __new__(cls, fn: Callable | None = None) -> Any:
        if fn is not None:                  # `@ag.no_grad` without parentheses
            return cls()(fn)
        return super().__new__(cls)

    def __enter__(self) -> None:
        # one saved mode per entry and thread: the object may be entered nested or by threads
        prevs = self.__dict__.setdefault("_prevs", {})
        prevs.setdefault(threading.get_ident(), []).append(STATE.enabled)
        STATE.enabled = self.mode

    def __exit__(self, *exc: object) -> None:
        stack = self._prevs[threading.get_ident()]
        STATE.enabled = stack.pop()
        if not stack:
            del self._prevs[threading.get_ident()]

    def __call__(self, fn: Callable) -> Callable:
        if not callable(fn):
            raise TypeError(f"{type(self).__name__} decorates a function, got {type(fn).__name__}")
        switch = type(self)
        if inspect.isgeneratorfunction(fn):
            @functools.wraps(fn)
            def generator(*args: Any, **kwargs: Any) -> Any:
                try:
                    with switch():
                        gen = fn(*args, **kwargs)
                        value = next(gen)
                    while True:         # each resumption runs in the mode too
                        try:
                            sent = yield value
                        except GeneratorExit:
                            with switch():
                                gen.close()
                            raise
                        except BaseException as exc:    # passed on to the generator
                            with switch():
                                value = gen.throw(exc)
                            continue
                        with switch():
                            value = gen.send(sent)
                except StopIteration as stop:
                    return stop.value
            return generator

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with switch():
                return fn(*args, **kwargs)
        return wrapper


class no_grad(_GradMode):
    """Operations inside record nothing: `with ag.no_grad(): ...` or `@ag.no_grad()`."""

    mode = False


class enable_grad(_GradMode):
    """Turns recording back on inside a `no_grad` block."""

    mode = True


class scope:
    """Label the operations recorded inside, e.g. with the Module that runs them.

    `draw_graph` draws the operations of one scope inside one cluster. Scopes nest:
    `with ag.scope(model): with ag.scope(layer): ...`.
    """

    __slots__ = ("label",)

    def __init__(self, label: Any) -> None:
        self.label = label

    def __enter__(self) -> scope:
        # `STATE.scope = STATE.scope + (label,)` without the property (twice per Module call)
        state = STATE
        state._scope = state._scope + (self.label,)
        if state.recording == RECORD:       # what `_sync` gives with a scope open (grad mode on,
            state.recording = RECORD_SCOPED     # nobody watching; otherwise the mode stays)
        return self

    def __exit__(self, *exc: object) -> None:
        # this thread's labels end with this entry's (the object may be entered nested or by
        # several threads: nothing is kept on it), unless a scope entered inside was left open
        state = STATE
        labels = state._scope
        if labels and labels[-1] is self.label:
            labels = state._scope = labels[:-1]
            if state.recording == RECORD_SCOPED:     # `state._sync()`, inlined (twice per
                if not labels:                          # Module call)
                    state.recording = RECORD
            else:
                state._sync()
            return
        for i in range(len(labels) - 2, -1, -1):
            if labels[i] is self.label:
                STATE.scope = labels[:i]
                return


def is_grad_enabled() -> bool:
    """Whether operations on this thread are being recorded."""
    return STATE.enabled


# ---------------------------------------------------------------- dtypes and randomness

_default_dtype = np.dtype(np.float32)
_rng = np.random.default_rng()


def set_default_dtype(dtype: Any) -> None:
    """Set the float dtype used for Python floats and random tensors."""
    global _default_dtype
    if dtype is None:
        raise TypeError("default dtype must be a floating dtype such as np.float32, got None")
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"default dtype must be a floating dtype, got {dtype}")
    _default_dtype = dtype


def get_default_dtype() -> np.dtype:
    """The float dtype used for Python floats and random tensors (float32 unless changed)."""
    return _default_dtype


def manual_seed(seed: int) -> None:
    """Reseed the global generator used by everything random (init, shuffling)."""
    global _rng
    _rng = np.random.default_rng(seed)


def get_rng(rng: np.random.Generator | int | None = None) -> np.random.Generator:
    """Resolve `rng`: a Generator as is, an int as a seed, None as the global generator."""
    if rng is None:
        return _rng
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)):
        return np.random.default_rng(int(rng))
    raise TypeError(f"rng must be a numpy.random.Generator, an int seed or None, got {type(rng).__name__}")


def _as_array(data: Any, dtype: Any = None, copy: bool = False) -> np.ndarray:
    """Convert user data to an ndarray: Python floats become the default dtype."""
    if isinstance(data, Tensor):
        data = data.data        # an operation's output comes read-only, as its `.data` does
    if isinstance(data, np.ndarray):
        if data.dtype.kind not in "biufc":
            raise TypeError(
                f"cannot make a tensor from an array of dtype {data.dtype}: tensors hold numbers; "
                f"convert it first, e.g. arr.astype(np.float32)")
        if type(data) is not np.ndarray:        # a memmap, a matrix: its memory as an ndarray
            data = data.view(np.ndarray)
        arr = data.astype(dtype, copy=copy) if dtype is not None else data.copy() if copy else data
        if arr.base is not None:
            shared(arr)
        return arr
    if isinstance(data, np.generic):
        return np.array(data, dtype=dtype)
    arr = np.array(data, dtype=dtype)
    if dtype is None and arr.dtype == np.float64:
        arr = arr.astype(_default_dtype)
    if arr.dtype.kind not in "biufc":
        what = "integers too large for int64" if arr.dtype == object and _big_int(data) else \
            f"{type(data).__name__} data (nested data must be numbers)"
        raise TypeError(f"cannot make a tensor from {what}")
    return arr


def _big_int(data: Any) -> bool:
    return isinstance(data, int) or (isinstance(data, (list, tuple)) and any(map(_big_int, data)))


def _check_grad_dtype(dtype: np.dtype) -> None:
    if dtype.kind == "c":
        raise TypeError(
            f"complex tensors cannot require grad ({dtype}): chainrule differentiates real "
            f"functions only (complex gradients follow conventions that differ between "
            f"libraries); split the value into real and imaginary float tensors")
    if dtype.kind != "f":
        raise TypeError(
            f"only floating-point tensors can require grad, this one is {dtype}; "
            f"convert it first, e.g. ag.tensor(data, dtype=np.float32, requires_grad=True)"
        )


# ---------------------------------------------------------------- Tensor

class Tensor:
    """An ndarray that records the operations applied to it.

    `data` is the value, `grad` the accumulated gradient (a Tensor or None), `requires_grad`
    whether operations on it are recorded, `name` the label shown by `draw_graph`.
    """

    __slots__ = {"_data": None, "_node": None, "_leaf": None, "_requires_grad": None, "_grad": None,
                 "_version": None, "__weakref__": None,
                 "name": "The label `draw_graph` and error messages show (None: the shape)."}
    __array_priority__ = 1000

    def __init__(self, data: Any, requires_grad: bool = False, name: str | None = None,
                 dtype: Any = None) -> None:
        self._data = _as_array(data, dtype)
        self._node: Any = None  # the Node that produced this tensor (None for a leaf)
        self._leaf: Any = None  # the gradient-accumulating Node of a leaf, made on first use
        self._grad: Tensor | None = None
        self.name = name
        self._version = 0       # when `data` was last replaced (a CLOCK time)
        self._requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    # -- value -------------------------------------------------------------------------

    @property
    def data(self) -> np.ndarray:
        """The value. Assigning replaces it unrecorded. Writing into it is refused while a graph
        saved it, and always for an operation's output (which a graph may read: write into a
        copy); a leaf's array is writable again once no graph holds it."""
        arr = self._data
        if self._node is not None and arr.flags.writeable:
            arr.setflags(write=False)
        return arr

    @data.setter
    def data(self, value: Any) -> None:
        value = _as_array(value)
        MUTATIONS[0] = self._version = next(CLOCK)  # later than every node that saved the old value
        node = self._node
        if node is not None and node.ans is not None:
            node.set_meta("ans_stale", True)
        self._data = value      # the old array stays locked while a graph holds it

    @property
    def grad(self) -> Tensor | None:
        """The gradient accumulated by backward (None until one reaches this tensor). Only leaves
        get one, and the non-leaf tensors `retain_grad()` was called on."""
        g = self._grad
        if g is None and self._node is not None:
            _warn_non_leaf_grad(self._node)
        return g

    @grad.setter
    def grad(self, value: Tensor | None) -> None:
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"grad must be a Tensor or None, got {type(value).__name__}; "
                                f"wrap an array with ag.tensor(...)")
            if value._data.shape != self._data.shape or value._data.dtype != self._data.dtype:
                if value._data.shape == self._data.shape and \
                        value._data.dtype.newbyteorder("=") == self._data.dtype.newbyteorder("="):
                    # the byte order only: NumPy's arithmetic on a big-endian array gives native
                    # order (a sum of a big-endian leaf's gradients does): the same values
                    self._grad = value.astype(self._data.dtype)
                    return
                raise ValueError(f"grad must match the tensor: it has shape {value.shape} and dtype "
                                 f"{value.dtype}, the tensor {self.shape} and {self.dtype}")
        self._grad = value

    @property
    def shape(self) -> tuple[int, ...]:
        """The size of each dimension, a tuple (PyTorch's `t.size()` and `t.shape`)."""
        return self._data.shape

    @property
    def ndim(self) -> int:
        """The number of dimensions."""
        return self._data.ndim

    @property
    def dtype(self) -> np.dtype:
        """The NumPy dtype of the value."""
        return self._data.dtype

    @property
    def size(self) -> int:
        """The number of elements, an int (NumPy's). Calling it as PyTorch's `t.size()` raises a
        TypeError that points to `t.shape`."""
        return _Size(self._data.size)

    @property
    def is_leaf(self) -> bool:
        """True for tensors made by the user rather than by a recorded operation."""
        return self._node is None

    @property
    def grad_fn(self) -> Any:
        """The Node that produced this tensor, or None for a leaf."""
        return self._node

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self._data)

    def numpy(self) -> np.ndarray:
        """The value as an ndarray (the same array, not a copy)."""
        return self.data

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        if self._requires_grad and STATE.enabled:
            raise TypeError(
                f"cannot convert a tensor that requires grad ({_describe_short(self)}) to a NumPy "
                f"array implicitly (np.array, np.asarray, np.array([t, ...])): the result would "
                f"silently drop its gradient. Use t.detach() or t.numpy() for the values, or build "
                f"the array with ag operations (ag.stack([t, ...])) to keep the gradient")
        arr = self.data
        if dtype is not None and arr.dtype != dtype:
            if copy is False:
                raise ValueError(f"Unable to avoid copy while converting a {arr.dtype} tensor to {dtype}")
            return arr.astype(dtype)
        return arr.copy() if copy else arr

    def item(self) -> Any:
        """The value of a one-element tensor as a Python number."""
        if self._data.size != 1:
            raise ValueError(f"item() needs a tensor with one element, this one has shape {self.shape}")
        return self._data.item()

    def tolist(self) -> Any:
        """The value as (nested lists of) Python numbers."""
        return self._data.tolist()

    def detach(self) -> Tensor:
        """A new leaf sharing this value, cut from the graph (an operation's output stays
        read-only through it: `.data` explains)."""
        return Tensor(self.data)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set `requires_grad` in place (leaves only); returns self."""
        self.requires_grad = requires_grad
        return self

    def _set_requires_grad(self, requires_grad: bool) -> None:
        if requires_grad:
            if self._data.dtype.kind != "f":
                _check_grad_dtype(self._data.dtype)
        elif self._node is not None:
            raise RuntimeError("requires_grad can only be switched off on a leaf; use t.detach() instead")
        self._requires_grad = requires_grad is True or bool(requires_grad)

    # read through a C getter (the engine reads the slot `_requires_grad` directly)
    requires_grad = property(operator.attrgetter("_requires_grad"), _set_requires_grad, doc=(
        "Whether operations on this tensor are recorded. Assigning it checks as "
        "`requires_grad_` does: only a float leaf can switch it (an operation's output cannot)."))

    def backward(self, grad: Any = None, retain_graph: bool = False, create_graph: bool = False) -> None:
        """Accumulate d self / d leaf into `leaf.grad` for every leaf that requires grad."""
        _engine.backward((self,), None if grad is None else (grad,), retain_graph, create_graph)

    def register_hook(self, fn: Callable[[Tensor], Tensor | None]) -> Any:
        """Run `fn(grad)` when this tensor's gradient is computed; a returned Tensor replaces it."""
        handle = _engine.register_hook(self, fn)
        node = self._node
        if node is not None and node.meta.get("retain_grad") is not None:
            hooks = node.meta["hooks"]      # the retained .grad is the gradient after every hook
            hooks.append(hooks.pop(hooks.index(node.meta["retain_grad"])))
        return handle

    def retain_grad(self) -> None:
        """Keep this non-leaf tensor's gradient in `.grad` after backward, adding up over
        backward passes as a leaf's does (for a leaf, which keeps it anyway, nothing to do)."""
        node = self._node
        if node is None:
            if not self.requires_grad:
                raise RuntimeError("retain_grad() needs a tensor that requires grad; this leaf does not")
            return
        if node.meta is not None and node.meta.get("retain_grad") is not None:
            return
        ref = weakref.ref(self)

        def keep(grad: Tensor) -> None:
            t = ref()
            if t is not None:
                g = grad if grad._node is not None else _new(np.array(grad._data))    # own copy
                t._grad = g if t._grad is None else t._grad + g
        _engine.register_hook(self, keep)
        node.meta["retain_grad"] = keep

    @property
    def retains_grad(self) -> bool:
        """Whether `retain_grad()` was called on this non-leaf tensor."""
        node = self._node
        return node is not None and node.meta is not None and node.meta.get("retain_grad") is not None

    def __repr__(self) -> str:
        body = np.array2string(self._data, separator=", ", prefix="tensor(")
        extra = []
        if self._data.size == 0:
            extra.append(f"shape={self.shape}")
        if self._data.dtype != _default_dtype:
            extra.append(f"dtype={self._data.dtype}")
        if self._node is not None:
            extra.append(f"grad_fn=<{self._node.name}>")
        elif self.requires_grad:
            extra.append("requires_grad=True")
        if self.name:
            extra.append(f"name={self.name!r}")
        return "tensor(" + body + "".join(", " + e for e in extra) + ")"

    def __bool__(self) -> bool:
        return bool(self._data)

    def __float__(self) -> float:
        return float(self._data)

    def __format__(self, spec: str) -> str:
        """A one-element tensor formats as its number (`f"{loss:.3f}"`), others as repr."""
        if spec and self._data.size == 1:
            return format(self._data.item(), spec)
        return format(repr(self), spec)

    def __round__(self, ndigits: int | None = None) -> Any:
        if self._data.size != 1:
            raise TypeError(f"round() needs a tensor with one element, this one has shape {self.shape}")
        return round(self._data.item(), ndigits)

    def __int__(self) -> int:
        return int(self._data)

    def __index__(self) -> int:
        return self._data.__index__()

    def __iter__(self) -> Iterator[Tensor]:
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(len(self._data)))

    __hash__ = object.__hash__

    def __reduce_ex__(self, protocol: Any) -> tuple:
        """Pickling and copy/deepcopy: a leaf's value, requires_grad, name and grad, without its
        graph bookkeeping (as PyTorch, only leaves can be copied)."""
        if self._node is not None:
            raise RuntimeError(
                f"only leaf tensors can be copied or pickled; this one was made by "
                f"'{self._node.name}': copy t.detach() instead")
        return _rebuild, (type(self), self._data, self.requires_grad, self.name, self._grad)

    def __copy__(self) -> Tensor:
        """`copy.copy` of a leaf: an independent leaf, as `deepcopy` gives. The value and `.grad`
        are copied, so a backward into the copy cannot accumulate into this tensor's `.grad`
        (the same object otherwise), nor an update of one change the other's value."""
        fn, (cls, data, requires_grad, name, grad) = self.__reduce_ex__(4)
        if grad is not None:
            grad = _rebuild(type(grad), grad._data.copy(), False, grad.name, None)
        return fn(cls, data.copy(), requires_grad, name, grad)

    if TYPE_CHECKING:
        # Declarations for type checkers only (never run): the operators and methods that
        # autograd/ops.py and autograd/aliases.py attach to Tensor when they are imported, with
        # the signatures of the functions they are. `t[i] = v` is left undeclared on purpose:
        # Tensor.__setitem__ always raises, so a type checker should flag it.
        # -- arithmetic (ops.add, ops.subtract, ...), reflected and in place
        def __add__(self, other: Any) -> Tensor: ...
        def __radd__(self, other: Any) -> Tensor: ...
        def __iadd__(self, other: Any) -> Tensor: ...
        def __sub__(self, other: Any) -> Tensor: ...
        def __rsub__(self, other: Any) -> Tensor: ...
        def __isub__(self, other: Any) -> Tensor: ...
        def __mul__(self, other: Any) -> Tensor: ...
        def __rmul__(self, other: Any) -> Tensor: ...
        def __imul__(self, other: Any) -> Tensor: ...
        def __truediv__(self, other: Any) -> Tensor: ...
        def __rtruediv__(self, other: Any) -> Tensor: ...
        def __itruediv__(self, other: Any) -> Tensor: ...
        def __floordiv__(self, other: Any) -> Tensor: ...
        def __rfloordiv__(self, other: Any) -> Tensor: ...
        def __mod__(self, other: Any) -> Tensor: ...
        def __rmod__(self, other: Any) -> Tensor: ...
        def __pow__(self, other: Any) -> Tensor: ...
        def __rpow__(self, other: Any) -> Tensor: ...
        def __matmul__(self, other: Any) -> Tensor: ...
        def __rmatmul__(self, other: Any) -> Tensor: ...
        def __neg__(self) -> Tensor: ...
        def __pos__(self) -> Tensor: ...
        def __abs__(self) -> Tensor: ...
        def __invert__(self) -> Tensor: ...
        # -- comparisons and logic: elementwise, a bool Tensor
        def __lt__(self, other: Any) -> Tensor: ...
        def __le__(self, other: Any) -> Tensor: ...
        def __gt__(self, other: Any) -> Tensor: ...
        def __ge__(self, other: Any) -> Tensor: ...
        def __eq__(self, other: Any) -> Tensor: ...  # type: ignore[override]
        def __ne__(self, other: Any) -> Tensor: ...  # type: ignore[override]
        def __and__(self, other: Any) -> Tensor: ...
        def __or__(self, other: Any) -> Tensor: ...
        # -- indexing (ops.getitem) and the NumPy protocols
        def __getitem__(self, key: Any) -> Tensor: ...
        def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any: ...
        def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any: ...
        # -- reductions: NumPy's axis / keepdims / ddof, PyTorch's dim / keepdim / correction
        def sum(self, axis: Any = ..., keepdims: bool = ..., *, dim: Any = ...,
                keepdim: bool = ...) -> Tensor: ...
        def mean(self, axis: Any = ..., keepdims: bool = ..., *, dim: Any = ...,
                 keepdim: bool = ...) -> Tensor: ...
        def max(self, axis: Any = ..., keepdims: bool = ..., *, dim: Any = ...,
                keepdim: bool = ...) -> Tensor: ...
        def min(self, axis: Any = ..., keepdims: bool = ..., *, dim: Any = ...,
                keepdim: bool = ...) -> Tensor: ...
        def logsumexp(self, axis: Any = ..., keepdims: bool = ..., *, dim: Any = ...,
                      keepdim: bool = ...) -> Tensor: ...
        def argmax(self, axis: Any = ..., keepdims: bool = ..., *, dim: Any = ...,
                   keepdim: bool = ...) -> Tensor: ...
        def argmin(self, axis: Any = ..., keepdims: bool = ..., *, dim: Any = ...,
                   keepdim: bool = ...) -> Tensor: ...
        def var(self, axis: Any = ..., ddof: int = ..., keepdims: bool = ..., *, dim: Any = ...,
                keepdim: bool = ..., correction: int = ...) -> Tensor: ...
        def std(self, axis: Any = ..., ddof: int = ..., keepdims: bool = ..., *, dim: Any = ...,
                keepdim: bool = ..., correction: int = ...) -> Tensor: ...
        def softmax(self, axis: int = ..., *, dim: int = ...) -> Tensor: ...
        def log_softmax(self, axis: int = ..., *, dim: int = ...) -> Tensor: ...
        # -- shape
        @property
        def T(self) -> Tensor: ...  # noqa: N802
        def reshape(self, *shape: Any) -> Tensor: ...
        def view(self, *shape: Any) -> Tensor: ...
        def transpose(self, *axes: Any) -> Tensor: ...
        def permute(self, *axes: Any) -> Tensor: ...
        def t(self) -> Tensor: ...
        def swapaxes(self, axis1: int, axis2: int) -> Tensor: ...
        def expand_dims(self, axis: Any = ..., *, dim: Any = ...) -> Tensor: ...
        def unsqueeze(self, axis: Any = ..., *, dim: Any = ...) -> Tensor: ...
        def squeeze(self, axis: Any = ..., *, dim: Any = ...) -> Tensor: ...
        def flatten(self) -> Tensor: ...
        def broadcast_to(self, shape: Any) -> Tensor: ...
        def split(self, indices_or_sections: Any, axis: int = ...) -> list[Tensor]: ...
        # -- elementwise
        def exp(self) -> Tensor: ...
        def log(self) -> Tensor: ...
        def log10(self) -> Tensor: ...
        def log2(self) -> Tensor: ...
        def sqrt(self) -> Tensor: ...
        def sin(self) -> Tensor: ...
        def cos(self) -> Tensor: ...
        def tanh(self) -> Tensor: ...
        def sigmoid(self) -> Tensor: ...
        def relu(self) -> Tensor: ...
        def softplus(self) -> Tensor: ...
        def leaky_relu(self, negative_slope: builtins.float = ...) -> Tensor: ...
        def abs(self) -> Tensor: ...
        def clip(self, a_min: Any = ..., a_max: Any = ...) -> Tensor: ...
        def maximum(self, other: Any) -> Tensor: ...
        def minimum(self, other: Any) -> Tensor: ...
        # -- linear algebra
        def matmul(self, other: Any) -> Tensor: ...
        def dot(self, other: Any) -> Tensor: ...
        def affine(self, weight: Any, bias: Any = ..., activation: str | None = ...) -> Tensor: ...
        # -- dtype, copies, sizes (aliases.py: PyTorch's spellings)
        def astype(self, dtype: Any) -> Tensor: ...
        def float(self) -> Tensor: ...
        def double(self) -> Tensor: ...
        def clone(self) -> Tensor: ...
        def zero_(self) -> Tensor: ...
        def numel(self) -> int: ...
        def nelement(self) -> int: ...


class _Size(int):
    """`Tensor.size`: NumPy's element count, an int; calling it, as PyTorch's `t.size()`,
    raises a TypeError that says what to write instead."""

    __slots__ = ()

    def __call__(self, dim: int | None = None) -> Any:
        which = "t.shape for the dimensions" if dim is None else f"t.shape[{dim}] for that dimension"
        raise TypeError(
            f"t.size is NumPy's element count (here {int(self)}), an int, not PyTorch's size(): "
            f"use {which}, or t.numel() for the number of elements")

    def __reduce__(self) -> tuple:
        return int, (int(self),)        # pickled, copied and sent to other processes as an int


def _warn_non_leaf_grad(node: Any) -> None:
    """PyTorch's warning when `.grad` of a non-leaf tensor is read: once per tensor."""
    meta = node.meta
    if meta is not None and (meta.get("retain_grad") is not None or meta.get("grad_read")):
        return
    node.set_meta("grad_read", True)
    warnings.warn(
        "the .grad of a tensor that is not a leaf was read: backward does not fill it, so it is "
        "None. Call t.retain_grad() on it before backward() to keep its gradient (or read the "
        "gradient of a leaf).", UserWarning, stacklevel=3)


def _rebuild(cls: type[Tensor], data: np.ndarray, requires_grad: bool, name: str | None,
             grad: Tensor | None) -> Tensor:
    """A leaf like the one `Tensor.__reduce_ex__` described (its array writable, as a copy's)."""
    t = cls.__new__(cls)
    Tensor.__init__(t, data if data.flags.writeable else data.copy(), requires_grad, name)
    t._grad = grad
    return t


_engine: Any = None     # the engine module; it sets this when imported (it imports this module)


_NDARRAY = np.ndarray      # one global lookup in `_new`, the hottest function


def _describe_short(t: Tensor) -> str:
    return f"{t.name!r}, shape {t.shape}" if t.name else f"shape {t.shape}"


def _new(data: np.ndarray, node: Any = None) -> Tensor:
    """Fast constructor for operation outputs: no copy; a NumPy scalar (which NumPy gives for
    a 0-d result) becomes a 0-d array, so every Tensor's `.data` is an ndarray."""
    if type(data) is not _NDARRAY:
        data = np.asarray(data)
    t = Tensor.__new__(Tensor)
    t._data = data
    t._node = node
    t._leaf = None
    t._requires_grad = node is not None
    t._grad = None
    t.name = None
    t._version = 0
    return t


# ---------------------------------------------------------------- creation functions

def tensor(data: Any, dtype: Any = None, requires_grad: bool = False, name: str | None = None) -> Tensor:
    """A new tensor holding a copy of `data` (Python floats become the default dtype)."""
    return Tensor(_as_array(data, dtype, copy=True), requires_grad=requires_grad, name=name)


def _shape(shape: Any, what: str = "shape") -> tuple[int, ...]:
    """A shape given as an int or a sequence of ints, checked: non-negative integers only."""
    if isinstance(shape, Tensor):
        shape = shape._data
    if isinstance(shape, np.ndarray):
        shape = shape.tolist()
    dims = tuple(shape) if isinstance(shape, (tuple, list)) else (shape,)
    for d in dims:
        if isinstance(d, (bool, np.bool_)) or not isinstance(d, (int, np.integer)) or d < 0:
            where = "" if dims == (shape,) else f" (its entry {d!r} is not)"
            raise TypeError(f"{what} must be a non-negative integer or a sequence of them, "
                            f"got {shape!r}{where}")
    return tuple(int(d) for d in dims)


def _float_dtype(dtype: Any) -> np.dtype:
    return _default_dtype if dtype is None else np.dtype(dtype)


def _random_dtype(dtype: Any) -> np.dtype:
    dtype = _float_dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"random values need a floating dtype, got {dtype}")
    return dtype


def _factory_args(what: str, shape: Any, sizes: tuple, dtype: Any, requires_grad: bool) -> tuple:
    """(shape, dtype, requires_grad) of `zeros(shape, *sizes, ...)`: the shape as integers
    (`zeros(2, 3)`) or one sequence (`zeros((2, 3))`), which the documented signature
    `zeros(shape, dtype=None, requires_grad=False)` may follow positionally."""
    args = (shape, *sizes)
    n = 0
    while n < len(args) and isinstance(args[n], (int, np.integer)) and not isinstance(args[n], bool):
        n += 1
    shape, rest = (args[:n], args[n:]) if n else (args[0], args[1:])
    if len(rest) > 2:
        raise TypeError(f"{what}() takes a shape, then at most dtype and requires_grad; got "
                        f"{len(rest)} more arguments: {rest!r}")
    if rest:
        dtype = rest[0]
    if len(rest) == 2:
        requires_grad = rest[1]
    return _shape(shape), _float_dtype(dtype), requires_grad


def zeros(shape: Any, *sizes: int, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros: `ag.zeros(2, 3)` or `ag.zeros((2, 3))`, the default float dtype
    unless `dtype` is given."""
    shape, dtype, requires_grad = _factory_args("zeros", shape, sizes, dtype, requires_grad)
    return Tensor(np.zeros(shape, dtype), requires_grad=requires_grad)


def ones(shape: Any, *sizes: int, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of ones: `ag.ones(2, 3)` or `ag.ones((2, 3))`, the default float dtype unless
    `dtype` is given."""
    shape, dtype, requires_grad = _factory_args("ones", shape, sizes, dtype, requires_grad)
    return Tensor(np.ones(shape, dtype), requires_grad=requires_grad)


def empty(shape: Any, *sizes: int, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor whose values are whatever the memory held (as np.empty and torch.empty):
    `ag.empty(2, 3)` or `ag.empty((2, 3))`, the default float dtype unless `dtype` is given."""
    shape, dtype, requires_grad = _factory_args("empty", shape, sizes, dtype, requires_grad)
    return Tensor(np.empty(shape, dtype), requires_grad=requires_grad)


def full(shape: Any, value: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of `shape` (an int or a tuple) filled with `value`: a Python float gives the
    default dtype, a NumPy number keeps its own."""
    if dtype is None:
        dtype = _default_dtype if type(value) is float else np.asarray(value).dtype
    return Tensor(np.full(_shape(shape), value, dtype), requires_grad=requires_grad)


def zeros_like(t: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Zeros of `t`'s shape and dtype (or `dtype`)."""
    return Tensor(np.zeros_like(_as_array(t), dtype=dtype), requires_grad=requires_grad)


def ones_like(t: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Ones of `t`'s shape and dtype (or `dtype`)."""
    return Tensor(np.ones_like(_as_array(t), dtype=dtype), requires_grad=requires_grad)


def arange(start: Any = None, stop: Any = None, step: Any = None, *, dtype: Any = None,
           requires_grad: bool = False) -> Tensor:
    """As `np.arange(start, stop, step, dtype=...)` (`arange(n)` counts 0..n-1); float arguments
    give the default float dtype."""
    if start is None and stop is None:
        raise TypeError("arange needs stop: arange(stop), arange(start, stop[, step]) or "
                        "arange(start=..., stop=...)")
    if stop is None:
        start, stop = 0, start
    elif start is None:
        start = 0
    for name, v in (("start", start), ("stop", stop), ("step", step)):
        if v is not None and not isinstance(v, (int, float, np.integer, np.floating)):
            raise TypeError(f"arange: {name} must be a number, got {type(v).__name__}")
    if step == 0:
        raise ValueError("arange: step must not be zero")
    arr = np.arange(start, stop, 1 if step is None else step, dtype=dtype)
    if dtype is None and arr.dtype == np.float64:
        arr = arr.astype(_default_dtype)
    return Tensor(arr, requires_grad=requires_grad)


def _rand_shape(shape: tuple) -> tuple[int, ...]:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list, np.ndarray, Tensor)):
        return _shape(shape[0])
    return _shape(shape)


def randn(*shape: Any, rng: Any = None, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Standard normal samples from `rng` (Generator, int seed, or None = global generator)."""
    data = get_rng(rng).standard_normal(_rand_shape(shape)).astype(_random_dtype(dtype), copy=False)
    return Tensor(data, requires_grad=requires_grad)


def rand(*shape: Any, rng: Any = None, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Uniform samples on [0, 1) from `rng` (Generator, int seed, or None = global generator)."""
    data = get_rng(rng).random(_rand_shape(shape)).astype(_random_dtype(dtype), copy=False)
    return Tensor(data, requires_grad=requires_grad)
