"""PyTorch weight mapping: index pairing must keep every layer inside its own block."""

import numpy as np
import pytest

import nn


def _linear_state(keys: list[str], rng: np.random.Generator) -> dict[str, np.ndarray]:
    state = {}
    for k in keys:
        state[f"{k}.weight"] = rng.standard_normal((4, 4), dtype=np.float32)
        state[f"{k}.bias"] = rng.standard_normal(4, dtype=np.float32)
    return state


def _blocks() -> nn.Sequential:
    return nn.Sequential(nn.Sequential(nn.Dense(4, 4, activation="relu"), nn.Dense(4, 4)),
                         nn.Sequential(nn.Dense(4, 4), nn.Dense(4, 4)))


def test_a_layer_never_moves_to_another_block():
    # PyTorch's first block has three Linear layers, its second one: same count, same shapes,
    # but pairing in global index order would load the first block's last layer into block 1
    state = _linear_state(["0.0", "0.2", "0.3", "1.0"], np.random.default_rng(0))
    model = _blocks()
    before = [p.data.copy() for p in model.parameters()]
    with pytest.raises(RuntimeError, match="nothing was loaded"):
        nn.load_torch_state_dict(model, state)
    assert all(np.array_equal(b, p.data) for b, p in zip(before, model.parameters()))
    with pytest.raises(ValueError, match="do not pair"):
        nn.torch_state_dict(model, list(state))


def test_nested_blocks_with_activation_indices_still_pair():
    # Sequential(Sequential(Linear, ReLU, Linear), Sequential(Linear, ReLU, Linear))
    rng = np.random.default_rng(1)
    state = _linear_state(["0.0", "0.2", "1.0", "1.2"], rng)
    model = _blocks()
    nn.load_torch_state_dict(model, state)
    assert np.array_equal(model[0][1].weight.data, state["0.2.weight"].T)
    assert np.array_equal(model[1][0].weight.data, state["1.0.weight"].T)
    assert np.array_equal(model[1][1].bias.data, state["1.2.bias"])
    back = nn.torch_state_dict(model, list(state))
    assert set(back) == set(state)
    assert all(np.array_equal(back[k], state[k]) for k in state)
