"""The monitor's examples in quick mode: each failure mode caught, with its numbers."""

from __future__ import annotations

import math

import pytest
from test_examples import assert_png, run_quick

try:
    import matplotlib  # noqa: F401
except ImportError:      # CI's NumPy 1.24 run: matplotlib needs NumPy >= 1.25
    pytest.skip("matplotlib cannot be imported here", allow_module_level=True)


def test_dead_relu_caught_and_avoided(tmp_path):
    r = run_quick("dead_relu", tmp_path)
    big, small, leaky = (r["runs"][k] for k in ("ReLU, lr 0.2", "ReLU (He init), lr 0.02",
                                                 "leaky ReLU, lr 0.2"))
    # too large a step: most of the second layer dies, the monitor dates it, the loss stalls
    assert big["dead_final"]["1"] > 0.6 and "dead" in big["kinds"]
    assert 20 < big["dead_onset"]["1"] < 110
    assert f"of units dead since step {big['dead_onset']['1']}" in big["report"]
    # He init and a 10x smaller step: no unit dies, no problem, the loss falls
    assert max(small["dead_max"].values()) < 0.05 and small["kinds"] == []
    assert small["loss_last_epoch"] < big["loss_last_epoch"] / 5
    # leaky ReLU cannot die (no dead share), but lr 0.2 still diverges: exploding, then NaN
    assert leaky["dead_final"] == {} and "dead" not in leaky["kinds"]
    assert leaky["exploding_step"] is not None and leaky["nonfinite_step"] is not None
    assert leaky["exploding_step"] <= leaky["nonfinite_step"]
    assert_png(r["png"])
    assert_png(r["monitor_png"])


def test_activations_derivatives_zero_centring_and_training(tmp_path):
    r = run_quick("activations", tmp_path)
    assert r["peak"]["sigmoid"] == pytest.approx(0.25, abs=1e-12) and r["peak_at"]["sigmoid"] == 0
    assert r["peak"]["tanh"] == pytest.approx(1.0, abs=1e-12) and r["peak_at"]["tanh"] == 0
    assert r["peak"]["relu"] == 1.0
    m = r["mean_output"]
    assert abs(m["tanh"]) < 0.01 and m["sigmoid"] == pytest.approx(0.5, abs=0.01)
    assert m["relu"] == pytest.approx(1 / math.sqrt(2 * math.pi), abs=0.01)
    runs = r["runs"]
    # gradients reaching the first layer: sigmoid's shrink by orders of magnitude, tanh's and ReLU's not
    assert runs["sigmoid"]["ratio_first_to_last"] < 1e-2
    assert 0.1 < runs["tanh"]["ratio_first_to_last"] < 10 and 0.1 < runs["relu"]["ratio_first_to_last"] < 10
    assert any("gradients vanish" in p for p in runs["sigmoid"]["problems"])
    # and the same SGD trains tanh and ReLU, not (yet) sigmoid
    assert runs["tanh"]["losses"][-1] < runs["sigmoid"]["losses"][-1] / 5
    assert runs["relu"]["losses"][-1] < runs["sigmoid"]["losses"][-1] / 5
    assert runs["tanh"]["accuracy"] > 0.9 and runs["sigmoid"]["accuracy"] < 0.5
    assert_png(r["png"])
