"""The kernel-map contraction (C4 of MATH §7): sufficient bound and measured factor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .._json import to_jsonable
from .._util import validate
from ..activations import activation
from .bounds import _up

# ---------------------------------------------------------------------------
# C4: contraction of the population kernel map
# ---------------------------------------------------------------------------

def _check_sigma_w2(value):
    return validate.sigma_w2(value)


@dataclass(frozen=True)
class ContractionResult:
    """Contraction factors of the population kernel map at a weight scale sigma_w^2.

    Attributes
    ----------
    sigma_w2 : float
    sufficient_factor : float
        Upper bound of ``2 sigma_w^2 (L^2 + sup|sigma| sup|sigma''|)`` (MATH §7,
        C4) from the certified suprema; ``inf`` when a supremum is infinite (with the
        convention ``0 * inf = 0`` when sigma'' vanishes identically), ``nan`` when one
        is undetermined.
    sufficient_holds : bool or None
        ``sufficient_factor < 1`` (a proof of C4 when True).
    measured_factor : float
        ``max(measured_diagonal, measured_offdiagonal)``: the sup, over the variances the
        iteration from ``K^(0) = 0`` visits, of the derivative of the kernel map
        (estimated from float64 dual kernels; see :func:`contraction`).
    measured_diagonal, measured_offdiagonal : float
    local_factor : float
        The same derivative at the fixed point only (the asymptotic rate).
    kappa : float
        The diagonal fixed point ``kappa = nu(s)``.
    variance : float
        ``s = 2 sigma_w^2 kappa + 2``.
    q_range : tuple of float
        The hull of the visited variances ``s_l``.
    converged : bool
    iterations : int
    residual : float
        ``|kappa_{l+1} - kappa_l|`` at the last step.
    holds : bool or None
        ``measured_factor < 1`` (None when the iteration did not converge).
    abs_error : float
        Estimated error of the measured factors (difference of two finite-difference
        steps plus the dual kernels' error bounds).
    """

    sigma_w2: float
    sufficient_factor: float
    sufficient_holds: object
    measured_factor: float
    measured_diagonal: float
    measured_offdiagonal: float
    local_factor: float
    kappa: float
    variance: float
    q_range: tuple
    converged: bool
    iterations: int
    residual: float
    holds: object
    abs_error: float
    note: str = ""

    def to_dict(self):
        """JSON-able dict."""
        return to_jsonable({
            "sigma_w2": self.sigma_w2,
            "sufficient_factor": self.sufficient_factor,
            "sufficient_holds": self.sufficient_holds,
            "measured_factor": self.measured_factor,
            "measured_diagonal": self.measured_diagonal,
            "measured_offdiagonal": self.measured_offdiagonal,
            "local_factor": self.local_factor,
            "kappa": self.kappa,
            "variance": self.variance,
            "q_range": list(self.q_range),
            "converged": self.converged,
            "iterations": self.iterations,
            "residual": self.residual,
            "holds": self.holds,
            "abs_error": self.abs_error,
            "note": self.note,
        })


def _sufficient(sigma_w2, b0, b1, b2):
    if any(b.status == "undetermined" for b in (b1,)) or (
            b2.status == "undetermined" or b0.status == "undetermined"):
        return math.nan, None
    if b2.status == "exact" and b2.exact == 0:
        prod = 0.0
    else:
        prod = b0.upper * b2.upper
    factor = 2 * sigma_w2 * (b1.upper ** 2 + prod)
    factor = _up(factor) if math.isfinite(factor) else math.inf
    return factor, bool(factor < 1)


def contraction(act, sigma_w2, *, report=None, max_iter=10000, tol=1e-13):
    """Contraction factors of the population kernel map (MATH §5 and §7, C4).

    For equal-norm data the population map ``K -> K_sigma(Sigma)`` with
    ``Sigma = 2 sigma_w^2 K + (2/d) X^T X`` splits into

    * the diagonal: ``kappa -> nu(s)``, ``s = 2 sigma_w^2 kappa + 2``, whose derivative is
      ``2 sigma_w^2 nu'(s)`` with ``nu'(q) = E[sigma'(U)^2] + E[sigma(U) sigma''(U)]``,
      ``U ~ N(0, q)`` (Price's theorem along the diagonal; computed here as a
      Richardson-extrapolated central difference of ``nu(q) = K_sigma(q, q, q)``, taken
      from the Hermite layer's norm ``hermite_coefficients(act, 1, q).norm2``);
    * each off-diagonal entry: ``K_ij -> K_sigma(s, s, 2 sigma_w^2 K_ij + 2 t_ij)``, whose
      derivative is ``2 sigma_w^2 K_{sigma'}(s, s, Sigma_ij)`` (Price's theorem); by
      Cauchy-Schwarz its sup over ``|Sigma_ij| <= s`` is ``2 sigma_w^2 E[sigma'(U)^2]``
      ``= 2 sigma_w^2 K_{sigma'}(s, s, s)``, approached as ``t_ij -> 1``.  It is computed
      as the norm of the Hermite expansion of sigma' (the diagonal of the dual kernel of
      sigma', equal to ``hd.dual(act).derivative().kernel(s, s, s)``, which the tests
      check; the Hermite route is used because it costs milliseconds where the dual
      layer's first call can spend seconds deriving a closed form).  When sigma' is not a
      function (step) this factor is infinite.

    The Jacobian is block triangular (the diagonal does not depend on the off-diagonal),
    so the map contracts with factor ``max(diagonal, off-diagonal)``.  The **measured**
    factor is that maximum taken over every variance ``s_l`` the iteration from
    ``K^(0) = 0`` visits (the reachable covariances), sampled on a grid of their hull;
    the **local** factor is its value at the fixed point (grid: 9 points of the hull plus
    the visited variances).  Both are float64 estimates,
    not certified.  The **sufficient** factor ``2 sigma_w^2 (L^2 + sup|sigma|
    sup|sigma''|)`` of MATH §7 bounds both (``|nu'| <= L^2 + sup|sigma|
    sup|sigma''|`` and ``E[sigma'^2] <= L^2``) and is certified from the suprema.

    Parameters
    ----------
    act : str, sympy.Expr or Activation
    sigma_w2 : float
        The weight scale, > 0.
    report : ConditionReport, optional
        Reuse its suprema instead of recomputing them.
    max_iter : int
        Cap on the fixed-point iterations of the diagonal.
    tol : float
        Stop when ``|kappa_{l+1} - kappa_l| <= tol * max(1, kappa)``.

    Returns
    -------
    ContractionResult

    Raises
    ------
    ValueError
        For a bad activation or ``sigma_w2`` that is not a positive finite number.

    Examples
    --------
    Identity: ``nu(q) = q``, so both factors equal ``2 sigma_w^2``.

    >>> import hermite_dual as hd
    >>> r = hd.contraction("identity", 0.25)
    >>> round(r.measured_factor, 8), r.sufficient_factor
    (0.5, 0.5)
    """
    act = activation(act)
    sw = _check_sigma_w2(sigma_w2)
    if report is None:
        from .check import check_conditions  # check_conditions calls contraction
        report = check_conditions(act)
    from ..hermite import hermite_table  # the layer below; imported lazily

    def nu_many(a, qs):
        # E[a(sqrt(q) Z)^2] = K_a(q, q, q): the diagonal of the dual kernel of a, i.e. the
        # norm of its Hermite expansion (equal to hd.dual(a).kernel(q, q, q), tested);
        # one table call for all the variances
        return hermite_table(a, 1, np.asarray(qs, dtype=np.float64).ravel())[1]

    def nu_of(a, q):
        return float(nu_many(a, [float(q)])[0])

    try:
        dact = act.derivative()
    except ValueError as exc:
        dact = None
        dnote = (f"sigma' is not a function ({exc}); K_sigma'(s, s, c) = E[delta(u) "
                 "delta(v)] grows without bound as c -> s, so the off-diagonal factor is "
                 "infinite")
    else:
        dnote = ""
    suff, suff_holds = _sufficient(sw, report.sup_abs, report.sup_first, report.sup_second)

    # diagonal fixed point kappa = nu(2 sw kappa + 2), from K^(0) = 0
    kappa, visited, converged, residual, it = 0.0, [2.0], False, math.inf, 0
    diverged = ""
    for it in range(1, max_iter + 1):
        s = 2 * sw * kappa + 2
        try:
            new = nu_of(act, s)
        except (ValueError, OverflowError, FloatingPointError) as exc:
            diverged = f" ({exc})"
            break
        residual = abs(new - kappa)
        kappa = new
        if not math.isfinite(kappa) or kappa > 1e150:
            break
        visited.append(2 * sw * kappa + 2)
        if residual <= tol * max(1.0, abs(kappa)):
            converged = True
            break
    s_star = 2 * sw * kappa + 2
    nan = math.nan
    if not converged:
        note = ("the diagonal iteration did not converge "
                f"(kappa = {kappa:.6g} after {it} steps{diverged}): no fixed point, no "
                "measured factor")
        return ContractionResult(
            sigma_w2=sw, sufficient_factor=suff, sufficient_holds=suff_holds,
            measured_factor=nan, measured_diagonal=nan, measured_offdiagonal=nan,
            local_factor=nan, kappa=kappa, variance=s_star,
            q_range=(min(visited), max(visited)), converged=False, iterations=it,
            residual=residual, holds=None, abs_error=nan, note=note)
    qlo, qhi = min(visited), max(visited)
    # the hull of the visited variances, sampled with its visited points (deduplicated)
    grid = np.unique(np.concatenate([np.linspace(qlo, qhi, 9), np.array(visited)]))
    # (dedupe without rounding: np.round(q, 10) overflowed to inf for q > 1e298)

    def factors(q):
        """Diagonal and off-diagonal derivative factors and an error estimate, vectorized in q."""
        q = np.asarray(q, dtype=np.float64)
        h1, h2 = 1e-4 * q, 2e-4 * q
        pts = np.concatenate([q + h1, q - h1, q + h2, q - h2, q])
        nu = nu_many(act, pts).reshape(5, -1)
        d1 = (nu[0] - nu[1]) / (2 * h1)
        d2 = (nu[2] - nu[3]) / (2 * h2)
        # Richardson: the O(h^2) error of the h1 estimate is about (d1 - d2)/3; the
        # float64 kernel values (relative ~1e-13) add rounding of order 1e-13 nu / h1
        diag = np.abs(d1 + (d1 - d2) / 3)
        err = np.abs(d1 - d2) / 3 + 1e-12 * np.maximum(1.0, np.abs(nu[4])) / h1
        if dact is not None:
            off = nu_many(dact, q)
        else:
            off = np.full_like(q, math.inf)
        return 2 * sw * diag, 2 * sw * off, 2 * sw * err

    diag_v, off_v, err_v = factors(grid)
    diag_sup = float(diag_v.max())
    off_sup = float(off_v.max())
    err = float(err_v.max())
    loc = [float(v[0]) for v in factors(np.array([s_star]))]
    measured = max(diag_sup, off_sup)
    local = max(loc[0], loc[1])
    note = dnote or ("equal-norm data; measured factors are float64 estimates on a "
                     f"{grid.size}-point grid of the visited variances")
    return ContractionResult(
        sigma_w2=sw, sufficient_factor=suff, sufficient_holds=suff_holds,
        measured_factor=measured, measured_diagonal=diag_sup, measured_offdiagonal=off_sup,
        local_factor=local, kappa=kappa, variance=s_star, q_range=(qlo, qhi),
        converged=True, iterations=it, residual=residual,
        holds=bool(measured + err < 1) if measured + err < 1 or measured - err >= 1 else None,
        abs_error=err, note=note)
