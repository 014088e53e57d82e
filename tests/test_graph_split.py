"""autograd.graph is a package split by concern; everything the single module offered stays."""

import ast
import importlib
from pathlib import Path

import autograd.graph as graph

# the module-level names of autograd/graph.py before the split (785 lines, one file)
OLD_NAMES = [
    "GRAD_BANDS", "NONFINITE_COLOUR", "_NO_GRAD_FILL", "_BAND_COLOUR", "_SMALL", "_INSTALL_ADVICE",
    "grad_band", "_array", "_DTYPE_NAMES", "_stats", "_fmt", "_stats_lines", "_value_summary",
    "record_grad_norms", "record_values", "GraphvizNotInstalled", "_with_advice", "GraphDrawing",
    "_as_roots", "_Names", "_key", "_esc", "_q", "_walk", "_legend_lines", "_range_text",
    "draw_graph", "_grad_stats", "_value_stats", "_node_attrs", "_group_attrs", "explain_backward",
    "_norm", "_incoming", "_symbols"]


def test_every_name_of_the_old_module_is_importable_from_the_package():
    missing = [n for n in OLD_NAMES if not hasattr(graph, n)]
    assert missing == []
    assert set(graph.__all__) >= {"draw_graph", "explain_backward", "record_grad_norms",
                                  "record_values", "grad_band", "GRAD_BANDS", "NONFINITE_COLOUR",
                                  "GraphDrawing"}


def test_the_public_functions_are_the_ones_autograd_exports():
    import autograd as ag
    assert ag.draw_graph is graph.draw_graph and ag.explain_backward is graph.explain_backward
    assert ag.record_grad_norms is graph.record_grad_norms


def test_each_part_reads_in_one_sitting():
    root = Path(graph.__file__).parent
    for path in root.glob("*.py"):
        text = path.read_text()
        assert len(text.splitlines()) <= 450, path.name
        for fn in ast.walk(ast.parse(text)):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                doc = fn.body[0] if isinstance(fn.body[0], ast.Expr) else None
                skip = 0 if doc is None else doc.end_lineno - doc.lineno + 1
                length = fn.end_lineno - fn.lineno + 1 - skip     # code, not docstring
                assert length <= 65, f"{path.name}: {fn.name} has {length} lines of code"


def test_graph_drawing_lives_in_one_file_of_the_package():
    drawing = importlib.import_module("autograd.graph.drawing")
    assert graph.GraphDrawing is drawing.GraphDrawing
    assert graph.GraphvizNotInstalled is drawing.GraphvizNotInstalled
