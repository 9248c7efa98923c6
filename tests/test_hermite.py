"""Tests of hermite_dual.hermite: three independent routes to a_k(q) agree, known values,
Parseval / parity / orthonormality / linearity properties, and bad input.

References: mpmath at dps=40 ("precise", cached per module), closed forms of MATH §2
 (sine, identity, ReLU via Stein's identity), sympy ("exact").
"""

import functools
import json
import math

import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import example, given, settings
from hypothesis import strategies as st

import hermite_dual as hd
from hermite_dual._kernels.hermite import _he_orthonormal_kernel
from hermite_dual.activations import x as X

BUILTINS = hd.builtin_names()
Q_GRID = (0.01, 0.1, 1.0, 10.0, 100.0)
SMOOTH = ("tanh", "sigmoid", "erf", "gelu", "silu", "softplus", "sin", "cos", "gaussian",
          "exp", "identity")
EXACT_NAMES = ("identity", "relu", "leaky_relu", "abs", "step", "erf", "gelu", "sin", "cos",
               "gaussian", "exp", "elu")
FAST_TOL = 1e-13     # |fast - precise| <= FAST_TOL * max(1, sqrt(nu))   (issue 2)
EXACT_TOL = 1e-35    # |precise(dps=40) - exact| <= EXACT_TOL * max(1, sqrt(nu))


@functools.lru_cache(maxsize=None)
def precise_ref(name, q, degree=60, dps=40):
    """mpmath reference (cached: each costs ~1 s)."""
    return hd.hermite_coefficients(name, degree, q, method="precise", dps=dps)


def assert_fast_matches_precise(name, q, degree=60):
    ref = precise_ref(name, q, degree)
    fast = hd.hermite_coefficients(name, degree, q)
    scale = max(1.0, math.sqrt(float(ref.norm2)))
    diff = np.abs(fast.coefficients - np.array([float(c) for c in ref.coefficients]))
    assert diff.max() <= FAST_TOL * scale, (name, q, diff.max() / scale)
    assert abs(fast.norm2 - float(ref.norm2)) <= FAST_TOL * scale**2
    # the fast error estimate is not below the actual error (by more than rounding)
    assert np.all(diff <= fast.errors + 4e-16 * scale)


# ---------------------------------------------------------------------------
# fast vs precise (issue 2: every built-in, degree <= 60, q in [0.01, 100])
# ---------------------------------------------------------------------------

DEFAULT_SAMPLE = [("tanh", 100.0), ("relu", 0.01), ("step", 10.0), ("gelu", 1.0),
                  ("exp", 100.0), ("softsign", 100.0), ("elu", 0.1), ("sin", 10.0)]


@pytest.mark.parametrize("name,q", DEFAULT_SAMPLE)
def test_fast_matches_precise_sample(name, q):
    assert_fast_matches_precise(name, q)


@pytest.mark.slow
@pytest.mark.parametrize("q", Q_GRID)
@pytest.mark.parametrize("name", BUILTINS)
def test_fast_matches_precise_all_builtins(name, q):
    assert_fast_matches_precise(name, q)


@pytest.mark.slow
@settings(max_examples=10)
@given(name=st.sampled_from(BUILTINS), logq=st.floats(-2.0, 2.0),
       degree=st.integers(0, 60))
def test_fast_matches_precise_random(name, logq, degree):
    assert_fast_matches_precise(name, float(10.0**logq), degree)


def test_fast_matches_precise_with_offset_kink():
    # kink at x = 3/2 lands at z = 1.5/sqrt(q): not on any grid point
    act = hd.activation("Max(x - 3/2, 0) + Heaviside(x + 1/3)")
    for q in (0.37, 23.0):
        assert_fast_matches_precise(act, q, 30)


# ---------------------------------------------------------------------------
# precise vs exact (issue 2: <= 1e-35 at dps=40)
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", EXACT_NAMES)
def test_precise_matches_exact(name):
    q = 0.7
    degree = 10
    ex = hd.hermite_coefficients(name, degree, q, method="exact")
    pr = precise_ref(name, q, degree)
    with mpmath.workdps(60):
        scale = max(1, mpmath.sqrt(abs(pr.norm2)))
        for k, (a, b) in enumerate(zip(ex.coefficients, pr.coefficients)):
            exact_value = mpmath.mpf(sp.N(a, 60))
            assert abs(exact_value - b) <= EXACT_TOL * scale, (name, k)
            assert abs(exact_value - b) <= max(pr.errors[k], mpmath.mpf(10) ** -38) * 10
        if not ex.norm2.has(sp.Float):      # a Float is the documented numeric fallback
            assert abs(mpmath.mpf(sp.N(ex.norm2, 60)) - pr.norm2) <= EXACT_TOL * scale**2


@pytest.mark.slow
@pytest.mark.parametrize("q", (0.05, 3.0, 40.0))
@pytest.mark.parametrize("name", EXACT_NAMES)
def test_precise_matches_exact_wide(name, q):
    ex = hd.hermite_coefficients(name, 20, q, method="exact")
    pr = precise_ref(name, q, 20)
    with mpmath.workdps(60):
        scale = max(1, mpmath.sqrt(abs(pr.norm2)))
        for a, b in zip(ex.coefficients, pr.coefficients):
            assert abs(mpmath.mpf(sp.N(a, 60)) - b) <= EXACT_TOL * scale


# ---------------------------------------------------------------------------
# known values
# ---------------------------------------------------------------------------

def sine_coefficient(k, q):
    """MATH §2."""
    if k % 2 == 0:
        return 0.0
    return math.exp(-q / 2) * (-1) ** ((k - 1) // 2) * math.exp(
        0.5 * k * math.log(q) - 0.5 * math.lgamma(k + 1))


def relu_coefficient(k, q):
    """Stein: a_k = sqrt(q) E[delta^(k-2)(Z)]/sqrt(k!) = sqrt(q) He_{k-2}(0) phi(0)/sqrt(k!)."""
    if k == 0:
        return math.sqrt(q / (2 * math.pi))
    if k == 1:
        return math.sqrt(q) / 2
    if k % 2 == 1:
        return 0.0
    # He_{k-2}(0) = (-1)^((k-2)/2) (k-3)!!
    log_dfact = math.lgamma(k - 1) - ((k - 2) // 2) * math.log(2) - math.lgamma(k // 2)
    sign = (-1) ** ((k - 2) // 2)
    return sign * math.sqrt(q) * math.exp(log_dfact - 0.5 * math.lgamma(k + 1)) \
        / math.sqrt(2 * math.pi)


@pytest.mark.parametrize("q", Q_GRID)
def test_sine_closed_form_fast(q):
    e = hd.hermite_coefficients("sin", 60, q)
    ref = np.array([sine_coefficient(k, q) for k in range(61)])
    assert np.max(np.abs(e.coefficients - ref)) <= 1e-15
    assert abs(e.norm2 - (1 - math.exp(-2 * q)) / 2) <= 1e-15


def test_sine_closed_form_exact_symbolic():
    q = sp.Symbol("q", positive=True)
    e = hd.hermite_coefficients("sin", 9, q, method="exact")
    for k, a in enumerate(e.coefficients):
        ref = 0 if k % 2 == 0 else sp.exp(-q / 2) * (-1) ** ((k - 1) // 2) * q ** sp.Rational(k, 2) \
            / sp.sqrt(sp.factorial(k))
        assert sp.simplify(a - ref) == 0, k
    assert sp.simplify(e.norm2 - (1 - sp.exp(-2 * q)) / 2) == 0


@pytest.mark.parametrize("q", Q_GRID)
def test_relu_closed_form_fast(q):
    e = hd.hermite_coefficients("relu", 60, q)
    ref = np.array([relu_coefficient(k, q) for k in range(61)])
    assert np.max(np.abs(e.coefficients - ref)) <= 1e-15 * max(1, math.sqrt(q))
    assert abs(e.norm2 - q / 2) <= 1e-15 * max(1, q)


def test_relu_closed_form_exact():
    q = sp.Symbol("q", positive=True)
    e = hd.hermite_coefficients("relu", 12, q, method="exact")
    for k, a in enumerate(e.coefficients):
        assert abs(float(a.subs(q, 2.5)) - relu_coefficient(k, 2.5)) <= 1e-15
    assert sp.simplify(e.norm2 - q / 2) == 0


@pytest.mark.parametrize("method", ["fast", "precise", "exact"])
@pytest.mark.parametrize("q", [0.01, 2.0, 100.0])
def test_identity_a1_is_sqrt_q(q, method):
    e = hd.hermite_coefficients("identity", 4, q, method=method)
    a = [float(c) for c in e.coefficients]
    assert abs(a[1] - math.sqrt(q)) <= 1e-15 * max(1, math.sqrt(q))
    assert max(abs(a[0]), *map(abs, a[2:])) <= 1e-15 * max(1, math.sqrt(q))


def test_exact_symbolic_identity_and_exp():
    q = sp.Symbol("q", positive=True)
    assert hd.hermite_coefficients("identity", 2, q, method="exact").coefficients == (0, sp.sqrt(q), 0)
    e = hd.hermite_coefficients("exp", 3, q, method="exact")
    for k, a in enumerate(e.coefficients):     # a_k = exp(q/2) q^(k/2)/sqrt(k!)
        assert sp.simplify(a - sp.exp(q / 2) * q ** sp.Rational(k, 2) / sp.sqrt(sp.factorial(k))) == 0


def test_exact_affine_rescaling_and_combination():
    # sigma(x) = 3 sin(2x + 1) - x**2/5 + relu(x - 1/2): closed form vs precise
    act = hd.activation("3*sin(2*x + 1) - x**2/5 + Max(x - 1/2, 0)")
    ex = hd.hermite_coefficients(act, 8, 1.3, method="exact")
    pr = hd.hermite_coefficients(act, 8, 1.3, method="precise", dps=40)
    with mpmath.workdps(50):
        for a, b in zip(ex.coefficients, pr.coefficients):
            assert abs(mpmath.mpf(sp.N(a, 50)) - b) <= 1e-35


def test_exp_x2_below_its_limit():
    # E[exp(q Z^2)] = 1/sqrt(1 - 2q), E[exp(2 q Z^2)] = 1/sqrt(1 - 4q)
    e = hd.hermite_coefficients("exp(x**2)", 6, 0.2)
    assert abs(e.coefficients[0] - 1 / math.sqrt(0.6)) <= 1e-14
    assert abs(e.norm2 - 1 / math.sqrt(0.2)) <= 1e-13
    assert hd.square_integrable_limit("exp(x**2)") == 0.25
    assert hd.square_integrable_limit("x*exp(x**2/3) + tanh(x)") == 0.75
    assert hd.square_integrable_limit("exp(-x**2)") == math.inf
    assert hd.square_integrable_limit("exp(3*x)") == math.inf


def test_exact_raises_without_closed_form_quickly():
    import time
    for name in ("tanh", "sigmoid", "softplus", "softsign", "atan", "silu"):
        t0 = time.perf_counter()
        with pytest.raises(ValueError, match="no closed form"):
            hd.hermite_coefficients(name, 5, 1.0, method="exact")
        assert time.perf_counter() - t0 < 10.0


def test_exact_budget_is_enforced():
    with pytest.raises(ValueError, match="work budget"):
        hd.hermite_coefficients("elu", 60, sp.Symbol("q", positive=True), method="exact",
                                timeout=0.5)


# ---------------------------------------------------------------------------
# properties (hypothesis)
# ---------------------------------------------------------------------------

@settings(deadline=None)
@given(name=st.sampled_from(BUILTINS), logq=st.floats(-2.0, 2.0),
       degree=st.integers(0, 80))
@example(name="relu", logq=-2.0, degree=0)
@example(name="exp", logq=2.0, degree=80)
def test_parseval_tail_nonnegative(name, logq, degree):
    e = hd.hermite_coefficients(name, degree, 10.0**logq)
    assert e.tail >= -e.tail_error
    assert e.tail_error <= 1e-13 * max(1.0, e.norm2)


@settings(deadline=None)
@given(name=st.sampled_from(SMOOTH), logq=st.floats(-2.0, 0.0))
def test_tail_vanishes_for_smooth_activations(name, logq):
    q = 10.0**logq
    tails = [hd.hermite_coefficients(name, r, q).tail for r in (5, 20, 80)]
    nu = hd.hermite_coefficients(name, 0, q).norm2
    assert tails[0] + 1e-14 * nu >= tails[1] and tails[1] + 1e-14 * nu >= tails[2]
    assert tails[2] <= 1e-10 * max(1.0, nu)


@settings(deadline=None)
@given(name=st.sampled_from([n for n in BUILTINS if hd.activation(n).parity]),
       logq=st.floats(-2.0, 2.0))
def test_parity(name, logq):
    act = hd.activation(name)
    e = hd.hermite_coefficients(act, 40, 10.0**logq)
    zero = 0 if act.parity == "odd" else 1
    vanishing = np.abs(e.coefficients[zero::2])
    assert np.all(vanishing <= e.errors[zero::2] + 1e-15 * max(1, math.sqrt(e.norm2)))


@settings(deadline=None)
@given(j=st.integers(0, 60), logq=st.floats(-2.0, 2.0))
@example(j=60, logq=2.0)
def test_orthonormality_under_the_quadrature(j, logq):
    # sigma(x) = h_j(x / sqrt(q)) has a_k(q) = delta_jk and nu(q) = 1
    # (evaluated by the recurrence: the expanded polynomial loses all digits in float64)
    q = 10.0**logq
    qs = sp.Rational(repr(q))
    expr = sp.hermite_prob(j, X / sp.sqrt(qs)) / sp.sqrt(sp.factorial(j))
    act = hd.Activation(name=f"h_{j}(x/sqrt(q))", expr=expr, kinks=(),
                        _numeric=lambda v: hd.hermite_he_orthonormal(j, v / math.sqrt(q))[..., j])
    A, nu, err = hd.hermite_table(act, 64, [q])
    target = np.zeros(65)
    target[j] = 1.0
    assert np.max(np.abs(A[0] - target)) <= 1e-13
    assert abs(nu[0] - 1.0) <= 1e-13


def test_kernel_compiled_matches_python():
    z = np.linspace(-12.0, 12.0, 37)
    out_c = np.empty((z.size, 31))
    out_p = np.empty((z.size, 31))
    _he_orthonormal_kernel(30, z, out_c)
    _he_orthonormal_kernel.py_func(30, z, out_p)
    assert np.array_equal(out_c, out_p) or np.allclose(out_c, out_p, rtol=1e-15, atol=0)
    # against sympy's He_k
    for k in (0, 1, 7, 30):
        ref = [float(sp.hermite_prob(k, v) / sp.sqrt(sp.factorial(k))) for v in (0.3, -2.5)]
        got = hd.hermite_he_orthonormal(30, [0.3, -2.5])[:, k]
        assert np.allclose(got, ref, rtol=1e-13, atol=1e-15)


LIN_POOL = [n for n in BUILTINS if n != "exp"]


@settings(deadline=None)
@given(names=st.lists(st.sampled_from(LIN_POOL), min_size=2, max_size=3, unique=True),
       coefs=st.lists(st.integers(-9, 9).filter(bool), min_size=3, max_size=3),
       logq=st.floats(-2.0, 2.0))
def test_linearity_in_the_activation(names, coefs, logq):
    q = 10.0**logq
    acts = [hd.activation(n) for n in names]
    combo = hd.activation(sp.Add(*[c * a.expr for c, a in zip(coefs, acts)]))
    A, nu, err = hd.hermite_table(combo, 30, [q])
    parts = [hd.hermite_table(a, 30, [q]) for a in acts]
    expected = sum(c * p[0][0] for c, p in zip(coefs, parts))
    bound = err[0] + sum(abs(c) * p[2][0] for c, p in zip(coefs, parts))
    scale = max(1.0, math.sqrt(nu[0]))
    assert np.all(np.abs(A[0] - expected) <= bound + 1e-14 * scale)


def test_table_matches_single_calls():
    qs = np.geomspace(0.01, 100, 7)
    A, nu, err = hd.hermite_table("gelu", 20, qs)
    for i, q in enumerate(qs):
        e = hd.hermite_coefficients("gelu", 20, q)
        assert np.allclose(A[i], e.coefficients, rtol=0, atol=1e-15 * max(1, math.sqrt(q)))
        assert abs(nu[i] - e.norm2) <= 1e-15 * max(1, q)


def test_describe_expansion_is_json():
    for method in ("fast", "precise", "exact"):
        d = hd.describe_expansion("relu", 3, 2.0, method=method)
        text = json.dumps(d)
        back = json.loads(text)
        assert back["method"] == method and back["name"] == "relu"
        assert len(back["coefficients"]) == 4
        # "fast" coefficients are floats already; the others carry float "values" beside
        values = back["coefficients"] if method == "fast" else back["values"]
        assert abs(float(values[1]) - math.sqrt(2.0) / 2) <= 1e-15
        assert ("values" in back) == (method != "fast")
    assert d["latex"][1] == sp.latex(sp.sqrt(2) / 2)
    # a formula in a symbolic q, with the norm left as None when no closed form exists
    d = hd.describe_expansion("gelu", 2, sp.Symbol("q", positive=True), method="exact")
    back = json.loads(json.dumps(d))
    assert back["q"] == "q" and back["coefficients"][1] == "sqrt(q)/2"
    assert back["norm2"] is None and back["values"][1] is None


def test_fast_accepts_sympy_numbers():
    e = hd.hermite_coefficients("identity", 1, sp.Rational(9, 4))
    assert abs(e.coefficients[1] - 1.5) <= 1e-15


# ---------------------------------------------------------------------------
# bad input: one table
# ---------------------------------------------------------------------------

def _call(*args, **kw):
    return lambda: hd.hermite_coefficients(*args, **kw)


BAD_INPUT = [
    ("negative degree", _call("tanh", -1), "-1"),
    ("float degree", _call("tanh", 2.5), "2.5"),
    ("bool degree", _call("tanh", True), "True"),
    ("huge degree", _call("tanh", 10**6), "1000000"),
    ("zero q", _call("tanh", 3, 0.0), "0.0"),
    ("negative q", _call("tanh", 3, -1.0), "-1.0"),
    ("nan q", _call("tanh", 3, float("nan")), "nan"),
    ("inf q", _call("tanh", 3, float("inf")), "inf"),
    ("string q", _call("tanh", 3, "1"), "'1'"),
    ("negative q precise", _call("tanh", 3, -2.0, method="precise"), "-2.0"),
    ("nan q exact", _call("tanh", 3, float("nan"), method="exact"), "nan"),
    ("symbolic q not positive", _call("sin", 3, sp.Symbol("q"), method="exact"), "q"),
    ("symbolic q for fast", _call("sin", 3, sp.Symbol("q", positive=True)), "q"),
    ("not L2 at 1/4", _call("exp(x**2)", 3, 0.25), "0.25"),
    ("not L2 beyond", _call("exp(x**2)", 3, 1.0, method="precise"), "1.0"),
    ("not L2 exact", _call("exp(x**2)", 3, 2, method="exact"), "2"),
    ("malicious string", _call("__import__('os').system('id')", 3), "__import__"),
    ("attribute access", _call("x.real", 3), "x.real"),
    ("unknown function", _call("foo(x)", 3), "foo"),
    ("malformed string", _call("tanh(x", 3), "tanh(x"),
    ("bad method", _call("tanh", 3, method="quick"), "quick"),
    ("dps too small", _call("tanh", 3, method="precise", dps=9), "[10, 1000]"),
    ("dps not int", _call("tanh", 3, method="precise", dps=30.5), "30.5"),
    ("bad timeout", _call("sin", 3, method="exact", timeout=-1), "-1"),
    ("no closed form", _call("tanh", 3, method="exact"), "tanh"),
    ("table nan q", lambda: hd.hermite_table("tanh", 3, [1.0, float("nan")]), "nan"),
    ("table 2-d q", lambda: hd.hermite_table("tanh", 3, [[1.0]]), "shape"),
    ("table not L2", lambda: hd.hermite_table("exp(x**2)", 3, [0.1, 0.3]), "0.3"),
    ("table bad degree", lambda: hd.hermite_table("tanh", -2, [1.0]), "-2"),
    ("recurrence bad k_max", lambda: hd.hermite_he_orthonormal(-1, [0.0]), "-1"),
    ("recurrence nan z", lambda: hd.hermite_he_orthonormal(3, [np.nan]), "nan"),
    ("not finite on domain", _call("log(x)", 3, 1.0), "log"),
]


@pytest.mark.parametrize("label,call,token", BAD_INPUT, ids=[b[0] for b in BAD_INPUT])
def test_bad_input(label, call, token):
    with pytest.raises(ValueError) as info:
        call()
    assert token in str(info.value), str(info.value)
