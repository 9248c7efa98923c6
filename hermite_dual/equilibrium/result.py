""":class:`EquilibriumKernel`: K, Sigma, Kdot, Theta, lambda_* and their errors (MATH §5).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import sympy as sp

from .._kernels import pairs as kp
from ..activations import Activation
from .base import _EPS, _series_tables

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
    _plan: object = field(default=None, repr=False)
    _cache: dict = field(default_factory=dict, repr=False)
    #: the :class:`~.variances.Parameterization` asked for (None: MATH §5's form)
    parameterization: object = field(default=None, repr=False)

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
        plan = self._plan
        Kdot, Theta, stats = plan.tangent_block(self.K, self.Sigma, self.rows, self.cols)
        # K's own error moves Sigma by 2 sigma_w^2 error_bound; |dKdot/dc| <= sup|K_{sigma''}|
        # is not available in general, so this part is left to the caller (see Kdot_error)
        self._cache["Kdot"], self._cache["Theta"] = Kdot, Theta
        self._cache["Kdot_error"] = plan.tangent_error([stats])
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
            from ..eigen import least_eigenvalue
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
            n = self.n
            beta = (kp.max_offdiag_corr(self.Sigma, self.rows, self.cols, self.s) if n > 1
                    else 0.0)
            cert = hermite_certificate(self.activation, self._degree,
                                       np.unique(self.s[self.rows]), n, beta,
                                       self.sigma_w2, self.error_bound)
            self._cache["certificate"] = cert
            self.timing["certificate"] = time.perf_counter() - t0
        return self._cache["certificate"]


def hermite_certificate(act, degree, variances, n, beta, sigma_w2, error_bound):
    """The Hermite lower bound on lambda_* of MATH §5 from its ingredients.

    ``sum_r min_i a_r(s_i)^2 (1 - (n-1) beta^r)_+`` over the distinct diagonal
    ``variances``, with ``beta`` the largest off-diagonal equilibrium correlation
    (enlarged by what an entry error ``error_bound`` can move it) and the ``a_r`` shrunk
    by their error estimates (see :attr:`EquilibriumKernel.certificate`).  Needs only
    O(n) numbers, so a blocked computation (:mod:`hermite_dual.distributed`) gets it
    from its blocks' largest correlation.

    Examples
    --------
    >>> import hermite_dual as hd
    >>> c = hermite_certificate(hd.activation("tanh"), 200, [2.3], 10, 0.5, 0.08, 0.0)
    >>> 0 < c < 1
    True
    """
    sv = np.asarray(variances, dtype=np.float64)
    A, _, E, _ = _series_tables(act, degree, sv)
    a2 = np.min(np.maximum(np.abs(A) - E, 0.0) ** 2, axis=0)
    if n == 1:
        return float(np.sum(a2))
    beta = min(1.0, beta + 2 * sigma_w2 * error_bound / float(sv.min()) + 4 * _EPS)
    r = np.arange(a2.size)
    with np.errstate(under="ignore"):
        gersh = np.maximum(1.0 - (n - 1) * beta ** r, 0.0)
    cert = float(np.sum(a2 * gersh))
    return max(0.0, cert * (1 - 4 * a2.size * _EPS))


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
