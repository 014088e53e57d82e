"""Leaves the user no longer holds, inputs under collapse, and explain_backward in a REPL."""

import io
import re
import subprocess
import sys

import numpy as np

import autograd as ag


def node_labels(src: str) -> dict:
    return {k: v.split("\\n") for k, v in
            re.findall(r'^(n\d+|m\d+|n\d+c\d+) \[label="((?:[^"\\]|\\.)*)"', src, flags=re.M)}


def test_an_inline_named_leaf_keeps_its_name_after_the_tensor_is_gone():
    x = ag.tensor([1.0, 2.0], requires_grad=True, name="x")
    loss = (x * ag.tensor(2.0, requires_grad=True, name="k")).sum()    # k is not held
    labels = node_labels(ag.draw_graph(loss).source)
    assert ["k", "()"] in labels.values()
    assert ["x", "(2,)"] in labels.values()


def test_record_values_keeps_the_value_of_a_leaf_the_user_dropped():
    x = ag.tensor([1.0, 2.0], requires_grad=True, name="x")
    with ag.record_values():
        loss = (x * ag.tensor([3.0, -4.0], requires_grad=True, name="k")).sum()
    src = ag.draw_graph(loss, show_data=True).source
    assert ["k", "(2,)", "[3, -4]"] in node_labels(src).values()
    k_line = next(line for line in src.splitlines() if 'label="k' in line)
    assert "value: shape (2,), float32\\nnorm 5, min -4, max 3" in k_line


def test_collapse_modules_keeps_the_input_batch_node():
    w = ag.tensor(np.ones((3, 2)), requires_grad=True, name="w")
    batch = np.arange(15.0).reshape(5, 3)
    with ag.record_values():
        with ag.scope("layer"):
            h = ag.affine(batch, w)
        loss = (h * h).sum()
    src = ag.draw_graph(loss, collapse_modules=True).source
    labels = node_labels(src)
    (inp,) = [k for k, lab in labels.items() if lab[0] == "input"]
    assert labels[inp] == ["input", "(5, 3)"]
    (group,) = [k for k, lab in labels.items() if lab[0] == "layer"]
    assert (inp, group) in re.findall(r"^(\w+) -> (\w+)$", src, flags=re.M)
    plain = node_labels(ag.draw_graph(loss).source)                     # without collapsing too
    assert sum(lab[0] == "input" for lab in plain.values()) == 1


def test_explain_backward_returns_the_text_with_a_short_repr():
    w = ag.tensor(2.0, requires_grad=True, name="w")
    out = io.StringIO()
    text = ag.explain_backward(w * 3.0, file=out)
    assert text == out.getvalue() and isinstance(text, str)
    assert repr(text) == "<explain_backward: 2 steps, printed above; str(...) for the text>"
    assert "dL/dw" not in repr(text)


def test_explain_backward_prints_once_in_an_interactive_session():
    code = ("import autograd as ag\n"
            "w = ag.tensor(2.0, requires_grad=True, name='w')\n"
            "ag.explain_backward(w * 3.0)\n")
    out = subprocess.run([sys.executable, "-i", "-q"], input=code, capture_output=True, text=True,
                         timeout=60, cwd=".", env={"PYTHONPATH": ".", "PATH": ""}).stdout
    assert out.count("[1] L = multiply(w, const)") == 1
    assert "printed above" in out
