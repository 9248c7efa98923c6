"""Strategies for covariances, data on the sphere and DEQ configurations (MATH §3-§5).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from hypothesis import strategies as st

from .grammar import _INF, DrawnActivation, _check_int, activations


class Covariance(NamedTuple):
    """A 2x2 covariance ``[[q1, c], [c, q2]]`` with ``|c| <= sqrt(q1 q2)``.

    Examples
    --------
    >>> from hermite_dual.testing import Covariance
    >>> Covariance(4.0, 1.0, -2.0).rho
    -1.0
    """

    q1: float
    q2: float
    c: float

    @property
    def rho(self):
        """The correlation ``c / sqrt(q1 q2)`` (clipped to [-1, 1] against rounding)."""
        return max(-1.0, min(1.0, self.c / math.sqrt(self.q1 * self.q2)))

    @property
    def matrix(self):
        """The covariance as a 2x2 float64 array."""
        return np.array([[self.q1, self.c], [self.c, self.q2]])


def _check_var_range(min_var, max_var):
    for name, v in (("min_var", min_var), ("max_var", max_var)):
        if isinstance(v, bool) or not isinstance(v, (int, float, np.floating, np.integer)) \
                or not math.isfinite(v) or v <= 0:
            raise ValueError(f"{name} must be a positive finite number, got {v!r}")
    if min_var > max_var:
        raise ValueError(f"min_var must be <= max_var, got min_var={min_var!r} > "
                         f"max_var={max_var!r}")
    return float(min_var), float(max_var)


def covariances(min_var=1e-3, max_var=1e3):
    """Valid 2x2 covariances ``(q1, q2, c)``, the edges drawn often.

    A third of the draws are edge cases: ``rho`` in {1, -1, 0} with variances from
    {1, min_var, max_var} (1 clipped into range); the rest have log-uniform variances in
    ``[min_var, max_var]`` and a uniform correlation, with ``c = rho sqrt(q1 q2)``.

    Parameters
    ----------
    min_var, max_var : float
        Range of the variances ``q1, q2`` (``0 < min_var <= max_var``).

    Returns
    -------
    hypothesis.strategies.SearchStrategy of Covariance
        Shrinks toward ``(1, 1, 0)`` (or the in-range variance closest to 1).

    Raises
    ------
    ValueError
        If a bound is not a positive finite number or ``min_var > max_var``.

    Examples
    --------
    >>> from hypothesis import find, settings
    >>> from hermite_dual.testing import covariances
    >>> find(covariances(), lambda cv: True, settings=settings(database=None))
    Covariance(q1=1.0, q2=1.0, c=0.0)
    >>> cv = find(covariances(), lambda cv: cv.rho == -1 and cv.q1 != cv.q2,
    ...           settings=settings(database=None))
    >>> abs(cv.c) == math.sqrt(cv.q1 * cv.q2)
    True
    """
    lo, hi = _check_var_range(min_var, max_var)
    unit = min(max(1.0, lo), hi)
    variances = tuple(dict.fromkeys((unit, lo, hi)))

    def build(q1, q2, rho):
        return Covariance(q1, q2, float(rho) * math.sqrt(q1 * q2))

    edges = st.builds(build, st.sampled_from(variances), st.sampled_from(variances),
                      st.sampled_from((0.0, 1.0, -1.0)))
    log_var = st.floats(math.log(lo), math.log(hi)).map(
        lambda t: min(max(math.exp(t), lo), hi))
    general = st.builds(build, log_var, log_var, st.floats(-1.0, 1.0))
    return st.one_of(edges, general)


# ---------------------------------------------------------------------------
# Data on the sphere
# ---------------------------------------------------------------------------

def _to_sphere(rows, d):
    rows = np.asarray(rows, dtype=np.float64)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True) * math.sqrt(d)


def min_pairwise_angle(X):
    """Smallest angle (radians, in [0, pi/2]) between the lines through pairs of rows.

    Examples
    --------
    >>> from hermite_dual.testing import min_pairwise_angle
    >>> round(min_pairwise_angle(np.array([[1.0, 0.0], [1.0, 1.0], [0.0, -2.0]])), 6)
    0.785398
    """
    X = np.asarray(X, dtype=np.float64)
    n = X.shape[0]
    if n < 2:
        return math.pi / 2
    U = X / np.linalg.norm(X, axis=1, keepdims=True)
    C = np.abs(U @ U.T)
    np.fill_diagonal(C, 0.0)
    return float(math.acos(min(1.0, C.max())))


def _planar(n, d, spacing, offset=0.0):
    """n rows in the first coordinate plane, lines spaced by ``spacing`` radians."""
    X = np.zeros((n, d))
    ang = offset + spacing * np.arange(n)
    X[:, 0] = np.cos(ang)
    X[:, 1] = np.sin(ang)
    return _to_sphere(X, d)


def _random_rows(n, d, min_angle, seed):
    """Gaussian rows, each redrawn until it is min_angle away from the earlier lines."""
    rng = np.random.default_rng(seed)
    cmax = math.cos(min_angle)
    rows = []
    for _ in range(n):
        for _attempt in range(200):
            v = rng.standard_normal(d)
            norm = np.linalg.norm(v)
            if norm < 1e-8:
                continue
            v = v / norm
            if all(abs(float(v @ u)) <= cmax for u in rows):
                rows.append(v)
                break
        else:
            # greedy rejection failed: fall back to a planar arrangement, always valid
            return _planar(n, d, math.pi / n, offset=float(rng.uniform(0, math.pi / n)))
    return _to_sphere(np.array(rows), d)


def sphere_data(n, d, min_angle=0.1):
    """Data ``(n, d)`` with rows on the sphere of radius ``sqrt(d)``, pairwise non-parallel.

    Every pair of rows spans an angle of at least ``min_angle`` with each other's line
    (``|cos| <= cos(min_angle)``), so no two inputs are parallel (MATH §4).
    Draws are one of: the simplest data (``sqrt(d)`` times the unit vectors when ``n <=
    d``, else ``n`` lines spaced by ``pi/n`` in one plane -- the most degenerate
    non-parallel data, rank 2); a pair exactly ``min_angle`` apart (the edge); or rows from
    a seeded Gaussian, redrawn until the angle condition holds (planar fallback).

    Parameters
    ----------
    n, d : int
        Number of rows (>= 1) and dimension (>= 2; >= 1 when ``n == 1``).
    min_angle : float
        Minimum angle in radians, ``0 < min_angle <= pi/n`` (a construction in a plane
        then always exists).

    Returns
    -------
    hypothesis.strategies.SearchStrategy of numpy.ndarray

    Raises
    ------
    ValueError
        For bad ``n`` or ``d``, or ``min_angle`` outside ``(0, pi/n]``.

    Examples
    --------
    >>> from hypothesis import find, settings
    >>> from hermite_dual.testing import sphere_data, min_pairwise_angle
    >>> X = find(sphere_data(3, 2, min_angle=0.5), lambda X: True,
    ...          settings=settings(database=None))
    >>> np.allclose(np.linalg.norm(X, axis=1), np.sqrt(2)), min_pairwise_angle(X) >= 0.5
    (True, True)
    """
    n = _check_int(n, "n", 1)
    d = _check_int(d, "d", 1)
    if isinstance(min_angle, bool) or not isinstance(min_angle, (int, float, np.floating)) \
            or not math.isfinite(min_angle) or min_angle <= 0:
        raise ValueError(f"min_angle must be a positive number of radians, got {min_angle!r}")
    if n > 1 and d < 2:
        raise ValueError(f"d must be >= 2 for n > 1 non-parallel rows, got d={d!r}")
    if min_angle > math.pi / max(n, 2) + 1e-12:
        raise ValueError(f"min_angle must be <= pi/n = {math.pi / max(n, 2)!r} for n={n}, "
                         f"got {min_angle!r}")
    min_angle = float(min_angle)
    if n <= d:
        simple = _to_sphere(np.eye(d)[:n], d)
    else:
        simple = _planar(n, d, math.pi / n)
    strategies = [st.just(simple)]
    if n >= 2:
        def tight(seed):
            rng = np.random.default_rng([seed, 1])  # a stream apart from the rows'
            X = _random_rows(n, d, min_angle, seed)
            # rotate row 1 to exactly min_angle from row 0, inside their plane, if it
            # keeps the others clear
            u = X[0] / np.linalg.norm(X[0])
            w = rng.standard_normal(d)
            w -= (w @ u) * u
            if np.linalg.norm(w) < 1e-8:
                return X
            w /= np.linalg.norm(w)
            cand = X.copy()
            cand[1] = math.sqrt(d) * (math.cos(min_angle) * u + math.sin(min_angle) * w)
            return cand if min_pairwise_angle(cand) >= min_angle * (1 - 1e-9) else X

        strategies.append(st.integers(0, 2**32 - 1).map(tight))
    strategies.append(st.integers(0, 2**32 - 1).map(
        lambda seed: _random_rows(n, d, min_angle, seed)))
    return st.one_of(*strategies)


# ---------------------------------------------------------------------------
# DEQ configurations
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class DEQConfig:
    """A small DEQ configuration inside the theory's conditions.

    Attributes
    ----------
    drawn : DrawnActivation
        The activation and its verdicts.
    width : int
        Hidden width m.
    sigma_w2 : float
        Weight variance, strictly below the well-posedness limit ``1/(8 L^2)`` computed
        from the drawn Lipschitz bound.
    lr_fraction : float
        Step size as a fraction of the stable limit, in (0, 1): use ``eta = lr_fraction
        * 2 / lambda_max(H(0))`` (gradient descent on the linearized model is stable
        exactly when ``eta < 2 / lambda_max``).
    seed : int
        Seed of the initialization.

    Examples
    --------
    >>> from hermite_dual.testing import DEQConfig, DrawnActivation
    >>> cfg = DEQConfig(DrawnActivation.leaf("tanh"), 16, 0.08, 0.5, 0)
    >>> cfg.activation.name, cfg.sigma_w2 < 1 / 8
    ('tanh(x)', True)
    """

    drawn: DrawnActivation
    width: int
    sigma_w2: float
    lr_fraction: float
    seed: int

    @property
    def activation(self):
        """The drawn :class:`Activation`."""
        return self.drawn.activation

    def step_size(self, lambda_max):
        """``eta = lr_fraction * 2 / lambda_max`` for the largest tangent-Gram eigenvalue."""
        lambda_max = float(lambda_max)
        if not math.isfinite(lambda_max) or lambda_max <= 0:
            raise ValueError(f"lambda_max must be positive and finite, got {lambda_max!r}")
        return self.lr_fraction * 2.0 / lambda_max


def deq_configs(activation_strategy=None, *, min_width=8, max_width=64):
    """DEQ configurations: activation, width, ``sigma_w^2``, step fraction and seed.

    ``sigma_w^2`` is drawn as a fraction in (0, 1) of the drawn activation's safe
    well-posedness limit ``1/(8 L^2)`` (:attr:`DrawnActivation.max_sigma_w2`), so the
    forward map ``Z -> sigma(W Z + U X)`` is a contraction with high probability
    (MATH §4); the width is a power of two in ``[min_width, max_width]``.

    Parameters
    ----------
    activation_strategy : SearchStrategy of DrawnActivation, optional
        Default ``activations(admissible_only=True, max_depth=1)``.  Draws without a
        finite Lipschitz bound are rejected.
    min_width, max_width : int
        Width range (``1 <= min_width <= max_width``).

    Returns
    -------
    hypothesis.strategies.SearchStrategy of DEQConfig
        Shrinks toward ``tanh``, the smallest width, half the limit, ``lr_fraction = 0.5``
        and seed 0.

    Raises
    ------
    ValueError
        For a bad width range.

    Examples
    --------
    >>> from hypothesis import find, settings
    >>> from hermite_dual.testing import deq_configs
    >>> cfg = find(deq_configs(), lambda c: True, settings=settings(database=None))
    >>> cfg.activation.name, cfg.width, cfg.sigma_w2, cfg.lr_fraction, cfg.seed
    ('tanh(x)', 8, 0.0625, 0.5, 0)
    """
    min_width = _check_int(min_width, "min_width", 1)
    max_width = _check_int(max_width, "max_width", 1)
    if min_width > max_width:
        raise ValueError(f"min_width must be <= max_width, got {min_width!r} > {max_width!r}")
    if activation_strategy is None:
        activation_strategy = activations(admissible_only=True, max_depth=1)
    widths = [w for w in (2**k for k in range(0, 16)) if min_width <= w <= max_width]
    if not widths:
        widths = [min_width]
    fraction = st.one_of(st.just(0.5), st.floats(0.05, 0.95))

    def build(drawn, width, frac, lr_fraction, seed):
        return DEQConfig(drawn=drawn, width=width, sigma_w2=frac * drawn.max_sigma_w2,
                         lr_fraction=lr_fraction, seed=seed)

    drawn = activation_strategy.filter(
        lambda d: 0 < d.max_sigma_w2 < _INF)
    return st.builds(build, drawn, st.sampled_from(widths), fraction, fraction,
                     st.integers(0, 2**31 - 1))
