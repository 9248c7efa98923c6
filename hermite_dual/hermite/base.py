""":class:`HermiteExpansion`, the polynomials ``h_k`` (MATH §1), input rules, the L2 limit.

``hermite_he_orthonormal`` evaluates the orthonormal probabilists' polynomials by the
stable three-term recurrence; ``square_integrable_limit`` gives the largest variance at
which ``sigma(sqrt(q) Z)`` is in L2 (infinite unless sigma grows like ``exp(a x^2)``).
"""

from __future__ import annotations

import functools
import math
import numbers
from dataclasses import dataclass

import numpy as np
import sympy as sp

from .._kernels.hermite import _he_orthonormal_kernel
from .._util import validate
from ..activations import Activation, activation
from ..symbolic.numeric import to_mpmath

_METHODS = ("fast", "precise", "exact")
_MAX_DEGREE = 1200


def hermite_he_orthonormal(k_max, z):
    """Orthonormal probabilists' Hermite polynomials h_0..h_kmax at the points z.

    Parameters
    ----------
    k_max : int
        Highest degree (>= 0).
    z : array_like
        Points (any shape).

    Returns
    -------
    numpy.ndarray
        Shape ``z.shape + (k_max + 1,)``; ``out[..., k] = h_k(z) = He_k(z) / sqrt(k!)``.

    Raises
    ------
    ValueError
        If ``k_max`` is not a non-negative integer or z is not finite.

    Notes
    -----
    Stable three-term recurrence (MATH §1)
    ``h_0 = 1, h_1 = z, h_{k+1} = (z h_k - sqrt(k) h_{k-1}) / sqrt(k+1)``; no factorials
    are formed, so degrees in the hundreds are fine.

    Examples
    --------
    >>> hermite_he_orthonormal(3, [2.0])   # He_3(2)/sqrt(6) = (8 - 6)/sqrt(6)
    array([[1.        , 2.        , 2.12132034, 0.81649658]])
    """
    k_max = _check_degree(k_max, name="k_max")
    zz = np.asarray(z, dtype=np.float64)
    if not np.all(np.isfinite(zz)):
        raise ValueError(f"hermite_he_orthonormal needs finite points, got {z!r}")
    flat = np.ascontiguousarray(zz.reshape(-1))
    out = np.empty((flat.size, k_max + 1), dtype=np.float64)
    _he_orthonormal_kernel(k_max, flat, out)
    return out.reshape(zz.shape + (k_max + 1,))


# ---------------------------------------------------------------------------
# Validation helpers
# ---------------------------------------------------------------------------

def _check_degree(degree, name="degree"):
    if isinstance(degree, bool) or not isinstance(degree, (numbers.Integral, np.integer)):
        raise ValueError(f"{name} must be a non-negative integer, got {degree!r}")
    if degree < 0 or degree > _MAX_DEGREE:
        raise ValueError(f"{name} must be an integer in [0, {_MAX_DEGREE}], got {degree!r}")
    return int(degree)


def _check_q_float(q):
    if isinstance(q, bool) or isinstance(q, str) or (
            isinstance(q, sp.Basic) and not (q.is_number and q.is_real)):
        raise ValueError(f"variance q must be a positive finite real number, got {q!r}")
    try:
        value = float(q)
    except (TypeError, ValueError):
        raise ValueError(f"variance q must be a positive finite real number, got {q!r}") from None
    if not math.isfinite(value) or value <= 0.0:
        raise ValueError(f"variance q must be a positive finite real number, got {q!r}")
    return value


def _check_qs(qs):
    try:
        arr = np.asarray(qs, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"variances qs must be positive finite real numbers, got {qs!r}") from None
    if arr.ndim > 1:
        raise ValueError(f"variances qs must be a scalar or a 1-d array, got shape {arr.shape}")
    arr = np.atleast_1d(arr)
    bad = ~np.isfinite(arr) | (arr <= 0.0)
    if np.any(bad):
        raise ValueError(f"variances qs must be positive finite real numbers, got "
                         f"{arr[bad][0]!r} in {qs!r}")
    return np.ascontiguousarray(arr)


def _check_limit(act, q):
    limit = square_integrable_limit(act)
    if q >= limit:
        raise ValueError(
            f"activation {act.name!r} is not square-integrable at variance q={q!r}: "
            f"sigma(sqrt(q) Z) is in L2 only for q < {limit!r}")


# ---------------------------------------------------------------------------
# Square integrability
# ---------------------------------------------------------------------------

@functools.lru_cache(maxsize=512)
def _growth_rate(expr):
    """g = limsup log|sigma(x)| / x^2 as |x| -> oo (0 for polynomial or exp-linear growth)."""
    import mpmath

    fn = to_mpmath(expr)
    rates = []
    with mpmath.workdps(30):
        for side in (1, -1):
            vals = []
            for big in (1e3, 1e4, 1e5):
                try:
                    v = abs(mpmath.mpf(fn(mpmath.mpf(side * big))))
                except (ValueError, ZeroDivisionError, OverflowError, TypeError):
                    v = mpmath.mpf(0)
                vals.append((big, v))
            # fit log|sigma| = g x^2 + b x + c through three points: exact for
            # exp(g x^2 + b x + c), off by O(n log(x) / x^2) for an extra factor x^n
            if any(v == 0 for _, v in vals):
                rates.append(0.0)
                continue
            xs = [mpmath.mpf(side * b_) for b_, _ in vals]
            ys = [mpmath.log(v) for _, v in vals]
            d1 = (ys[1] - ys[0]) / (xs[1] - xs[0])
            d2 = (ys[2] - ys[1]) / (xs[2] - xs[1])
            rates.append(float((d2 - d1) / (xs[2] - xs[0])))
    g = max(rates)
    if g <= 1e-7:
        return 0.0
    # snap to a simple rational (exp(x**2/3) -> 1/3) when the estimate is that close
    from fractions import Fraction
    snapped = float(Fraction(g).limit_denominator(1000))
    return snapped if abs(snapped - g) <= 1e-6 * g else g


def square_integrable_limit(act):
    """Supremum of the variances q for which sigma(sqrt(q) Z) is square-integrable.

    Parameters
    ----------
    act : str or sympy.Expr or Activation
        Anything :func:`hermite_dual.activation` accepts.

    Returns
    -------
    float
        ``inf`` for bounded, polynomial or ``exp(linear)`` growth; ``1/(4 g)`` for growth
        like ``exp(g x^2)`` (``E[exp(2 g q Z^2)] < inf`` iff ``q < 1/(4 g)``).

    Notes
    -----
    ``g = lim log|sigma(x)| / x^2`` is measured by fitting ``g x^2 + b x + c`` to
    ``log|sigma|`` at ``|x| = 10^3, 10^4, 10^5`` (in mpmath, both signs), which is exact
    for ``exp(g x^2 + b x + c)`` and off by ``O(10^-8)`` for an extra polynomial factor;
    ``g <= 1e-7`` counts as no Gaussian growth, and g is snapped to a nearby simple
    rational.

    Examples
    --------
    >>> square_integrable_limit("tanh")
    inf
    >>> square_integrable_limit("exp(x**2)")
    0.25
    >>> square_integrable_limit("x**3*exp(x**2/2)")
    0.5
    """
    act = activation(act)
    g = _growth_rate(act.expr)
    return math.inf if g == 0.0 else 1.0 / (4.0 * g)


def _check_dps(dps):
    return validate.dps(dps)


def _check_q_precise(q):
    """A positive finite real q as an exact mpmath-convertible value (float, int, Rational)."""
    if isinstance(q, sp.Basic):
        if not (q.is_number and q.is_real and q.is_positive and q.is_finite):
            raise ValueError(f"variance q must be a positive finite real number, got {q!r}")
        return q
    _check_q_float(q)
    return q


def _check_q_exact(q):
    if isinstance(q, sp.Basic):
        if q.is_number:
            return _check_q_precise(q)
        if not q.is_positive:
            raise ValueError(f"a symbolic variance must be declared positive "
                             f"(sympy.Symbol('q', positive=True)), got {q!r}")
        if len(q.free_symbols) != 1:
            raise ValueError(f"a symbolic variance must have one free symbol, got {q!r}")
        return q
    _check_q_float(q)
    if isinstance(q, (float, np.floating)):
        return sp.Rational(repr(float(q)))        # the decimal the user wrote: 0.7 is 7/10
    return sp.Rational(q)


# ---------------------------------------------------------------------------
# The result object and the public entry point
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class HermiteExpansion:
    """Hermite coefficients a_0..a_R of an activation at a variance q.

    Attributes
    ----------
    activation : Activation
    q : float or sympy.Expr
        The variance (a positive sympy Symbol allowed for ``method="exact"``).
    method : str
        ``"fast"``, ``"precise"`` or ``"exact"``.
    coefficients : numpy.ndarray or tuple
        a_0..a_R: float64 array (fast), tuple of ``mpmath.mpf`` (precise), tuple of
        sympy expressions (exact).
    norm2 : float or mpf or sympy.Expr
        nu(q) = E[sigma(sqrt(q) Z)^2], integrated directly, independent of the a_k.
    tail : float or mpf or sympy.Expr
        T_R(q) = nu(q) - sum_{k<=R} a_k(q)^2.
    abs_error : float or mpf
        Error estimate (fast, precise: not a bound) of max_k |a_k - computed a_k|;
        ``0`` for exact.
    tail_error : float or mpf
        Error estimate of ``tail`` (from the errors of nu and of the a_k).
    errors : tuple or numpy.ndarray
        Per-coefficient error estimates.
    dps : int or None
        Working precision of ``"precise"`` (None otherwise).

    Notes
    -----
    ``tail >= -tail_error`` always (Parseval); for ``"exact"`` the norm is a closed form
    when the engine finds one (e.g. ReLU ``q/2``) and otherwise a 30-digit sympy Float
    from the precise method (numeric q) or None (symbolic q), with ``tail`` alike.

    Examples
    --------
    >>> import sympy as sp
    >>> import hermite_dual as hd
    >>> q = sp.Symbol("q", positive=True)
    >>> e = hd.hermite_coefficients("sin", 3, q, method="exact")
    >>> e.coefficients[1], e.coefficients[3]        # MATH section 2
    (sqrt(q)*exp(-q/2), -sqrt(6)*q**(3/2)*exp(-q/2)/6)
    >>> e.norm2
    1/2 - exp(-2*q)/2
    """

    activation: Activation
    q: object
    method: str
    coefficients: object
    norm2: object
    tail: object
    abs_error: object
    tail_error: object
    errors: object
    dps: object = None

    @property
    def degree(self):
        """Highest degree R."""
        return len(self.coefficients) - 1
