"""Smoke test of an installed chainrule wheel, run by .ci/run from outside the checkout.

    venv/bin/python .ci/smoke.py CHECKOUT      (cwd elsewhere, PATH without any `dot`)

Checks that the three packages come from the installed wheel (not CHECKOUT), carry the
distribution's version and a py.typed marker, compute a known gradient, load the shipped digits,
take an optimizer step, and render an SVG through graphviz-pure with no `dot` on PATH.
"""

from __future__ import annotations

import importlib.metadata
import math
import shutil
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

import autograd as ag
import nn
import optim
from autograd import render


def check_installed(checkout: Path) -> str:
    version = importlib.metadata.version("chainrule")
    for module in (ag, nn, optim):
        folder = Path(module.__file__).resolve().parent
        assert checkout not in folder.parents, f"{module.__name__} imported from the checkout: {folder}"
        assert module.__version__ == version, (module.__name__, module.__version__, version)
        assert (folder / "py.typed").is_file(), f"no py.typed in {folder}"
    return version


def check_gradient() -> float:
    w = ag.tensor(0.5, requires_grad=True, name="w")
    b = ag.tensor(0.1, requires_grad=True, name="b")
    loss = ag.tanh(w * 2.0 + b) ** 2
    loss.backward()
    t = math.tanh(1.1)
    assert abs(w.grad.item() - 2 * t * (1 - t * t) * 2) < 1e-5, w.grad   # 1.1501613
    assert abs(b.grad.item() - 2 * t * (1 - t * t)) < 1e-5, b.grad        # 0.57508063
    return w.grad.item()


def check_training() -> float:
    X, y = nn.datasets.load_digits()
    assert X.shape == (1797, 64) and X.dtype == np.float32 and y.shape == (1797,)
    assert sorted(set(y.tolist())) == list(range(10))
    ag.manual_seed(0)
    model = nn.Sequential(nn.Dense(64, 32, activation="relu"), nn.Dense(32, 10))
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    xb, yb = ag.tensor(X[:256] / 16.0), ag.tensor(y[:256])
    losses = []
    for _ in range(20):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(xb), yb)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] / 2, losses
    return losses[-1]


def check_rendering() -> str:
    assert shutil.which("dot") is None, "the smoke test must run with no `dot` on PATH"
    program = render.find_program()
    assert Path(program).name.startswith("graphviz-pure"), program
    x = ag.tensor([1.0, 2.0], requires_grad=True, name="x")
    loss = (ag.exp(x) * 3.0).sum()
    loss.backward()
    svg = ag.draw_graph(loss).pipe(format="svg", encoding="utf-8")
    texts = {t.text for t in ET.fromstring(svg).iter("{http://www.w3.org/2000/svg}text")}
    assert {"x", "exp", "multiply", "sum"} <= texts, texts
    return program


def main(argv: list[str]) -> None:
    checkout = Path(argv[0]).resolve()
    version = check_installed(checkout)
    grad = check_gradient()
    last = check_training()
    program = check_rendering()
    print(f"smoke test of the installed wheel: chainrule {version} from {Path(ag.__file__).parent.parent}; "
          f"dL/dw = {grad:.7f}; digits loaded, SGD loss {last:.3f}; SVG rendered by {program}")


if __name__ == "__main__":
    main(sys.argv[1:])
