"""Which program turns a drawing's DOT text into SVG or PNG, and the limits it runs under.

Every way a `draw_graph` drawing is rendered (`.render()`, `.pipe()`, Jupyter's inline display)
runs the program `find_program()` returns, searched in this order:

1. `$CHAINRULE_DOT`, a path or a name looked up on PATH. A value that names no program is an
   error, not skipped: you asked for that program.
2. Graphviz's `dot` on PATH (a system Graphviz is preferred when present).
3. `graphviz-pure` (a pip package, a self-contained port of Graphviz; chainrule depends on it on
   Linux, macOS and Windows, x86_64 and arm64) of this Python: beside `sys.executable`, in
   sysconfig's scripts folders, or where the distribution's file list puts it, so that
   `venv/bin/python script.py` finds it without an activated venv.
4. `graphviz-pure` on PATH (e.g. installed with pipx).

Bitmap output (png, jpeg, ...) is capped at `PNG_MAX_SIDE` pixels per side (a `-Gsize` limit
for the drawing's dpi) unless the drawing sets its own `size` graph attribute: an uncapped PNG
of a 3,000-node chain is 288,000 pixels tall.

    import autograd as ag
    from autograd import render
    render.find_program()                       # e.g. '/usr/bin/dot' or '.../bin/graphviz-pure'
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any, Iterable, Iterator

import graphviz
from graphviz.backend import dot_command, execute, rendering

__all__ = ["ENV_VAR", "PNG_MAX_SIDE", "RendererNotFound", "find_program", "command", "RenderHooks"]

ENV_VAR = "CHAINRULE_DOT"
PURE = "graphviz-pure"
PNG_MAX_SIDE = 5000                 # pixels, per side, of bitmap output
_DEFAULT_DPI = 96.0                 # Graphviz's resolution for bitmap output
_BITMAP_FORMATS = frozenset({"png", "jpg", "jpeg", "jpe", "gif", "bmp", "ico", "tif", "tiff",
                             "webp", "tga", "wbmp", "gd", "gd2", "pict", "pct"})


class RendererNotFound(graphviz.ExecutableNotFound):
    """No program to render with (or `$CHAINRULE_DOT` names none); the message says what was tried."""

    def __init__(self, message: str) -> None:
        RuntimeError.__init__(self, message)


# ---------------------------------------------------------------- finding the program

def _is_program(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _which(name: str) -> str | None:
    found = shutil.which(name)
    return os.path.abspath(found) if found else None      # render() runs in another folder


def _from_env(value: str) -> str:
    """The program `$CHAINRULE_DOT` names: a path, or a name on PATH."""
    if os.sep in value or (os.altsep and os.altsep in value) or os.path.isabs(value):
        path = Path(value).expanduser()
        if _is_program(path):
            return os.path.abspath(path)
    else:
        found = _which(value)
        if found:
            return found
    raise RendererNotFound(
        f"{ENV_VAR}={value!r} names no program that can be run (not an executable file, and no "
        f"such program on PATH). Set {ENV_VAR} to the path of Graphviz's 'dot' or of "
        f"'{PURE}', or unset it to let chainrule search (dot on PATH, then {PURE}).")


def _pure_names() -> tuple:
    return (PURE + ".exe", PURE) if sys.platform == "win32" else (PURE,)


def _scripts_dirs() -> Iterator[Path]:
    """Where pip puts this Python's console scripts: beside the interpreter, sysconfig's folders."""
    yield Path(sys.executable).parent
    schemes: list[str | None] = [None]
    try:
        schemes.append(sysconfig.get_preferred_scheme("user"))
    except (AttributeError, KeyError):              # pragma: no cover - Python < 3.10
        pass
    for scheme in schemes:
        try:
            yield Path(sysconfig.get_path("scripts", scheme) if scheme else sysconfig.get_path("scripts"))
        except KeyError:                            # pragma: no cover - an unusual install scheme
            continue


def _pure_candidates() -> Iterator[Path]:
    """Every place this Python's graphviz-pure executable may be, most likely first."""
    names = _pure_names()
    for folder in _scripts_dirs():
        for name in names:
            yield folder / name
    try:
        files = importlib.metadata.distribution(PURE).files or []
    except importlib.metadata.PackageNotFoundError:
        files = []
    for f in files:
        if f.name in names:
            yield Path(os.path.normpath(f.locate()))


def _find_pure() -> str | None:
    for path in _pure_candidates():
        if _is_program(path):
            return os.path.abspath(path)
    return _which(PURE)


def find_program() -> str:
    """The absolute path of the program that renders DOT text (search order in the module doc).

    Raises `RendererNotFound` when `$CHAINRULE_DOT` names no program, or when there is neither a
    `dot` nor a `graphviz-pure` (e.g. on a platform graphviz-pure has no wheel for).
    """
    value = os.environ.get(ENV_VAR, "").strip()
    if value:
        return _from_env(value)
    program = _which("dot") or _find_pure()
    if program is None:
        raise RendererNotFound(
            f"no program to render the graph: no 'dot' on PATH, no '{PURE}' beside "
            f"{sys.executable}, in this Python's scripts folders or on PATH, and {ENV_VAR} is unset")
    return program


# ---------------------------------------------------------------- running it

def _size_cap(format: str, graph_attr: dict) -> list:
    """`-Gsize` keeping bitmap output within PNG_MAX_SIDE pixels, unless the graph sets a size."""
    if format.split(":")[0].lower() not in _BITMAP_FORMATS or graph_attr.get("size"):
        return []
    try:
        dpi = float(graph_attr.get("dpi") or graph_attr.get("resolution") or _DEFAULT_DPI)
    except ValueError:                              # the program will report the bad value
        dpi = _DEFAULT_DPI
    inches = PNG_MAX_SIDE / (dpi if dpi > 0 else _DEFAULT_DPI)
    return [f"-Gsize={inches:.4f},{inches:.4f}"]


def command(engine: str, format: str, *, renderer: str | None = None, formatter: str | None = None,
            neato_no_op: bool | int | None = None, graph_attr: dict | None = None) -> list:
    """The command line rendering DOT on stdin: the program, `-K`/`-T` flags, the pixel cap."""
    flags = dot_command.command(engine, format, renderer=renderer, formatter=formatter,
                                neato_no_op=neato_no_op)[1:]   # graphviz checks the names
    return [find_program(), *map(os.fspath, flags), *_size_cap(format, graph_attr or {})]


def _run(cmd: list, format: str, **kwargs: Any) -> subprocess.CompletedProcess:
    """Run `cmd`; a format graphviz-pure cannot write (pdf, ps) is a clear ValueError."""
    try:
        return execute.run_check(cmd, **kwargs)
    except graphviz.CalledProcessError as e:
        stderr = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else e.stderr or ""
        if Path(cmd[0]).name.startswith(PURE) and "not recognized" in stderr:
            raise ValueError(
                f"{cmd[0]} cannot write {format!r}: {stderr.strip()}. Install a system Graphviz "
                f"(chainrule uses its 'dot' when it is on PATH, or set {ENV_VAR}), or render 'svg' "
                "or 'png'.") from e
        if "invalid size" in stderr and any(str(a).startswith("-Gsize=") for a in cmd):
            raise ValueError(
                f"the graph is too large for a {format!r} image within {PNG_MAX_SIDE} pixels per "
                f"side (scaled down to fit, it is less than a pixel across): render it as 'svg', "
                "or set the drawing's own graph_attr['size'] (inches) and 'dpi'.") from e
        raise


def pipe_lines(engine: str, format: str, input_lines: Iterable[str], *, input_encoding: str,
               renderer: str | None = None, formatter: str | None = None,
               neato_no_op: bool | int | None = None, quiet: bool = False,
               graph_attr: dict | None = None) -> bytes:
    """DOT lines through the renderer into `format`, as bytes (graphviz's `pipe_lines`)."""
    cmd = command(engine, format, renderer=renderer, formatter=formatter, neato_no_op=neato_no_op,
                  graph_attr=graph_attr)
    lines = (line.encode(input_encoding) for line in input_lines)
    return _run(cmd, format, input_lines=lines, capture_output=True, quiet=quiet).stdout


def pipe_lines_string(engine: str, format: str, input_lines: Iterable[str], *, encoding: str,
                      renderer: str | None = None, formatter: str | None = None,
                      neato_no_op: bool | int | None = None, quiet: bool = False,
                      graph_attr: dict | None = None) -> str:
    """As `pipe_lines`, reading and returning text in `encoding`."""
    cmd = command(engine, format, renderer=renderer, formatter=formatter, neato_no_op=neato_no_op,
                  graph_attr=graph_attr)
    return _run(cmd, format, input_lines=iter(input_lines), encoding=encoding, capture_output=True,
                quiet=quiet).stdout


def render_file(engine: str, format: str | None = None, filepath: Any = None,
                renderer: str | None = None, formatter: str | None = None,
                neato_no_op: bool | int | None = None, quiet: bool = False, *, outfile: Any = None,
                raise_if_result_exists: bool = False, overwrite_filepath: bool = False,
                graph_attr: dict | None = None) -> str:
    """Render the DOT file `filepath` to `outfile` (default `filepath.format`); graphviz's `render`."""
    if raise_if_result_exists and overwrite_filepath:
        raise ValueError("overwrite_filepath cannot be combined with raise_if_result_exists")
    source = Path(filepath) if filepath is not None else None
    if outfile is not None:
        out = Path(outfile)
        format = rendering.get_format(out, format=format)
        source = source if source is not None else rendering.get_filepath(out)
        if not overwrite_filepath and out.resolve() == source.resolve():
            raise ValueError(f"outfile {out.name!r} must be different from input file {source.name!r} "
                             "(pass overwrite_source=True to override)")
        target = out.resolve() if out.parent != source.parent else out.name
        io_args = ["-o", _operand(target), _operand(source.name)]
    elif source is None or format is None:
        raise graphviz.RequiredArgumentError("render needs a filepath and a format, or an outfile")
    else:
        out = rendering.get_outfile(source, format=format, renderer=renderer, formatter=formatter)
        io_args = ["-O", _operand(source.name)]
    if raise_if_result_exists and out.exists():
        raise graphviz.FileExistsError(f"output file exists: {os.fspath(out)!r}")
    cmd = command(engine, format, renderer=renderer, formatter=formatter, neato_no_op=neato_no_op,
                  graph_attr=graph_attr)
    _run(cmd + io_args, format, cwd=source.parent if source.parent.parts else None, quiet=quiet,
         capture_output=True)
    return os.fspath(out)


def _operand(name: Any) -> str:
    """A file name as a command-line operand: one starting with '-' gets './' so the program
    does not take it for an option ('-c.gv' made dot rewrite its plugin configuration, '-x.gv'
    made it read the graph from stdin, and render() returned a path it never wrote)."""
    text = os.fspath(name)
    return os.curdir + os.sep + text if text.startswith("-") else text


class RenderHooks:
    """Mixin for a `graphviz.Digraph` subclass: its `pipe()`, `render()` and Jupyter display run
    `find_program()`'s program with the bitmap cap, through the hooks graphviz (>= 0.20) calls."""

    graph_attr: dict

    @property
    def _pipe_lines(self) -> Any:
        return functools.partial(pipe_lines, graph_attr=dict(self.graph_attr))

    @property
    def _pipe_lines_string(self) -> Any:
        return functools.partial(pipe_lines_string, graph_attr=dict(self.graph_attr))

    @property
    def _render(self) -> Any:
        return functools.partial(render_file, graph_attr=dict(self.graph_attr))
