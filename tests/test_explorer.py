"""ag.explore without a browser: a self-contained page with the graph's data."""

import json
import re

import numpy as np
import pytest

import autograd as ag
import nn


def page_data(page: str) -> dict:
    text = re.search(r'<script id="graph-data" type="application/json">(.*?)</script>', page, re.S)
    return json.loads(text.group(1).replace("<\\/", "</"))


def small_model():
    model = nn.Sequential(nn.Dense(4, 8, activation="relu", rng=0), nn.Dense(8, 8, activation="relu", rng=1),
                          nn.Dense(8, 8, activation="relu", rng=2), nn.Dense(8, 2, rng=3))
    x = ag.tensor(np.random.default_rng(0).standard_normal((3, 4)))
    with ag.record_values():
        loss = nn.functional.cross_entropy(model(x), np.array([0, 1, 1]))
    with ag.record_grad_norms():
        loss.backward()
    return model, loss


def test_the_page_is_self_contained_and_names_no_url_but_the_svg_namespace(tmp_path):
    model, loss = small_model()
    ex = ag.explore(loss, params=model, path=tmp_path / "g.html")
    text = (tmp_path / "g.html").read_text()
    assert text == ex.html and text.startswith("<!DOCTYPE html>")
    assert set(re.findall(r"(?:https?:)?//[\w.-]+\.\w+[\w/.-]*", text)) == {"http://www.w3.org/2000/svg"}
    assert "<script src" not in text and "<link" not in text and "@import" not in text


def test_the_data_holds_nodes_edges_modules_and_the_rolled_up_run():
    model, loss = small_model()
    data = page_data(ag.explore(loss, params=model).html)
    names = [c["n"] for c in data["clusters"]]
    assert names == ["Sequential", "0 (Dense)", "1 (Dense)", "2 (Dense)", "3 (Dense)"]
    (run,) = data["runs"]
    assert [names[j] for j in run["members"]] == ["1 (Dense)", "2 (Dense)"]
    assert run["l"][0] == "Dense(8, 8, activation='relu') x 2"
    labels = [n["l"][0] for n in data["nodes"]]
    assert labels.count("input") == 2                       # the batch and the targets
    assert {"0.weight", "3.bias", "affine+relu", "affine"} <= set(labels)
    assert len(data["edges"]) == 2 + 3 * 3 + 1 + 2         # W, b; 3 Dense (h, W, b); loss; 2 inputs
    out = [n for n in data["nodes"] if n["o"]]
    assert len(out) == 1 and out[0]["l"][:2] == ["output", "softmax_cross_entropy[mean]"]
    w0 = data["nodes"][labels.index("0.weight")]
    assert names[w0["c"]] == "0 (Dense)" and any(t.startswith("gradient [") for t in w0["t"])
    assert data["depth"] == 1 and data["steps"] == [] and data["health"] == []


def test_without_roll_up_there_is_no_run_and_depth_is_respected():
    model, loss = small_model()
    data = page_data(ag.explore(loss, params=model, roll_up=False, depth=0).html)
    assert data["runs"] == [] and data["depth"] == 0


def test_jupyter_shows_the_page_in_an_iframe_and_the_repr_is_short():
    model, loss = small_model()
    ex = ag.explore(loss, params=model)
    html = ex._repr_html_()
    assert html.startswith('<iframe srcdoc="&lt;!DOCTYPE html&gt;') and "<script" not in html
    assert repr(ex).startswith("<GraphExplorer: ")


def test_monitor_steps_and_health_reach_the_page():
    from test_graph_rollup import FakeMonitor
    model, loss = small_model()
    names = [n for n, _ in model.named_modules()]
    mon = FakeMonitor(names, [0, 5], {(5, "2"): "exploding"})
    data = page_data(ag.explore(loss, params=model, monitor=mon).html)
    assert data["steps"] == [0, 5]
    j = [c["n"] for c in data["clusters"]].index("2 (Dense)")
    assert data["health"][0][str(j)][0] == "ok" and data["health"][1][str(j)][0] == "exploding"
    assert data["health"][1][str(j)][1][0] == "health of 2 at step 5: exploding"
    with pytest.raises(TypeError, match="monitor must be"):
        ag.explore(loss, monitor=[1, 2])


def test_the_examples_in_docs_explorer_md_run():
    from pathlib import Path
    text = (Path(__file__).parent.parent / "docs" / "explorer.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(blocks) == 3
    for block in blocks:
        exec(compile(block, "docs/explorer.md", "exec"), {"__name__": "docs_explorer"})


def test_bad_arguments_are_refused():
    model, loss = small_model()
    with pytest.raises(ValueError, match="depth must be None or an int"):
        ag.explore(loss, params=model, depth=-1)
    with pytest.raises(TypeError, match="root must be a Tensor"):
        ag.explore(np.ones(3))
    with pytest.raises(TypeError, match="params must be"):
        ag.explore(loss, params=[1])
