"""hermite_dual: the theory of deep equilibrium models with general activations, computable.

Layers (see ``docs/design.md``), data flowing top to bottom:
``activations`` -> ``hermite``/``dual`` -> ``conditions`` -> ``_kernels``/``equilibrium``
-> ``deq`` (with ``data``) -> ``testing`` -> ``cli``/``plotting``.

Public names are imported lazily, so ``import hermite_dual`` is cheap and numba
compiles nothing until a numeric routine is first used.

>>> import hermite_dual as hd
>>> hd.activation("tanh").name
'tanh'
>>> "population_gram" in hd.__all__
True
"""

import importlib

from ._util import numba_cache as _numba_cache

_numba_cache.configure()  # before any submodule imports numba: never cache inside the package

from .activations import Activation, activation, builtin_names  # noqa: E402

__version__ = "0.1.0"

# public name -> submodule that defines it (one source of truth for re-exports)
_LAZY = {
    "hermite_coefficients": "hermite",
    "HermiteExpansion": "hermite",
    "hermite_table": "hermite",
    "hermite_he_orthonormal": "hermite",
    "square_integrable_limit": "hermite",
    "describe_expansion": "hermite",
    "dual": "duals",
    "DualKernel": "duals",
    "describe_dual": "duals",
    "check_conditions": "conditions",
    "ConditionReport": "conditions",
    "Bound": "conditions",
    "ContractionResult": "conditions",
    "contraction": "conditions",
    "describe_conditions": "conditions",
    "population_gram": "equilibrium",
    "cross_gram": "equilibrium",
    "Parameterization": "equilibrium",
    "parameterization": "equilibrium",
    "EquilibriumKernel": "equilibrium",
    "EquilibriumNotConverged": "equilibrium",
    "describe_gram": "equilibrium",
    "least_eigenvalue": "eigen",
    "EigenBound": "eigen",
    "DEQ": "deq",
    "train": "deq",
    "TrainingRun": "deq",
    "width_sweep": "deq",
    "sphere_data": "data",
    "digits_data": "data",
    "image_data": "data",
}

__all__ = ["Activation", "activation", "builtin_names", "__version__", *_LAZY]


def __getattr__(name):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'hermite_dual' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
