"""Tests of the activation layer: parsing safety, built-ins, structure, evaluation."""

import math

import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st

import hermite_dual as hd
from hermite_dual.activations import builtin_names, x

# -- the whitelist: every malicious or malformed string is refused, naming the token --

BAD_STRINGS = [
    ("__import__('os').system('id')", "__import__"),
    ("x.__class__", "__class__"),
    ("x.real", "x.real"),
    ("(lambda: 1)()", "lambda"),
    ("lambda x: x", "lambda"),
    ("[x for x in range(3)]", "comprehension"),
    ("sum(x for x in y)", "sum"),
    ("x[0]", "x[0]"),
    ("__builtins__", "__builtins__"),
    ("y + x", "'y'"),
    ("x*y", "'y'"),
    ("foo(x)", "'foo'"),
    ("eval('1')", "'eval'"),
    ("open('/etc/passwd')", "'open'"),
    ("'abc'", "'abc'"),
    ("x ^ 2", "BitXor"),
    ("x @ x", "MatMult"),
    ("x if x > 0 else 0", "IfExp"),
    ("x > 0", "Compare"),
    ("tanh(x, y=1)", "'y'"),
    ("tanh", None),  # a built-in name alone is fine: see test below
    ("x**(10**6)", "exponent"),
    ("9**9**9**9", "exponent"),
    ("1" * 80 + "*x", "too large"),
    ("x +", "cannot parse"),
    ("", "cannot parse"),
    ("x" + "+x" * 2000, "too long"),
    ("sqrt(x)", "not real-valued"),
    ("log(x)", "not real-valued"),
    ("1j*x", "1j"),
    ("True*x", "boolean"),
    ("tanh()", "no argument"),
    ("getattr(x, 'real')", "'getattr'"),
    ("Piecewise(x)", "pairs"),
    ("nan*x", "'nan'"),
]


@pytest.mark.parametrize("text, token", [b for b in BAD_STRINGS if b[1] is not None])
def test_bad_strings_raise_value_error_naming_token(text, token):
    with pytest.raises(ValueError) as info:
        hd.activation(text)
    assert token in str(info.value)


@pytest.mark.parametrize("spec, exc", [
    (3.0, TypeError),
    (None, TypeError),
    (sp.Symbol("a") + sp.Symbol("b"), ValueError),
    (sp.Eq(x, 1), TypeError),
    (sp.sqrt(sp.Symbol("t")), ValueError),
])
def test_bad_non_string_specs(spec, exc):
    with pytest.raises(exc):
        hd.activation(spec)


def test_derivative_errors():
    with pytest.raises(ValueError, match="Dirac"):
        hd.activation("step").derivative()
    with pytest.raises(ValueError, match="non-negative integer"):
        hd.activation("tanh").derivative(-1)
    with pytest.raises(ValueError, match="non-negative integer"):
        hd.activation("tanh").derivative(1.5)


# -- built-ins --------------------------------------------------------------------

REQUIRED = ["identity", "relu", "step", "tanh", "sigmoid", "erf", "gelu", "silu",
            "softplus", "elu", "sin", "cos", "gaussian", "atan", "softsign", "exp"]


def test_required_builtins_present():
    assert set(REQUIRED) <= set(builtin_names())


REFERENCE = {
    "identity": lambda v: v,
    "relu": lambda v: max(v, 0),
    "step": lambda v: 1 if v >= 0 else 0,
    "tanh": mpmath.tanh,
    "sigmoid": lambda v: 1 / (1 + mpmath.exp(-v)),
    "erf": mpmath.erf,
    "gelu": lambda v: v * (1 + mpmath.erf(v / mpmath.sqrt(2))) / 2,
    "silu": lambda v: v / (1 + mpmath.exp(-v)),
    "softplus": lambda v: mpmath.log(1 + mpmath.exp(v)),
    "elu": lambda v: v if v > 0 else mpmath.expm1(v),
    "sin": mpmath.sin,
    "cos": mpmath.cos,
    "gaussian": lambda v: mpmath.exp(-v * v / 2),
    "atan": mpmath.atan,
    "softsign": lambda v: v / (1 + abs(v)),
    "exp": mpmath.exp,
    "abs": abs,
    "leaky_relu": lambda v: max(v, v / 100),
}


@pytest.mark.parametrize("name", builtin_names())
def test_builtin_values_against_mpmath(name):
    pts = np.array([-40.0, -7.5, -1.3, -1e-3, 0.0, 2e-4, 0.7, 3.1, 25.0])
    got = hd.activation(name)(pts)
    with mpmath.workdps(40):
        ref = np.array([float(REFERENCE[name](mpmath.mpf(float(p)))) for p in pts])
    # 1e-14: erf/erfc-based functions at |x| ~ 7 amplify the argument's rounding by 2x^2
    np.testing.assert_allclose(got, ref, rtol=1e-14, atol=1e-300)


def test_stable_callables_do_not_overflow():
    big = np.array([-800.0, 800.0])
    assert np.all(np.isfinite(hd.activation("softplus")(big)))
    assert np.all(np.isfinite(hd.activation("sigmoid")(big)))
    assert np.all(np.isfinite(hd.activation("silu")(big)))
    assert np.all(np.isfinite(hd.activation("elu")(big)))


def test_step_convention_h0_is_one():
    assert hd.activation("step")(0.0) == 1.0


def test_gelu_is_exact_erf_form():
    assert sp.simplify(hd.activation("gelu").expr - x * (1 + sp.erf(x / sp.sqrt(2))) / 2) == 0


# -- structure: kinks, parity, polynomials, derivatives --------------------------

@pytest.mark.parametrize("spec, kinks", [
    ("relu", [0]), ("step", [0]), ("abs", [0]), ("elu", [0]), ("softsign", [0]),
    ("tanh", []), ("relu(x - 1) + abs(x + 2)", [-2, 1]),
    ("Piecewise((x, x > 1/2), (x/10, True))", [sp.Rational(1, 2)]),
    ("Max(x, 0.25*x)", [0]), ("Min(x, 1)", [1]), ("Heaviside(2*x - 3)", [sp.Rational(3, 2)]),
    ("sign(x)*x**2", [0]),
])
def test_kinks(spec, kinks):
    assert list(hd.activation(spec).kinks) == kinks


@pytest.mark.parametrize("spec, parity", [
    ("tanh", "odd"), ("sin", "odd"), ("erf", "odd"), ("softsign", "odd"), ("atan", "odd"),
    ("identity", "odd"), ("cos", "even"), ("gaussian", "even"), ("abs", "even"),
    ("x*tanh(x)", "even"), ("relu", None), ("gelu", None), ("exp", None),
    ("sin(x) + cos(x)", None), ("x**3 - x", "odd"),
])
def test_parity(spec, parity):
    assert hd.activation(spec).parity == parity


@pytest.mark.parametrize("spec, poly", [
    ("identity", True), ("x**2 - 3*x + 1", True), ("2", True), ("tanh", False),
    ("relu", False), ("exp", False), ("abs", False),
])
def test_is_polynomial(spec, poly):
    assert hd.activation(spec).is_polynomial is poly


@pytest.mark.parametrize("name", ["tanh", "gelu", "silu", "softplus", "sin", "atan", "erf"])
def test_derivative_matches_finite_differences(name):
    act = hd.activation(name)
    der = act.derivative()
    pts = np.linspace(-3, 3, 13) + 0.0123
    h = 1e-6
    fd = (act(pts + h) - act(pts - h)) / (2 * h)
    np.testing.assert_allclose(der(pts), fd, atol=1e-8)


def test_relu_derivative_is_step_almost_everywhere():
    der = hd.activation("relu").derivative()
    np.testing.assert_array_equal(der(np.array([-2.0, -0.1, 0.1, 3.0])), [0, 0, 1, 1])


def test_builtin_names_inside_expressions():
    act = hd.activation("relu(x - 1) + 0.5*tanh(2*x)")
    pts = np.array([-2.0, 0.5, 3.0])
    ref = np.maximum(pts - 1, 0) + 0.5 * np.tanh(2 * pts)
    np.testing.assert_allclose(act(pts), ref, rtol=1e-15)


def test_numbers_parsed_exactly():
    assert hd.activation("0.1*x").expr == x / 10


def test_sympy_spec_renamed_to_x():
    t = sp.Symbol("t")
    act = hd.activation(sp.tanh(t) * t)
    assert act.expr == x * sp.tanh(x)


def test_activation_is_idempotent():
    act = hd.activation("tanh")
    assert hd.activation(act) is act


@given(st.floats(-50, 50), st.floats(-3, 3), st.floats(-3, 3))
def test_affine_rescaling_evaluates_consistently(v, alpha, beta):
    alpha_s = repr(alpha)
    beta_s = repr(beta)
    act = hd.activation(f"tanh(({alpha_s})*x + ({beta_s}))")
    assert math.isclose(float(act(v)), math.tanh(alpha * v + beta), rel_tol=1e-13, abs_tol=1e-15)


def test_evaluation_preserves_shape():
    act = hd.activation("2")
    out = act(np.zeros((3, 4)))
    assert out.shape == (3, 4) and np.all(out == 2)


def test_null_dirac_terms_are_dropped():
    # softsign'' = -2 sign(x) / (1 + |x|)^3; sympy writes an extra x*DiracDelta(x) = 0
    der = hd.activation("softsign").derivative(2)
    pts = np.array([-2.0, -0.3, 0.4, 3.0])
    np.testing.assert_allclose(der(pts), -2 * np.sign(pts) / (1 + np.abs(pts)) ** 3,
                               rtol=1e-14)
    assert hd.activation("x*abs(x)").derivative(2).expr == 2 * sp.sign(x)
    with pytest.raises(ValueError, match="Dirac"):
        hd.activation("relu").derivative(2)
