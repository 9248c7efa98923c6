"""hermite_dual.sklearn.DEQKernel (issue 14): scikit-learn's Kernel API, inside Gaussian
processes and as a precomputed kernel; references are population_gram / cross_gram (the
same numbers), sklearn's own clone and parameter machinery, and a finite-difference
gradient at a second step size."""

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")

from sklearn.base import clone  # noqa: E402
from sklearn.gaussian_process import (  # noqa: E402
    GaussianProcessClassifier,
    GaussianProcessRegressor,
)
from sklearn.kernel_ridge import KernelRidge  # noqa: E402
from sklearn.svm import SVC  # noqa: E402

import hermite_dual as hd  # noqa: E402
from hermite_dual.sklearn import DEQKernel  # noqa: E402


def _data(n=30, d=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = np.sin(X[:, 0]) + 0.5 * X[:, 1]
    return X, y


@pytest.mark.parametrize("kind, attr", [("nngp", "K"), ("ntk", "Theta")])
def test_kernel_values_are_the_population_gram_and_cross_blocks(kind, attr):
    X, _ = _data(8)
    k = DEQKernel("tanh", kind, weight_variance=0.2, input_variance=1.5, bias_variance=0.1)
    par = hd.Parameterization(0.2, 1.5, 0.1)
    full = hd.population_gram(X, "tanh", parameterization=par)
    assert np.array_equal(k(X), getattr(full, attr))
    cross = hd.cross_gram(X[:3], X[3:], "tanh", parameterization=par)
    assert np.array_equal(k(X[:3], X[3:]), getattr(cross, attr))
    np.testing.assert_allclose(k.diag(X), np.diag(k(X)), rtol=1e-13, atol=0)


def test_sklearn_parameter_machinery():
    k = DEQKernel("erf", "ntk", weight_variance=0.3, weight_variance_bounds=(1e-3, 0.5))
    assert k.get_params()["weight_variance"] == 0.3
    c = clone(k)
    assert c.get_params() == k.get_params()
    assert k.n_dims == 1 and np.allclose(k.theta, [np.log(0.3)])
    assert np.allclose(k.bounds, np.log([[1e-3, 0.5]]))
    k2 = k.clone_with_theta(np.log([0.1]))
    assert k2.weight_variance == pytest.approx(0.1) and k.weight_variance == 0.3
    assert not k.is_stationary()


def test_gradient_by_central_differences_agrees_at_two_steps():
    import hermite_dual.sklearn as hs
    X, _ = _data(6)
    k = DEQKernel("tanh", weight_variance=0.2, weight_variance_bounds=(1e-3, 0.5),
                  input_variance_bounds=(0.1, 10.0))
    K, G = k(X, eval_gradient=True)
    assert G.shape == (6, 6, 2)
    old = hs._FD_STEP
    try:
        hs._FD_STEP = 1e-3
        _, G2 = k(X, eval_gradient=True)
    finally:
        hs._FD_STEP = old
    assert np.max(np.abs(G - G2)) <= 1e-5 * np.max(np.abs(G))
    # fixed hyperparameters: an empty gradient, as sklearn expects
    _, G0 = DEQKernel("tanh")(X, eval_gradient=True)
    assert G0.shape == (6, 6, 0)


def test_inside_gaussian_process_regression_with_and_without_optimisation():
    X, y = _data(40)
    Xt, yt = _data(10, seed=1)
    gp = GaussianProcessRegressor(DEQKernel("gelu"), alpha=1e-4, optimizer=None)
    gp.fit(X, y)
    mean = gp.predict(Xt)
    # the same predictor written out with the package's own matrices
    K = hd.population_gram(X, "gelu", allow_parallel=True).K + 1e-4 * np.eye(40)
    Ks = hd.cross_gram(Xt, X, "gelu").K
    np.testing.assert_allclose(mean, Ks @ np.linalg.solve(K, y), rtol=1e-8, atol=1e-10)
    assert np.mean((mean - yt) ** 2) < np.var(yt)        # it learns something
    opt = GaussianProcessRegressor(
        DEQKernel("tanh", weight_variance=0.1, weight_variance_bounds=(1e-3, 0.4)),
        alpha=1e-3, n_restarts_optimizer=0, random_state=0).fit(X, y)
    assert 1e-3 <= opt.kernel_.weight_variance <= 0.4


def test_gaussian_process_classifier_svc_and_kernel_ridge():
    X, y = _data(40)
    labels = (y > np.median(y)).astype(int)
    gpc = GaussianProcessClassifier(DEQKernel("erf"), optimizer=None).fit(X, labels)
    assert gpc.score(X, labels) >= 0.8
    k = DEQKernel("relu", "ntk")
    svc = SVC(kernel="precomputed").fit(k(X), labels)
    assert svc.score(k(X), labels) >= 0.8
    kr = KernelRidge(kernel="precomputed", alpha=1e-3).fit(k(X), y)
    assert np.mean((kr.predict(k(X)) - y) ** 2) < 0.1 * np.var(y)


@pytest.mark.parametrize("make, match", [
    (lambda: DEQKernel("tanh", "gp")(np.ones((2, 2))), "kind must be one of"),
    (lambda: DEQKernel("tanh", input_variance=0.0)(np.ones((2, 2))), "does not see the data"),
    (lambda: DEQKernel("tanh", bias_variance_bounds=(1e-3, 1.0))(
        np.eye(3), eval_gradient=True), "has no logarithm"),
    (lambda: DEQKernel("tanh")(np.eye(3), np.eye(3), eval_gradient=True), "only supported"),
    (lambda: DEQKernel("tanh", weight_variance=5.0)(np.eye(3)), "contraction limit"),
])
def test_bad_settings_are_refused(make, match):
    with pytest.raises(ValueError, match=match):
        make()
