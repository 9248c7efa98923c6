"""Hypothesis strategies for property-testing the theory of DEQs with general activations.

A theorist states a claim as a property; hypothesis hunts for a counterexample and the
library does the mathematics.  The strategies here draw the objects the theory talks
about:

- :func:`activations` -- random activations from a small grammar over the built-ins
  (affine rescalings ``sigma(alpha*x + beta)``, sums, products, compositions), each drawn
  **with its known verdicts** (bounded, Lipschitz, bounded second derivative,
  non-polynomial, closed-form dual), derived from the grammar by sound rules;
- :func:`covariances` -- valid 2x2 covariances ``(q1, q2, c)``, edges included
  (``rho = +-1, 0``, the smallest and largest variances);
- :func:`sphere_data` -- data rows on the sphere of radius ``sqrt(d)``, pairwise
  non-parallel with a minimum angle;
- :func:`deq_configs` -- width, ``sigma_w^2`` inside the well-posedness limit of the drawn
  activation, a step-size fraction and a seed.

Every strategy shrinks toward the simplest case (a plain built-in, unit variances with
``rho = 0``, orthogonal data, the smallest width).

Examples
--------
>>> from hypothesis import given, settings
>>> from hermite_dual.testing import activations
>>> @settings(max_examples=5, derandomize=True, database=None)
... @given(activations(admissible_only=True))
... def check(drawn):
...     assert drawn.admissible is True and drawn.lipschitz_bound < float("inf")
>>> check()
"""

from .data import (
    Covariance,
    DEQConfig,
    covariances,
    deq_configs,
    min_pairwise_angle,
    sphere_data,
)
from ..hostile import hostile_expressions
from .grammar import DrawnActivation, activations, leaf_facts

__all__ = [
    "hostile_expressions",
    "DrawnActivation",
    "Covariance",
    "DEQConfig",
    "activations",
    "covariances",
    "sphere_data",
    "deq_configs",
    "leaf_facts",
    "min_pairwise_angle",
]
