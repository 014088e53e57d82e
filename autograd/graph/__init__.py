"""Seeing the graph: `draw_graph`, gradient-flow recording, and a step-by-step backward.

    loss = model_loss(...)
    with ag.record_grad_norms():          # store each node's gradient statistics
        loss.backward()
    ag.draw_graph(loss, params=model)     # a graphviz.Digraph: Jupyter shows it inline
    ag.explain_backward(loss)             # prints the chain rule, operation by operation

The package only reads the graph (Node.parents, .name, .shape, .dtype, .ans, .scope) and
writes into `node.meta` through the observer hooks. Every walk is a loop, never recursion.
By concern:

    stats.py     gradient bands, tensor statistics, record_grad_norms / record_values
    model.py     GraphModel: one walk of the graph, names, module placement, collapsing
    dot.py       draw_graph: the DOT text, in phases (nodes, edges, clusters)
    drawing.py   GraphDrawing: the returned graphviz.Digraph, with install advice
    explain.py   explain_backward
    views.py     what each drawn thing shows (labels, fills, tooltips, module health)
    explorer.py  explore: the interactive HTML page (explorer.js draws it)
"""

# every name autograd.graph had when it was one file stays importable from here
from .dot import _Dot, _esc, _group_attrs, _legend_lines, _node_attrs, _q, _range_text, draw_graph  # noqa: F401
from .drawing import _INSTALL_ADVICE, GraphDrawing, GraphvizNotInstalled, _with_advice  # noqa: F401
from .explain import Explanation, _incoming, _norm, _symbols, explain_backward  # noqa: F401
from .explorer import GraphExplorer, explore  # noqa: F401
from .model import GraphModel, _as_roots, _grad_stats, _key, _Names, _value_stats, _walk  # noqa: F401
from .stats import (  # noqa: F401
    _BAND_COLOUR,
    _DTYPE_NAMES,
    _NO_GRAD_FILL,
    _SMALL,
    GRAD_BANDS,
    NONFINITE_COLOUR,
    _array,
    _fmt,
    _stats,
    _stats_lines,
    _value_summary,
    grad_band,
    record_grad_norms,
    record_values,
)

__all__ = ["draw_graph", "explain_backward", "record_grad_norms", "record_values", "grad_band",
           "GRAD_BANDS", "NONFINITE_COLOUR", "GraphDrawing", "explore", "GraphExplorer"]
