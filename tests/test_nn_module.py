import numpy as np
import pytest

import autograd as ag
import nn


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(np.ones(3, np.float32))
        self.inner = nn.Dense(3, 2, rng=0)
        self.note = "not registered"

    def forward(self, x):
        return self.inner(x * self.scale)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList([nn.Dense(4, 3, rng=1), nn.Dense(3, 3, rng=2)])
        self.block = Block()

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return self.block(x)


# -- Parameter ---------------------------------------------------------------------------

def test_parameter_from_floats_is_float32_and_requires_grad():
    p = nn.Parameter([1.0, 2.0])
    assert p.dtype == np.float32 and p.requires_grad and p.is_leaf
    assert isinstance(p, ag.Tensor)


def test_parameter_keeps_ndarray_dtype():
    assert nn.Parameter(np.zeros(2, np.float64)).dtype == np.float64


def test_int_parameter_is_refused():
    with pytest.raises(TypeError, match="floating"):
        nn.Parameter(np.arange(3))


def test_parameter_gradient_flows():
    p = nn.Parameter(np.array([1.0, -2.0], np.float32))
    (p * p).sum().backward()
    np.testing.assert_allclose(p.grad.data, [2.0, -4.0])


# -- registration and traversal ------------------------------------------------------------

def test_named_parameters_have_dotted_names_in_order():
    names = [n for n, _ in Net().named_parameters()]
    assert names == ["layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias",
                     "block.scale", "block.inner.weight", "block.inner.bias"]


def test_parameters_match_named_parameters():
    net = Net()
    assert [id(p) for p in net.parameters()] == [id(p) for _, p in net.named_parameters()]
    assert net.num_parameters() == (4 * 3 + 3) + (3 * 3 + 3) + 3 + (3 * 2 + 2)


def test_plain_attributes_are_not_registered():
    b = Block()
    assert b.note == "not registered"
    assert "note" not in dict(b.named_parameters())


def test_named_modules_root_is_empty_string():
    net = Net()
    named = list(net.named_modules())
    assert [n for n, _ in named] == ["", "layers", "layers.0", "layers.1", "block", "block.inner"]
    assert named[0][1] is net and named[5][1] is net.block.inner


def test_children_and_modules():
    net = Net()
    assert [type(m).__name__ for m in net.children()] == ["ModuleList", "Block"]
    assert len(list(net.modules())) == 6


def test_shared_parameter_and_module_are_listed_once():
    shared = nn.Dense(2, 2, rng=0)
    model = nn.Sequential(shared, nn.ReLU(), shared)
    assert len(list(model.parameters())) == 2
    assert [n for n, _ in model.named_parameters()] == ["0.weight", "0.bias"]
    assert [n for n, _ in model.named_modules()] == ["", "0", "1"]
    tied = nn.Dense(2, 2, rng=1)
    tied.bias = shared.bias
    both = nn.Sequential(shared, tied)
    assert len(list(both.parameters())) == 3


def test_reassigning_an_attribute_replaces_its_registration():
    d = nn.Dense(3, 2, rng=0)
    d.bias = None
    assert [n for n, _ in d.named_parameters()] == ["weight"]
    assert d.bias is None
    d.extra = nn.Parameter([1.0])
    del d.extra
    assert [n for n, _ in d.named_parameters()] == ["weight"]
    with pytest.raises(AttributeError, match="extra"):
        d.extra  # noqa: B018


def test_module_without_super_init_still_registers():
    class Lazy(nn.Module):
        def __init__(self):
            self.w = nn.Parameter([1.0])

    assert [n for n, _ in Lazy().named_parameters()] == ["w"]


def test_list_of_modules_warns_to_use_modulelist():
    class Bad(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = [nn.Dense(2, 2, rng=0)]

    with pytest.warns(UserWarning, match="ModuleList"):
        Bad()


def test_modulelist_indexing_append_and_setitem():
    ml = nn.ModuleList([nn.ReLU()])
    ml.append(nn.Dense(2, 3, rng=0))
    assert len(ml) == 2 and isinstance(ml[1], nn.Dense) and isinstance(ml[-1], nn.Dense)
    ml[0] = nn.Dense(3, 3, rng=0)
    assert [n for n, _ in ml.named_parameters()] == ["0.weight", "0.bias", "1.weight", "1.bias"]
    with pytest.raises(TypeError, match="Modules"):
        ml.append(ag.relu)


def test_sequential_runs_in_order_and_slices():
    seq = nn.Sequential(nn.Dense(2, 3, rng=0), nn.ReLU(), nn.Dense(3, 1, rng=1))
    x = np.array([[1.0, -2.0]], np.float32)
    h = np.maximum(x @ seq[0].weight.data, 0)
    np.testing.assert_allclose(seq(x).data, h @ seq[2].weight.data, rtol=1e-6)
    assert len(seq) == 3 and len(seq[:2]) == 2 and isinstance(seq[1], nn.ReLU)
    with pytest.raises(TypeError, match="item 1"):
        nn.Sequential(nn.ReLU(), ag.relu)


def test_sequential_slice_keeps_the_original_names():
    seq = nn.Sequential(nn.Dense(2, 3, rng=0), nn.ReLU(), nn.Dense(3, 1, rng=1))
    tail = seq[1:]
    assert isinstance(tail, nn.Sequential) and len(tail) == 2
    assert tail[0] is seq[1] and tail[-1] is seq[2] and list(tail) == [seq[1], seq[2]]
    assert [n for n, _ in tail.named_parameters()] == ["2.weight", "2.bias"]
    assert list(tail.state_dict()) == ["2.weight", "2.bias"]
    assert repr(tail) == ("Sequential(  # 4 parameters\n"
                          "  (1): ReLU()\n"
                          "  (2): Dense(3, 1)  # 4 parameters\n"
                          ")")
    h = np.array([[1.0, -2.0, 0.5]], np.float32)
    np.testing.assert_allclose(tail(h).data, np.maximum(h, 0) @ seq[2].weight.data, rtol=1e-6)
    assert list(seq[::2]._modules) == ["0", "2"] and list(seq[::-1]._modules) == ["2", "1", "0"]
    # the slice's state loads back into the whole model under the same names
    other = nn.Sequential(nn.Dense(2, 3, rng=5), nn.ReLU(), nn.Dense(3, 1, rng=6))
    res = other.load_state_dict(tail.state_dict(), strict=False)
    assert res.missing_keys == ["0.weight", "0.bias"] and res.unexpected_keys == []
    np.testing.assert_array_equal(other[2].weight.data, seq[2].weight.data)


def test_zero_grad_sets_none():
    net = Net()
    net(np.ones((2, 4), np.float32)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_train_and_eval_reach_every_module():
    net = Net()
    assert all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())


def test_call_runs_forward_inside_module_scope():
    d = nn.Dense(3, 2, rng=0)
    out = d(np.ones((1, 3), np.float32))
    assert out.grad_fn.scope[-1] is d
    seq = nn.Sequential(d)
    out = seq(np.ones((1, 3), np.float32))
    assert out.grad_fn.scope[-2:] == (seq, d)


def test_forward_missing_is_clear():
    with pytest.raises(NotImplementedError, match="forward"):
        nn.Module()(1)


def test_repr_is_a_tree_with_counts():
    seq = nn.Sequential(nn.Dense(4, 3, activation="relu", rng=0), nn.ReLU(), nn.Dense(3, 2, rng=0))
    assert repr(seq) == (
        "Sequential(  # 23 parameters\n"
        "  (0): Dense(4, 3, activation='relu')  # 15 parameters\n"
        "  (1): ReLU()\n"
        "  (2): Dense(3, 2)  # 8 parameters\n"
        ")")
    assert "LeakyReLU(negative_slope=0.2)" in repr(nn.LeakyReLU(0.2))
    nested = repr(Net())
    assert "  (layers): ModuleList(  # 27 parameters\n    (0): Dense(4, 3)" in nested


# -- state dicts ---------------------------------------------------------------------------

def test_state_dict_is_a_copy():
    d = nn.Dense(3, 2, rng=0)
    sd = d.state_dict()
    assert list(sd) == ["weight", "bias"] and sd["weight"].shape == (3, 2)
    sd["weight"][:] = 7
    assert not np.any(d.weight.data == 7)


def test_load_state_dict_round_trip():
    a, b = Net(), Net()
    b.layers[0].weight.data = b.layers[0].weight.data + 1
    b.load_state_dict(a.state_dict())
    for (na, pa), (nb, pb) in zip(a.named_parameters(), b.named_parameters()):
        assert na == nb
        np.testing.assert_array_equal(pa.data, pb.data)
        assert pa.data is not pb.data


def test_load_state_dict_casts_to_parameter_dtype():
    d = nn.Dense(2, 2, rng=0)
    d.load_state_dict({"weight": np.eye(2), "bias": np.array([1, 2])})
    assert d.weight.dtype == np.float32 and d.bias.dtype == np.float32
    np.testing.assert_array_equal(d.bias.data, [1.0, 2.0])


def test_load_state_dict_reports_all_problems_and_changes_nothing():
    net = Net()
    before = net.state_dict()
    bad = dict(before)
    bad["layers.0.weight"] = np.zeros((9, 9))        # wrong shape
    del bad["block.scale"]                             # missing
    bad["block.extra"] = np.zeros(1)                   # unexpected
    bad["layers.1.bias"] = np.full(3, 5.0)             # fine, but must not be written either
    with pytest.raises(RuntimeError) as info:
        net.load_state_dict(bad)
    msg = str(info.value)
    assert "missing key: block.scale" in msg
    assert "unexpected key: block.extra" in msg
    assert "layers.0.weight: shape (9, 9) in the state, (4, 3) in the model" in msg
    assert "3 problem(s)" in msg
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


class TiedHeads(nn.Module):
    def __init__(self, seed=0):
        super().__init__()
        self.heads = nn.ModuleList([nn.Dense(2, 2, rng=seed), nn.Dense(2, 2, rng=seed + 1)])
        self.tied = self.heads[0].weight

    def forward(self, x):
        return self.heads[1](self.heads[0](x)) @ self.tied


def test_state_dict_lists_every_name_of_a_shared_parameter():
    m = TiedHeads()
    sd = m.state_dict()
    assert list(sd) == ["tied", "heads.0.weight", "heads.0.bias", "heads.1.weight", "heads.1.bias"]
    np.testing.assert_array_equal(sd["tied"], m.heads[0].weight.data)
    np.testing.assert_array_equal(sd["heads.0.weight"], m.heads[0].weight.data)
    assert sd["tied"] is not sd["heads.0.weight"]
    # named_parameters and parameters still list it once
    assert [n for n, _ in m.named_parameters()] == ["tied", "heads.0.bias", "heads.1.weight",
                                                    "heads.1.bias"]
    assert len(list(m.parameters())) == 4 and m.num_parameters() == 4 + 2 + 4 + 2
    shared = nn.Dense(2, 2, rng=0)
    seq = nn.Sequential(shared, nn.ReLU(), shared)
    assert list(seq.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert [n for n, _ in seq.named_parameters()] == ["0.weight", "0.bias"]
    assert [n for n, _ in seq.named_modules()] == ["", "0", "1"]
    assert [n for n, _ in seq.named_modules(remove_duplicate=False)] == ["", "0", "1", "2"]


def test_a_module_inside_itself_is_entered_once():
    d = nn.Dense(2, 2, rng=0)
    d.me = d
    assert list(d.state_dict()) == ["weight", "bias"]
    assert [n for n, _ in d.named_modules(remove_duplicate=False)] == [""]


def test_load_state_dict_with_shared_parameters(tmp_path):
    src, dst = TiedHeads(seed=0), TiedHeads(seed=10)
    x = np.array([[1.0, -1.0]], np.float32)
    dst.load_state_dict(src.state_dict())
    np.testing.assert_array_equal(dst(x).data, src(x).data)
    assert dst.tied is dst.heads[0].weight
    # through a file too
    dst = TiedHeads(seed=10)
    nn.save(src, tmp_path / "tied.npz")
    dst.load_state_dict(nn.load(tmp_path / "tied.npz"))
    np.testing.assert_array_equal(dst(x).data, src(x).data)
    # strict: every name is needed; non-strict: one name loads the shared Parameter
    sd = src.state_dict()
    del sd["tied"]
    with pytest.raises(RuntimeError, match="missing key: tied"):
        TiedHeads(seed=10).load_state_dict(sd)
    dst = TiedHeads(seed=10)
    assert dst.load_state_dict(sd, strict=False).missing_keys == ["tied"]
    np.testing.assert_array_equal(dst.tied.data, src.tied.data)


def test_load_state_dict_refuses_different_values_for_one_shared_parameter():
    m = TiedHeads(seed=10)
    before = m.state_dict()
    sd = TiedHeads(seed=0).state_dict()
    sd["heads.0.weight"] = sd["heads.0.weight"] + 1
    sd["heads.1.bias"] = np.zeros(3)
    with pytest.raises(RuntimeError) as info:
        m.load_state_dict(sd)
    msg = str(info.value)
    assert "heads.0.weight: the same Parameter as tied, but the state gives them different values" in msg
    assert "heads.1.bias: shape (3,) in the state, (2,) in the model" in msg
    assert "2 problem(s)" in msg
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


def test_load_state_dict_non_strict_skips_keys_but_not_shapes():
    d = nn.Dense(2, 2, rng=0)
    res = d.load_state_dict({"bias": np.ones(2), "other": np.zeros(1)}, strict=False)
    assert res.missing_keys == ["weight"] and res.unexpected_keys == ["other"]
    np.testing.assert_array_equal(d.bias.data, [1.0, 1.0])
    with pytest.raises(RuntimeError, match="bias: shape"):
        d.load_state_dict({"bias": np.ones(3)}, strict=False)
