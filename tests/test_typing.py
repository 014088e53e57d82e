"""Users' code type-checks: mypy sees Tensor's operators and methods (attached at run time by
autograd/ops.py and aliases.py, declared for type checkers in autograd/tensor.py), the nn modules
and the optimizers, and still catches a genuine type error."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("mypy")     # in the dev extra

ROOT = Path(__file__).resolve().parents[1]

# the public API as the README and docs use it
USER_PROGRAM = """
import numpy as np
import autograd as ag
import nn
import optim

w = ag.tensor(0.5, requires_grad=True, name="w")
b = ag.tensor(0.1, requires_grad=True, name="b")
L = ag.tanh(w * 2.0 + b) ** 2
L.backward()
g: ag.Tensor | None = w.grad

x = ag.randn(8, 3, rng=0)
W = ag.randn(3, 1, rng=1, requires_grad=True)
y = ag.randn(8, 1, rng=2)
loss = ((x @ W - y) ** 2).mean()
loss = loss + 0.1 * (W * W).sum() - (-W).abs().max() / 2 + 1 - W.sum(axis=0, keepdims=True).sum()
loss.backward()
first: ag.Tensor = x[0]
rows: ag.Tensor = x[1:3, ::2]
mask: ag.Tensor = (x > 0) & (x <= 1.0) | (x == 0.5) | (x != x)
z = x.T @ x + 2 * x.T.reshape(8, 3).transpose() @ x.exp().sqrt().log().tanh().sigmoid().relu()
m = x.mean(dim=0, keepdim=True) + x.std(axis=0) + x.var(correction=1) + x.logsumexp(dim=1).sum()
p = x.softmax(axis=-1).log_softmax(dim=0).clip(-1.0, 1.0).maximum(0.0).minimum(1.0)
v = x.view(24).unsqueeze(0).squeeze(0).reshape((2, 12)).permute(1, 0).t().flatten()
parts: list[ag.Tensor] = x.split(2, axis=0)
row_sums: list[float] = [float(row.sum()) for row in x]
n: int = x.numel() + x.nelement() + x.ndim + len(x) + int(x.argmax())
q = x.float().double().astype(np.float32).clone().swapaxes(0, 1).expand_dims(0).broadcast_to((2, 3, 8))
x -= 1.0
x *= 2.0
x /= 4.0
x += 1
arr: np.ndarray = (x + np.ones((8, 3))).numpy()
value: float = float(loss.item()) + float(m.sum()) + float(p[0, 0]) + float(v.dot(v)) + float(q.sum())

model = nn.Sequential(nn.Dense(3, 16, activation="relu"), nn.Dense(16, 1))
opt = optim.Adam(model.parameters(), lr=1e-2)
sched = optim.lr_scheduler.StepLR(opt, step_size=10, gamma=0.5)
loss_fn = nn.MSELoss()
for _ in range(2):
    opt.zero_grad()
    out = loss_fn(model(x), y)
    out.backward()
    opt.step()
    sched.step()
sgd = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
print(f"{out:.3f}", value, n, arr.shape, rows.shape, first.shape, mask.dtype, z.shape, parts[0].shape)
"""

# genuine mistakes a type checker must report, with the error code it reports each with
MISTAKES = """
import numpy as np
import autograd as ag

x = ag.randn(4, 3, requires_grad=True)
arr: np.ndarray = x @ x.T            # a Tensor, not an ndarray
total: int = x.sum()                 # a Tensor, not an int
x.summ()                             # no such method
x[0] = 1.0                           # tensors refuse item assignment
x.backward(retain_graph="yes")       # a bool, not a str
"""


def _mypy(tmp_path: Path, source: str) -> tuple[int, str]:
    """mypy on `source` in a fresh directory against this checkout's packages (MYPYPATH), with
    errors reported for the user's file only (the packages' own relaxations are in pyproject)."""
    (tmp_path / "user.py").write_text(textwrap.dedent(source))
    (tmp_path / "mypy.ini").write_text("[mypy]\n")
    env = {**os.environ, "MYPYPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", "mypy.ini", "--cache-dir", str(tmp_path / "cache"),
         "--follow-imports=silent", "--python-version", "3.10", "--no-error-summary",
         "--show-error-codes", "user.py"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240)
    return proc.returncode, proc.stdout + proc.stderr


def test_user_program_type_checks(tmp_path: Path) -> None:
    code, out = _mypy(tmp_path, USER_PROGRAM)
    assert out.strip() == "" and code == 0, out


def test_mypy_catches_type_errors(tmp_path: Path) -> None:
    code, out = _mypy(tmp_path, MISTAKES)
    assert code == 1, out
    lines = [ln for ln in out.splitlines() if ": error:" in ln]
    found = {(int(m.group(1)), m.group(2)) for m in (re.search(r"user\.py:(\d+): error: .*\[([a-z-]+)\]$", ln)
                                                     for ln in lines) if m}
    assert found == {(6, "assignment"), (7, "assignment"), (8, "attr-defined"), (9, "index"),
                     (10, "arg-type")}, out


def test_user_program_runs() -> None:
    """The program mypy accepts is real code: it runs."""
    exec(compile(textwrap.dedent(USER_PROGRAM), "user.py", "exec"), {"__name__": "user"})


def _tensor_class() -> ast.ClassDef:
    tree = ast.parse((ROOT / "autograd" / "tensor.py").read_text())
    return next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Tensor")


def _declared() -> dict[str, ast.FunctionDef]:
    """The declarations in Tensor's `if TYPE_CHECKING:` block."""
    block = next(n for n in _tensor_class().body if isinstance(n, ast.If)
                 and isinstance(n.test, ast.Name) and n.test.id == "TYPE_CHECKING")
    return {f.name: f for f in block.body if isinstance(f, ast.FunctionDef)}


def test_declarations_match_what_is_attached() -> None:
    """Every operator and method ops.py / aliases.py attach is declared (`__setitem__`, which
    always raises, on purpose not), nothing else is, and each declaration takes the parameters
    of the function it stands for, by name and kind."""
    import inspect

    import autograd  # noqa: F401  (attaches the methods)
    from autograd.tensor import Tensor
    body = {n.name for n in _tensor_class().body if isinstance(n, ast.FunctionDef)}
    body |= {t.id for n in _tensor_class().body if isinstance(n, ast.Assign)
             for t in n.targets if isinstance(t, ast.Name)}
    attached = {k for k, v in vars(Tensor).items()
                if k not in body and (callable(v) or isinstance(v, property))}
    declared = _declared()
    assert attached - set(declared) == {"__setitem__"}
    assert set(declared) - attached == set()
    for name, decl in declared.items():
        runtime = vars(Tensor)[name]
        if isinstance(runtime, property):
            assert any(isinstance(d, ast.Name) and d.id == "property" for d in decl.decorator_list)
            continue
        params = list(inspect.signature(runtime).parameters.values())[1:]      # after self / x / a
        args = decl.args
        want = [(p.name, p.kind) for p in params]
        got = ([(a.arg, inspect.Parameter.POSITIONAL_OR_KEYWORD) for a in args.args[1:]]
               + ([(args.vararg.arg, inspect.Parameter.VAR_POSITIONAL)] if args.vararg else [])
               + [(a.arg, inspect.Parameter.KEYWORD_ONLY) for a in args.kwonlyargs]
               + ([(args.kwarg.arg, inspect.Parameter.VAR_KEYWORD)] if args.kwarg else []))
        if len(params) == 1 and params[0].name in ("b", "other"):       # t.op(other) for op(a, b)
            want = [("other", params[0].kind)]
        assert got == want, name
