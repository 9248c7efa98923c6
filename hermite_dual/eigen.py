"""The least eigenvalue of a symmetric matrix as a certified interval, at Cholesky cost.

``lambda_* = lambda_min(K)`` is the number the convergence theory turns on (MATH §5).
:func:`least_eigenvalue` returns an :class:`EigenBound` ``[lower, upper]`` that provably
contains ``lambda_min`` of the exact matrix, given a bound on the entrywise error of ``K``,
plus an estimate, without computing the whole spectrum:

* **estimate**: the Rayleigh quotient of the eigenvector of ``K^{-1}``'s largest eigenvalue,
  found by Lanczos (ARPACK through ``scipy.sparse.linalg.eigsh``) on solves with one Cholesky
  factor of ``K`` (for ``n <= 2500`` LAPACK's ``dsyevr`` for the one smallest eigenpair,
  which is cheaper there);
* **upper bound**: that Rayleigh quotient plus a rigorous bound on its rounding error
  (any unit vector's Rayleigh quotient is ``>= lambda_min``);
* **lower bound**: a floating-point Cholesky factorisation of ``K - sigma I`` that runs to
  completion proves ``lambda_min >= sigma - ||F|| - ||Delta||`` (the method of Rump,
  *Verification of positive definiteness*, BIT 46, 2006).  By Demmel's backward error
  result for Cholesky (Higham, *Accuracy and Stability of Numerical Algorithms*, 2nd ed.,
  Thm 10.3), the computed factor satisfies ``R^T R = B + Delta`` with
  ``|Delta| <= gamma_{n+1} |R^T| |R|``, which gives
  ``|Delta_ij| <= gamma/(1-gamma) sqrt(B_ii B_jj)`` and so
  ``||Delta||_2 <= gamma/(1-gamma) trace(B)``, ``gamma = gamma_{n+1} = (n+1)u / (1-(n+1)u)``;
  ``F`` is the rounding of the shifted diagonal, ``||F|| <= u max B_ii``.  Since
  ``R^T R`` is positive semi-definite, ``lambda_min(K) >= sigma - ||F|| - ||Delta||``.
  The bound assumes IEEE double arithmetic without underflow (entries of ``K`` are far from
  the subnormal range) and holds for any order of the inner products, blocked included.
* **the matrix's own error**: if every entry of ``K`` is within ``entry_error`` of the
  exact matrix, Weyl's inequality widens both ends by ``||E||_2 <= n * entry_error``.

The Hermite certificate of MATH §5 (``EquilibriumKernel.certificate``) is a second,
data-independent lower bound: it needs only the largest off-diagonal correlation and holds
for the exact K, but it is often vacuous (zero) when two inputs are close; the interval here
is tight whenever ``K`` is numerically positive definite.

>>> import numpy as np
>>> Q, _ = np.linalg.qr(np.random.default_rng(0).normal(size=(50, 50)))
>>> K = (Q * np.linspace(1e-3, 1.0, 50)) @ Q.T
>>> b = least_eigenvalue(K)
>>> b.certified, b.lower <= 1e-3 <= b.upper, (b.upper - b.lower) / b.estimate < 1e-6
(True, True, True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from ._util import validate

__all__ = ["EigenBound", "least_eigenvalue"]

_U = 2.0 ** -53          # unit roundoff of IEEE double
_DENSE_UP_TO = 2500      # up to this n, LAPACK's one-eigenpair dsyevr beats Lanczos here
_MAX_SHIFTS = 12


#: from this n on, Cholesky by blocks (LAPACK on 2048 x 2048 diagonal blocks, GEMM
#: updates): OpenBLAS 0.3.30's dpotrf and dsyrk, as numpy and scipy ship them, die with
#: SIGSEGV at n = 20,000 here (a stack overflow: they pass under ``ulimit -s unlimited``)
_BLOCKED_FROM = 6000
_BLOCK = 2048


def cholesky_in_place(B, block=_BLOCK):
    """Lower Cholesky factor of the Fortran-ordered ``B``, in place, by blocks.

    Right-looking: LAPACK ``dpotrf`` on each diagonal block, ``dtrsm`` for the panel
    below it, GEMM updates of the trailing lower part one block column at a time (the
    upper triangle is left as it was).  Raises ``numpy.linalg.LinAlgError`` where a
    diagonal block is not positive definite.  The backward error bound of Cholesky
    (Higham, Thm 10.3) holds for any order of the inner products, so for this one.
    Measured at n = 20,000: 36 s, against 60 s for single-threaded LAPACK.

    >>> import numpy as np
    >>> A = np.asfortranarray(np.array([[4.0, 2.0, 2.0], [2.0, 5.0, 3.0], [2.0, 3.0, 6.0]]))
    >>> L = np.tril(cholesky_in_place(A.copy(order="F"), block=2))
    >>> bool(np.allclose(L @ L.T, A))
    True
    """
    from scipy.linalg import blas, lapack
    n = B.shape[0]
    for k in range(0, n, block):
        e = min(k + block, n)
        c, info = lapack.dpotrf(B[k:e, k:e], lower=1, clean=0)
        if info != 0:
            raise np.linalg.LinAlgError(f"leading minor of order {k + info} is not "
                                        "positive definite")
        B[k:e, k:e] = c
        if e < n:
            P = blas.dtrsm(1.0, c, np.asfortranarray(B[e:, k:e]), side=1, lower=1,
                           trans_a=1, overwrite_b=1)
            B[e:, k:e] = P
            for j in range(e, n, block):
                f = min(j + block, n)
                B[j:, j:f] -= P[j - e:] @ P[j - e:f - e].T
    return B


def _gamma(k):
    return k * _U / (1.0 - k * _U)


@dataclass(frozen=True)
class EigenBound:
    """A certified interval for the least eigenvalue of a symmetric matrix.

    Attributes
    ----------
    lower, upper : float
        ``lower <= lambda_min <= upper`` for the exact matrix (within ``entry_error``
        entrywise of the one given); ``lower`` is ``-inf`` when no shift could be verified.
    estimate : float
        The Rayleigh quotient of the computed eigenvector (inside ``[lower, upper]``).
    certified : bool
        ``True`` when both ends are proved (always, unless the input held a NaN).
    method : str
        How each number was obtained.
    shift : float
        The verified Cholesky shift ``sigma`` (``nan`` if none).
    attempts : int
        Cholesky factorisations tried for the lower bound.

    Examples
    --------
    >>> import numpy as np
    >>> b = least_eigenvalue(np.diag([2.0, 5.0]))
    >>> b.positive_definite, b.width < 1e-8, b.lower <= 2.0 <= b.upper
    (True, True, True)
    """

    lower: float
    upper: float
    estimate: float
    certified: bool
    method: str
    shift: float = math.nan
    attempts: int = 0

    @property
    def width(self):
        """``upper - lower``."""
        return self.upper - self.lower

    @property
    def positive_definite(self):
        """``True`` when the interval proves positive definiteness."""
        return self.lower > 0

    def __str__(self):
        return (f"lambda_min in [{self.lower:.10g}, {self.upper:.10g}] "
                f"(estimate {self.estimate:.10g}; {self.method})")


def _as_symmetric(K):
    A = np.asarray(K, dtype=np.float64)
    if A.ndim != 2 or A.shape[0] != A.shape[1] or A.shape[0] < 1:
        raise ValueError(f"K must be a non-empty square matrix, got shape {A.shape!r}")
    # a finite sum proves every entry finite (NaN and inf propagate); cheap, no copy
    if not math.isfinite(float(A.sum())) and not np.all(np.isfinite(A)):
        bad = np.argwhere(~np.isfinite(A))[0]
        raise ValueError(f"K must be finite, got {A[tuple(bad)]!r} at index {tuple(bad)}")
    asym = 0.0
    if A.shape[0] > 1 and not np.array_equal(A, A.T):
        asym = float(np.max(np.abs(A - A.T)))
        A = 0.5 * (A + A.T)
    return np.ascontiguousarray(A), asym


def _eigenvector(A):
    """An approximate eigenvector of lambda_min(A) (unit norm) and how it was found."""
    n = A.shape[0]
    if n <= _DENSE_UP_TO:
        from scipy.linalg import eigh
        w, V = eigh(A, subset_by_index=[0, 0], driver="evr", check_finite=False)
        return V[:, 0], "LAPACK dsyevr, one eigenpair"
    from scipy.linalg import cho_factor, cho_solve
    from scipy.sparse.linalg import LinearOperator, eigsh
    try:
        if n >= _BLOCKED_FROM:
            factor = (cholesky_in_place(np.array(A, order="F")), True)
        else:
            factor = cho_factor(A, lower=True, check_finite=False)
    except np.linalg.LinAlgError:
        # not numerically positive definite: Lanczos on A itself, smallest algebraic
        w, V = eigsh(A, k=1, which="SA", tol=1e-12)
        return V[:, 0], "Lanczos on K (not numerically positive definite)"
    op = LinearOperator((n, n), matvec=lambda v: cho_solve(factor, v, check_finite=False),
                        dtype=np.float64)
    v0 = np.full(n, 1.0 / math.sqrt(n))
    # a loose tolerance suffices: the Rayleigh quotient of the vector is accurate to the
    # square of its error (measured: 1e-6 gives the eigenvalue to ~1e-11 relative at
    # n = 4000, with half the solves of 1e-12 on a clustered bottom)
    w, V = eigsh(op, k=1, which="LM", tol=1e-6, ncv=min(n - 1, 60), v0=v0)
    return V[:, 0], "Lanczos on K^-1 (one Cholesky factor)"


def _rayleigh_upper(A, v):
    """(float Rayleigh quotient, rigorous upper bound of lambda_min(A))."""
    n = A.shape[0]
    Av = A @ v
    absv = np.abs(v)
    mag = 0.0
    for i in range(0, n, 512):              # |A| in row blocks: no n x n temporary
        mag += float(absv[i:i + 512] @ (np.abs(A[i:i + 512]) @ absv))
    return rayleigh_bound(float(v @ Av), float(v @ v), mag, n)


def rayleigh_bound(num, den, mag, n):
    """``(num / den, upper)``: the Rayleigh quotient and a rigorous upper bound of
    ``lambda_min`` from its floating-point pieces ``num = fl(v^T A v)``,
    ``den = fl(v^T v)`` and ``mag = fl(|v|^T |A| |v|)`` (any order of summation, blocked
    included: the error bounds below hold for every order)."""
    g2 = _gamma(2 * n + 2)
    # |fl(v^T A v) - v^T A v| <= gamma_{2n} |v|^T |A| |v|; the magnitude itself is
    # computed in floating point with relative error <= gamma_{2n}, hence the factor
    err_num = g2 * mag * (1 + g2) * (1 + 4 * _U)
    rq = num / den
    hi_num = Fraction(num) + Fraction(err_num)
    lo_den = Fraction(den) * Fraction(1 - _gamma(n + 1) - 4 * _U)
    if hi_num >= 0:
        upper = hi_num / lo_den
    else:
        upper = hi_num / (Fraction(den) * Fraction(1 + _gamma(n + 1) + 4 * _U))
    return rq, _round_up(upper)


def _round_up(fr):
    f = float(fr)
    return f if Fraction(f) >= fr else math.nextafter(f, math.inf)


def _round_down(fr):
    f = float(fr)
    return f if Fraction(f) <= fr else math.nextafter(f, -math.inf)


def _verified_lower(A, sigma):
    """A proved lower bound of lambda_min(A) if Cholesky of fl(A - sigma I) succeeds."""
    n = A.shape[0]
    from scipy.linalg import cholesky
    B = np.array(A, order="F")       # Fortran order: LAPACK factors it in place, no copy
    B[np.diag_indices(n)] -= sigma
    diag = np.diag(B).copy()
    if np.any(diag <= 0):
        return None
    try:
        if n >= _BLOCKED_FROM:
            cholesky_in_place(B)
        else:
            cholesky(B, lower=True, overwrite_a=True, check_finite=False)
    except np.linalg.LinAlgError:
        return None
    return cholesky_bound(sigma, diag)


def cholesky_bound(sigma, diag):
    """The lower bound ``lambda_min(A) >= sigma - ||F|| - ||Delta||`` proved by a
    floating-point Cholesky factorisation of ``fl(A - sigma I)`` that ran to completion,
    from the shift and the shifted diagonal ``diag`` (Rump 2006; Higham Thm 10.3: the
    bound holds for any order of the inner products, so for blocked factorisations too)."""
    n = diag.size
    g = _gamma(n + 1)
    # trace(B) exactly rounded (fsum), then one ulp up; ||Delta|| <= g/(1-g) trace(B)
    trace = Fraction(math.nextafter(math.fsum(diag), math.inf))
    delta = Fraction(g) / (1 - Fraction(g)) * trace * (1 + Fraction(8 * _U))
    f_norm = Fraction(_U) * Fraction(float(diag.max())) * (1 + Fraction(_U))
    return _round_down(Fraction(sigma) - delta - f_norm)


def certify(estimate, upper, diag, entry_error, try_shift, how):
    """The :class:`EigenBound` from an estimate, its proved upper bound and a shift test.

    ``try_shift(sigma)`` returns the proved lower bound if a Cholesky of ``K - sigma I``
    succeeds, else ``None``; the shift starts just below the estimate by the size of
    Cholesky's own backward error and widens geometrically when the factorisation fails
    (a cluster, or a poor estimate).  ``diag`` is K's diagonal.  Shared by
    :func:`least_eigenvalue` and :func:`hermite_dual.distributed.least_eigenvalue`.
    """
    n = diag.size
    absd = np.abs(diag)
    scale = max(float(absd.max()), abs(estimate), 1e-300)
    tau = max(4 * _gamma(n + 1) * float(absd.sum()), 16 * _U * scale, 1e-9 * abs(estimate))
    lower, shift, attempts = -math.inf, math.nan, 0
    for _ in range(_MAX_SHIFTS):
        sigma = min(estimate, upper) - tau
        attempts += 1
        got = try_shift(sigma)
        if got is not None:
            lower, shift = got, sigma
            break
        tau *= 8.0
    widen = float(n) * entry_error
    if widen:
        lower = _round_down(Fraction(lower) - Fraction(widen)) if math.isfinite(lower) else lower
        upper = _round_up(Fraction(upper) + Fraction(widen))
    method = (f"estimate: {how} + Rayleigh quotient; upper: Rayleigh quotient with its "
              f"rounding error; lower: verified Cholesky of K - sigma I (Rump 2006)"
              + (f"; widened by n * entry_error = {widen:.3g}" if widen else ""))
    return EigenBound(lower=lower, upper=upper, estimate=estimate, certified=True,
                      method=method, shift=shift, attempts=attempts)


def least_eigenvalue(K, *, entry_error=0.0):
    """Certified interval for the least eigenvalue of a symmetric matrix.

    Parameters
    ----------
    K : array_like, shape (n, n)
        A symmetric matrix (an asymmetric one is symmetrised, and its asymmetry is added
        to ``entry_error``).
    entry_error : float, default 0
        A bound on ``max |K_ij - K*_ij|`` against the exact matrix ``K*`` the interval
        should hold for (e.g. ``EquilibriumKernel.error_bound``).

    Returns
    -------
    EigenBound

    Raises
    ------
    ValueError
        For a non-square, empty or non-finite ``K``, or a negative or non-finite
        ``entry_error``.

    Notes
    -----
    Cost: one Cholesky factorisation and a few dozen triangular solves for the estimate,
    one Cholesky of ``K - sigma I`` for the lower bound (more only when a shift fails),
    against the full spectrum of ``numpy.linalg.eigvalsh``.  See the module notes for
    the proofs (Rump 2006; Higham 2002, Thm 10.3; Weyl).

    Examples
    --------
    >>> import numpy as np
    >>> b = least_eigenvalue(np.diag([3.0, 1.0, 2.0]))
    >>> b.lower <= 1.0 <= b.upper, round(b.estimate, 12)
    (True, 1.0)
    >>> least_eigenvalue([[1.0, 2.0], [2.0, 1.0]]).upper < 0     # indefinite: -1
    True
    >>> least_eigenvalue(np.eye(3), entry_error=0.1).lower <= 0.7
    True
    """
    A, asym = _as_symmetric(K)
    err = validate.nonnegative(entry_error, "entry_error") + asym
    v, how = _eigenvector(A)
    estimate, upper = _rayleigh_upper(A, v)
    return certify(estimate, upper, np.diag(A).copy(), err,
                   lambda sigma: _verified_lower(A, sigma), how)
