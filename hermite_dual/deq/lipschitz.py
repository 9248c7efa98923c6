"""The Lipschitz constant ``L = sup |sigma'|`` a DEQ needs for well-posedness (MATH §4).

From what the caller passed (a number or a :class:`~hermite_dual.ConditionReport`), else
from :func:`~hermite_dual.check_conditions` (exact or the upper end of a certified
enclosure), else a grid estimate that says so.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from ..activations import activation

# ---------------------------------------------------------------------------
# the Lipschitz constant L = sup |sigma'|
# ---------------------------------------------------------------------------

def lipschitz_constant(act):
    """L = sup |sigma'| and where it came from.

    Uses :func:`hermite_dual.check_conditions` when the conditions layer is available:
    the exact value, or the upper end of its certified enclosure (conservative for the
    well-posedness check).  When that layer is missing or leaves the bound undetermined,
    falls back to a float64 grid maximum of ``|sigma'|`` over ``[-60, 60]`` (step 1e-3,
    kinks approached from both sides) -- an estimate, not a certified bound; the source
    string says which.  Results are cached per activation.

    Parameters
    ----------
    act : str or Activation
        The activation.

    Returns
    -------
    (float, str)
        ``(L, source)``; ``L`` is ``inf`` when sigma' is unbounded.

    Examples
    --------
    >>> from hermite_dual.deq import lipschitz_constant
    >>> round(lipschitz_constant("tanh")[0], 12)
    1.0
    >>> round(lipschitz_constant("sigmoid")[0], 12)
    0.25
    """
    return _lipschitz_cached(activation(act))


def _given_lipschitz(given, act):
    """(L, source) from what the caller passed to DEQ, or from check_conditions."""
    from ..conditions import ConditionReport
    if given is None:
        return lipschitz_constant(act)
    if isinstance(given, ConditionReport):
        if given.expr != act.expr:
            raise ValueError(f"the ConditionReport is for {given.name!r}, not for the "
                             f"activation {act.name!r}")
        return _lipschitz_from_bound(act, given.sup_first)
    if isinstance(given, bool) or not isinstance(given, (int, float, np.integer, np.floating)) \
            or not (math.isfinite(given) or given == math.inf) or given < 0:
        raise ValueError(f"lipschitz must be a non-negative number or a ConditionReport, "
                         f"got {given!r}")
    return float(given), "given by the caller"


@functools.lru_cache(maxsize=64)
def _lipschitz_cached(act):
    # check_conditions' budget counts work, so its verdict (and this cache) is the same
    # on any machine
    from ..conditions import check_conditions
    return _lipschitz_from_bound(act, check_conditions(act).sup_first)


def _lipschitz_from_bound(act, bound):
    if bound.status == "exact":
        return float(bound.value), "check_conditions: exact"
    if bound.status == "enclosure":
        return float(bound.upper), "check_conditions: upper end of certified enclosure"
    if bound.status in ("unbounded", "not_a_function"):
        return math.inf, f"check_conditions: {bound.status}"
    return _grid_lipschitz(act), f"grid estimate (check_conditions: {bound.status})"


def _grid_lipschitz(act):
    deriv = act.derivative(1)
    grid = np.linspace(-60.0, 60.0, 120001)
    pts = [grid]
    for k in act.kinks_float:
        pts.append(np.array([k - 1e-9, k + 1e-9]))
    vals = np.abs(deriv(np.concatenate(pts)))
    vals = vals[np.isfinite(vals)] if np.any(np.isfinite(vals)) else vals
    value = float(np.max(vals)) if vals.size else math.inf
    # |sigma'| still growing beyond the grid means it is unbounded (exp, x^2, ...)
    tail = np.abs(deriv(np.array([-120.0, 120.0])))
    if not np.all(np.isfinite(tail)) or tail.max() > value * (1 + 1e-9):
        return math.inf
    return value
