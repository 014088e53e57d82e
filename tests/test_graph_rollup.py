"""draw_graph(roll_up=True) and draw_graph(monitor=..., step=...)."""

import re

import numpy as np
import pytest

import autograd as ag
import nn
from autograd.graph import GRAD_BANDS
from autograd.graph.views import STATUS_COLOURS

COLOUR = {name: colour for name, _, _, colour in GRAD_BANDS}


def dot_nodes(src: str) -> dict:
    return dict(re.findall(r"^(n\d+|m\d+) \[(.*)\]$", src, flags=re.M))


def label(attrs: str) -> list:
    return re.search(r'label="((?:[^"\\]|\\.)*)"', attrs).group(1).split("\\n")


def tip(attrs: str) -> list:
    return re.search(r'tooltip="((?:[^"\\]|\\.)*)"', attrs).group(1).split("\\n")


def edges(src: str) -> list:
    return re.findall(r"^(\w+) -> (\w+)$", src, flags=re.M)


def deep_model(blocks: int = 12, width: int = 16, seed: int = 0):
    layers = [nn.Dense(8, width, activation="relu", rng=seed)]
    layers += [nn.Dense(width, width, activation="relu", rng=seed + i + 1) for i in range(blocks)]
    layers += [nn.Dense(width, 3, rng=seed + 99)]
    model = nn.Sequential(*layers)
    rng = np.random.default_rng(seed)
    x = ag.tensor(rng.standard_normal((5, 8)))
    loss = nn.functional.cross_entropy(model(x), rng.integers(0, 3, 5))
    with ag.record_grad_norms():
        loss.backward()
    return model, loss


class FakeMonitor:
    """The nn.Monitor interface draw_graph and explore read: steps and module_health(step)."""

    def __init__(self, names: list, steps: list, status_at: dict) -> None:
        self.steps = steps
        self._names = names
        self._status_at = status_at       # {(step, name): status}

    def module_health(self, step=None) -> dict:
        step = self.steps[-1] if step is None else step
        out = {}
        for i, name in enumerate(self._names):
            status = self._status_at.get((step, name), "ok")
            out[name] = {"grad_norm": 10.0 ** (-i) * (step + 1), "weight_norm": 2.0,
                         "update_ratio": -3.0, "act_mean": 0.1, "act_std": 0.9,
                         "saturated": None, "dead": 0.5 if status == "dead" else 0.0,
                         "nonfinite": status == "nonfinite", "status": status,
                         "problems": [f"{name} is {status}"] if status != "ok" else []}
        return out


def test_roll_up_draws_twelve_identical_blocks_as_one_box_with_their_gradient_range():
    model, loss = deep_model(12)
    src = ag.draw_graph(loss, params=model, roll_up=True).source
    nodes = dot_nodes(src)
    (run,) = [k for k, a in nodes.items() if label(a)[0].endswith(" x 12")]
    lab = label(nodes[run])
    assert lab[0] == "Dense(16, 16, activation='relu') x 12"
    assert lab[1] == "12 ops" and lab[2] == f"{12 * (16 * 16 + 16):,} params"
    lo, hi = lab[3][len("grad "):].split(" .. ")
    assert 0 < float(lo) <= float(hi)
    # the blocks' parameters are inside the box; the first and last Dense stay expanded
    labels = [label(a)[0] for a in nodes.values()]
    assert "1.weight" not in labels and "12.bias" not in labels
    assert "0.weight" in labels and "13.weight" in labels
    # edges: first Dense -> the run box -> last Dense
    into = [s for s, d in edges(src) if d == run]
    out = [d for s, d in edges(src) if s == run]
    assert len(into) == 1 and len(out) == 1
    assert label(nodes[into[0]])[0] == "affine+relu"          # Dense 0 (fused activation)
    assert label(nodes[out[0]])[0] == "affine"                # Dense 13, no activation


def test_roll_up_range_is_the_min_and_max_of_the_block_output_gradients():
    model, loss = deep_model(4)
    src = ag.draw_graph(loss, params=model, roll_up=True).source
    (run,) = [a for a in dot_nodes(src).values() if label(a)[0].endswith(" x 4")]
    plain = dot_nodes(ag.draw_graph(loss, params=model, collapse_modules=True).source)
    per_block = {label(a)[0]: float(label(a)[-1].split()[1]) for a in plain.values()
                 if label(a)[0] in {f"{i} (Dense)" for i in range(1, 5)}}
    assert len(per_block) == 4
    assert label(run)[3] == f"grad {min(per_block.values()):.3g} .. {max(per_block.values()):.3g}"


def test_different_blocks_are_not_rolled_up():
    model = nn.Sequential(nn.Dense(4, 4, activation="relu", rng=0), nn.Dense(4, 4, rng=1),
                          nn.Dense(4, 5, activation="relu", rng=2))
    loss = model(ag.tensor(np.ones((2, 4)))).sum()
    src = ag.draw_graph(loss, params=model, roll_up=True).source
    assert not any(" x " in label(a)[0] for a in dot_nodes(src).values())


def test_monitor_colours_module_clusters_by_health_with_statistics_in_tooltips():
    model, loss = deep_model(2)
    names = [n for n, _ in model.named_modules()]
    mon = FakeMonitor(names, [0, 10, 20], {(10, "1"): "dead", (20, "2"): "exploding"})
    src = ag.draw_graph(loss, params=model, monitor=mon, step=10).source
    clusters = re.findall(r"^label=\"([^\"]*)\" (.*)$", src, flags=re.M)
    by_label = {lab: rest for lab, rest in clusters}
    assert f'color="{STATUS_COLOURS["dead"]}"' in by_label["1 (Dense) [dead]"]
    assert "health of 1 at step 10: dead" in by_label["1 (Dense) [dead]"]
    assert "problem: 1 is dead" in by_label["1 (Dense) [dead]"]
    assert f'color="{STATUS_COLOURS["ok"]}"' in by_label["2 (Dense)"]
    # the last step by default
    src_last = ag.draw_graph(loss, params=model, monitor=mon).source
    assert "2 (Dense) [exploding]" in src_last and "[dead]" not in src_last
    assert "module health" in src_last                           # the status legend
    # collapsed: the boxes take the status colour
    boxes = dot_nodes(ag.draw_graph(loss, params=model, monitor=mon, step=10,
                                    collapse_modules=True).source)
    (dead,) = [a for a in boxes.values() if label(a)[0] == "1 (Dense)"]
    assert f'fillcolor="{STATUS_COLOURS["dead"]}"' in dead and label(dead)[-1] == "health: dead"
    assert "grad norm 0.11, weight norm 2" in tip(dead)            # 10**-2 * 11: module index 2


def test_monitor_with_roll_up_shows_the_worst_status_of_the_blocks():
    model, loss = deep_model(3)
    names = [n for n, _ in model.named_modules()]
    mon = FakeMonitor(names, [5], {(5, "2"): "vanishing"})
    nodes = dot_nodes(ag.draw_graph(loss, params=model, monitor=mon, roll_up=True).source)
    (run,) = [a for a in nodes.values() if label(a)[0].endswith(" x 3")]
    assert label(run)[-1] == "health: vanishing"
    assert f'fillcolor="{STATUS_COLOURS["vanishing"]}"' in run
    assert "2: vanishing, grad norm 0.006" in tip(run)


def test_bad_monitor_and_step_are_refused():
    model, loss = deep_model(1)
    with pytest.raises(TypeError, match="monitor must be"):
        ag.draw_graph(loss, params=model, monitor=object())
    mon = FakeMonitor(["", "0"], [0, 10], {})
    with pytest.raises(ValueError, match="step 3 was not recorded.*0, 10"):
        ag.draw_graph(loss, params=model, monitor=mon, step=3)


class Block(nn.Module):
    """Two Dense layers: a block with sub-modules, repeated below."""

    def __init__(self, width: int, seed: int) -> None:
        super().__init__()
        self.up = nn.Dense(width, 2 * width, activation="relu", rng=seed)
        self.down = nn.Dense(2 * width, width, rng=seed + 1)

    def forward(self, x):
        return x + self.down(self.up(x))


def block_model(n: int = 4):
    model = nn.Sequential(*[Block(4, 10 * i) for i in range(n)])
    loss = (model(ag.tensor(np.ones((2, 4)))) ** 2).sum()
    with ag.record_grad_norms():
        loss.backward()
    return model, loss


def test_roll_up_of_blocks_with_sub_modules_works_with_collapsing():
    model, loss = block_model(4)
    rolled = dot_nodes(ag.draw_graph(loss, params=model, roll_up=True, collapse_modules=True).source)
    boxes = [label(a) for k, a in rolled.items() if k.startswith("m")]
    assert [b[:3] for b in boxes] == [["Block x 4", "12 ops", f"{4 * (4 * 8 + 8 + 8 * 4 + 4):,} params"]]
    plain = dot_nodes(ag.draw_graph(loss, params=model, collapse_modules=True).source)
    assert sorted(label(a)[0] for k, a in plain.items() if k.startswith("m")) == [
        f"{i} (Block)" for i in range(4)]
    # collapsing deeper than the blocks still rolls them up; collapsing above them wins
    deep = dot_nodes(ag.draw_graph(loss, params=model, roll_up=True, collapse_modules=2).source)
    assert [label(a)[0] for k, a in deep.items() if k.startswith("m")] == ["Block x 4"]
    top = dot_nodes(ag.draw_graph(loss, params=model, roll_up=True, collapse_modules=0).source)
    assert [label(a)[0] for k, a in top.items() if k.startswith("m")] == ["Sequential"]


def test_a_run_inside_an_open_module_is_rolled_up_on_its_own():
    model = nn.Sequential(nn.Dense(4, 4, rng=0),
                          nn.Sequential(*[nn.Dense(4, 4, activation="tanh", rng=i) for i in range(3)]))
    loss = model(ag.tensor(np.ones((2, 4)))).sum()
    nodes = dot_nodes(ag.draw_graph(loss, params=model, roll_up=True).source)
    runs = [label(a)[0] for a in nodes.values() if " x " in label(a)[0]]
    assert runs == ["Dense(4, 4, activation='tanh') x 3"]
    assert "0.weight" in [label(a)[0] for a in nodes.values()]      # the first Dense stays open
