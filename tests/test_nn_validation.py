"""Bad arguments to nn and optim constructors and functions are refused with a message that
names the owner, the argument and the value (TypeError for a wrong type, ValueError for a bad
value of the right type), never silently rounded, flipped or read as truthy."""

import math

import numpy as np
import pytest

import autograd as ag
import nn
import optim
from nn import _validate, init
from nn.data import DataLoader
from nn.utils import clip_grad_norm_, grad_norms
from optim.lr_scheduler import ExponentialLR, StepLR

X = np.zeros((10, 2), np.float32)


def param():
    return ag.tensor([1.0, 2.0], requires_grad=True)


def sgd():
    return optim.SGD([param()], lr=0.1)


# ---------------------------------------------------------------- the validators themselves

@pytest.mark.parametrize("value", [3, np.int64(3), np.uint8(3), np.int32(3)])
def test_sizes_accept_python_and_numpy_ints(value):
    assert _validate.size("Owner", "n", value) == 3
    assert type(_validate.size("Owner", "n", value)) is int


@pytest.mark.parametrize("value, exc, message", [
    (2.5, TypeError, r"Owner: n must be a positive integer \(int or NumPy integer\), got 2.5 \(float\)"),
    (3.0, TypeError, r"got 3.0 \(float\); write 3"),
    (True, TypeError, r"got True \(bool\)"),
    (np.bool_(True), TypeError, r"\(bool"),
    ("3", TypeError, r"got '3' \(str\); pass the number 3, not a string"),
    (None, TypeError, r"got None"),
    (0, ValueError, r"Owner: n must be a positive integer, got 0"),
    (-2, ValueError, r"positive integer, got -2"),
])
def test_sizes_refuse_everything_else(value, exc, message):
    with pytest.raises(exc, match=message):
        _validate.size("Owner", "n", value)


@pytest.mark.parametrize("value, exc, message", [
    (float("nan"), ValueError, r"Owner: invalid rate: nan \(must be a number, not NaN\)"),
    (float("inf"), ValueError, r"invalid rate: inf \(must be finite\)"),
    (-0.5, ValueError, r"invalid rate: -0.5 \(must be >= 0.0\)"),
    ("0.1", TypeError, r"rate must be a real number \(int or float\), got '0.1' \(str\); pass the number"),
    (True, TypeError, r"got True \(bool\)"),
    (1j, TypeError, r"complex"),
    (None, TypeError, r"got None"),
    (np.array([0.1]), TypeError, r"ndarray"),
])
def test_rates_refuse_nan_inf_negative_and_non_numbers(value, exc, message):
    with pytest.raises(exc, match=message):
        _validate.real("Owner", "rate", value, 0.0)


def test_rates_accept_ints_and_numpy_floats():
    assert _validate.real("O", "r", 1, 0.0) == 1.0
    assert type(_validate.real("O", "r", np.float32(0.5), 0.0)) is float
    assert _validate.real("O", "r", math.inf, 0.0, allow_inf=True) == math.inf
    with pytest.raises(ValueError, match=r"must be in \[0.0, 1.0\)"):
        _validate.real("O", "r", 1.0, 0.0, 1.0, hi_open=True)


@pytest.mark.parametrize("value", ["False", 0, 1, None, "yes"])
def test_flags_are_true_or_false_only(value):
    with pytest.raises(TypeError, match="must be True or False"):
        _validate.flag("Owner", "f", value)


# ---------------------------------------------------------------- the reported cases

def test_optimizer_load_state_dict_of_an_empty_dict_says_what_it_needs():
    with pytest.raises(ValueError, match=r"SGD.load_state_dict: an optimizer state_dict has exactly "
                                         r"the keys 'state' and 'param_groups'; this one has none"):
        sgd().load_state_dict({})
    with pytest.raises(ValueError, match="this one has 'model'"):
        sgd().load_state_dict({"model": {}})
    with pytest.raises(TypeError, match="expected a dict"):
        sgd().load_state_dict([1])
    sd = sgd().state_dict()
    sd["param_groups"][0]["params"] = [0, 0]
    with pytest.raises(ValueError, match="repeated parameter id 0"):
        sgd().load_state_dict(sd)


def test_load_state_dict_refuses_the_state_of_another_kind_of_optimizer():
    p = param()
    adam = optim.Adam([p])
    (p * p).sum().backward()
    adam.step()
    opt = optim.SGD([param()], lr=0.1)
    with pytest.raises(ValueError, match="settings \\['betas', 'eps'\\] that SGD does not use"):
        opt.load_state_dict(adam.state_dict())
    assert opt.param_groups[0]["lr"] == 0.1 and len(opt.state) == 0


def test_load_state_dict_matches_saved_ids_in_order_as_pytorch():
    p, q = param(), ag.tensor([3.0], requires_grad=True)
    opt = optim.SGD([p, q], lr=0.1, momentum=0.9)
    (p.sum() + q.sum()).backward()
    opt.step()
    sd = opt.state_dict()
    sd = {"param_groups": [{**sd["param_groups"][0], "params": [17, 4]}],      # other ids
          "state": {17: sd["state"][0], "4": sd["state"][1]}}
    p2, q2 = param(), ag.tensor([3.0], requires_grad=True)
    opt2 = optim.SGD([p2, q2], lr=0.5, momentum=0.9)
    opt2.load_state_dict(sd)
    np.testing.assert_array_equal(opt2.state[p2]["momentum_buffer"], [1.0, 1.0])
    np.testing.assert_array_equal(opt2.state[q2]["momentum_buffer"], [1.0])
    sd["state"][99] = {}
    with pytest.raises(ValueError, match="parameter id 99, which no saved param group lists"):
        opt2.load_state_dict(sd)


def test_data_loader_batch_size_none_says_how_to_take_everything():
    with pytest.raises(TypeError, match=r"batch_size must be a positive integer, got None.*batch_size=len"):
        DataLoader(X, batch_size=None)


def test_data_loader_positional_batch_size_is_explained():
    with pytest.raises(ValueError, match=r"array 1 is a scalar.*keywords.*batch_size=32"):
        DataLoader(X, 32)


@pytest.mark.parametrize("max_norm, exc, message", [
    (-1.0, ValueError, r"clip_grad_norm_: invalid max_norm: -1.0 \(must be >= 0.0\)"),
    (float("nan"), ValueError, r"max_norm: nan \(must be a number, not NaN\)"),
    ("1.0", TypeError, r"max_norm must be a real number"),
    (None, TypeError, r"max_norm must be a real number"),
])
def test_clip_grad_norm_refuses_bad_max_norm_and_leaves_the_gradients(max_norm, exc, message):
    p = param()
    p.grad = ag.tensor([3.0, 4.0])
    with pytest.raises(exc, match=message):
        clip_grad_norm_([p], max_norm)
    np.testing.assert_array_equal(p.grad.data, [3.0, 4.0])       # not flipped, not scaled


def test_clip_grad_norm_inf_only_measures_and_zero_zeroes():
    p = param()
    p.grad = ag.tensor([3.0, 4.0])
    assert clip_grad_norm_([p], math.inf) == 5.0
    np.testing.assert_array_equal(p.grad.data, [3.0, 4.0])
    clip_grad_norm_(p, 0)
    np.testing.assert_array_equal(p.grad.data, [0.0, 0.0])


def test_clip_grad_norm_refuses_names_and_non_iterables():
    model = nn.Dense(2, 3)
    with pytest.raises(TypeError, match="item 0 of parameters is a tuple.*not named_parameters"):
        clip_grad_norm_(model.named_parameters(), 1.0)
    with pytest.raises(TypeError, match="got a float"):
        clip_grad_norm_(1.0, 1.0)
    with pytest.raises(TypeError, match="got a dict"):
        clip_grad_norm_(dict(model.named_parameters()), 1.0)
    with pytest.raises(TypeError, match="grad_norms takes a Module"):
        grad_norms([param()])


@pytest.mark.parametrize("args, exc, message", [
    ((2.5, 3), TypeError, r"Dense: in_features must be a positive integer.*got 2.5"),
    ((2, 3.0), TypeError, r"Dense: out_features must be a positive integer.*got 3.0 \(float\); write 3"),
    ((0, 3), ValueError, r"in_features must be a positive integer, got 0"),
    ((True, 3), TypeError, r"in_features.*bool"),
    (("2", 3), TypeError, r"in_features.*str"),
])
def test_dense_sizes_are_positive_ints(args, exc, message):
    with pytest.raises(exc, match=message):
        nn.Dense(*args)


def test_dense_accepts_numpy_int_sizes_and_refuses_bad_options():
    layer = nn.Dense(np.int64(2), np.int32(3), rng=np.int64(0))
    assert layer.weight.shape == (2, 3) and type(layer.in_features) is int
    with pytest.raises(TypeError, match="Dense: bias must be True or False, got 'no'"):
        nn.Dense(2, 3, bias="no")
    with pytest.raises(TypeError, match="Dense: init must be None or the name"):
        nn.Dense(2, 3, init=init.he_normal)
    with pytest.raises(TypeError, match="Dense: rng must be a numpy.random.Generator"):
        nn.Dense(2, 3, rng=True)


def test_optimizer_refuses_a_set_everywhere_asking_for_a_list():
    p = param()
    for make in (lambda: optim.SGD({p}, lr=0.1), lambda: optim.SGD([{"params": {p}}], lr=0.1),
                 lambda: optim.Adam(frozenset([p]))):
        with pytest.raises(TypeError, match="is a set, whose order is undefined.*pass a list"):
            make()
    opt = optim.SGD([p], lr=0.1)
    with pytest.raises(TypeError, match="set.*pass a list"):
        opt.add_param_group({"params": {param()}})


def test_optimizer_refuses_a_module_and_named_parameters_with_the_fix():
    model = nn.Dense(2, 3)
    with pytest.raises(TypeError, match="params is a Dense; pass model.parameters()"):
        optim.SGD(model, lr=0.1)
    with pytest.raises(TypeError, match="param 0 of group 0 is a tuple.*pass the Tensors"):
        optim.SGD(model.named_parameters(), lr=0.1)
    with pytest.raises(TypeError, match="params must be an iterable"):
        optim.SGD(3, lr=0.1)


# ---------------------------------------------------------------- a sweep over constructors

BAD_NUMBERS = [None, "0.1", True, float("nan"), float("inf"), -1.0, 1j]
BAD_SIZES = [None, "3", True, 2.5, 0, -3, float("nan")]
CASES = {
    # name: (make(value), the values it must refuse)
    "SGD.lr": (lambda v: optim.SGD([param()], lr=v), BAD_NUMBERS),
    "SGD.momentum": (lambda v: optim.SGD([param()], lr=0.1, momentum=v), BAD_NUMBERS + [1.0]),
    "SGD.dampening": (lambda v: optim.SGD([param()], lr=0.1, dampening=v), BAD_NUMBERS + [1.5]),
    "SGD.weight_decay": (lambda v: optim.SGD([param()], lr=0.1, weight_decay=v), BAD_NUMBERS),
    "SGD.nesterov": (lambda v: optim.SGD([param()], lr=0.1, momentum=0.9, nesterov=v),
                     ["False", 1, None]),
    "Adam.lr": (lambda v: optim.Adam([param()], lr=v), BAD_NUMBERS),
    "Adam.betas": (lambda v: optim.Adam([param()], betas=v),
                   [None, 0.9, (0.9,), (0.9, float("nan")), (1.0, 0.9), ("0.9", 0.99), (0.9, -0.1)]),
    "Adam.eps": (lambda v: optim.Adam([param()], eps=v), BAD_NUMBERS),
    "Adam.weight_decay": (lambda v: optim.Adam([param()], weight_decay=v), BAD_NUMBERS),
    "RMSprop.lr": (lambda v: optim.RMSprop([param()], lr=v), BAD_NUMBERS),
    "RMSprop.alpha": (lambda v: optim.RMSprop([param()], alpha=v), BAD_NUMBERS + [1.5]),
    "RMSprop.eps": (lambda v: optim.RMSprop([param()], eps=v), BAD_NUMBERS),
    "RMSprop.momentum": (lambda v: optim.RMSprop([param()], momentum=v), BAD_NUMBERS + [1.0]),
    "StepLR.step_size": (lambda v: StepLR(sgd(), step_size=v), BAD_SIZES),
    "StepLR.gamma": (lambda v: StepLR(sgd(), step_size=1, gamma=v), BAD_NUMBERS + [0.0]),
    "StepLR.last_epoch": (lambda v: StepLR(sgd(), step_size=1, last_epoch=v), [None, 1.5, -2, "0", True]),
    "ExponentialLR.gamma": (lambda v: ExponentialLR(sgd(), gamma=v), BAD_NUMBERS + [0.0]),
    "ExponentialLR.last_epoch": (lambda v: ExponentialLR(sgd(), 0.5, last_epoch=v), [None, 1.5, -2]),
    "Dense.in_features": (lambda v: nn.Dense(v, 3), BAD_SIZES),
    "Dense.out_features": (lambda v: nn.Dense(3, v), BAD_SIZES),
    "Dense.bias": (lambda v: nn.Dense(3, 3, bias=v), ["False", 0, None]),
    "Dense.activation": (lambda v: nn.Dense(3, 3, activation=v), ["Relu", 3, "softplus"]),
    "Dense.init": (lambda v: nn.Dense(3, 3, init=v), ["he", 3, "HE_NORMAL"]),
    "Dense.rng": (lambda v: nn.Dense(3, 3, rng=v), ["0", 1.5, True, -1]),
    "LeakyReLU.negative_slope": (lambda v: nn.LeakyReLU(v), [None, "0.1", True, float("nan"), float("inf")]),
    "Softmax.axis": (lambda v: nn.Softmax(v), [None, 1.5, "1", True]),
    "MSELoss.reduction": (lambda v: nn.MSELoss(reduction=v), [None, "avg", "Mean", 1]),
    "CrossEntropyLoss.reduction": (lambda v: nn.CrossEntropyLoss(reduction=v), [None, "avg"]),
    "BCELoss.reduction": (lambda v: nn.BCELoss(reduction=v), [None, "avg"]),
    "BCEWithLogitsLoss.reduction": (lambda v: nn.BCEWithLogitsLoss(reduction=v), [None, "avg"]),
    "DataLoader.batch_size": (lambda v: DataLoader(X, batch_size=v), BAD_SIZES),
    "DataLoader.shuffle": (lambda v: DataLoader(X, shuffle=v), ["False", 0, None]),
    "DataLoader.drop_last": (lambda v: DataLoader(X, drop_last=v), ["True", 1]),
    "DataLoader.rng": (lambda v: DataLoader(X, rng=v), ["0", 1.5, True, -1]),
    "init.he_normal.shape": (lambda v: init.he_normal(v), [2.5, (2.5, 3), "3", (True, 2), (-1, 2), None]),
    "init.xavier_uniform.fan_out": (lambda v: init.xavier_uniform((2, 3), fan_out=v), BAD_SIZES[1:]),
    "init.lecun_normal.fan_in": (lambda v: init.lecun_normal((2, 3), fan_in=v), BAD_SIZES[1:]),
    "init.normal.std": (lambda v: init.normal((2, 3), v), BAD_NUMBERS),
    "clip_grad_norm_.max_norm": (lambda v: clip_grad_norm_([param()], v),
                                 [None, "1", True, float("nan"), -1]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_every_bad_value_is_refused_with_a_message_naming_it(name):
    make, bad_values = CASES[name]
    arg = name.rsplit(".", 1)[1]
    for value in bad_values:
        with pytest.raises((TypeError, ValueError)) as info:
            make(value)
        text = str(info.value)
        assert arg.rstrip("s").split("_")[0] in text or arg in text, (name, value, text)
        if not isinstance(value, tuple):
            assert repr(value) in text or str(value) in text or type(value).__name__ in text, \
                (name, value, text)


def test_a_wrong_type_is_a_type_error_and_a_bad_value_a_value_error():
    with pytest.raises(TypeError):
        optim.SGD([param()], lr="0.1")
    with pytest.raises(ValueError):
        optim.SGD([param()], lr=-0.1)
    with pytest.raises(TypeError):
        sgd().zero_grad(set_to_none="no")
    with pytest.raises(TypeError, match="closure must be a function"):
        sgd().step(closure=1.0)


# ---------------------------------------------------------------- data that would train on nothing

def test_standardizer_refuses_nan_and_inf_naming_the_features():
    X = np.ones((4, 3))
    X[1, 2] = np.nan
    X[0, 0] = np.inf
    with pytest.raises(ValueError, match=r"NaN or infinite values in feature\(s\) \[0, 2\]; remove"):
        nn.data.Standardizer().fit(X)


def test_data_loader_refuses_empty_data_and_non_arrays():
    with pytest.raises(ValueError, match="no samples"):
        DataLoader(np.zeros((0, 2)), np.zeros(0))
    with pytest.raises(TypeError, match="DataLoader: array 1 is not array data.*dict"):
        DataLoader(X, {"y": 1})
