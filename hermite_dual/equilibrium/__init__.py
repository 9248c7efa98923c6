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

from .base import EquilibriumNotConverged
from .result import EquilibriumKernel, describe_gram
from .cross import cross_gram
from .variances import Parameterization, parameterization
from .solve import population_gram

__all__ = [
    "EquilibriumKernel",
    "EquilibriumNotConverged",
    "population_gram",
    "cross_gram",
    "Parameterization",
    "parameterization",
    "describe_gram",
]
