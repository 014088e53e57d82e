"""Third adversarial round, nn: load_state_dict given something other than a module's state."""

import numpy as np
import pytest

import nn


def test_load_state_dict_of_a_list_of_pairs_says_what_it_needs():
    # it raised "TypeError: unhashable type: 'numpy.ndarray'" from inside load_state_dict
    d = nn.Dense(2, 2, rng=0)
    before = d.state_dict()
    with pytest.raises(TypeError, match="dict of name -> array.*got list"):
        d.load_state_dict(list(before.items()))
    with pytest.raises(TypeError, match="got ndarray"):
        d.load_state_dict(before["weight"])
    assert all(np.array_equal(v, d.state_dict()[k]) for k, v in before.items())


def test_a_whole_checkpoint_names_the_key_holding_the_models_state():
    d = nn.Dense(2, 2, rng=0)
    ckpt = {"model": d.state_dict(), "step": 3, "optim": {"state": {}, "param_groups": []}}
    with pytest.raises(RuntimeError) as err:
        d.load_state_dict(ckpt)
    assert "pass state['model']" in str(err.value)
    assert d.load_state_dict(ckpt["model"]) == ([], [])


def test_no_hint_when_the_state_is_flat():
    d = nn.Dense(2, 2, rng=0)
    with pytest.raises(RuntimeError) as err:
        d.load_state_dict({"weight": np.ones((3, 3)), "bias": np.zeros(2)})
    assert "nested" not in str(err.value)


def test_a_weight_in_pytorchs_layout_is_named_with_the_loader_to_use():
    d = nn.Sequential(nn.Dense(4, 3, rng=0))
    torch_layout = {"0.weight": np.ones((3, 4)), "0.bias": np.zeros(3)}
    with pytest.raises(RuntimeError) as err:
        d.load_state_dict(torch_layout)
    assert "nn.load_torch_state_dict" in str(err.value)
    nn.load_torch_state_dict(d, torch_layout)
    assert np.array_equal(d[0].weight.data, np.ones((4, 3)))
    with pytest.raises(RuntimeError) as err:        # another shape: no such hint
        d.load_state_dict({"0.weight": np.ones((2, 2)), "0.bias": np.zeros(3)})
    assert "load_torch_state_dict" not in str(err.value)
