"""Parameterisations of the DEQ kernel: weight, input and bias variances (MATH §5).

Every paper writes the same fixed point with its own constants.  In variances,

    Sigma_ij = sigma_W^2 K_ij + sigma_U^2 x_i.x_j / d + sigma_b^2,
    K_ij     = K_sigma(Sigma_ii, Sigma_jj, Sigma_ij),

and the presets say where each paper's constants go (docs/math.md, "Parameterisations"):

==============  ==========================  ===============  ==============
preset          weight ``sigma_W^2``        input            bias
==============  ==========================  ===============  ==============
``"ling"``      ``2 sigma_w^2``             ``2``            ``0``
``"gao"``       ``sigma_w^2``               ``sigma_u^2``    ``0``
``"feng-kolter"`` ``sigma_W^2``             ``sigma_U^2``    ``sigma_b^2``
==============  ==========================  ===============  ==============

Ling et al. (and Truong) initialise ``W_ij ~ N(0, 2 sigma_w^2 / m)``, ``U_ij ~ N(0, 2/d)``,
no bias; Gao et al. (NeurIPS 2023) ``W ~ N(0, sigma_w^2 / n)``, ``U ~ N(0, sigma_u^2 / d)``,
no bias; Feng and Kolter's DEQ-NNGP takes the three variances as they are.

One pipeline: a :class:`Parameterization` is applied as an exact change of variables on
the data, never as a second solver.  With ``c^2 = sigma_U^2 (d + 1) / (2 d)`` and
``beta^2 = sigma_b^2 d / sigma_U^2``, the rows ``x'_i = c [x_i, beta]`` (one constant
column added when there is a bias) give ``2 x'_i.x'_j / (d + 1) = sigma_U^2 x_i.x_j / d +
sigma_b^2``, and ``sigma_w^2 = sigma_W^2 / 2`` is the weight variance of MATH §5's form;
without a bias ``x' = sqrt(sigma_U^2 / 2) x``, so the Ling preset is the identity (the same
bits as no parameterisation at all).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .._util import validate

__all__ = ["Parameterization", "parameterization", "PRESETS"]

PRESETS = ("ling", "gao", "feng-kolter")


@dataclass(frozen=True)
class Parameterization:
    """The three variances of the fixed point ``Sigma = weight K + input X X^T / d + bias``.

    Attributes
    ----------
    weight : float
        ``sigma_W^2 >= 0``, the variance of ``W_ij`` times the width.
    input : float
        ``sigma_U^2 > 0``, the variance of ``U_ij`` times ``d``.
    bias : float
        ``sigma_b^2 >= 0``, the variance of the bias entries.
    preset : str or None
        The preset it was made from, for messages and reports.

    Examples
    --------
    >>> Parameterization(0.16, 2.0)
    Parameterization(weight=0.16, input=2.0, bias=0.0, preset=None)
    >>> Parameterization(0.16, 2.0).sigma_w2      # the weight variance of MATH §5's form
    0.08
    """

    weight: float
    input: float
    bias: float = 0.0
    preset: str = None

    def __post_init__(self):
        for name, lo_open in (("weight", False), ("input", True), ("bias", False)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float, np.floating, np.integer)):
                raise TypeError(f"the {name} variance must be a real number, got {v!r}")
            v = float(v)
            if not math.isfinite(v) or v < 0 or (lo_open and v == 0):
                bound = "> 0" if lo_open else ">= 0"
                raise ValueError(f"the {name} variance must be finite and {bound}, got {v!r}"
                                 + (" (without input the kernel does not see the data)"
                                    if name == "input" else ""))
            object.__setattr__(self, name, v)

    @property
    def sigma_w2(self):
        """``sigma_W^2 / 2``: the ``sigma_w^2`` of MATH §5 (Ling's form) it maps to."""
        return self.weight / 2

    def describe(self):
        """``'gao: Sigma = 0.36 K + 1 x.y/d'``, for messages."""
        text = f"Sigma = {self.weight:g} K + {self.input:g} x.y/d"
        if self.bias:
            text += f" + {self.bias:g}"
        return f"{self.preset}: {text}" if self.preset else text

    def transform(self, X):
        """``(X', sigma_w2)``: data and weight variance of MATH §5's form that give this
        parameterisation's fixed point exactly (module docstring)."""
        X = validate.data_matrix(X)
        n, d = X.shape
        if self.bias == 0.0:
            scale = math.sqrt(self.input / 2)
            return (X if scale == 1.0 else X * scale), self.sigma_w2
        beta = math.sqrt(self.bias * d / self.input)
        c = math.sqrt(self.input * (d + 1) / (2 * d))
        return np.hstack([X, np.full((n, 1), beta)]) * c, self.sigma_w2


def parameterization(preset="ling", **variances):
    """A :class:`Parameterization` from a paper's preset and its own constants.

    Parameters
    ----------
    preset : {"ling", "gao", "feng-kolter"} or Parameterization
        Whose convention the constants are in (module docstring).
    **variances
        ``"ling"``: ``sigma_w2`` (default 0.08); ``"gao"``: ``sigma_w`` and ``sigma_u``
        (standard deviations, as Gao et al. write them; default 1 for ``sigma_u``);
        ``"feng-kolter"``: ``sigma_W2``, ``sigma_U2`` and ``sigma_b2`` (default 0).

    Returns
    -------
    Parameterization

    Raises
    ------
    ValueError
        An unknown preset (listing the presets), a missing or unknown constant, or a
        variance out of range.

    Examples
    --------
    >>> parameterization("ling", sigma_w2=0.08)
    Parameterization(weight=0.16, input=2.0, bias=0.0, preset='ling')
    >>> parameterization("gao", sigma_w=0.6, sigma_u=1.0).weight
    0.36
    >>> parameterization("feng-kolter", sigma_W2=0.5, sigma_U2=1.0, sigma_b2=0.1).bias
    0.1
    """
    if isinstance(preset, Parameterization):
        if variances:
            raise ValueError("give the variances in the Parameterization, not beside it")
        return preset
    if not isinstance(preset, str) or preset.lower() not in PRESETS:
        raise ValueError(f"unknown parameterisation {preset!r}; presets: "
                         f"{', '.join(PRESETS)}, or a Parameterization(weight, input, bias)")
    preset = preset.lower()
    allowed = {"ling": {"sigma_w2": 0.08},
               "gao": {"sigma_w": None, "sigma_u": 1.0},
               "feng-kolter": {"sigma_W2": None, "sigma_U2": None, "sigma_b2": 0.0}}[preset]
    unknown = set(variances) - set(allowed)
    if unknown:
        raise ValueError(f"the {preset!r} preset takes {', '.join(allowed)}; got "
                         f"{', '.join(sorted(unknown))}")
    v = {**allowed, **variances}
    missing = [k for k, val in v.items() if val is None]
    if missing:
        raise ValueError(f"the {preset!r} preset needs {', '.join(missing)}")
    for k, val in v.items():
        if isinstance(val, bool) or not isinstance(val, (int, float, np.floating, np.integer)):
            raise TypeError(f"{k} must be a real number, got {val!r}")
    if preset == "ling":
        return Parameterization(2 * float(v["sigma_w2"]), 2.0, 0.0, preset)
    if preset == "gao":
        return Parameterization(float(v["sigma_w"]) ** 2, float(v["sigma_u"]) ** 2, 0.0, preset)
    return Parameterization(float(v["sigma_W2"]), float(v["sigma_U2"]), float(v["sigma_b2"]),
                            preset)
