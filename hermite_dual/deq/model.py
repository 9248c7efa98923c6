"""The finite-width DEQ of MATH §4: ``Z = sigma(W Z + U X)``, ``y_hat = a^T Z``.

Forward fixed point and adjoint (implicit) gradients, each a contraction solved to a
tolerance with ``converged``/``iterations``/``residual``; the Gram matrices ``G = Z^T Z``
and ``H`` of MATH §5.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .._util import validate
from ..activations import activation
from .lipschitz import _given_lipschitz

# ---------------------------------------------------------------------------
# validation helpers
# ---------------------------------------------------------------------------

def _as_data(X, d=None, *, check_parallel=False):
    arr = validate.data_matrix(X, d=d)
    return validate.rows_apart(arr) if check_parallel else arr


# ---------------------------------------------------------------------------
# solver results
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Equilibrium:
    """Result of the forward fixed-point iteration.

    Attributes
    ----------
    Z : ndarray (m, n)
        The equilibrium features (papers' orientation: one column per sample).
    P : ndarray (m, n)
        Pre-activations ``W Z_prev + U X`` with ``Z = sigma(P)`` exactly.
    converged : bool
    iterations : int
    residual : float
        ``max |Z_k - Z_{k-1}| / max(1, max |Z_k|)`` at the last iteration.
    """

    Z: np.ndarray
    P: np.ndarray
    converged: bool
    iterations: int
    residual: float


@dataclass(frozen=True)
class Adjoint:
    """Result of the adjoint fixed point ``B = D * (a 1^T + W^T B)``.

    Attributes
    ----------
    B : ndarray (m, n)
        Column j is ``b_j = D_j (a + W^T b_j)`` of MATH §5.
    converged : bool
    iterations : int
    residual : float
        ``max |B_k - B_{k-1}| / max |B_k|`` at the last iteration.
    """

    B: np.ndarray
    converged: bool
    iterations: int
    residual: float


def _times_with_probe(M, Z, probe):
    """``(M @ Z, M @ probe)`` in one BLAS product: the probe rides along as a last column
    (the power iteration for ``||W||_2`` costs no extra pass over W)."""
    n = Z.shape[1]
    Zx = np.empty((Z.shape[0], n + 1))
    Zx[:, :n] = Z
    Zx[:, n] = probe
    P = M @ Zx
    return P[:, :n], P[:, n].copy()


def _forward(sigma, W, UX, Z0, tol, max_iter, probe=None, lipschitz=None):
    """Fixed-point iteration; with ``probe`` (a unit vector) the first product also returns
    ``W probe``, and with ``lipschitz`` the iteration stops at once (not converged, residual
    NaN) when ``lipschitz * ||W probe|| >= 1``."""
    Z = Z0
    residual = math.inf
    P = None
    for it in range(1, max_iter + 1):
        if it == 1 and probe is not None:
            WZ, probe = _times_with_probe(W, Z, probe)
            P = WZ + UX
            if lipschitz is not None and not lipschitz * np.linalg.norm(probe) < 1.0:
                # contraction not certified: stop before iterating a possibly expanding map
                return Equilibrium(Z, P, False, it, math.nan), probe
        else:
            P = W @ Z
            P += UX
        Znew = sigma(P)
        diff = float(np.max(np.abs(Znew - Z)))
        scale = max(1.0, float(np.max(np.abs(Znew))))
        residual = diff / scale
        Z = Znew
        if not math.isfinite(residual):
            return Equilibrium(Z, P, False, it, residual), probe
        if residual <= tol:
            return Equilibrium(Z, P, True, it, residual), probe
    return Equilibrium(Z, P, False, max_iter, residual), probe


def _adjoint(W, D, a, B0, tol, max_iter, probe=None):
    """Adjoint iteration; with ``probe`` the first product also returns W^T probe."""
    B = B0
    residual = math.inf
    acol = a[:, None]
    WT = W.T
    for it in range(1, max_iter + 1):
        if it == 1 and probe is not None:
            Bnew, probe = _times_with_probe(WT, B, probe)
        else:
            Bnew = WT @ B
        Bnew += acol
        Bnew *= D
        diff = float(np.max(np.abs(Bnew - B)))
        scale = float(np.max(np.abs(Bnew)))
        residual = diff / scale if scale > 0 else diff
        B = Bnew
        if not math.isfinite(residual):
            return Adjoint(B, False, it, residual), probe
        if residual <= tol:
            return Adjoint(B, True, it, residual), probe
    return Adjoint(B, False, max_iter, residual), probe


def _power_norm(W, v, iters):
    """Warm-started power iteration on W^T W: (estimate of ||W||_2, new vector).

    The estimate ``||W v||`` with ``||v|| = 1`` is a lower bound on ``||W||_2``.
    """
    est = 0.0
    for _ in range(iters):
        w = W @ v
        est = float(np.linalg.norm(w))
        v = W.T @ w
        nv = float(np.linalg.norm(v))
        if nv == 0 or not math.isfinite(nv):
            return est, v
        v = v / nv
    est = float(np.linalg.norm(W @ v))
    return est, v


# ---------------------------------------------------------------------------
# the model
# ---------------------------------------------------------------------------

class DEQ:
    """A finite-width deep equilibrium model with the papers' initialization (MATH §4).

    Parameters
    ----------
    d : int
        Input dimension.
    width : int
        Width m.
    act : str or Activation
        The activation sigma.
    sigma_w2 : float, default 0.08
        Variance parameter: ``W_ij ~ N(0, 2 sigma_w2 / m)``.  Must satisfy
        ``0 <= sigma_w2 < 1/(8 L^2)`` with ``L = sup |sigma'|`` (well-posedness).
    seed : int or numpy.random.Generator or None
        Seed for ``numpy.random.default_rng``; W, U, a are drawn in that order.
    tol : float, default 1e-10
        Tolerance of the forward and adjoint fixed points (relative max-norm update).
    max_iter : int, default 1000
        Iteration limit of each fixed point.
    lipschitz : float or ConditionReport, optional
        ``L = sup |sigma'|`` when the caller knows it already: a number (taken as given),
        or the :class:`~hermite_dual.ConditionReport` of ``act`` (its C1 bound is used,
        the upper end of an enclosure).  By default :func:`lipschitz_constant` runs
        :func:`~hermite_dual.check_conditions` once per activation.

    Attributes
    ----------
    W, U, a : ndarray
        Parameters, shapes (m, m), (m, d), (m,); ``U_ij ~ N(0, 2/d)``, ``a_i ~ N(0, 1/m)``.
    lipschitz : float
        ``L = sup |sigma'|``; ``lipschitz_source`` says how it was obtained.

    Raises
    ------
    ValueError
        For a non-integer or non-positive d or width, a non-finite or negative sigma_w2,
        or ``sigma_w2 >= 1/(8 L^2)``.

    Examples
    --------
    >>> import numpy as np, hermite_dual as hd
    >>> model = hd.DEQ(3, 400, "relu", sigma_w2=0.08, seed=0)
    >>> model.W.shape, model.U.shape, model.a.shape
    ((400, 400), (400, 3), (400,))
    >>> round(float(np.var(model.W) * 400 / 2), 2)   # 2 sigma_w^2 / m per entry
    0.08
    >>> hd.DEQ(3, 10, "tanh", sigma_w2=0.2)
    Traceback (most recent call last):
    ...
    ValueError: sigma_w2 = 0.2 is beyond the well-posedness limit 1/(8 L^2) = 0.125 ...
    """

    def __init__(self, d, width, act, sigma_w2=0.08, seed=None, *, tol=1e-10, max_iter=1000,
                 lipschitz=None):
        self.d = validate.positive_integer(d, "d")
        self.width = validate.positive_integer(width, "width")
        self.act = activation(act)
        self.sigma_w2 = validate.sigma_w2(sigma_w2)
        self.tol = validate.positive(tol, "tol")
        self.max_iter = validate.positive_integer(max_iter, "max_iter")
        self.lipschitz, self.lipschitz_source = _given_lipschitz(lipschitz, self.act)
        limit = 1.0 / (8.0 * self.lipschitz ** 2) if self.lipschitz > 0 else math.inf
        if not self.sigma_w2 < limit:
            raise ValueError(
                f"sigma_w2 = {sigma_w2!r} is beyond the well-posedness limit 1/(8 L^2) = "
                f"{limit!r} (L = sup|sigma'| = {self.lipschitz!r})")
        self._sigma = self.act
        self._dsigma = self.act.derivative(1)
        rng = np.random.default_rng(seed)
        m, d = self.width, self.d
        self.W = rng.normal(0.0, math.sqrt(2.0 * self.sigma_w2 / m), size=(m, m))
        self.U = rng.normal(0.0, math.sqrt(2.0 / d), size=(m, d))
        self.a = rng.normal(0.0, math.sqrt(1.0 / m), size=m)
        self._power_vec = None

    # -- bookkeeping ----------------------------------------------------------
    def __repr__(self):
        return (f"DEQ(d={self.d}, width={self.width}, act={self.act.name!r}, "
                f"sigma_w2={self.sigma_w2!r})")

    def copy(self):
        """An independent copy (parameters copied)."""
        new = object.__new__(DEQ)
        new.__dict__.update(self.__dict__)
        new.W, new.U, new.a = self.W.copy(), self.U.copy(), self.a.copy()
        new._power_vec = None if self._power_vec is None else self._power_vec.copy()
        return new

    def spectral_norm(self, iters=50):
        """Power-iteration estimate of ``||W||_2`` (a lower bound), warm-started.

        Examples
        --------
        >>> import numpy as np, hermite_dual as hd
        >>> model = hd.DEQ(2, 60, "tanh", seed=3)
        >>> bool(abs(model.spectral_norm(500) - np.linalg.norm(model.W, 2)) < 1e-3)
        True
        """
        if self._power_vec is None or self._power_vec.shape != (self.width,):
            self._power_vec = np.full(self.width, 1.0 / math.sqrt(self.width))
        est, self._power_vec = _power_norm(self.W, self._power_vec, int(iters))
        return est

    # -- forward ---------------------------------------------------------------
    def equilibrium(self, X, *, Z0=None, tol=None, max_iter=None):
        """Solve ``Z = sigma(W Z + U X)`` by fixed-point iteration.

        Parameters
        ----------
        X : array_like, shape (n, d)
        Z0 : ndarray (m, n), optional
            Warm start (default: zeros).
        tol, max_iter : optional
            Override the model's tolerance and iteration limit.

        Returns
        -------
        Equilibrium
            With ``Z`` of shape (m, n), ``converged``, ``iterations``, ``residual``.
        """
        Xr = _as_data(X, self.d)
        tol = self.tol if tol is None else validate.positive(tol, "tol")
        max_iter = self.max_iter if max_iter is None else validate.positive_integer(max_iter, "max_iter")
        n = Xr.shape[0]
        if Z0 is None:
            Z0 = np.zeros((self.width, n))
        else:
            Z0 = np.asarray(Z0, dtype=np.float64)
            if Z0.shape != (self.width, n):
                raise ValueError(f"Z0 must have shape {(self.width, n)!r}, got {Z0.shape!r}")
        return _forward(self._sigma, self.W, self.U @ Xr.T, Z0, tol, max_iter)[0]

    def _solved(self, X, **kw):
        eq = self.equilibrium(X, **kw)
        if not eq.converged:
            raise RuntimeError(
                f"forward fixed point did not converge: {eq.iterations} iterations, "
                f"residual {eq.residual!r} (L*||W||_2 ~ "
                f"{self.lipschitz * self.spectral_norm():.4g}; a contraction needs < 1)")
        return eq

    def features(self, X, **kw):
        """Equilibrium features, rows are samples: ``Z^T`` of shape (n, m).

        Raises
        ------
        RuntimeError
            If the forward fixed point does not converge within the iteration limit.
        """
        return self._solved(X, **kw).Z.T.copy()

    def predict(self, X, **kw):
        """Predictions ``a^T Z``, shape (n,).

        Examples
        --------
        >>> import numpy as np, hermite_dual as hd
        >>> model = hd.DEQ(2, 30, "identity", sigma_w2=0.05, seed=0)
        >>> X = np.array([[1.0, 0.0], [0.0, 1.0]])
        >>> Z = np.linalg.solve(np.eye(30) - model.W, model.U @ X.T)  # linear DEQ
        >>> bool(np.allclose(model.predict(X), model.a @ Z))
        True
        """
        return self.a @ self._solved(X, **kw).Z

    def gram(self, X, **kw):
        """Finite-width Gram matrix ``G = Z^T Z`` (n x n)."""
        Z = self._solved(X, **kw).Z
        return Z.T @ Z

    def adjoint(self, X, *, eq=None, B0=None, tol=None, max_iter=None):
        """The adjoint vectors ``b_j = D_j (a + W^T b_j)`` as columns of B (m, n)."""
        Xr = _as_data(X, self.d)
        eq = self._solved(Xr) if eq is None else eq
        tol = self.tol if tol is None else tol
        max_iter = self.max_iter if max_iter is None else max_iter
        D = self._dsigma(eq.P)
        if B0 is None:
            B0 = np.zeros_like(eq.Z)
        adj = _adjoint(self.W, D, self.a, B0, tol, max_iter)[0]
        if not adj.converged:
            raise RuntimeError(f"adjoint fixed point did not converge: {adj.iterations} "
                               f"iterations, residual {adj.residual!r}")
        return adj

    def tangent_gram(self, X, **kw):
        """Full tangent Gram matrix ``H = G + (B^T B) * (G + X X^T)`` (MATH §5).

        ``H_ij`` is the inner product of the gradients of ``y_hat_i`` and ``y_hat_j``
        with respect to all of (W, U, a).

        Examples
        --------
        >>> import numpy as np, hermite_dual as hd
        >>> from hermite_dual.data import sphere_data
        >>> X, _ = sphere_data(5, 3, seed=2)
        >>> model = hd.DEQ(3, 40, "tanh", seed=0)
        >>> H, G = model.tangent_gram(X), model.gram(X)
        >>> bool(np.linalg.eigvalsh(H - G).min() > -1e-9)   # H >= G
        True
        """
        Xr = _as_data(X, self.d)
        eq = self._solved(Xr, **kw)
        B = self.adjoint(Xr, eq=eq).B
        G = eq.Z.T @ eq.Z
        return G + (B.T @ B) * (G + Xr @ Xr.T)

    # -- loss and gradients ------------------------------------------------------
    def loss(self, X, y, **kw):
        """``Phi = ||a^T Z - y||^2 / 2``."""
        Xr = _as_data(X, self.d)
        yv = validate.targets(y, Xr.shape[0])
        r = self.predict(Xr, **kw) - yv
        return 0.5 * float(r @ r)

    def gradient(self, X, y, **kw):
        """Loss and its gradient with respect to (W, U, a), by the adjoint fixed point.

        Returns
        -------
        (float, dict)
            ``Phi`` and ``{"W": ..., "U": ..., "a": ...}``.
        """
        Xr = _as_data(X, self.d)
        yv = validate.targets(y, Xr.shape[0])
        eq = self._solved(Xr, **kw)
        r = self.a @ eq.Z - yv
        B = self.adjoint(Xr, eq=eq, tol=kw.get("tol"), max_iter=kw.get("max_iter")).B
        Br = B * r
        return 0.5 * float(r @ r), {"W": Br @ eq.Z.T, "U": Br @ Xr, "a": eq.Z @ r}
