"""The `graphviz.Digraph` that `draw_graph` returns, whose rendering errors say how to install
Graphviz."""

from __future__ import annotations

from typing import Any

import graphviz

from ..render import RenderHooks

_INSTALL_ADVICE = (
    "a renderer, Graphviz's 'dot' or graphviz-pure, is needed to render the graph (the .source DOT "
    "text works without it). Install one: 'pip install graphviz-pure' (Linux, macOS, Windows on "
    "x86_64 or arm64), 'apt-get install graphviz' (Debian/Ubuntu), 'brew install graphviz' (macOS), "
    "'conda install graphviz', or see https://graphviz.org/download/")


class GraphvizNotInstalled(graphviz.ExecutableNotFound):
    """`graphviz.ExecutableNotFound` with installation advice."""

    def __init__(self, original: Exception) -> None:
        RuntimeError.__init__(self, f"{original}\n{_INSTALL_ADVICE}")


def _with_advice(run: Any, *args: Any, **kwargs: Any) -> Any:
    """Call a rendering method; a missing `dot` program raises with installation advice."""
    try:
        return run(*args, **kwargs)
    except graphviz.ExecutableNotFound as e:
        if isinstance(e, GraphvizNotInstalled):
            raise
        raise GraphvizNotInstalled(e) from e


class GraphDrawing(RenderHooks, graphviz.Digraph):
    """A `graphviz.Digraph` rendered by `autograd.render`'s program; its errors say how to install one."""

    def pipe(self, *args: Any, **kwargs: Any) -> Any:
        return _with_advice(super().pipe, *args, **kwargs)

    def render(self, *args: Any, **kwargs: Any) -> Any:
        return _with_advice(super().render, *args, **kwargs)

