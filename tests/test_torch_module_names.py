"""PyTorch's names in nn and optim: one_hot's `labels`, Module.apply / requires_grad_ /
add_module / register_parameter / float / double / get_submodule / get_parameter,
ModuleDict, ParameterList, ParameterDict, `opt.state[p]` before the first step, and
cross-entropy's mean over an empty batch. Values are checked, against PyTorch where it is
installed."""

from __future__ import annotations

import numpy as np
import pytest

import autograd as ag
import nn
import nn.functional as F

# ---------------------------------------------------------------- one_hot(labels, ...)


def test_one_hot_takes_labels_positionally_and_by_every_name():
    expected = [[0, 0, 1], [1, 0, 0]]
    assert F.one_hot(np.array([2, 0])).tolist() == expected
    assert F.one_hot(labels=np.array([2, 0])).tolist() == expected
    assert F.one_hot(tensor=np.array([2, 0])).tolist() == expected       # PyTorch's documented name
    assert F.one_hot(input=np.array([2, 0])).tolist() == expected        # PyTorch 2's keyword
    assert F.one_hot(indices=np.array([2, 0])).tolist() == expected      # the earlier name
    assert F.one_hot(labels=[1], num_classes=4).tolist() == [[0, 1, 0, 0]]
    assert F.one_hot(ag.tensor([[3]]), 4).data.tolist() == [[[0, 0, 0, 1]]]


@pytest.mark.parametrize("kwargs,match", [
    ({"labels": [1], "tensor": [1]}, "got 'labels' and 'tensor', names of one argument"),
    ({"input": [1], "indices": [1]}, "got 'input' and 'indices'"),
    ({}, r"needs the labels .*one_hot\(labels, num_classes=10\)"),
    ({"labels": [1], "num_classes": 2.0}, r"num_classes must be an int .*got 2.0 \(float\)"),
    ({"labels": [1], "num_classes": True}, "num_classes must be an int"),
])
def test_one_hot_bad_arguments_say_what_is_wrong(kwargs, match):
    with pytest.raises(TypeError, match=match):
        F.one_hot(**kwargs)


def test_one_hot_positional_and_keyword_together_is_refused():
    with pytest.raises(TypeError, match="got 'labels' and 'tensor'"):
        F.one_hot([1], tensor=[1])


def test_one_hot_matches_torch():
    torch = pytest.importorskip("torch")
    labels = np.array([[0, 3, 1], [2, 2, 0]])
    ours = F.one_hot(labels=labels, num_classes=5)
    theirs = torch.nn.functional.one_hot(torch.from_numpy(labels), num_classes=5)
    assert ours.dtype == np.int64
    np.testing.assert_array_equal(ours.data, theirs.numpy())
    np.testing.assert_array_equal(F.one_hot(labels).data,
                                  torch.nn.functional.one_hot(torch.from_numpy(labels)).numpy())


# ---------------------------------------------------------------- Module methods


def _visit_order(root, fn_name=lambda m: m.tag):
    seen = []
    root.apply(lambda m: seen.append(fn_name(m)))
    return seen


def _tagged(module, tag):
    object.__setattr__(module, "tag", tag)
    return module


def test_apply_visits_children_before_parents_and_returns_self():
    a = _tagged(nn.Dense(2, 2), "a")
    b = _tagged(nn.Dense(2, 2), "b")
    inner = _tagged(nn.Sequential(a, nn.Sequential(b)), "inner")
    inner[1].tag = "inner1"
    root = _tagged(nn.Sequential(inner, _tagged(nn.ReLU(), "relu")), "root")
    assert _visit_order(root) == ["a", "b", "inner1", "inner", "relu", "root"]
    assert root.apply(lambda m: None) is root


def test_apply_visits_shared_modules_as_pytorch_does():
    """Registered twice under one parent: once; reachable through two parents: once each."""
    torch = pytest.importorskip("torch")
    a = nn.Dense(2, 2)
    ours = nn.Sequential(nn.Sequential(a), nn.Sequential(a), a, a)
    ta = torch.nn.Linear(2, 2)
    theirs = torch.nn.Sequential(torch.nn.Sequential(ta), torch.nn.Sequential(ta), ta, ta)
    assert _visit_order(ours, lambda m: type(m).__name__.replace("Dense", "Linear")) == \
        _visit_order(theirs, lambda m: type(m).__name__)
    assert _visit_order(ours, lambda m: m is a).count(True) == 3


def test_apply_on_a_module_inside_itself_terminates():
    loop = nn.Sequential(nn.ReLU())
    loop.add_module("again", loop)
    seen = _visit_order(loop, lambda m: type(m).__name__)
    assert seen == ["ReLU", "Sequential"]


def test_apply_initialises_weights_and_refuses_non_callables():
    model = nn.Sequential(nn.Dense(3, 4), nn.ReLU(), nn.Dense(4, 1))

    def init(m):
        if isinstance(m, nn.Dense):
            m.weight.data = np.full(m.weight.shape, 0.25, m.weight.dtype)

    model.apply(init)
    out = model(ag.ones((2, 3)))
    np.testing.assert_allclose(out.data, np.full((2, 1), 4 * 0.25 * (3 * 0.25)))
    with pytest.raises(TypeError, match="fn must be a function of a module, got a str"):
        model.apply("init")


def test_requires_grad_freezes_and_unfreezes_every_parameter():
    model = nn.Sequential(nn.Dense(3, 4, rng=0), nn.Dense(4, 2, rng=1))
    assert model[0].requires_grad_(False) is model[0]
    assert [p.requires_grad for p in model.parameters()] == [False, False, True, True]
    model(ag.ones((2, 3))).sum().backward()
    assert model[0].weight.grad is None and model[0].bias.grad is None
    np.testing.assert_allclose(model[1].bias.grad.data, [2.0, 2.0])
    assert model.requires_grad_() is model
    assert all(p.requires_grad for p in model.parameters())
    with pytest.raises(TypeError, match="requires_grad must be True or False, got 'no'"):
        model.requires_grad_("no")


def test_requires_grad_true_with_an_integer_parameter_changes_nothing():
    m = nn.Module()
    m.w = nn.Parameter(np.zeros(2))
    m.count = nn.Parameter(np.zeros(2, np.int64), requires_grad=False)
    m.requires_grad_(False)
    with pytest.raises(TypeError, match=r"only float parameters can require grad; not count \(int64\)"):
        m.requires_grad_(True)
    assert not m.w.requires_grad                   # nothing was changed


def test_add_module_and_register_module_register_under_any_string():
    m = nn.Module()
    m.add_module("proj-out", nn.Dense(2, 1, rng=0))
    m.register_module("0", nn.ReLU())
    assert [n for n, _ in m.named_children()] == ["proj-out", "0"]
    assert list(m.state_dict()) == ["proj-out.weight", "proj-out.bias"]
    replacement = nn.Dense(2, 3)
    m.add_module("proj-out", replacement)          # replacing keeps its position
    assert [n for n, _ in m.named_children()] == ["proj-out", "0"]
    assert getattr(m, "proj-out") is replacement
    m.add_module("proj-out", None)                 # None empties the name
    assert getattr(m, "proj-out") is None and [n for n, _ in m.named_children()] == ["0"]
    m.add_module("proj-out", nn.Tanh())            # and it can be filled again
    assert isinstance(m.get_submodule("proj-out"), nn.Tanh)


@pytest.mark.parametrize("name,value,err,match", [
    ("a.b", nn.ReLU(), KeyError, r"name 'a.b'.*non-empty and without '.'"),
    ("", nn.ReLU(), KeyError, "non-empty"),
    (1, nn.ReLU(), TypeError, r"module name must be a string, got 1 \(int\)"),
    ("x", 3, TypeError, "'x' must be a Module or None, got int"),
    ("forward", nn.ReLU(), KeyError, r"'forward' already exists \(Module.forward is a method"),
    ("training", nn.ReLU(), KeyError, r"'training' already exists \(an attribute\)"),
    ("w", nn.ReLU(), KeyError, r"'w' already exists \(a parameter\)"),
    ("buf", nn.ReLU(), KeyError, r"'buf' already exists \(a buffer\)"),
])
def test_add_module_refuses_bad_names_and_values(name, value, err, match):
    m = nn.Module()
    m.w = nn.Parameter(np.zeros(1))
    m.register_buffer("buf", np.zeros(1))
    with pytest.raises(err, match=match):
        m.add_module(name, value)
    assert [n for n, _ in m.named_children()] == []


def test_register_parameter_registers_replaces_and_empties():
    d = nn.Dense(2, 2, bias=False, rng=0)
    d.register_parameter("bias", nn.Parameter(np.ones(2, np.float32)))     # fills the None slot
    assert [n for n, _ in d.named_parameters()] == ["weight", "bias"]
    np.testing.assert_allclose(d(ag.zeros((1, 2))).data, [[1.0, 1.0]])
    w = nn.Parameter(np.zeros((2, 2), np.float32))
    d.register_parameter("weight", w)                                       # keeps its position
    assert list(d.state_dict()) == ["weight", "bias"] and d.weight is w
    d.register_parameter("bias", None)
    assert d.bias is None and list(d.state_dict()) == ["weight"]


@pytest.mark.parametrize("name,value,err,match", [
    ("w2", ag.zeros(2), TypeError, r"cannot register a Tensor as parameter 'w2'.*nn.Parameter\(value\)"),
    ("w2", np.zeros(2), TypeError, "cannot register a ndarray"),
    ("a.b", None, KeyError, "non-empty and without '.'"),
    (None, None, TypeError, "parameter name must be a string"),
    ("sub", None, KeyError, r"'sub' already exists \(a submodule\)"),
    ("buf", None, KeyError, r"'buf' already exists \(a buffer\)"),
    ("eval", None, KeyError, "Module.eval is a method"),
    ("note", None, KeyError, r"'note' already exists \(an attribute\)"),
])
def test_register_parameter_refuses_bad_names_and_values(name, value, err, match):
    m = nn.Module()
    m.sub = nn.ReLU()
    m.note = "text"
    m.register_buffer("buf", np.zeros(1))
    with pytest.raises(err, match=match):
        m.register_parameter(name, value)
    assert list(m.parameters()) == []


def test_get_submodule_and_get_parameter_follow_dotted_paths():
    model = nn.Sequential(nn.Sequential(nn.Dense(2, 3)), nn.ReLU())
    assert model.get_submodule("") is model
    assert model.get_submodule("0.0") is model[0][0]
    assert model.get_parameter("0.0.bias") is model[0][0].bias
    names = dict(model.named_parameters())
    assert all(model.get_parameter(n) is p for n, p in names.items())
    with pytest.raises(AttributeError, match=r"Sequential \(at '0'\) has no attribute `5`; its "
                                             r"submodules are \['0'\]"):
        model.get_submodule("0.5")
    with pytest.raises(AttributeError, match="`weight` of Dense .* is not an nn.Module"):
        model.get_submodule("0.0.weight")
    with pytest.raises(AttributeError, match=r"Dense has no attribute `foo`; its parameters are "
                                             r"\['weight', 'bias'\]"):
        model.get_parameter("0.0.foo")
    with pytest.raises(AttributeError, match="`training` is not an nn.Parameter"):
        model.get_parameter("0.0.training")
    with pytest.raises(TypeError, match="target must be a dotted path string"):
        model.get_submodule(0)


def _model_with_buffers():
    return nn.Sequential(nn.Dense(3, 2, rng=0), nn.BatchNorm1d(2))


@pytest.mark.parametrize("method,dtype", [("double", np.float64), ("float", np.float32)])
def test_float_and_double_cast_in_place_keeping_identity(method, dtype):
    model = _model_with_buffers()
    if method == "float":
        model.double()
    weight, bn = model[0].weight, model[1]
    values = weight.data.copy()
    running_mean = bn.running_mean
    model(ag.randn(4, 3, rng=1, dtype=weight.dtype)).sum().backward()
    assert getattr(model, method)() is model
    assert model[0].weight is weight and bn.running_mean is running_mean      # same objects
    for p in model.parameters():
        assert p.dtype == dtype and p.grad.dtype == dtype
    assert bn.running_mean.dtype == dtype and bn.running_var.dtype == dtype
    assert bn.num_batches_tracked.dtype == np.int64                         # integers stay
    np.testing.assert_allclose(weight.data, values, rtol=1e-6)
    assert model(ag.ones((2, 3), dtype=dtype)).dtype == dtype


def test_float_keeps_shared_parameters_shared_and_leaves_integers():
    shared = nn.Dense(2, 2, rng=0)
    model = nn.Sequential(shared, shared)
    model.double()
    assert model[0].weight is model[1].weight and model[0].weight.dtype == np.float64
    m = nn.Module()
    m.idx = nn.Parameter(np.arange(3), requires_grad=False)
    m.double()
    assert m.idx.dtype == np.arange(3).dtype


@pytest.mark.parametrize("name,kwargs", [("SGD", {"lr": 0.1, "momentum": 0.9}),
                                         ("Adam", {"lr": 0.1}),
                                         ("RMSprop", {"lr": 0.01, "momentum": 0.5})])
def test_an_optimizer_keeps_updating_a_model_cast_after_it_was_built(name, kwargs):
    """The optimizer holds the same Parameters, so it updates the float64 arrays; its buffers
    keep float32 (as in PyTorch) until a state_dict round trip casts them."""
    import optim

    model = nn.Dense(3, 2, rng=0)
    opt = getattr(optim, name)(model.parameters(), **kwargs)
    x = ag.randn(4, 3, rng=1)
    model(x).sum().backward()
    opt.step()
    model.double()
    before = model.weight.data.copy()
    opt.zero_grad()
    model(ag.astype(x, np.float64)).sum().backward()
    opt.step()
    assert model.weight.dtype == np.float64 and not np.array_equal(model.weight.data, before)
    arrays = {k: v.dtype for k, v in opt.state[model.weight].items() if isinstance(v, np.ndarray)}
    assert set(arrays.values()) == {np.dtype(np.float32)}
    opt.load_state_dict(opt.state_dict())
    arrays = {k: v.dtype for k, v in opt.state[model.weight].items() if isinstance(v, np.ndarray)}
    assert set(arrays.values()) == {np.dtype(np.float64)}


def test_a_graph_recorded_before_a_cast_refuses_backward():
    model = nn.Dense(3, 2, activation="tanh", rng=0)
    out = model(ag.ones((1, 3))).sum()
    model.double()
    with pytest.raises(RuntimeError, match=r"saved by 'affine\+tanh'.*had its .data replaced"):
        out.backward()


def test_float_double_and_requires_grad_match_torch():
    torch = pytest.importorskip("torch")
    tmodel = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))
    ours = _model_with_buffers()
    nn.load_torch_state_dict(ours, {k: v.numpy() for k, v in tmodel.state_dict().items()})
    tmodel.double().requires_grad_(False)
    ours.double().requires_grad_(False)
    theirs = {k: (str(v.dtype).replace("torch.", ""), v.requires_grad)
              for k, v in tmodel.state_dict(keep_vars=True).items()}
    mine = dict(nn.torch_state_dict(ours))
    assert {k: str(np.asarray(v).dtype) for k, v in mine.items()} == {k: d for k, (d, _) in theirs.items()}
    assert not any(p.requires_grad for p in ours.parameters())


# ---------------------------------------------------------------- ModuleDict, ParameterList, ParameterDict


def test_module_dict_is_a_dict_of_registered_modules():
    cls, box = nn.Dense(4, 3, rng=0), nn.Dense(4, 2, rng=1)
    d = nn.ModuleDict({"cls": cls, "box": box})
    assert d["cls"] is cls and d.box is box and len(d) == 2
    assert list(d) == ["cls", "box"] and list(d.keys()) == ["cls", "box"]
    assert list(d.values()) == [cls, box] and list(d.items()) == [("cls", cls), ("box", box)]
    assert "cls" in d and "nope" not in d and 3 not in d
    assert list(d.state_dict()) == ["cls.weight", "cls.bias", "box.weight", "box.bias"]
    assert d.num_parameters() == 15 + 10
    new = nn.Dense(4, 5)
    d["cls"] = new                                      # replaced, keeps its place
    assert list(d) == ["cls", "box"] and d["cls"] is new
    d.update([("extra", nn.ReLU()), ("box", box)])
    d.update({"tanh": nn.Tanh()})
    assert list(d) == ["cls", "box", "extra", "tanh"]
    assert d.pop("extra").__class__ is nn.ReLU and list(d) == ["cls", "box", "tanh"]
    del d["tanh"]
    assert list(d) == ["cls", "box"] and not hasattr(d, "tanh")
    d.clear()
    assert len(d) == 0 and list(d.parameters()) == [] and d.state_dict() == {}
    assert len(nn.ModuleDict()) == 0 and list(nn.ModuleDict([("a", nn.ReLU())])) == ["a"]


def test_module_dict_inside_a_model_trains_and_round_trips(tmp_path):
    import optim

    class Heads(nn.Module):
        def __init__(self, seed):
            super().__init__()
            self.heads = nn.ModuleDict({"a": nn.Dense(3, 1, rng=seed), "b": nn.Dense(3, 1, rng=seed + 1)})

        def forward(self, x):
            return self.heads["a"](x) + 2 * self.heads["b"](x)

    model = Heads(0)
    x = ag.randn(5, 3, rng=2)
    out = model(x).sum()
    out.backward()
    np.testing.assert_allclose(model.heads.a.weight.grad.data, x.data.sum(0)[:, None], rtol=1e-6)
    np.testing.assert_allclose(model.heads.b.weight.grad.data, 2 * x.data.sum(0)[:, None], rtol=1e-6)
    optim.SGD(model.parameters(), lr=0.1).step()
    nn.save(model, tmp_path / "heads.npz")
    twin = Heads(7)
    twin.load_state_dict(nn.load(tmp_path / "heads.npz"))
    np.testing.assert_array_equal(twin(x).data, model(x).data)


def test_module_dict_copies_and_pickles():
    import copy
    import pickle

    d = nn.ModuleDict({"a": nn.Dense(2, 2, rng=0)})
    for twin in (copy.deepcopy(d), pickle.loads(pickle.dumps(d))):
        assert list(twin) == ["a"] and twin["a"] is not d["a"]
        np.testing.assert_array_equal(twin["a"].weight.data, d["a"].weight.data)
        twin["b"] = nn.ReLU()
        assert list(d) == ["a"]


@pytest.mark.parametrize("key,value,err,match", [
    ("keys", nn.ReLU(), KeyError, r"'keys' already exists \(ModuleDict.keys is a method"),
    ("update", nn.ReLU(), KeyError, "ModuleDict.update is a method"),
    ("training", nn.ReLU(), KeyError, r"'training' already exists \(an attribute\); pick another name\"$"),
    ("a.b", nn.ReLU(), KeyError, r"key 'a.b' contains '.'.*such as '_'"),
    ("", nn.ReLU(), KeyError, "non-empty"),
    (3, nn.ReLU(), TypeError, r"name must be a string, got 3 \(int\)"),
    ("x", None, TypeError, r"ModuleDict holds Modules, got NoneType; remove a key with del d\[key\]"),
    ("x", ag.ones(2), TypeError, "ModuleDict holds Modules, got Tensor"),
])
def test_module_dict_refuses_bad_keys_and_values(key, value, err, match):
    d = nn.ModuleDict({"a": nn.ReLU()})
    with pytest.raises(err, match=match):
        d[key] = value
    assert list(d) == ["a"]


def test_module_dict_update_checks_everything_before_storing():
    d = nn.ModuleDict({"a": nn.ReLU()})
    with pytest.raises(TypeError, match="holds Modules, got int"):
        d.update([("b", nn.Tanh()), ("c", 1)])
    with pytest.raises(ValueError, match=r"element #1 has length 3; 2 is required"):
        d.update([("b", nn.Tanh()), ("c", nn.ReLU(), 0)])
    with pytest.raises(TypeError, match="element #0 is a str, not a \\(key, value\\) pair"):
        d.update(["bc"])
    with pytest.raises(TypeError, match="takes a mapping or an iterable of \\(key, value\\) pairs, got int"):
        d.update(3)
    assert list(d) == ["a"]
    with pytest.raises(KeyError, match=r"has no key 'zz'; its keys are \['a'\]"):
        d["zz"]
    with pytest.raises(KeyError, match="has no key 'zz'"):
        del d["zz"]
    with pytest.raises(KeyError, match="has no key 'zz'"):
        d.pop("zz")
    with pytest.raises(NotImplementedError, match="ModuleDict has no forward"):
        d(ag.ones(1))


def test_a_plain_dict_of_modules_warns_and_names_module_dict():
    m = nn.Module()
    with pytest.warns(UserWarning, match=r"Wrap it in nn.ModuleDict\(...\)"):
        m.heads = {"a": nn.ReLU()}


def test_parameter_list_registers_wraps_and_indexes():
    first = nn.Parameter(np.ones(2))
    pl = nn.ParameterList([first, np.zeros(3), ag.ones(1)])
    assert pl[0] is first and all(isinstance(p, nn.Parameter) for p in pl)
    assert [p.shape for p in pl] == [(2,), (3,), (1,)] and pl[-1].dtype == np.float32
    assert pl[1].requires_grad and list(pl.state_dict()) == ["0", "1", "2"]
    arr = np.full(2, 5.0)
    pl.append(arr)
    assert pl[3].data is arr                            # wrapped without a copy
    pl += [np.zeros(4)]
    pl.extend([np.zeros(1)]).append(np.zeros(1))
    assert len(pl) == 7
    pl[0] = np.full(2, 3.0)
    assert pl[0].tolist() == [3.0, 3.0] and list(pl.state_dict())[0] == "0"
    part = pl[1:3]
    assert isinstance(part, nn.ParameterList) and part[0] is pl[1] and list(part.state_dict()) == ["0", "1"]
    with pytest.raises(IndexError, match="index 7 out of range for length 7"):
        pl[7]
    with pytest.raises(TypeError, match="indices must be integers or slices, got str"):
        pl["0"]
    with pytest.raises(TypeError, match=r"holds Parameters \(a Tensor or ndarray is wrapped in "
                                        r"nn.Parameter\), got str"):
        pl.append("w")
    with pytest.raises(TypeError, match="extend takes an iterable of Parameters, got a ndarray; "
                                        "for one, use append"):
        pl.extend(np.zeros(3))
    with pytest.raises(TypeError, match="only floating-point tensors can require grad"):
        pl.append(np.arange(3))
    with pytest.raises(TypeError, match="got int"):
        pl.extend([np.zeros(1), 5])
    assert len(pl) == 7                                 # a bad extend adds nothing
    with pytest.raises(NotImplementedError, match="ParameterList has no forward"):
        pl(1)


def test_parameter_list_gradients_are_right():
    pl = nn.ParameterList([np.array([0.5, -1.0]), np.array([[2.0], [0.25]])])

    def f(a, b):
        return ag.tanh(a @ b).sum() * (a * a).sum()

    assert ag.gradcheck(f, tuple(pl))
    f(*pl).backward()
    a, b = pl[0].data, pl[1].data
    t = np.tanh(a @ b).sum()
    s = (a * a).sum()
    dt = 1 - np.tanh(a @ b) ** 2
    np.testing.assert_allclose(pl[0].grad.data, dt * b[:, 0] * s + t * 2 * a)
    np.testing.assert_allclose(pl[1].grad.data, (dt * a * s)[:, None])


def test_parameter_dict_is_a_dict_of_registered_parameters():
    pd = nn.ParameterDict({"scale": np.ones(2), "shift": ag.zeros(2)})
    assert list(pd) == ["scale", "shift"] and all(isinstance(p, nn.Parameter) for p in pd.values())
    assert pd.get("scale") is pd["scale"] and pd.get("nope") is None and pd.get("nope", 3) == 3
    assert list(pd.state_dict()) == ["scale", "shift"] and "scale" in pd
    p = nn.Parameter(np.full(2, 4.0))
    pd["scale"] = p
    assert pd.scale is p and list(pd) == ["scale", "shift"]
    pd.update([("bias", np.zeros(1))])
    assert pd.pop("shift").shape == (2,) and list(pd.keys()) == ["scale", "bias"]
    m = nn.Module()
    m.extra = pd
    assert [n for n, _ in m.named_parameters()] == ["extra.scale", "extra.bias"]
    with pytest.raises(KeyError, match="ParameterDict.get is a method"):
        pd["get"] = np.zeros(1)
    with pytest.raises(TypeError, match="holds Parameters .* got NoneType"):
        pd["x"] = None
    with pytest.raises(KeyError, match="has no key 'shift'"):
        pd["shift"]
    pd.clear()
    assert len(pd) == 0 and list(m.parameters()) == []


def test_containers_match_torch_names():
    torch = pytest.importorskip("torch")
    tn = torch.nn
    theirs = tn.Module()
    theirs.heads = tn.ModuleDict({"cls": tn.Linear(4, 3), "box": tn.Linear(4, 2)})
    theirs.scales = tn.ParameterList([tn.Parameter(torch.ones(2)), tn.Parameter(torch.zeros(3))])
    theirs.table = tn.ParameterDict({"t": tn.Parameter(torch.ones(1))})
    ours = nn.Module()
    ours.heads = nn.ModuleDict({"cls": nn.Dense(4, 3), "box": nn.Dense(4, 2)})
    ours.scales = nn.ParameterList([np.ones(2, np.float32), np.zeros(3, np.float32)])
    ours.table = nn.ParameterDict({"t": np.ones(1, np.float32)})
    assert list(ours.state_dict()) == list(theirs.state_dict())
    state = {k: v.detach().numpy() for k, v in theirs.state_dict().items()}
    nn.load_torch_state_dict(ours, state)
    x = np.random.default_rng(0).standard_normal((2, 4)).astype(np.float32)
    with torch.no_grad():
        expected = theirs.heads["cls"](torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(ours.heads["cls"](ag.tensor(x)).data, expected, rtol=1e-5, atol=1e-6)
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]


# ---------------------------------------------------------------- opt.state[p] before the first step


def _optimizers():
    import optim

    return [("SGD", lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9)),
            ("Adam", lambda ps: optim.Adam(ps, lr=0.1)),
            ("RMSprop", lambda ps: optim.RMSprop(ps, lr=0.01))]


@pytest.mark.parametrize("name,make", _optimizers(), ids=[n for n, _ in _optimizers()])
def test_state_of_a_parameter_before_the_first_step_is_an_empty_dict(name, make):
    p = ag.tensor([1.0, -2.0], dtype=np.float64, requires_grad=True)
    opt = make([p])
    assert p not in opt.state and opt.state.get(p) is None and len(opt.state) == 0
    assert opt.state[p] == {}
    assert p in opt.state and len(opt.state) == 1          # kept, as defaultdict(dict) keeps it
    assert opt.state[p] is opt.state[p]
    assert opt.state_dict()["state"] == {}                  # an empty state is not saved
    (p * p).sum().backward()
    opt.step()
    assert opt.state[p] and set(opt.state[p]) == set(opt.state_dict()["state"][0])


def test_state_matches_torch_before_and_after_a_step():
    torch = pytest.importorskip("torch")
    import optim

    tp = torch.tensor([1.0, -2.0], dtype=torch.float64, requires_grad=True)
    topt = torch.optim.Adam([tp], lr=0.1)
    p = ag.tensor([1.0, -2.0], dtype=np.float64, requires_grad=True)
    opt = optim.Adam([p], lr=0.1)
    assert opt.state[p] == dict(topt.state[tp]) == {}
    assert len(opt.state) == len(topt.state) == 1
    (tp * tp).sum().backward()
    topt.step()
    (p * p).sum().backward()
    opt.step()
    assert set(opt.state[p]) == set(topt.state[tp])
    np.testing.assert_allclose(opt.state[p]["exp_avg_sq"], topt.state[tp]["exp_avg_sq"].numpy())
    np.testing.assert_allclose(p.data, tp.detach().numpy())


def test_what_is_written_into_a_fresh_state_stays():
    import optim

    p = ag.tensor([3.0], dtype=np.float64, requires_grad=True)
    opt = optim.SGD([p], lr=0.1, momentum=0.5)
    opt.state[p]["momentum_buffer"] = np.array([10.0])      # a warm start, as in PyTorch
    (p * p).sum().backward()                                 # grad 6
    opt.step()
    np.testing.assert_allclose(opt.state[p]["momentum_buffer"], [0.5 * 10.0 + 6.0])
    np.testing.assert_allclose(p.data, [3.0 - 0.1 * 11.0])


def test_reading_state_keeps_state_dict_load_copy_and_pickle_working():
    import copy
    import pickle

    import optim

    model = nn.Dense(3, 2, rng=0)
    opt = optim.Adam(model.parameters(), lr=0.1)
    assert opt.state[model.weight] == {}                     # read before any step
    outsider = ag.zeros(2, requires_grad=True)
    assert opt.state[outsider] == {}                         # not a parameter of opt: not saved
    saved = opt.state_dict()
    assert saved["state"] == {} and saved["param_groups"][0]["params"] == [0, 1]
    for twin in (copy.deepcopy(opt), pickle.loads(pickle.dumps(opt))):
        w = twin.param_groups[0]["params"][0]
        assert twin.state[w] == {} and twin.state_dict() == saved
    fresh = optim.Adam(nn.Dense(3, 2, rng=1).parameters(), lr=0.5)
    fresh.load_state_dict(saved)
    assert fresh.param_groups[0]["lr"] == 0.1 and len(fresh.state) == 0
    fresh.load_state_dict({"state": {0: {}}, "param_groups": saved["param_groups"]})   # PyTorch's form
    w0 = fresh.param_groups[0]["params"][0]
    assert w0 in fresh.state and fresh.state[w0] == {}
    model(ag.ones((1, 3))).sum().backward()
    opt.step()
    after = copy.deepcopy(opt)
    w = after.param_groups[0]["params"][0]
    np.testing.assert_array_equal(after.state[w]["exp_avg"], opt.state[model.weight]["exp_avg"])
    assert after.state[w]["step"] == 1


def test_state_keys_are_tensors_and_values_dicts():
    import optim

    p = ag.zeros(2, requires_grad=True)
    opt = optim.SGD([p], lr=0.1)
    with pytest.raises(TypeError, match=r"keyed by the parameter Tensors .*got 0 \(int\).*"
                                          r"state_dict\(\)\['state'\]"):
        opt.state[0]
    with pytest.raises(TypeError, match="is a dict of buffers"):
        opt.state[p] = [1]
    with pytest.raises(KeyError, match=r"no optimizer state for the tensor of shape \(2,\)"):
        del opt.state[p]
    opt.state[p]["x"] = 1
    assert list(opt.state.keys()) == [p] and list(opt.state.values()) == [{"x": 1}]
    del opt.state[p]
    assert p not in opt.state and len(opt.state) == 0


# ---------------------------------------------------------------- cross-entropy of an empty batch


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("shape", [(0, 3), (0, 4, 3), (2, 0, 3)])
def test_mean_cross_entropy_of_an_empty_batch_is_nan_with_an_empty_gradient(shape, dtype):
    import warnings

    x = ag.zeros(shape, dtype=dtype, requires_grad=True)
    labels = np.zeros(shape[:-1], np.int64)
    with warnings.catch_warnings():
        warnings.simplefilter("error")                      # no divide-by-zero warning
        loss = nn.CrossEntropyLoss()(x, labels)
        loss.backward()
    assert loss.shape == () and loss.dtype == dtype and np.isnan(loss.item())
    assert x.grad.shape == shape and x.grad.dtype == dtype
    assert F.cross_entropy(x, labels, reduction="sum").item() == 0.0
    assert F.cross_entropy(x, labels, reduction="none").shape == shape[:-1]
    (g,) = ag.grad(F.cross_entropy(x, labels), (x,), create_graph=True)
    assert g.shape == shape


def test_empty_batch_still_checks_the_labels():
    with pytest.raises(ValueError, match=r"labels of shape \(2,\) do not match logits of shape \(0, 3\)"):
        F.cross_entropy(ag.zeros((0, 3)), np.zeros(2, np.int64))
    with pytest.raises(TypeError, match="labels must be integer class indices"):
        F.cross_entropy(ag.zeros((0, 3)), np.zeros(0))


def test_a_non_empty_mean_is_unchanged_and_right():
    x = ag.tensor(np.random.default_rng(0).standard_normal((4, 3)), requires_grad=True)
    labels = np.array([0, 2, 1, 2])
    p = np.exp(x.data) / np.exp(x.data).sum(1, keepdims=True)
    expected = -np.log(p[np.arange(4), labels]).mean()
    np.testing.assert_allclose(F.cross_entropy(x, labels).item(), expected, rtol=1e-12)
    assert ag.gradcheck(lambda t: F.cross_entropy(t, labels), (x,))


def test_empty_batch_matches_torch():
    torch = pytest.importorskip("torch")
    tx = torch.zeros((0, 3), requires_grad=True)
    tloss = torch.nn.functional.cross_entropy(tx, torch.zeros(0, dtype=torch.long))
    tloss.backward()
    x = ag.zeros((0, 3), requires_grad=True)
    loss = F.cross_entropy(x, np.zeros(0, np.int64))
    loss.backward()
    assert np.isnan(loss.item()) and np.isnan(tloss.item())
    assert x.grad.shape == tuple(tx.grad.shape) and str(loss.dtype) == str(tloss.dtype).replace("torch.", "")


def test_autograd_mean_cross_entropy_of_an_empty_batch_is_nan_too():
    """ag.softmax_cross_entropy itself (not only nn's wrapper) gives NaN for no samples."""
    import warnings

    x = ag.zeros((0, 3), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss = ag.softmax_cross_entropy(x, np.zeros(0, np.int64), "mean")
        loss.backward()
    assert np.isnan(loss.item()) and x.grad.shape == (0, 3)
    assert ag.softmax_cross_entropy(x, np.zeros(0, np.int64), "sum").item() == 0.0
