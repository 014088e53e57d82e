"""The examples' --quick runs: each one's claims, checked on the numbers its main() returns."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path
from types import ModuleType

from autograd.render import RendererNotFound, find_program

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def can_render() -> bool:
    """Whether a renderer (dot or graphviz-pure) exists: where none does, the examples go on."""
    try:
        return bool(find_program())
    except RendererNotFound:
        return False


def load(name: str) -> ModuleType:
    """Import examples/NAME.py by path (examples/ is a folder of scripts, not a package)."""
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_quick(name: str, out: Path) -> dict:
    return load(name).main(["--quick", "--out", str(out)])


def assert_png(path: Path | str) -> None:
    data = Path(path).read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 1000, path


def assert_svg(path: Path | str | None) -> None:
    if not can_render():
        return
    text = Path(path).read_text()
    assert "<svg" in text and "</svg>" in text, path


def test_every_example_has_main_and_quick_mode():
    names = sorted(p.stem for p in EXAMPLES.glob("*.py") if not p.stem.startswith("_"))
    assert {"demo", "chain_rule", "init_depth", "vanishing_gradients", "normalization",
            "minibatch", "momentum"} <= set(names)
    for name in names:
        source = (EXAMPLES / f"{name}.py").read_text()
        assert "def main(argv" in source and "--quick" in source and "--out" in source, name


def test_demo_quick_learns_digits_and_passes_gradcheck(tmp_path):
    r = run_quick("demo", tmp_path)
    assert r["test_accuracy"] > 0.90
    assert r["losses"][-1] < r["losses"][0] / 5
    assert r["gradcheck"] is True
    assert r["worst_rel_error"] < 1e-3 and r["worst_abs_error"] < 1e-7
    assert r["n_checked"] > 1000                       # every weight, not a sample
    assert_svg(tmp_path / "graph.svg")
    if can_render():
        assert "gradient norm" in (tmp_path / "graph.svg").read_text()     # the colour legend
    assert_png(tmp_path / "loss.png")
    if "onnx_test_accuracy" in r:           # onnx and onnxruntime (the dev extra): the same model
        assert r["onnx_same_predictions"] == r["onnx_images"] == 450    # the whole test set
        assert r["onnx_test_accuracy"] == r["test_accuracy"] and r["onnx_max_abs_diff"] < 1e-4


def test_chain_rule_hand_derivative_equals_autograd(tmp_path, capsys):
    r = run_quick("chain_rule", tmp_path)
    for key, value in r["autograd"].items():
        assert math.isclose(value, r["by_hand"][key], rel_tol=1e-12), key
    printed = capsys.readouterr().out
    assert "dL/dw = dL/dmultiply * dmultiply/dw" in printed     # explain_backward's chain rule
    assert_svg(tmp_path / "graph.svg")
    if can_render():
        assert_png(tmp_path / "graph.png")
    assert_png(tmp_path / "tangent.png")


def test_init_depth_he_keeps_std_while_small_init_vanishes(tmp_path):
    r = run_quick("init_depth", tmp_path)
    he = r["stds"]["ReLU, He"]
    assert all(0.5 < s / he[0] < 2 for s in he)                # within a factor 2 over 50 layers
    assert r["std_50"]["ReLU, N(0,1)*0.01"] < 1e-6
    # LeCun with ReLU halves the variance per layer: std ratio ~ 2^-24.5 ~ 4e-8
    assert 2 ** -24.5 / 10 < r["ratio_50_to_1"]["ReLU, LeCun"] < 2 ** -24.5 * 10
    assert 0.01 < r["std_50"]["tanh, LeCun"] < r["stds"]["tanh, LeCun"][0]     # shrinks slowly
    assert_png(r["png"])


def test_vanishing_gradients_and_clipping(tmp_path):
    r = run_quick("vanishing_gradients", tmp_path)
    ratio = r["ratio_first_to_last"]
    assert ratio["sigmoid, LeCun"] < 1e-6                       # first layer ~1e-12 of the last
    assert 0.2 < ratio["ReLU, He"] < 5
    assert min(r["norms"]["ReLU, 3 x He std"]) > 1e6            # exploding everywhere
    unclipped, clipped = r["summary"]["no clipping"], r["summary"]["clip_grad_norm_(1.0)"]
    assert unclipped["first_nonfinite_step"] is not None        # diverges to NaN/Inf
    assert clipped["first_nonfinite_step"] is None
    assert clipped["last"] < clipped["first"] / 1.5             # and the loss goes down
    assert_svg(r["graph"])
    if can_render():
        assert "#6fa8dc" in Path(r["graph"]).read_text()        # some node is "vanishing" blue
    assert_png(r["png"])


def test_standardization_reaches_target_sooner(tmp_path):
    r = run_quick("normalization", tmp_path)
    std_epochs = r["epochs_to_target"]["standardized"]
    assert std_epochs is not None
    raw = [r["epochs_to_target"]["raw"], *r["epochs_to_target_raw_small_lr"].values()]
    assert all(e is None or e > std_epochs for e in raw)
    assert r["final_loss"]["standardized"] < r["target"] < r["final_loss"]["raw"]
    assert_png(r["png"])


def test_minibatch_tradeoffs(tmp_path):
    r = run_quick("minibatch", tmp_path)
    s = r["summary"]
    full, mini, single = s["full batch (1347)"], s["mini-batch (32)"], s["single example (1)"]
    # same learning rate: more steps per epoch, more progress per epoch
    assert single["final_loss"] < mini["final_loss"] < full["final_loss"]
    assert single["steps"] > mini["steps"] > full["steps"]
    assert single["seconds"] > full["seconds"]                  # 1347 steps cost more than 1
    assert_png(r["png"])


def test_momentum_and_nesterov_need_fewer_steps(tmp_path):
    r = run_quick("momentum", tmp_path)
    q = r["quadratic_steps"]
    assert None not in q.values()
    assert q["Nesterov 0.9"] < q["plain SGD"] / 2 and q["momentum 0.9"] < q["plain SGD"] / 2
    d = r["digits_epochs"]
    assert d["momentum 0.9"] is not None and d["Nesterov 0.9"] is not None
    assert d["plain SGD"] is None or d["plain SGD"] > max(d["momentum 0.9"], d["Nesterov 0.9"])
    assert_png(r["png"])


def test_examples_are_deterministic(tmp_path):
    a = run_quick("momentum", tmp_path / "a")
    b = run_quick("momentum", tmp_path / "b")
    assert a["quadratic_steps"] == b["quadratic_steps"]
    assert a["digits_final_loss"] == b["digits_final_loss"]     # same weights, same shuffles
