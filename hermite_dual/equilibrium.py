"""Population Gram matrix at the equilibrium point (MATH §5).

For data ``X`` (rows are samples, shape (n, d)) and an activation sigma, the
weight-untied recursion

    Sigma^(l) = 2 sigma_w^2 K^(l-1) + (2/d) X X^T,
    K^(l)_ij  = K_sigma(Sigma^(l)_ii, Sigma^(l)_jj, Sigma^(l)_ij),     K^(0) = 0,

converges (the kernel map is a contraction) to ``K``; ``lambda_* = lambda_min(K)``.
:func:`population_gram` never runs the recursion on n x n matrices: the diagonal is a
scalar fixed point per point, ``kappa_i = nu(s_i)``, ``s_i = 2 sigma_w^2 kappa_i + g_i``
(``g_i = 2 ||x_i||^2 / d``; Newton's method with the contraction factor measured at every
step), and, once the diagonal is known, every off-diagonal entry is
an independent scalar fixed point ``k = K_sigma(s_i, s_j, 2 sigma_w^2 k + g_ij)``, solved
by safeguarded Newton.  With equal norms (``||x_i||^2 = d``) the entry depends on
``g_ij`` alone, ``K_ij = F(g_ij)``: F is tabulated once on [-1, 1] (values and
derivatives, cubic Hermite interpolation, the error of every table interval measured
at its midpoint against a direct solve) and read at the n^2 data correlations; entries
in intervals where the table is not accurate to a few ulps are solved directly.  The
tangent kernel's ``Kdot`` is tabulated the same way on the equal-norm path.

Cost: one BLAS product ``X X^T``, one pass over the n^2 entries (plus O(n d)); memory:
K and Sigma (Sigma overwrites the product in place), Kdot and Theta when asked for.

The kernels K_sigma are closed forms (identity, relu, step, erf, sin, cos, gaussian,
exp) or Mehler series from Hermite coefficient tables
(:func:`hermite_dual.hermite.hermite_table`), with the Parseval tail bound of MATH §3.
 The numba loops live in :mod:`hermite_dual._kernels`.

Examples
--------
ReLU (Ling et al.): ``K_ii = 1 / (1 - sigma_w^2)``.

>>> import numpy as np
>>> import hermite_dual as hd
>>> X = np.array([[1.0, 1.0], [1.0, -1.0], [1.4142135623730951, 0.0]])
>>> res = hd.population_gram(X, "relu", 0.08)
>>> bool(np.allclose(np.diag(res.K), 1 / (1 - 0.08), rtol=0, atol=1e-14))
True
>>> res.converged, res.certificate <= res.lambda_min
(True, True)
"""

from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass, field

import numpy as np
import sympy as sp

from ._kernels import gram as kr
from ._util import validate
from .activations import Activation, activation

__all__ = [
    "EquilibriumKernel",
    "EquilibriumNotConverged",
    "population_gram",
    "describe_gram",
]

_EPS = float(np.finfo(np.float64).eps)
_TABLE_INTERVALS = 1 << 12
_PARALLEL_COS = validate.PARALLEL_COS
_EQUAL_NORM_RTOL = 64 * _EPS
_METHODS = ("auto", "equal", "general")


class EquilibriumNotConverged(RuntimeError):
    """The equilibrium fixed point did not converge; ``.result`` holds what was computed.

    Examples
    --------
    >>> import numpy as np
    >>> import hermite_dual as hd
    >>> try:
    ...     hd.population_gram(np.eye(2), "tanh", max_iter=1)
    ... except hd.EquilibriumNotConverged as exc:
    ...     print(exc.result.converged, exc.result.residual > 1e-12)
    False True
    """

    def __init__(self, message, result):
        super().__init__(message)
        self.result = result


# ---------------------------------------------------------------------------
# activation -> closed-form id or series tables
# ---------------------------------------------------------------------------

def _kernel_kind(act):
    """The closed-form kernel id of ``act`` (``KIND_*``), or ``KIND_SERIES``: the dual
    kernel's decision (:meth:`hermite_dual.DualKernel.kernel_id`), never re-derived here."""
    from .duals import dual
    return dual(act).kernel_id


_DUMMY = np.zeros((1, 1))


def _series_tables(act, degree, qs):
    """``(A, T, E, nu)`` at the variances ``qs``: :func:`hermite_dual.duals.mehler.series_tables`,
    the one builder the dual kernels use too (``degree=None``: its one degree policy)."""
    from .duals.mehler import series_tables
    return series_tables(act, qs, degree)


def _series_error_envelope(A, T, E, rho):
    """Bound on the error of every Mehler sum over rows of (A, T, E) with ``|rho'| <= rho``.

    Each error term of :func:`hermite_dual._kernels.series_value` (propagated coefficient
    errors, rounding, the truncation left after its stopping rule) grows with ``|rho|``
    and with ``|a_k|``, ``e_k``, ``T_k``, so the row-wise maxima at ``rho`` bound them all.
    """
    a = np.max(np.abs(A), axis=0)
    e = np.max(E, axis=0)
    t_R = float(np.max(T[:, -1]))
    p = rho ** np.arange(a.size)
    absum = float(np.sum(a * a * p))
    cerr = float(np.sum((2 * a * e + e * e) * p))
    trunc = max(1e-3 * _EPS * absum, rho ** a.size * t_R)
    return cerr + (a.size + 4) * _EPS * absum + trunc


class _Evaluator:
    """nu(q) and nu_{sigma'}(q) of one activation, vectorized over q."""

    def __init__(self, act, kind):
        self.act = act
        self.kind = kind

    def nu(self, qs):
        qs = np.ascontiguousarray(qs, dtype=np.float64)
        if self.kind == kr.KIND_SERIES:
            from .duals.mehler import nu_error
            from .hermite import hermite_table
            _, nu, E = hermite_table(self.act, 1, qs)
            return nu, nu_error(nu, E)
        return kr.diag_nu(self.kind, _DUMMY, _DUMMY, _DUMMY, qs)

    def nu_deriv_act(self, qs):
        """nu_{sigma'}(q) = E[sigma'(sqrt(q) Z)^2]; inf when sigma' has a Dirac mass."""
        if self.kind != kr.KIND_SERIES:
            out = np.empty(qs.size)
            for i, q in enumerate(qs):
                out[i] = kr.closed_kernel(self.kind, q, q, q)[1]
            return out
        if self._derivative[0] is None:
            return np.full(qs.size, np.inf)
        from .hermite import hermite_table
        return hermite_table(self.derivative_act(), 1, qs)[1]

    @functools.cached_property
    def _derivative(self):
        try:
            return self.act.derivative(1), None
        except ValueError as exc:
            return None, str(exc)

    def derivative_act(self):
        act, why = self._derivative
        if act is None:
            raise ValueError(f"the tangent kernel of activation {self.act.name!r} needs "
                             f"sigma' as a function: {why}")
        return act


# ---------------------------------------------------------------------------
# the result
# ---------------------------------------------------------------------------

@dataclass(eq=False)
class EquilibriumKernel:
    """Population Gram matrix at the equilibrium point, with its errors.

    Attributes
    ----------
    K : numpy.ndarray, shape (len(rows), len(cols))
        The block ``K[rows][:, cols]`` of the equilibrium kernel.
    Sigma : numpy.ndarray, same shape
        ``2 sigma_w^2 K + (2/d) X X^T`` on the block (pre-activation covariance).
    rows, cols : numpy.ndarray of int
        Point indices of the block.
    converged : bool
        Every scalar fixed point (diagonal and entries) met ``tol`` within ``max_iter``.
    iterations : int
        Newton steps of the diagonal fixed point plus the most Newton steps any entry
        (or table node) took.
    residual : float
        Largest fixed-point residual ``|k - K_sigma(Sigma(k))|`` measured: at every
        entry solved directly, at the table nodes and midpoints for tabulated entries.
    error_bound : float
        Bound on ``max |K - K_exact|`` over the block; see Notes for which parts are
        certified.
    contraction : float
        Measured contraction factor of the kernel map (``max`` of the diagonal factor
        ``2 sigma_w^2 nu'(s)`` and the entry factor ``2 sigma_w^2 max_i nu_{sigma'}(s_i)``).
    kappa, s : numpy.ndarray, shape (n,)
        Diagonal fixed points ``K_ii`` and variances ``Sigma_ii`` per point (NaN for
        points outside the block).
    method : str
        ``"equal"`` (tabulated F) or ``"general"`` (entrywise Newton).
    kernel : str
        Closed-form name or ``"series"`` (Mehler series from Hermite tables).
    timing : dict
        Seconds spent in each stage (lazy attributes add theirs when first used).

    Notes
    -----
    ``Kdot``, ``Theta``, ``lambda_min``, ``lambda_min_error`` and ``certificate`` are
    computed on first access (they cost O(n^2) memory or O(n^3) time).

    What is certified in ``error_bound``: for each off-diagonal entry,
    ``|k - k_*| <= (|residual| + evaluation error) / (1 - L)`` with ``L`` the
    Cauchy-Schwarz bound ``2 sigma_w^2 max_i nu_{sigma'}(s_i)`` on the entry map's
    Lipschitz constant, and the Parseval tail bound of the Mehler truncation. What is
    estimated: rounding in the closed forms (``6 eps (|K| + |c K_c|)``), the Hermite
    coefficient errors (from :func:`hermite_table`, estimates), the interpolation error
    of the table (twice the largest error measured at the midpoints of the interval and
    its two neighbours; intervals are used only where it is at rounding level), the
    diagonal's own error (its residual through the measured
    ``1 - 2 sigma_w^2 nu'(s)``, with ``nu'`` a finite difference), the propagation of the
    diagonal's error into the entries (through a finite-difference ``nu'``) and, on the
    equal-norm path, the effect of norms that differ by rounding.  For the step
    function ``nu_{sigma'}`` is infinite and ``L`` is the measured local factor.

    Examples
    --------
    For the identity the kernel map is linear, ``K = 2 sigma_w^2 K + (2/d) X X^T``, so
    ``K = (2/d) X X^T / (1 - 2 sigma_w^2)``, ``Kdot = 1`` and
    ``Theta = K (1 + 1 / (1 - 2 sigma_w^2))``:

    >>> import numpy as np
    >>> import hermite_dual as hd
    >>> X = np.array([[2.0, 0.0], [1.0, 1.0], [0.0, -3.0]])
    >>> r = hd.population_gram(X, "identity", 0.1)
    >>> K = (2 / 2) * X @ X.T / (1 - 0.2)
    >>> bool(np.allclose(r.K, K, rtol=1e-15, atol=1e-15)), r.method
    (True, 'general')
    >>> bool(np.allclose(r.Theta, K * (1 + 1 / (1 - 0.2)), rtol=1e-14))
    True
    >>> bool(abs(r.lambda_min - np.linalg.eigvalsh(K)[0]) <= r.lambda_min_error + 1e-15)
    True
    """

    K: np.ndarray
    Sigma: np.ndarray
    rows: np.ndarray
    cols: np.ndarray
    converged: bool
    iterations: int
    residual: float
    error_bound: float
    contraction: float
    kappa: np.ndarray
    s: np.ndarray
    method: str
    kernel: str
    sigma_w2: float
    activation: Activation
    timing: dict = field(default_factory=dict)
    _kind: int = field(default=0, repr=False)
    _evaluator: object = field(default=None, repr=False)
    _degree: int = field(default=None, repr=False)
    _cache: dict = field(default_factory=dict, repr=False)

    def __repr__(self):
        return (f"EquilibriumKernel(shape={self.K.shape}, activation={self.activation.name!r}, "
                f"sigma_w2={self.sigma_w2!r}, method={self.method!r}, "
                f"converged={self.converged}, iterations={self.iterations}, "
                f"residual={self.residual:.3g}, error_bound={self.error_bound:.3g})")

    @property
    def n(self):
        """Number of points in the block's rows."""
        return self.K.shape[0]

    @property
    def is_principal(self):
        """True when rows and cols are the same points (a principal block of K)."""
        return self.rows.shape == self.cols.shape and bool(np.all(self.rows == self.cols))

    def _require_principal(self, what):
        if not self.is_principal:
            raise ValueError(f"{what} is defined for a principal block of K (rows == cols); "
                             f"this block has rows {self.rows[:5].tolist()}... and cols "
                             f"{self.cols[:5].tolist()}...")

    # -- tangent kernel ------------------------------------------------------
    def _tangent(self):
        if "Kdot" in self._cache:
            return self._cache["Kdot"], self._cache["Theta"]
        t0 = time.perf_counter()
        pts = np.unique(np.concatenate([self.rows, self.cols]))
        pidx = np.zeros(self.s.shape[0], dtype=np.int64)
        kdiag = np.full(self.s.shape[0], np.nan)
        dact = self._evaluator.derivative_act()      # ValueError when sigma' has a Dirac mass
        if self._kind == kr.KIND_SERIES:
            if self.method == "equal":
                A, T, E, nud = _series_tables(dact, self._degree, self.s[pts[:1]])
                kdiag[pts] = nud[0]
            else:
                A, T, E, nud = _series_tables(dact, self._degree, self.s[pts])
                pidx[pts] = np.arange(pts.size)
                kdiag[pts] = nud
        else:
            A = T = E = _DUMMY
            kdiag[pts] = self._evaluator.nu_deriv_act(self.s[pts])
        Kdot = np.empty_like(self.K)
        Theta = np.empty_like(self.K)
        row_rho = np.zeros(self.rows.size)
        interp_err = 0.0
        table = self._cache.get("F_table")
        if self.method == "equal" and table is not None:
            F, dF, g0 = table
            s0 = float(self.s[pts[0]])
            nint = F.size - 1
            H = np.empty(nint + 1)
            mid_err = np.empty(nint)
            kr.build_kdot_table(self._kind, A, T, s0, g0, self.sigma_w2, F, dF, H, mid_err)
            good = np.isfinite(H[:-1]) & np.isfinite(H[1:]) & (
                mid_err <= 8 * _EPS * max(1.0, float(np.max(np.abs(H[np.isfinite(H)])))))
            lo = np.zeros(self.rows.size, dtype=np.int64)
            hi = np.zeros(self.rows.size, dtype=np.int64)
            kr.kdot_theta_table(self.Sigma, self.K, self.rows, self.cols, s0, g0,
                                self.sigma_w2, kdiag, H, good, self._kind, A, T, Kdot, Theta,
                                row_rho, lo, hi)
            a, b = int(lo.min()), int(hi.max())
            if b >= a:
                mid_ok = np.where(good, mid_err, 0.0)
                nb = mid_ok.copy()
                nb[1:] = np.maximum(nb[1:], mid_ok[:-1])
                nb[:-1] = np.maximum(nb[:-1], mid_ok[1:])
                interp_err = 2 * float(np.max(nb[a:b + 1]))
        else:
            kr.kdot_theta(self.Sigma, self.K, self.rows, self.cols, self.s, kdiag, pidx,
                          self.sigma_w2, self._kind, A, T, Kdot, Theta, row_rho)
        rho = float(row_rho.max()) if row_rho.size else 0.0
        if self._kind == kr.KIND_SERIES:
            used = np.unique(pidx[pts])
            err = max(_series_error_envelope(A[used], T[used], E[used], rho),
                      16 * _EPS * float(np.max(np.abs(kdiag[pts]))))
        else:
            err = 16 * _EPS * float(np.max(np.abs(kdiag[pts])))
        # K's own error moves Sigma by 2 sigma_w^2 error_bound; |dKdot/dc| <= sup|K_{sigma''}|
        # is not available in general, so this part is left to the caller (see Kdot_error)
        err += interp_err
        self._cache["Kdot"], self._cache["Theta"] = Kdot, Theta
        self._cache["Kdot_error"] = err
        self.timing["tangent"] = time.perf_counter() - t0
        return Kdot, Theta

    @property
    def Kdot(self):
        """``K_{sigma'}(Sigma_ii, Sigma_jj, Sigma_ij)`` on the block (MATH section 5)."""
        return self._tangent()[0]

    @property
    def Theta(self):
        """Population tangent kernel ``K * (1 + B)``, ``B = Kdot / (1 - 2 sigma_w^2 Kdot)``."""
        return self._tangent()[1]

    @property
    def Kdot_error(self):
        """Error of ``Kdot`` as a function of the computed Sigma.

        Series: coefficient errors, rounding and the truncation left by the stopping rule,
        all bounded at the largest ``|rho|`` of the block (certified tail, estimated
        coefficient errors); closed forms: 16 ulps (estimate); equal norms: plus twice
        the largest midpoint error of the Lagrange table (estimate).  The effect of
        ``Sigma``'s own error (``2 sigma_w^2 error_bound``) is not included.
        """
        self._tangent()
        return self._cache["Kdot_error"]

    # -- spectrum ------------------------------------------------------------
    @property
    def lambda_interval(self):
        """Certified interval for ``lambda_* = lambda_min`` of the exact K (principal blocks).

        :func:`hermite_dual.least_eigenvalue` of ``K`` with ``entry_error = error_bound``:
        a verified Cholesky of ``K - sigma I`` for the lower end, a Rayleigh quotient with
        its rounding error for the upper end, both widened by ``n error_bound`` (Weyl).
        It is certified where ``error_bound`` is (see the class notes).
        """
        if "lambda_interval" not in self._cache:
            self._require_principal("lambda_interval")
            from .eigen import least_eigenvalue
            t0 = time.perf_counter()
            self._cache["lambda_interval"] = least_eigenvalue(self.K,
                                                              entry_error=self.error_bound)
            self.timing["lambda_min"] = time.perf_counter() - t0
        return self._cache["lambda_interval"]

    @property
    def lambda_min(self):
        """Least eigenvalue of K: the estimate of :attr:`lambda_interval` (Lanczos on one
        Cholesky factor, then a Rayleigh quotient; never the full spectrum)."""
        return self.lambda_interval.estimate

    @property
    def lambda_min_error(self):
        """Bound on ``|lambda_min - lambda_*|`` from :attr:`lambda_interval` (certified
        given ``error_bound``): the larger distance from the estimate to an end."""
        b = self.lambda_interval
        return max(b.estimate - b.lower, b.upper - b.estimate)

    @property
    def certificate(self):
        """Hermite lower bound on lambda_* (MATH section 5).

        ``sum_r min_i a_r(s_i)^2 (1 - (n-1) beta^r)_+`` with ``beta`` the largest
        off-diagonal equilibrium correlation (enlarged by its error bound) and the a_r
        shrunk by their error estimates; with equal norms every ``s_i = s`` and this is
        the bound of MATH section 5.  Each Schur power ``P^{*r}`` is PSD with unit
        diagonal, ``K = sum_r D_r P^{*r} D_r`` with ``D_r = diag(a_r(s_i))``, and
        Gershgorin bounds ``lambda_min(P^{*r}) >= 1 - (n-1) beta^r``.
        """
        if "certificate" not in self._cache:
            self._require_principal("certificate")
            t0 = time.perf_counter()
            pts = self.rows
            sv = np.unique(self.s[pts])
            A, _, E, _ = _series_tables(self.activation, self._degree, sv)
            a2 = np.min(np.maximum(np.abs(A) - E, 0.0) ** 2, axis=0)
            n = self.n
            if n == 1:
                cert = float(np.sum(a2))
            else:
                beta = kr.max_offdiag_corr(self.Sigma, self.rows, self.cols, self.s)
                beta = min(1.0, beta + 2 * self.sigma_w2 * self.error_bound / float(sv.min())
                           + 4 * _EPS)
                r = np.arange(a2.size)
                with np.errstate(under="ignore"):
                    gersh = np.maximum(1.0 - (n - 1) * beta ** r, 0.0)
                cert = float(np.sum(a2 * gersh))
                cert = max(0.0, cert * (1 - 4 * a2.size * _EPS))
            self._cache["certificate"] = cert
            self.timing["certificate"] = time.perf_counter() - t0
        return self._cache["certificate"]


# ---------------------------------------------------------------------------
# validation
# ---------------------------------------------------------------------------

def _check_index(idx, n, name):
    if idx is None:
        return np.arange(n, dtype=np.int64)
    arr = np.asarray(idx)
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.integer) or arr.size == 0):
        raise ValueError(f"{name} must be a 1-d sequence of point indices, got {idx!r}")
    arr = arr.astype(np.int64).ravel() if arr.ndim <= 1 else None
    if arr is None or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-d sequence of point indices, "
                         f"got {idx!r}")
    bad = (arr < 0) | (arr >= n)
    if bad.any():
        raise ValueError(f"{name} contains index {int(arr[bad][0])!r} outside [0, {n})")
    return np.ascontiguousarray(arr)


_check_real = validate.real       # one rule per concept (hermite_dual._util.validate)
_check_int = validate.integer


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
    the series value.  An entry takes the new value only where the dual kernel's bound
    is smaller than its row's; ``row_err`` and (for a principal block) the mirrored
    entries are updated, so K stays symmetric and every Gram entry is what
    ``dual(act).kernel`` gives at its covariance.
    """
    from .duals import dual
    from .duals.base import _MEHLER_TOL
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
    P, C, gi, gj = P[keep], C[keep], gi[keep], gj[keep]
    si, sj = s[gi], s[gj]
    lim = np.sqrt(si) * np.sqrt(sj)
    k = K[P, C].copy()
    g = Sigma[P, C] - 2 * w2 * k
    _, b0 = dk.kernel_with_error(si, sj, np.clip(2 * w2 * k + g, -lim, lim))
    todo = b0 < row_err[P]
    if not todo.any():
        return
    P, C, si, sj, lim, k, g = (a[todo] for a in (P, C, si, sj, lim, k, g))
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
    counts = np.bincount(P, minlength=row_err.size)
    full = counts == cols.size - 1 if principal else counts == cols.size
    row_err[full] = new[full]
    row_err[~full] = np.maximum(row_err[~full], new[~full])


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
        kernels' policy, :func:`hermite_dual.duals.mehler.series_degree`: 1200 for up to 48
        distinct variances, 200 beyond).

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
    degree = None if degree is None else _check_int(degree, "degree", 1, 1200)
    X = validate.data_matrix(X)
    n, d = X.shape
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
    kind = _kernel_kind(act)
    ev = _Evaluator(act, kind)
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
        kr.build_table(kind, A, T, E, float(sv[0]), g0, w2, float(kap[0]), nint, max_iter,
                       F, dF, node_res, node_err, node_dv, mid_err, its_tab)
        scale = max(1.0, float(np.max(np.abs(F))))
        node_pair = np.maximum(node_err[:-1], node_err[1:])
        # a table interval is used when its interpolation error is at rounding level
        good = np.isfinite(mid_err) & (mid_err <= 4 * _EPS * scale)
        good &= np.isfinite(dF[:-1]) & np.isfinite(dF[1:])
        timing["table"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        row_lo = np.zeros(nr, dtype=np.int64)
        row_hi = np.zeros(nr, dtype=np.int64)
        kr.gram_table(G, rows, cols, g0, float(kap[0]), float(sv[0]), w2, F, dF, good, kind,
                      A, T, E, max_iter, K, row_lo, row_hi, row_res, row_err, row_its, row_dv)
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
        kr.gram_general(G, rows, cols, kappa, s, pidx, w2, kind, A, T, E, max_iter, K,
                        row_res, row_err, row_its, row_dv)
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
        kappa=kappa, s=s, method=path, kernel=kr.KIND_NAMES.get(kind, "series"),
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


def describe_gram(result):
    """A JSON-able summary of an :class:`EquilibriumKernel` (for ``hermite-dual gram``).

    Computes ``lambda_min`` and the certificate when the block is principal.

    Returns
    -------
    dict
        Keys ``activation``, ``sigma_w2``, ``n``, ``shape``, ``method``, ``kernel``,
        ``lambda_min``, ``lambda_min_error``, ``certificate`` (None for non-principal
        blocks), ``iterations``, ``converged``, ``residual``, ``error_bound``,
        ``error_kind``, ``contraction``, ``timing`` (seconds per stage).

    Examples
    --------
    >>> import numpy as np, json
    >>> import hermite_dual as hd
    >>> from hermite_dual.equilibrium import describe_gram
    >>> X = np.array([[1.0, 0.0], [0.6, 0.8]]) * np.sqrt(2)
    >>> d = describe_gram(hd.population_gram(X, "relu"))
    >>> d["n"], d["converged"], d["certificate"] <= d["lambda_min"]
    (2, True, True)
    >>> isinstance(json.dumps(d), str)
    True
    """
    if not isinstance(result, EquilibriumKernel):
        raise TypeError(f"describe_gram needs an EquilibriumKernel, got "
                        f"{type(result).__name__}")
    principal = result.is_principal
    out = {
        "activation": result.activation.name,
        "expr": sp.sstr(result.activation.expr),
        "sigma_w2": result.sigma_w2,
        "n": int(result.n),
        "shape": [int(v) for v in result.K.shape],
        "method": result.method,
        "kernel": result.kernel,
        "lambda_min": float(result.lambda_min) if principal else None,
        "lambda_min_error": float(result.lambda_min_error) if principal else None,
        "lambda_lower": float(result.lambda_interval.lower) if principal else None,
        "lambda_upper": float(result.lambda_interval.upper) if principal else None,
        "certificate": float(result.certificate) if principal else None,
        # the Hermite certificate is 0 when two inputs are close (beta near 1): say so
        "certificate_vacuous": (bool(result.certificate <= 0) if principal else None),
        "iterations": int(result.iterations),
        "converged": bool(result.converged),
        "residual": float(result.residual),
        "error_bound": float(result.error_bound),
        "error_kind": ("Newton/contraction residual bound and Parseval tail certified; "
                       "rounding, coefficient and interpolation errors estimated"),
        "contraction": float(result.contraction),
        "timing": {k: float(v) for k, v in result.timing.items()},
    }
    return out
