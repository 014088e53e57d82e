"""PyTorch's safetensors files through nn.load / nn.save and PyTorch's names and layouts
(nn.load_torch_state_dict, nn.torch_state_dict), checked against files PyTorch wrote
(tests/data/, made by tests/data/make_torch_safetensors.py). CI needs no PyTorch; the
safetensors package (the `dev` extra) only reads the files for comparison. The format itself
is tested in test_checkpoints.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import autograd as ag
import nn

safetensors_numpy = pytest.importorskip("safetensors.numpy")

DATA = Path(__file__).resolve().parent / "data"


class Net(nn.Module):
    """chainrule's twin of the `Net` in make_torch_safetensors.py (same names, same modules)."""

    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(10, 6)
        self.body = nn.Sequential(nn.Dense(6, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.LayerNorm(8),
                                  nn.Dense(8, 3))

    def forward(self, idx):
        return self.body(self.emb(idx).mean(axis=1))


def _mlp() -> nn.Sequential:
    """examples/demo.py's digits model (its make_model([64, 128, 64, 10]), written out here
    because the demo imports matplotlib): the torch MLP with its activations fused into Dense,
    layers 0, 1, 2 (PyTorch: 0, 2, 4)."""
    return nn.Sequential(nn.Dense(64, 128, activation="relu"), nn.Dense(128, 64, activation="relu"),
                         nn.Dense(64, 10))


def _outputs() -> dict:
    return nn.load(DATA / "torch_outputs.safetensors")


def test_pytorch_files_are_read_by_nn_load():
    state = nn.load(DATA / "torch_net.safetensors")
    theirs = safetensors_numpy.load_file(str(DATA / "torch_net.safetensors"))
    assert set(state) == set(theirs) and len(state) == 12
    for k, v in theirs.items():
        assert state[k].dtype == v.dtype and state[k].shape == v.shape, k
        np.testing.assert_array_equal(state[k], v)
    assert state["body.1.num_batches_tracked"].dtype == np.int64
    assert state["body.1.num_batches_tracked"].shape == ()


def test_pytorch_file_loads_and_gives_the_same_logits():
    state = nn.load(DATA / "torch_net.safetensors")
    assert state["body.0.weight"].shape == (8, 6)                  # torch.nn.Linear: (out, in)
    model = Net()
    nn.load_torch_state_dict(model, state)
    assert model.body[0].weight.shape == (6, 8)                    # Dense: (in, out)
    np.testing.assert_array_equal(model.body[0].weight.data, state["body.0.weight"].T)
    np.testing.assert_array_equal(model.body[1].running_var.data, state["body.1.running_var"])
    assert int(model.body[1].num_batches_tracked.item()) == 5
    out = _outputs()
    model.eval()
    with ag.no_grad():
        logits = model(out["net_input"]).numpy()
    np.testing.assert_allclose(logits, out["net_logits"], rtol=1e-5, atol=1e-6)


def test_pytorch_mlp_pairs_its_layers_in_order():
    state = nn.load(DATA / "torch_mlp.safetensors")
    assert set(state) == {"0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"}
    model = _mlp()
    nn.load_torch_state_dict(model, state)
    np.testing.assert_array_equal(model[1].weight.data, state["2.weight"].T)
    out = _outputs()
    with ag.no_grad():
        logits = model(out["mlp_input"]).numpy()
    np.testing.assert_allclose(logits, out["mlp_logits"], rtol=1e-5, atol=1e-5)


def test_the_other_way_round_gives_pytorchs_file(tmp_path):
    """chainrule -> PyTorch: the same keys, shapes, dtypes and values as PyTorch's own file."""
    for name, model in (("torch_net", Net()), ("torch_mlp", _mlp())):
        theirs = nn.load(DATA / f"{name}.safetensors")
        nn.load_torch_state_dict(model, theirs)
        nn.save(nn.torch_state_dict(model, keys=list(theirs)), tmp_path / f"{name}.safetensors")
        ours = nn.load(tmp_path / f"{name}.safetensors")
        assert set(ours) == set(theirs)
        for k in theirs:
            assert ours[k].dtype == theirs[k].dtype, k
            np.testing.assert_array_equal(ours[k], theirs[k], err_msg=k)


def test_mismatches_are_listed_and_nothing_is_loaded():
    state = nn.load(DATA / "torch_mlp.safetensors")
    model = nn.Sequential(nn.Dense(64, 128, activation="relu"), nn.Dense(128, 10))
    before = model.state_dict()
    with pytest.raises(RuntimeError, match="unexpected key: 4.weight"):
        nn.load_torch_state_dict(model, state)
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, before[k])
    wrong = _mlp()
    state["2.weight"] = state["2.weight"].T                        # (in, out): not PyTorch's layout
    with pytest.raises(RuntimeError, match=r"1.weight: shape \(64, 128\) in the state, \(128, 64\)"):
        nn.load_torch_state_dict(wrong, state)
    with pytest.raises(ValueError, match="do not pair"):
        nn.torch_state_dict(wrong, keys=["0.weight", "2.weight"])


def test_loads_into_pytorch_when_installed(tmp_path):
    """Where PyTorch is installed (not in CI), the file chainrule writes loads into torch."""
    torch = pytest.importorskip("torch")
    from safetensors.torch import load_file
    model = _mlp()
    model.load_state_dict({k: v * 0.5 for k, v in model.state_dict().items()})
    nn.save(nn.torch_state_dict(model, keys=["0.weight", "0.bias", "2.weight", "2.bias",
                                             "4.weight", "4.bias"]), tmp_path / "m.safetensors")
    twin = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, 64),
                               torch.nn.ReLU(), torch.nn.Linear(64, 10))
    twin.load_state_dict(load_file(tmp_path / "m.safetensors"))
    x = np.random.default_rng(0).standard_normal((5, 64)).astype(np.float32)
    with torch.no_grad():
        want = twin(torch.from_numpy(x)).numpy()
    with ag.no_grad():
        np.testing.assert_allclose(model(x).numpy(), want, rtol=1e-5, atol=1e-5)
