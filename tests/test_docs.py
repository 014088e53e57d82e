"""The documentation runs and stays inside the repository.

Every ```python block of README.md and docs/*.md is executed, each block in a fresh namespace
(a page's blocks run one after another in one subprocess per page, with the repository on
PYTHONPATH and a temporary working directory, so files a block writes go there). Blocks that
render a graph need a Graphviz renderer, as `draw_graph(...).render` does.

Every Markdown file's relative links resolve to files inside the repository (no `../shared`),
and their `#anchors` name a heading of the target page.
"""

from __future__ import annotations

import functools
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
REFERENCE = [ROOT / "docs" / f"{name}.md" for name in ("autograd", "nn", "optim")]
# pages other branches add in parallel; the docs index links them before they are merged here
PARALLEL_PAGES = {f"docs/{name}.md" for name in
                  ("install", "guarantees", "pytorch", "layers", "monitor", "explorer")}

FENCE = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.S | re.M)

RUNNER = r"""
import contextlib, io, json, sys, traceback
blocks = json.load(open(sys.argv[1]))
errors = []
for code in blocks:
    namespace = {"__name__": "__doc_block__"}
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(code, "<doc block>", "exec"), namespace)
        errors.append(None)
    except BaseException:
        errors.append(traceback.format_exc())
json.dump(errors, open(sys.argv[2], "w"))
"""


def python_blocks(page: Path) -> list[tuple[int, str]]:
    """(line number of the fence, code) for every ```python block of `page`."""
    text = page.read_text()
    return [(text.count("\n", 0, m.start()) + 1, m.group(1)) for m in FENCE.finditer(text)]


BLOCKS = [(page, i, line) for page in PAGES for i, (line, _) in enumerate(python_blocks(page))]


@functools.cache
def run_page(page: Path, workdir: Path) -> list[str | None]:
    """Run every block of `page` in one fresh interpreter; the traceback of each failure."""
    blocks = [code for _, code in python_blocks(page)]
    workdir.mkdir(parents=True, exist_ok=True)
    src, result = workdir / "blocks.json", workdir / "errors.json"
    src.write_text(json.dumps(blocks))
    env = dict(os.environ, MPLBACKEND="Agg",
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, "-c", RUNNER, str(src), str(result)], cwd=workdir,
                          env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"the block runner failed for {page.name}:\n{proc.stderr}"
    return json.loads(result.read_text())


@functools.cache
def _matplotlib_imports() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.fixture(scope="session")
def docs_workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("doc_blocks")


@pytest.mark.parametrize(("page", "index", "line"), BLOCKS,
                         ids=[f"{p.relative_to(ROOT)}:{line}" for p, _, line in BLOCKS])
def test_python_block_runs(page: Path, index: int, line: int, docs_workdir: Path) -> None:
    errors = run_page(page, docs_workdir / page.relative_to(ROOT).as_posix().replace("/", "_"))
    if errors[index] is not None and "matplotlib" in errors[index].splitlines()[-1] \
            and not _matplotlib_imports():
        pytest.skip("the block draws with matplotlib, which cannot be imported here (NumPy < 1.25)")
    assert errors[index] is None, f"{page.relative_to(ROOT)}, block at line {line}:\n{errors[index]}"


def test_the_pages_have_code_to_run() -> None:
    assert all(python_blocks(page) for page in REFERENCE + [ROOT / "README.md"])
    assert len(BLOCKS) >= 40


def test_every_reference_section_has_an_example() -> None:
    """Each `## ` section of the API reference pages shows a runnable example, except the
    closing 'Beyond this page' pointers."""
    for page in REFERENCE:
        sections = re.split(r"^## ", page.read_text(), flags=re.M)[1:]
        for section in sections:
            title = section.splitlines()[0]
            if title.startswith("Beyond this page"):
                continue
            assert FENCE.search(section), f"{page.name}: section '{title}' has no ```python example"


# ---------------------------------------------------------------- links

LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE_LINK = re.compile(r"^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+\"[^\"]*\")?\s*$", re.M)
HTML_LINK = re.compile(r"""(?:href|src)\s*=\s*["']([^"']+)["']""")
FENCED = r"^(`{3,}|~{3,}).*?^\1[ \t]*$"
CODE = re.compile(FENCED + r"|`[^`\n]*`", re.S | re.M)


def markdown_files() -> list[Path]:
    skip = {".git", "out", "node_modules", "build", "dist"}
    return sorted(p for p in ROOT.rglob("*.md")
                  if not any(part in skip or part.startswith(".") for part in p.relative_to(ROOT).parts[:-1]))


def links(page: Path) -> list[str]:
    text = CODE.sub("", page.read_text())
    return LINK.findall(text) + REFERENCE_LINK.findall(text) + HTML_LINK.findall(text)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = re.sub(FENCED, "", page.read_text(), flags=re.S | re.M)
    return {slug(h) for h in re.findall(r"^#{1,6}\s+(.*?)\s*#*\s*$", text, flags=re.M)}


def test_markdown_links_stay_inside_the_repository() -> None:
    problems = []
    pages = markdown_files()
    assert ROOT / "README.md" in pages and ROOT / "docs" / "README.md" in pages
    for page in pages:
        where = page.relative_to(ROOT)
        for target in links(page):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):     # http:, https:, mailto:
                continue
            path, _, anchor = target.partition("#")
            dest = (page.parent / path).resolve() if path else page
            if not dest.is_relative_to(ROOT):
                problems.append(f"{where}: {target} points outside the repository")
                continue
            rel = dest.relative_to(ROOT).as_posix()
            if not dest.exists():
                if rel not in PARALLEL_PAGES:
                    problems.append(f"{where}: {target} does not exist")
                continue
            if anchor and dest.suffix == ".md" and anchor not in anchors(dest):
                problems.append(f"{where}: {target}: no heading '#{anchor}' in {rel}")
    assert not problems, "\n".join(problems)


def test_no_reference_to_the_contract_outside_the_repository() -> None:
    files = markdown_files() + sorted((ROOT / "examples").glob("*.py"))
    offenders = [str(p.relative_to(ROOT)) for p in files
                 if re.search(r"\.\./shared|/shared/API", p.read_text())]
    assert not offenders


def test_the_docs_index_links_every_page() -> None:
    index = {link.partition("#")[0] for link in links(ROOT / "docs" / "README.md")}
    pages = {p.name for p in (ROOT / "docs").glob("*.md")} - {"README.md"}
    pages |= {Path(p).name for p in PARALLEL_PAGES}
    assert pages <= index, f"docs/README.md does not link {sorted(pages - index)}"
    readme = {link.partition("#")[0] for link in links(ROOT / "README.md")}
    assert "docs/README.md" in readme


def test_link_checker_sees_a_link_outside(tmp_path: Path) -> None:
    """The link patterns find inline, reference and image links, and skip code."""
    page = tmp_path / "page.md"
    page.write_text("[a](../shared/API.md) ![b](pic.png \"t\")\n[c]: other.md#x\n"
                    "`[not](code.md)`\n```\n[nor](fenced.md)\n```\n")
    assert links(page) == ["../shared/API.md", "pic.png", "other.md#x"]
    assert slug("Backward and `ag.grad`") == "backward-and-aggrad"


# ---------------------------------------------------------------- README claims

def test_readme_momentum_story_is_what_the_example_computes(tmp_path: Path) -> None:
    """The gallery's account of the momentum figure: steps to f < 1e-6, the step after which
    the steep coordinate stays below 0.01, and the overshoot past the minimum."""
    import importlib.util

    try:
        import matplotlib  # noqa: F401      # the example draws its figures
    except ImportError:     # CI's NumPy 1.24 run: matplotlib needs NumPy >= 1.25
        pytest.skip("matplotlib cannot be imported here")
    spec = importlib.util.spec_from_file_location("example_momentum", ROOT / "examples" / "momentum.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    r = module.main(["--quick", "--out", str(tmp_path)])
    assert r["quadratic_steps"] == {"plain SGD": 346, "momentum 0.9": 114, "Nesterov 0.9": 96}
    assert r["steep_settled"] == {"plain SGD": 4, "momentum 0.9": 98, "Nesterov 0.9": 21}
    assert r["overshoot"] == {"plain SGD": 0.0, "momentum 0.9": 3.08, "Nesterov 0.9": 2.35}
    readme = " ".join(ROOT.joinpath("README.md").read_text().split())
    for claim in ("plain SGD needs **346** steps", "momentum 0.9 needs 114 and Nesterov 96",
                  "p1 is below 0.01 from step 4 on", "p1 swings until step 98",
                  "overshoots the minimum to 3.1", "settles p1 by step 21 (overshoot 2.35)"):
        assert claim in readme, claim
