"""examples/batchnorm.py --quick: BatchNorm makes the 20-layer sigmoid network train."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

# the example draws with matplotlib, which needs NumPy >= 1.25: CI's NumPy 1.24 run has none
try:
    import matplotlib.figure  # noqa: F401
except ImportError:         # installed but not importable: pytest 9.1's importorskip would fail
    pytest.skip("matplotlib cannot be imported here", allow_module_level=True)

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "batchnorm.py"


def run_quick(out: Path) -> dict:
    spec = importlib.util.spec_from_file_location("example_batchnorm", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main(["--quick", "--out", str(out)])


@pytest.mark.slow
def test_batchnorm_makes_the_deep_sigmoid_network_train(tmp_path):
    r = run_quick(tmp_path)
    ratio = r["ratio_first_to_last"]
    assert ratio["sigmoid"] < 1e-6                                   # vanishing: ~1e-12
    assert 0.1 < ratio["BatchNorm + sigmoid"] < 10                    # level through 20 layers
    assert min(r["norms"]["BatchNorm + sigmoid"]) > 1e-2
    s = r["summary"]
    plain = [v for k, v in s.items() if not k.startswith("BatchNorm")]
    assert len(plain) == 3                                           # three learning rates
    for run in plain:                                                # stuck at chance: log 10 = 2.30
        assert run["final_loss"] > 2.2 and run["best_test_acc"] < 0.2
    normed = s["BatchNorm + sigmoid, lr 0.01"]
    assert normed["final_loss"] < 1.0 < normed["first_loss"]
    assert normed["test_acc"] > 0.85                                 # eval mode: running statistics
    kept = s["BatchNorm + sigmoid, lr 0.01, last batch of 3 kept"]
    assert kept["final_loss"] > 1.5 * normed["final_loss"] and kept["test_acc"] < normed["test_acc"] - 0.2
    assert r["running_mean_gap"] < 0.2                               # running mean tracks the data
    lo, hi = r["running_var_ratio"]
    assert 0.7 < lo <= hi < 1.3
    data = Path(r["png"]).read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10_000
