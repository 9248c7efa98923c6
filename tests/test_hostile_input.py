"""Hostile and extreme expression strings (issue 12): each reproducer gives a ValueError
naming the token or the limit, in bounded work (the parser runs under the one work
budget), or is accepted with the right value.  Nothing else escapes."""

import time

import numpy as np
import pytest
import sympy as sp

import hermite_dual as hd

REFUSED = [
    # denial of service (each ran > 60 s before)
    ("(((9**100)**100)**100)**100", "digits"),
    ("((9**100)**100)**100", "digits"),
    ("Abs(sin(100*x))", "periodic"),
    ("Abs(sin(x))", "periodic"),
    ("exp(exp(exp(exp(exp(exp(x))))))", "exponential growth"),
    ("Max(sin(x), cos(x))", "periodic"),
    ("Abs(x**100 - 2*x + 1)", "work budget"),
    # wrong exception types before (TypeError, OverflowError, RecursionError,
    # MemoryError, ZeroDivisionError)
    ("Piecewise((x, x))", "cannot be built"),
    ("elu(acos(x))", "acos"),
    ("exp(10**59)", "cannot be built"),
    ("(2**100)**100", "digits"),
    ("elu(sinh(-1e308))", "cannot be built"),
    ("tanh(sinh(x**52))", "exponential growth|cannot be built|not defined"),
    ("128**((1/2))*x/softplus(147/x + x)", "cannot be built"),
    # accepted but wrong before
    ("floor(x)", "unknown function 'floor'"),
    ("Mod(x, 1)", "unknown function 'Mod'"),
    ("Piecewise((x, x > 0))", "not defined in float64 at x = -3.7"),
    ("cos(x**0.5)", "not defined in float64"),
    ("\uff54\uff41\uff4e\uff48(\uff58)", "NFKC normal form is 'tanh\\(x\\)'"),
    ("\u017fin(x)", "LONG S"),
    ("x\ud800", "surrogate"),
]


@pytest.mark.parametrize("text, match", REFUSED)
def test_refused_with_a_value_error(text, match):
    t0 = time.perf_counter()
    with pytest.raises(ValueError, match=match):
        hd.activation(text)
    assert time.perf_counter() - t0 < 30      # a hang guard only; the budget counts work


@pytest.mark.parametrize("make, match", [
    (lambda: sp.Function("f")(sp.Symbol("x")), "undefined function"),
    (lambda: sp.Derivative(sp.Function("f")(sp.Symbol("x")), sp.Symbol("x")),
     "undefined function|unevaluated"),
    (lambda: sp.Integral(sp.Symbol("x"), sp.Symbol("x")), "unevaluated"),
])
def test_sympy_inputs_refused(make, match):
    with pytest.raises(ValueError, match=match):
        hd.activation(make())


@pytest.mark.parametrize("text, point, value", [
    ("exp(exp(exp(x)))", 0.0, np.exp(np.e)),
    ("x*tanh(x)", 2.0, 2 * np.tanh(2.0)),
    ("2**100*x/2**100", 3.0, 3.0),
    ("Piecewise((x, x > 0), (0, True))", -1.0, 0.0),
])
def test_hard_but_valid_expressions_still_work(text, point, value):
    assert float(hd.activation(text)(np.array([point]))[0]) == pytest.approx(value, rel=1e-14)


from hypothesis import given, settings  # noqa: E402

from hermite_dual.testing import activations  # noqa: E402


@settings(max_examples=15, deadline=None)
@given(activations())
def test_every_public_function_accepts_the_strategies_draws(drawn):
    """Regression: hd.activation() refused DrawnActivation ("got DrawnActivation")."""
    act = hd.activation(drawn)
    assert act is drawn.activation
    assert hd.dual(drawn).activation.expr == act.expr
    assert np.isfinite(hd.hermite_coefficients(drawn, 4).norm2)


import os  # noqa: E402
import tempfile  # noqa: E402

from hermite_dual.testing import hostile_expressions  # noqa: E402

_SENTINEL = os.path.join(tempfile.gettempdir(), f"hermite-dual-sentinel-{os.getpid()}")


@pytest.mark.slow
@settings(max_examples=400, deadline=None)
@given(hostile_expressions(sentinel=_SENTINEL))
def test_hostile_grammar_never_executes_and_only_raises_value_error(text):
    try:
        hd.activation(text)
    except ValueError:
        pass
    assert not os.path.exists(_SENTINEL)
