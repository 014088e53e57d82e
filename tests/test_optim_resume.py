"""Resuming training from files: model, optimizer and scheduler state through nn.save / nn.load
give exactly the trajectory of an uninterrupted run, in this process or in a fresh one."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import autograd as ag
import nn
import optim
from optim.lr_scheduler import ExponentialLR, StepLR

ROOT = Path(__file__).resolve().parent.parent
N, M = 7, 9            # steps before and after the checkpoint

OPTIMIZERS = {
    "sgd_momentum": lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9, weight_decay=1e-3),
    "sgd_nesterov": lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True),
    "sgd_dampening": lambda ps: optim.SGD(ps, lr=0.05, momentum=0.8, dampening=0.8),
    "adam": lambda ps: optim.Adam(ps, lr=0.01, betas=(0.8, 0.99), weight_decay=1e-3),
    "rmsprop": lambda ps: optim.RMSprop(ps, lr=0.005, alpha=0.9, momentum=0.5),
}
SCHEDULERS = {
    "step": lambda opt: StepLR(opt, step_size=3, gamma=0.5),
    "exponential": lambda opt: ExponentialLR(opt, gamma=0.9),
}


def data():
    rng = np.random.default_rng(0)
    return rng.standard_normal((24, 5)).astype(np.float32), rng.integers(0, 3, 24)


def build(opt_name, sched_name, seed):
    """A model with two param groups (the output layer at a tenth of the lr) and a scheduler."""
    model = nn.Sequential(nn.Dense(5, 8, activation="tanh", rng=seed), nn.Dense(8, 3, rng=seed + 1))
    opt = OPTIMIZERS[opt_name](list(model[0].parameters()))
    opt.add_param_group({"params": list(model[1].parameters()), "lr": opt.param_groups[0]["lr"] / 10})
    return model, opt, SCHEDULERS[sched_name](opt)


def train(model, opt, sched, steps, start):
    """`steps` steps from step `start` (batch `t % 3`); returns every parameter after each step."""
    X, y = data()
    traj = []
    for t in range(start, start + steps):
        b = slice(8 * (t % 3), 8 * (t % 3) + 8)
        opt.zero_grad()
        nn.functional.cross_entropy(model(ag.tensor(X[b])), y[b]).backward()
        opt.step()
        sched.step()
        traj.append([p.data.copy() for p in model.parameters()])
    return traj


def checkpoint(path, model, opt, sched):
    nn.save({"model": model.state_dict(), "optim": opt.state_dict(), "sched": sched.state_dict()}, path)


def resume(path, opt_name, sched_name, scheduler_first=False):
    """Fresh objects (other weights, other lrs), restored from the file."""
    model, opt, sched = build(opt_name, sched_name, seed=100)
    for g in opt.param_groups:
        g["lr"] = 123.0
    if scheduler_first:
        sched = SCHEDULERS[sched_name](opt)
    state = nn.load(path)
    model.load_state_dict(state["model"])
    opt.load_state_dict(state["optim"])
    if not scheduler_first:
        sched = SCHEDULERS[sched_name](opt)      # PyTorch's order: optimizer state, then a scheduler
    sched.load_state_dict(state["sched"])
    return model, opt, sched


def assert_same(traj_a, traj_b):
    assert len(traj_a) == len(traj_b)
    for step, (a, b) in enumerate(zip(traj_a, traj_b)):
        for pa, pb in zip(a, b):
            np.testing.assert_array_equal(pa, pb, err_msg=f"step {step}")


@pytest.mark.parametrize("sched_name", list(SCHEDULERS))
@pytest.mark.parametrize("opt_name", list(OPTIMIZERS))
def test_resuming_from_a_file_continues_the_exact_trajectory(tmp_path, opt_name, sched_name):
    model, opt, sched = build(opt_name, sched_name, seed=0)
    full = train(model, opt, sched, N + M, start=0)

    model, opt, sched = build(opt_name, sched_name, seed=0)
    train(model, opt, sched, N, start=0)
    checkpoint(tmp_path / "ckpt.npz", model, opt, sched)
    for scheduler_first in (False, True):
        m2, o2, s2 = resume(tmp_path / "ckpt.npz", opt_name, sched_name, scheduler_first)
        assert [g["lr"] for g in o2.param_groups] == [g["lr"] for g in opt.param_groups]
        assert_same(train(m2, o2, s2, M, start=N), full[N:])


RESUME_SCRIPT = """
import sys
sys.path.insert(0, sys.argv[1])
import numpy as np, nn
import test_optim_resume as t
model, opt, sched = t.resume(sys.argv[2], sys.argv[3], sys.argv[4])
traj = t.train(model, opt, sched, t.M, start=t.N)
nn.save({"traj": traj}, sys.argv[5])
"""


@pytest.mark.parametrize("opt_name", ["sgd_nesterov", "adam", "rmsprop"])
def test_resuming_in_a_fresh_process_continues_the_exact_trajectory(tmp_path, opt_name):
    model, opt, sched = build(opt_name, "step", seed=0)
    full = train(model, opt, sched, N + M, start=0)
    model, opt, sched = build(opt_name, "step", seed=0)
    train(model, opt, sched, N, start=0)
    checkpoint(tmp_path / "ckpt.npz", model, opt, sched)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-c", RESUME_SCRIPT, str(ROOT / "tests"), str(tmp_path / "ckpt.npz"),
                    opt_name, "step", str(tmp_path / "out.npz")], env=env, cwd=ROOT, check=True, timeout=120)
    assert_same(nn.load(tmp_path / "out.npz")["traj"], full[N:])


def test_without_the_optimizer_state_the_trajectory_differs(tmp_path):
    # the comparison above can fail: dropping the momentum buffers changes the path
    model, opt, sched = build("sgd_nesterov", "step", seed=0)
    full = train(model, opt, sched, N + M, start=0)
    model, opt, sched = build("sgd_nesterov", "step", seed=0)
    train(model, opt, sched, N, start=0)
    checkpoint(tmp_path / "ckpt.npz", model, opt, sched)
    state = nn.load(tmp_path / "ckpt.npz")
    state["optim"]["state"] = {}
    m2, o2, s2 = build("sgd_nesterov", "step", seed=100)
    m2.load_state_dict(state["model"])
    o2.load_state_dict(state["optim"])
    s2.load_state_dict(state["sched"])
    resumed = train(m2, o2, s2, M, start=N)
    assert not np.array_equal(resumed[-1][0], full[-1][0])


def test_the_checkpoint_holds_no_pickle_and_loads_with_allow_pickle_false(tmp_path):
    model, opt, sched = build("adam", "exponential", seed=0)
    train(model, opt, sched, 2, start=0)
    checkpoint(tmp_path / "ckpt.npz", model, opt, sched)
    with np.load(tmp_path / "ckpt.npz", allow_pickle=False) as f:
        for name in f.files:
            if name.endswith(".json"):
                continue
            assert f[name].dtype != object
