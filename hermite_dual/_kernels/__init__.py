"""Every numba kernel of hermite_dual: pure loops over float64 arrays.

Nothing here sees an activation, validates input or raises: the layers above reduce an
activation to coefficient tables or a closed-form kernel id, check every input, allocate
the outputs and call these loops.  Each jitted function has ``cache=True`` (the cache
lives outside the package, see :mod:`hermite_dual._util.numba_cache`) and keeps its
``.py_func`` for tests that compare compiled against interpreted code.  The kernels live
in importable modules, so they pickle to Dask workers.

* :mod:`.gram` - closed-form and series kernel evaluation, entrywise fixed points,
  Gram tables of the equilibrium layer (MATH §5);
* :mod:`.hermite` - orthonormal Hermite polynomials and panel moments (MATH §1-§2),
  for :mod:`hermite_dual.hermite`;
* :mod:`.mehler` - Mehler-series evaluation over interpolated coefficient tables
  (MATH §3), for :class:`hermite_dual.DualKernel`;
* :mod:`.quadrature` - the bivariate Gauss-Legendre quadrature of K_sigma (MATH §3).
"""

from .gram import *  # noqa: F401,F403 - the equilibrium kernels, under their old names
from .gram import __all__ as _gram_all
from .mehler import (_interp_rows, _lagrange_weights, _mehler_exact_kernel,  # noqa: F401
                     _mehler_table_kernel, mehler_rows, mehler_rows_value)
from .quadrature import _nb_inner, _nb_point, _nb_quad_kernel  # noqa: F401

__all__ = list(_gram_all)
