"""Properties of the population Gram matrix and of small DEQs (MATH §4-§6).

Activations, data and configurations come from ``hermite_dual.testing``.  Library calls
cost seconds per new activation on this machine, so the default run draws a few
examples per property; the slow-marked twins draw the profile's count.
"""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import hermite_dual as hd
from hermite_dual.testing import activations, deq_configs, sphere_data

FEW = settings(max_examples=4)

admissible_leaf = activations(admissible_only=True, max_depth=0).filter(
    lambda d: " + " not in d.spec and " - " not in d.spec)
admissible = activations(admissible_only=True, max_depth=1)


def data(n_range=(2, 6), d_range=(2, 4), min_angle=0.1):
    return st.tuples(st.integers(*n_range), st.integers(*d_range)).flatmap(
        lambda nd: sphere_data(nd[0], nd[1], min_angle=min(min_angle, math.pi / nd[0])))


def _positive(drawn, X, frac):
    """K > 0 for non-polynomial sigma on non-parallel data, and certificate <= lambda_*."""
    sw = frac * min(drawn.max_sigma_w2, 0.125)
    ek = hd.population_gram(X, drawn.activation, sw)
    assert ek.converged
    assert ek.lambda_min > ek.lambda_min_error, (ek.lambda_min, ek.lambda_min_error)
    # the certificate is a lower bound on lambda_* (up to lambda_*'s own error)
    assert ek.certificate <= ek.lambda_min + ek.lambda_min_error
    assert ek.certificate >= 0


def _recursion(drawn, X, frac):
    """Under C4's sufficient condition 2 sw (L^2 + sup|s| sup|s''|) < 1 the recursion
    converges and K is the fixed point K_ij = K_sigma(Sigma_ii, Sigma_jj, Sigma_ij)."""
    L, B, B2 = drawn.lipschitz_bound, drawn.sup_bound, drawn.second_bound
    sw = frac / (2 * (L * L + B * B2))
    ek = hd.population_gram(X, drawn.activation, sw)
    assert ek.converged and ek.contraction < 1
    assert ek.residual <= 1e-10 * max(1.0, float(np.max(np.abs(ek.K))))
    n, d = X.shape
    Sigma = 2 * sw * ek.K + (2.0 / d) * X @ X.T
    np.testing.assert_allclose(ek.Sigma, Sigma, rtol=1e-12, atol=1e-12)
    diag = np.diag(Sigma)
    kern = hd.dual(drawn.activation)
    image = kern.kernel(diag[:, None], diag[None, :], Sigma)
    assert np.max(np.abs(image - ek.K)) <= 10 * ek.error_bound + 1e-12


bounded_admissible = admissible_leaf.filter(lambda d: d.bounded is True)
frac = st.sampled_from([0.9, 0.5, 0.2])
test_K_positive_definite_and_certificate_below_lambda_star = FEW(
    given(admissible_leaf, data(), frac)(_positive))
test_K_positive_definite_and_certificate_below_lambda_star_deep = pytest.mark.slow(
    given(admissible, data(min_angle=0.05), frac)(_positive))
test_kernel_recursion_converges_under_C4 = FEW(given(bounded_admissible, data(), frac)(_recursion))
test_kernel_recursion_converges_under_C4_deep = pytest.mark.slow(
    given(admissible.filter(lambda d: d.bounded is True), data(), frac)(_recursion))


@pytest.mark.parametrize("name", ["tanh", "sin", "erf", "gelu"])
def test_finite_width_gram_approaches_K(name):
    """G(0)/m -> K with O(m^-1/2) fluctuations (MATH §5), fixed seeds."""
    X = np.random.default_rng(11).standard_normal((5, 4))
    X = X / np.linalg.norm(X, axis=1, keepdims=True) * 2.0
    K = hd.population_gram(X, name, 0.08).K
    scale = float(np.max(np.diag(K)))
    errs = []
    for m in (128, 2048):
        G = hd.DEQ(4, m, name, sigma_w2=0.08, seed=m).gram(X)
        errs.append(float(np.max(np.abs(G / m - K))))
        assert errs[-1] <= 6 * scale / math.sqrt(m), (m, errs[-1], scale)
    assert errs[1] < errs[0]


def _envelope(cfg, X, yseed, *, allow_contraction_loss=False):
    """Observed loss <= (1 - eta lambda_0/2)^tau Phi(0) with eta < 2/lambda_max(H(0)).

    At width 8 gradient descent can push L ||W||_2 past 1 (found by the deep search:
    softsign(-3x/2), m = 8, sigma_w^2 at half the limit, step 16); the deep twin then
    checks the envelope on the history recorded up to that step.
    """
    import warnings

    y = np.random.default_rng(yseed).standard_normal(X.shape[0])
    model = hd.DEQ(X.shape[1], cfg.width, cfg.activation, sigma_w2=cfg.sigma_w2,
                   seed=cfg.seed)
    lam_max = float(np.linalg.eigvalsh(model.tangent_gram(X))[-1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run = hd.train(model, X, y, lr=cfg.step_size(lam_max), steps=25, progress=False)
    assert run.envelope_applies     # eta < 2/lambda_max(H) <= 2/lambda_0
    allowed = ("completed", "contraction_lost") if allow_contraction_loss else ("completed",)
    assert run.status in allowed, run.message
    assert np.all(run.loss <= run.envelope * (1 + 1e-9) + 1e-300)


def _envelope_strict(cfg, X, yseed):
    _envelope(cfg, X, yseed)


def _envelope_deep(cfg, X, yseed):
    _envelope(cfg, X, yseed, allow_contraction_loss=True)


tiny = deq_configs(admissible_leaf, min_width=16, max_width=64)
test_rate_envelope_on_tiny_deqs = FEW(
    given(tiny, data(n_range=(2, 5)), st.integers(0, 2**16))(_envelope_strict))
test_rate_envelope_on_tiny_deqs_deep = pytest.mark.slow(
    given(deq_configs(admissible, min_width=8, max_width=128), data(n_range=(2, 6)),
          st.integers(0, 2**16))(_envelope_deep))
