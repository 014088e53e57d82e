"""Issue #14, gradcheck: a NaN or Inf never makes a wrong gradient pass, and a failure caused by
the finite differences themselves (a kink, a pole, the edge of the domain) says so."""

import numpy as np
import pytest
from conftest import f64

import autograd as ag


class _FiveTimesSqrt(ag.Function):
    """sqrt with a gradient 5 times too large."""

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        with np.errstate(invalid="ignore"):
            return np.sqrt(a)

    @staticmethod
    def backward(ctx, g):
        a, = ctx.saved_arrays
        with np.errstate(invalid="ignore", divide="ignore"):
            return g * 5 / (2 * np.sqrt(a))


def test_a_wrong_gradient_with_one_nan_output_fails():
    x = f64([1.0, 2.0, -1.0])           # sqrt(-1) is NaN
    with pytest.raises(ag.GradcheckError, match=r"largest absolute error 2"):
        ag.gradcheck(_FiveTimesSqrt.apply, (x,))
    assert ag.gradcheck(_FiveTimesSqrt.apply, (x,), raise_exception=False) is False


class _Scaled(ag.Function):
    """x * c whose backward gives a fixed gradient `bad` at element 0."""

    bad = np.nan

    @staticmethod
    def forward(ctx, a):
        return a * 2.0

    @staticmethod
    def backward(ctx, g):
        out = g * 2.0
        out[0] = _Scaled.bad if g[0] else 0.0
        return out


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_analytical_where_numerical_is_finite_fails_naming_the_element(bad):
    _Scaled.bad = bad
    x = f64([1.0, 2.0])
    with pytest.raises(ag.GradcheckError) as info:
        ag.gradcheck(_Scaled.apply, (x,))
    msg = str(info.value)
    assert "worst element: d output[0] / d input[0]" in msg
    assert f"analytical {bad}" in msg and "numerical 2" in msg
    assert "NaN or Inf on one side only" in msg


class _FiniteGradOfAPole(ag.Function):
    """1/x at 0 whose backward says 1 (finite) where the function is Inf."""

    @staticmethod
    def forward(ctx, a):
        with np.errstate(divide="ignore"):
            return 1 / a

    @staticmethod
    def backward(ctx, g):
        return g


def test_non_finite_numerical_where_analytical_is_finite_fails():
    x = f64([0.0, 1.0])
    with pytest.raises(ag.GradcheckError, match=r"NaN or Inf on one side only"):
        ag.gradcheck(_FiniteGradOfAPole.apply, (x,))


def test_matching_nans_still_pass():
    x = f64([-1.0])             # sqrt(-1): NaN value, NaN on both sides
    with np.errstate(invalid="ignore"):
        assert ag.gradcheck(ag.sqrt, (x,))
    assert ag.gradcheck(ag.sqrt, (f64([4.0, 9.0]),))


def test_gradgradcheck_compares_second_derivatives_the_same_way():
    # the first derivative of sqrt(x) * 5 where the value is NaN at one element: the gradient
    # of the (correct) first derivative passes; gradgradcheck runs gradcheck's comparison
    x = f64([4.0, 9.0])
    assert ag.gradgradcheck(lambda t: ag.sqrt(t) * 5.0, (x,))
    with np.errstate(invalid="ignore", divide="ignore"):
        with pytest.raises(ag.GradcheckError, match="NaN or Inf within eps"):
            ag.gradgradcheck(lambda t: ag.sqrt(t) * 5.0, (f64([0.0, 9.0]),))


# ---------------------------------------------------------------- remedies for ill-conditioning

@pytest.mark.parametrize("fn, at, side", [
    (ag.relu, 0.0, "left"),                                      # relu'(0) = 0: the left side
    (lambda t: ag.clip(t, 0.0, None), 0.0, "right"),              # the tie goes to x
    (lambda t: ag.leaky_relu(t, 0.1), 0.0, None),
])
def test_a_kink_is_named_with_a_remedy(fn, at, side):
    x = f64([at, 1.0])
    with pytest.raises(ag.GradcheckError) as info:
        ag.gradcheck(fn, (x,))
    msg = str(info.value)
    assert "one-sided differences disagree" in msg and "kink" in msg and "`eps`" in msg
    if side:
        assert f"matches the difference from the {side}" in msg


def test_a_pole_is_named_with_a_remedy():
    x = f64([1e-5, 1.0])
    with pytest.raises(ag.GradcheckError, match=r"central difference changes with the step.*pole.*`eps`"):
        ag.gradcheck(lambda t: 1.0 / t, (x,))
    assert ag.gradcheck(lambda t: 1.0 / t, (x,), eps=1e-10)       # the remedy works


def test_the_edge_of_the_domain_is_named_with_a_remedy():
    x = f64([0.0, 1.0])
    with np.errstate(invalid="ignore", divide="ignore"):
        with pytest.raises(ag.GradcheckError, match=r"NaN or Inf within eps.*edge.*`eps`"):
            ag.gradcheck(ag.sqrt, (x,))


class _WrongExp(ag.Function):
    """exp(5x) whose gradient lacks the factor 5: wrong, at a smooth point with a large f''."""

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.exp(5 * a)

    @staticmethod
    def backward(ctx, g):
        a, = ctx.saved_arrays
        return g * np.exp(5 * a)


def test_a_plainly_wrong_gradient_at_a_smooth_point_gets_no_remedy():
    with pytest.raises(ag.GradcheckError) as info:     # f'' up to 25 e^10: one-sided gaps large
        ag.gradcheck(_WrongExp.apply, (f64([0.5, 2.0]),))
    assert "unreliable" not in str(info.value) and "edge" not in str(info.value)
