"""Packaging: versions, typing markers, licence metadata, and the clash with HIPS autograd."""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:                # Python 3.10: the dev extra installs tomli
    import tomli as tomllib

import autograd
import nn
import optim
from autograd import _dist

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_each_package_has_the_distribution_version():
    try:
        expected = importlib.metadata.version("chainrule")
    except importlib.metadata.PackageNotFoundError:     # a checkout that is not installed
        expected = "0+unknown"
    assert autograd.__version__ == nn.__version__ == optim.__version__ == expected
    assert expected == "0+unknown" or expected == PYPROJECT["project"]["version"]


def test_version_without_installed_metadata(monkeypatch):
    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)
    monkeypatch.setattr(importlib.metadata, "version", missing)
    assert _dist.version() == "0+unknown"


def test_py_typed_markers_are_shipped():
    data = PYPROJECT["tool"]["setuptools"]["package-data"]
    for pkg in ("autograd", "nn", "optim"):
        assert (ROOT / pkg / "py.typed").is_file(), pkg
        assert "py.typed" in data[pkg], pkg


def test_licence_file_and_metadata_agree():
    assert PYPROJECT["project"]["license"] == "MIT"
    assert PYPROJECT["project"]["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License") and "WITHOUT WARRANTY OF ANY KIND" in text


# ---------------------------------------------------------------- HIPS autograd in the same folder

def copy_packages(site: Path, *names: str) -> None:
    for name in names:
        shutil.copytree(ROOT / name, site / name, ignore=shutil.ignore_patterns("__pycache__"))


def run_import(site: Path, statement: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(site))
    return subprocess.run([sys.executable, "-c", statement], cwd=site, env=env, capture_output=True,
                          text=True, timeout=120)


def test_clean_copy_imports(tmp_path):
    copy_packages(tmp_path, "autograd", "nn", "optim")
    out = run_import(tmp_path, "import autograd, nn, optim; print(autograd.__file__)")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(tmp_path / "autograd" / "__init__.py")


@pytest.mark.parametrize("hips_file", _dist.HIPS_FILES)
def test_hips_files_beside_ours_raise_a_clear_import_error(tmp_path, hips_file):
    """chainrule installed over HIPS autograd: our __init__.py, HIPS's other modules still there."""
    copy_packages(tmp_path, "autograd")
    fake = tmp_path / "autograd" / hips_file
    fake.parent.mkdir(exist_ok=True)
    fake.write_text("# a module of HIPS autograd\n")
    out = run_import(tmp_path, "import autograd")
    assert out.returncode == 1
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: ") and "HIPS autograd" in last and hips_file in last
    assert "pip uninstall -y autograd chainrule" in last and "separate virtual environments" in last


@pytest.mark.parametrize("package", ["nn", "optim"])
def test_hips_init_over_ours_is_caught_by_nn_and_optim(tmp_path, package):
    """HIPS autograd installed over chainrule: its __init__.py replaced ours, `import nn` says so."""
    copy_packages(tmp_path, "autograd", package)
    (tmp_path / "autograd" / "__init__.py").write_text("from .differential_operators import grad\n")
    (tmp_path / "autograd" / "differential_operators.py").write_text("def grad(f):\n    return f\n")
    assert run_import(tmp_path, "import autograd; autograd.grad").returncode == 0    # HIPS's works
    out = run_import(tmp_path, f"import {package}")
    assert out.returncode == 1
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: ") and "not chainrule's" in last and "HIPS autograd" in last
    assert "pip uninstall -y autograd chainrule" in last
