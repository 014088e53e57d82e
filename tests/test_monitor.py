"""nn.Monitor: its numbers against hand computation, each diagnosis on a constructed failure and
none on a healthy run, bounded memory, the interface the graph helper reads, and the figure."""

from __future__ import annotations

import gc
import math
import tracemalloc
import warnings
import weakref

import numpy as np
import pytest

import autograd as ag
import nn
import optim
from nn.monitor import KINDS, MonitorWarning
from nn.monitor._history import History


def digits(n: int = 256):
    X, y = nn.datasets.load_digits()
    return nn.data.Standardizer().fit_transform(X)[:n].astype(np.float32), y[:n]


def train(model, opt, X, y, steps: int, batch: int = 32, loss_fn=nn.functional.cross_entropy):
    """`steps` SGD steps cycling through (X, y) in order; the last loss."""
    loss = None
    for s in range(steps):
        i = (s * batch) % len(X)
        opt.zero_grad()
        loss = loss_fn(model(X[i:i + batch]), y[i:i + batch])
        loss.backward()
        opt.step()
    return loss


def kinds(mon) -> dict[str, set[str]]:
    """{module name: kinds of the problems still present}."""
    out: dict[str, set[str]] = {}
    for d in mon.diagnoses():
        if d.active:
            out.setdefault(d.module, set()).add(d.kind)
    return out


# ---------------------------------------------------------------- numbers


def test_statistics_equal_hand_computed_values():
    ag.manual_seed(1)
    model = nn.Sequential(nn.Dense(3, 4, activation="relu"), nn.Dense(4, 2, activation="tanh"))
    model[0].bias.data = np.array([0.0, -50.0, 0.1, 0.0], np.float32)     # unit 1 never fires
    model[1].weight.data = model[1].weight.numpy() * 8                    # tanh saturates
    opt = optim.SGD(model.parameters(), lr=0.1)
    mon = nn.Monitor(model, opt)
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    t = np.random.default_rng(1).standard_normal((5, 2)).astype(np.float32)
    before = {n: p.numpy().copy() for n, p in model.named_parameters()}

    opt.zero_grad()
    loss = nn.functional.mse_loss(model(x), t)
    loss.backward()
    grads = {n: p.grad.numpy().copy() for n, p in model.named_parameters()}
    opt.step()

    # by hand, in float64
    W0, b0, W1, b1 = (before[k].astype(np.float64) for k in ("0.weight", "0.bias", "1.weight", "1.bias"))
    h0 = np.maximum(x @ W0 + b0, 0)
    h1 = np.tanh(h0 @ W1 + b1)
    d1 = 2 * (h1 - t) / h1.size                       # dL/dh1 for the mean squared error
    d0 = (d1 * (1 - h1 ** 2)) @ W1.T                  # dL/dh0
    after = {n: p.numpy().astype(np.float64) for n, p in model.named_parameters()}

    def norm(*arrays):
        return math.sqrt(sum(float((a.astype(np.float64) ** 2).sum()) for a in arrays))

    health = mon.module_health()
    assert mon.steps == [0]
    l0, l1 = health["0"], health["1"]
    rel = {"rel": 1e-5}
    assert l0["act_mean"] == pytest.approx(h0.mean(), **rel)
    assert l0["act_std"] == pytest.approx(h0.std(), **rel)
    assert l1["act_mean"] == pytest.approx(h1.mean(), **rel)
    assert l1["act_std"] == pytest.approx(h1.std(), **rel)
    assert l0["dead"] == l0["dead_batch"] == np.mean(h0.max(axis=0) <= 0) == 0.25
    assert l0["saturated"] is None and l1["dead"] is None
    assert l1["saturated"] == pytest.approx(np.mean(np.abs(h1) > 0.97))
    assert l1["saturated"] >= 0.3
    assert l0["grad_norm"] == pytest.approx(norm(grads["0.weight"], grads["0.bias"]), **rel)
    assert l1["grad_norm"] == pytest.approx(norm(grads["1.weight"], grads["1.bias"]), **rel)
    # the weights the step's forward pass used (before the update)
    assert l0["weight_norm"] == pytest.approx(norm(before["0.weight"], before["0.bias"]), **rel)
    assert l1["out_grad_norm"] == pytest.approx(norm(d1), **rel)
    assert l0["out_grad_norm"] == pytest.approx(norm(d0), rel=1e-4)
    for name in ("0", "1"):
        w_before, w_after = before[f"{name}.weight"], after[f"{name}.weight"]
        expected = math.log10(np.std(w_after - w_before) / np.std(w_before))
        assert health[name]["update_ratio"] == pytest.approx(expected, abs=1e-4)
    assert l0["nonfinite"] is False and l1["nonfinite"] is False
    # per parameter
    p = {k: v[0] for k, v in mon.series("grad_norm", params=True).items()}
    assert p == pytest.approx({k: norm(g) for k, g in grads.items()}, rel=1e-5)
    b = mon.series("update_ratio", params=True)["0.bias"][0]
    assert b == pytest.approx(math.log10(np.std(after["0.bias"] - b0) / np.std(b0)), abs=1e-4)


@pytest.mark.parametrize("sample, tolerance", [(1024, 0.03), (4096, 0.02)])
def test_update_ratio_of_a_large_parameter_is_sampled_within(sample, tolerance):
    ag.manual_seed(0)
    model = nn.Sequential(nn.Dense(300, 200, activation="relu"), nn.Dense(200, 10))
    opt = optim.SGD(model.parameters(), lr=0.05)
    mon = nn.Monitor(model, opt, sample=sample)
    w0 = model[0].weight.numpy().copy()
    X = np.random.default_rng(0).standard_normal((64, 300)).astype(np.float32)
    y = np.random.default_rng(0).integers(0, 10, 64)
    train(model, opt, X, y, 1, batch=64)
    full = math.log10(np.std(model[0].weight.numpy() - w0) / np.std(w0))
    sampled = mon.module_health()["0"]["update_ratio"]
    assert abs(sampled - full) < tolerance
    assert model[0].weight.size > sample                # it was a sample


def test_norms_of_a_large_parameter_with_accumulated_gradients_and_a_closure():
    """Norms of a parameter over 4096 elements are exact whatever the loop: gradients summed over
    two backward passes, or computed inside optimizer.step(closure)."""
    ag.manual_seed(0)
    model = nn.Sequential(nn.Dense(100, 64, activation="tanh"), nn.Dense(64, 3))
    opt = optim.Adam(model.parameters(), lr=1e-3)
    mon = nn.Monitor(model, opt)
    X = np.random.default_rng(0).standard_normal((16, 100)).astype(np.float32)
    y = np.arange(16) % 3
    w = model[0].weight
    assert w.size > 4096

    def norm(a):
        return float(np.sqrt((a.astype(np.float64) ** 2).sum()))

    opt.zero_grad()
    for half in (X[:8], X[8:]):                         # gradient accumulation
        nn.functional.cross_entropy(model(half), y[:8]).backward()
    w_before, g = w.numpy().copy(), w.grad.numpy().copy()
    opt.step()
    p = {k: v[-1] for k, v in mon.series("grad_norm", params=True).items()}
    assert p["0.weight"] == pytest.approx(norm(g), rel=1e-5)
    assert mon.series("weight_norm", params=True)["0.weight"][-1] == pytest.approx(norm(w_before), rel=1e-5)

    def closure():
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(X), y)
        loss.backward()
        return loss
    w_before = w.numpy().copy()
    opt.step(closure)
    assert mon.steps == [0, 1]
    p = {k: v[-1] for k, v in mon.series("grad_norm", params=True).items()}
    assert p["0.weight"] == pytest.approx(norm(w.grad.numpy()), rel=1e-5)
    full = math.log10(np.std(w.numpy() - w_before) / np.std(w_before))
    assert abs(mon.module_health()["0"]["update_ratio"] - full) < 0.03


def test_unrecorded_steps_run_without_hooks():
    ag.manual_seed(0)
    X, y = digits()
    model = nn.Sequential(nn.Dense(64, 16, activation="relu"), nn.Dense(16, 10))
    opt = optim.SGD(model.parameters(), lr=0.01)
    mon = nn.Monitor(model, opt, every=3)

    def hooked():
        return [m.__dict__.get("_hooks") is not None and m.__dict__["_hooks"].any
                for m in (model, model[0], model[1])]
    assert hooked() == [False, True, True]      # with an optimizer: no pre-hook on the model
    train(model, opt, X, y, 1)
    assert hooked() == [False, False, False]    # steps 1 and 2 are not recorded
    train(model, opt, X, y, 1)
    assert hooked() == [False, False, False]
    train(model, opt, X, y, 1)
    assert hooked() == [False, True, True]      # armed for step 3
    train(model, opt, X, y, 1)
    assert mon.steps == [0, 3]
    mon.close()
    assert hooked() == [False, False, False] and "step" not in opt.__dict__


def test_every_records_only_those_steps_and_dead_window():
    ag.manual_seed(0)
    X, y = digits()
    model = nn.Sequential(nn.Dense(64, 16, activation="relu"), nn.Dense(16, 10))
    opt = optim.SGD(model.parameters(), lr=0.01)
    mon = nn.Monitor(model, opt, every=10)
    train(model, opt, X, y, 35)
    assert mon.steps == [0, 10, 20, 30]
    with pytest.raises(KeyError, match="not in the monitor's history"):
        mon.module_health(5)
    assert mon.module_health(10)["0"]["step"] == 10


def test_evaluation_under_no_grad_is_ignored():
    ag.manual_seed(0)
    X, y = digits()
    model = nn.Sequential(nn.Dense(64, 16, activation="relu"), nn.Dense(16, 10))
    opt = optim.SGD(model.parameters(), lr=0.01)
    mon = nn.Monitor(model, opt)
    opt.zero_grad()
    nn.functional.cross_entropy(model(X[:32]), y[:32]).backward()
    with ag.no_grad():
        model(X[100:] * 100)                             # a different batch, not recorded
    opt.step()
    h = np.maximum(X[:32] @ mon.model[0].weight.numpy(), 0)   # nearly: weights moved by 1 step
    assert mon.module_health()["0"]["act_mean"] == pytest.approx(h.mean(), rel=0.05)


# ---------------------------------------------------------------- the monitor changes nothing


def test_training_with_the_monitor_is_bitwise_the_same_and_keeps_no_graph():
    X, y = digits()
    finals = []
    for watch in (False, True):
        ag.manual_seed(3)
        model = nn.Sequential(nn.Dense(64, 32, activation="relu"), nn.Dense(32, 10))
        opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        mon = nn.Monitor(model, opt) if watch else None
        train(model, opt, X, y, 20)
        finals.append([p.numpy().copy() for p in model.parameters()])
        if watch:
            opt.zero_grad()
            out = model(X[:32])
            loss = nn.functional.cross_entropy(out, y[:32])
            assert out.grad_fn is not None and loss.requires_grad       # nothing detached
            loss.backward()
            opt.step()
            ref, node_ref = weakref.ref(loss), weakref.ref(out.grad_fn)
            del out, loss
            gc.collect()
            assert ref() is None and node_ref() is None                  # no graph kept alive
            mon.close()
            assert "step" not in opt.__dict__                           # the optimizer's own step
    for a, b in zip(*finals):
        assert np.array_equal(a, b)


# ---------------------------------------------------------------- diagnoses


def test_healthy_run_has_no_problem():
    ag.manual_seed(0)
    X, y = digits(512)
    model = nn.Sequential(nn.Dense(64, 64, activation="relu"), nn.Dense(64, 32, activation="relu"),
                          nn.Dense(32, 10))
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    mon = nn.Monitor(model, opt, warn=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", MonitorWarning)
        train(model, opt, X, y, 200)
    assert mon.diagnoses() == []
    assert {v["status"] for v in mon.module_health().values()} == {"ok"}
    assert "no problems found" in mon.report()


def test_dead_relu_from_a_negative_bias():
    ag.manual_seed(0)
    X, y = digits()
    model = nn.Sequential(nn.Dense(64, 32, activation="relu"), nn.Dense(32, 10))
    opt = optim.SGD(model.parameters(), lr=0.01)
    mon = nn.Monitor(model, opt, thresholds={"dead_window": 6})
    train(model, opt, X, y, 5)
    b = model[0].bias.numpy().copy()
    b[:24] = -100.0                                      # 24 of 32 units can never fire again
    model[0].bias.data = b
    train(model, opt, X, y, 5)
    # dead in each batch at once, dead over the window once it has passed: after step 10
    assert mon.series("dead_batch")["0"].tolist() == [0] * 5 + [0.75] * 5
    assert mon.series("dead")["0"].tolist() == [0] * 10
    assert mon.diagnoses() == []
    train(model, opt, X, y, 5)
    health = mon.module_health()
    assert health["0"]["status"] == "dead" and health["0"]["dead"] == pytest.approx(0.75)
    (d,) = [d for d in mon.diagnoses() if d.kind == "dead"]
    assert d.module == "0" and d.active and d.onset == 5
    assert "layer 0 (Dense 64->32, relu): 75% of units dead since step 5" in mon.report()
    assert health["0"]["problems"][0].startswith("layer 0 (Dense 64->32, relu): 75% of units dead")


def test_saturated_tanh():
    ag.manual_seed(0)
    X, y = digits()
    model = nn.Sequential(nn.Dense(64, 32, activation="tanh", init="he_normal"), nn.Dense(32, 10))
    model[0].weight.data = model[0].weight.numpy() * 5
    opt = optim.SGD(model.parameters(), lr=0.01)
    mon = nn.Monitor(model, opt)
    train(model, opt, X, y, 5)
    h = mon.module_health()["0"]
    assert h["status"] == "saturated" and h["saturated"] > 0.5
    assert "of outputs saturated (|tanh| > 0.97) since step 0" in h["problems"][0]


def test_vanishing_in_a_deep_sigmoid_net_but_not_with_relu():
    X, y = digits()
    for act, vanishes in (("sigmoid", True), ("relu", False)):
        ag.manual_seed(0)
        model = nn.Sequential(*[nn.Dense(64, 64, activation=act) for _ in range(10)], nn.Dense(64, 10))
        opt = optim.SGD(model.parameters(), lr=0.01)
        mon = nn.Monitor(model, opt)
        train(model, opt, X, y, 3)
        health = mon.module_health()
        assert (health["0"]["status"] == "vanishing") is vanishes, act
        if vanishes:
            assert health["0"]["grad_norm"] / health["10"]["grad_norm"] < 1e-4
            assert "gradients vanish: layer 0 (Dense 64->64, sigmoid)'s gradient norm is" in mon.report()
        else:
            assert mon.diagnoses() == []


def test_exploding_then_nonfinite():
    ag.manual_seed(0)
    X = np.random.default_rng(0).standard_normal((32, 4)).astype(np.float32)
    t = np.full((32, 1), 1e5, np.float32)
    model = nn.Sequential(nn.Dense(4, 8, activation="relu"), nn.Dense(8, 1))
    opt = optim.SGD(model.parameters(), lr=0.1)
    mon = nn.Monitor(model, opt)
    with np.errstate(all="ignore"):
        train(model, opt, X, t, 8, loss_fn=nn.functional.mse_loss)
    found = {(d.module, d.kind): d for d in mon.diagnoses()}
    ex = found[("1", "exploding")]
    assert ex.first == 0 and ex.peak > 1e3
    assert "exploding: gradient norm" in ex.message and "at step 0" in ex.message
    nf = found[("1", "nonfinite")]
    assert nf.active and "NaN/Inf" in nf.message
    assert mon.module_health()["1"]["status"] == "nonfinite"
    assert mon.module_health()["1"]["nonfinite"] is True


def test_nan_in_the_input_is_caught_at_its_step():
    ag.manual_seed(0)
    X, y = digits()
    model = nn.Sequential(nn.Dense(64, 16, activation="relu"), nn.Dense(16, 10))
    opt = optim.SGD(model.parameters(), lr=0.01)
    mon = nn.Monitor(model, opt)
    train(model, opt, X, y, 3)
    X2 = X.copy()
    X2[0, 0] = np.nan
    with np.errstate(all="ignore"):
        train(model, opt, X2, y, 1)
    h = mon.module_health()
    assert h["0"]["status"] == "nonfinite" and h["0"]["nonfinite"]
    assert "layer 0 (Dense 64->16, relu): NaN/Inf in its output" in h["0"]["problems"][0]
    assert "since step 3" in h["0"]["problems"][0]
    assert mon.module_health(2)["0"]["status"] == "ok"


def test_high_update_ratio_and_warnings_once_per_layer_and_kind():
    ag.manual_seed(0)
    X, y = digits()
    model = nn.Sequential(nn.Dense(64, 32, activation="relu"), nn.Dense(32, 10))
    opt = optim.SGD(model.parameters(), lr=3.0)
    mon = nn.Monitor(model, opt, warn=True)
    with pytest.warns(MonitorWarning) as caught, np.errstate(all="ignore"):
        train(model, opt, X, y, 6)
    msgs = [str(w.message) for w in caught]
    assert any("learning rate too high?" in m for m in msgs)
    keys = [(m.split(" at ")[1].split(":")[0] if m.startswith("update") else m.split(":")[0]) + m[:8]
            for m in msgs]
    assert len(keys) == len(set(keys))                    # once per layer and kind
    d = [d for d in mon.diagnoses() if d.kind == "update_high"]
    assert d and d[0].first == 0 and d[0].value > -1


def test_thresholds_are_overridable_and_checked():
    ag.manual_seed(0)
    X, y = digits()
    model = nn.Sequential(nn.Dense(64, 32, activation="relu"), nn.Dense(32, 10))
    model[0].bias.data = np.full(32, -100.0, np.float32)
    opt = optim.SGD(model.parameters(), lr=0.01)
    mon = nn.Monitor(model, opt, thresholds={"dead": 1.0})         # "more than 100%": never
    train(model, opt, X, y, 3)
    assert "dead" not in kinds(mon).get("0", set())
    assert mon.module_health()["0"]["dead"] == 1.0
    with pytest.raises(KeyError, match="unknown monitor threshold 'deadd'"):
        nn.Monitor(model, thresholds={"deadd": 0.5})
    with pytest.raises(ValueError, match="every"):
        nn.Monitor(model, every=0)
    with pytest.raises(TypeError, match="nn.Module"):
        nn.Monitor(lambda x: x)


# ---------------------------------------------------------------- memory and interface


def test_history_is_bounded_and_spans_the_run():
    h = History(3, 64)
    for s in range(100_000):
        h.add(s, np.array([s, 2.0 * s, 0.0]))
    assert h.n <= 64 and h.count == 100_000
    kept = h.steps[:h.n]
    assert kept[0] == 0 and kept[-1] == 99_999          # the first and the newest step
    assert np.all(np.diff(kept[:-1]) == h.stride)        # evenly thinned
    assert np.array_equal(h.rows[:h.n, 1], 2.0 * kept)   # rows stay with their steps


def test_monitor_memory_stays_bounded_over_many_steps():
    ag.manual_seed(0)
    model = nn.Sequential(nn.Dense(8, 16, activation="relu"), nn.Dense(16, 2))
    opt = optim.SGD(model.parameters(), lr=0.01)
    mon = nn.Monitor(model, opt, history=50)
    x = np.random.default_rng(0).standard_normal((4, 8)).astype(np.float32)
    y = np.array([0, 1, 0, 1])

    def steps(n):
        for _ in range(n):
            opt.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
    steps(500)
    size = mon.nbytes
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    steps(3000)
    gc.collect()
    grown = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    assert len(mon.steps) <= 50 and mon.steps[-1] == 3499
    assert mon.nbytes == size
    assert grown < 20_000, grown                          # nothing accumulates per step


def test_module_health_interface():
    ag.manual_seed(0)
    X, y = digits()
    model = nn.Sequential(nn.Dense(64, 16, activation="tanh"), nn.ReLU(), nn.Dense(16, 10))
    opt = optim.SGD(model.parameters(), lr=0.01)
    mon = nn.Monitor(model, opt)
    with pytest.raises(RuntimeError, match="no step yet"):
        mon.module_health()
    train(model, opt, X, y, 4)
    assert mon.steps == [0, 1, 2, 3]
    health = mon.module_health(2)
    assert list(health) == ["0", "1", "2"] == [n for n, m in model.named_modules() if n]
    required = {"grad_norm", "weight_norm", "update_ratio", "act_mean", "act_std", "saturated", "dead",
                "nonfinite", "status", "problems"}
    statuses = {"ok", "dead", "saturated", "vanishing", "exploding", "nonfinite", "update_high",
                "update_low"}
    for v in health.values():
        assert required <= set(v) and v["status"] in statuses and isinstance(v["problems"], list)
        assert isinstance(v["nonfinite"], bool)
    assert set(KINDS) | {"ok"} == statuses
    assert health["1"]["grad_norm"] is None and health["1"]["dead"] is not None    # ReLU module
    assert health["0"]["saturated"] is not None and health["0"]["dead"] is None
    with pytest.raises(RuntimeError, match="given the optimizer"):
        mon.step()


def test_without_optimizer_call_step_yourself_and_pick_modules():
    ag.manual_seed(0)
    X, y = digits()
    model = nn.Sequential(nn.Dense(64, 16, activation="relu"), nn.Dense(16, 10))
    opt = optim.SGD(model.parameters(), lr=0.01)
    mon = nn.Monitor(model, modules=["1"])
    for _ in range(3):
        opt.zero_grad()
        nn.functional.cross_entropy(model(X[:32]), y[:32]).backward()
        opt.step()
        mon.step()
    assert mon.module_names == ["1"] and mon.steps == [0, 1, 2]
    assert mon.module_health()["1"]["update_ratio"] is not None
    with pytest.raises(KeyError, match="no module named 'x'"):
        nn.Monitor(model, modules=["x"])


def test_plot_has_the_panels(tmp_path):
    try:
        import matplotlib  # noqa: F401
    except ImportError:  # CI's NumPy 1.24 run: matplotlib needs NumPy >= 1.25
        pytest.skip("matplotlib cannot be imported here")
    ag.manual_seed(0)
    X, y = digits()
    model = nn.Sequential(nn.Dense(64, 16, activation="relu"), nn.Dense(16, 16, activation="tanh"),
                          nn.Dense(16, 10))
    opt = optim.SGD(model.parameters(), lr=0.05)
    mon = nn.Monitor(model, opt)
    train(model, opt, X, y, 30)
    fig = mon.plot()
    titles = [a.get_title() for a in fig.axes]
    assert titles[:4] == ["gradient norm per layer", "update:data ratio (log10)",
                          "dead and saturated units", "activation std per layer"]
    assert titles[4].startswith("activations at the last step (29)")
    assert titles[5].startswith("output gradients at the last step (29)")
    assert len(fig.axes[0].get_lines()) == 3                          # one line per Dense layer
    assert -3 in [line.get_ydata()[0] for line in fig.axes[1].get_lines()]   # the 1e-3 reference
    assert len(fig.axes[4].patches) == 3                              # one histogram per layer
    fig.savefig(tmp_path / "m.png")
    assert (tmp_path / "m.png").read_bytes().startswith(b"\x89PNG")
