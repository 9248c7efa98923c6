"""Cross-kernels ``K(X, Y)`` and ``Theta(X, Y)`` between two data sets (MATH §5).

A kernel predictor needs the train-test block: ``K(X_test, X_train)`` beside
``K(X_train, X_train)``.  Every entry of the population Gram matrix is a function of its
two points alone (their diagonal fixed points and their inner product), so the cross
block of the stacked data ``[X; Y]`` *is* the cross-kernel: each point's diagonal fixed
point is solved once, in the O(n) plan, and only the ``len(X) x len(Y)`` entries are
computed.  :func:`cross_gram` is that block, with the same bits as
``population_gram(vstack([X, Y]), rows=..., cols=...)``.
"""

from __future__ import annotations

import numpy as np

from .._util import validate
from .solve import population_gram

__all__ = ["cross_gram"]


def cross_gram(X, Y, act, sigma_w2=None, *, tol=1e-12, max_iter=500,
               raise_on_failure=True, method="auto", degree=None, parameterization=None):
    """The cross block ``K(X, Y)`` of the population Gram matrix, with Sigma, Kdot, Theta.

    Parameters
    ----------
    X : array_like, shape (n, d)
        First data set (rows are samples), e.g. the test points.
    Y : array_like, shape (m, d)
        Second data set, e.g. the training points.  Norms may differ from X's and from
        each other; a point of Y may equal or be parallel to a point of X (the entry is
        then the fixed point at correlation +-1).
    act, sigma_w2, tol, max_iter, raise_on_failure, method, degree, parameterization
        As :func:`hermite_dual.population_gram` (a parameterisation applies to both sets).

    Returns
    -------
    EquilibriumKernel
        A block with ``rows`` = X's points and ``cols`` = Y's points of the stacked data:
        ``.K``, ``.Sigma``, ``.Kdot`` and ``.Theta`` have shape (n, m), ``.error_bound``
        bounds their fixed-point error.  Eigenvalues are refused (not a principal block).

    Raises
    ------
    ValueError
        As :func:`hermite_dual.population_gram`, and when X and Y have different numbers
        of columns.

    Examples
    --------
    The block of the stacked data, bit for bit; K(X, X) is the Gram matrix of X:

    >>> import numpy as np
    >>> import hermite_dual as hd
    >>> rng = np.random.default_rng(0)
    >>> X, Y = rng.standard_normal((3, 4)), rng.standard_normal((5, 4))
    >>> c = hd.cross_gram(X, Y, "tanh")
    >>> c.K.shape, c.Theta.shape
    ((3, 5), (3, 5))
    >>> full = hd.population_gram(np.vstack([X, Y]), "tanh")
    >>> bool(np.array_equal(c.K, full.K[:3, 3:]))
    True
    """
    X = validate.data_matrix(X, "X")
    Y = validate.data_matrix(Y, "Y", d=X.shape[1], d_source="X's column count")
    n, m = X.shape[0], Y.shape[0]
    return population_gram(np.vstack([X, Y]), act, sigma_w2, tol=tol, max_iter=max_iter,
                           rows=np.arange(n), cols=np.arange(n, n + m),
                           allow_parallel=True, raise_on_failure=raise_on_failure,
                           method=method, degree=degree,
                           parameterization=parameterization)
