"""Monitor: what out_grad_norm and the activation statistics read when a step has several
forward/backward passes (docs/monitor.md, the table of what is measured)."""

import numpy as np

import nn
import optim


def _model() -> nn.Sequential:
    model = nn.Sequential(nn.Dense(3, 4, "tanh"), nn.Dense(4, 2))
    for p in model.parameters():
        p.data = np.linspace(-0.5, 0.5, p.size, dtype=np.float32).reshape(p.shape)
    return model


def test_accumulated_passes_count_every_output_gradient_and_the_last_activation():
    rng = np.random.default_rng(0)
    model = _model()
    opt = optim.SGD(model.parameters(), lr=0.1)
    mon = nn.Monitor(model, opt)
    target = np.zeros((5, 2), np.float32)
    opt.zero_grad()
    outs = []
    for _ in range(2):
        y = model(rng.standard_normal((5, 3)).astype(np.float32))
        nn.functional.mse_loss(y, target).backward()
        outs.append(y.numpy())
    opt.step()
    health = mon.module_health()["1"]
    per_pass = [np.sum((2 * y / y.size).astype(np.float64) ** 2) for y in outs]   # d mse / d y
    assert np.isclose(health["out_grad_norm"], np.sqrt(sum(per_pass)), rtol=1e-5)
    assert np.isclose(health["act_mean"], outs[-1].mean(), rtol=1e-5)
    assert np.isclose(health["act_std"], outs[-1].std(), rtol=1e-5)


def test_a_module_called_twice_counts_both_outputs():
    rng = np.random.default_rng(1)
    d = nn.Dense(3, 3, "tanh")
    model = nn.Sequential(d, d)
    opt = optim.SGD(model.parameters(), lr=0.1)
    mon = nn.Monitor(model, opt, modules=[nn.Dense])
    x = rng.standard_normal((4, 3)).astype(np.float32)
    opt.zero_grad()
    h1 = d(x)
    h1.retain_grad()
    h2 = d(h1)
    h2.retain_grad()
    (h2 * h2).sum().backward()
    opt.step()
    health = mon.module_health()
    want = np.sqrt(sum(np.sum(h.grad.numpy().astype(np.float64) ** 2) for h in (h1, h2)))
    (name,) = [k for k in health]
    assert np.isclose(health[name]["out_grad_norm"], want, rtol=1e-5)
    assert np.isclose(health[name]["act_mean"], h2.numpy().mean(), rtol=1e-5)


def test_step_closure_reads_the_closures_pass_not_one_made_before_the_step():
    rng = np.random.default_rng(2)
    model = _model()
    opt = optim.SGD(model.parameters(), lr=0.1)
    mon = nn.Monitor(model, opt)
    batches = iter([rng.standard_normal((5, 3)).astype(np.float32) * k for k in (1, 3)])
    seen = {}

    def closure():
        opt.zero_grad()
        y = model(next(batches))
        loss = nn.functional.mse_loss(y, np.zeros((5, 2), np.float32))
        loss.backward()
        seen["y"] = y.numpy()
        return loss

    closure()                       # a pass before the step (to log a loss, say), then zeroed
    opt.step(closure)
    health = mon.module_health()["1"]
    y = seen["y"].astype(np.float64)
    assert np.isclose(health["out_grad_norm"], np.linalg.norm(2 * y / y.size), rtol=1e-5)
    assert np.isclose(health["act_mean"], y.mean(), rtol=1e-5)


def test_a_pass_whose_gradients_were_zeroed_is_not_counted():
    rng = np.random.default_rng(3)
    model = _model()
    opt = optim.SGD(model.parameters(), lr=0.1)
    mon = nn.Monitor(model, opt)
    target = np.zeros((5, 2), np.float32)
    nn.functional.mse_loss(model(rng.standard_normal((5, 3)).astype(np.float32) * 4), target).backward()
    opt.zero_grad()                 # that pass is discarded
    y = model(rng.standard_normal((5, 3)).astype(np.float32))
    nn.functional.mse_loss(y, target).backward()
    opt.step()
    health = mon.module_health()["1"]
    y64 = y.numpy().astype(np.float64)
    assert np.isclose(health["out_grad_norm"], np.linalg.norm(2 * y64 / y64.size), rtol=1e-5)
    mon.close()
    assert "zero_grad" not in opt.__dict__ and "step" not in opt.__dict__
