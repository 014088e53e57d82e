"""Module.register_buffer: state that is saved and loaded but not learnt."""

import copy

import numpy as np
import pytest

import autograd as ag
import nn


class Counter(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Dense(2, 3, rng=0)
        self.register_buffer("total", np.zeros(3, np.float32))
        self.register_buffer("scratch", np.ones(2, np.float32), persistent=False)

    def forward(self, x):
        y = self.lin(x)
        self.total = self.total.data + y.data.sum(axis=0)     # a new array: still a buffer
        return y


def test_buffers_are_in_state_dict_not_in_parameters():
    m = nn.Sequential(Counter())
    assert [n for n, _ in m.named_parameters()] == ["0.lin.weight", "0.lin.bias"]
    assert [n for n, _ in m.named_buffers()] == ["0.total", "0.scratch"]
    assert len(list(m.buffers())) == 2
    # PyTorch's order: a module's own parameters, then its persistent buffers, then its children
    assert list(m.state_dict()) == ["0.total", "0.lin.weight", "0.lin.bias"]
    assert m.num_parameters() == 9
    assert not m[0].total.requires_grad and isinstance(m[0].total, ag.Tensor)


def test_assigning_a_new_array_keeps_it_a_buffer():
    m = Counter()
    m(np.ones((4, 2), np.float32))
    m(np.ones((4, 2), np.float32))
    expected = 2 * 4 * (m.lin.weight.data.sum(axis=0) + m.lin.bias.data)
    np.testing.assert_allclose(m.state_dict()["total"], expected, rtol=1e-6)
    assert "total" in m._buffers and "total" in dict(m.named_buffers())
    m.total = ag.tensor([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(m.state_dict()["total"], [1, 2, 3])
    m.total = None                                           # a None buffer is left out
    assert "total" not in m.state_dict() and "total" not in dict(m.named_buffers())
    m.total = np.full(3, 7.0)
    m.register_buffer("count", np.zeros((), np.int64))
    m.count = m.count.data + 1                               # a NumPy scalar: a 0-d buffer
    assert m.state_dict()["count"].shape == () and m.state_dict()["count"] == 1
    np.testing.assert_array_equal(m.state_dict()["total"], [7, 7, 7])


def test_buffer_assignment_errors_and_replacement():
    m = Counter()
    with pytest.raises(TypeError, match="buffer: assign a Tensor, an ndarray or None, got int"):
        m.total = 3
    m.total = nn.Parameter(np.zeros(3))                      # a Parameter takes the name over
    assert "total" in dict(m.named_parameters()) and "total" not in dict(m.named_buffers())
    with pytest.raises(KeyError, match="already exists"):
        m.register_buffer("lin", np.zeros(1))
    with pytest.raises(KeyError, match="already exists"):
        m.register_buffer("forward", np.zeros(1))
    with pytest.raises(KeyError, match="without '.'"):
        m.register_buffer("a.b", np.zeros(1))
    with pytest.raises(TypeError, match="a Parameter cannot be a buffer"):
        m.register_buffer("p", nn.Parameter(np.zeros(1)))
    x = ag.tensor([1.0], requires_grad=True)
    with pytest.raises(TypeError, match="detach"):
        m.register_buffer("y", x * 2)
    del m.scratch
    assert "scratch" not in dict(m.named_buffers())
    with pytest.raises(AttributeError):
        _ = m.scratch


def test_save_and_load_carry_buffers(tmp_path):
    ag.manual_seed(0)
    a = nn.Sequential(nn.Dense(4, 3), nn.BatchNorm1d(3))
    x = np.random.default_rng(0).standard_normal((16, 4)).astype(np.float32)
    for _ in range(3):
        a(x * 2 + 1)
    nn.save(a, tmp_path / "a.npz")
    saved = nn.load(tmp_path / "a.npz")
    assert list(saved) == ["0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean",
                           "1.running_var", "1.num_batches_tracked"]
    assert saved["1.num_batches_tracked"].dtype == np.int64 and saved["1.num_batches_tracked"] == 3
    b = nn.Sequential(nn.Dense(4, 3), nn.BatchNorm1d(3))
    b.load_state_dict(saved)
    for name, buf in a.named_buffers():
        np.testing.assert_array_equal(dict(b.named_buffers())[name].data, buf.data)
    a.eval(), b.eval()
    np.testing.assert_array_equal(a(x).data, b(x).data)


def test_strict_load_lists_missing_and_unexpected_buffers_and_changes_nothing():
    m = nn.BatchNorm1d(3)
    state = m.state_dict()
    del state["running_var"]
    state["running_std"] = np.ones(3)
    state["running_mean"] = np.full(3, 5.0)
    with pytest.raises(RuntimeError) as err:
        m.load_state_dict(state)
    msg = str(err.value)
    assert "missing key: running_var" in msg and "unexpected key: running_std" in msg
    np.testing.assert_array_equal(m.running_mean.data, np.zeros(3))        # unchanged
    result = m.load_state_dict(state, strict=False)
    assert result.missing_keys == ["running_var"] and result.unexpected_keys == ["running_std"]
    np.testing.assert_array_equal(m.running_mean.data, np.full(3, 5.0))
    assert m.running_mean.dtype == np.float32                               # cast to the buffer's dtype
    with pytest.raises(RuntimeError, match=r"running_mean: shape \(4,\) in the state, \(3,\)"):
        m.load_state_dict({**m.state_dict(), "running_mean": np.zeros(4)})


def test_deepcopy_copies_buffers():
    m = nn.BatchNorm1d(2)
    c = copy.deepcopy(m)
    m(np.array([[0.0, 1.0], [2.0, 5.0]], np.float32))
    np.testing.assert_array_equal(c.running_mean.data, [0, 0])
    assert c.running_mean is not m.running_mean and "running_mean" in c.state_dict()


def test_register_buffer_before_super_init_and_in_dir():
    class Early(nn.Module):
        def __init__(self):
            self.register_buffer("b", np.zeros(2))
            super().__init__()
    e = Early()
    assert list(e.state_dict()) == ["b"] and "b" in dir(e)
