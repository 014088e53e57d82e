"""Rendering without a system Graphviz: which program autograd.render picks, and the PNG cap."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import graphviz
import pytest

import autograd as ag
from autograd import render

ROOT = Path(__file__).resolve().parent.parent
SVG = "{http://www.w3.org/2000/svg}"

# graphviz-pure is a dependency wherever it has a wheel (pyproject.toml's markers): there, every
# test below must find it. Elsewhere (ppc64le, ...) only the "no renderer" error is testable.
PURE_EXPECTED = (sys.platform in ("linux", "darwin", "win32")
                 and platform.machine() in ("x86_64", "AMD64", "aarch64", "arm64", "ARM64"))
needs_pure = pytest.mark.skipif(not PURE_EXPECTED, reason="graphviz-pure has no wheel here")


@pytest.fixture(autouse=True)
def _no_env_choice(monkeypatch):
    monkeypatch.delenv(render.ENV_VAR, raising=False)


@pytest.fixture
def pure() -> str:
    """The real graphviz-pure executable of this Python."""
    found = render._find_pure()
    assert found is not None and Path(found).name.startswith("graphviz-pure"), found
    return found


def drawing() -> graphviz.Digraph:
    x = ag.tensor([1.0, 2.0], requires_grad=True, name="x")
    w = ag.tensor([3.0, 4.0], requires_grad=True, name="w")
    loss = (ag.exp(x) * w).sum()
    with ag.record_grad_norms():
        loss.backward()
    return ag.draw_graph(loss)


def svg_node_texts(svg: str) -> list:
    root = ET.fromstring(svg)
    return sorted(t.text for g in root.iter(f"{SVG}g") if g.get("class") == "node"
                  for t in g.iter(f"{SVG}text") if t.text in ("x", "w", "exp", "multiply", "sum"))


def png_size(data: bytes) -> tuple:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])            # (width, height)


def recording_program(folder: Path, name: str, target: str, log: Path) -> Path:
    """A script `folder/name` that logs its arguments to `log`, then runs `target` with them."""
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / name
    script.write_text(f'#!/bin/sh\necho "$0 $*" >> "{log}"\nexec "{target}" "$@"\n')
    script.chmod(0o755)
    return script


# ---------------------------------------------------------------- no dot anywhere

@needs_pure
def test_subprocess_with_empty_path_renders_through_graphviz_pure(tmp_path):
    code = f"""
import autograd as ag
from autograd import render
x = ag.tensor([1.0], requires_grad=True, name="x")
d = ag.draw_graph(ag.exp(x).sum())
print(render.find_program())
print(d.render({str(tmp_path / "g")!r}, format="svg"))
print(d.pipe(format="svg", encoding="utf-8").count('class="node"'))
"""
    env = {k: v for k, v in os.environ.items() if k != render.ENV_VAR}
    env["PATH"] = ""                                    # no dot, no graphviz-pure, nothing
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    program, path, nodes = out.stdout.split()
    assert Path(program).name.startswith("graphviz-pure")
    assert path == str(tmp_path / "g.svg") and nodes == "3"
    text = Path(path).read_text()
    assert text.lstrip().startswith("<?xml") and text.count('class="node"') == 3 and ">x</text>" in text


@needs_pure
def test_pipe_render_and_jupyter_give_svg_without_dot(monkeypatch, tmp_path, pure):
    monkeypatch.setenv("PATH", "")
    assert render.find_program() == pure
    d = drawing()
    svg = d.pipe(format="svg", encoding="utf-8")
    assert svg_node_texts(svg) == ["exp", "multiply", "sum", "w", "x"]
    assert svg_node_texts(d.pipe(format="svg").decode()) == ["exp", "multiply", "sum", "w", "x"]
    path = d.render(tmp_path / "out" / "g", format="svg", cleanup=True)
    assert path == str(tmp_path / "out" / "g.svg") and not (tmp_path / "out" / "g").exists()
    assert svg_node_texts(Path(path).read_text()) == ["exp", "multiply", "sum", "w", "x"]
    bundle = d._repr_mimebundle_()                       # what Jupyter calls to show it inline
    assert list(bundle) == ["image/svg+xml"]
    assert svg_node_texts(bundle["image/svg+xml"]) == ["exp", "multiply", "sum", "w", "x"]
    png = d._repr_mimebundle_(include=["image/png"])["image/png"]
    assert png_size(png)[0] > 50
    out = d.render(outfile=tmp_path / "h.png")
    assert out == str(tmp_path / "h.png") and png_size((tmp_path / "h.png").read_bytes())[1] > 100


@needs_pure
def test_pdf_through_graphviz_pure_says_what_to_do(monkeypatch):
    monkeypatch.setenv("PATH", "")
    with pytest.raises(ValueError, match=r"cannot write 'pdf'.*system Graphviz.*'svg' or 'png'"):
        drawing().pipe(format="pdf", quiet=True)


def test_no_renderer_at_all_says_how_to_install(monkeypatch):
    monkeypatch.setenv("PATH", "")
    monkeypatch.setattr(render, "_pure_candidates", lambda: iter(()))
    with pytest.raises(render.RendererNotFound, match="no program to render the graph"):
        render.find_program()
    with pytest.raises(graphviz.ExecutableNotFound, match="pip install graphviz-pure") as info:
        drawing().pipe(format="svg")
    assert "apt-get install graphviz" in str(info.value) and render.ENV_VAR in str(info.value)


# ---------------------------------------------------------------- where graphviz-pure is found

def no_distribution(name):
    raise importlib.metadata.PackageNotFoundError(name)


@needs_pure
def test_found_beside_the_interpreter_with_nothing_on_path(monkeypatch, tmp_path, pure):
    """`venv/bin/python script.py`, venv not activated: the venv's bin/ holds graphviz-pure."""
    monkeypatch.setenv("PATH", "")
    monkeypatch.setattr(sys, "executable", str(Path(pure).parent / "python"))
    monkeypatch.setattr(render.sysconfig, "get_path", lambda *a, **k: str(tmp_path))   # empty
    monkeypatch.setattr(render.importlib.metadata, "distribution", no_distribution)
    assert render.find_program() == pure


@needs_pure
def test_found_in_sysconfig_scripts_dir_when_interpreter_is_elsewhere(monkeypatch, tmp_path, pure):
    """A Debian Python: the interpreter in /usr/bin, pip's scripts in /usr/local/bin."""
    monkeypatch.setenv("PATH", "")
    monkeypatch.setattr(sys, "executable", str(tmp_path / "elsewhere" / "python"))
    monkeypatch.setattr(render.sysconfig, "get_path", lambda *a, **k: str(Path(pure).parent))
    monkeypatch.setattr(render.importlib.metadata, "distribution", no_distribution)
    assert render.find_program() == pure


@needs_pure
def test_found_through_the_distribution_file_list(monkeypatch, tmp_path, pure):
    monkeypatch.setenv("PATH", "")
    monkeypatch.setattr(sys, "executable", str(tmp_path / "elsewhere" / "python"))
    monkeypatch.setattr(render.sysconfig, "get_path", lambda *a, **k: str(tmp_path))    # empty
    assert render.find_program() == pure


def test_found_on_path_when_not_installed_in_this_python(monkeypatch, tmp_path):
    log = tmp_path / "calls.log"
    fake = recording_program(tmp_path / "pipx", "graphviz-pure", "/bin/true", log)
    monkeypatch.setenv("PATH", str(fake.parent))
    monkeypatch.setattr(render, "_pure_candidates", lambda: iter(()))
    assert render.find_program() == str(fake)


# ---------------------------------------------------------------- choosing the program

@needs_pure
def test_system_dot_on_path_is_preferred(monkeypatch, tmp_path, pure):
    log = tmp_path / "calls.log"
    dot = recording_program(tmp_path / "bin", "dot", pure, log)
    monkeypatch.setenv("PATH", str(dot.parent))
    assert render.find_program() == str(dot)
    d = drawing()
    assert svg_node_texts(d.pipe(format="svg", encoding="utf-8")) == ["exp", "multiply", "sum", "w", "x"]
    path = d.render(tmp_path / "g", format="svg")
    assert svg_node_texts(Path(path).read_text()) == ["exp", "multiply", "sum", "w", "x"]
    calls = log.read_text().splitlines()
    assert len(calls) == 2 and all(c.startswith(f"{dot} -Kdot -Tsvg") for c in calls)
    assert calls[1].endswith(" -O g")


@needs_pure
def test_env_var_names_the_program(monkeypatch, tmp_path, pure):
    log = tmp_path / "calls.log"
    dot = recording_program(tmp_path / "bin", "dot", pure, log)        # on PATH, not chosen
    mine = recording_program(tmp_path / "mine", "my-dot", pure, log)
    monkeypatch.setenv("PATH", str(dot.parent))
    monkeypatch.setenv(render.ENV_VAR, str(mine))
    assert render.find_program() == str(mine)
    assert svg_node_texts(drawing().pipe(format="svg", encoding="utf-8"))[0] == "exp"
    assert log.read_text().startswith(f"{mine} -Kdot -Tsvg")
    monkeypatch.setenv("PATH", os.pathsep.join([str(dot.parent), str(mine.parent)]))
    monkeypatch.setenv(render.ENV_VAR, "my-dot")                      # a name, looked up on PATH
    assert render.find_program() == str(mine)


@needs_pure
def test_relative_env_var_path_works_when_rendering_into_another_folder(monkeypatch, tmp_path, pure):
    mine = recording_program(tmp_path / "mine", "my-dot", pure, tmp_path / "calls.log")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(render.ENV_VAR, os.path.join(".", "mine", "my-dot"))
    path = drawing().render(tmp_path / "deep" / "g", format="svg")   # dot runs in deep/
    assert svg_node_texts(Path(path).read_text())[-1] == "x"
    assert render.find_program() == str(mine)


@pytest.mark.parametrize("value", ["/no/such/dot", "no-such-renderer-xyz", "README.md"])
def test_bad_env_var_is_a_clear_error(monkeypatch, value):
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv(render.ENV_VAR, value if value != "README.md" else str(ROOT / value))
    with pytest.raises(render.RendererNotFound) as info:
        render.find_program()
    message = str(info.value)
    assert f"{render.ENV_VAR}=" in message and value in message and "unset it" in message
    with pytest.raises(graphviz.ExecutableNotFound, match=render.ENV_VAR):   # through the drawing
        drawing().pipe(format="svg")


# ---------------------------------------------------------------- the PNG cap

def chain_drawing(n: int) -> graphviz.Digraph:
    y = ag.tensor([1.0], requires_grad=True, name="x")
    for _ in range(n):
        y = y * 1.0001
    return ag.draw_graph(y.sum(), legend=False)


@needs_pure
def test_png_of_a_3000_node_graph_is_capped(monkeypatch):
    monkeypatch.setenv("PATH", "")
    d = chain_drawing(3000)
    svg = ET.fromstring(d.pipe(format="svg"))
    natural_height = float(svg.get("height").removesuffix("pt")) * 96 / 72   # pixels at 96 dpi
    assert natural_height > 100_000                       # uncapped, about 288,000 pixels tall
    w, h = png_size(d.pipe(format="png"))
    assert max(w, h) <= render.PNG_MAX_SIDE and h > render.PNG_MAX_SIDE * 0.9
    d.graph_attr["dpi"] = "300"                           # a higher resolution keeps the cap
    w, h = png_size(d.pipe(format="png"))
    assert max(w, h) <= render.PNG_MAX_SIDE and h > render.PNG_MAX_SIDE * 0.9


@needs_pure
def test_small_png_is_not_scaled_and_own_size_wins(monkeypatch):
    monkeypatch.setenv("PATH", "")
    d = chain_drawing(3)
    svg = ET.fromstring(d.pipe(format="svg"))
    natural = [round(float(svg.get(k).removesuffix("pt")) * 96 / 72) for k in ("width", "height")]
    w, h = png_size(d.pipe(format="png"))
    assert abs(w - natural[0]) <= 2 and abs(h - natural[1]) <= 2
    d.graph_attr["size"] = "1,1"                          # the drawing's own size: 96 pixels
    assert max(png_size(d.pipe(format="png"))) <= 96


def test_cap_flags():
    assert render._size_cap("svg", {}) == []
    assert render._size_cap("png", {"size": "3,3"}) == []
    side = render.PNG_MAX_SIDE
    assert render._size_cap("png", {}) == [f"-Gsize={side / 96:.4f},{side / 96:.4f}"]
    assert render._size_cap("png:cairo", {"dpi": "200"}) == [f"-Gsize={side / 200:.4f},{side / 200:.4f}"]
    assert render._size_cap("jpeg", {"resolution": "72"}) == [f"-Gsize={side / 72:.4f},{side / 72:.4f}"]


def test_a_graph_too_long_for_the_cap_says_so(monkeypatch, tmp_path):
    """graphviz-pure cannot rasterize a drawing scaled below a pixel (a ~12,000-node chain)."""
    fake = tmp_path / "graphviz-pure"
    fake.write_text("#!/bin/sh\necho 'Error: <stdin>: Rendering error: rasterizing the SVG: SVG has an "
                    "invalid size' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv(render.ENV_VAR, str(fake))
    expected = rf"too large for a 'png' image within {render.PNG_MAX_SIDE} pixels.*'svg'"
    with pytest.raises(ValueError, match=expected):
        drawing().pipe(format="png", quiet=True)
    with pytest.raises(graphviz.CalledProcessError):          # without the cap: the program's error
        d = drawing()
        d.graph_attr["size"] = "1,1"
        d.pipe(format="png", quiet=True)
