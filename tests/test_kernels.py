"""Tests of the numba layer: closed forms, Mehler series, entry solver, compiled vs interpreted.

References are independent of the code under test: closed forms against a 2-D
Gauss-Hermite quadrature in extended precision (numpy longdouble) and against the
Mehler series of :func:`hermite_dual.hermite.hermite_table`; derivatives against
finite differences; every jitted kernel against its ``.py_func``.
"""

import math

import numpy as np
import pytest

import hermite_dual as hd
from hermite_dual._kernels import gram as kr
from hermite_dual._kernels import pairs as kp
from hermite_dual._kernels import tangent as kt

NF = kr.NO_CLOSED_FORM     # the closed-form callables of KIND_COMPILED, unused here
from hermite_dual.equilibrium.base import _series_tables

CLOSED = [kr.KIND_IDENTITY, kr.KIND_RELU, kr.KIND_STEP, kr.KIND_ERF, kr.KIND_SIN,
          kr.KIND_COS, kr.KIND_GAUSSIAN, kr.KIND_EXP]

# (q1, q2, rho) spread over variances and correlations, rho = +-1 and 0 included
POINTS = [(1.0, 1.0, 0.0), (2.0, 0.5, 0.3), (0.3, 3.0, -0.7), (2.17, 2.17, 0.05),
          (1.5, 1.5, 0.999), (0.8, 1.9, -1.0), (2.5, 2.5, 1.0)]


def _gh_reference(name, q1, q2, rho, deg=160):
    """E[sigma(u) sigma(v)] by tensor Gauss-Hermite in longdouble on a smooth integrand.

    For relu and step the kinks defeat Gauss-Hermite; those use the orthant formulas
    written independently here (Sheppard's formula and the arc-cosine integral).
    """
    if name == "relu":
        th = math.acos(max(-1.0, min(1.0, rho)))
        return math.sqrt(q1 * q2) / (2 * math.pi) * (math.sin(th) + (math.pi - th) * math.cos(th))
    if name == "step":
        return 0.5 - math.acos(max(-1.0, min(1.0, rho))) / (2 * math.pi)
    z, w = np.polynomial.hermite_e.hermegauss(deg)
    z = z.astype(np.longdouble)
    w = (w / w.sum()).astype(np.longdouble)
    ld = np.longdouble
    f = {"identity": lambda t: t, "erf": None, "sin": np.sin, "cos": np.cos,
         "gaussian": lambda t: np.exp(-t * t / 2), "exp": np.exp}[name]
    if name == "erf":   # float64 erf is correctly rounded to ~1 ulp; the sum runs in longdouble
        f = np.vectorize(lambda t: ld(math.erf(float(t))), otypes=[ld])
    u = np.sqrt(ld(q1)) * z[:, None]
    v = np.sqrt(ld(q2)) * (ld(rho) * z[:, None] + np.sqrt(ld(1) - ld(rho) ** 2) * z[None, :])
    fu = f(u) if name != "erf" else f(u[:, 0])[:, None]
    vals = fu * f(v)
    return float(np.sum(w[:, None] * w[None, :] * vals))


@pytest.mark.parametrize("kind", CLOSED, ids=[kr.KIND_NAMES[k] for k in CLOSED])
@pytest.mark.parametrize("q1,q2,rho", POINTS)
def test_closed_kernel_against_quadrature(kind, q1, q2, rho):
    name = kr.KIND_NAMES[kind]
    if name == "erf" and abs(rho) > 0.99:
        pytest.skip("Gauss-Hermite in longdouble is slow to converge for erf at |rho| ~ 1")
    c = rho * math.sqrt(q1 * q2)
    v, dv, err = kr.closed_kernel(kind, NF, NF, q1, q2, c)
    ref = _gh_reference(name, q1, q2, rho)
    scale = max(1.0, abs(ref))
    assert abs(v - ref) <= 1e-14 * scale
    assert abs(v - ref) <= err + 4e-16 * scale


@pytest.mark.parametrize("kind", CLOSED, ids=[kr.KIND_NAMES[k] for k in CLOSED])
@pytest.mark.parametrize("q1,q2,rho", [(1.0, 1.0, 0.0), (2.0, 0.5, 0.3), (0.3, 3.0, -0.7)])
def test_closed_kernel_derivative_is_price(kind, q1, q2, rho):
    """dK/dc returned by the kernel equals a central difference (Price's theorem)."""
    c = rho * math.sqrt(q1 * q2)
    h = 1e-5
    vp = kr.closed_kernel(kind, NF, NF, q1, q2, c + h)[0]
    vm = kr.closed_kernel(kind, NF, NF, q1, q2, c - h)[0]
    dv = kr.closed_kernel(kind, NF, NF, q1, q2, c)[1]
    assert dv == pytest.approx((vp - vm) / (2 * h), rel=1e-8, abs=1e-9)


@pytest.mark.parametrize("name,kind", [("relu", kr.KIND_RELU), ("sin", kr.KIND_SIN),
                                       ("erf", kr.KIND_ERF), ("gaussian", kr.KIND_GAUSSIAN)])
def test_series_kernel_agrees_with_closed_form(name, kind):
    """Mehler series from hermite_table vs closed form; the reported error bounds both."""
    qs = np.array([0.7, 2.2])
    A, T, E, _ = _series_tables(hd.activation(name), 200, qs)
    for rho in (-0.9, -0.3, 0.0, 0.2, 0.6, 0.95):
        c = rho * math.sqrt(qs[0] * qs[1])
        v, dv, err = kr.series_kernel(A, T, E, 0, 1, qs[0], qs[1], c)
        ref = kr.closed_kernel(kind, NF, NF, qs[0], qs[1], c)[0]
        assert abs(v - ref) <= err + 1e-15
        if abs(rho) <= 0.6:
            assert abs(v - ref) <= 1e-14


def test_series_tail_bound_is_used_at_rho_one():
    """At rho = 1 the series error bound contains the whole Parseval tail (relu: slow decay)."""
    q = np.array([1.3])
    A, T, E, nu = _series_tables(hd.activation("relu"), 40, q)
    v, dv, err = kr.series_kernel(A, T, E, 0, 0, 1.3, 1.3, 1.3)
    assert err >= T[0, -1] > 1e-6
    assert abs(v - nu[0]) <= err


@pytest.mark.parametrize("kind", [kr.KIND_RELU, kr.KIND_SIN, kr.KIND_ERF, kr.KIND_IDENTITY])
def test_solve_entry_solves_the_fixed_point(kind):
    q = 2.3
    w2 = 0.08
    for g in (-1.5, -0.2, 0.0, 0.4, 1.9):
        k, res, err, its, dv = kr.solve_entry(kind, NF, NF, kr_dummy, kr_dummy, kr_dummy, 0, 0, q, q, g,
                                              w2, 0.0, 100, 1.0)
        v = kr.closed_kernel(kind, NF, NF, q, q, 2 * w2 * k + g)[0]
        assert abs(k - v) <= 4e-16 * max(1.0, abs(k))
        assert res == abs(k - v)
        assert its <= 8


kr_dummy = np.zeros((1, 1))


def sum_in_order(x, y):
    """x . y summed left to right in Python floats (no FMA, no reordering)."""
    acc = 0.0
    for a, b in zip(x.tolist(), y.tolist()):
        acc += a * b
    return acc


def test_compiled_matches_interpreted():
    """Every jitted kernel against its .py_func on the same inputs."""
    rng = np.random.default_rng(3)
    n, d, w2 = 6, 4, 0.08
    X = rng.standard_normal((n, d))
    X *= math.sqrt(d) / np.linalg.norm(X, axis=1, keepdims=True)
    G = 2.0 / d * X @ X.T
    rows = np.arange(n, dtype=np.int64)
    for kind in (kr.KIND_RELU, kr.KIND_ERF):
        for c in (-1.0, 0.3, 2.0):
            assert (kr.closed_kernel(kind, NF, NF, 2.0, 2.5, c)
                    == kr.closed_kernel.py_func(kind, NF, NF, 2.0, 2.5, c))
        out = []
        for fn in (kr.gram_general, kr.gram_general.py_func, kr.gram_general_serial):
            Gc = G.copy()
            K = np.empty_like(G)
            rr, re, ri, rd = np.zeros(n), np.zeros(n), np.zeros(n, np.int64), np.zeros(n)
            flags = np.zeros((n, n), dtype=np.uint8)
            kappa = np.full(n, 1.1)
            s = 2 * w2 * kappa + 2.0
            fn(Gc, rows, rows, kappa, s, np.zeros(n, np.int64), w2, kind, NF, NF, kr_dummy,
               kr_dummy,
               kr_dummy, 50, K, rr, re, ri, rd, 1e-300, flags)
            out.append((K, Gc, rr, ri, flags))
        np.testing.assert_allclose(out[0][0], out[1][0], rtol=0, atol=4e-16)
        np.testing.assert_allclose(out[0][1], out[1][1], rtol=0, atol=4e-16)
        assert np.array_equal(out[0][3], out[1][3])
        # the serial twin (Dask's threads) gives the parallel kernel's bits, and the
        # canonical orientation makes K symmetric to the bit
        for x, y in zip(out[0], out[2]):
            assert np.array_equal(x, y)
        assert np.array_equal(out[0][0], out[0][0].T)
        # a tolerance below every entry's error flags exactly the off-diagonal entries
        assert np.array_equal(out[0][4], 1 - np.eye(n, dtype=np.uint8))
    A, T, E, _ = _series_tables(hd.activation("tanh"), 60, np.array([2.1]))
    for c in (-1.9, 0.2, 2.1):
        a = kr.series_kernel(A, T, E, 0, 0, 2.1, 2.1, c)
        b = kr.series_kernel.py_func(A, T, E, 0, 0, 2.1, 2.1, c)
        np.testing.assert_allclose(a, b, rtol=1e-15, atol=1e-17)
        fast = kr.series_value(A, T, 0, 0, 2.1, 2.1, c)
        assert abs(fast[0] - a[0]) <= a[2]                 # same sum, error bounded
        np.testing.assert_allclose(fast, kr.series_value.py_func(A, T, 0, 0, 2.1, 2.1, c),
                                   rtol=1e-15, atol=1e-17)
    # the data Gram: each entry the sequential sum in coordinate order, in any block
    XT = np.ascontiguousarray(X.T)
    for fn in (kp.data_gram, kp.data_gram.py_func, kp.data_gram_serial):
        D = np.empty((n, n))
        fn(X, rows, XT, 2.0 / d, D)
        seq = np.array([[sum_in_order(X[i], X[j]) * (2.0 / d)
                         for j in range(n)] for i in range(n)])
        assert np.array_equal(D, seq)
    S = 2 * w2 * np.full((n, n), 0.3) + G
    Kc = np.full((n, n), 0.3)
    s_pts = np.diag(S).copy()
    outs = []
    for fn in (kt.kdot_theta, kt.kdot_theta.py_func, kt.kdot_theta_serial):
        Kd, Th, rr = np.empty((n, n)), np.empty((n, n)), np.empty(n)
        fn(S, Kc, rows, rows, s_pts, np.full(n, 0.4), np.zeros(n, np.int64), w2,
           kr.KIND_SERIES, NF, NF, A, T, Kd, Th, rr)
        outs.append((Kd, Th, rr))
    for x, y, z in zip(*outs):
        np.testing.assert_allclose(x, y, rtol=1e-15, atol=1e-17)
        assert np.array_equal(x, z)
    assert kp.find_parallel(G, rows, rows, np.diag(G).copy(), 1 - 1e-12) == (-1, -1)
    assert kp.find_parallel.py_func(G, rows, rows, np.diag(G).copy(), 1 - 1e-12) == (-1, -1)
    G2 = G.copy()
    G2[1, 4] = G2[4, 1] = G[1, 1]
    assert kp.find_parallel(G2, rows, rows, np.diag(G).copy(), 1 - 1e-12) == (1, 4)
    assert kp.max_offdiag_corr(G, rows, rows, np.diag(G).copy()) == pytest.approx(
        kp.max_offdiag_corr.py_func(G, rows, rows, np.diag(G).copy()), abs=1e-16)


def _relu_table(nint):
    s, w2 = 2.0 / (1 - 0.08), 0.08
    kappa = 1 / (1 - 0.08)
    arrs = [np.empty(nint + 1) for _ in range(5)]
    mid = np.empty(nint)
    its = np.zeros(nint + 1, dtype=np.int64)
    kr.build_table(kr.KIND_RELU, NF, NF, kr_dummy, kr_dummy, kr_dummy, s, 2.0, w2, kappa, nint, 100,
                   arrs[0], arrs[1], arrs[2], arrs[3], arrs[4], mid, its)
    return arrs[0], mid, s, w2, kappa


def test_build_table_matches_direct_solves():
    """Table nodes are fixed points; midpoint errors shrink like h^4 (cubic Hermite)."""
    nint = 256
    F, mid, s, w2, kappa = _relu_table(nint)
    u = -1 + 2 * np.arange(nint + 1) / nint
    direct = [kr.solve_entry(kr.KIND_RELU, NF, NF, kr_dummy, kr_dummy, kr_dummy, 0, 0, s, s, 2 * uu,
                             w2, 0.0, 100, kappa)[0] for uu in u]
    np.testing.assert_allclose(F, direct, rtol=0, atol=1e-15)
    F2, mid2, *_ = _relu_table(2 * nint)
    inner = slice(nint // 8, -nint // 8)
    inner2 = slice(nint // 4, -nint // 4)
    assert np.max(mid[inner]) < 1e-9
    ratio = np.max(mid[inner]) / np.max(mid2[inner2])
    assert 12 < ratio < 20
    # the relu singularity at u = 1 ((1 - rho)^(3/2)) makes the last interval the worst
    assert mid[-1] > 100 * np.max(mid[inner])


def test_kdot_table_matches_direct_evaluation():
    """Equal-norm Kdot table (4-point Lagrange on the F nodes) vs direct closed forms."""
    nint = 512
    F, mid, s, w2, kappa = _relu_table(nint)
    u = -1 + 2 * np.arange(nint + 1) / nint
    dF = np.array([2 * kr.closed_kernel(kr.KIND_RELU, NF, NF, s, s, 2 * w2 * f + 2 * uu)[1]
                   / (1 - 2 * w2 * kr.closed_kernel(kr.KIND_RELU, NF, NF, s, s, 2 * w2 * f + 2 * uu)[1])
                   for f, uu in zip(F, u)])
    H = np.empty(nint + 1)
    hmid = np.empty(nint)
    kt.build_kdot_table(kr.KIND_RELU, NF, NF, kr_dummy, kr_dummy, s, 2.0, w2, F, dF, H, hmid)
    for fn in (kt.build_kdot_table, kt.build_kdot_table.py_func):
        H2, m2 = np.empty(nint + 1), np.empty(nint)
        fn(kr.KIND_RELU, NF, NF, kr_dummy, kr_dummy, s, 2.0, w2, F, dF, H2, m2)
        np.testing.assert_allclose(H2, H, rtol=0, atol=1e-16)
    np.testing.assert_allclose(
        H, [kr.closed_kernel(kr.KIND_RELU, NF, NF, s, s, 2 * w2 * f + 2 * uu)[1] for f, uu in zip(F, u)],
        rtol=0, atol=1e-16)
    inner = slice(nint // 8, -nint // 8)
    assert np.max(hmid[inner]) < 1e-9
    rng = np.random.default_rng(0)
    for x in rng.uniform(-0.7, 0.7, 20):
        pos = (x + 1) * nint / 2
        m = int(pos)
        exact = kr.closed_kernel(kr.KIND_RELU, NF, NF, s, s, 2 * w2 * kr.solve_entry(
            kr.KIND_RELU, NF, NF, kr_dummy, kr_dummy, kr_dummy, 0, 0, s, s, 2 * x, w2, 0.0, 100,
            kappa)[0] + 2 * x)[1]
        assert abs(kt._lagrange4(H, m, pos - m) - exact) <= 4 * max(hmid[m - 1:m + 2].max(),
                                                                     1e-16)
