"""Dual kernels: closed forms (MATH section 3), float64 vs the arb oracle, error bounds,
structural properties, Price's identity and the bad-input table.

Tolerances are relative to ``scale = sqrt(nu(q1) nu(q2))`` (MATH section 3), the natural
size of ``K_sigma``.  The oracle is :meth:`DualKernel.precise` (ball arithmetic,
independent of the float64 code); it is itself checked against the MATH table in
``test_precise_matches_math_table``.
"""

import math

import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import example, given, settings
from hypothesis import strategies as st

import hermite_dual as hd
from hermite_dual.duals import c, describe_dual, q1, q2

dual_mod = __import__("hermite_dual.duals", fromlist=["dual"])
from hermite_dual.symbolic.arb import to_arb

BUILTINS = hd.builtin_names()

# ---------------------------------------------------------------------------
# MATH §3, typed in from the table (theta = arccos rho)
# ---------------------------------------------------------------------------
_rho = c / sp.sqrt(q1 * q2)
_theta = sp.acos(_rho)
MATH_TABLE = {
    "identity": c,
    "erf": 2 / sp.pi * sp.asin(2 * c / sp.sqrt((1 + 2 * q1) * (1 + 2 * q2))),
    "2/sqrt(pi)*exp(-x**2)": 4 / sp.pi / sp.sqrt((1 + 2 * q1) * (1 + 2 * q2) - 4 * c ** 2),
    "sin": sp.exp(-(q1 + q2) / 2) * sp.sinh(c),
    "cos": sp.exp(-(q1 + q2) / 2) * sp.cosh(c),
    "gaussian": 1 / sp.sqrt((1 + q1) * (1 + q2) - c ** 2),
    "exp": sp.exp((q1 + q2) / 2 + c),
    "relu": sp.sqrt(q1 * q2) / (2 * sp.pi) * (sp.sin(_theta) + (sp.pi - _theta) * sp.cos(_theta)),
    "step": sp.Rational(1, 2) - _theta / (2 * sp.pi),
}


def _random_covariances(seed, n, lo=0.05, hi=5.0, edges=True):
    rng = np.random.default_rng(seed)
    out = []
    rhos = list(rng.uniform(-1, 1, n))
    if edges:
        rhos[:3] = [1.0, -1.0, 0.0]
    for r in rhos:
        a, b = np.exp(rng.uniform(math.log(lo), math.log(hi), 2))
        out.append(_valid(float(a), float(b), float(r * math.sqrt(a * b))))
    return out


def _valid(a, b, cc):
    """Shrink c by ulps until c^2 <= a b exactly (a valid covariance of exact floats)."""
    from fractions import Fraction
    while Fraction(cc) ** 2 > Fraction(a) * Fraction(b):
        cc = float(np.nextafter(cc, 0.0))
    return a, b, cc


def _mp_eval(expr, a, b, cc, dps=40):
    with mpmath.workdps(dps):
        v = expr.evalf(dps, subs={q1: sp.Float(a, dps), q2: sp.Float(b, dps), c: sp.Float(cc, dps)})
        return complex(v)


@pytest.mark.parametrize("name", sorted(MATH_TABLE))
def test_closed_form_reproduces_math_table(name):
    """.closed_form() equals the MATH section 3 entry to 1e-14 at random covariances."""
    derived = hd.dual(name).closed_form()
    assert derived is not None, name
    assert derived.free_symbols <= {q1, q2, c}
    for a, b, cc in _random_covariances(3, 8):
        ref = _mp_eval(MATH_TABLE[name], a, b, cc)
        got = _mp_eval(derived, a, b, cc)
        scale = math.sqrt(abs(_mp_eval(MATH_TABLE[name], a, a, a).real)
                          * abs(_mp_eval(MATH_TABLE[name], b, b, b).real))
        assert abs(got.imag) <= 1e-14 * scale
        assert abs(got.real - ref.real) <= 1e-14 * scale, (name, a, b, cc)


CLOSED_SPECS = ["x**3", "sin(2*x + 1)", "leaky_relu", "sin(x) + cos(2*x)/2", "erf(x) + x/3"]
MORE_CLOSED_SPECS = ["exp(2*x)", "cos(3*x - 0.5)", "exp(-2*x**2)", "erf(3*x)", "abs",
                     "x**2 - 1", "3*x**4 - x", "exp(-x/2)", "x*exp(-x**2)", "2*relu(x) - x",
                     "abs(x) + 1", "relu(x) + erf(x)"]


def _check_closed(spec, points):
    k = hd.dual(spec)
    cf = k.closed_form()
    assert cf is not None, spec
    for a, b, cc in points:
        ref = k.precise(a, b, cc, dps=20)
        got = _mp_eval(cf, a, b, cc)
        scale = math.sqrt(abs(_mp_eval(cf, a, a, a).real) * abs(_mp_eval(cf, b, b, b).real))
        assert abs(got.real - float(ref)) <= 1e-13 * scale, (spec, a, b, cc)


@pytest.mark.parametrize("spec", CLOSED_SPECS)
def test_closed_form_derived_and_correct(spec):
    """The required families and linear combinations get a closed form, and it is right:
    evaluated in mpmath it matches the arb oracle (at rho = 1 and a random rho)."""
    pts = _random_covariances(11, 4, lo=0.2, hi=2.0)
    _check_closed(spec, [pts[0], pts[3]])


@pytest.mark.slow
@pytest.mark.parametrize("spec", CLOSED_SPECS + MORE_CLOSED_SPECS)
def test_closed_form_derived_and_correct_deep(spec):
    _check_closed(spec, _random_covariances(12, 6, lo=0.05, hi=5.0))


@pytest.mark.parametrize("spec", ["tanh", "elu", "softsign", "sigmoid", "x*tanh(x)"])
def test_no_closed_form_is_none(spec):
    assert hd.dual(spec).closed_form() is None


def test_polynomial_closed_form_symbolic():
    """sigma = h_3 = (x^3 - 3x)/sqrt(6): the dual is rho^3 at unit variances (Mehler)."""
    k = hd.dual("(x**3 - 3*x)/sqrt(6)")
    cf = k.closed_form()
    assert sp.simplify(cf.subs({q1: 1, q2: 1}) - c ** 3) == 0


def test_precise_matches_math_table():
    """The oracle against the closed forms of MATH section 3 (kinked and smooth cases)."""
    for name in ("relu", "step", "erf", "sin"):
        k = hd.dual(name)
        for a, b, cc in _random_covariances(5, 3, lo=0.1, hi=10.0):
            ref = _mp_eval(MATH_TABLE[name], a, b, cc, dps=30).real
            got = k.precise(a, b, cc, dps=25)
            assert abs(float(got) - ref) <= 1e-20 * max(1.0, abs(ref)), (name, a, b, cc)


# ---------------------------------------------------------------------------
# float64 kernel vs the oracle; the error bound
# ---------------------------------------------------------------------------

def _check_against_precise(k, a, b, cc):
    value, bound = k.kernel_with_error(a, b, cc)
    ref = float(k.precise(a, b, cc, dps=20))
    na = float(k.precise(a, a, a, dps=20))
    nb = float(k.precise(b, b, b, dps=20))
    scale = math.sqrt(abs(na * nb))
    err = abs(float(value) - ref)
    assert err <= 1e-12 * scale, (k, a, b, cc, err / scale)
    # the oracle's own resolution (20 digits of the scale) is part of the comparison: the
    # series' bound at rho ~ 1e-313 is 3e-31, below what a 20-digit reference resolves
    assert err <= float(bound) + 1e-18 * scale, (k, a, b, cc, err, float(bound))


EDGE_POINTS = [(0.7, 2.3, 1.0), (1.9, 0.4, -1.0), (1.3, 1.3, 0.0), (0.5, 3.0, 0.9999),
               (1e-3, 2e-3, 0.99), (300.0, 0.05, -0.3)]


# every built-in at the edges of the correlation range (rho = +-1, 0, 1 - 1e-4) and at
# extreme variances; the cheap non-slow subset covers each numeric route once
@pytest.mark.parametrize("name", ["tanh", "relu", "gelu"])
def test_kernel_vs_precise_edges(name):
    k = hd.dual(name)
    for a, b, rho in EDGE_POINTS[:2] + EDGE_POINTS[3:4]:
        _check_against_precise(k, *_valid(a, b, rho * math.sqrt(a * b)))


@pytest.mark.slow
@pytest.mark.parametrize("name", BUILTINS)
def test_kernel_vs_precise_edges_all_builtins(name):
    k = hd.dual(name)
    for a, b, rho in EDGE_POINTS:
        _check_against_precise(k, *_valid(a, b, rho * math.sqrt(a * b)))


_SMALL_BUILTINS = [n for n in BUILTINS if n not in ("exp",)]


@settings(max_examples=3)
@given(name=st.sampled_from(_SMALL_BUILTINS),
       la=st.floats(-3, 3), lb=st.floats(-3, 3),
       rho=st.one_of(st.sampled_from([1.0, -1.0, 0.0]), st.floats(-1, 1)))
@example(name="tanh", la=3.0, lb=3.0, rho=0.999)
@example(name="softsign", la=-3.0, lb=2.0, rho=1.0)
def test_kernel_vs_precise_hypothesis(name, la, lb, rho):
    """q in [1e-3, 1e3] (log-uniform), rho including +-1 and 0; value within 1e-12 of
    scale and inside its bound."""
    a, b = 10.0 ** la, 10.0 ** lb
    _check_against_precise(hd.dual(name), *_valid(a, b, rho * math.sqrt(a * b)))


@pytest.mark.slow
@settings(max_examples=200)
@given(name=st.sampled_from(_SMALL_BUILTINS),
       la=st.floats(-3, 3), lb=st.floats(-3, 3),
       rho=st.one_of(st.sampled_from([1.0, -1.0, 0.0]), st.floats(-1, 1)))
def test_kernel_vs_precise_hypothesis_deep(name, la, lb, rho):
    a, b = 10.0 ** la, 10.0 ** lb
    _check_against_precise(hd.dual(name), *_valid(a, b, rho * math.sqrt(a * b)))


def test_exp_kernel_large_variance_overflows_to_inf():
    """E[exp(u + v)] = exp((q1 + q2)/2 + c) exceeds float64 beyond q ~ 354: inf, not NaN."""
    v = hd.dual("exp").kernel(400.0, 400.0, 400.0)
    assert np.isinf(v)


def test_many_variances_use_table_and_stay_accurate():
    """> 128 distinct variances: interpolated coefficient table + quadrature near |rho|=1."""
    k = hd.dual("tanh")
    rng = np.random.default_rng(42)
    n = 200
    a = rng.uniform(0.1, 10, n)
    b = rng.uniform(0.1, 10, n)
    rho = rng.uniform(-1, 1, n)
    rho[:4] = [1.0, -1.0, 0.0, 0.995]
    cc = rho * np.sqrt(a * b)
    value, bound = k.kernel_with_error(a, b, cc)
    assert k._mehler_table is not None
    for i in (0, 3):   # rho = 1 (quadrature route) and 0.995
        ref = float(k.precise(a[i], b[i], cc[i], dps=20))
        scale = math.sqrt(float(k.kernel(a[i], a[i], a[i])) * float(k.kernel(b[i], b[i], b[i])))
        assert abs(value[i] - ref) <= 1e-12 * scale
        assert abs(value[i] - ref) <= bound[i]
    assert np.all(bound <= 1e-12 * np.sqrt(k.kernel(a, a, a) * k.kernel(b, b, b)))


# ---------------------------------------------------------------------------
# properties
# ---------------------------------------------------------------------------

PROPERTY_ACTS = ["tanh", "relu", "gelu", "sin", "softsign", "erf", "elu"]


@pytest.mark.parametrize("name", PROPERTY_ACTS)
def test_symmetry_and_diagonal(name):
    """K(q1, q2, c) = K(q2, q1, c); K(q, q, q) = nu(q) from the Hermite layer."""
    k = hd.dual(name)
    a = np.array([0.3, 1.0, 4.0, 0.01])
    b = np.array([2.0, 0.5, 4.0, 50.0])
    cc = np.array([0.5, -0.7, 0.975, 0.3]) * np.sqrt(a * b)
    v1, e1 = k.kernel_with_error(a, b, cc)
    v2, e2 = k.kernel_with_error(b, a, cc)
    assert np.all(np.abs(v1 - v2) <= e1 + e2)
    from hermite_dual.hermite import hermite_table
    qs = np.array([0.05, 1.0, 7.0])
    _, nu, _ = hermite_table(name, 2, qs)
    diag = k.kernel(qs, qs, qs)
    np.testing.assert_allclose(diag, nu, rtol=1e-12, atol=0)


@settings(max_examples=10)
@given(seed=st.integers(0, 2 ** 32 - 1), name=st.sampled_from(PROPERTY_ACTS))
def test_psd_kernel_matrix(seed, name):
    """[K(C_ii, C_jj, C_ij)] is PSD for a PSD 3x3 covariance C (rank-deficient allowed)."""
    rng = np.random.default_rng(seed)
    rank = rng.integers(1, 4)
    L = rng.normal(size=(3, rank)) * np.exp(rng.uniform(-2, 1.5, size=(3, 1)))
    C = L @ L.T + 1e-9 * np.eye(3)
    d = np.diag(C)
    Km = hd.dual(name).kernel(d[:, None], d[None, :], C)
    scale = np.sqrt(np.outer(np.diag(Km), np.diag(Km))).max()
    assert np.linalg.eigvalsh((Km + Km.T) / 2).min() >= -1e-11 * scale


@pytest.mark.parametrize("name", PROPERTY_ACTS + ["step", "cos"])
def test_unit_dual_monotone_convex(name):
    """sigma_hat is non-decreasing and convex on [0, 1]; |sigma_hat(rho)| <= sigma_hat(1)."""
    k = hd.dual(name)
    r = np.linspace(0.0, 1.0, 41)
    s = k(r)
    tol = 1e-12 * abs(s[-1])
    assert np.all(np.diff(s) >= -tol)
    assert np.all(np.diff(s, 2) >= -4 * tol)
    assert np.all(np.abs(k(np.linspace(-1, 1, 21))) <= s[-1] + tol)


@pytest.mark.parametrize("name", ["tanh", "gelu", "relu", "sin", "softplus", "erf"])
def test_price_identity(name):
    """d/dc K_sigma = K_{sigma'} (Price): derivative() against central differences."""
    k = hd.dual(name)
    kd = k.derivative()
    for a, b, rho in [(0.8, 1.7, 0.3), (2.0, 0.5, -0.6), (1.0, 1.0, 0.9)]:
        cc = rho * math.sqrt(a * b)
        h = 1e-4 * math.sqrt(a * b)
        fd = (k.kernel(a, b, cc + h) - k.kernel(a, b, cc - h)) / (2 * h)
        assert abs(float(fd) - float(kd.kernel(a, b, cc))) <= 1e-7 * max(1.0, abs(float(fd)))


@pytest.mark.parametrize("name", ["erf"])
def test_closed_form_equals_series_equals_precise(name):
    """Three routes agree: closed form, Mehler series of hermite coefficients, the oracle."""
    k = hd.dual(name)
    cf = k.closed_form()
    from hermite_dual.hermite import hermite_table
    a, b, rho = 0.7, 1.6, 0.45
    cc = rho * math.sqrt(a * b)
    A, nu, _ = hermite_table(name, 120, [a, b])
    series = float(np.sum(A[0] * A[1] * rho ** np.arange(A.shape[1])))
    closed = _mp_eval(cf, a, b, cc).real
    precise = float(k.precise(a, b, cc, dps=20))
    scale = math.sqrt(nu[0] * nu[1])
    assert abs(closed - precise) <= 1e-14 * scale
    assert abs(series - precise) <= 1e-13 * scale
    assert abs(float(k.kernel(a, b, cc)) - precise) <= 1e-14 * scale * 64


def test_numeric_spec_and_describe():
    from hermite_dual import _kernels
    assert hd.dual("relu").numeric_spec()[:2] == ("closed", _kernels.KIND_RELU)
    spec = hd.dual("erf(x) + x/3").numeric_spec()
    assert spec[0] == "closed-numpy"
    assert abs(float(spec[1](np.array(1.0), np.array(1.0), np.array(0.0)))) < 1e-15
    assert hd.dual("tanh").numeric_spec()[0] == "mehler"
    d = describe_dual("tanh")
    assert d["method"] == "mehler" and d["degree_at_q1"]["0.5"] is not None
    assert 0 <= d["tail_q1"] < 1e-10 * d["nu_q1"]
    import json
    json.dumps(d)
    dc = describe_dual("sin")
    assert dc["method"] == "closed form" and "sinh" in dc["latex"] or "e^" in dc["latex"]


def test_dual_is_cached_and_callable_module():
    assert hd.dual("tanh") is hd.dual("tanh")
    assert dual_mod.dual("relu") is hd.dual("relu")


def test_broadcasting_shapes():
    k = hd.dual("relu")
    out = k.kernel(np.ones((3, 1)), np.ones((1, 4)), 0.5)
    assert out.shape == (3, 4)
    assert k.kernel(1.0, 1.0, 0.5).shape == ()


# ---------------------------------------------------------------------------
# bad input: one table
# ---------------------------------------------------------------------------

def _call_kernel(*args):
    return lambda: hd.dual("tanh").kernel(*args)


BAD_INPUT = [
    ("q1 = 0", _call_kernel(0.0, 1.0, 0.0), "q1 must be positive, got 0.0"),
    ("q1 < 0", _call_kernel(-1.0, 1.0, 0.0), "q1 must be positive, got -1.0"),
    ("q2 < 0 in array", _call_kernel(1.0, [1.0, -0.5], 0.0), "q2 must be positive, got -0.5"),
    ("|c| too large", _call_kernel(1.0, 4.0, 2.1), "c=2.1 exceeds sqrt(q1*q2)=2.0"),
    ("|c| too large, negative", _call_kernel(1.0, 1.0, -1.001), "c=-1.001"),
    ("NaN q1", _call_kernel(float("nan"), 1.0, 0.0), "q1 must be finite, got nan"),
    ("inf c", _call_kernel(1.0, 1.0, float("inf")), "c must be finite, got inf"),
    ("-inf q2", _call_kernel(1.0, -math.inf, 0.0), "q2 must be finite, got -inf"),
    ("not a number", _call_kernel("abc", 1.0, 0.0), "q1 must be a real number or array, got 'abc'"),
    ("shapes", _call_kernel(np.ones(2), np.ones(3), 0.0), "must broadcast to one shape, got shapes (2,), (3,)"),
    ("rho > 1", lambda: hd.dual("relu")(1.5), "rho must lie in [-1, 1], got 1.5"),
    ("rho NaN", lambda: hd.dual("relu")(float("nan")), "rho must be finite, got nan"),
    ("precise array", lambda: hd.dual("relu").precise([1.0, 2.0], 1.0, 0.0), "scalar q1, q2, c, got shape (2,)"),
    ("precise dps", lambda: hd.dual("relu").precise(1.0, 1.0, 0.0, dps=5), "dps must be an integer in [10, 100]"),
    ("precise q", lambda: hd.dual("relu").precise(1.0, 0.0, 0.0), "q2 must be positive, got 0.0"),
    ("kernel_with_error c", lambda: hd.dual("sin").kernel_with_error(1.0, 1.0, 3.0), "c=3.0 exceeds"),
    ("derivative of step", lambda: hd.dual("step").derivative(), "Dirac mass"),
    ("bad activation", lambda: hd.dual("y + x"), "unknown name 'y'"),
    ("ball arithmetic", lambda: to_arb(sp.gamma(sp.Symbol("x", real=True)), strict=False),
     "cannot evaluate 'gamma(x)' in ball arithmetic"),
]


@pytest.mark.parametrize("label, call, message", BAD_INPUT, ids=[b[0] for b in BAD_INPUT])
def test_bad_input(label, call, message):
    with pytest.raises(ValueError) as info:
        call()
    assert message in str(info.value), str(info.value)


def test_c_within_rounding_is_accepted():
    """|c| exceeding sqrt(q1 q2) by rounding only is clipped, not refused."""
    q = 0.1 + 0.2
    v = hd.dual("relu").kernel(q, q, q * (1 + 1e-15))
    assert abs(float(v) - q / 2) < 1e-15


@pytest.mark.parametrize("q", [5.1, 0.3, 1e-3 * 7, 123.4])
def test_rho_exactly_one_from_rounded_inputs(q):
    # c = q1 = q2 is rho = 1 exactly; sqrt(q)*sqrt(q) rounds below q, and clipping c to
    # it once moved the point inside the disc (step dual off by 3e-9 through acos)
    step = hd.dual("step")
    assert step.kernel(q, q, q) == 0.5
    assert step.kernel(q, q, -q) == 0.0
    assert float(step.precise(q, q, q, dps=20)) == pytest.approx(0.5, abs=1e-18)
    assert hd.dual("relu").kernel(q, q, q) == pytest.approx(q / 2, rel=1e-15)


def test_a_kernel_over_60_variances_does_not_build_the_whole_table():
    # issue 15: 60 distinct variances waited 6.8 s for the 433-variance interpolation
    # table; up to 128 distinct variances the exact coefficients are computed instead
    k = hd.dual("softsign")
    q = np.linspace(0.5, 5.0, 60)
    v, b = k.kernel_with_error(q, q[::-1], 0.3 * np.sqrt(q * q[::-1]))
    assert k._mehler_table is None
    for i in (0, 30):
        ref = float(k.precise(q[i], q[::-1][i], 0.3 * math.sqrt(q[i] * q[::-1][i]), dps=20))
        assert abs(v[i] - ref) <= b[i] + 1e-18
