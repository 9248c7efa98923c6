"""Strict-JSON conversion shared by every ``to_dict``/``describe_*`` and the CLI."""

import math

import numpy as np

__all__ = ["to_jsonable"]


def to_jsonable(obj):
    """Convert numpy scalars and arrays, tuples and non-finite floats to strict JSON values.

    NaN becomes ``None``; infinities become the strings ``"inf"``/``"-inf"``; anything
    else unknown (sympy expressions, paths) becomes its ``str``.

    Examples
    --------
    >>> import numpy as np
    >>> to_jsonable({"a": np.float64(1.5), "b": [np.inf, float("nan")], "c": np.arange(2)})
    {'a': 1.5, 'b': ['inf', None], 'c': [0, 1]}
    """
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (np.floating, float)):
        value = float(obj)
        if math.isnan(value):
            return None
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return value
    if isinstance(obj, (np.integer, int)):
        return int(obj)
    if obj is None or isinstance(obj, str):
        return obj
    return str(obj)
