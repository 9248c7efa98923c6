"""Numba kernels of the equilibrium layer: pure loops over float64 arrays.

Nothing here sees an activation, validates input or raises: the public wrappers in
:mod:`hermite_dual.equilibrium` reduce an activation to a closed-form kernel id
(``KIND_*``) or to Hermite coefficient tables, check every input, allocate the
outputs and call these loops.  Every jitted function is compiled with ``cache=True``;
``.py_func`` gives the interpreted version (tests compare the two).

Conventions (MATH §3 and §5):

* ``K(q1, q2, c) = E[sigma(u) sigma(v)]`` over ``N(0, [[q1, c], [c, q2]])``; every
  evaluator returns ``(value, dvalue/dc, error)`` where ``dvalue/dc = K_{sigma'}``
  (Price's theorem) and ``error`` bounds the evaluation error (certified Parseval tail
  plus coefficient error for series; an estimate of rounding for closed forms).
* Series tables: ``A[i, k] = a_k(q_i)`` (orthonormal Hermite coefficients),
  ``T[i, k] = T_k(q_i)`` the tail energy after degree k (suffix sums, so they are
  accurate even when tiny), ``E[i, k]`` the error (estimate) of ``A[i, k]``.
* The entry fixed point is ``k = K(q1, q2, 2 w k + g)`` with ``w = sigma_w^2`` and
  ``g = (2/d) x_i^T x_j``.

>>> from hermite_dual import _kernels as kr
>>> nf = kr.NO_CLOSED_FORM       # the compiled closed form only KIND_COMPILED uses
>>> v, dv, err = kr.closed_kernel(kr.KIND_RELU, nf, nf, 2.0, 2.0, 0.0)
>>> round(v * np.pi, 12), dv   # relu: sqrt(q1 q2)/(2 pi) at rho = 0; K_step(0) = 1/4
(1.0, 0.25)
"""

import math
import types

import numba
import numpy as np
from numba import prange

from .mehler import mehler_rows, mehler_rows_value

__all__ = [
    "KIND_SERIES", "KIND_COMPILED", "CLOSED_FORM_SIG", "NO_CLOSED_FORM", "KIND_IDENTITY",
    "KIND_RELU", "KIND_STEP", "KIND_ERF", "KIND_SIN",
    "KIND_COS", "KIND_GAUSSIAN", "KIND_EXP", "KIND_NAMES",
    "closed_kernel", "series_kernel", "series_value", "kernel_value", "kernel_eval",
    "solve_entry", "diag_nu",
    "build_table", "gram_table", "gram_general", "gram_table_serial",
    "gram_general_serial", "twin",
]

KIND_SERIES = 0
KIND_COMPILED = 9     # a derived closed form, compiled: fv, fd = K and dK/dc
KIND_IDENTITY = 1
KIND_RELU = 2
KIND_STEP = 3
KIND_ERF = 4
KIND_SIN = 5
KIND_COS = 6
KIND_GAUSSIAN = 7
KIND_EXP = 8

#: closed-form kernel id -> activation name (the ids the numba kernels understand)
KIND_NAMES = {
    KIND_IDENTITY: "identity", KIND_RELU: "relu", KIND_STEP: "step", KIND_ERF: "erf",
    KIND_SIN: "sin", KIND_COS: "cos", KIND_GAUSSIAN: "gaussian", KIND_EXP: "exp",
}

_EPS = 2.220446049250313e-16
_PI = math.pi
_TINY = 1e-300
_SPLIT = 134217729.0  # 2^27 + 1

_jit = numba.njit(cache=True, nogil=True)


@_jit
def table_pos(u, nint, h):
    """``(m, t)``: the interval of a table on ``[-1, 1]`` (``nint`` intervals of width
    ``h``) holding ``u`` clipped to ``[-1, 1]``, and the position ``t`` in it."""
    if u > 1.0:
        u = 1.0
    elif u < -1.0:
        u = -1.0
    x = (u + 1.0) / h
    m = int(x)
    if m >= nint:
        m = nint - 1
    return m, x - m


_pjit = numba.njit(cache=True, nogil=True, parallel=True)


@_jit
def _two_prod_diff(a, b, cc):
    """``a b - cc^2`` with Dekker's error-free products (exact to rounding near 0), >= 0."""
    p = a * b
    sa = _SPLIT * a
    ah = sa - (sa - a)
    al = a - ah
    sb = _SPLIT * b
    bh = sb - (sb - b)
    bl = b - bh
    ep = ((ah * bh - p) + ah * bl + al * bh) + al * bl
    q = cc * cc
    sc = _SPLIT * cc
    ch = sc - (sc - cc)
    cl = cc - ch
    eq = ((ch * ch - q) + 2.0 * ch * cl) + cl * cl
    d = (p - q) + (ep - eq)
    return d if d > 0.0 else 0.0


#: signature of the compiled closed forms handed to the kernels (KIND_COMPILED)
CLOSED_FORM_SIG = "float64(float64, float64, float64, float64)"


def _no_closed_form(q1, q2, c, d):  # pragma: no cover - compiled
    return 0.0


#: the fv/fd every id but KIND_COMPILED receives (never called)
NO_CLOSED_FORM = numba.cfunc(CLOSED_FORM_SIG, cache=True)(_no_closed_form)


@_jit
def closed_kernel(kind, fv, fd, q1, q2, c):
    """Closed-form ``(K_sigma, K_{sigma'}, rounding estimate)`` at (q1, q2, c), by id.

    ``KIND_COMPILED``: ``fv(q1, q2, c, D)`` and ``fd(q1, q2, c, D)`` are a derived closed
    form and its derivative in c (numba ``cfunc``s from the dual layer), with
    ``D = q1 q2 - c^2`` from an error-free two-product; the estimate is the dual layer's,
    ``64 eps max(sqrt(|K(q1,q1,q1) K(q2,q2,q2)|), |K|)``.  Other ids ignore fv, fd.
    """
    if kind == KIND_COMPILED:
        d = _two_prod_diff(q1, q2, c)
        v = fv(q1, q2, c, d)
        dv = fd(q1, q2, c, d)
        scale = math.sqrt(abs(fv(q1, q1, q1, 0.0) * fv(q2, q2, q2, 0.0)))
        return v, dv, 64.0 * _EPS * max(scale, abs(v))
    if kind == KIND_IDENTITY:
        v, dv = c, 1.0
    elif kind == KIND_RELU or kind == KIND_STEP:
        r = math.sqrt(q1 * q2)
        rho = c / r
        if rho > 1.0:
            rho = 1.0
        elif rho < -1.0:
            rho = -1.0
        st = math.sqrt((1.0 - rho) * (1.0 + rho))
        th = math.acos(rho)
        if kind == KIND_RELU:
            v = r / (2.0 * _PI) * (st + (_PI - th) * rho)
            dv = (_PI - th) / (2.0 * _PI)
        else:
            v = 0.5 - th / (2.0 * _PI)
            dv = 1.0 / (2.0 * _PI * r * st) if st > 0.0 else math.inf
    elif kind == KIND_ERF:
        dd = (1.0 + 2.0 * q1) * (1.0 + 2.0 * q2)
        z = 2.0 * c / math.sqrt(dd)
        if z > 1.0:
            z = 1.0
        elif z < -1.0:
            z = -1.0
        v = 2.0 / _PI * math.asin(z)
        den = dd - 4.0 * c * c
        dv = 4.0 / _PI / math.sqrt(den) if den > 0.0 else math.inf
    elif kind == KIND_SIN or kind == KIND_COS:
        e = math.exp(-0.5 * (q1 + q2))
        sh = e * math.sinh(c)
        ch = e * math.cosh(c)
        if kind == KIND_SIN:
            v, dv = sh, ch
        else:
            v, dv = ch, sh
    elif kind == KIND_GAUSSIAN:
        den = (1.0 + q1) * (1.0 + q2) - c * c
        v = 1.0 / math.sqrt(den)
        dv = c * v / den
    else:  # KIND_EXP
        v = math.exp(0.5 * (q1 + q2) + c)
        dv = v
    err = 6.0 * _EPS * (abs(v) + abs(c * dv if math.isfinite(dv) else 0.0))
    return v, dv, err


@_jit
def series_kernel(A, T, E, i, j, q1, q2, c):
    """Mehler series ``sum_k A[i,k] A[j,k] rho^k`` with rho = c / sqrt(q1 q2).

    Returns ``(value, dvalue/dc, error)`` from :func:`~hermite_dual._kernels.mehler.
    mehler_rows` (the one evaluator, shared with :class:`~hermite_dual.DualKernel`): the
    Parseval tail at the degree where the summation stopped, the propagated coefficient
    errors and a rounding term.
    """
    r = math.sqrt(q1 * q2)
    rho = c / r
    if rho > 1.0:
        rho = 1.0
    elif rho < -1.0:
        rho = -1.0
    v, dv, err, k = mehler_rows(A, T, E, i, j, rho, A.shape[1] - 1)
    return v, dv / r, err


@_jit
def series_value(A, T, i, j, q1, q2, c):
    """``(value, dvalue/dc)`` of the Mehler series without the error terms (for Newton).

    :func:`~hermite_dual._kernels.mehler.mehler_rows_value`: the same truncation rule as
    :func:`series_kernel`.
    """
    r = math.sqrt(q1 * q2)
    rho = c / r
    if rho > 1.0:
        rho = 1.0
    elif rho < -1.0:
        rho = -1.0
    v, dv = mehler_rows_value(A, T, i, j, rho, A.shape[1] - 1)
    return v, dv / r


@_jit
def kernel_value(kind, fv, fd, A, T, i, j, q1, q2, c):
    """``(value, dvalue/dc)`` without error terms: series or closed form.

    (The Newton steps' path: a compiled closed form is evaluated without the two extra
    diagonal evaluations its error estimate needs.)"""
    if kind == KIND_SERIES:
        return series_value(A, T, i, j, q1, q2, c)
    if kind == KIND_COMPILED:
        d = _two_prod_diff(q1, q2, c)
        return fv(q1, q2, c, d), fd(q1, q2, c, d)
    v, dv, err = closed_kernel(kind, fv, fd, q1, q2, c)
    return v, dv


@_jit
def kernel_eval(kind, fv, fd, A, T, E, i, j, q1, q2, c):
    """Dispatch: series kernel for ``KIND_SERIES``, closed form otherwise."""
    if kind == KIND_SERIES:
        return series_kernel(A, T, E, i, j, q1, q2, c)
    return closed_kernel(kind, fv, fd, q1, q2, c)


@_jit
def solve_entry(kind, fv, fd, A, T, E, i, j, q1, q2, g, w2, k0, maxit, kscale):
    """Solve ``k = K(q1, q2, 2 w2 k + g)`` by safeguarded Newton from ``k0``.

    Stops when a Newton step is below ``2 eps (|k| + kscale)`` (``kscale``: the size of
    the kernel, e.g. ``sqrt(K_ii K_jj)``, so entries near zero stop too) or after
    ``maxit`` steps.

    Returns ``(k, residual, eval_error, iterations, dK/dc at k)``; the residual is
    ``|k - K(q1, q2, 2 w2 k + g)|`` evaluated at the returned k.  The caller turns
    ``(residual + eval_error) / (1 - contraction)`` into an error bound.
    """
    r = math.sqrt(q1 * q2)
    k = k0
    its = 0
    for it in range(maxit):
        c = 2.0 * w2 * k + g
        if c > r:
            c = r
        elif c < -r:
            c = -r
        v, dv = kernel_value(kind, fv, fd, A, T, i, j, q1, q2, c)
        its += 1
        f = k - v
        fp = 1.0 - 2.0 * w2 * dv
        if not (fp > 1e-3 and fp < 1e3):
            fp = 1.0  # plain fixed-point step where the derivative is useless
        step = f / fp
        k = k - step
        if not math.isfinite(k):
            break
        if abs(step) <= 2.0 * _EPS * (abs(k) + kscale):
            break
    c = 2.0 * w2 * k + g
    if c > r:
        c = r
    elif c < -r:
        c = -r
    v, dv, err = kernel_eval(kind, fv, fd, A, T, E, i, j, q1, q2, c)
    return k, abs(k - v), err, its, dv


@_jit
def diag_nu(kind, fv, fd, A, T, E, q):
    """``(nu(q_i), err_i)`` for every variance in ``q`` (closed forms only)."""
    n = q.shape[0]
    out = np.empty(n)
    err = np.empty(n)
    for i in range(n):
        v, dv, e = kernel_eval(kind, fv, fd, A, T, E, i, i, q[i], q[i], q[i])
        out[i] = v
        err[i] = e
    return out, err


@_pjit
def build_table(kind, fv, fd, A, T, E, s, g0, w2, kscale, nint, maxit, F, dF, node_res, node_err,
                node_dv, mid_err, its_out):
    """Tabulate ``F(u) = K_ij`` as a function of ``u = g_ij / g0`` in [-1, 1].

    Equal-norm path (MATH section 5): with every ``g_ii = g0`` and diagonal variance
    ``s``, the entry fixed point depends on ``g_ij`` only.  Nodes ``u_m = -1 + 2m/nint``
    get ``F`` and ``dF/du = g0 K_c / (1 - 2 w2 K_c)``; ``node_err[m]`` is
    ``residual + eval_error`` at the node (divide by 1 - contraction for a bound),
    ``node_res[m]`` the residual alone and ``node_dv[m]`` the local ``K_c``.
    ``kscale`` is the diagonal value kappa (Newton's absolute stopping scale).
    ``mid_err[m]`` is the cubic-Hermite interpolation error measured at the midpoint
    of interval m against a direct solve there, plus that solve's residual (``inf``
    when not finite); the evaluation error is in ``node_err``.
    """
    h = 2.0 / nint
    for m in prange(nint + 1):
        u = -1.0 + m * h
        g = g0 * u
        k0 = closed_start(kind, fv, fd, A, T, E, s, g)
        k, res, err, its, dv = solve_entry(kind, fv, fd, A, T, E, 0, 0, s, s, g, w2, k0, maxit,
                                           kscale)
        F[m] = k
        den = 1.0 - 2.0 * w2 * dv
        dF[m] = g0 * dv / den if den > 0.0 else math.inf
        node_res[m] = res
        node_err[m] = res + err
        node_dv[m] = dv
        its_out[m] = its
    for m in prange(nint):
        u = -1.0 + (m + 0.5) * h
        g = g0 * u
        k0 = 0.5 * (F[m] + F[m + 1])
        k, res, err, its, dv = solve_entry(kind, fv, fd, A, T, E, 0, 0, s, s, g, w2, k0, maxit,
                                           kscale)
        interp = 0.5 * (F[m] + F[m + 1]) + 0.125 * h * (dF[m] - dF[m + 1])
        e = abs(interp - k) + res
        mid_err[m] = e if math.isfinite(e) and math.isfinite(err) else math.inf
        if its > its_out[m]:
            its_out[m] = its


@_jit
def closed_start(kind, fv, fd, A, T, E, s, g):
    """Starting value for an entry solve: one step of the recursion from K = 0."""
    r = s
    c = g
    if c > r:
        c = r
    elif c < -r:
        c = -r
    v, dv = kernel_value(kind, fv, fd, A, T, 0, 0, s, s, c)
    return v


@_jit
def _track(res, err, its, dv, emax, rmax, dmax, imax):
    """Row maxima of one solved entry: error (res + err), residual, |dK/dc|, iterations.

    NaN-propagating (``not (x <= max)``), so a failed entry shows in its row."""
    e = res + err
    if not (e <= emax):
        emax = e
    if not (res <= rmax):
        rmax = res
    if not (abs(dv) <= dmax):
        dmax = abs(dv)
    if its > imax:
        imax = its
    return emax, rmax, dmax, imax


@_jit
def _table_row(a, G, rows, cols, g0, kappa, s, w2, F, dF, good, kind, fv, fd, A, T, E, maxit,
               K, flag_tol, flags):
    """Row a of :func:`gram_table`; returns ``(lo, hi, res, err, its, dv)`` of the row."""
    nint = F.shape[0] - 1
    h = 2.0 / nint
    nc = cols.shape[0]
    i = rows[a]
    lo = nint
    hi = -1
    rmax = 0.0
    emax = 0.0
    dmax = 0.0
    imax = 0
    for b in range(nc):
        j = cols[b]
        g = G[a, b]
        flags[a, b] = 0
        if i == j:
            k = kappa
            G[a, b] = s
            K[a, b] = k
            continue
        m, t = table_pos(g / g0, nint, h)
        if good[m]:
            t2 = t * t
            t3 = t2 * t
            k = ((2.0 * t3 - 3.0 * t2 + 1.0) * F[m] + (t3 - 2.0 * t2 + t) * h * dF[m]
                 + (3.0 * t2 - 2.0 * t3) * F[m + 1] + (t3 - t2) * h * dF[m + 1])
            if m < lo:
                lo = m
            if m > hi:
                hi = m
        else:
            k0 = F[m] + (F[m + 1] - F[m]) * t
            if not math.isfinite(k0):
                k0 = 0.0
            k, res, err, its, dv = solve_entry(kind, fv, fd, A, T, E, 0, 0, s, s, g, w2, k0,
                                               maxit, kappa)
            emax, rmax, dmax, imax = _track(res, err, its, dv, emax, rmax, dmax, imax)
            if not (res + err <= flag_tol):
                flags[a, b] = 1
        K[a, b] = k
        G[a, b] = 2.0 * w2 * k + g
    return lo, hi, rmax, emax, imax, dmax


def _gram_table(G, rows, cols, g0, kappa, s, w2, F, dF, good, kind, fv, fd, A, T, E, maxit,
                K, row_lo, row_hi, row_res, row_err, row_its, row_dv, flag_tol, flags):
    """Equal-norm Gram block from the table; Sigma overwrites G in place.

    ``G[a, b] = (2/d) x_rows[a]^T x_cols[b]`` on entry and ``Sigma`` on exit.  Entries
    in intervals marked bad are solved directly (``row_res``, ``row_err``, ``row_its``,
    ``row_dv`` record residual, residual + evaluation error, Newton iterations and
    ``|K_c|`` of those); ``flags[a, b] = 1`` where residual + evaluation error exceeds
    ``flag_tol`` (the entries the dual kernel re-solves).
    ``row_lo``/``row_hi`` receive the lowest/highest table interval used per row.
    Every entry depends on its own ``g`` alone, so any block gives the same bits.
    """
    for a in prange(rows.shape[0]):
        lo, hi, r, e, it, dv = _table_row(a, G, rows, cols, g0, kappa, s, w2, F, dF, good,
                                          kind, fv, fd, A, T, E, maxit, K, flag_tol, flags)
        row_lo[a] = lo
        row_hi[a] = hi
        row_res[a] = r
        row_err[a] = e
        row_its[a] = it
        row_dv[a] = dv


@_jit
def _general_row(a, G, rows, cols, kappa, s, pidx, w2, kind, fv, fd, A, T, E, maxit, K,
                 flag_tol, flags):
    """Row a of :func:`gram_general`; returns ``(res, err, its, dv)`` of the row."""
    nc = cols.shape[0]
    i0 = rows[a]
    rmax = 0.0
    emax = 0.0
    dmax = 0.0
    imax = 0
    for b in range(nc):
        j0 = cols[b]
        g = G[a, b]
        flags[a, b] = 0
        if i0 == j0:
            K[a, b] = kappa[i0]
            G[a, b] = s[i0]
            continue
        # canonical orientation (lower index first): K_ij and K_ji are the same bits
        i = i0 if i0 < j0 else j0
        j = j0 if i0 < j0 else i0
        c0 = g
        r = math.sqrt(s[i] * s[j])
        if c0 > r:
            c0 = r
        elif c0 < -r:
            c0 = -r
        pi = pidx[i]
        pj = pidx[j]
        k0, dv0 = kernel_value(kind, fv, fd, A, T, pi, pj, s[i], s[j], c0)
        k, res, err, its, dv = solve_entry(kind, fv, fd, A, T, E, pi, pj, s[i], s[j], g, w2,
                                           k0, maxit, math.sqrt(abs(kappa[i] * kappa[j])))
        emax, rmax, dmax, imax = _track(res, err, its, dv, emax, rmax, dmax, imax)
        if not (res + err <= flag_tol):
            flags[a, b] = 1
        K[a, b] = k
        G[a, b] = 2.0 * w2 * k + g
    return rmax, emax, imax, dmax


def _gram_general(G, rows, cols, kappa, s, pidx, w2, kind, fv, fd, A, T, E, maxit, K, row_res,
                  row_err, row_its, row_dv, flag_tol, flags):
    """General-norm Gram block by entrywise Newton; Sigma overwrites G in place.

    ``kappa[i]``, ``s[i]`` are the diagonal fixed point and variance of point i and
    ``pidx[i]`` its row in the series tables; ``row_res[a]``, ``row_err[a]``, ``row_its[a]``,
    ``row_dv[a]`` receive the largest residual, ``residual + eval_error``, Newton
    iteration count and ``|K_c|`` (local contraction / 2 w2) of row a; ``flags[a, b] = 1``
    where residual + evaluation error exceeds ``flag_tol``.  Each entry is solved in the
    canonical orientation (lower point index first), so it is the same bits in any block.
    """
    for a in prange(rows.shape[0]):
        r, e, it, dv = _general_row(a, G, rows, cols, kappa, s, pidx, w2, kind, fv, fd, A, T,
                                    E, maxit, K, flag_tol, flags)
        row_res[a] = r
        row_err[a] = e
        row_its[a] = it
        row_dv[a] = dv


def twin(fn, suffix="_serial"):
    """A copy of the Python function ``fn`` under another name, to jit it a second time.

    numba's on-disk cache is keyed by the function's qualified name and line, not by its
    compile flags, so a parallel and a serial compilation of one function would overwrite
    each other's cache entries; the copy gets a cache file of its own.
    """
    f = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__ + suffix,
                           fn.__defaults__, fn.__closure__)
    f.__qualname__ = fn.__qualname__ + suffix
    f.__doc__ = fn.__doc__
    return f


gram_table = _pjit(_gram_table)
gram_general = _pjit(_gram_general)
#: single-threaded twins for work split across threads by a scheduler (Dask): nested
#: numba parallelism would oversubscribe the cores.  Same row functions, same bits.
gram_table_serial = _jit(twin(_gram_table))
gram_general_serial = _jit(twin(_gram_general))
