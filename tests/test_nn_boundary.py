"""nn/ is written against the public autograd API only: no internals, no private attributes."""

import ast
from pathlib import Path

import pytest

NN = Path(__file__).resolve().parent.parent / "nn"
FILES = sorted(NN.rglob("*.py"))
PRIVATE = ("_data", "_node", "_leaf")


def test_nn_has_files():
    assert {p.name for p in FILES} >= {"module.py", "layers.py", "functional.py", "losses.py"}


def violations(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("autograd."):
                    found.append(f"line {node.lineno}: import {alias.name}")
        elif isinstance(node, ast.ImportFrom):
            if node.module and (node.module == "autograd" or node.module.startswith("autograd.")):
                found.append(f"line {node.lineno}: from {node.module} import ...")
        elif isinstance(node, ast.Attribute) and node.attr.startswith(PRIVATE):
            found.append(f"line {node.lineno}: .{node.attr}")
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("getattr", "setattr"):
            args = node.args
            if len(args) > 1 and isinstance(args[1], ast.Constant) and str(args[1].value).startswith(PRIVATE):
                found.append(f"line {node.lineno}: {node.func.id}(..., {args[1].value!r})")
    return found


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_file_uses_only_public_autograd(path):
    assert violations(path.read_text()) == []


@pytest.mark.parametrize("bad", [
    "import autograd.engine",
    "from autograd import tensor",
    "from autograd.ops import relu",
    "x = t._data",
    "t._node = None",
    "n = t._leaf",
    "getattr(t, '_data')",
])
def test_checker_catches(bad):
    assert violations(bad) != []


def test_checker_allows_public_use():
    assert violations("import autograd as ag\nx = ag.relu(t).data\nself._parameters = {}") == []
