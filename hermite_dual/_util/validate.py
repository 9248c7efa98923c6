"""One rule per concept for the inputs of every public function.

Each rule takes the value and the name the user knows it by, returns the value in the
form the code wants, and raises ``ValueError`` (``TypeError`` only for a wrong *kind* of
object where a caller documents it) with the value quoted and the limit named.

>>> sigma_w2(0.08)
0.08
>>> sigma_w2(0)             # no feedback (W = 0) is a valid, degenerate DEQ
0.0
>>> sigma_w2(-0.1)
Traceback (most recent call last):
...
ValueError: sigma_w2 must be >= 0, got -0.1
>>> real(float("nan"), "q")
Traceback (most recent call last):
...
ValueError: q must be finite, got nan
"""

import math
import numbers

import numpy as np

__all__ = ["real", "positive", "nonnegative", "integer", "positive_integer", "sigma_w2", "dps",
           "data_matrix", "rows_apart", "targets", "PARALLEL_COS"]

#: rows whose cosine exceeds this in absolute value count as parallel (MATH §4 excludes
#: them: the Gram matrices would be singular)
PARALLEL_COS = 1.0 - 1e-12


def _fmt_limit(v):
    return str(v)


def real(value, name, *, lo=None, lo_open=False, hi=None, hi_open=False):
    """A finite real number (not a bool, not a string), optionally within limits."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if lo is not None and (v < lo or (lo_open and v == lo)):
        raise ValueError(f"{name} must be {'>' if lo_open else '>='} {_fmt_limit(lo)}, "
                         f"got {value!r}")
    if hi is not None and (v > hi or (hi_open and v == hi)):
        raise ValueError(f"{name} must be {'<' if hi_open else '<='} {_fmt_limit(hi)}, "
                         f"got {value!r}")
    return v


def positive(value, name):
    """A finite real number > 0."""
    v = real(value, name)
    if v <= 0:
        raise ValueError(f"{name} must be positive, got {value!r}")
    return v


def nonnegative(value, name):
    """A finite real number >= 0."""
    return real(value, name, lo=0)


def integer(value, name, lo=None, hi=None):
    """An integer (numpy integers too, not bools) within ``[lo, hi]``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise ValueError(f"{name} must be in [{lo if lo is not None else '-inf'}, "
                         f"{hi if hi is not None else 'inf'}], got {value!r}")
    return int(value)


def positive_integer(value, name):
    """An integer >= 1 (numpy integers too, not bools)."""
    if (isinstance(value, bool) or not isinstance(value, numbers.Integral)
            or value < 1):
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


#: decimal digits any precise route accepts; a route may cap lower and say why
DPS_RANGE = (10, 1000)


def dps(value, *, hi=DPS_RANGE[1], why=""):
    """Decimal digits of an mpmath/arb computation: an integer in ``[10, hi]``.

    One rule for every precise route (Hermite coefficients up to 1000 digits; the dual
    kernel's arb quadrature caps at 100 and says why).
    """
    lo = DPS_RANGE[0]
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) \
            or not lo <= value <= hi:
        raise ValueError(f"dps must be an integer in [{lo}, {hi}]{why}, got {value!r}")
    return int(value)


def sigma_w2(value):
    """The weight variance of MATH §4: a finite real ``>= 0``.

    Whether it is below the contraction limit depends on the activation; the layer that
    knows the limit checks that and names it.
    """
    return real(value, "sigma_w2", lo=0)


def data_matrix(X, name="X", *, d=None, d_source="the model's input dimension"):
    """A data matrix, rows are samples: a finite, C-contiguous float64 array ``(n, d)``.

    ``TypeError`` for what is not a real array (a string, ``None``, complex numbers);
    ``ValueError`` naming the shape, the column count ``d`` expected (``d_source`` says
    where it comes from), or the first
    non-finite entry with its row and column.

    >>> data_matrix([[1, 2], [3, 4]]).dtype
    dtype('float64')
    >>> data_matrix([[1.0, float("nan")]])
    Traceback (most recent call last):
    ...
    ValueError: X must be finite: non-finite value nan at row 0, column 1
    """
    if isinstance(X, (str, bytes)) or X is None:
        raise TypeError(f"{name} must be an array of shape (n, d), got {type(X).__name__}")
    if np.iscomplexobj(X):
        raise TypeError(f"{name} must be a real array of shape (n, d), got a complex array")
    try:
        arr = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a real array of shape (n, d): {exc}") from None
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-d array of shape (n, d), rows as samples, "
                         f"got shape {arr.shape!r}")
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"{name} must be non-empty, with at least one row and one column, "
                         f"got shape {arr.shape!r}")
    if d is not None and arr.shape[1] != d:
        raise ValueError(f"{name} has {arr.shape[1]!r} columns but {d_source} is "
                         f"d = {d!r}")
    finite = np.isfinite(arr)
    if not finite.all():
        i, j = np.argwhere(~finite)[0]
        raise ValueError(f"{name} must be finite: non-finite value {float(arr[i, j])!r} at "
                         f"row {int(i)}, column {int(j)}")
    return np.ascontiguousarray(arr)


def rows_apart(X, name="X"):
    """Refuse zero rows and pairs of parallel rows (``|cos| > PARALLEL_COS``), MATH §4.

    Dense (``O(n^2 d)``): for the moderate ``n`` of a finite-width DEQ.  The equilibrium
    layer checks blockwise with the same threshold.
    """
    norms = np.linalg.norm(X, axis=1)
    if np.any(norms == 0):
        i = int(np.flatnonzero(norms == 0)[0])
        raise ValueError(f"{name} has a zero row: row {i!r} is zero (the papers need "
                         "non-zero, pairwise non-parallel inputs)")
    if X.shape[0] > 1:
        unit = X / norms[:, None]
        cos = unit @ unit.T
        np.fill_diagonal(cos, 0.0)
        i, j = np.unravel_index(np.argmax(np.abs(cos)), cos.shape)
        if abs(cos[i, j]) > PARALLEL_COS:
            raise ValueError(f"rows {int(min(i, j))!r} and {int(max(i, j))!r} of {name} are "
                             f"parallel (cosine {cos[i, j]!r}); the Gram matrices would be "
                             "singular")
    return X


def targets(y, n, name="y"):
    """Targets: a finite float64 vector of shape ``(n,)``."""
    arr = np.asarray(y, dtype=np.float64)
    if arr.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},) to match X, got shape {arr.shape!r}")
    if not np.all(np.isfinite(arr)):
        bad = arr[~np.isfinite(arr)][0]
        raise ValueError(f"{name} must be finite, found {bad!r}")
    return arr
