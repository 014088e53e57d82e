"""optim reads as user code: it imports only the public autograd API and no private attributes."""

import ast
import pkgutil
from pathlib import Path

import autograd as ag

OPTIM_DIR = Path(__file__).resolve().parent.parent / "optim"
# Submodules of autograd that are not public names (autograd.tensor / autograd.gradcheck are
# public functions that happen to share a module's name).
PRIVATE_MODULES = {m.name for m in pkgutil.iter_modules(ag.__path__)} - set(ag.__all__)
PRIVATE_ATTRS = {s for s in ag.Tensor.__slots__ if s.startswith("_") and not s.startswith("__")}


def violations(source: str, filename: str = "<src>") -> list[str]:
    """Imports of autograd submodules or private names, and uses of Tensor's private slots."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        where = f"{filename}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("autograd."):
                    found.append(f"{where}: import {alias.name}")
        elif isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            if node.level >= 2 or mod.startswith("autograd."):
                found.append(f"{where}: from {'.' * node.level}{mod} import ...")
            elif mod == "autograd" and node.level == 0:
                for alias in node.names:
                    if alias.name in PRIVATE_MODULES or alias.name.startswith("_"):
                        found.append(f"{where}: from autograd import {alias.name}")
        elif isinstance(node, ast.Attribute):
            if node.attr.startswith(("_data", "_node")) or node.attr in PRIVATE_ATTRS:
                found.append(f"{where}: .{node.attr}")
            elif (isinstance(node.value, ast.Name) and node.value.id in ("ag", "autograd")
                  and (node.attr in PRIVATE_MODULES or node.attr.startswith("_"))):
                found.append(f"{where}: {node.value.id}.{node.attr}")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if node.value.startswith(("_data", "_node")):      # getattr(t, "_data")
                found.append(f"{where}: string {node.value!r}")
    return found


def test_checker_catches_private_access():
    bad = (
        "import autograd.engine\n"
        "from autograd.tensor import Tensor\n"
        "from autograd import engine\n"
        "import autograd as ag\n"
        "x = p._data\n"
        "y = p._node\n"
        "z = ag.engine.run\n"
        "v = p._version\n"
        "w = getattr(p, '_data')\n"
    )
    assert len(violations(bad)) == 8
    assert violations("import autograd as ag\nx = ag.tensor([1.0]).data\nt = ag.Tensor\n") == []


def test_optim_uses_only_the_public_autograd_api():
    files = sorted(OPTIM_DIR.glob("*.py"))
    assert {f.name for f in files} >= {"__init__.py", "optimizer.py", "sgd.py", "adam.py", "rmsprop.py",
                                       "lr_scheduler.py"}
    found = [v for f in files for v in violations(f.read_text(), f.name)]
    assert found == []
