"""examples/tour.ipynb runs headless, cell by cell, and its drawing cells display SVG.

The notebook is executed with nbclient on a `python3` kernel that is this interpreter: a kernel
spec written to a temporary JUPYTER_PATH directory (searched before any user-installed spec)
runs `sys.executable -m ipykernel_launcher`, so no `ipykernel install` is needed. The kernel
starts in a temporary directory with the repository on PYTHONPATH. Drawing cells need a
Graphviz renderer, as `draw_graph(...)`'s inline display does.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import nbclient  # the dev extra installs nbclient, nbformat and ipykernel
import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
TOUR = ROOT / "examples" / "tour.ipynb"


def kernel_on_this_interpreter(home: Path) -> None:
    """A `python3` kernel spec under `home/kernels` that runs sys.executable."""
    spec_dir = home / "kernels" / "python3"
    spec_dir.mkdir(parents=True)
    spec = {"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "Python 3 (chainrule tests)", "language": "python"}
    (spec_dir / "kernel.json").write_text(json.dumps(spec))


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory) -> object:
    from jupyter_client.kernelspec import KernelSpecManager

    home = tmp_path_factory.mktemp("jupyter")
    kernel_on_this_interpreter(home)
    workdir = tmp_path_factory.mktemp("tour")
    saved = {k: os.environ.get(k) for k in ("JUPYTER_PATH", "PYTHONPATH", "MPLBACKEND")}
    os.environ["JUPYTER_PATH"] = os.pathsep.join([str(home), os.environ.get("JUPYTER_PATH", "")])
    os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    os.environ["MPLBACKEND"] = "Agg"
    try:
        spec = KernelSpecManager().get_kernel_spec("python3")
        assert spec.argv[0] == sys.executable, spec.argv      # the kernel is this interpreter
        nb = nbformat.read(TOUR, as_version=4)
        client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                         resources={"metadata": {"path": str(workdir)}})
        client.execute()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return nb


def code_cells(nb: object) -> list:
    return [c for c in nb.cells if c.cell_type == "code"]


def test_committed_with_outputs_cleared() -> None:
    nb = nbformat.read(TOUR, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "python3"
    for cell in code_cells(nb):
        assert cell.outputs == [] and cell.execution_count is None, cell.source[:60]


def test_every_cell_runs_without_error(executed: object) -> None:
    cells = code_cells(executed)
    assert len(cells) >= 10
    for cell in cells:
        assert cell.execution_count is not None
        errors = [o for o in cell.outputs if o.output_type == "error"]
        assert not errors, f"{cell.source[:60]!r}: {errors[0].ename}: {errors[0].evalue}"


def test_drawing_cells_display_svg(executed: object) -> None:
    drawing = [c for c in code_cells(executed) if c.source.splitlines()[-1].startswith("ag.draw_graph(")]
    assert len(drawing) == 4
    for cell in drawing:
        svg = [o.data["image/svg+xml"] for o in cell.outputs
               if o.output_type == "execute_result" and "image/svg+xml" in o.data]
        assert svg and "<svg" in svg[0], cell.source[-60:]
    # the neuron after backward: leaves carry their gradient norm; the digits model is named
    # by parameter and clustered by layer; the deep sigmoid stack shows a vanishing gradient
    neuron, model, deep = (drawing[1].outputs[-1].data["image/svg+xml"],
                           drawing[2].outputs[-1].data["image/svg+xml"],
                           drawing[3].outputs[-1].data["image/svg+xml"])
    assert "grad" in neuron and "0.weight" in model and "2.bias" in model
    assert "#6fa8dc" in deep                # the fill of the vanishing band (< 1e-6)


def test_the_tour_tells_what_it_shows(executed: object) -> None:
    text = {i: "".join(o.get("text", "") for o in c.outputs) + "".join(
        o.data.get("text/plain", "") for o in c.outputs if "data" in o)
        for i, c in enumerate(code_cells(executed))}
    joined = "\n".join(text.values())
    assert "backward of L" in joined and "to w: dL/dw" in joined        # explain_backward ran
    assert joined.count("backward of L") == 1                           # printed once
    assert "autograd -0.438301   by hand -0.438301" in joined          # dL/dx = dL/dz * w
    assert "False" in joined and "analytical" in joined                # the wrong Function caught
    epochs = [line for line in joined.splitlines() if line.startswith("epoch 5:")]
    assert epochs and float(epochs[0].rsplit("accuracy ", 1)[1].rstrip("%")) > 95
    first = [line for line in joined.splitlines() if line.startswith("gradient norm of the first")]
    assert first and float(first[0].split(": ")[1].split(",")[0]) < 1e-6
