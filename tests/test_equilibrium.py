"""Tests of the population Gram matrix at the equilibrium point (MATH §5).

Independent references:
- ReLU: Ling et al.'s closed form, its scalar equation solved by bisection;
- closed-form activations: the weight-untied recursion K^(l) on whole matrices, iterated
  to convergence in extended precision (numpy longdouble) with closed forms written here;
- tanh, sin, gelu: the same recursion with ``hd.dual(act).precise`` (arbitrary precision).
"""

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import hermite_dual as hd
from hermite_dual.equilibrium import (EquilibriumNotConverged, describe_gram,
                                      population_gram)

LD = np.longdouble


def sphere(n, d, seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    return X * (math.sqrt(d) / np.linalg.norm(X, axis=1, keepdims=True))


# ---------------------------------------------------------------------------
# references
# ---------------------------------------------------------------------------

def ling_relu(X, w2):
    """Ling et al. (MATH section 5): K_ij = Q(rho)/(1 - w2), rho = w2 Q(rho) + (1 - w2) t."""
    n, d = X.shape
    t = X @ X.T / d

    def Q(r):
        return (math.sqrt(max(0.0, 1 - r * r)) + (math.pi - math.acos(r)) * r) / math.pi

    K = np.empty((n, n))
    for i in range(n):
        for j in range(n):
            if i == j:
                K[i, j] = 1 / (1 - w2)
                continue
            lo, hi = -1.0, 1.0
            for _ in range(200):          # bisection of a monotone scalar equation
                mid = 0.5 * (lo + hi)
                if mid - w2 * Q(mid) - (1 - w2) * t[i, j] > 0:
                    hi = mid
                else:
                    lo = mid
                if hi - lo <= 0:
                    break
            K[i, j] = Q(0.5 * (lo + hi)) / (1 - w2)
    return K


def _ld_kernel(name, qi, qj, c):
    """Closed forms of MATH section 3 in longdouble (written independently of _kernels)."""
    if name == "relu":
        r = np.sqrt(qi * qj)
        rho = np.clip(c / r, LD(-1), LD(1))
        th = np.arccos(rho)
        return r / (2 * LD(np.pi)) * (np.sin(th) + (LD(np.pi) - th) * np.cos(th))
    if name == "sin":
        return np.exp(-(qi + qj) / 2) * np.sinh(c)
    if name == "cos":
        return np.exp(-(qi + qj) / 2) * np.cosh(c)
    if name == "erf":
        return 2 / LD(np.pi) * np.arcsin(2 * c / np.sqrt((1 + 2 * qi) * (1 + 2 * qj)))
    if name == "identity":
        return c
    raise KeyError(name)


def recursion_longdouble(X, name, w2, iters=400):
    """Weight-untied recursion on whole matrices, K^(0) = 0, in longdouble."""
    Xl = X.astype(LD)
    d = X.shape[1]
    G = 2 * Xl @ Xl.T / d
    K = np.zeros_like(G)
    for _ in range(iters):
        S = 2 * LD(w2) * K + G
        dg = np.diag(S)
        new = _ld_kernel(name, dg[:, None], dg[None, :], S)
        change = np.max(np.abs(new - K))
        K = new
        if change < 1e-19:
            break
    return K


def recursion_precise(X, name, w2, dps=20, tol=1e-14):
    """Weight-untied recursion with hd.dual(act).precise (arb/mpmath), entry by entry.

    The recursion runs in mpmath at ``dps`` digits; ``precise`` takes its covariance as
    float64 numbers (exact binary inputs), which perturbs each step by ~1e-16 relative,
    far below the 1e-11 the test asks for.  Evaluations are cached (equal norms share
    the diagonal).
    """
    import mpmath
    dual = hd.dual(name)
    n, d = X.shape
    cache = {}

    def kern(a, b, c):
        key = (float(a), float(b), float(c))
        if key not in cache:
            cache[key] = mpmath.mpf(dual.precise(*key, dps=dps))
        return cache[key]

    with mpmath.workdps(dps):
        G = [[2 * mpmath.fsum(mpmath.mpf(float(a)) * mpmath.mpf(float(b))
                              for a, b in zip(X[i], X[j])) / d for j in range(n)]
             for i in range(n)]
        K = [[mpmath.mpf(0)] * n for _ in range(n)]
        for _ in range(100):
            S = [[2 * w2 * K[i][j] + G[i][j] for j in range(n)] for i in range(n)]
            new = [[None] * n for _ in range(n)]
            for i in range(n):
                for j in range(i, n):
                    new[i][j] = new[j][i] = kern(S[i][i], S[j][j], S[i][j])
            change = max(abs(new[i][j] - K[i][j]) for i in range(n) for j in range(n))
            K = new
            if change < tol:
                break
        return np.array([[float(v) for v in row] for row in K])


# ---------------------------------------------------------------------------
# must show: ReLU equals Ling's closed form
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["equal", "general"])
@pytest.mark.parametrize("w2", [0.02, 0.08, 0.5])
def test_relu_equals_ling_closed_form(method, w2):
    X = sphere(12, 5, seed=1)
    res = population_gram(X, "relu", w2, method=method)
    ref = ling_relu(X, w2)
    assert res.method == method and res.kernel == "relu"
    assert np.max(np.abs(res.K - ref)) <= 1e-13
    # ||x_i||^2 = d up to rounding, which 1/(1 - w2) amplifies: a few ulps
    np.testing.assert_allclose(np.diag(res.K), 1 / (1 - w2), rtol=0, atol=8e-16 / (1 - w2))
    assert np.max(np.abs(res.K - ref)) <= res.error_bound
    assert res.error_bound < 1e-13
    assert res.converged and res.residual < 1e-15


# ---------------------------------------------------------------------------
# must show: tanh, sin, gelu against the precise recursion
# ---------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("name", ["sin", "tanh", "gelu"])
def test_matches_precise_recursion(name):
    """The full recursion K^(l) with the arb oracle, iterated to convergence (minutes)."""
    X = sphere(3, 3, seed=7)
    w2 = 0.08
    ref = recursion_precise(X, name, w2)
    for method in ("equal", "general"):
        res = population_gram(X, name, w2, method=method)
        err = np.max(np.abs(res.K - ref))
        assert err <= 1e-11, (method, err)
        assert err <= res.error_bound + 1e-14, (method, err, res.error_bound)


@pytest.mark.parametrize("name", ["tanh"])
def test_is_fixed_point_of_precise_map(name):
    """Default-run variant: one step of the recursion with the arb oracle at our K.

    ``|K - K_*| <= |K - Phi(K)| / (1 - L)`` for the contraction Phi with factor L, so a
    tiny residual against the precise map bounds the distance to the precise fixed point.
    Two points, equal norms: two oracle calls (diagonal and the off-diagonal entry).
    """
    X = sphere(2, 3, seed=7)
    res = population_gram(X, name, 0.08)
    dual = hd.dual(name)
    S = res.Sigma
    phi_diag = float(dual.precise(float(S[0, 0]), float(S[0, 0]), float(S[0, 0]), dps=20))
    phi_off = float(dual.precise(float(S[0, 0]), float(S[1, 1]), float(S[0, 1]), dps=20))
    resid = max(abs(res.K[0, 0] - phi_diag), abs(res.K[1, 1] - phi_diag),
                abs(res.K[0, 1] - phi_off))
    bound = resid / (1 - res.contraction)
    assert bound <= 1e-11
    assert resid <= res.error_bound + 1e-15


@pytest.mark.parametrize("name", ["relu", "sin", "cos", "erf", "identity"])
@pytest.mark.parametrize("w2", [0.05, 0.12])
def test_closed_forms_match_longdouble_recursion(name, w2):
    X = sphere(7, 4, seed=11)
    ref = recursion_longdouble(X, name, w2)
    for method in ("equal", "general"):
        res = population_gram(X, name, w2, method=method)
        err = float(np.max(np.abs(res.K.astype(LD) - ref)))
        assert err <= res.error_bound
        assert err <= 1e-14 * max(1.0, float(np.max(np.abs(ref))))
        Sref = 2 * w2 * ref + 2 * X.astype(LD) @ X.T.astype(LD) / X.shape[1]
        assert float(np.max(np.abs(res.Sigma - Sref))) <= 2 * w2 * res.error_bound + 1e-15


def test_general_norms_match_longdouble_recursion():
    """Unequal norms: per-point variances, entrywise fixed points."""
    rng = np.random.default_rng(5)
    X = rng.standard_normal((8, 3)) * rng.uniform(0.3, 2.0, size=(8, 1))
    for name in ("relu", "erf", "sin"):
        res = population_gram(X, name, 0.08)
        assert res.method == "general"
        ref = recursion_longdouble(X, name, 0.08)
        err = float(np.max(np.abs(res.K.astype(LD) - ref)))
        assert err <= res.error_bound < 1e-13


def test_equal_and_general_paths_agree_for_series():
    X = sphere(30, 6, seed=2)
    for name in ("tanh", "gelu", "x*tanh(x) + sin(x)"):
        a = population_gram(X, name, 0.08, method="equal")
        b = population_gram(X, name, 0.08, method="general")
        diff = np.max(np.abs(a.K - b.K))
        assert diff <= a.error_bound + b.error_bound
        assert diff <= 1e-13
        np.testing.assert_allclose(a.Sigma, b.Sigma, rtol=0, atol=1e-13)


def test_table_is_used_and_fallback_near_parallel():
    """Nearly parallel rows (u close to 1) fall back to direct solves: still exact."""
    X = sphere(5, 3, seed=4)
    X[1] = X[0] + 1e-5 * X[2]
    X[1] *= math.sqrt(3) / np.linalg.norm(X[1])
    res = population_gram(X, "relu", 0.08, method="equal")
    np.testing.assert_allclose(res.K, ling_relu(X, 0.08), rtol=0, atol=1e-13)


# ---------------------------------------------------------------------------
# block selection
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("name,method", [("relu", "equal"), ("tanh", "equal"),
                                         ("erf", "general"), ("tanh", "general")])
def test_blocks_equal_the_full_matrix(name, method):
    X = sphere(9, 4, seed=3)
    full = population_gram(X, name, 0.08, method=method)
    rows, cols = [5, 0, 7], [1, 5, 8, 2]
    blk = population_gram(X, name, 0.08, rows=rows, cols=cols, method=method)
    np.testing.assert_allclose(blk.K, full.K[np.ix_(rows, cols)], rtol=0, atol=1e-15)
    np.testing.assert_allclose(blk.Sigma, full.Sigma[np.ix_(rows, cols)], rtol=0, atol=1e-15)
    np.testing.assert_allclose(blk.Theta, full.Theta[np.ix_(rows, cols)], rtol=0, atol=1e-15)
    assert not blk.is_principal
    with pytest.raises(ValueError, match="principal block"):
        blk.lambda_min
    sub = population_gram(X, name, 0.08, rows=[2, 4, 6], cols=[2, 4, 6], method=method)
    assert sub.is_principal
    assert sub.lambda_min == pytest.approx(
        np.linalg.eigvalsh(full.K[np.ix_([2, 4, 6], [2, 4, 6])])[0], abs=1e-14)


# ---------------------------------------------------------------------------
# tangent kernel
# ---------------------------------------------------------------------------

def test_tangent_kernel_relu_and_sin_closed_forms():
    X = sphere(6, 3, seed=8)
    w2 = 0.08
    r = population_gram(X, "relu", w2)
    S = r.Sigma
    dg = np.diag(S)
    rho = np.clip(S / np.sqrt(dg[:, None] * dg[None, :]), -1, 1)
    kdot = 0.5 - np.arccos(rho) / (2 * np.pi)            # K_step (MATH section 3)
    np.testing.assert_allclose(r.Kdot, kdot, rtol=0, atol=1e-14)
    np.testing.assert_allclose(r.Theta, r.K * (1 + kdot / (1 - 2 * w2 * kdot)), rtol=1e-14)
    s = population_gram(X, "sin", w2)
    dg = np.diag(s.Sigma)
    kcos = np.exp(-(dg[:, None] + dg[None, :]) / 2) * np.cosh(s.Sigma)
    np.testing.assert_allclose(s.Kdot, kcos, rtol=0, atol=1e-14)


def test_tangent_kernel_series_matches_closed_form_of_derivative():
    """tanh by Mehler series of sigma' vs the dual kernel of sigma' from hd.dual."""
    X = sphere(5, 3, seed=9)
    r = population_gram(X, "tanh", 0.08)
    dg = np.diag(r.Sigma)
    ref, bound = hd.dual("tanh").derivative().kernel_with_error(dg[:, None], dg[None, :],
                                                                r.Sigma)
    np.testing.assert_allclose(r.Kdot, ref, rtol=0, atol=1e-12)
    assert np.max(np.abs(r.Kdot - ref)) <= r.Kdot_error + np.max(bound)
    assert r.Kdot_error < 1e-12


# ---------------------------------------------------------------------------
# property: error_bound is a true bound, certificate <= lambda_min
# ---------------------------------------------------------------------------

@settings(deadline=None)
@given(n=st.integers(2, 7), d=st.integers(2, 6), seed=st.integers(0, 2**32 - 1),
       name=st.sampled_from(["relu", "sin", "erf", "cos"]),
       w2=st.floats(0.0, 0.12), method=st.sampled_from(["equal", "general"]))
def test_error_bound_and_certificate_properties(n, d, seed, name, w2, method):
    X = sphere(n, d, seed)
    cosines = (X @ X.T / d)[~np.eye(n, dtype=bool)]
    if cosines.size and np.max(np.abs(cosines)) > 1 - 1e-6:
        return  # the theory excludes (nearly) parallel inputs
    res = population_gram(X, name, w2, method=method)
    ref = recursion_longdouble(X, name, w2)
    err = float(np.max(np.abs(res.K.astype(LD) - ref)))
    assert err <= res.error_bound
    assert 0.0 <= res.certificate <= res.lambda_min + res.lambda_min_error
    lam_ref = float(np.linalg.eigvalsh(ref.astype(float))[0])
    assert abs(res.lambda_min - lam_ref) <= res.lambda_min_error + 1e-15


@settings(deadline=None, max_examples=10)
@given(n=st.integers(2, 6), seed=st.integers(0, 2**32 - 1),
       name=st.sampled_from(["tanh", "gelu", "sigmoid"]), w2=st.floats(0.01, 0.12))
def test_certificate_below_lambda_min_series(n, seed, name, w2):
    X = sphere(n, 4, seed)
    cosines = (X @ X.T / 4)[~np.eye(n, dtype=bool)]
    if np.max(np.abs(cosines)) > 1 - 1e-6:
        return
    res = population_gram(X, name, w2)
    assert 0.0 <= res.certificate <= res.lambda_min
    assert res.certificate > 0 or np.max(np.abs(cosines)) > 0.5


def recursion_dual_float(X, name, w2, iters=200):
    """Weight-untied recursion with hd.dual(act).kernel_with_error (float64, independent
    quadrature/Mehler code); returns K and the accumulated kernel error bound."""
    dual = hd.dual(name)
    d = X.shape[1]
    G = 2 * X @ X.T / d
    K = np.zeros_like(G)
    bound = 0.0
    for _ in range(iters):
        S = 2 * w2 * K + G
        dg = np.diag(S)
        new, b = dual.kernel_with_error(dg[:, None], dg[None, :], S)
        change = np.max(np.abs(new - K))
        K, bound = new, float(np.max(b))
        if change <= 1e-16:
            break
    return K, bound


@settings(deadline=None, max_examples=5)
@given(n=st.integers(2, 5), seed=st.integers(0, 2**32 - 1), w2=st.floats(0.01, 0.12),
       method=st.sampled_from(["equal", "general"]))
def test_series_error_bound_against_dual_recursion(n, seed, w2, method):
    """tanh: |K - K_ref| <= error_bound + (error of the reference), the reference being the
    recursion iterated with the dual-kernel layer's float64 evaluator."""
    X = sphere(n, 3, seed)
    res = population_gram(X, "tanh", w2, method=method)
    ref, kbound = recursion_dual_float(X, "tanh", w2)
    assert np.max(np.abs(res.K - ref)) <= res.error_bound + kbound / (1 - res.contraction)


def test_certificate_positive_for_many_nearly_orthogonal_points():
    X = sphere(200, 400, seed=0)
    res = population_gram(X, "tanh", 0.08)
    assert 0 < res.certificate <= res.lambda_min


# ---------------------------------------------------------------------------
# non-convergence
# ---------------------------------------------------------------------------

def test_non_convergence_raises_or_reports():
    X = sphere(4, 3, seed=1)
    with pytest.raises(EquilibriumNotConverged, match="did not converge") as info:
        population_gram(X, "tanh", 0.08, max_iter=2)
    assert info.value.result.converged is False
    full = population_gram(X, "tanh", 0.08)
    for max_iter in (1, 2):
        res = population_gram(X, "tanh", 0.08, max_iter=max_iter, raise_on_failure=False)
        assert res.converged is False
        assert res.residual > 1e-12                      # above tol, and reported
        diff = np.max(np.abs(res.K - full.K))
        assert diff > 1e-13                              # really the unconverged iterate
        assert diff <= res.error_bound                   # whose error is still bounded


# ---------------------------------------------------------------------------
# bad input: one table
# ---------------------------------------------------------------------------

def _with(X, i, j, v):
    X = X.copy()
    X[i, j] = v
    return X


_X = sphere(5, 3, seed=0)
_PAR = _X.copy()
_PAR[3] = -2.5 * _PAR[1]

BAD = [
    # (X, act, kwargs, exception, message regex)
    (_with(_X, 2, 1, np.nan), "tanh", {}, ValueError, r"non-finite value nan at row 2"),
    (_with(_X, 0, 0, np.inf), "tanh", {}, ValueError, r"non-finite value inf at row 0"),
    (np.vstack([_X, np.zeros(3)]), "relu", {}, ValueError, r"zero row: row 5"),
    (_PAR, "relu", {}, ValueError, r"rows 1 and 3 of X are parallel"),
    (_X[0], "relu", {}, ValueError, r"shape \(n, d\)"),
    (np.zeros((0, 3)), "relu", {}, ValueError, r"at least one row"),
    ("abc", "relu", {}, TypeError, r"X must be an array"),
    (_X + 1j, "relu", {}, TypeError, r"complex array"),
    (_with(_X, 2, 0, 1e300), "relu", {}, ValueError, r"row 2 of X is too large"),
    ([["a", "b"]], "relu", {}, TypeError, r"real array"),
    (_X, "relu", {"sigma_w2": -0.1}, ValueError, r"sigma_w2 must be >= 0.0, got -0.1"),
    (_X, "relu", {"sigma_w2": float("nan")}, ValueError, r"sigma_w2 must be finite"),
    (_X, "relu", {"sigma_w2": "0.1"}, ValueError, r"sigma_w2 must be a real number"),
    (_X, "relu", {"sigma_w2": 1.2}, ValueError,
     r"beyond the contraction limit.*measured contraction factor 1\.2"),
    (_X, "identity", {"sigma_w2": 0.6}, ValueError,
     r"beyond the contraction limit.*measured contraction factor 1\.2"),
    (_X, "sin", {"sigma_w2": 2.5}, ValueError, r"beyond the contraction limit.*factor 2\.5"),
    (_X, "exp", {"sigma_w2": 0.3}, ValueError, r"beyond the contraction limit"),
    (_X, "tanh", {"tol": 0.0}, ValueError, r"tol must be > 0.0"),
    (_X, "tanh", {"max_iter": 0}, ValueError, r"max_iter must be in \[1, inf\], got 0"),
    (_X, "tanh", {"max_iter": 2.5}, ValueError, r"max_iter must be an integer"),
    (_X, "tanh", {"method": "fast"}, ValueError, r"method must be one of"),
    (_X, "tanh", {"degree": 0}, ValueError, r"degree must be in \[1, 1200\]"),
    (_X, "tanh", {"rows": [0, 5]}, ValueError, r"rows contains index 5 outside \[0, 5\)"),
    (_X, "tanh", {"cols": [-1]}, ValueError, r"cols contains index -1"),
    (_X, "tanh", {"rows": []}, ValueError, r"rows must be a non-empty"),
    (_X, "tanh", {"rows": [[0, 1]]}, ValueError, r"rows must be a non-empty 1-d"),
    (_X, "tanh", {"cols": [0.5]}, ValueError, r"cols must be a 1-d sequence"),
    (_X * np.arange(1, 6)[:, None], "tanh", {"method": "equal"}, ValueError,
     r"method='equal' needs rows of equal norm"),
    (_X, "not_an_activation(x)", {}, ValueError, r"unknown function"),
    (_X, "tanh", {"max_iter": 1}, EquilibriumNotConverged, r"did not converge.*residual"),
]


@pytest.mark.parametrize("X,act,kwargs,exc,match", BAD)
def test_bad_input(X, act, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        population_gram(X, act, **kwargs)


def test_parallel_rows_allowed_on_request():
    """x_3 = 2.5 x_1: the relu DEQ is positively homogeneous, so K is singular."""
    X = _X.copy()
    X[3] = 2.5 * X[1]
    with pytest.raises(ValueError, match="rows 1 and 3 of X are parallel"):
        population_gram(X, "relu", 0.08)
    res = population_gram(X, "relu", 0.08, allow_parallel=True)
    assert res.converged
    assert res.K[1, 3] == pytest.approx(2.5 * res.K[1, 1], rel=1e-14)
    assert res.certificate == 0.0
    assert abs(res.lambda_min) <= res.lambda_min_error + 1e-14


def test_lazy_errors_and_describe_type():
    with pytest.raises(TypeError, match="EquilibriumKernel"):
        describe_gram({"K": 1})
    r = population_gram(_X, "Heaviside(x) + x/2", 0.08)
    with pytest.raises(ValueError, match="needs sigma' as a function"):
        r.Kdot
    r = population_gram(_X, "step", 0.08)
    with pytest.raises(ValueError, match="needs sigma' as a function"):
        r.Theta


# ---------------------------------------------------------------------------
# describe_gram
# ---------------------------------------------------------------------------

def test_describe_gram_is_json_and_consistent():
    X = sphere(20, 5, seed=6)
    res = population_gram(X, "gelu", 0.08)
    d = describe_gram(res)
    json.dumps(d)
    assert d["n"] == 20 and d["converged"] is True
    assert d["lambda_min"] == pytest.approx(np.linalg.eigvalsh(res.K)[0], abs=1e-14)
    assert d["certificate"] <= d["lambda_min"]
    assert d["error_bound"] == res.error_bound and d["iterations"] == res.iterations
    assert {"total", "entries", "lambda_min"} <= set(d["timing"])
    blk = describe_gram(population_gram(X, "gelu", 0.08, rows=[0, 1], cols=[2]))
    assert blk["lambda_min"] is None and blk["shape"] == [2, 1]
