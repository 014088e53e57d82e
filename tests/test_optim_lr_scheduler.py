"""optim.lr_scheduler: StepLR and ExponentialLR with PyTorch's epoch semantics."""

import numpy as np
import pytest

import autograd as ag
import optim
from optim.lr_scheduler import ExponentialLR, StepLR


def two_group_sgd(lr0=0.1, lr1=0.02):
    p = ag.tensor([1.0], requires_grad=True)
    q = ag.tensor([1.0], requires_grad=True)
    return optim.SGD([{"params": [p]}, {"params": [q], "lr": lr1}], lr=lr0, momentum=0.9)


def test_step_lr_decays_every_step_size_epochs_from_initial_lr():
    opt = two_group_sgd()
    sched = StepLR(opt, step_size=3, gamma=0.5)
    assert sched.get_last_lr() == [0.1, 0.02]
    assert [g["initial_lr"] for g in opt.param_groups] == [0.1, 0.02]
    for k in range(1, 11):
        sched.step()
        want = [0.1 * 0.5 ** (k // 3), 0.02 * 0.5 ** (k // 3)]
        assert sched.get_last_lr() == pytest.approx(want, rel=1e-15)
        assert [g["lr"] for g in opt.param_groups] == sched.get_last_lr()
        assert all(type(g["lr"]) is float for g in opt.param_groups)


def test_step_lr_default_gamma_is_a_tenth():
    opt = two_group_sgd()
    sched = StepLR(opt, step_size=1)
    sched.step()
    assert sched.get_last_lr() == pytest.approx([0.01, 0.002])


def test_exponential_lr_multiplies_every_epoch():
    opt = two_group_sgd()
    sched = ExponentialLR(opt, gamma=0.9)
    for k in range(1, 8):
        sched.step()
        assert sched.get_last_lr() == pytest.approx([0.1 * 0.9 ** k, 0.02 * 0.9 ** k], rel=1e-15)


def test_optimizer_uses_the_scheduled_lr():
    p = ag.tensor([0.0], requires_grad=True)
    opt = optim.SGD([p], lr=1.0)
    sched = StepLR(opt, step_size=2, gamma=0.1)
    moves = []
    for _ in range(5):                          # one "epoch" = one step with gradient 1
        p.grad = ag.tensor([1.0])
        before = p.data.copy()
        opt.step()
        moves.append(float(before[0] - p.data[0]))
        sched.step()
    assert moves == pytest.approx([1.0, 1.0, 0.1, 0.1, 0.01])


def test_scheduler_state_dict_round_trip_resumes_the_schedule():
    opt = two_group_sgd()
    sched = StepLR(opt, step_size=2, gamma=0.5)
    for _ in range(5):
        sched.step()
    opt_sd, sched_sd = opt.state_dict(), sched.state_dict()
    assert sched_sd["last_epoch"] == 5 and sched_sd["step_size"] == 2 and sched_sd["gamma"] == 0.5
    later = []
    for _ in range(4):
        sched.step()
        later.append(sched.get_last_lr())

    opt2 = two_group_sgd(lr0=7.0, lr1=7.0)
    opt2.load_state_dict(opt_sd)                # restores lr and initial_lr of each group
    sched2 = StepLR(opt2, step_size=99, gamma=0.9)
    sched2.load_state_dict(sched_sd)
    assert sched2.step_size == 2 and sched2.gamma == 0.5 and sched2.last_epoch == 5
    assert sched2.get_last_lr() == sched_sd["last_lr"]
    resumed = []
    for _ in range(4):
        sched2.step()
        resumed.append(sched2.get_last_lr())
    assert resumed == later


def test_resuming_with_last_epoch_needs_initial_lr():
    opt = two_group_sgd()
    with pytest.raises(KeyError, match="initial_lr"):
        ExponentialLR(opt, gamma=0.5, last_epoch=3)
    ExponentialLR(opt, gamma=0.5)
    for g in opt.param_groups:
        g["lr"] /= 8                                        # as if three epochs had run
    sched = ExponentialLR(opt, gamma=0.5, last_epoch=3)     # initial_lr now present
    assert sched.last_epoch == 4
    assert sched.get_last_lr() == [0.1 / 8, 0.02 / 8]       # the constructor leaves the lrs
    sched.step()
    assert sched.get_last_lr() == [0.1 / 16, 0.02 / 16]


def test_bad_scheduler_arguments_are_refused():
    opt = two_group_sgd()
    with pytest.raises(ValueError, match="step_size.*0"):
        StepLR(opt, step_size=0)
    with pytest.raises(TypeError, match="step_size.*2.5"):       # a wrong type: TypeError
        StepLR(opt, step_size=2.5)
    with pytest.raises(ValueError, match="gamma.*-0.1"):
        ExponentialLR(opt, gamma=-0.1)
    with pytest.raises(TypeError, match="Optimizer"):
        StepLR([np.ones(2)], step_size=1)
    sched = StepLR(opt, step_size=1)
    with pytest.raises(ValueError, match="unknown keys.*bogus"):
        sched.load_state_dict({"bogus": 1})


def test_a_scheduler_built_after_loading_the_optimizer_state_carries_on():
    # the order a training script resumes in: optimizer state first, then a new scheduler
    opt = two_group_sgd()
    sched = StepLR(opt, step_size=2, gamma=0.5)
    for _ in range(5):
        sched.step()
    opt_sd, sched_sd = opt.state_dict(), sched.state_dict()
    assert [g["lr"] for g in opt.param_groups] == [0.025, 0.005]
    opt2 = two_group_sgd(lr0=7.0, lr1=7.0)
    opt2.load_state_dict(opt_sd)
    sched2 = StepLR(opt2, step_size=2, gamma=0.5)
    assert [g["lr"] for g in opt2.param_groups] == [0.025, 0.005]
    sched2.load_state_dict(sched_sd)
    sched2.step()                                           # epoch 6: halved
    assert sched2.get_last_lr() == [0.0125, 0.0025]


def test_steps_multiply_the_current_lr():
    opt = two_group_sgd()
    sched = ExponentialLR(opt, gamma=0.5)
    sched.step()
    opt.param_groups[0]["lr"] = 1.0                         # set by hand mid-schedule
    sched.step()
    assert sched.get_last_lr() == [0.5, 0.005]
    step = StepLR(opt, step_size=2, gamma=0.1)              # a second schedule on the same optimizer
    assert step.get_last_lr() == [0.5, 0.005]
    for _ in range(2):
        sched.step()
        step.step()
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([0.5 * 0.25 * 0.1, 0.005 * 0.25 * 0.1],
                                                               rel=1e-15)


# ---------------------------------------------------------------- last_epoch as PyTorch 2.x

def with_initial_lr(lr0=0.1, lr1=0.02):
    opt = two_group_sgd(lr0, lr1)
    for g in opt.param_groups:
        g["initial_lr"] = g["lr"]
    return opt


@pytest.mark.parametrize("last_epoch, step_size, factor", [
    (1, 2, 0.1),      # enters epoch 2, a multiple of step_size: PyTorch's StepLR decays in the constructor
    (0, 2, 1.0),      # epoch 1: no decay
    (0, 1, 0.1),      # epoch 1 with step_size 1: decay
    (4, 3, 1.0),      # epoch 5
    (5, 3, 0.1),      # epoch 6
    (-1, 1, 1.0),     # a new schedule never changes the lr (epoch 0)
])
def test_step_lr_with_last_epoch_applies_pytorchs_chainable_step_in_the_constructor(last_epoch, step_size,
                                                                                      factor):
    opt = with_initial_lr()
    sched = StepLR(opt, step_size=step_size, gamma=0.1, last_epoch=last_epoch)
    assert sched.last_epoch == last_epoch + 1
    assert sched.get_last_lr() == pytest.approx([0.1 * factor, 0.02 * factor], rel=1e-15)
    assert [g["lr"] for g in opt.param_groups] == sched.get_last_lr()
    assert [g["initial_lr"] for g in opt.param_groups] == [0.1, 0.02]    # untouched


def test_step_lr_resumed_with_last_epoch_then_decays_on_multiples_of_step_size():
    opt = with_initial_lr()
    sched = StepLR(opt, step_size=3, gamma=0.5, last_epoch=3)             # epoch 4
    lrs = []
    for _ in range(5):                                                    # epochs 5..9
        sched.step()
        lrs.append(sched.get_last_lr()[0])
    assert lrs == pytest.approx([0.1, 0.05, 0.05, 0.05, 0.025], rel=1e-15)


def test_exponential_lr_with_last_epoch_leaves_the_lr_in_the_constructor():
    # PyTorch's ExponentialLR returns the current lr in its initial step
    for k in (0, 1, 7):
        opt = with_initial_lr()
        sched = ExponentialLR(opt, gamma=0.5, last_epoch=k)
        assert sched.last_epoch == k + 1 and sched.get_last_lr() == [0.1, 0.02]
        sched.step()
        assert sched.get_last_lr() == [0.05, 0.01]


@pytest.mark.parametrize("make", [lambda o: StepLR(o, 2, last_epoch=0),
                                  lambda o: ExponentialLR(o, 0.9, last_epoch=4)])
def test_resuming_without_initial_lr_is_a_key_error_that_says_what_to_do(make):
    opt = two_group_sgd()
    with pytest.raises(KeyError, match="param group 0 has no 'initial_lr'.*load the optimizer's state_dict"):
        make(opt)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.02] and "initial_lr" not in opt.param_groups[0]


def test_last_epoch_below_minus_one_or_not_an_int_is_refused():
    with pytest.raises(ValueError, match="last_epoch must be an integer >= -1, got -2"):
        StepLR(with_initial_lr(), 2, last_epoch=-2)
    with pytest.raises(TypeError, match="last_epoch"):
        ExponentialLR(with_initial_lr(), 0.9, last_epoch=1.0)


def test_scheduler_load_state_dict_checks_values_and_changes_nothing_on_error():
    opt = two_group_sgd()
    sched = StepLR(opt, step_size=2, gamma=0.5)
    before = sched.state_dict()
    for bad, exc in [({"gamma": "0.5"}, TypeError), ({"step_size": 0}, ValueError),
                     ({"last_lr": [0.1]}, ValueError), ({"last_epoch": 2, "gamma": float("nan")}, ValueError),
                     ([("gamma", 0.5)], TypeError)]:
        with pytest.raises(exc):
            sched.load_state_dict(bad)
        assert sched.state_dict() == before
