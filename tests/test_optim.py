"""optim: trajectories against hand-written NumPy updates, param groups, state_dict, errors."""

import numpy as np
import pytest

import autograd as ag
import optim

STEPS = 25


# ---------------------------------------------------------------- a quadratic problem

def make_problem(seed=0, m=7, n=5):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((m, n))
    b = rng.standard_normal(m)
    p0 = rng.standard_normal(n)
    return A, b, p0


def loss_of(p, A, b):
    return ((A @ p - b) ** 2).sum()


def grad_np(p, A, b):
    return 2.0 * A.T @ (A @ p - b)


def run(make_opt, A, b, p0, steps=STEPS, dtype=np.float64):
    """Optimize loss_of with autograd gradients; returns the parameter after every step."""
    p = ag.tensor(np.asarray(p0, dtype=dtype), requires_grad=True)
    opt = make_opt([p])
    traj = []
    for _ in range(steps):
        opt.zero_grad()
        loss_of(p, A, b).backward()
        opt.step()
        traj.append(p.data.copy())
    return traj, p, opt


# ---------------------------------------------------------------- reference updates, by hand

def ref_sgd(p0, A, b, lr, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0, steps=STEPS):
    p, buf, traj = p0.copy(), None, []
    for _ in range(steps):
        g = grad_np(p, A, b) + weight_decay * p
        if momentum:
            buf = g.copy() if buf is None else momentum * buf + (1 - dampening) * g
            g = g + momentum * buf if nesterov else buf
        p = p - lr * g
        traj.append(p)
    return traj


def ref_adam(p0, A, b, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, steps=STEPS):
    p, m, v, traj = p0.copy(), np.zeros_like(p0), np.zeros_like(p0), []
    b1, b2 = betas
    for t in range(1, steps + 1):
        g = grad_np(p, A, b) + weight_decay * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat = m / (1 - b1 ** t)
        v_hat = v / (1 - b2 ** t)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
        traj.append(p)
    return traj


def ref_rmsprop(p0, A, b, lr=1e-2, alpha=0.99, eps=1e-8, momentum=0.0, steps=STEPS):
    p, v, buf, traj = p0.copy(), np.zeros_like(p0), np.zeros_like(p0), []
    for _ in range(steps):
        g = grad_np(p, A, b)
        v = alpha * v + (1 - alpha) * g ** 2
        avg = np.sqrt(v) + eps
        if momentum:
            buf = momentum * buf + g / avg
            p = p - lr * buf
        else:
            p = p - lr * g / avg
        traj.append(p)
    return traj


def assert_trajectory(got, want, rtol=1e-10, atol=1e-12):
    assert len(got) == len(want) >= 20
    for k, (g, w) in enumerate(zip(got, want)):
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol, err_msg=f"step {k + 1}")


SGD_CASES = {
    "plain": dict(lr=0.01),
    "momentum": dict(lr=0.01, momentum=0.9),
    "dampening": dict(lr=0.01, momentum=0.9, dampening=0.3),
    "ema_momentum": dict(lr=0.01, momentum=0.9, dampening=0.9),
    "nesterov": dict(lr=0.01, momentum=0.9, nesterov=True),
    "weight_decay": dict(lr=0.01, weight_decay=0.1),
    "momentum_weight_decay": dict(lr=0.01, momentum=0.8, dampening=0.1, weight_decay=0.05),
    "nesterov_weight_decay": dict(lr=0.01, momentum=0.9, nesterov=True, weight_decay=0.05),
}


@pytest.mark.parametrize("case", list(SGD_CASES))
def test_sgd_matches_hand_written_update(case):
    kw = SGD_CASES[case]
    A, b, p0 = make_problem()
    got, _, _ = run(lambda ps: optim.SGD(ps, **kw), A, b, p0)
    assert_trajectory(got, ref_sgd(p0, A, b, **kw))


def test_sgd_dampening_equal_momentum_is_exponential_average():
    # From the second step on, buf = beta * buf + (1 - beta) * dW; the first step sets buf = dW.
    beta, lr = 0.9, 0.01
    A, b, p0 = make_problem()
    p = ag.tensor(p0, requires_grad=True)
    opt = optim.SGD([p], lr=lr, momentum=beta, dampening=beta)
    v = None
    for _ in range(STEPS):
        opt.zero_grad()
        loss_of(p, A, b).backward()
        dW = p.grad.data.copy()
        v = dW if v is None else beta * v + (1 - beta) * dW
        before = p.data.copy()
        opt.step()
        np.testing.assert_allclose(opt.state[p]["momentum_buffer"], v, rtol=1e-12)
        np.testing.assert_allclose(p.data, before - lr * v, rtol=1e-12)


@pytest.mark.parametrize("kw", [dict(lr=0.05), dict(lr=0.05, weight_decay=0.1),
                                dict(lr=0.02, betas=(0.8, 0.99), eps=1e-6)],
                         ids=["plain", "weight_decay", "betas_eps"])
def test_adam_matches_hand_written_update(kw):
    A, b, p0 = make_problem(1)
    got, _, _ = run(lambda ps: optim.Adam(ps, **kw), A, b, p0)
    assert_trajectory(got, ref_adam(p0, A, b, **kw))


@pytest.mark.parametrize("kw", [dict(lr=0.01), dict(lr=0.01, momentum=0.9),
                                dict(lr=0.005, alpha=0.9, eps=1e-6, momentum=0.5)],
                         ids=["plain", "momentum", "alpha_eps_momentum"])
def test_rmsprop_matches_hand_written_update(kw):
    A, b, p0 = make_problem(2)
    got, _, _ = run(lambda ps: optim.RMSprop(ps, **kw), A, b, p0)
    assert_trajectory(got, ref_rmsprop(p0, A, b, **kw))


def test_default_hyperparameters_match_contract():
    p = ag.tensor([1.0], requires_grad=True)
    adam = optim.Adam([p]).param_groups[0]
    assert (adam["lr"], adam["betas"], adam["eps"], adam["weight_decay"]) == (1e-3, (0.9, 0.999), 1e-8, 0.0)
    rms = optim.RMSprop([p]).param_groups[0]
    assert (rms["lr"], rms["alpha"], rms["eps"], rms["momentum"]) == (1e-2, 0.99, 1e-8, 0.0)
    sgd = optim.SGD([p], lr=0.1).param_groups[0]
    assert (sgd["momentum"], sgd["dampening"], sgd["nesterov"], sgd["weight_decay"]) == (0.0, 0.0, False, 0.0)
    with pytest.raises(TypeError):
        optim.SGD([p])      # lr is required


@pytest.mark.parametrize("make", [
    lambda ps: optim.SGD(ps, lr=0.01, momentum=0.9, weight_decay=0.01),
    lambda ps: optim.SGD(ps, lr=0.01, momentum=0.9, nesterov=True, weight_decay=0.01),
    lambda ps: optim.Adam(ps, lr=0.05, weight_decay=0.01),
    lambda ps: optim.RMSprop(ps, lr=0.01, momentum=0.5),
], ids=["sgd", "nesterov", "adam", "rmsprop"])
def test_float32_stays_float32_and_close_to_float64(make):
    A, b, p0 = make_problem(3)
    got32, p, opt = run(make, A.astype(np.float32), b.astype(np.float32), p0, dtype=np.float32)
    got64, _, _ = run(make, A, b, p0)
    assert p.dtype == np.float32
    for buf in opt.state[p].values():
        if isinstance(buf, np.ndarray):
            assert buf.dtype == np.float32
    np.testing.assert_allclose(got32[-1], got64[-1], rtol=1e-3, atol=1e-4)


# ---------------------------------------------------------------- momentum on an ill-conditioned quadratic

def steps_to_converge(make_opt, A, b, p0, p_star, tol, max_steps=5000):
    """Steps until |p - p*| < tol * |p0 - p*|."""
    p = ag.tensor(p0, requires_grad=True)
    opt = make_opt([p])
    start = np.linalg.norm(p0 - p_star)
    for k in range(1, max_steps + 1):
        opt.zero_grad()
        loss_of(p, A, b).backward()
        opt.step()
        if np.linalg.norm(p.data - p_star) < tol * start:
            return k
    return max_steps + 1


def test_momentum_converges_faster_on_ill_conditioned_quadratic():
    rng = np.random.default_rng(4)
    Q, _ = np.linalg.qr(rng.standard_normal((10, 10)))
    s = np.linspace(1.0, 10.0, 10)            # Hessian 2 A^T A = Q diag(2 s^2) Q^T: condition number 100
    A = s[:, None] * Q.T
    p_star = rng.standard_normal(10)
    b = A @ p_star                            # the minimum, loss 0, is at p_star
    eig = np.linalg.eigvalsh(2 * A.T @ A)
    assert eig.max() / eig.min() == pytest.approx(100.0)
    lr = 1.0 / eig.max()
    p0 = p_star + Q @ np.ones(10)             # the same initial error along every eigenvector

    def count(**kw):
        return steps_to_converge(lambda ps: optim.SGD(ps, lr=lr, **kw), A, b, p0, p_star, tol=1e-6)

    plain, heavy, nesterov = count(), count(momentum=0.9), count(momentum=0.9, nesterov=True)
    print(f"steps until |p - p*| shrinks 1e6-fold (condition number 100, lr = 1/L): plain SGD {plain}, "
          f"momentum 0.9 {heavy}, Nesterov 0.9 {nesterov}")
    assert plain <= 5000
    assert heavy < plain / 3
    assert nesterov < plain / 3


# ---------------------------------------------------------------- params and param groups

def test_params_may_be_a_generator():
    p = ag.tensor([1.0, 2.0], requires_grad=True)
    q = ag.tensor([3.0], requires_grad=True)
    opt = optim.SGD((t for t in [p, q]), lr=0.5)
    assert [len(g["params"]) for g in opt.param_groups] == [2]
    (p.sum() + 2 * q.sum()).backward()
    opt.step()
    np.testing.assert_allclose(p.data, [0.5, 1.5])
    np.testing.assert_allclose(q.data, [2.0])


def test_param_groups_use_their_own_lr_and_inherit_the_rest():
    p = ag.tensor([1.0, 1.0], requires_grad=True)
    q = ag.tensor([1.0, 1.0], requires_grad=True)
    opt = optim.SGD([{"params": [p]}, {"params": q, "lr": 0.01}], lr=0.1, momentum=0.9)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.01]
    assert [g["momentum"] for g in opt.param_groups] == [0.9, 0.9]
    assert opt.param_groups[1]["params"][0] is q
    (3 * p.sum() + 3 * q.sum()).backward()
    opt.step()
    np.testing.assert_allclose(p.data, [0.7, 0.7])
    np.testing.assert_allclose(q.data, [0.97, 0.97])


def test_adam_group_with_own_betas():
    p = ag.tensor([1.0], requires_grad=True)
    q = ag.tensor([1.0], requires_grad=True)
    opt = optim.Adam([{"params": [p]}, {"params": [q], "betas": (0.5, 0.9), "lr": 0.1}])
    assert opt.param_groups[1]["betas"] == (0.5, 0.9)
    (p + q).sum().backward()
    opt.step()
    # The first Adam step moves by lr * g / (|g| + eps) whatever the betas.
    np.testing.assert_allclose(p.data, [1 - 1e-3], rtol=1e-6)
    np.testing.assert_allclose(q.data, [1 - 0.1], rtol=1e-6)


def test_add_param_group_refuses_a_parameter_already_present():
    p = ag.tensor([1.0], requires_grad=True)
    opt = optim.SGD([p], lr=0.1)
    q = ag.tensor([1.0], requires_grad=True)
    opt.add_param_group({"params": [q], "lr": 0.2})
    assert opt.param_groups[1]["lr"] == 0.2
    with pytest.raises(ValueError, match="more than once"):
        opt.add_param_group({"params": [p]})


@pytest.mark.parametrize("make", [
    lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9),
    lambda ps: optim.Adam(ps, lr=0.1),
    lambda ps: optim.RMSprop(ps, lr=0.1, momentum=0.5),
], ids=["sgd", "adam", "rmsprop"])
def test_parameters_without_grad_are_skipped(make):
    p = ag.tensor([1.0, 2.0], requires_grad=True)
    unused = ag.tensor([5.0, 6.0], requires_grad=True)
    frozen = ag.tensor([7.0])                     # does not require grad at all
    opt = make([p, unused, frozen])
    (p * p).sum().backward()
    opt.step()
    assert unused.grad is None
    np.testing.assert_array_equal(unused.data, [5.0, 6.0])
    np.testing.assert_array_equal(frozen.data, [7.0])
    assert unused not in opt.state and frozen not in opt.state and p in opt.state
    assert not np.array_equal(p.data, [1.0, 2.0])


def test_zero_grad_sets_grad_to_none_or_zero():
    p = ag.tensor([1.0, 2.0], requires_grad=True)
    opt = optim.SGD([p], lr=0.1)
    (p * p).sum().backward()
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(p.grad.data, [0.0, 0.0])
    opt.zero_grad()
    assert p.grad is None


def test_grads_accumulate_without_zero_grad():
    p = ag.tensor([1.0], requires_grad=True)
    opt = optim.SGD([p], lr=0.1)
    (2 * p).sum().backward()
    (2 * p).sum().backward()
    opt.step()
    np.testing.assert_allclose(p.data, [1.0 - 0.1 * 4.0])


def test_step_returns_the_closure_loss():
    A, b, p0 = make_problem()
    p = ag.tensor(p0, requires_grad=True)
    opt = optim.SGD([p], lr=0.01)

    def closure():
        opt.zero_grad()
        loss = loss_of(p, A, b)
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert loss.item() == pytest.approx(np.sum((A @ p0 - b) ** 2))
    np.testing.assert_allclose(p.data, p0 - 0.01 * grad_np(p0, A, b), rtol=1e-12)


# ---------------------------------------------------------------- errors

def test_a_parameter_given_twice_is_refused():
    p = ag.tensor([1.0], requires_grad=True)
    with pytest.raises(ValueError, match="more than once"):
        optim.SGD([p, p], lr=0.1)
    with pytest.raises(ValueError, match="more than once"):
        optim.Adam([{"params": [p]}, {"params": [p], "lr": 0.1}])


def test_equal_valued_distinct_parameters_are_accepted():
    # Tracked by identity: two parameters with equal values are two parameters.
    p = ag.tensor([1.0, 2.0], requires_grad=True)
    q = ag.tensor([1.0, 2.0], requires_grad=True)
    opt = optim.SGD([p, q], lr=0.1, momentum=0.9)
    (p.sum() + 2 * q.sum()).backward()
    opt.step()
    np.testing.assert_allclose(p.data, [0.9, 1.9])
    np.testing.assert_allclose(q.data, [0.8, 1.8])


def test_bad_params_are_refused():
    p = ag.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError, match="single Tensor"):
        optim.SGD(p, lr=0.1)
    with pytest.raises(ValueError, match="empty"):
        optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="not a Tensor"):
        optim.SGD([p, np.ones(2)], lr=0.1)
    with pytest.raises(ValueError, match="leaf"):
        optim.SGD([p * 2], lr=0.1)
    with pytest.raises(TypeError, match="set"):
        optim.SGD([{"params": {p}}], lr=0.1)
    with pytest.raises(ValueError, match="'params'"):
        optim.SGD([{"lr": 0.1}], lr=0.1)


BAD_HYPERPARAMETERS = [
    (optim.SGD, dict(lr=-0.1), "lr.*-0.1"),
    (optim.SGD, dict(lr=0.1, momentum=1.0), "momentum.*1.0"),
    (optim.SGD, dict(lr=0.1, momentum=-0.5), "momentum.*-0.5"),
    (optim.SGD, dict(lr=0.1, dampening=1.5), "dampening.*1.5"),
    (optim.SGD, dict(lr=0.1, weight_decay=-1e-4), "weight_decay.*-0.0001"),
    (optim.SGD, dict(lr=0.1, nesterov=True), "Nesterov.*momentum=0.0"),
    (optim.SGD, dict(lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), "Nesterov.*dampening=0.1"),
    (optim.Adam, dict(lr=-1e-3), "lr.*-0.001"),
    (optim.Adam, dict(betas=(1.0, 0.999)), "beta1.*1.0"),
    (optim.Adam, dict(betas=(0.9, -0.1)), "beta2.*-0.1"),
    (optim.Adam, dict(betas=(0.9,)), "betas"),
    (optim.Adam, dict(eps=-1e-8), "eps.*-1e-08"),
    (optim.Adam, dict(weight_decay=-0.01), "weight_decay.*-0.01"),
    (optim.Adam, dict(lr=float("nan")), "lr.*nan"),
    (optim.RMSprop, dict(lr=-0.01), "lr.*-0.01"),
    (optim.RMSprop, dict(alpha=1.5), "alpha.*1.5"),
    (optim.RMSprop, dict(eps=-1.0), "eps.*-1.0"),
    (optim.RMSprop, dict(momentum=1.0), "momentum.*1.0"),
]


@pytest.mark.parametrize("cls, kw, message", BAD_HYPERPARAMETERS,
                         ids=[f"{c.__name__}-{m}" for c, _, m in BAD_HYPERPARAMETERS])
def test_bad_hyperparameters_are_refused_naming_the_value(cls, kw, message):
    p = ag.tensor([1.0], requires_grad=True)
    with pytest.raises(ValueError, match=message):
        cls([p], **kw)
    base = {"lr": 0.1} if cls is optim.SGD else {}
    with pytest.raises(ValueError, match=message):      # the same check for a group's own value
        cls([{"params": [p], **kw}], **base)


def test_a_bad_lr_set_later_is_refused_at_step_before_any_update():
    p = ag.tensor([1.0], requires_grad=True)
    q = ag.tensor([1.0], requires_grad=True)
    opt = optim.SGD([{"params": [p]}, {"params": [q]}], lr=0.1)
    (p + q).sum().backward()
    opt.param_groups[1]["lr"] = -1.0
    with pytest.raises(ValueError, match="lr.*-1.0"):
        opt.step()
    np.testing.assert_array_equal(p.data, [1.0])


# ---------------------------------------------------------------- state_dict

OPTIMIZERS = {
    "sgd_nesterov_wd": lambda ps: optim.SGD(ps, lr=0.01, momentum=0.9, nesterov=True, weight_decay=0.01),
    "sgd_dampening": lambda ps: optim.SGD(ps, lr=0.01, momentum=0.9, dampening=0.5),
    "adam_wd": lambda ps: optim.Adam(ps, lr=0.05, weight_decay=0.01),
    "rmsprop_momentum": lambda ps: optim.RMSprop(ps, lr=0.01, momentum=0.5),
}


def two_groups(p, q, make):
    opt = make([p])
    opt.add_param_group({"params": [q], "lr": 0.003})
    return opt


def train(opt, p, q, A, b, steps):
    for _ in range(steps):
        opt.zero_grad()
        (loss_of(p, A, b) + loss_of(q, A, b) * 0.5).backward()
        opt.step()


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_resuming_from_state_dict_gives_the_same_trajectory(name):
    make = OPTIMIZERS[name]
    A, b, p0 = make_problem(5)
    p = ag.tensor(p0, requires_grad=True)
    q = ag.tensor(-p0, requires_grad=True)
    opt = two_groups(p, q, make)
    train(opt, p, q, A, b, 7)
    saved = opt.state_dict()
    saved_p, saved_q = p.data.copy(), q.data.copy()
    train(opt, p, q, A, b, 13)                  # never stopped

    # Saved buffers are copies: later steps did not change them.
    opt_again = two_groups(ag.tensor(saved_p, requires_grad=True), ag.tensor(saved_q, requires_grad=True),
                           make)
    assert saved["param_groups"][1]["params"] == [1]
    assert set(saved["state"]) == {0, 1}

    # Fresh parameters, fresh optimizer with other hyperparameters: load, resume.
    p2 = ag.tensor(saved_p, requires_grad=True)
    q2 = ag.tensor(saved_q, requires_grad=True)
    opt2 = make([p2])
    opt2.add_param_group({"params": [q2], "lr": 0.5})
    opt2.param_groups[0]["lr"] = 0.9
    opt2.load_state_dict(saved)
    assert [g["lr"] for g in opt2.param_groups] == [g["lr"] for g in opt.param_groups]
    assert opt2.param_groups[1]["params"][0] is q2
    train(opt2, p2, q2, A, b, 13)
    np.testing.assert_array_equal(p2.data, p.data)
    np.testing.assert_array_equal(q2.data, q.data)

    # The same state_dict loads a second time (it was not consumed or mutated).
    opt_again.load_state_dict(saved)
    train(opt_again, *opt_again.param_groups[0]["params"], *opt_again.param_groups[1]["params"], A, b, 13)
    np.testing.assert_array_equal(opt_again.param_groups[0]["params"][0].data, p.data)


def test_state_dict_buffers_are_copies_both_ways():
    p = ag.tensor([1.0, 2.0], requires_grad=True)
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    (p * p).sum().backward()
    opt.step()
    sd = opt.state_dict()
    buf = opt.state[p]["momentum_buffer"]
    assert sd["state"][0]["momentum_buffer"] is not buf
    sd["state"][0]["momentum_buffer"][:] = 100.0
    np.testing.assert_allclose(buf, [2.0, 4.0])
    opt.load_state_dict(sd)
    sd["state"][0]["momentum_buffer"][:] = -1.0
    np.testing.assert_allclose(opt.state[p]["momentum_buffer"], [100.0, 100.0])


def test_load_state_dict_refuses_mismatches_and_leaves_the_optimizer_unchanged():
    p = ag.tensor([1.0, 2.0], requires_grad=True)
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    (p * p).sum().backward()
    opt.step()
    sd = opt.state_dict()

    other = ag.tensor([1.0, 2.0, 3.0], requires_grad=True)
    opt3 = optim.SGD([other], lr=0.5, momentum=0.9)
    with pytest.raises(ValueError, match=r"momentum_buffer.*\(2,\).*\(3,\)"):
        opt3.load_state_dict(sd)
    assert opt3.param_groups[0]["lr"] == 0.5 and len(opt3.state) == 0

    opt_two = optim.SGD([ag.tensor([1.0, 2.0], requires_grad=True), ag.tensor([1.0], requires_grad=True)],
                        lr=0.1)
    with pytest.raises(ValueError, match="group 0 has 2 parameters, the saved one 1"):
        opt_two.load_state_dict(sd)
    two_groups_sd = optim.SGD([{"params": [ag.tensor([1.0], requires_grad=True)]},
                               {"params": [ag.tensor([1.0], requires_grad=True)]}], lr=0.1).state_dict()
    with pytest.raises(ValueError, match="2 param groups, this optimizer has 1"):
        opt.load_state_dict(two_groups_sd)

    bad = opt.state_dict()
    bad["param_groups"][0]["lr"] = -3.0
    with pytest.raises(ValueError, match="lr.*-3.0"):
        opt.load_state_dict(bad)
    assert opt.param_groups[0]["lr"] == 0.1


def test_repr_lists_groups():
    p = ag.tensor([1.0], requires_grad=True)
    text = repr(optim.SGD([p], lr=0.1, momentum=0.9))
    assert "SGD" in text and "lr=0.1" in text and "momentum=0.9" in text
