"""PyTorch's keyword names accepted beside NumPy's: `dim` for `axis`, `keepdim` for `keepdims`,
`correction` for `ddof`.

`torch_keywords(fn)` returns `fn` wrapped to accept them (or `fn` itself when it takes none of
NumPy's names). The wrapper renames the keywords and calls `fn`: one definition, two spellings;
`help()` and `inspect.signature` show NumPy's parameters followed by the PyTorch names.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, Callable

TORCH_KEYWORDS = {"dim": "axis", "keepdim": "keepdims", "correction": "ddof"}


def torch_keywords(fn: Callable) -> Callable:
    """`fn`, also accepting `dim`, `keepdim` and `correction` for its `axis`, `keepdims` and
    `ddof` parameters. Passing both spellings of one argument is a TypeError."""
    sig = inspect.signature(fn)
    params = sig.parameters
    names = {t: n for t, n in TORCH_KEYWORDS.items() if n in params}
    if not names:
        return fn
    order = list(params)
    positions = {n: order.index(n) for n in names.values()}
    title = fn.__name__

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if kwargs:
            for torch_name, numpy_name in names.items():
                if torch_name in kwargs:
                    if numpy_name in kwargs or len(args) > positions[numpy_name]:
                        raise TypeError(
                            f"{title}() got both {numpy_name!r} and {torch_name!r}, two names of "
                            f"one argument ({torch_name} is PyTorch's name for {numpy_name}): "
                            f"pass only one")
                    kwargs[numpy_name] = kwargs.pop(torch_name)
        return fn(*args, **kwargs)

    extra = [inspect.Parameter(t, inspect.Parameter.KEYWORD_ONLY, default=params[n].default,
                               annotation=params[n].annotation) for t, n in names.items()]
    wrapper.__signature__ = sig.replace(parameters=[*params.values(), *extra])
    spelled = ", ".join(f"`{t}` for `{n}`" for t, n in names.items())
    wrapper.__doc__ = inspect.cleandoc(fn.__doc__ or "") + f"\n\nPyTorch's names are accepted too: {spelled}."
    return wrapper
