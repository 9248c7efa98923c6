"""Dual kernels K_sigma(q1, q2, c) of any activation (MATH §3).

``dual(act)`` returns a :class:`DualKernel`, cached per activation.  It evaluates the
generalized dual kernel

    K_sigma(q1, q2, c) = E[sigma(u) sigma(v)],  (u, v) ~ N(0, [[q1, c], [c, q2]]),

in float64 with an error bound, in arbitrary precision (an independent oracle), and as a
sympy closed form when one can be derived.

Design (the reasoning behind the numeric routes)
------------------------------------------------
``DualKernel.kernel_with_error`` tries, per point, in this order:

1. **A derived closed form** (:meth:`DualKernel.closed_form`; it passed its numerical
   check).  Before compiling to numpy it is rewritten for float64: ``D = q1 q2 - c^2`` is
   computed with an exact two-product and substituted into every radicand (so
   ``sqrt(q1 q2 - c^2)`` keeps full relative accuracy as ``rho -> 1``), ``asin``/``acos``
   become ``atan2`` of the stabilized pair, and hyperbolic functions of c are expanded
   into single exponentials so ``exp(-(q1+q2)/2) sinh(c)`` never forms ``0 * inf``.
   Bound: ``64 eps`` times ``max(|K|, sqrt(nu(q1) nu(q2)))`` (an estimate; the tests
   check it against the oracle).
2. **The Mehler series with the certified Parseval tail** ``|rho|^(R+1) sqrt(T_R(q1)
   T_R(q2)) <= 1e-13 sqrt(nu(q1) nu(q2))``, R <= 1200 (the largest degree
   ``hermite_table`` serves).  Coefficients come from :mod:`hermite_dual.hermite`:
   *exactly* at the distinct variances of the call when there are at most 48 (the
   equilibrium case: few variances, many correlations), otherwise from a per-activation
   table on a grid uniform in ``log q`` over [1e-3, 1e3] (step 0.04, 346 variances,
   built once, ~8 s) with 10-point Lagrange interpolation.  I measured the
   interpolation error before choosing: step 0.04 with 10 points gives
   ``||a - a_interp||_2 <= 2e-15 sqrt(nu)`` for tanh, gelu and softsign at q from 0.05 to
   10 (8 points need step 0.02); the table re-measures it at every fourth midpoint when it
   is built and adds twice the largest value (times ``sqrt(nu nu)``) to the bound.  A
   Chebyshev fit per degree in log q was rejected: a_k varies like q^(k/2), so it needs
   a high degree and costs degree x R per variance, against 10 x R here.  The tail used
   between grid points is twice the larger tail of the two neighbours (estimated there,
   certified at the grid points).  The numba kernel runs in parallel (prange), one
   covariance per iteration, interpolating row-wise only the R+1 coefficients it needs.
3. **Conditional quadrature where the series is not certified** (|rho| near 1 with large
   variances, or coefficients that decay only algebraically because of kinks):
   ``K = E_u[ sigma(u) g(u) ]``, ``g(u) = E[sigma(c u / q1 + t Z)]``,
   ``t^2 = q2 - c^2 / q1``.  Outer composite Gauss-Legendre (16 nodes, 10-node check) on
   panels at the Gaussian scale, on a grid geometric in |u| that resolves sigma near the
   origin (uniform for periodic sigma; the window widens for exponential growth), at the
   kinks, at their images ``u = k q1 / c`` and on a geometric grading around those images
   down to the width of the nearly-kinked ``g``; inner Gauss-Hermite (10 to 24 nodes by
   t, with a smaller check rule) when the inner window holds no kink and ``t <= 1``,
   composite Gauss-Legendre otherwise; exact ``g = sigma(c u / q1)`` at ``t = 0``, so
   ``rho = +-1`` is covered.  sigma is compiled once to a numba ``cfunc`` and passed as a
   first-class function, so the quadrature kernel itself is cached on disk.  When the
   expression does not compile in numba, a numpy implementation of the same scheme runs
   instead.  Bound: difference of the two rules plus ``64 eps`` times ``E|sigma sigma|``
   (estimated).

**The oracle** (:meth:`DualKernel.precise`) is a separate implementation in ball
arithmetic (python-flint ``arb``): nested composite Gauss-Legendre with nodes computed to
the working precision, panels every three standard deviations, a uniform-then-geometric
feature grid (different from the float64 one), kinks and their images; inner
Gauss-Hermite with a convergence check (falling back to composite rules) or the heat
expansion ``sigma + t^2 sigma''/2`` when t is below ``10^(-(dps+4)/4)``; two
one-dimensional integrals when c = 0.  It never calls the float64 code.  Its accuracy
is tested against the MATH table to 1e-20.  It costs 0.01 s (c = 0) to ~10 s
(moderate rho at q ~ 100) per call.

Examples
--------
>>> import hermite_dual as hd
>>> relu = hd.dual("relu")
>>> round(float(relu(0.0)), 12) == round(1 / (2 * 3.141592653589793), 12)
True
>>> float(hd.dual("identity").kernel(2.0, 3.0, 1.5))
1.5
"""

from .base import c, q1, q2
from .describe import describe_dual
from .kernel import DualKernel, dual

__all__ = [
    "dual",
    "DualKernel",
    "describe_dual",
    "q1",
    "q2",
    "c",
]
