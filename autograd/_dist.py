"""The installed distribution: its version, and a check that HIPS autograd is not mixed in.

chainrule's top-level package `autograd` has the name of another project's package (HIPS
autograd, `pip install autograd`). pip installs both into the same folder, each overwriting the
other's files, and neither works afterwards; `check_install()` turns that into a clear ImportError.
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

DIST = "chainrule"
# files only HIPS autograd has (its wheel's autograd/ folder); chainrule has none of these names
HIPS_FILES = ("differential_operators.py", "tracer.py", "wrap_util.py", "numpy/numpy_vjps.py")


def version() -> str:
    """The installed chainrule version, or "0+unknown" when run from a checkout not installed."""
    try:
        return importlib.metadata.version(DIST)
    except importlib.metadata.PackageNotFoundError:
        return "0+unknown"


def check_install(package_dir: str | Path | None = None) -> None:
    """Raise ImportError if HIPS autograd's files sit beside chainrule's in the `autograd` folder."""
    folder = Path(package_dir) if package_dir is not None else Path(__file__).resolve().parent
    found = [name for name in HIPS_FILES if (folder / name).exists()]
    if found:
        raise ImportError(
            f"{folder} holds chainrule's `autograd` package mixed with files of HIPS autograd "
            f"(the PyPI project 'autograd': {', '.join(found)}). Both install a top-level package "
            "named `autograd` and overwrite each other's files, so neither works. Fix: "
            "`pip uninstall -y autograd chainrule`, then reinstall the one you want "
            "(`pip install chainrule`, or `pip install -e .` in a checkout); to use both, install "
            "them in separate virtual environments.")


check_install()         # on import: `from autograd._dist import __version__` in each package
__version__ = version()
