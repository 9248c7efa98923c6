"""Conditions on the activation: certified sup|sigma|, sup|sigma'|, sup|sigma''| and C0-C4.

Truong's convergence theorem for deep equilibrium models needs an activation with a
bounded first derivative (C1, which also fixes the admissible weight scale
``sigma_w^2 < 1/(8 L^2)``), a bounded second derivative (C2) and a non-polynomial
activation (C3); see MATH §7.  This module answers those questions with a
proof or a certified bound, never with a guess from a sampled grid:

* **exact** suprema by sympy: the real line is cut at the kinks of sigma, each piece
  carries one smooth branch, and the supremum of |g| on a piece is the largest of |g|
  at the critical points (solved exactly) and the one-sided limits at the ends;
* otherwise a **certified enclosure** by python-flint's arb ball arithmetic over the
  whole real line: each piece is compactified (``x = t/(1-t^2)``), subdivided
  adaptively (branch and bound with a mean-value form), and the tails ``|x| >= X`` are
  enclosed by extended interval arithmetic, until the enclosure is tight to a relative
  ``1e-6``;
* **unbounded** with a witness: a divergent limit from sympy's Gruntz algorithm, or, for
  oscillating growth with no limit (``x sin(x)``, ``exp(x) sin(exp(x))``), a sequence
  ``x_n`` that freezes the oscillation and along which sympy's limit is infinite
  (:mod:`~hermite_dual.conditions.witness`);
* **not a function** when a lower derivative jumps (relu: sigma' jumps at 0, so
  sigma'' contains a Dirac mass and C2 fails);
* **undetermined** (with what was tried) when the work budget runs out.

Why python-flint: mpmath's interval context has no tanh, atan or erf, while arb balls
(python-flint) enclose every elementary and error function rigorously, with exponents of
unbounded range (``exp(1e30)`` is a ball, not an overflow).  Where a ball cannot reach
(the tails ``[X, inf)``), a small extended-interval arithmetic with monotone limits and a
decay rule for ``x**p exp(h(x))`` takes over; everything it cannot bound ends
``'undetermined'``, never as a number.  Measured on the built-ins: every forced
enclosure contains the exact value and is tight to a relative ``<= 1e-6``.

Examples
--------
>>> import hermite_dual as hd
>>> rep = hd.check_conditions("tanh")
>>> rep.sup_second.exact
4*sqrt(3)/9
>>> rep.admissible, rep.max_sigma_w2
(True, 0.125)
>>> hd.check_conditions("relu").sup_second.status
'not_a_function'
"""

from .bounds import Bound
from .check import ConditionReport, check_conditions, describe_conditions
from .kernel_map import ContractionResult, contraction
from .table import verdict_table_markdown

__all__ = [
    "Bound",
    "ConditionReport",
    "ContractionResult",
    "check_conditions",
    "contraction",
    "describe_conditions",
    "verdict_table_markdown",
]
