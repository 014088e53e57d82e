"""`t.size` is an int wherever it goes: a pickle of it (a DataLoader worker's result, a saved
config) used to name chainrule's private class, so it would not load without chainrule."""

import copy
import json
import pickle

import numpy as np

import autograd as ag


def test_size_pickles_and_copies_as_a_plain_int():
    s = ag.ones((2, 3)).size
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        data = pickle.dumps({"n": s}, protocol=protocol)
        assert b"_Size" not in data and b"autograd" not in data
        back = pickle.loads(data)["n"]
        assert type(back) is int and back == 6
    assert type(copy.copy(s)) is int and type(copy.deepcopy(s)) is int and copy.deepcopy(s) == 6
    assert json.dumps({"n": s}) == '{"n": 6}' and np.zeros(s).shape == (6,)
