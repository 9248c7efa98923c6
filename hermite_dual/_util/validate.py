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

__all__ = ["real", "positive", "nonnegative", "integer", "sigma_w2"]


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
    return real(value, name, lo=0, lo_open=True)


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


def sigma_w2(value):
    """The weight variance of MATH §4: a finite real ``>= 0``.

    Whether it is below the contraction limit depends on the activation; the layer that
    knows the limit checks that and names it.
    """
    return real(value, "sigma_w2", lo=0)
