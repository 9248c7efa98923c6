""":func:`population_gram`: the fixed points of MATH §5, diagonal first, then every entry.
"""

from __future__ import annotations

import math
import time

import numpy as np

from .._kernels import gram as kr
from .._util import validate
from ..activations import activation
from .base import (
    _kernel_plan,
    _DUMMY,
    _EPS,
    _EQUAL_NORM_RTOL,
    _METHODS,
    _PARALLEL_COS,
    _TABLE_INTERVALS,
    EquilibriumNotConverged,
    _check_index,
    _check_int,
    _check_real,
    _Evaluator,
    _series_tables,
)
from .result import EquilibriumKernel

# ---------------------------------------------------------------------------
# the diagonal
# ---------------------------------------------------------------------------

_REFINE_MAXIT = 200


def _refine_entries(act, K, Sigma, rows, cols, s, w2, row_err, L, kscale, kmin):
    """Re-solve the entries of rows whose series error is above rounding, in place.

    Near ``|rho| = 1`` the Mehler series of an activation with a kink converges slowly,
    and its certified tail (honest, but large) dominates the entry's error.  Those rows
    are solved again with :meth:`hermite_dual.DualKernel.kernel_with_error`, which
    switches to quadrature where the series misses float64 accuracy: the fixed point
    ``k = K_sigma(s_i, s_j, 2 w k + g_ij)`` by plain iteration (contraction ``L``) from
    the series value.  Every entry of a flagged row takes the dual kernel's value and
    bound (which may be the larger of the two where quadrature's estimate is pessimistic:
    one pipeline, one accounting); ``row_err`` and, for a principal block, the mirrored
    entries are updated, so K stays symmetric and every Gram entry is what
    ``dual(act).kernel`` gives at its covariance.
    """
    from ..duals import dual
    from ..duals.base import _MEHLER_TOL
    # the rows where the dual kernel would not accept the series for some entry
    flagged = np.flatnonzero(row_err > _MEHLER_TOL * kmin)
    if flagged.size == 0:
        return
    principal = rows.shape == cols.shape and bool(np.all(rows == cols))
    dk = dual(act)
    P, C = np.meshgrid(flagged, np.arange(cols.size), indexing="ij")
    P, C = P.ravel(), C.ravel()
    gi, gj = rows[P], cols[C]
    keep = gi != gj                                   # the diagonal is kappa, solved apart
    if principal:                                     # each unordered pair once
        mark = np.zeros(rows.size, dtype=bool)
        mark[flagged] = True
        keep &= ~(mark[C] & (C < P))
    P, C, gi, gj = P[keep], C[keep], gi[keep], gj[keep]
    si, sj = s[gi], s[gj]
    lim = np.sqrt(si) * np.sqrt(sj)
    k = K[P, C].copy()
    g = Sigma[P, C] - 2 * w2 * k
    step = np.full(k.size, np.inf)
    for _ in range(_REFINE_MAXIT):
        v, b = dk.kernel_with_error(si, sj, np.clip(2 * w2 * k + g, -lim, lim))
        step = np.abs(v - k)
        k = v
        if w2 == 0.0 or np.all(step <= 2 * _EPS * (np.abs(k) + kscale)):
            break
    err = (b + L * step) / (1 - L)
    K[P, C] = k
    Sigma[P, C] = 2 * w2 * k + g
    if principal:
        K[C, P] = k
        Sigma[C, P] = Sigma[P, C]
        np.maximum.at(row_err, C, err)
    new = np.zeros(row_err.size)
    np.maximum.at(new, P, err)
    row_err[flagged] = new[flagged]


def _solve_diagonal(ev, g, w2, max_iter, act_name):
    """``kappa = nu(2 w2 kappa + g)`` for every entry of g, by Newton's method.

    Starts at ``kappa = 0`` (the recursion's own start).  Each step evaluates nu at
    ``s`` and ``s (1 +- 1e-4)`` in one vectorized call; the central difference gives
    ``nu'(s)`` and the measured contraction factor ``2 w2 |nu'(s)|`` of the diagonal map,
    which must stay below 1.  Newton converges globally when it does (the step's
    error factor is at most ``2L / (1 + L)``).  After the last step the residual
    ``|nu(s(kappa)) - kappa|`` is evaluated at the returned kappa.

    Returns ``(kappa, s, iterations, residual, nu_err, nu_prime, done)``.
    """
    kappa = np.zeros_like(g)
    m = g.size
    it = 0
    done = False

    def nu_at(qs, factor):
        try:
            with np.errstate(over="ignore", invalid="ignore"):
                val, err = ev.nu(qs)
        except ValueError as exc:
            raise ValueError(
                f"sigma_w2={w2!r} is beyond the contraction limit for activation "
                f"{act_name!r}: the diagonal iteration reached variance "
                f"{float(np.max(qs))!r} (measured contraction factor {factor:.6g}; "
                f"{exc})") from None
        if not np.all(np.isfinite(val)):
            raise ValueError(
                f"sigma_w2={w2!r} is beyond the contraction limit for activation "
                f"{act_name!r}: the diagonal iteration diverged (measured contraction "
                f"factor {factor:.6g})")
        return val, err

    factor = 0.0
    nup = np.zeros_like(g)
    for it in range(1, max_iter + 1):
        s = 2 * w2 * kappa + g
        h = 1e-4 * s
        vals, _ = nu_at(np.concatenate([s, s + h, s - h]), factor)
        nu, nup = vals[:m], (vals[m:2 * m] - vals[2 * m:]) / (2 * h)
        factor = 2 * w2 * float(np.max(np.abs(nup)))
        if factor >= 1.0:
            raise ValueError(
                f"sigma_w2={w2!r} is beyond the contraction limit for activation "
                f"{act_name!r}: measured contraction factor {factor:.6g} >= 1 (diagonal "
                f"map at variance {float(np.max(s))!r})")
        new = kappa + (nu - kappa) / (1.0 - 2 * w2 * nup)
        step = float(np.max(np.abs(new - kappa)))
        kappa = new
        if step <= 4 * _EPS * max(float(np.max(np.abs(kappa))), 1e-300):
            done = True
            break
    s = 2 * w2 * kappa + g
    nu, nu_err = nu_at(s, factor)
    residual = np.abs(nu - kappa)
    return kappa, s, it, residual, nu_err, nup, done


# ---------------------------------------------------------------------------
# the public entry point
# ---------------------------------------------------------------------------

def population_gram(X, act, sigma_w2=0.08, *, tol=1e-12, max_iter=500, rows=None,
                    cols=None, allow_parallel=False, raise_on_failure=True, method="auto",
                    degree=None):
    """Population Gram matrix K at the equilibrium point, with Sigma, Kdot, Theta, lambda_*.

    Parameters
    ----------
    X : array_like, shape (n, d)
        Data, rows are samples. No row may be zero, no two rows parallel.
    act : str or sympy.Expr or Activation
        The activation (anything :func:`hermite_dual.activation` accepts).
    sigma_w2 : float
        ``sigma_w^2`` (``W_ij ~ N(0, 2 sigma_w^2 / m)``), ``>= 0``; the kernel map must be a
        contraction (measured, see Raises).
    tol : float
        Required bound on the fixed-point error (residual / (1 - contraction)).
    max_iter : int
        Cap on the Newton steps of the diagonal fixed point and of each entry.
    rows, cols : sequence of int, optional
        Compute only the block ``K[rows][:, cols]`` (default: all points).  Only the
        points in the block are touched (plus O(n d) norms).
    allow_parallel : bool
        Accept parallel (or anti-parallel) rows, which the theory excludes.
    raise_on_failure : bool
        Raise :class:`EquilibriumNotConverged` when a fixed point did not converge;
        with False, return the result with ``converged=False``.
    method : {"auto", "equal", "general"}
        ``"equal"``: tabulated F for equal norms (requires ``||x_i||^2`` equal to
        ``64 eps`` relative); ``"general"``: entrywise Newton; ``"auto"`` picks
        ``"equal"`` when the norms agree to rounding.
    degree : int, optional
        Hermite degree of the Mehler series tables, at most 1200 (default: the dual
        kernels' policy, :func:`hermite_dual.duals.mehler.series_degree`: 200, with the
        entries those terms do not certify re-solved by the dual kernel).

    Returns
    -------
    EquilibriumKernel

    Raises
    ------
    ValueError
        Non-finite entries, zero rows, parallel rows (naming the pair), a wrong shape,
        bad ``sigma_w2``/``tol``/``max_iter``/``rows``/``cols``/``method``/``degree``,
        unequal norms with ``method="equal"``, or ``sigma_w2`` beyond the contraction
        limit (quoting the measured contraction factor).
    TypeError
        X that is not a real array.
    EquilibriumNotConverged
        A fixed point did not converge within ``max_iter`` (unless
        ``raise_on_failure=False``); ``.result`` holds the non-converged result.

    Notes
    -----
    MATH §5; see :class:`EquilibriumKernel` for which parts of the error bound
    are certified and which are estimated.  The equal-norm path tabulates
    ``F(u) = K_ij`` for ``u = g_ij / g_0`` on ``2^12`` intervals of [-1, 1].

    Examples
    --------
    tanh uses Mehler series; the tabulated (equal-norm) and entrywise paths agree:

    >>> import numpy as np
    >>> import hermite_dual as hd
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((6, 3))
    >>> X *= np.sqrt(3) / np.linalg.norm(X, axis=1, keepdims=True)
    >>> a = hd.population_gram(X, "tanh", method="equal")
    >>> b = hd.population_gram(X, "tanh", method="general")
    >>> bool(np.max(np.abs(a.K - b.K)) < 1e-14), a.error_bound < 1e-13
    (True, True)
    """
    t_start = time.perf_counter()
    timing = {}
    act = activation(act)
    w2 = _check_real(sigma_w2, "sigma_w2", lo=0.0)
    tol = _check_real(tol, "tol", lo=0.0, lo_open=True)
    max_iter = _check_int(max_iter, "max_iter", 1)
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
    X = validate.data_matrix(X)
    n, d = X.shape
    from ..duals.mehler import series_degree
    degree = (series_degree(n, refined=True) if degree is None
              else _check_int(degree, "degree", 1, 1200))
    rows = _check_index(rows, n, "rows")
    cols = _check_index(cols, n, "cols")
    pts = np.unique(np.concatenate([rows, cols]))
    norms2 = np.einsum("ij,ij->i", X[pts], X[pts])
    zero = norms2 == 0.0
    if zero.any():
        raise ValueError(f"X has a zero row: row {int(pts[zero][0])} (the theory needs "
                         "non-zero inputs)")
    huge = ~np.isfinite(norms2)
    if huge.any():
        raise ValueError(f"row {int(pts[huge][0])} of X is too large: its squared norm "
                         "overflows float64 (rescale the data)")
    gdiag = np.full(n, np.nan)
    gdiag[pts] = 2.0 * norms2 / d
    g0 = float(np.mean(gdiag[pts]))
    dev = float(np.max(np.abs(gdiag[pts] / g0 - 1.0)))
    if method == "equal" and dev > _EQUAL_NORM_RTOL:
        raise ValueError(f"method='equal' needs rows of equal norm, but ||x_i||^2 differ "
                         f"by a relative {dev!r}; use method='general'")
    path = "equal" if method == "equal" or (method == "auto" and dev <= _EQUAL_NORM_RTOL) \
        else "general"
    kind, fv, fd = _kernel_plan(act, path, n)
    ev = _Evaluator(act, kind, fv, fd)
    timing["setup"] = time.perf_counter() - t_start

    # -- the diagonal --------------------------------------------------------
    t0 = time.perf_counter()
    gd = np.array([g0]) if path == "equal" else gdiag[pts]
    kap, sv, diag_its, diag_step, nu_err, nup, diag_done = _solve_diagonal(
        ev, gd, w2, max_iter, act.name)
    L_diag = 2 * w2 * float(np.max(np.abs(nup)))
    D_est = float(np.max(np.abs(nup)))
    with np.errstate(over="ignore", invalid="ignore"):
        nu_d = ev.nu_deriv_act(sv)
    L_off = 2 * w2 * float(np.max(nu_d)) if np.all(np.isfinite(nu_d)) else math.inf
    L_pre = max(L_diag, L_off if math.isfinite(L_off) else 0.0)
    if L_pre >= 1.0:
        raise ValueError(f"sigma_w2={w2!r} is beyond the contraction limit for activation "
                         f"{act.name!r}: measured contraction factor {L_pre:.6g} >= 1 "
                         f"(diagonal {L_diag:.6g}, entries {L_off:.6g})")
    Ld = min(L_diag, 0.999)
    diag_err = (diag_step + nu_err) / (1 - Ld)
    kappa = np.full(n, np.nan)
    s = np.full(n, np.nan)
    if path == "equal":
        kappa[pts], s[pts] = kap[0], sv[0]
    else:
        kappa[pts], s[pts] = kap, sv
    timing["diagonal"] = time.perf_counter() - t0

    # -- series tables -------------------------------------------------------
    t0 = time.perf_counter()
    pidx = np.zeros(n, dtype=np.int64)
    if kind == kr.KIND_SERIES:
        A, T, E, _ = _series_tables(act, degree, sv)
        degree = A.shape[1] - 1
        if path == "general":
            pidx[pts] = np.arange(pts.size)
    else:
        A = T = E = _DUMMY
    timing["tables"] = time.perf_counter() - t0

    # -- data correlations (becomes Sigma in place) --------------------------
    t0 = time.perf_counter()
    G = X[rows] @ X[cols].T
    G *= 2.0 / d
    timing["gram_XX"] = time.perf_counter() - t0
    if not allow_parallel and n > 1:
        t0 = time.perf_counter()
        gd_full = np.where(np.isnan(gdiag), 1.0, gdiag)
        i, j = kr.find_parallel(G, rows, cols, gd_full, _PARALLEL_COS)
        if i >= 0:
            cosv = float(X[i] @ X[j] / math.sqrt(float(X[i] @ X[i]) * float(X[j] @ X[j])))
            raise ValueError(f"rows {int(i)} and {int(j)} of X are parallel (cosine "
                             f"{cosv!r}); the theory excludes parallel inputs "
                             "(pass allow_parallel=True to compute anyway)")
        timing["parallel_check"] = time.perf_counter() - t0

    # -- the entries ---------------------------------------------------------
    t0 = time.perf_counter()
    K = np.empty_like(G)
    nr = rows.size
    row_res = np.zeros(nr)
    row_err = np.zeros(nr)
    row_its = np.zeros(nr, dtype=np.int64)
    row_dv = np.zeros(nr)
    extra_res = 0.0
    table_err = 0.0
    table_its = 0
    if path == "equal":
        nint = _TABLE_INTERVALS
        F = np.empty(nint + 1)
        dF = np.empty(nint + 1)
        node_res = np.empty(nint + 1)
        node_err = np.empty(nint + 1)
        node_dv = np.empty(nint + 1)
        mid_err = np.empty(nint)
        its_tab = np.zeros(nint + 1, dtype=np.int64)
        kr.build_table(kind, ev.fv, ev.fd, A, T, E, float(sv[0]), g0, w2, float(kap[0]),
                       nint, max_iter, F, dF, node_res, node_err, node_dv, mid_err, its_tab)
        # relative to the kernel's own size (an absolute 4 eps let a kernel of size 1e-2
        # carry 1e-14 relative interpolation errors)
        scale = max(float(np.max(np.abs(F))), 1e-300)
        node_pair = np.maximum(node_err[:-1], node_err[1:])
        # a table interval is used when its interpolation error is at rounding level
        good = np.isfinite(mid_err) & (mid_err <= 4 * _EPS * scale)
        good &= np.isfinite(dF[:-1]) & np.isfinite(dF[1:])
        if kind == kr.KIND_SERIES:
            # intervals whose nodes the series does not certify to the dual kernel's
            # target are solved entry by entry (and then refined by the dual kernel)
            from ..duals.base import _MEHLER_TOL
            good &= node_pair <= _MEHLER_TOL * float(kap[0])
        timing["table"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        row_lo = np.zeros(nr, dtype=np.int64)
        row_hi = np.zeros(nr, dtype=np.int64)
        kr.gram_table(G, rows, cols, g0, float(kap[0]), float(sv[0]), w2, F, dF, good, kind,
                      ev.fv, ev.fd, A, T, E, max_iter, K, row_lo, row_hi, row_res, row_err, row_its, row_dv)
        lo, hi = int(row_lo.min()), int(row_hi.max())
        if hi >= lo:
            used = slice(lo, hi + 1)
            # interpolation error: twice the largest midpoint error of the interval and
            # its neighbours (guards against a midpoint where F'''' happens to vanish)
            mid_ok = np.where(good, mid_err, 0.0)
            mid_nb = mid_ok.copy()
            mid_nb[1:] = np.maximum(mid_nb[1:], mid_ok[:-1])
            mid_nb[:-1] = np.maximum(mid_nb[:-1], mid_ok[1:])
            # (only good intervals were read from the table; lo/hi count only those)
            table_err = float(np.max(np.where(good, node_pair + 2 * mid_nb, 0.0)[used]))
            ok_nodes = np.zeros(nint + 1, dtype=bool)
            ok_nodes[:-1] |= good
            ok_nodes[1:] |= good
            ok_nodes[:lo] = False
            ok_nodes[hi + 2:] = False
            extra_res = float(np.max(np.where(ok_nodes, node_res, 0.0)))
            table_its = int(np.max(np.where(ok_nodes, its_tab, 0)))
            dv_tab = float(np.max(np.where(ok_nodes, np.abs(node_dv), 0.0)))
        else:
            dv_tab = 0.0
        local_dv = max(dv_tab, float(row_dv.max()) if nr else 0.0)
    else:
        kr.gram_general(G, rows, cols, kappa, s, pidx, w2, kind, ev.fv, ev.fd, A, T, E,
                        max_iter, K, row_res, row_err, row_its, row_dv)
        local_dv = float(row_dv.max()) if nr else 0.0
    timing["entries"] = time.perf_counter() - t0
    Sigma = G
    if kind == kr.KIND_SERIES and nr:
        t0 = time.perf_counter()
        L_ref = L_off if math.isfinite(L_off) else 2 * w2 * local_dv
        if L_ref < 1.0:
            _refine_entries(act, K, Sigma, rows, cols, s, w2, row_err, L_ref,
                            float(np.max(kappa[pts])), float(np.min(kappa[pts])))
        timing["refine"] = time.perf_counter() - t0

    # -- errors --------------------------------------------------------------
    L_loc = 2 * w2 * local_dv
    L = L_off if math.isfinite(L_off) else L_loc
    contraction = max(L_diag, L)
    if contraction >= 1.0:
        raise ValueError(f"sigma_w2={w2!r} is beyond the contraction limit for activation "
                         f"{act.name!r}: measured contraction factor {contraction:.6g} >= 1")
    off_err = max(float(row_err.max()) if nr else 0.0, table_err) / (1 - L)
    dk = float(np.max(diag_err))
    prop = 2 * w2 * dk * (D_est + (float(np.max(nu_d)) if math.isfinite(L_off) else local_dv))
    norm_term = dev * g0 * (D_est + 1.0) / (1 - contraction) if path == "equal" else 0.0
    error_bound = max(dk, off_err + prop / (1 - L)) + norm_term
    residual = max(float(np.max(diag_step)), float(row_res.max()) if nr else 0.0, extra_res)
    iterations = int(diag_its + max(int(row_its.max()) if nr else 0, table_its))
    fp_bound = max(float(np.max(diag_err)),
                   (float(row_res.max()) if nr else 0.0) / (1 - L),
                   extra_res / (1 - L))
    converged = bool(diag_done and fp_bound <= tol and np.isfinite(error_bound)
                     and np.all(np.isfinite(K)))
    timing["total"] = time.perf_counter() - t_start
    result = EquilibriumKernel(
        K=K, Sigma=Sigma, rows=rows, cols=cols, converged=converged, iterations=iterations,
        residual=residual, error_bound=float(error_bound), contraction=float(contraction),
        kappa=kappa, s=s, method=path, kernel=kr.KIND_NAMES.get(kind, "derived" if kind == kr.KIND_COMPILED else "series"),
        sigma_w2=w2, activation=act, timing=timing, _kind=kind, _evaluator=ev,
        _degree=degree)
    if path == "equal":
        result._cache["F_table"] = (F, dF, g0)
    if not converged and raise_on_failure:
        raise EquilibriumNotConverged(
            f"the equilibrium kernel of {act.name!r} at sigma_w2={w2!r} did not converge "
            f"within max_iter={max_iter}: residual {residual:.3g}, fixed-point error bound "
            f"{fp_bound:.3g} > tol={tol!r} (pass raise_on_failure=False to get the "
            "result anyway)", result)
    return result
