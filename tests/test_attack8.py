"""Attacks from outside the repository (attack8): nn, checkpoints, optim, data, hooks."""

import copy
import os
import pickle

import numpy as np
import pytest

import autograd as ag
import nn
import optim


def _train(model, opt, x, steps=2):
    for _ in range(steps):
        opt.zero_grad()
        (model(x) ** 2).sum().backward()
        opt.step()


@pytest.mark.parametrize("duplicate", [copy.deepcopy, lambda obj: pickle.loads(pickle.dumps(obj))])
@pytest.mark.parametrize("make", [lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9),
                                  lambda ps: optim.Adam(ps, lr=0.1),
                                  lambda ps: optim.RMSprop(ps, lr=0.1, momentum=0.5)])
def test_a_copied_optimizer_keeps_its_buffers_for_the_copied_parameters(duplicate, make):
    # copy.deepcopy((model, opt)) gave the copy new parameters, but its state stayed keyed by
    # the old ones' ids: every buffer (momentum, Adam's averages) silently restarted from zero
    x = np.linspace(-1, 1, 12).reshape(4, 3)
    model = nn.Dense(3, 2, rng=0)
    opt = make(model.parameters())
    _train(model, opt, x)
    model2, opt2 = duplicate((model, opt))
    p2 = opt2.param_groups[0]["params"][0]
    assert p2 is model2.weight
    assert opt2.state.get(p2), "the copy lost the parameter's buffers"
    _train(model, opt, x, steps=3)
    _train(model2, opt2, x, steps=3)
    np.testing.assert_array_equal(model2.weight.data, model.weight.data)
    np.testing.assert_array_equal(model2.bias.data, model.bias.data)


class _ZeroGradient(ag.Function):
    """3 * x with a wrong backward (zero)."""

    @staticmethod
    def forward(ctx, x):
        return x * 3

    @staticmethod
    def backward(ctx, grad):
        return grad * 0


def test_gradcheck_moves_the_elements_of_a_fortran_ordered_input():
    # the finite differences stepped a copy (reshape(-1) of a Fortran-ordered array copies),
    # so a zero gradient passed and a correct one failed
    x = ag.Tensor(np.asfortranarray(np.random.default_rng(0).random((2, 3))), requires_grad=True)
    assert not x.data.flags.c_contiguous
    assert not ag.gradcheck(_ZeroGradient.apply, (x,), raise_exception=False)
    assert ag.gradcheck(lambda t: (t ** 2 * np.arange(3.0)).sum(axis=0), (x,))
    assert ag.gradgradcheck(lambda t: (t ** 3).sum(), (x,))


@pytest.mark.parametrize("mode", ["False", "eval", 0, None])
def test_train_refuses_a_mode_that_is_not_a_bool(mode):
    # train("False") used to switch training *on* (bool("False") is True), silently
    model = nn.Sequential(nn.Dense(2, 2), nn.Dropout(0.5)).eval()
    with pytest.raises(TypeError, match="mode must be True or False"):
        model.train(mode)
    assert not model.training and not model[1].training
    assert model.train(np.bool_(True)).training is True and model[1].training is True


def test_a_dict_of_modules_assigned_to_a_module_warns_that_it_is_not_registered():
    class Heads(nn.Module):
        def __init__(self):
            super().__init__()
            self.heads = {"a": nn.Dense(2, 1), "b": nn.Dense(2, 1)}

    with pytest.warns(UserWarning, match="dict holding Modules or Parameters; they are not registered"):
        model = Heads()
    assert list(model.parameters()) == []      # as in PyTorch: only the warning is new


def test_saving_a_module_or_optimizer_object_says_to_save_its_state_dict(tmp_path):
    model = nn.Dense(2, 2)
    opt = optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(TypeError, match=r"'model' is a Dense.*save its state_dict\(\) instead"):
        nn.save({"model": model}, tmp_path / "a.npz")
    with pytest.raises(TypeError, match=r"got SGD; pass its state_dict\(\)"):
        nn.save(opt, tmp_path / "b.npz")
    assert not list(tmp_path.iterdir())


@pytest.mark.skipif(os.name != "posix", reason="stale temporary files are removed on POSIX only")
def test_a_save_removes_the_temporary_files_of_killed_saves_and_nothing_else(tmp_path):
    # a save killed by SIGKILL (a preempted job) left its temporary file, as big as the
    # checkpoint, for ever: a job restarted many times filled the disk with hidden files
    from nn import serialization
    dead = 2 ** 22 + 12345          # above every system's largest process id: no such process
    host = serialization._writer().rsplit("_", 1)[0]
    names = {
        "dead": f".ckpt.npz.{host}_{dead}.0123456789ab.tmp",
        "young": f".ckpt.npz.{host}_{dead}.ba9876543210.tmp",
        "alive": f".ckpt.npz.{host}_{os.getppid()}.0123456789ab.tmp",
        "other host": f".ckpt.npz.{host}x_{dead}.0123456789ab.tmp",
        "other file": f".other.npz.{host}_{dead}.0123456789ab.tmp",
        "unknown": ".ckpt.npz.0123456789ab.tmp",
    }
    for key, name in names.items():
        (tmp_path / name).write_bytes(b"partial")
        if key != "young":
            os.utime(tmp_path / name, (0, 0))
    nn.save({"w": np.arange(3.0)}, tmp_path / "ckpt.npz")
    left = {p.name for p in tmp_path.iterdir()}
    assert names["dead"] not in left
    assert left == {"ckpt.npz"} | {n for k, n in names.items() if k != "dead"}
    np.testing.assert_array_equal(nn.load(tmp_path / "ckpt.npz")["w"], np.arange(3.0))


def test_softmax_layers_and_functions_take_pytorchs_dim():
    # API: `dim` is accepted for `axis` wherever that is taken; nn.Softmax(dim=1), PyTorch's
    # usual spelling, and nn.functional.softmax / log_softmax(x, dim=...) raised TypeError
    x = np.arange(6.0).reshape(2, 3)
    e = np.exp(x - x.max(axis=0))
    expected = e / e.sum(axis=0)
    np.testing.assert_allclose(nn.Softmax(dim=0)(x).data, expected)
    np.testing.assert_allclose(nn.functional.softmax(x, dim=0).data, expected)
    np.testing.assert_allclose(nn.functional.log_softmax(x, dim=0).data, np.log(expected))
    assert nn.Softmax(dim=0).axis == 0
    with pytest.raises(TypeError, match="got both axis=0 and dim=1"):
        nn.Softmax(axis=0, dim=1)


def test_module_zero_grad_takes_set_to_none_as_pytorch():
    # model.zero_grad(set_to_none=False), common in PyTorch code, raised TypeError
    model = nn.Dense(3, 2)
    model(np.ones((4, 3), np.float32)).sum().backward()
    model.zero_grad(set_to_none=False)
    assert model.weight.grad is not None and not model.weight.grad.data.any()
    assert model.weight.grad.shape == model.weight.shape
    model.zero_grad(set_to_none=True)
    assert model.weight.grad is None and model.bias.grad is None
    with pytest.raises(TypeError, match="set_to_none must be True or False"):
        model.zero_grad(set_to_none="no")


def test_load_state_dict_names_a_prefix_that_separates_the_keys():
    # a state saved from a wrapping model ('module.', a Sequential's '0.') listed four bad keys
    # and no way out
    dense = nn.Dense(3, 2)
    wrapped = nn.Sequential(nn.Dense(3, 2)).state_dict()
    with pytest.raises(RuntimeError, match=r"by the prefix '0\.': strip it from the state's keys"):
        dense.load_state_dict(wrapped)
    outer = nn.Sequential(nn.Sequential(nn.Dense(3, 2)))
    with pytest.raises(RuntimeError, match=r"by the prefix '0\.0\.': add it to the state's keys"):
        outer.load_state_dict(dense.state_dict())
    with pytest.raises(RuntimeError) as err:                     # no common prefix: no hint
        outer.load_state_dict({"weight": np.zeros((3, 2), np.float32)})
    assert "prefix" not in str(err.value)
    dense.load_state_dict({k[2:]: v for k, v in wrapped.items()})   # the fix it names works
    np.testing.assert_array_equal(dense.weight.data, wrapped["0.weight"])


@pytest.mark.parametrize("value", [nn.Parameter(np.ones((9, 9))), nn.Dense(9, 9)])
def test_a_dotted_name_cannot_register_a_parameter_or_module(value):
    # setattr(m, "a.weight", p) registered p under a state_dict key that m.a.weight also
    # has: one silently overwrote the other in every checkpoint
    model = nn.Sequential(nn.Dense(2, 2))
    with pytest.raises(KeyError, match="without '.'"):
        setattr(model, "0.weight", value)
    with pytest.raises(KeyError, match="non-empty"):
        setattr(model, "", value)
    assert list(model.state_dict()) == ["0.weight", "0.bias"]
    assert model.state_dict()["0.weight"].shape == (2, 2)


def test_zero_on_a_tensor_a_graph_saved_explains_why_it_is_refused():
    # it raised NumPy's bare "assignment destination is read-only"
    p = nn.Parameter(np.ones(3))
    w = nn.Parameter(np.full(3, 2.0))
    y = (p * w).sum()
    with ag.no_grad(), pytest.raises(ValueError, match=r"is read-only: a graph saved it"):
        p.zero_()
    y.backward()
    np.testing.assert_array_equal(w.grad.data, np.ones(3))     # p was left as it was
    with ag.no_grad():
        p.zero_()                                              # free again after the backward
    np.testing.assert_array_equal(p.data, np.zeros(3))


def _adam_state():
    model = nn.Dense(3, 2, rng=0)
    opt = optim.Adam(model.parameters(), lr=0.1)
    model(np.ones((2, 3), np.float32)).sum().backward()
    opt.step()
    return opt.state_dict()


@pytest.mark.parametrize("damage, error", [
    (lambda s: s.update(m=s.pop("exp_avg"), v=s.pop("exp_avg_sq")), "buffers \\['m', 'v'\\]"),
    (lambda s: s.pop("step"), "but not \\['step'\\]"),
    (lambda s: s.update(step=2.5), "must be a count"),
    (lambda s: s.update(step="3"), "must be a count"),
    (lambda s: s.update(exp_avg=np.array(0.0)), "has shape \\(\\)"),
    (lambda s: s.update(exp_avg=None), "must be an array"),
])
def test_optimizer_load_state_dict_refuses_buffers_it_does_not_keep(damage, error):
    # buffers under other names (another version, another library) were accepted and ignored:
    # the optimizer silently restarted from zero; a bad step or a 0-d buffer failed at step()
    state = _adam_state()
    damage(state["state"][0])
    model = nn.Dense(3, 2, rng=0)
    opt = optim.Adam(model.parameters(), lr=0.1)
    with pytest.raises((TypeError, ValueError), match=error):
        opt.load_state_dict(state)
    assert len(opt.state) == 0                      # left unchanged


def test_optimizer_load_state_dict_takes_a_step_saved_as_a_0d_array_or_float():
    state = _adam_state()
    state["state"][0]["step"] = np.array(1.0)       # as PyTorch keeps it, converted to NumPy
    opt = optim.Adam(nn.Dense(3, 2, rng=0).parameters(), lr=0.1)
    opt.load_state_dict(state)
    p = opt.param_groups[0]["params"][0]
    assert opt.state[p]["step"] == 1 and type(opt.state[p]["step"]) is int


def test_sequential_takes_a_dict_of_named_modules_as_pytorch():
    # Sequential(OrderedDict(...)), PyTorch's way to name layers, raised TypeError
    from collections import OrderedDict
    model = nn.Sequential(OrderedDict([("hidden", nn.Dense(2, 3, "relu", rng=0)),
                                       ("out", nn.Dense(3, 1, rng=1))]))
    assert list(model.state_dict()) == ["hidden.weight", "hidden.bias", "out.weight", "out.bias"]
    x = np.ones((4, 2), np.float32)
    expected = model.out(model.hidden(x)).data
    np.testing.assert_array_equal(model(x).data, expected)
    assert model[1] is model.out and len(model) == 2
    for bad in ("training", "forward", "a.b"):
        with pytest.raises(KeyError):
            nn.Sequential({bad: nn.ReLU()})


def test_a_loss_of_list_inputs_keeps_the_default_dtype_with_integer_or_float64_targets():
    # a list input left the target as it was: int64 or float64 targets made a float64 loss
    F = nn.functional
    assert F.binary_cross_entropy_with_logits([0.2, 0.9], [0, 1]).dtype == ag.get_default_dtype()
    assert F.mse_loss([1.0, 2.0], np.array([1.0, 3.0])).dtype == ag.get_default_dtype()
    assert F.binary_cross_entropy([0.2, 0.9], np.array([0.0, 1.0])).dtype == ag.get_default_dtype()
    assert F.mse_loss(np.array([1.0, 2.0]), [1, 2]).dtype == np.float64      # an ndarray keeps its own


def test_clip_grad_norm_with_a_nan_gradient_does_not_leave_the_others_unclipped():
    # a NaN total norm skipped the scaling: every finite gradient went on unclipped
    p = ag.tensor(np.zeros(2), requires_grad=True)
    q = ag.tensor(np.zeros(2), requires_grad=True)
    p.grad = ag.tensor(np.array([np.nan, 1.0]))
    q.grad = ag.tensor(np.array([300.0, 400.0]))
    assert np.isnan(nn.utils.clip_grad_norm_([p, q], 1.0))
    assert np.isnan(p.grad.data).all() and np.isnan(q.grad.data).all()      # as PyTorch
    q.grad = ag.tensor(np.array([300.0, 400.0]))
    with pytest.raises(RuntimeError, match="hold NaN or Inf"):
        nn.utils.clip_grad_norm_([p, q], 1.0, error_if_nonfinite=True)
    np.testing.assert_array_equal(q.grad.data, [300.0, 400.0])
    assert np.isnan(nn.utils.clip_grad_norm_([p, q], float("inf")))        # inf only measures
    np.testing.assert_array_equal(q.grad.data, [300.0, 400.0])


class _Bfloat16Like:
    """What a torch bfloat16 tensor does under np.asarray."""

    def __array__(self, dtype=None, copy=None):
        raise TypeError("Got unsupported ScalarType BFloat16")


def test_load_torch_state_dict_says_how_to_convert_what_numpy_cannot_read():
    model = nn.Sequential(nn.Dense(3, 4))
    state = {"0.weight": _Bfloat16Like(), "0.bias": np.zeros(4, np.float32)}
    with pytest.raises(TypeError, match=r"'0.weight' cannot be read as a NumPy array .*\.float\(\)"):
        nn.load_torch_state_dict(model, state)


def test_a_param_group_key_close_to_a_setting_warns():
    # {"params": ..., "weight_deacy": 0.01} was kept and never read: no decay, silently
    p, q = nn.Parameter(np.ones(2)), nn.Parameter(np.ones(2))
    with pytest.warns(UserWarning, match="'weight_deacy'.*did you mean 'weight_decay'"):
        opt = optim.SGD([{"params": [p], "weight_deacy": 0.1}], lr=1.0)
    with pytest.warns(UserWarning, match="'LR'.*did you mean 'lr'"):
        opt.add_param_group({"params": [q], "LR": 0.5})
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # a key of one's own (a name to log) stays quiet
        optim.Adam([{"params": [nn.Parameter(np.ones(2))], "name": "biases", "initial_lr": 0.1}])


@pytest.mark.parametrize("make", [lambda: nn.Dense(3, 2), lambda: nn.BatchNorm1d(3), lambda: nn.LayerNorm(3),
                                  lambda: nn.Sequential(nn.ReLU(), nn.Dense(3, 2)), nn.Tanh, nn.Softmax,
                                  lambda: nn.Sequential(nn.Dropout(0.5), nn.Flatten())])
def test_a_dataloader_batch_tuple_passed_whole_to_a_layer_is_refused(make):
    # `for xb in DataLoader(X)` gives 1-tuples; model(xb) gave outputs of shape (1, N, ...)
    # (a Sequential passes any input to its first module, which may take a tuple: its layers check)
    layer = make()
    (xb,) = batch = next(iter(nn.data.DataLoader(np.ones((4, 3), np.float32), batch_size=4)))
    with pytest.raises(TypeError, match=r"a DataLoader batch is a tuple .*for \(xb,\) in loader"):
        layer(batch)
    assert layer(xb).shape[0] == 4
    assert layer([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]).shape[0] == 2      # nested lists of numbers still work


def test_an_embedding_refuses_a_batch_tuple_of_indices():
    (ib,) = batch = next(iter(nn.data.DataLoader(np.array([0, 1, 2]), batch_size=3, shuffle=False)))
    emb = nn.Embedding(3, 2)
    with pytest.raises(TypeError, match="a DataLoader batch is a tuple"):
        emb(batch)
    assert emb(ib).shape == (3, 2)


def test_an_initializer_given_a_tensor_says_it_takes_a_shape():
    # PyTorch's habit nn.init.xavier_uniform_(layer.weight) printed the whole tensor
    layer = nn.Dense(3, 4)
    with pytest.raises(TypeError, match=r"take a shape .*nn.init.<name>\(layer.weight.shape\)"):
        nn.init.xavier_uniform(layer.weight)
    layer.weight.data = nn.init.xavier_uniform(layer.weight.shape, rng=0)
    assert layer.weight.shape == (3, 4) and np.abs(layer.weight.data).max() <= np.sqrt(6 / 7)


def test_gradcheck_of_a_closure_over_the_input_says_fn_must_use_its_argument():
    # PyTorch's gradcheck moves the input in place, so a closure over a model's parameter works
    # there; here fn gets moved copies, and the failure said only "numerical 0"
    model = nn.Dense(3, 2, rng=0)
    model.weight.data = model.weight.data.astype(np.float64)
    x = np.linspace(0, 1, 12).reshape(4, 3)
    with pytest.raises(ag.GradcheckError, match="never changed the output.*compute from its arguments"):
        ag.gradcheck(lambda w: (model(x) ** 2).sum(), (model.weight,))
    assert ag.gradcheck(lambda w: ((ag.tensor(x) @ w) ** 2).sum(), (model.weight,))
