""":func:`population_gram`: the fixed points of MATH §5, diagonal first, then every entry.

:func:`plan_gram` is the O(n) stage (validation, diagonal fixed points, tables);
:func:`population_gram` computes one block of it and :func:`finish_gram` turns the
blocks' statistics into the result and its error bound.
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
    _TABLE_INTERVALS,
    EquilibriumNotConverged,
    _check_index,
    _check_int,
    _check_real,
    _Evaluator,
    _series_tables,
)
from .variances import parameterization as _make_parameterization
from .plan import GramPlan
from .result import EquilibriumKernel

# ---------------------------------------------------------------------------
# the diagonal
# ---------------------------------------------------------------------------

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
            if it <= 1:
                # at the first step the variances are the data's own: the activation,
                # not sigma_w2, is the problem
                raise ValueError(f"activation {act_name!r} has no population Gram matrix "
                                 f"on this data: at the data's own variance "
                                 f"{float(np.max(qs))!r} {exc}") from None
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

def _check_variance_range(q, pts, kind, act, what):
    """Refuse variances outside the range where the kernel's float64 route is validated
    (the dual kernels' own limits), naming the row, the value and the range."""
    from ..duals.base import _Q_MAX, _Q_MAX_SERIES, _Q_MIN
    hi = _Q_MAX_SERIES if kind == kr.KIND_SERIES else _Q_MAX
    bad = (q < _Q_MIN) | (q > hi)
    if not bad.any():
        return
    j = int(np.flatnonzero(bad)[0])
    route = ("Mehler series and quadrature" if kind == kr.KIND_SERIES else "closed form")
    hint = (" (relu and the identity are positively homogeneous: K(cX) = c^2 K(X), so "
            "compute at unit scale and multiply)" if kind in (kr.KIND_RELU, kr.KIND_IDENTITY)
            else "")
    raise ValueError(f"row {int(pts[j])} of X gives {what} = {float(q[j])!r}, outside "
                     f"[{_Q_MIN:g}, {hi:g}], the variances at which the float64 {route} "
                     f"of {act.name!r} is validated; rescale the data (the theory takes "
                     f"||x_i||^2 = d){hint}")


def plan_gram(X, act, sigma_w2=0.08, *, tol=1e-12, max_iter=500, method="auto",
              degree=None, allow_parallel=False, points=None):
    """The O(n) stage of :func:`population_gram`: a :class:`~.plan.GramPlan`.

    Validates every input, solves each point's diagonal fixed point and builds the tables
    every entry needs; ``points`` (default: all) are the points whose entries will be
    asked for.  :meth:`GramPlan.block` then computes any block of K, Sigma, Kdot and
    Theta; :func:`population_gram` is one block of it, :mod:`hermite_dual.distributed`
    many.  Arguments as :func:`population_gram`; ``X`` must already be a validated
    float64 matrix (:func:`hermite_dual._util.validate.data_matrix`).

    Examples
    --------
    >>> import numpy as np
    >>> import hermite_dual as hd
    >>> X = np.array([[1.0, 1.0], [1.0, -1.0], [1.4142135623730951, 0.0]])
    >>> plan = plan_gram(X, "relu", 0.08)
    >>> K, Sigma, stats = plan.block(np.array([0, 1]), np.array([2]))
    >>> bool(np.array_equal(K, hd.population_gram(X, "relu", 0.08).K[:2, 2:]))
    True
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
    pts = np.arange(n, dtype=np.int64) if points is None else points
    norms2 = np.einsum("ij,ij->i", X[pts], X[pts])
    zero = norms2 == 0.0
    if zero.any():
        i = int(pts[zero][0])
        if np.any(X[i] != 0.0):
            raise ValueError(f"row {i} of X is too small: its squared norm underflows "
                             f"float64 (largest entry {float(np.max(np.abs(X[i])))!r}); "
                             "rescale the data (the theory takes ||x_i||^2 = d)")
        raise ValueError(f"X has a zero row: row {i} (the theory needs non-zero inputs)")
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
    _check_variance_range(gdiag[pts], pts, kind, act, "2 ||x_i||^2 / d")
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
    _check_variance_range(sv, pts if path == "general" else pts[:1], kind, act,
                          "the diagonal variance s_i = 2 sigma_w^2 K_ii + 2 ||x_i||^2 / d")
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

    from ..duals.base import _MEHLER_TOL
    from ..duals.mehler import _FEW_DISTINCT
    kmin = float(np.min(kappa[pts]))
    plan = GramPlan(
        X=X, act=act, w2=w2, tol=tol, max_iter=max_iter, allow_parallel=allow_parallel,
        path=path, kind=kind, ev=ev, n_route=n, degree=degree, pts=pts, kappa=kappa, s=s,
        pidx=pidx, A=A, T=T, E=E, kap=kap, sv=sv, g0=g0,
        gdiag_full=np.where(np.isnan(gdiag), 1.0, gdiag), diag_err=diag_err,
        diag_step=diag_step, diag_its=diag_its, diag_done=diag_done, L_diag=L_diag,
        D_est=D_est, nu_d=nu_d, L_off=L_off, dev=dev, flag_tol=_MEHLER_TOL * kmin,
        kscale=float(np.max(kappa[pts])),
        few_variances=bool(np.unique(sv).size <= _FEW_DISTINCT), timing=timing)

    # -- the equal-norm table F(u) ----------------------------------------------
    if path == "equal":
        t0 = time.perf_counter()
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
            good &= node_pair <= _MEHLER_TOL * float(kap[0])
        plan.__dict__.update(F=F, dF=dF, node_res=node_res, node_dv=node_dv,
                             mid_err=mid_err, its_tab=its_tab, good=good,
                             node_pair=node_pair)
        timing["table"] = time.perf_counter() - t0
    return plan


def population_gram(X, act, sigma_w2=None, *, tol=1e-12, max_iter=500, rows=None,
                    cols=None, allow_parallel=False, raise_on_failure=True, method="auto",
                    degree=None, parameterization=None):
    """Population Gram matrix K at the equilibrium point, with Sigma, Kdot, Theta, lambda_*.

    Parameters
    ----------
    X : array_like, shape (n, d)
        Data, rows are samples. No row may be zero, no two rows parallel.
    act : str or sympy.Expr or Activation
        The activation (anything :func:`hermite_dual.activation` accepts).
    sigma_w2 : float, optional
        ``sigma_w^2`` (``W_ij ~ N(0, 2 sigma_w^2 / m)``), ``>= 0``, default 0.08; the kernel
        map must be a contraction (measured, see Raises).  Not with ``parameterization``.
    tol : float
        Required bound on the fixed-point error (residual / (1 - contraction)), relative
        to ``max(1, max_i K_ii)``.
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
    parameterization : str or Parameterization, optional
        Another paper's convention: a :class:`~.variances.Parameterization`
        (weight, input and bias variances) or a preset name with its defaults (see
        :func:`~.variances.parameterization`); applied as an exact change of
        variables, and ``sigma_w2`` of the result is the weight variance it maps to.

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
    ``F(u) = K_ij`` for ``u = g_ij / g0`` on ``2^12`` intervals of [-1, 1].  Every entry
    is a function of its two points alone (:mod:`hermite_dual.equilibrium.plan`), so
    :mod:`hermite_dual.distributed` computes the same bits block by block.

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
    par = None
    if parameterization is not None:
        if sigma_w2 is not None:
            raise ValueError("give sigma_w2 or a parameterization, not both (a "
                             "parameterization carries its own weight variance)")
        par = _make_parameterization(parameterization)
        X, sigma_w2 = par.transform(X)
    elif sigma_w2 is None:
        sigma_w2 = 0.08
    X = validate.data_matrix(X)
    n = X.shape[0]
    rows = _check_index(rows, n, "rows")
    cols = _check_index(cols, n, "cols")
    try:
        plan = plan_gram(X, act, sigma_w2, tol=tol, max_iter=max_iter, method=method,
                         degree=degree, allow_parallel=allow_parallel,
                         points=np.unique(np.concatenate([rows, cols])))
    except ValueError as exc:
        if par is None or type(exc) is not ValueError:
            raise
        raise ValueError(f"{exc} [parameterisation {par.describe()}, which is "
                         f"sigma_w2 = {sigma_w2:g} in MATH §5's form]") from None
    timing = plan.timing
    t0 = time.perf_counter()
    K, Sigma, stats = plan.block(rows, cols)
    timing["entries"] = time.perf_counter() - t0
    result = finish_gram(plan, K, Sigma, rows, cols, [stats], raise_on_failure, t_start)
    result.parameterization = par
    return result


def finish_gram(plan, K, Sigma, rows, cols, stats, raise_on_failure=True, t_start=None):
    """The :class:`EquilibriumKernel` of a block from its plan and the blocks' stats."""
    err = plan.errors(stats)
    timing = dict(plan.timing)
    if t_start is not None:
        timing["total"] = time.perf_counter() - t_start
    result = EquilibriumKernel(
        K=K, Sigma=Sigma, rows=rows, cols=cols, converged=err["converged"],
        iterations=err["iterations"], residual=err["residual"],
        error_bound=err["error_bound"], contraction=err["contraction"],
        kappa=plan.kappa, s=plan.s, method=plan.path,
        kernel=kr.KIND_NAMES.get(plan.kind,
                                 "derived" if plan.kind == kr.KIND_COMPILED else "series"),
        sigma_w2=plan.w2, activation=plan.act, timing=timing, _kind=plan.kind,
        _evaluator=plan.ev, _degree=plan.degree, _plan=plan)
    if not err["converged"] and raise_on_failure:
        raise EquilibriumNotConverged(
            f"the equilibrium kernel of {plan.act.name!r} at sigma_w2={plan.w2!r} did not "
            f"converge within max_iter={plan.max_iter}: residual {err['residual']:.3g}, "
            f"fixed-point error bound {err['fp_bound']:.3g} > tol={plan.tol!r} x "
            f"max(1, max K_ii) (pass "
            "raise_on_failure=False to get the result anyway)", result)
    return result
