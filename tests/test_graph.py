"""Tests of the graph viewer: draw_graph, record_grad_norms, record_values, explain_backward."""

import io
import re
import sys
import xml.etree.ElementTree as ET

import graphviz
import numpy as np
import pytest

import autograd as ag
from autograd.graph import GRAD_BANDS, NONFINITE_COLOUR, grad_band
from autograd.tensor import Observer

COLOUR = {name: colour for name, _, _, colour in GRAD_BANDS}
SVG = "{http://www.w3.org/2000/svg}"
XLINK = "{http://www.w3.org/1999/xlink}"


# ---------------------------------------------------------------- helpers

def dot_nodes(source: str) -> dict:
    """{node id: attribute text} of the node statements in DOT source."""
    return dict(re.findall(r"^(n\d+|m\d+|legend) \[(.*)\]$", source, flags=re.M))


def dot_edges(source: str) -> list:
    return re.findall(r"^(\w+) -> (\w+)$", source, flags=re.M)


def label(attrs: str) -> list:
    if "label=<" in attrs:                              # the legend's HTML table
        return []
    return re.search(r'label="((?:[^"\\]|\\.)*)"', attrs).group(1).split("\\n")


def svg_of(dot: graphviz.Digraph) -> ET.Element:
    return ET.fromstring(dot.pipe(format="svg", encoding="utf-8"))


def svg_nodes(root: ET.Element) -> dict:
    """{node id: {"fill", "texts", "tooltip"}} for every `class="node"` group of an SVG."""
    out = {}
    for g in root.iter(f"{SVG}g"):
        if g.get("class") != "node":
            continue
        name = g.find(f"{SVG}title").text
        shape = next((e for e in g.iter() if e.tag in (f"{SVG}polygon", f"{SVG}ellipse", f"{SVG}path")), None)
        link = next((e for e in g.iter(f"{SVG}a")), None)
        out[name] = {"fill": None if shape is None else shape.get("fill"),
                     "texts": [t.text for t in g.iter(f"{SVG}text")],
                     "tooltip": None if link is None else link.get(f"{XLINK}title")}
    return out


def svg_clusters(root: ET.Element) -> dict:
    """{cluster label: set of node ids drawn inside it (nested clusters included)}."""
    out = {}
    for g in root.iter(f"{SVG}g"):
        if g.get("class") == "cluster":
            text = " ".join(t.text for t in g.iter(f"{SVG}text"))
            out[text] = g.find(f"{SVG}title").text
    return out


def cluster_members(dot_source: str) -> dict:
    """{cluster label: node ids declared inside it, nested ones included}, from DOT source."""
    members: dict = {}
    stack: list = []
    for line in dot_source.splitlines():
        if line.startswith("subgraph cluster_"):
            stack.append(None)
        elif line.startswith("label=") and stack and stack[-1] is None:
            stack[-1] = re.match(r'label="([^"]*)"', line).group(1)
            members[stack[-1]] = []
        elif line == "}" and stack:
            stack.pop()
        else:
            m = re.match(r"^(n\d+|m\d+) \[", line)
            if m:
                for lab in stack:
                    members[lab].append(m.group(1))
    return members


def node_by_label(nodes: dict, *parts: str) -> list:
    return [k for k, a in nodes.items() if all(p in label(a) for p in parts)]


# Small hand-written modules that scope their forward with ag.scope (what draw_graph clusters
# by), on float64 weights from one Generator. nn.Dense is not used here on purpose: it fuses
# the activation into its affine node, and these tests count and colour the activation's own
# node (the nn.Sequential test below covers the real modules).

class Dense:
    def __init__(self, n_in: int, n_out: int, rng: np.random.Generator, activation=None,
                 gain: float = 1.0) -> None:
        self.weight = ag.tensor(rng.standard_normal((n_in, n_out)) * gain / np.sqrt(n_in),
                                requires_grad=True)
        self.bias = ag.zeros(n_out, dtype=np.float64, requires_grad=True)
        self.activation = activation

    def __call__(self, x):
        with ag.scope(self):
            y = ag.affine(x, self.weight, self.bias)
            return y if self.activation is None else self.activation(y)

    def named_parameters(self):
        yield "weight", self.weight
        yield "bias", self.bias

    def parameters(self):
        return [p for _, p in self.named_parameters()]


class MLP:
    def __init__(self, sizes: list, rng: np.random.Generator, activation=ag.relu, gain=1.0) -> None:
        n = len(sizes) - 1
        self.layers = [Dense(sizes[i], sizes[i + 1], rng, activation if i < n - 1 else None, gain)
                       for i in range(n)]

    def __call__(self, x):
        with ag.scope(self):
            for layer in self.layers:
                x = layer(x)
            return x

    def named_modules(self):
        yield "", self
        for i, layer in enumerate(self.layers):
            yield f"layers.{i}", layer

    def named_parameters(self):
        for i, layer in enumerate(self.layers):
            for name, p in layer.named_parameters():
                yield f"layers.{i}.{name}", p

    def parameters(self):
        return [p for _, p in self.named_parameters()]


def three_layer_loss(seed: int = 0):
    rng = np.random.default_rng(seed)
    model = MLP([4, 8, 8, 3], rng)
    x = ag.tensor(rng.standard_normal((5, 4)))
    labels = rng.integers(0, 3, 5)
    loss = ag.softmax_cross_entropy(model(x), labels).mean()
    return model, loss


# ---------------------------------------------------------------- structure

def test_one_node_per_operation_and_leaf_with_data_flow_edges():
    w = ag.tensor([1.0, 2.0], requires_grad=True, name="w")
    b = ag.tensor(0.5, requires_grad=True, name="b")
    y = (w * 3.0 + b).sum()
    src = ag.draw_graph(y).source
    nodes = dot_nodes(src)
    assert len(nodes) == 5                      # w, b, multiply, add, sum (no grads: no legend)
    ids = {label(a)[0] if "output" not in label(a) else "sum": k for k, a in nodes.items()}
    assert label(nodes[ids["w"]])[:2] == ["w", "(2,)"]
    assert label(nodes[ids["b"]])[:2] == ["b", "()"]
    assert label(nodes[ids["sum"]])[:3] == ["output", "sum", "()"]
    edges = set(dot_edges(src))
    assert edges == {(ids["w"], ids["multiply"]), (ids["multiply"], ids["add"]),
                     (ids["b"], ids["add"]), (ids["add"], ids["sum"])}
    assert "peripheries=2" in nodes[ids["sum"]]
    assert "peripheries=2" not in nodes[ids["add"]]
    assert "shape=ellipse" in nodes[ids["w"]] and "shape=box" in nodes[ids["add"]]


def test_diamond_graph_draws_shared_node_once():
    a = ag.tensor([1.0, 2.0], requires_grad=True, name="a")
    b = a + a
    c = (b * b).sum()
    src = ag.draw_graph(c).source
    nodes = dot_nodes(src)
    assert len(nodes) == 4                      # a, add, multiply, sum
    (a_id,) = node_by_label(nodes, "a")
    (add_id,) = node_by_label(nodes, "add")
    (mul_id,) = node_by_label(nodes, "multiply")
    edges = dot_edges(src)
    assert edges.count((a_id, add_id)) == 2     # each use of an input is one edge
    assert edges.count((add_id, mul_id)) == 2


def test_node_ids_are_stable_between_calls():
    w = ag.tensor([1.0, 2.0], requires_grad=True, name="w")
    y = ag.tanh(w * w).sum()
    assert ag.draw_graph(y).source == ag.draw_graph(y).source


def test_leaf_names_from_params_dict_then_tensor_name_then_shape():
    w = ag.tensor(np.ones((3, 3)), requires_grad=True, name="from_tensor")
    v = ag.tensor(np.ones(3), requires_grad=True, name="ignored")
    u = ag.tensor(np.ones((7, 3)), requires_grad=True)
    y = (ag.matmul(u[:2], w) * v).sum()
    nodes = dot_nodes(ag.draw_graph(y, params={"param_v": v}).source)
    labels = [label(a) for a in nodes.values()]
    assert ["from_tensor", "(3, 3)", "float64"] in labels
    assert ["param_v", "(3,)", "float64"] in labels
    assert ["(7, 3)", "float64"] in labels       # unnamed leaf: its shape
    assert not any("ignored" in lab for lab in labels)


def test_leaf_names_from_module_named_parameters():
    model, loss = three_layer_loss()
    labels = [label(a)[0] for a in dot_nodes(ag.draw_graph(loss, params=model).source).values()]
    for i in range(3):
        assert f"layers.{i}.weight" in labels and f"layers.{i}.bias" in labels


def test_dtype_shown_only_when_not_default():
    x = ag.tensor([1.0, 2.0], requires_grad=True, name="x")            # float32, the default
    y = (x * 2.0).astype(np.float64).sum()
    nodes = dot_nodes(ag.draw_graph(y).source)
    by_op = {label(a)[0] if label(a)[0] != "output" else label(a)[1]: label(a) for a in nodes.values()}
    assert by_op["multiply"] == ["multiply", "(2,)"]
    assert by_op["sum"] == ["output", "sum", "()", "float64"]


def test_tuple_root_marks_every_output_and_shares_the_graph():
    x = ag.tensor([1.0, 2.0], requires_grad=True, name="x")
    h = ag.exp(x)
    a, b = h.sum(), h.max()
    a.name = "total"
    src = ag.draw_graph((a, b)).source
    nodes = dot_nodes(src)
    assert len(nodes) == 4                      # x, exp, sum, max
    outputs = [label(attrs) for attrs in nodes.values() if "peripheries=2" in attrs]
    assert sorted(lab[:2] for lab in outputs) == [["output", "max"], ["output: total", "sum"]]


def test_leaf_root_and_constant_root_are_drawn():
    x = ag.tensor([1.0, 2.0], requires_grad=True, name="x")
    nodes = dot_nodes(ag.draw_graph(x).source)
    assert [label(a) for a in nodes.values()] == [["output", "x", "(2,)"]]
    c = ag.tensor([3.0])
    assert [label(a) for a in dot_nodes(ag.draw_graph(c).source).values()] == [["output", "(1,)"]]


def test_bad_arguments_are_refused():
    x = ag.tensor([1.0], requires_grad=True)
    with pytest.raises(TypeError, match="root must be a Tensor"):
        ag.draw_graph(np.ones(3))
    with pytest.raises(ValueError, match="rankdir"):
        ag.draw_graph(x, rankdir="up")
    with pytest.raises(TypeError, match="params must be"):
        ag.draw_graph(x, params=[x])


def test_rankdir_reaches_the_dot_source():
    x = ag.tensor([1.0], requires_grad=True)
    assert "rankdir=LR" in ag.draw_graph(x.sum(), rankdir="LR").source


def test_10k_op_chain_gives_dot_source_without_recursion():
    x = ag.tensor(np.ones(4), requires_grad=True, name="x")
    h = x
    for i in range(10_000):
        h = ag.tanh(h) if i % 2 else h * 1.0001        # tanh keeps its output: tooltips have stats
    loss = h.sum()
    with ag.record_grad_norms():
        loss.backward(retain_graph=True)
    assert sys.getrecursionlimit() < 10_000             # a recursive walk would fail here
    src = ag.draw_graph(loss).source                    # its time is measured by bench/graphs.py
    nodes = dot_nodes(src)
    assert len(nodes) == 10_002 + 1                     # ops, x, legend
    assert len(dot_edges(src)) == 10_001


def test_show_data_shows_small_values_and_summaries_where_known():
    x = ag.tensor([1.0, -2.0], requires_grad=True, name="x")
    big = ag.tensor(np.arange(100.0, dtype=np.float32), requires_grad=True, name="big")
    y = ag.exp(x).sum() + (big * 2.0).sum()
    nodes = dot_nodes(ag.draw_graph(y, show_data=True).source)
    (x_id,) = node_by_label(nodes, "x")
    assert label(nodes[x_id]) == ["x", "(2,)", "[1, -2]"]
    (big_id,) = node_by_label(nodes, "big")
    assert label(nodes[big_id])[2] == "[0 .. 99] mean 49.5"
    (exp_id,) = node_by_label(nodes, "exp")                # exp keeps its output
    assert label(nodes[exp_id])[2] == "[2.72, 0.135]"
    (mul_id,) = node_by_label(nodes, "multiply")           # multiply does not: nothing known
    assert label(nodes[mul_id]) == ["multiply", "(100,)"]
    assert label(nodes[node_by_label(nodes, "output")[0]])[3] == "9.9e+03"


# ---------------------------------------------------------------- gradient flow

def test_grad_band_thresholds():
    assert [grad_band(v) for v in (0.0, 9.9e-7, 1e-6, 9.9e-3, 1e-2, 10.0, 10.1, 1e3, 1.1e3)] == [
        "vanishing", "vanishing", "small", "small", "healthy", "healthy", "large", "large",
        "exploding"]
    assert grad_band(float("nan")) == grad_band(float("inf")) == "nonfinite"


def test_record_grad_norms_stores_stats_of_the_gradient_through_each_node():
    x = ag.tensor([1.0, 2.0, 3.0, 4.0], dtype=np.float64, requires_grad=True, name="x")
    y = x * x
    loss = (y * 0.5).sum()
    with ag.record_grad_norms():
        loss.backward()
    mul = y.grad_fn                                     # gradient at y is 0.5 everywhere
    st = mul.meta["grad"]
    assert st["shape"] == (4,) and st["dtype"] == "float64"
    assert st["norm"] == pytest.approx(1.0) and st["mean"] == pytest.approx(0.5)
    assert st["min"] == st["max"] == 0.5 and st["std"] == pytest.approx(0.0)
    leaf = x._leaf.meta["grad"]                         # what reached x: x itself
    assert leaf["norm"] == pytest.approx(np.sqrt(30.0))
    assert leaf["std"] == pytest.approx(np.std([1, 2, 3, 4]))
    assert loss.grad_fn.meta["grad"]["norm"] == 1.0


class Names(Observer):
    """An observer of the backward pass: the name of each node as it runs."""

    def __init__(self) -> None:
        self.seen = []

    def backward(self, node, g, grads):
        self.seen.append(node.name)


def test_record_grad_norms_chains_and_restores_the_previous_recorder():
    from autograd.tensor import STATE
    with Names() as outer:
        x = ag.tensor([1.0], requires_grad=True)
        with ag.record_grad_norms():
            ag.exp(x).sum().backward()
        assert STATE.observers == (outer,)
        assert outer.seen == ["sum", "exp", "leaf"]
    assert STATE.observers == ()


def test_record_grad_norms_works_under_create_graph():
    x = ag.tensor([1.0, 2.0], dtype=np.float64, requires_grad=True)
    y = (x ** 3).sum()
    with ag.record_grad_norms():
        (gx,) = ag.grad(y, x, create_graph=True)
    power = y.grad_fn.parents[0]
    assert power.meta["grad"]["norm"] == pytest.approx(np.sqrt(2.0))
    assert x._leaf.meta["grad"]["norm"] == pytest.approx(np.linalg.norm([3.0, 12.0]))


def test_tiny_and_huge_gradients_get_accurate_norms():
    from autograd.graph import _stats
    tiny = np.full(1000, 1e-25, dtype=np.float32)        # squares underflow in float32
    assert _stats(tiny)["norm"] == pytest.approx(1e-25 * np.sqrt(1000), rel=1e-5)
    huge = np.full(1000, 1e30, dtype=np.float32)          # squares overflow in float32
    assert _stats(huge)["norm"] == pytest.approx(1e30 * np.sqrt(1000), rel=1e-5)
    bad = np.array([1.0, np.nan] * 20)
    assert np.isnan(_stats(bad)["norm"]) and not _stats(bad)["finite"]


def test_leaves_show_the_norm_of_their_grad():
    w = ag.tensor([3.0, 4.0], requires_grad=True, name="w")
    (w * 1.0).sum().backward()
    w.grad = ag.tensor([3.0, 4.0])                       # norm 5
    nodes = dot_nodes(ag.draw_graph(w * 1.0).source)
    (w_id,) = node_by_label(nodes, "w")
    assert label(nodes[w_id])[-1] == "grad 5"
    assert f'fillcolor="{COLOUR["healthy"]}"' in nodes[w_id]
    plain = dot_nodes(ag.draw_graph(w * 1.0, show_grad=False).source)
    (w_id,) = node_by_label(plain, "w")
    assert label(plain[w_id]) == ["w", "(2,)"] and 'fillcolor="#ffffff"' in plain[w_id]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_exploding_vanishing_and_nonfinite_nodes_have_their_colours_in_svg():
    a = ag.tensor([1.0, 2.0], requires_grad=True, name="a")
    b = ag.tensor([0.0, 1.0], requires_grad=True, name="b")
    c = ag.tensor([1.0, 2.0], requires_grad=True, name="c")
    huge = (a * 1e5).sum() * 1e3                         # gradient at a*1e5: 1e3 per element
    nan = ag.sqrt(b).sum()                              # d sqrt / db at 0 is inf
    small = (c / 1e9).sum()                             # gradient reaching c is 1e-9
    with ag.record_grad_norms():
        (huge + nan + small).backward()
    root = svg_of(ag.draw_graph(huge + nan + small))
    nodes = svg_nodes(root)
    fills = {tuple(n["texts"][:2]): n["fill"] for n in nodes.values()}
    assert fills[("a", "(2,)")] == COLOUR["exploding"]  # 1e8 per element
    assert fills[("b", "(2,)")] == NONFINITE_COLOUR
    assert fills[("c", "(2,)")] == COLOUR["vanishing"]
    assert fills[("sqrt", "(2,)")] == COLOUR["healthy"]  # gradient at its output is 1
    # the sum of a*1e5 passes 1e3 to its input: "large"/"exploding" boundary, norm 1.41e3
    assert fills[("multiply", "(2,)")] == COLOUR["exploding"]
    legend = [n for n in nodes.values() if "gradient norm" in n["texts"]]
    assert legend and {"vanishing", "healthy", "exploding", "nonfinite"} <= set(legend[0]["texts"])


def test_deep_sigmoid_network_marks_vanishing_gradients_in_early_layers():
    rng = np.random.default_rng(0)
    width, depth = 16, 20
    x = ag.tensor(rng.standard_normal((8, width)))
    layers = []
    h = x
    for i in range(depth):
        w = ag.tensor(rng.standard_normal((width, width)) / np.sqrt(width), requires_grad=True)
        b = ag.zeros(width, dtype=np.float64, requires_grad=True)
        layers.append((w, b))
        with ag.scope(f"layer{i}"):
            h = ag.sigmoid(ag.affine(h, w, b))
    head = ag.tensor(rng.standard_normal((width, 3)) / np.sqrt(width), requires_grad=True)
    loss = ag.softmax_cross_entropy(ag.affine(h, head), rng.integers(0, 3, 8)).mean()
    with ag.record_grad_norms():
        loss.backward()
    params = {f"w{i}": w for i, (w, _) in enumerate(layers)}
    dot = ag.draw_graph(loss, params=params)
    src = dot.source
    members = cluster_members(src)
    nodes = svg_nodes(svg_of(dot))
    affine_fill = {}
    for i in range(depth):
        (op,) = [n for n in members[f"layer{i}"] if nodes[n]["texts"][0] == "affine"]
        affine_fill[i] = nodes[op]["fill"]
    assert all(affine_fill[i] == COLOUR["vanishing"] for i in range(8))
    assert all(affine_fill[i] != COLOUR["vanishing"] for i in range(depth - 4, depth))
    assert affine_fill[depth - 1] == COLOUR["healthy"]
    weight_fill = {t[0]: n["fill"] for t, n in ((n["texts"], n) for n in nodes.values())
                   if t[0].startswith("w")}
    assert weight_fill["w0"] == COLOUR["vanishing"] and weight_fill["w19"] == COLOUR["healthy"]
    norms = [float(re.search(r"grad (\S+)", " ".join(nodes[op]["texts"])).group(1))
             for i in range(depth)
             for op in members[f"layer{i}"] if nodes[op]["texts"][0] == "affine"]
    assert norms == sorted(norms)                       # the gradient shrinks towards the input


# ---------------------------------------------------------------- module clusters

def test_three_layer_model_renders_svg_with_nested_module_clusters():
    model, loss = three_layer_loss()
    with ag.record_grad_norms():
        loss.backward()
    dot = ag.draw_graph(loss, params=model)
    members = cluster_members(dot.source)
    assert set(members) >= {"MLP", "layers.0 (Dense)", "layers.1 (Dense)", "layers.2 (Dense)",
                            "legend"}
    root = svg_of(dot)
    nodes = svg_nodes(root)
    # 3 affine + 2 relu + 6 parameters + softmax_cross_entropy + mean + legend
    assert len(nodes) == 14
    assert set(svg_clusters(root)) >= {"MLP", "layers.0 (Dense)", "layers.2 (Dense)"}
    texts = {n: nodes[n]["texts"][0] for n in members["layers.0 (Dense)"]}
    assert sorted(texts.values()) == ["affine", "layers.0.bias", "layers.0.weight", "relu"]
    assert sorted(nodes[n]["texts"][0] for n in members["layers.2 (Dense)"]) == [
        "affine", "layers.2.bias", "layers.2.weight"]
    assert set(members["layers.1 (Dense)"]) < set(members["MLP"])
    outside = set(nodes) - set(members["MLP"]) - {"legend"}
    assert sorted(" ".join(nodes[n]["texts"][:2]) for n in outside) == [
        "output mean", "softmax_cross_entropy (5,)"]
    for n in members["MLP"]:                          # every node carries its gradient colour
        assert nodes[n]["fill"] in COLOUR.values()
        assert any(t.startswith("grad ") for t in nodes[n]["texts"])


def test_string_scope_labels_make_clusters_without_params():
    x = ag.tensor([1.0, 2.0], requires_grad=True, name="x")
    with ag.scope("encoder"):
        with ag.scope("block"):
            h = ag.tanh(x)
        h = h * 2.0
    y = h.sum()
    members = cluster_members(ag.draw_graph(y).source)
    nodes = dot_nodes(ag.draw_graph(y).source)
    names = {k: label(a)[0] for k, a in nodes.items()}
    assert sorted(names[n] for n in members["encoder"]) == ["multiply", "tanh"]
    assert [names[n] for n in members["block"]] == ["tanh"]


def test_module_labels_without_params_use_the_class_name():
    model, loss = three_layer_loss()
    members = cluster_members(ag.draw_graph(loss).source)
    assert set(members) == {"MLP", "Dense"}             # three Dense clusters, one label


def test_collapse_modules_draws_one_node_per_layer():
    model, loss = three_layer_loss()
    with ag.record_grad_norms():
        loss.backward()
    src = ag.draw_graph(loss, params=model, collapse_modules=True, legend=False).source
    nodes = dot_nodes(src)
    groups = {k: label(a) for k, a in nodes.items() if k.startswith("m")}
    assert len(nodes) == 5                              # 3 layers, loss, mean
    assert sorted(lab[:3] for lab in groups.values()) == [
        ["layers.0 (Dense)", "2 ops", "40 params"], ["layers.1 (Dense)", "2 ops", "72 params"],
        ["layers.2 (Dense)", "1 op", "27 params"]]
    ids = {lab[0]: k for k, lab in groups.items()}
    edges = dot_edges(src)
    assert (ids["layers.0 (Dense)"], ids["layers.1 (Dense)"]) in edges
    assert (ids["layers.1 (Dense)"], ids["layers.2 (Dense)"]) in edges
    assert len(edges) == 4
    assert all("shape=box3d" in nodes[k] for k in groups)
    assert set(cluster_members(src)) == {"MLP"}
    # depth 0 collapses the whole model into one node
    nodes0 = dot_nodes(ag.draw_graph(loss, params=model, collapse_modules=0, legend=False).source)
    assert sorted(label(a)[:3] for k, a in nodes0.items() if k.startswith("m")) == [
        ["MLP", "5 ops", "139 params"]]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_collapsed_module_with_nonfinite_gradient_inside_is_magenta():
    x = ag.tensor([0.0, 1.0], requires_grad=True, name="x")
    with ag.scope("block"):
        h = ag.sqrt(x) * 1.0
    y = h.sum()
    with ag.record_grad_norms():
        y.backward(retain_graph=True)
    nodes = dot_nodes(ag.draw_graph(y, collapse_modules=True).source)
    (group,) = [a for k, a in nodes.items() if k.startswith("m")]
    assert label(group)[:2] == ["block", "2 ops"]
    assert f'fillcolor="{NONFINITE_COLOUR}"' in group


# ---------------------------------------------------------------- details on demand

def test_tooltips_carry_value_and_gradient_statistics():
    x = ag.tensor([1.0, 2.0, 3.0, 4.0], dtype=np.float64, requires_grad=True, name="x")
    with ag.scope("blk"):
        y = ag.exp(x) * 2.0
    loss = y.sum()
    with ag.record_grad_norms():
        loss.backward(retain_graph=True)
    nodes = svg_nodes(svg_of(ag.draw_graph(loss)))
    tips = {n["texts"][0]: n["tooltip"] for n in nodes.values()}
    g = 2 * np.exp([1.0, 2.0, 3.0, 4.0])
    assert tips["x"].splitlines() == [
        "leaf x", "value: shape (4,), float64", "norm 5.48, min 1, max 4", "mean 2.5, std 1.12",
        "gradient [large]: shape (4,), float64",
        f"norm {np.linalg.norm(g):.3g}, min {g.min():.3g}, max {g.max():.3g}",
        f"mean {g.mean():.3g}, std {g.std():.3g}"]
    assert "norm 58.7, min 2.72, max 54.6" in tips["exp"].splitlines()          # exp keeps its output
    assert tips["exp"].splitlines()[-1] == "scope: blk"
    assert "value:" not in tips["multiply"]                            # multiply keeps nothing
    assert "gradient [healthy]: shape (4,), float64" in tips["multiply"]


def test_record_values_gives_stats_for_ops_that_keep_nothing():
    x = ag.tensor([1.0, -2.0], requires_grad=True, name="x")
    with ag.record_values():
        y = x * 3.0
        loss = y.sum()
    loss.backward()                                     # frees the graph: values come from meta
    assert y.grad_fn.meta["value"]["min"] == -6.0
    nodes = svg_nodes(svg_of(ag.draw_graph(loss, show_data=True)))
    mul = [n for n in nodes.values() if n["texts"][0] == "multiply"][0]
    assert mul["texts"][2] == "[3, -6]"
    assert "norm 6.71, min -6, max 3" in mul["tooltip"].splitlines()


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_record_values_chains_to_detect_anomaly_and_restores():
    from autograd.tensor import STATE
    x = ag.tensor([-1.0], requires_grad=True)
    with ag.detect_anomaly():
        with ag.record_values():
            with pytest.raises(RuntimeError, match="produced NaN"):
                ag.log(x)
        assert STATE.observers != ()
    assert STATE.observers == ()
    with ag.record_values():
        y = ag.exp(x)
    assert STATE.observers == ()
    assert y.grad_fn.meta["value"]["values"].tolist() == [pytest.approx(np.exp(-1.0))]


# ---------------------------------------------------------------- delivery

def test_source_needs_no_graphviz_binary(monkeypatch):
    monkeypatch.setenv("PATH", "")
    x = ag.tensor([1.0], requires_grad=True, name="x")
    assert "digraph" in ag.draw_graph(ag.exp(x).sum()).source


def test_render_without_dot_says_how_to_install(monkeypatch, tmp_path):
    x = ag.tensor([1.0], requires_grad=True, name="x")
    dot = ag.draw_graph(ag.exp(x).sum())
    monkeypatch.setenv("PATH", "")
    monkeypatch.setattr("autograd.render._pure_candidates", lambda: iter(()))  # no graphviz-pure
    with pytest.raises(graphviz.ExecutableNotFound, match="apt-get install graphviz") as info:
        dot.render(tmp_path / "g", format="svg")
    assert "brew install graphviz" in str(info.value) and "pip install graphviz-pure" in str(info.value)
    with pytest.raises(graphviz.ExecutableNotFound, match="apt-get install graphviz"):
        dot.pipe(format="svg")
    with pytest.raises(graphviz.ExecutableNotFound, match="brew install graphviz"):
        dot._repr_mimebundle_()                         # what Jupyter calls


def test_render_writes_svg_with_real_dot(tmp_path):
    x = ag.tensor([1.0], requires_grad=True, name="x")
    dot = ag.draw_graph(ag.exp(x).sum())
    assert isinstance(dot, graphviz.Digraph)
    path = dot.render(tmp_path / "g", format="svg")
    text = open(path).read()
    assert text.count('class="node"') == 3 and ">x</text>" in text
    assert "image/svg+xml" in dot._repr_mimebundle_()


# ---------------------------------------------------------------- explain_backward

def test_explain_backward_prints_scalar_chain_rule_products():
    w = ag.tensor(2.0, requires_grad=True, name="w")
    x = ag.tensor(3.0, requires_grad=True, name="x")
    loss = w * x * 0.5
    out = io.StringIO()
    text = ag.explain_backward(loss, file=out)
    assert out.getvalue() == text
    lines = text.splitlines()
    assert lines[1:] == [
        "[1] L = multiply(multiply, const)  shape ()",
        "    incoming dL/dL = 1",
        "    to multiply: dL/dmultiply = dL/dL * dL/dmultiply = 1 * 0.5 = 0.5",
        "[2] multiply = multiply(w, x)  shape ()",
        "    incoming dL/dmultiply = 0.5",
        "    to w: dL/dw = dL/dmultiply * dmultiply/dw = 0.5 * 3 = 1.5",
        "    to x: dL/dx = dL/dmultiply * dmultiply/dx = 0.5 * 2 = 1",
        "[3] leaf x: dL/dx = 1",
        "[4] leaf w: dL/dw = 1.5",
    ]


def test_explain_backward_leaves_grad_and_graph_untouched(capsys):
    w = ag.tensor(2.0, dtype=np.float64, requires_grad=True, name="w")
    x = ag.tensor(3.0, dtype=np.float64, requires_grad=True, name="x")
    x.grad = ag.tensor(10.0, dtype=np.float64)
    loss = ag.tanh(w * x)                               # tanh keeps its output: freed by backward
    text = ag.explain_backward(loss)
    assert capsys.readouterr().out == text              # file=None prints to stdout
    assert w.grad is None and x.grad.item() == 10.0
    loss.backward()                                     # the graph survived
    assert w.grad.item() == pytest.approx(3 * (1 - np.tanh(6.0) ** 2))


def test_explain_backward_sums_the_parts_of_a_reused_input_in_engine_order():
    a = ag.tensor(2.0, requires_grad=True, name="a")
    y = a * a + a                                       # a gets three parts: 2, 2, 1
    with Names() as outer:
        text = ag.explain_backward(y, file=io.StringIO())
    order = outer.seen
    assert order == ["add", "multiply", "leaf"]          # chained to the outer recorder
    steps = [line.split("] ")[1].split(" ")[0] for line in text.splitlines() if line.startswith("[")]
    assert steps == ["L", "multiply", "leaf"]
    assert "    to a: dL/da (part 1 of 3) = dL/dL * dL/da = 1 * 1 = 1" in text
    assert "    to a: dL/da (part 2 of 3) = dL/dmultiply * dmultiply/da = 1 * 2 = 2" in text
    assert text.splitlines()[-1] == "[3] leaf a: dL/da = 1 + 2 + 2 = 5"


def test_explain_backward_for_tensors_shows_shapes_and_norms():
    a = ag.tensor(np.ones((2, 3)), requires_grad=True, name="a")
    b = ag.tensor(np.ones(3), requires_grad=True, name="b")
    text = ag.explain_backward((a * b).mean())
    assert "[1] L = mean(multiply)  shape ()" in text
    assert f"    to multiply: dL/dmultiply: shape (2, 3), norm {np.sqrt(6) / 6:.3g}" in text
    assert f"    to b: dL/db: shape (3,), norm {np.sqrt(3) / 3:.3g}" in text   # summed back to (3,)
    assert text.splitlines()[-2:] == [f"[3] leaf b: dL/db: shape (3,), norm {np.sqrt(3) / 3:.3g}",
                                      f"[4] leaf a: dL/da: shape (2, 3), norm {np.sqrt(6) / 6:.3g}"]


def test_explain_backward_zero_incoming_and_non_scalar_root():
    x = ag.tensor(0.0, requires_grad=True, name="x")
    text = ag.explain_backward(ag.relu(x) * 3.0, file=io.StringIO())
    assert "dL/dx = drelu/dx" not in text
    assert "    to x: dL/dx = dL/drelu * drelu/dx = 3 * 0 = 0" in text
    y = ag.tensor([1.0, 2.0], requires_grad=True, name="y")
    with pytest.raises(RuntimeError, match="non-scalar"):
        ag.explain_backward(y * 2.0, file=io.StringIO())
    text = ag.explain_backward(y * 2.0, file=io.StringIO(), grad=np.ones(2))
    assert "[2] leaf y: dL/dy: shape (2,), norm 2.83" in text


def test_collapsed_parameter_used_outside_its_module_stays_visible():
    rng = np.random.default_rng(1)
    model = MLP([3, 4, 2], rng)
    x = ag.tensor(rng.standard_normal((2, 3)))
    w0 = model.layers[0].weight
    loss = model(x).sum() + (w0 * w0).sum()             # weight decay on layers.0.weight
    src = ag.draw_graph(loss, params=model, collapse_modules=True).source
    nodes = dot_nodes(src)
    (w_id,) = [k for k, a in nodes.items() if label(a)[:1] == ["layers.0.weight"]]
    (g_id,) = [k for k, a in nodes.items() if label(a)[:1] == ["layers.0 (Dense)"]]
    assert (w_id, g_id) in dot_edges(src)
    assert w_id in cluster_members(src)["MLP"]           # beside its collapsed module
    assert not any(label(a)[:1] == ["layers.0.bias"] for a in nodes.values())   # absorbed


def test_real_nn_modules_are_clustered_by_dotted_name():
    nn = pytest.importorskip("nn")
    if not all(hasattr(nn, n) for n in ("Sequential", "Dense", "functional")):
        pytest.skip("nn is not complete yet")
    model = nn.Sequential(nn.Dense(4, 8, activation="relu", rng=0), nn.Dense(8, 3, rng=1))
    x = ag.tensor(np.random.default_rng(0).standard_normal((5, 4)))
    loss = nn.functional.cross_entropy(model(x), np.array([0, 1, 2, 0, 1]))
    with ag.record_grad_norms():
        loss.backward()
    src = ag.draw_graph(loss, params=model).source
    members = cluster_members(src)
    assert {"Sequential", "0 (Dense)", "1 (Dense)"} <= set(members)
    nodes = dot_nodes(src)
    inside = [label(nodes[n])[0] for n in members["0 (Dense)"]]
    assert "0.weight" in inside and "0.bias" in inside


def test_record_values_draws_data_inputs_as_input_nodes():
    rng = np.random.default_rng(0)
    w = ag.tensor(rng.standard_normal((3, 2)), requires_grad=True, name="w")
    x = rng.standard_normal((5, 3))
    data = ag.tensor(rng.standard_normal((5, 2)), name="target")
    with ag.record_values():
        loss = ((ag.affine(x, w) - data) ** 2).sum()
    src = ag.draw_graph(loss).source
    inputs = [line for line in src.splitlines() if 'label="input' in line]
    assert len(inputs) == 2
    assert any("(5, 3)" in line for line in inputs)              # the ndarray fed to affine
    assert any("target" in line and "(5, 2)" in line for line in inputs)
    first = inputs[0].split()[0]
    assert any(line.strip().startswith(f"{first} -> ") for line in src.splitlines())
    # without the recording context, nothing about the data is kept
    plain = ag.draw_graph(((ag.affine(x, w) - data) ** 2).sum()).source
    assert 'label="input' not in plain


def test_gradient_std_is_right_when_the_mean_dominates_the_spread():
    from autograd.graph import _stats
    rng = np.random.default_rng(0)
    for g in (1000 + 1e-5 * rng.standard_normal(10_000),
              (100 + 0.01 * rng.standard_normal(10_000)).astype(np.float32),
              rng.standard_normal(10_000).astype(np.float32)):
        assert _stats(g)["std"] == pytest.approx(g.astype(np.float64).std(), rel=1e-3)
    assert _stats(np.full(100, 3.0))["std"] == 0.0


def test_record_values_draws_cross_entropy_labels_as_an_input():
    x = ag.tensor(np.ones((4, 3)), requires_grad=True)
    with ag.record_values():
        loss = ag.softmax_cross_entropy(x * 2.0, np.array([0, 1, 2, 0]), "mean")
    src = ag.draw_graph(loss).source
    assert 'label="input\\n(4,)" shape=note' in src
