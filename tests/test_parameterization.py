"""Parameterisations (issue 14): weight, input and bias variances and the presets "ling",
"gao", "feng-kolter".  The reference is the recursion of MATH §5 written in the explicit
variances, Sigma = sigma_W^2 K + sigma_U^2 X X^T / d + sigma_b^2, iterated to convergence
with the dual kernel (no change of variables, no plan): an independent route to the
fixed point the package reaches through its one pipeline."""

import math

import numpy as np
import pytest

import hermite_dual as hd


def _recursion(X, act, weight, inp, bias, iters=400):
    n, d = X.shape
    k = hd.dual(act)
    G = inp * (X @ X.T) / d + bias
    K = np.zeros((n, n))
    for _ in range(iters):
        S = weight * K + G
        dg = np.diag(S)
        K_new = k.kernel(dg[:, None] * np.ones(n), dg[None, :] * np.ones((n, 1)), S)
        if np.max(np.abs(K_new - K)) <= 1e-15 * np.max(np.abs(K_new)):
            return K_new, S
        K = K_new
    return K, S


def _data(seed=0, n=6, d=5):
    return np.random.default_rng(seed).standard_normal((n, d))


def test_ling_preset_is_the_default_bit_for_bit():
    X = _data()
    a = hd.population_gram(X, "tanh", 0.1)
    b = hd.population_gram(X, "tanh", parameterization=hd.parameterization("ling", sigma_w2=0.1))
    assert np.array_equal(a.K, b.K) and np.array_equal(a.Theta, b.Theta)


@pytest.mark.parametrize("act", ["tanh", "relu", "erf"])
@pytest.mark.parametrize("par", [
    hd.parameterization("gao", sigma_w=0.6, sigma_u=1.0),        # Gao et al.'s notebook
    hd.parameterization("feng-kolter", sigma_W2=0.3, sigma_U2=1.5, sigma_b2=0.2),
    hd.Parameterization(weight=0.25, input=0.7, bias=1.3),
])
def test_presets_reach_the_recursion_in_explicit_variances(act, par):
    X = _data(1)
    r = hd.population_gram(X, act, parameterization=par)
    K, S = _recursion(X, act, par.weight, par.input, par.bias)
    assert np.max(np.abs(r.K - K)) <= 1e-12 * np.max(K)
    assert np.max(np.abs(r.Sigma - S)) <= 1e-12 * np.max(S)
    assert r.parameterization is par and r.sigma_w2 == par.weight / 2


def test_cross_kernel_in_a_preset_is_the_stacked_block():
    X, Y = _data(2, 3), _data(3, 4)
    par = hd.parameterization("feng-kolter", sigma_W2=0.4, sigma_U2=1.0, sigma_b2=0.5)
    c = hd.cross_gram(X, Y, "gelu", parameterization=par)
    full = hd.population_gram(np.vstack([X, Y]), "gelu", parameterization=par)
    assert np.array_equal(c.K, full.K[:3, 3:])


def test_bias_changes_the_kernel_by_the_expected_amount_for_the_identity():
    # sigma = x: K = Sigma, so K = (input X X^T / d + bias) / (1 - weight)
    X = _data(4)
    par = hd.Parameterization(weight=0.3, input=1.2, bias=0.4)
    r = hd.population_gram(X, "identity", parameterization=par)
    want = (1.2 * X @ X.T / X.shape[1] + 0.4) / (1 - 0.3)
    assert np.max(np.abs(r.K - want)) <= 1e-13 * np.max(want)


@pytest.mark.parametrize("make, exc, match", [
    (lambda: hd.parameterization("nope"), ValueError, "presets: ling, gao, feng-kolter"),
    (lambda: hd.parameterization("gao"), ValueError, "needs sigma_w"),
    (lambda: hd.parameterization("gao", sigma_w=0.5, sigma_b2=1.0), ValueError, "takes"),
    (lambda: hd.parameterization("ling", sigma_w2="a"), TypeError, "real number"),
    (lambda: hd.Parameterization(weight=-1.0, input=1.0), ValueError, "weight variance"),
    (lambda: hd.Parameterization(weight=0.1, input=0.0), ValueError, "does not see the data"),
    (lambda: hd.Parameterization(weight=0.1, input=1.0, bias=math.nan), ValueError, "bias"),
    (lambda: hd.population_gram(_data(), "tanh", 0.1, parameterization="ling"),
     ValueError, "not both"),
    (lambda: hd.population_gram(_data(), "tanh",
                                parameterization=hd.parameterization("gao", sigma_w=1.5)),
     ValueError, r"contraction limit.*parameterisation gao: Sigma = 2.25 K"),
])
def test_bad_parameterizations_are_refused_with_the_reason(make, exc, match):
    with pytest.raises(exc, match=match):
        make()
