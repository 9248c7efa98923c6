"""Strict-JSON conversion shared by every ``to_dict``/``describe_*`` and the CLI."""

import math

import numpy as np

__all__ = ["to_jsonable"]


def _nonfinite(value):
    if math.isnan(value):
        return "nan"
    return "inf" if value > 0 else "-inf"


def to_jsonable(obj):
    """Convert numpy scalars and arrays, tuples and non-finite floats to strict JSON values.

    JSON numbers stay numbers: NaN and infinities become ``null``.  In a dict the value's
    meaning is kept by a flag beside it, ``"<key>_nonfinite": "inf" | "-inf" | "nan"``; in a
    list a non-finite entry is ``null``.  Anything else unknown (sympy expressions, paths)
    becomes its ``str``.

    Examples
    --------
    >>> import numpy as np
    >>> to_jsonable({"a": np.float64(1.5), "b": [np.inf, float("nan")], "c": np.arange(2)})
    {'a': 1.5, 'b': [None, None], 'c': [0, 1]}
    >>> to_jsonable({"upper": float("inf"), "lower": 1.0})
    {'upper': None, 'upper_nonfinite': 'inf', 'lower': 1.0}
    """
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            out[str(k)] = to_jsonable(v)
            if isinstance(v, (float, np.floating)) and not math.isfinite(float(v)):
                out[f"{k}_nonfinite"] = _nonfinite(float(v))
        return out
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (np.floating, float)):
        value = float(obj)
        return value if math.isfinite(value) else None
    if isinstance(obj, (np.integer, int)):
        return int(obj)
    if obj is None or isinstance(obj, str):
        return obj
    return str(obj)
