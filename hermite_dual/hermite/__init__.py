"""Hermite coefficients a_k(q) of an activation at a variance q (MATH §1-§2).

    a_k(q) = E[ sigma(sqrt(q) Z) h_k(Z) ],   nu(q) = E[ sigma(sqrt(q) Z)^2 ],
    T_R(q) = nu(q) - sum_{k<=R} a_k(q)^2,

with ``h_k = He_k / sqrt(k!)`` the orthonormal probabilists' Hermite polynomials.

Three independent routes:

* ``"fast"`` (float64): adaptive composite Gauss-Legendre panels in z with breakpoints at
  the kinks (``x0 / sqrt(q)``), a refinement on the x-scale ``1/sqrt(q)`` and bisection of
  every panel where a 20-point and a 14-point rule disagree; the stable orthonormal
  recurrence of :func:`hermite_he_orthonormal` inside a numba kernel.  Vectorised over q
  by :func:`hermite_table`.
* ``"precise"`` (mpmath, ``dps`` digits): the fast path's panels, widened to where the
  integrand is below ``10^-(dps+10)``, with breakpoints at the kinks in full precision,
  each bisected until a 48-point and a 40-point Gauss-Legendre rule at working precision
  agree to ``10^-(dps+3) max(1, sqrt(nu))``; the recurrence runs in fixed-point integer
  arithmetic with guard bits for the size of h_k.
* ``"exact"`` (sympy): Stein's identity ``a_k(q) = q^(k/2) E[sigma^(k)(sqrt(q) Z)] / sqrt(k!)``
  with Gaussian-expectation rules for polynomial x exp(quadratic) x erf(linear) terms,
  Heaviside half-lines and Dirac masses.

Examples
--------
>>> import numpy as np
>>> import hermite_dual as hd
>>> e = hd.hermite_coefficients("identity", 3, q=4.0)
>>> np.round(e.coefficients, 12)
array([0., 2., 0., 0.])
>>> abs(e.tail) < 1e-12
True
"""

from .base import HermiteExpansion, hermite_he_orthonormal, square_integrable_limit
from .expansion import describe_expansion, hermite_coefficients
from .fast import hermite_table

__all__ = [
    "hermite_coefficients",
    "HermiteExpansion",
    "hermite_table",
    "hermite_he_orthonormal",
    "square_integrable_limit",
    "describe_expansion",
]
