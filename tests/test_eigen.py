"""Certified least eigenvalue (hermite_dual.eigen): intervals that contain the truth,
tight where the condition number allows, never a positive lower bound for a matrix that is
not positive definite.  References: mpmath's symmetric eigensolver at 40 digits on the
floating-point matrix itself (an independent method), and known spectra Q diag(l) Q^T."""

import math

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import hermite_dual as hd
from hermite_dual.data import sphere_data
from hermite_dual.eigen import least_eigenvalue


def _matrix(lams, seed):
    n = len(lams)
    Q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(n, n)))
    K = (Q * np.asarray(lams)) @ Q.T
    return 0.5 * (K + K.T)


def _mp_lambda_min(K):
    with mpmath.workdps(40):
        ev = mpmath.eigsy(mpmath.matrix(K.tolist()), eigvals_only=True)
        return min(ev)


@settings(max_examples=30, deadline=None)
@given(n=st.integers(2, 24), logmin=st.floats(-10, 0), seed=st.integers(0, 2**16),
       negative=st.booleans())
def test_interval_contains_the_true_value(n, logmin, seed, negative):
    lams = np.geomspace(10.0 ** logmin, 1.0, n)
    if negative:
        lams[0] = -lams[0]
    K = _matrix(lams, seed)
    b = least_eigenvalue(K)
    truth = _mp_lambda_min(K)
    assert mpmath.mpf(b.lower) <= truth <= mpmath.mpf(b.upper)
    assert b.lower <= b.estimate <= b.upper
    if negative:
        assert b.lower < 0


@pytest.mark.parametrize("n", [50, 400])
def test_relative_width_where_the_condition_allows(n):
    K = _matrix(np.linspace(1e-2, 1.0, n), seed=n)
    b = least_eigenvalue(K)
    assert b.lower <= np.linalg.eigvalsh(K)[0] <= b.upper
    assert b.width / b.estimate <= 1e-6


def test_ill_conditioned_and_clustered_bottom():
    n = 300
    tiny = _matrix(np.concatenate([[1e-10], np.linspace(0.5, 1, n - 1)]), seed=3)
    b = least_eigenvalue(tiny)
    assert b.lower <= np.linalg.eigvalsh(tiny)[0] <= b.upper and b.lower > 0
    cluster = _matrix(np.concatenate([1e-3 * (1 + 1e-9 * np.arange(5)),
                                      np.linspace(0.1, 1, n - 5)]), seed=4)
    b = least_eigenvalue(cluster)
    assert b.lower <= np.linalg.eigvalsh(cluster)[0] <= b.upper
    assert b.width / b.estimate <= 1e-6


@pytest.mark.parametrize("lam0", [0.0, -1e-14, -1e-8, -1.0])
def test_not_positive_definite_never_gets_a_positive_lower_bound(lam0):
    K = _matrix(np.concatenate([[lam0], np.linspace(0.1, 1, 299)]), seed=5)
    assert least_eigenvalue(K).lower <= lam0 + 1e-15 * 300


def test_entry_error_widens_by_weyl():
    K = np.eye(4)
    b = least_eigenvalue(K, entry_error=1e-3)
    assert b.lower <= 1 - 4e-3 and b.upper >= 1 + 4e-3


def test_population_gram_interval_and_certificate():
    X, _ = sphere_data(60, 8, seed=2)
    ek = hd.population_gram(X, "tanh", 0.08)
    b = ek.lambda_interval
    ev = np.linalg.eigvalsh(ek.K)[0]
    assert b.lower <= ev <= b.upper
    assert abs(ek.lambda_min - ev) <= ek.lambda_min_error
    if ek.certificate > 0 and b.lower > 0:
        assert b.lower >= ek.certificate
    # three tanh points 2.9 degrees apart: the Hermite certificate is all but vacuous
    # (0 with 200 coefficients, 8e-24 with the 1200 the tables now carry, against
    # lambda_* = 3.5e-6); the interval is not
    t = np.radians([0.0, 2.9, 5.8])
    X3 = np.sqrt(2.0) * np.stack([np.cos(t), np.sin(t)], axis=1)
    e3 = hd.population_gram(X3, "tanh", 0.08)
    assert 0.0 <= e3.certificate < 1e-12 * e3.lambda_interval.lower
    assert e3.lambda_interval.lower > 1e-6


@pytest.mark.parametrize("K, entry_error, match", [
    (np.ones((2, 3)), 0.0, "square"),
    (np.zeros((0, 0)), 0.0, "square"),
    (np.array([[1.0, np.nan], [np.nan, 1.0]]), 0.0, "finite"),
    (np.eye(2), -1.0, "entry_error must be >= 0"),
    (np.eye(2), math.inf, "entry_error must be finite"),
])
def test_bad_input(K, entry_error, match):
    with pytest.raises(ValueError, match=match):
        least_eigenvalue(K, entry_error=entry_error)
