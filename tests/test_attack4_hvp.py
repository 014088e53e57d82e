"""Attacks on hvp's v^T H route (attack4): it must equal the double backward wherever the
built-in rules' mixed second derivatives differ (clamped or masked edges)."""

import numpy as np
import pytest
from conftest import double_backward

import autograd as ag
from autograd import functional as F


def _both(fn, xs, vs):
    ins, dirs = tuple(ag.tensor(x) for x in xs), tuple(ag.tensor(v) for v in vs)
    with np.errstate(all="ignore"):
        _, fast = F.hvp(fn, ins, dirs)
        with double_backward():
            _, exact = F.hvp(fn, ins, dirs)
    return [a.data for a in fast], [b.data for b in exact]


@pytest.mark.parametrize("y", [1.0, 2.0, 0.0])
def test_power_with_a_zero_base_and_a_differentiable_exponent(y):
    """d(rule_a)/db keeps b * a**(b-1)'s factor b, d(rule_b)/da is masked at a = 0: the
    Hessian autograd computes is not symmetric there, so H v is J_g v, not v^T H."""
    fast, exact = _both(lambda a, b: (a ** b).sum(), [np.array([0.0, 1.5]), np.array([y, 2.0])],
                        [np.ones(2), np.ones(2)])
    for a, b in zip(fast, exact):
        np.testing.assert_allclose(a, b, rtol=1e-12)


@pytest.mark.parametrize("p", [0.0, 1e-13, 1.0])
def test_binary_cross_entropy_at_clamped_probabilities_with_differentiable_targets(p):
    """The rule for p divides by max(p (1 - p), 1e-12), the rule for y takes clamped logs:
    their mixed derivatives differ near p = 0 and 1."""
    fast, exact = _both(lambda q, y: ag.binary_cross_entropy(q * 1.0, y).sum(),
                        [np.array([p, 0.5]), np.array([0.3, 0.7])],
                        [np.array([1.0, 1.0]), np.array([1.0, -1.0])])
    for a, b in zip(fast, exact):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_power_and_bce_with_a_constant_second_operand_keep_the_fast_route():
    x = ag.tensor(np.array([0.0, 2.0]), requires_grad=True)
    assert F._symmetric((x ** 2.0).sum(), (x,))
    assert F._symmetric(ag.binary_cross_entropy(ag.sigmoid(x), np.array([1.0, 0.0])).sum(), (x,))


def test_power_and_bce_away_from_their_edges_keep_the_fast_route():
    x = ag.tensor(np.array([0.5, 2.0]), requires_grad=True)
    assert F._symmetric((x ** ag.tanh(x)).sum(), (x,))
    assert F._symmetric(ag.binary_cross_entropy(ag.sigmoid(x), ag.sigmoid(-x)).sum(), (x,))
    z = ag.tensor(np.array([0.0, 2.0]), requires_grad=True)
    assert not F._symmetric((z ** ag.tanh(z)).sum(), (z,))
