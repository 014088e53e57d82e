"""record_values / record_grad_norms on small tensors holding values at the ends of the float
range: math.fsum raised (ValueError on inf + -inf, OverflowError past the range) inside the
user's forward or backward pass."""

import warnings

import numpy as np
import pytest

import autograd as ag


@pytest.mark.parametrize("values", [[np.nan, np.inf, -np.inf], [np.inf, -np.inf], [1e308, 1e308],
                                    [1.3e154, 1.3e154], [1e308, -1e308, 1e308]])
def test_recording_extreme_small_tensors_never_breaks_the_passes(values):
    a = ag.tensor(np.array(values), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)      # the user's own sum overflows
        with ag.record_values():
            loss = (a * 1.0).sum()
        with ag.record_grad_norms():
            loss.backward()
    page = ag.explore(loss)
    assert "3 nodes" in repr(page)
    assert np.array_equal(a.grad.numpy(), np.ones(len(values)))


def test_the_statistics_of_extreme_values():
    from autograd.graph.stats import _stats

    with warnings.catch_warnings():
        warnings.simplefilter("error")                       # the viewer itself warns of nothing
        st = _stats(np.array([np.inf, -np.inf]))
        assert st["finite"] is False and st["min"] == -np.inf and st["max"] == np.inf
        st = _stats(np.array([1.3e154, 1.3e154]))
        assert st["finite"] is True and st["mean"] == 1.3e154 and st["std"] == 0.0
        assert np.isclose(st["norm"], 1.3e154 * np.sqrt(2))
        st = _stats(np.array([1e308, -1e308, 1e308]))
        assert st["min"] == -1e308 and st["max"] == 1e308 and np.isclose(st["mean"], 1e308 / 3)
