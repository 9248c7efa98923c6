"""Every numba kernel of hermite_dual: pure loops over float64 arrays.

Nothing here sees an activation, validates input or raises: the layers above reduce an
activation to coefficient tables or a closed-form kernel id, check every input, allocate
the outputs and call these loops.  Each jitted function has ``cache=True`` (the cache
lives outside the package, see :mod:`hermite_dual._util.numba_cache`) and keeps its
``.py_func`` for tests that compare compiled against interpreted code.  The kernels live
in importable modules, so they pickle to Dask workers.

* :mod:`.gram` - closed-form and series kernel evaluation, entrywise fixed points,
  Gram tables of the equilibrium layer (MATH §5);
* :mod:`.pairs` - ordered-sum inner products of the data, the first parallel pair, the
  largest off-diagonal correlation (MATH §4-§5);
* :mod:`.tangent` - the tangent kernel's Kdot and Theta (MATH §5), with the evaluators
  of :mod:`.gram`;
* :mod:`.hermite` - orthonormal Hermite polynomials and panel moments (MATH §1-§2),
  for :mod:`hermite_dual.hermite`;
* :mod:`.mehler` - Mehler-series evaluation over interpolated coefficient tables
  (MATH §3), for :class:`hermite_dual.DualKernel`;
* :mod:`.quadrature` - the bivariate Gauss-Legendre quadrature of K_sigma (MATH §3);
* :mod:`.ufuncs` - vectorised ``erf``/``erfc`` for the generated float64 callables.

Nothing is imported eagerly (numba's import costs ~0.3 s, and ``import hermite_dual``
must stay cheap); the equilibrium kernels' names resolve on the package lazily, so
``hermite_dual._kernels.KIND_RELU`` still works.
"""


def __getattr__(name):
    import importlib
    if name.startswith("__") or name in ("gram", "hermite", "mehler", "pairs", "quadrature",
                                         "tangent", "ufuncs"):
        raise AttributeError(name)
    for module in (".gram", ".pairs"):
        value = getattr(importlib.import_module(module, __name__), name, _MISSING)
        if value is not _MISSING:
            return value
    raise AttributeError(f"module 'hermite_dual._kernels' has no attribute {name!r}")


_MISSING = object()
