"""nn/ and optim/ are written against the public autograd API only, as a user's code would be:
no autograd submodule, no private name of autograd, no private attribute of a Tensor."""

import ast
import pkgutil
from pathlib import Path

import pytest

import autograd as ag

ROOT = Path(__file__).resolve().parent.parent
FILES = sorted(ROOT.glob("nn/**/*.py")) + sorted(ROOT.glob("optim/*.py"))
# autograd's submodules that are not public names (autograd.tensor and autograd.gradcheck are
# public functions that happen to share a module's name)
INTERNAL_MODULES = {m.name for m in pkgutil.iter_modules(ag.__path__)} - set(ag.__all__)
# a Tensor's private attributes (its private slots; `_data`, `_node`, ... and longer names
# starting with them)
TENSOR_PRIVATE = tuple(s for s in ag.Tensor.__slots__ if s.startswith("_") and not s.startswith("__"))


def absolute(module: str | None, level: int, package: str) -> str:
    """The module a `from` import names, written from inside `package` ('nn.monitor')."""
    if not level:
        return module or ""
    parts = package.split(".")
    base = parts[:len(parts) - level + 1] if level <= len(parts) else ["<outside>"]
    return ".".join(base + ([module] if module else []))

ATTRIBUTE_CALLS = ("getattr", "setattr", "hasattr", "delattr")


def violations(source: str, filename: str = "<src>", package: str = "nn") -> list[str]:
    """Each use of autograd beyond its public API in `source` (a module of `package`), as
    'file:line: what'."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        where = f"{filename}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Import):
            found += [f"{where}: import {a.name}" for a in node.names if a.name.startswith("autograd.")]
        elif isinstance(node, ast.ImportFrom):
            mod = absolute(node.module, node.level, package)
            if mod.startswith(("autograd.", "<outside>")) or (node.level and mod == "autograd"):
                found.append(f"{where}: from {'.' * node.level}{node.module or ''} import ...")
            elif mod == "autograd" and node.level == 0:
                found += [f"{where}: from autograd import {a.name}" for a in node.names
                          if a.name in INTERNAL_MODULES or a.name.startswith("_")]
        elif isinstance(node, ast.Attribute):
            if node.attr.startswith(TENSOR_PRIVATE):
                found.append(f"{where}: .{node.attr}")
            elif (isinstance(node.value, ast.Name) and node.value.id in ("ag", "autograd")
                  and (node.attr in INTERNAL_MODULES or node.attr.startswith("_"))):
                found.append(f"{where}: {node.value.id}.{node.attr}")
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) in ATTRIBUTE_CALLS:
            name = node.args[1] if len(node.args) > 1 else None         # getattr(t, "_data")
            if isinstance(name, ast.Constant) and str(name.value).startswith(TENSOR_PRIVATE):
                found.append(f"{where}: {node.func.id}(..., {name.value!r})")
    return found


def test_the_checked_files_are_there():
    names = {f"{p.parent.name}/{p.name}" for p in FILES}
    assert names >= {"nn/module.py", "nn/layers.py", "nn/functional.py", "nn/losses.py",
                     "optim/__init__.py", "optim/optimizer.py", "optim/sgd.py", "optim/adam.py",
                     "optim/rmsprop.py", "optim/lr_scheduler.py"}
    assert set(TENSOR_PRIVATE) >= {"_data", "_node", "_leaf", "_grad", "_version", "_requires_grad"}


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_file_uses_only_the_public_autograd_api(path):
    package = ".".join(path.relative_to(ROOT).parent.parts)
    assert violations(path.read_text(), path.name, package) == []


@pytest.mark.parametrize("bad", [
    "import autograd.engine",
    "from autograd import tensor as t\nfrom autograd import engine",
    "from autograd.ops import relu",
    "from autograd.tensor import Tensor",
    "from .. import autograd",
    "from ..autograd import engine",
    "x = t._data",
    "t._node = None",
    "n = t._leaf",
    "v = p._version",
    "g = p._grad",
    "r = p._requires_grad",
    "z = ag.engine.run",
    "z = autograd.ops",
    "h = ag._private",
    "getattr(t, '_data')",
    "setattr(t, '_grad', None)",
    "hasattr(t, '_node')",
])
def test_checker_catches(bad):
    assert violations(bad) != []


def test_checker_counts_each_use():
    bad = ("import autograd.engine\nfrom autograd.tensor import Tensor\nfrom autograd import engine\n"
           "import autograd as ag\nx = p._data\ny = p._node\nz = ag.engine.run\nv = p._version\n"
           "w = getattr(p, '_data')\n")
    assert len(violations(bad)) == 8


def test_checker_allows_public_use():
    ok = ("import autograd as ag\nfrom autograd import no_grad\nx = ag.relu(t).data\nt = ag.Tensor\n"
          "self._parameters = {}\nself._hooks = []\ng = p.grad\nfrom ..module import Module\n"
          "path = 'nn._data'\n")
    assert violations(ok, "<src>", "nn.monitor") == []
    assert violations("from .. import module", "<src>", "nn") != []      # leaves nn: refused
