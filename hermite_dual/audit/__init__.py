"""Theory audit: hypothesis hunts for counterexamples to claims of the DEQ convergence papers.

``python3 -m hermite_dual.audit [--budget N] [--seed S] [--out docs/theory-audit.md]``
runs one seeded hypothesis search per claim (strategies from :mod:`hermite_dual.testing`,
the mathematics from the library) and writes a Markdown report: each claim, the search
budget, the outcome and the shrunk counterexample with its numbers.

Claims (MATH §5-§7):

(a) ``sigma_w^2 < 1/(8 L^2)`` is sufficient for the population kernel map to be a
    contraction (measured over the variances the iteration from ``K^(0) = 0`` visits,
    :func:`hermite_dual.conditions.contraction`).
(b) every admissible sigma gives ``lambda_* > 0`` on non-parallel data (b1), and the
    Hermite certificate is positive (b2).
(c) the observed loss stays below ``(1 - eta lambda_0 / 2)^tau Phi(0)`` for step sizes the
    theorem allows (``eta < 2/lambda_0``; drawn below the stability limit
    ``2/lambda_max(H(0))``, which implies it).
(d) part (9) of Ling et al.'s initial condition is satisfiable at realistic n.
(e) the bounded-derivative conditions alone imply infinitely many non-zero Hermite
    coefficients (hence ``lambda_* > 0``).

The budget is the number of generated examples per search (hypothesis ``max_examples``);
each search also has a wall-clock cap, after which untried candidates count as passing
(the report says when the cap was hit).  The default budget runs in a few minutes.
"""

from .claims import CLAIMS, DEFAULT_BUDGET
from .report import main, render_markdown, run_audit

__all__ = [
    "run_audit",
    "render_markdown",
    "main",
    "DEFAULT_BUDGET",
    "CLAIMS",
]
