"""A small finite-width deep equilibrium model, trained by gradient descent (MATH §4-§6).

The model is exactly the one of Ling et al. (AISTATS 2023), kept by Truong (TMLR 2025):
parameters ``W`` (m x m), ``U`` (m x d), ``a`` (m), equilibrium ``Z = sigma(W Z + U X)``
(m x n, one column per sample), prediction ``y_hat = a^T Z`` and loss
``Phi = ||y_hat - y||^2 / 2``.  The scale lives in the initialization (no 1/sqrt(m) in the
forward map).  Public functions take data as rows, ``X`` of shape ``(n, d)``; internally the
papers' column orientation is used (``Z`` is ``m x n``).

* Forward: fixed-point iteration ``Z <- sigma(W Z + U X)``, warm-started, with a tolerance on
  the max-norm of the update and an iteration limit; the result says whether it converged.
* Backward: the adjoint fixed point.  Writing ``Lam[:, j] = r_j v_j``, the adjoint equation
  ``Lam = a r^T + W^T (D * Lam)`` separates into ``B = D * (a 1^T + W^T B)`` with
  ``B[:, j] = b_j`` the vectors of MATH §5, independent of the residual ``r``; then
  ``grad_W = (B r) Z^T``, ``grad_U = (B r) X^T``, ``grad_a = Z r`` (``B r`` scales column j
  by ``r_j``).  ``B`` also gives the tangent Gram matrix ``H = G + (B^T B) * (G + X^T X)``.
* :func:`train` runs gradient descent on (W, U, a) and lays the observed loss beside the
  theorem envelope, its population form, and the linearized (tangent-kernel) curves.

Notes
-----
Cost.  Every fixed-point iteration is one m x m by m x n product, so a step costs
(forward + adjoint iterations + 1) such products; three are unavoidable (one ``W Z``, one
``W^T B``, one ``(B r) Z^T``).  The iterations converge at the spectral radius of
``D W`` (about ``sqrt(2 sigma_w^2 E[sigma'^2])``, ~0.3 for tanh at sigma_w^2 = 0.08),
and the eigenvalues of ``D W`` fill a disk (circular law), where no Krylov or Anderson
acceleration can beat plain iteration: Anderson with memory 3, 5 and 10 was measured to
take exactly as many iterations (19 / 21 / 20 from a cold start for tanh / sin / relu,
m = 1000, n = 100), so it is not used.  What pays is the warm start: the iterates of
successive steps are extrapolated by a polynomial of adaptive order (up to 5), which
brings a step down to about 3 forward and 2-3 adjoint iterations once the fast modes
of the loss have decayed (``benchmarks/bench_train.py``).

Examples
--------
>>> import numpy as np
>>> import hermite_dual as hd
>>> from hermite_dual.deq import sphere_data
>>> X, y = sphere_data(6, 4, seed=0)
>>> model = hd.DEQ(4, 50, "tanh", seed=1)
>>> Z = model.features(X)
>>> Z.shape
(6, 50)
>>> bool(np.allclose(Z, np.tanh(Z @ model.W.T + X @ model.U.T), atol=1e-9))  # a fixed point
True
>>> bool(np.allclose(model.gram(X), Z @ Z.T))
True
"""

from __future__ import annotations

import functools
import json
import math
import os
import sys
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
import sympy as sp

from ._json import to_jsonable
from ._util import validate
from ._util.io import atomic_write, check_output_path
from ._warnings import HermiteDualWarning
from .activations import Activation, activation, builtin_names

__all__ = [
    "DEQ",
    "Equilibrium",
    "Adjoint",
    "TrainingRun",
    "train",
    "width_sweep",
    "sphere_data",
    "digits_data",
    "describe_run",
    "lipschitz_constant",
]

_FORMAT_VERSION = 1
_EXTRAPOLATION_ORDER = 5     # highest order of the warm-start extrapolation (see _Extrapolator)


# ---------------------------------------------------------------------------
# validation helpers
# ---------------------------------------------------------------------------

def _as_data(X, d=None, *, check_parallel=False):
    arr = validate.data_matrix(X, d=d)
    return validate.rows_apart(arr) if check_parallel else arr


# ---------------------------------------------------------------------------
# the Lipschitz constant L = sup |sigma'|
# ---------------------------------------------------------------------------

def lipschitz_constant(act):
    """L = sup |sigma'| and where it came from.

    Uses :func:`hermite_dual.check_conditions` when the conditions layer is available:
    the exact value, or the upper end of its certified enclosure (conservative for the
    well-posedness check).  When that layer is missing or leaves the bound undetermined,
    falls back to a float64 grid maximum of ``|sigma'|`` over ``[-60, 60]`` (step 1e-3,
    kinks approached from both sides) -- an estimate, not a certified bound; the source
    string says which.  Results are cached per activation.

    Parameters
    ----------
    act : str or Activation
        The activation.

    Returns
    -------
    (float, str)
        ``(L, source)``; ``L`` is ``inf`` when sigma' is unbounded.

    Examples
    --------
    >>> from hermite_dual.deq import lipschitz_constant
    >>> round(lipschitz_constant("tanh")[0], 12)
    1.0
    >>> round(lipschitz_constant("sigmoid")[0], 12)
    0.25
    """
    return _lipschitz_cached(activation(act))


def _given_lipschitz(given, act):
    """(L, source) from what the caller passed to DEQ, or from check_conditions."""
    from .conditions import ConditionReport
    if given is None:
        return lipschitz_constant(act)
    if isinstance(given, ConditionReport):
        if given.expr != act.expr:
            raise ValueError(f"the ConditionReport is for {given.name!r}, not for the "
                             f"activation {act.name!r}")
        return _lipschitz_from_bound(act, given.sup_first)
    if isinstance(given, bool) or not isinstance(given, (int, float, np.integer, np.floating)) \
            or not (math.isfinite(given) or given == math.inf) or given < 0:
        raise ValueError(f"lipschitz must be a non-negative number or a ConditionReport, "
                         f"got {given!r}")
    return float(given), "given by the caller"


@functools.lru_cache(maxsize=64)
def _lipschitz_cached(act):
    # check_conditions' budget counts work, so its verdict (and this cache) is the same
    # on any machine
    from .conditions import check_conditions
    return _lipschitz_from_bound(act, check_conditions(act).sup_first)


def _lipschitz_from_bound(act, bound):
    if bound.status == "exact":
        return float(bound.value), "check_conditions: exact"
    if bound.status == "enclosure":
        return float(bound.upper), "check_conditions: upper end of certified enclosure"
    if bound.status in ("unbounded", "not_a_function"):
        return math.inf, f"check_conditions: {bound.status}"
    return _grid_lipschitz(act), f"grid estimate (check_conditions: {bound.status})"


def _grid_lipschitz(act):
    deriv = act.derivative(1)
    grid = np.linspace(-60.0, 60.0, 120001)
    pts = [grid]
    for k in act.kinks_float:
        pts.append(np.array([k - 1e-9, k + 1e-9]))
    vals = np.abs(deriv(np.concatenate(pts)))
    vals = vals[np.isfinite(vals)] if np.any(np.isfinite(vals)) else vals
    value = float(np.max(vals)) if vals.size else math.inf
    # |sigma'| still growing beyond the grid means it is unbounded (exp, x^2, ...)
    tail = np.abs(deriv(np.array([-120.0, 120.0])))
    if not np.all(np.isfinite(tail)) or tail.max() > value * (1 + 1e-9):
        return math.inf
    return value


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


def _forward(sigma, W, UX, Z0, tol, max_iter, probe=None, lipschitz=None):
    """Fixed-point iteration; with ``probe`` (a unit vector) the first product also returns
    ``W probe``, and with ``lipschitz`` the iteration stops at once (not converged, residual
    NaN) when ``lipschitz * ||W probe|| >= 1``."""
    Z = Z0
    residual = math.inf
    P = None
    n = UX.shape[1]
    for it in range(1, max_iter + 1):
        if it == 1 and probe is not None:
            Zx = np.empty((Z.shape[0], n + 1))
            Zx[:, :n] = Z
            Zx[:, n] = probe
            PW = W @ Zx
            probe = PW[:, n].copy()
            P = PW[:, :n] + UX
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
    n = B0.shape[1]
    for it in range(1, max_iter + 1):
        if it == 1 and probe is not None:
            Bx = np.empty((B.shape[0], n + 1))
            Bx[:, :n] = B
            Bx[:, n] = probe
            PB = WT @ Bx
            probe = PB[:, n].copy()
            Bnew = PB[:, :n]
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
        >>> from hermite_dual.deq import sphere_data
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


# ---------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------

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
    >>> from hermite_dual.deq import sphere_data
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
    X = X / np.linalg.norm(X, axis=1, keepdims=True) * 8.0
    _, keep = np.unique(np.round(X, 12), axis=0, return_index=True)
    keep = np.sort(keep)
    X, y = X[keep], y[keep]
    if n is not None:
        n = validate.positive_integer(n, "n")
        if n > X.shape[0]:
            raise ValueError(f"n = {n!r} exceeds the {X.shape[0]} available rows")
        idx = np.sort(np.random.default_rng(seed).choice(X.shape[0], n, replace=False))
        X, y = X[idx], y[idx]
    return np.ascontiguousarray(X), y


# ---------------------------------------------------------------------------
# training
# ---------------------------------------------------------------------------

class _Extrapolator:
    """Warm starts for a sequence of fixed points: polynomial extrapolation of adaptive order.

    Keeps the backward differences ``D^0 .. D^k`` of the last iterates; the degree-j
    prediction of the next one is ``sum_{i <= j} D^i`` (Newton's backward formula one step
    ahead).  After each new iterate the order whose prediction of it was best is kept
    for the next step (tried one higher when the highest available won), so smooth
    trajectories get high order and oscillating ones (step sizes beyond 1/lambda_max)
    fall back to low order.
    """

    def __init__(self, max_order=5):
        self.max_order = max_order
        self.diffs = []
        self.order = 0

    def predict(self, shape):
        if not self.diffs:
            return np.zeros(shape)
        out = self.diffs[0].copy()
        for j in range(1, min(self.order, len(self.diffs) - 1) + 1):
            out += self.diffs[j]
        return out

    def update(self, new):
        if self.diffs:
            # judge the orders on every 8th row: the choice needs no more, and it is cheap
            sub = new[::8]
            err = self.diffs[0][::8] - sub
            errs = [float(np.max(np.abs(err)))]
            for j in range(1, len(self.diffs)):
                err += self.diffs[j][::8]
                errs.append(float(np.max(np.abs(err))))
            best = int(np.argmin(errs))
            self.order = best + 1 if best == len(errs) - 1 else best
        table = [new]
        for j in range(1, min(len(self.diffs), self.max_order) + 1):
            table.append(table[j - 1] - self.diffs[j - 1])
        self.diffs = table


def _fit_rate(curve, start, stop):
    """Least-squares slope of log(curve) on [start, stop): per-step factor and its std error."""
    tau = np.arange(start, stop, dtype=np.float64)
    vals = np.asarray(curve[start:stop], dtype=np.float64)
    ok = np.isfinite(vals) & (vals > 0)
    tau, logv = tau[ok], np.log(vals[ok])
    if tau.size < 2:
        return math.nan, math.nan
    A = np.vstack([tau, np.ones_like(tau)]).T
    coef, res, *_ = np.linalg.lstsq(A, logv, rcond=None)
    slope = float(coef[0])
    if tau.size > 2:
        resid = logv - A @ coef
        s2 = float(resid @ resid) / (tau.size - 2)
        se = math.sqrt(s2 / float(np.sum((tau - tau.mean()) ** 2)))
    else:
        se = 0.0
    return math.exp(slope), math.exp(slope) * se


def _spectral_curve(eigvals, coeffs, eta, tau):
    """``(1/2) sum_k c_k^2 (1 - eta mu_k)^(2 tau)`` for each tau."""
    base = (1.0 - eta * np.asarray(eigvals))[None, :]
    with np.errstate(over="ignore", invalid="ignore"):
        powers = base ** (2 * np.asarray(tau, dtype=np.float64)[:, None])
    return 0.5 * powers @ (np.asarray(coeffs) ** 2)

def _nonfinite_back(data, key):
    flag = data.get(f"{key}_nonfinite")
    return {"inf": math.inf, "-inf": -math.inf}.get(flag, math.nan)


def _saved_activation(data):
    """The Activation of a saved run, rebuilt through the safe parser (never eval)."""
    name = data["activation"]
    text = data.get("activation_expr")
    if text is None or (name in builtin_names() and text == sp.sstr(activation(name).expr)):
        return activation(name)
    parsed = activation(text)
    return Activation(name=name, expr=parsed.expr, kinks=parsed.kinks)

@dataclass
class TrainingRun:
    """Observed gradient-descent history of a DEQ and the predictions beside it (MATH §6).

    Attributes
    ----------
    loss : ndarray
        ``Phi(tau)`` for tau = 0, 1, ..., one entry per completed forward solve.
    record_steps, lambda_min, W_norm : ndarray
        Every ``record_every`` steps: the step, ``lambda_min(G(tau))`` (dense eigensolver)
        and a warm-started power-iteration estimate of ``||W(tau)||_2`` (a lower bound).
    lr, lr_source : float, str
        The step size and how it was chosen.
    lambda_0 : float
        ``lambda_min(G(0))``.
    H0_eigvals, H0_coeffs : ndarray
        Eigenvalues of H(0) and the coordinates of r(0) in its eigenbasis.
    status, message : str
        ``"completed"``, ``"diverged"``, ``"contraction_lost"``, ``"forward_failed"``,
        ``"adjoint_failed"``, ``"callback_failed"`` or ``"interrupted"``, and a sentence
        saying what happened.
    forward_iterations, adjoint_iterations, step_seconds : ndarray
        Per gradient step: solver iterations and wall time.
    population : dict or None
        Filled on first use of a population prediction (:attr:`lambda_star`,
        :attr:`population_envelope`, :attr:`linearized_infinite`) from
        :func:`hermite_dual.population_gram`: ``lambda_star`` with ``lambda_star_error``
        and the Hermite ``lambda_star_certificate``, ``K_error_bound``, and the spectrum
        of Theta with the coordinates of r(0).  Those properties raise ``RuntimeError``
        when the population layer is unavailable or did not converge.

    Notes
    -----
    Errors of what is shown: ``loss`` is exact up to the forward tolerance (relative
    max-norm ``forward_tol`` on Z); ``lambda_min`` is a dense eigensolver value (backward
    error ~ n eps ||G||); ``W_norm`` is a power-iteration *lower bound*;
    ``observed_rate_stderr`` is the regression's standard error (an estimate);
    population quantities carry the bounds reported by ``population_gram``.
    """

    activation: Activation
    width: int
    sigma_w2: float
    X: np.ndarray
    y: np.ndarray
    lr: float
    lr_source: str
    lipschitz: float
    loss: np.ndarray
    record_steps: np.ndarray
    lambda_min: np.ndarray
    W_norm: np.ndarray
    lambda_0: float
    H0_eigvals: np.ndarray
    H0_coeffs: np.ndarray
    r0: np.ndarray
    status: str = "completed"
    message: str = ""
    steps_requested: int = 0
    forward_iterations: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    adjoint_iterations: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    step_seconds: np.ndarray = field(default_factory=lambda: np.zeros(0))
    forward_tol: float = 1e-10
    adjoint_tol: float = 1e-8
    population: dict | None = None
    equilibrium: object = field(default=None, repr=False, compare=False)

    # -- basic derived quantities -------------------------------------------
    @property
    def steps(self):
        """Number of gradient steps whose resulting loss was recorded."""
        return max(len(self.loss) - 1, 0)

    @property
    def tau(self):
        """Step indices 0..steps of :attr:`loss`."""
        return np.arange(len(self.loss))

    @property
    def phi0(self):
        return float(self.loss[0]) if len(self.loss) else math.nan

    @property
    def envelope_applies(self):
        """True when ``eta < 2 / lambda_0`` (the theorem's step-size hypothesis)."""
        return bool(self.lr * self.lambda_0 < 2.0)

    @property
    def envelope(self):
        """Ling/Truong bound ``(1 - eta lambda_0 / 2)^tau Phi(0)``; NaN if eta >= 2/lambda_0."""
        if not self.envelope_applies:
            return np.full(len(self.loss), math.nan)
        return (1.0 - self.lr * self.lambda_0 / 2.0) ** self.tau * self.phi0

    @property
    def linearized(self):
        """Linearized curve ``(1/2) ||(I - eta H(0))^tau r(0)||^2``."""
        return _spectral_curve(self.H0_eigvals, self.H0_coeffs, self.lr, self.tau)

    # -- population (infinite-width) predictions ----------------------------
    def _population(self):
        if self.population is None:
            from .equilibrium import population_gram
            try:
                ek = self.equilibrium if self.equilibrium is not None else population_gram(
                    self.X, self.activation, self.sigma_w2, raise_on_failure=False)
            except ValueError as exc:       # e.g. the kernel map is not a contraction
                raise RuntimeError(f"population predictions unavailable: {exc}") from None
            if not ek.converged:
                raise RuntimeError(f"population_gram did not converge (residual "
                                   f"{ek.residual!r}); population predictions unavailable")
            theta_eigs, Q = np.linalg.eigh(np.asarray(ek.Theta, dtype=np.float64))
            self.population = {
                "lambda_star": float(ek.lambda_min),
                "lambda_star_error": float(ek.lambda_min_error),
                "lambda_star_certificate": float(ek.certificate),
                "theta_eigvals": theta_eigs,
                "theta_coeffs": Q.T @ self.r0,
                "K_error_bound": float(ek.error_bound),
            }
        return self.population

    @property
    def lambda_star(self):
        """``lambda_min(K)`` of the population Gram matrix (via ``population_gram``)."""
        return self._population()["lambda_star"]

    @property
    def population_envelope(self):
        """``(1 - eta m lambda_* / 4)^tau Phi(0)``."""
        base = 1.0 - self.lr * self.width * self.lambda_star / 4.0
        return base ** self.tau * self.phi0

    @property
    def linearized_infinite(self):
        """Infinite-width linearized curve ``(1/2) ||(I - eta m Theta)^tau r(0)||^2``."""
        pop = self._population()
        return _spectral_curve(self.width * pop["theta_eigvals"], pop["theta_coeffs"],
                               self.lr, self.tau)

    # -- rates ----------------------------------------------------------------
    def fit_window(self):
        """The steps ``[start, stop)`` over which rates are fitted: the second half."""
        stop = len(self.loss)
        return stop // 2, stop

    @property
    def observed_rate(self):
        """Per-step loss factor fitted (least squares) to log Phi over :meth:`fit_window`."""
        return _fit_rate(self.loss, *self.fit_window())[0]

    @property
    def observed_rate_stderr(self):
        """Standard error of :attr:`observed_rate` from the regression (an estimate)."""
        return _fit_rate(self.loss, *self.fit_window())[1]

    @property
    def predicted_rate(self):
        """Predicted per-step loss factors, by prediction.

        ``theorem`` = 1 - eta lambda_0/2; ``population`` = 1 - eta m lambda_*/4;
        ``linearized`` and ``infinite_width`` are the fitted factors of the linearized curves
        over the same window as the observed rate; ``linearized_asymptotic`` =
        (1 - eta lambda_min(H(0)))^2.  Population entries are NaN when unavailable.
        """
        start, stop = self.fit_window()
        out = {
            "theorem": 1.0 - self.lr * self.lambda_0 / 2.0,
            "linearized": _fit_rate(self.linearized, start, stop)[0],
            "linearized_asymptotic": (1.0 - self.lr * float(np.min(self.H0_eigvals))) ** 2,
        }
        try:
            out["population"] = 1.0 - self.lr * self.width * self.lambda_star / 4.0
            out["infinite_width"] = _fit_rate(self.linearized_infinite, start, stop)[0]
        except RuntimeError:
            out["population"] = math.nan
            out["infinite_width"] = math.nan
        return out

    def summary(self):
        """Observed against predicted rates, as a JSON-able dict.

        ``ratios[k] = log(observed_rate) / log(predicted_rate[k])``: the observed decay
        exponent over the predicted one (> 1 means faster than predicted).
        """
        obs = self.observed_rate
        pred = self.predicted_rate
        ratios = {}
        for k, v in pred.items():
            ok = 0 < v < 1 and 0 < obs < 1
            ratios[k] = math.log(obs) / math.log(v) if ok else math.nan
        out = {
            "activation": self.activation.name,
            "width": self.width,
            "n": int(self.X.shape[0]),
            "d": int(self.X.shape[1]),
            "sigma_w2": self.sigma_w2,
            "lr": self.lr,
            "lr_source": self.lr_source,
            "status": self.status,
            "message": self.message,
            "steps": self.steps,
            "loss_initial": self.phi0,
            "loss_final": float(self.loss[-1]) if len(self.loss) else math.nan,
            "lambda_0": self.lambda_0,
            "lambda_min_H0": float(np.min(self.H0_eigvals)),
            "lambda_max_H0": float(np.max(self.H0_eigvals)),
            "envelope_applies": self.envelope_applies,
            "observed_rate": obs,
            "observed_rate_stderr": self.observed_rate_stderr,
            "fit_window": list(self.fit_window()),
            "predicted_rate": pred,
            "ratios": ratios,
            "W_norm_final": float(self.W_norm[-1]) if len(self.W_norm) else math.nan,
        }
        try:
            out["lambda_star"] = self.lambda_star
            for key in ("lambda_star_error", "lambda_star_certificate", "K_error_bound"):
                out[key] = self.population[key]
        except RuntimeError as exc:
            out["lambda_star"] = math.nan
            out["population_note"] = str(exc)
        return out

    @property
    def failed(self):
        """True when the run ended in a failure (diverged, contraction lost, a solver failed).

        An interrupted run is not a failure: its history up to the stop is sound.
        """
        return self.status not in ("completed", "interrupted")

    def __str__(self):
        s = self.summary()
        lines = [f"DEQ {s['activation']} m={s['width']} n={s['n']} d={s['d']} "
                 f"sigma_w2={s['sigma_w2']}: {s['status']} after {s['steps']} steps "
                 f"(lr={s['lr']:.4g}, {s['lr_source']})",
                 f"  loss {s['loss_initial']:.4g} -> {s['loss_final']:.4g}",
                 f"  observed per-step factor {s['observed_rate']:.6g} "
                 f"+- {s['observed_rate_stderr']:.2g}"]
        if self.failed:
            # predictions beside a failed run would read as results: none are printed
            lines.append("  no predictions: the run did not complete")
        else:
            for k, v in s["predicted_rate"].items():
                lines.append(f"  {k:>22}: {v:.6g}  (exponent ratio observed/predicted "
                             f"{s['ratios'][k]:.3g})")
        if s["message"]:
            lines.append(f"  {s['message']}")
        return "\n".join(lines)

    # -- persistence ----------------------------------------------------------
    _ARRAYS = ("X", "y", "loss", "record_steps", "lambda_min", "W_norm", "H0_eigvals",
               "H0_coeffs", "r0", "forward_iterations", "adjoint_iterations", "step_seconds")
    _SCALARS = ("activation", "width", "sigma_w2", "lr", "lr_source", "lipschitz",
                "lambda_0", "status", "message", "steps_requested", "forward_tol",
                "adjoint_tol")

    def to_dict(self):
        """Everything needed to rebuild the run (the activation by name and expression), JSON-able (arrays as lists)."""
        out = {"format": "hermite_dual.TrainingRun", "version": _FORMAT_VERSION}
        for k in self._SCALARS:
            out[k] = getattr(self, k)
        out["activation"] = self.activation.name
        out["activation_expr"] = sp.sstr(self.activation.expr)
        for k in self._ARRAYS:
            out[k] = np.asarray(getattr(self, k)).tolist()
        if self.population is not None:
            out["population"] = {k: (np.asarray(v).tolist() if isinstance(v, np.ndarray)
                                     else v) for k, v in self.population.items()}
        return out

    @classmethod
    def from_dict(cls, data):
        """Inverse of :meth:`to_dict`."""
        if data.get("format") != "hermite_dual.TrainingRun":
            raise ValueError(f"not a saved TrainingRun (format {data.get('format')!r})")
        kw = {k: data[k] for k in cls._SCALARS}
        for k in ("sigma_w2", "lr", "lipschitz", "lambda_0", "forward_tol", "adjoint_tol"):
            if kw[k] is None:                  # strict JSON stores NaN and inf as null
                kw[k] = _nonfinite_back(data, k)
        kw["activation"] = _saved_activation(data)
        for k in cls._ARRAYS:
            kw[k] = np.asarray(data[k], dtype=int if k.endswith("iterations")
                               or k == "record_steps" else np.float64)
        pop = data.get("population")
        if pop is not None:
            pop = {k: (np.asarray(v, dtype=np.float64) if isinstance(v, list)
                       else (_nonfinite_back(pop, k) if v is None else v))
                   for k, v in pop.items() if not k.endswith("_nonfinite")}
        kw["population"] = pop
        if kw["X"].ndim != 2:
            kw["X"] = kw["X"].reshape(0, 0)
        return cls(**kw)

    def save(self, path):
        """Write the run atomically and durably (``hermite_dual._util.io.atomic_write``).

        ``.npz`` paths get a compressed numpy archive; anything else gets strict JSON
        (non-finite numbers as ``null`` plus a ``<key>_nonfinite`` flag).  Returns the path.
        """
        path = os.fspath(path)
        text = json.dumps(to_jsonable(self.to_dict()), allow_nan=False).encode()
        if path.endswith(".npz"):
            import io
            buf = io.BytesIO()
            np.savez_compressed(buf, payload=np.frombuffer(text, dtype=np.uint8))
            text = buf.getvalue()
        atomic_write(path, text)
        return path

    @classmethod
    def load(cls, path):
        """Read a run written by :meth:`save`.

        Examples
        --------
        >>> import os, tempfile, numpy as np, hermite_dual as hd
        >>> from hermite_dual.deq import sphere_data
        >>> X, y = sphere_data(4, 3, seed=0)
        >>> run = hd.train(hd.DEQ(3, 30, "tanh", seed=0), X, y, steps=3, progress=False)
        >>> path = run.save(os.path.join(tempfile.mkdtemp(), "run.json"))
        >>> bool(np.array_equal(hd.TrainingRun.load(path).loss, run.loss))
        True
        """
        path = os.fspath(path)
        if path.endswith(".npz"):
            with np.load(path) as z:
                data = json.loads(bytes(z["payload"]).decode())
        else:
            with open(path, encoding="utf-8") as fh:
                data = json.load(fh)
        return cls.from_dict(data)

    def plot(self, path):
        """Figure: log-loss against step with the predictions, and ``||W||_2`` over training.

        The one training figure, :func:`hermite_dual.plotting.plot_training`; returns the path.
        """
        from .plotting import plot_training
        return plot_training(self, path)


def describe_run(run):
    """JSON-able description of a :class:`TrainingRun` for the command line.

    The :meth:`TrainingRun.summary` plus the curves (lists): ``tau``, ``loss``,
    ``envelope``, ``linearized``, and, when available, ``population_envelope`` and
    ``linearized_infinite``; ``record_steps``, ``lambda_min``, ``W_norm``.
    NaN is mapped to ``None`` and infinities to ``"inf"``/``"-inf"`` (``_json.to_jsonable``), so the result is strict JSON.

    Examples
    --------
    >>> import json, hermite_dual as hd
    >>> from hermite_dual.deq import sphere_data, describe_run
    >>> X, y = sphere_data(4, 3, seed=0)
    >>> run = hd.train(hd.DEQ(3, 30, "tanh", seed=0), X, y, steps=4, progress=False)
    >>> d = describe_run(run)
    >>> len(d["curves"]["loss"]), d["summary"]["status"]
    (5, 'completed')
    >>> _ = json.dumps(d, allow_nan=False)
    """
    curves = {"tau": run.tau.tolist(), "loss": run.loss.tolist(),
              "envelope": run.envelope.tolist(), "linearized": run.linearized.tolist(),
              "record_steps": run.record_steps.tolist(), "lambda_min": run.lambda_min.tolist(),
              "W_norm": run.W_norm.tolist()}
    try:
        curves["population_envelope"] = run.population_envelope.tolist()
        curves["linearized_infinite"] = run.linearized_infinite.tolist()
    except RuntimeError:
        pass
    return to_jsonable({"summary": run.summary(), "curves": curves})


class _Progress:
    def __init__(self, enabled, total):
        self.enabled = enabled and hasattr(sys.stderr, "isatty") and sys.stderr.isatty()
        self.total = total
        self.last = 0.0

    def update(self, step, loss, force=False):
        if not self.enabled:
            return
        now = time.monotonic()
        if force or now - self.last > 0.25:
            self.last = now
            sys.stderr.write(f"\rtrain: step {step}/{self.total} loss {loss:.6g}   ")
            sys.stderr.flush()

    def close(self):
        if self.enabled:
            sys.stderr.write("\n")
            sys.stderr.flush()


def _check_equilibrium(ek, model, X):
    if ek is None:
        return
    from .equilibrium import EquilibriumKernel
    if not isinstance(ek, EquilibriumKernel):
        raise TypeError(f"equilibrium must be an EquilibriumKernel, got {type(ek).__name__}")
    n = X.shape[0]
    if ek.K.shape != (n, n) or ek.activation.expr != model.act.expr \
            or ek.sigma_w2 != model.sigma_w2:
        raise ValueError(
            f"equilibrium is for {ek.activation.name!r}, sigma_w2 = {ek.sigma_w2!r}, "
            f"K of shape {ek.K.shape}; the run has {model.act.name!r}, sigma_w2 = "
            f"{model.sigma_w2!r} and n = {n} points")
    # Sigma = 2 sigma_w^2 K + (2/d) X X^T (MATH §5) ties the kernel to its data
    inputs = ek.Sigma - 2.0 * ek.sigma_w2 * ek.K
    if not np.allclose(inputs, (2.0 / X.shape[1]) * (X @ X.T), rtol=1e-9, atol=1e-9):
        raise ValueError("equilibrium was computed for other data than X")


def train(model, X, y, *, lr=None, steps=200, progress=True, record_every=10, tol=None,
          adjoint_tol=1e-8, max_iter=None, divergence_factor=1e3, callback=None, out=None,
          equilibrium=None):
    """Gradient descent on (W, U, a) of a :class:`DEQ`; observed loss beside the predictions.

    Each step solves the forward equilibrium and the adjoint fixed point, warm-started by
    polynomial extrapolation from the previous steps (adaptive order up to 5), and
    updates all parameters with step ``lr``.  Every step the contraction condition
    ``L ||W||_2 < 1`` is checked with one warm-started power iteration (folded into the
    solvers' first matrix products); if it fails the forward iteration is not attempted.
    The model is updated in place (when a run stops early, it holds the parameters of
    the last step taken).

    Parameters
    ----------
    model : DEQ
    X : array_like (n, d)
        Non-zero, pairwise non-parallel rows.
    y : array_like (n,)
    lr : float, optional
        Step size eta.  Default: ``1 / lambda_max(H(0))`` (the linearized dynamics then
        decrease every mode monotonically), reported in ``run.lr_source``.
    steps : int, default 200
    progress : bool, default True
        A one-line progress display on stderr, only when stderr is a terminal.
    record_every : int, default 10
        Period of the ``lambda_min(G)`` and ``||W||_2`` records (always also at the end).
    tol : float, optional
        Forward tolerance (default: the model's ``tol``).
    adjoint_tol : float, default 1e-8
        Adjoint tolerance during training (it only affects the step direction, not the
        measured loss; H(0) is always computed at the forward tolerance).
    max_iter : int, optional
        Iteration limit of each fixed point (default: the model's).
    divergence_factor : float, default 1e3
        Stop as diverged when the loss exceeds this multiple of Phi(0) or is not finite.
    callback : callable, optional
        ``callback(step, loss)`` after each recorded loss; raising ``KeyboardInterrupt``
        from it ends the run like Ctrl-C; any other exception ends it with status
        ``"callback_failed"`` (the message names the exception), the history kept.
    out : path, optional
        Save the run there (atomically) when training ends, however it ends.
    equilibrium : EquilibriumKernel, optional
        The :func:`~hermite_dual.population_gram` of ``X`` for this activation and
        ``sigma_w2``, when the caller has it already: the run's population predictions
        then use it instead of computing it again.

    Returns
    -------
    TrainingRun
        Also when the run diverges (``status`` "diverged", "contraction_lost",
        "forward_failed" or "adjoint_failed", with a :class:`HermiteDualWarning`) or is
        interrupted (``status`` "interrupted"): the history up to that point is kept.

    Raises
    ------
    ValueError
        For bad data (shape, NaN, zero or parallel rows), a non-positive or non-finite lr,
        steps < 1, record_every < 1, or divergence_factor <= 1.
    TypeError
        If model is not a DEQ.

    Examples
    --------
    >>> import hermite_dual as hd
    >>> from hermite_dual.deq import sphere_data
    >>> X, y = sphere_data(8, 5, seed=0)
    >>> run = hd.train(hd.DEQ(5, 200, "tanh", seed=1), X, y, steps=30, progress=False)
    >>> run.status, bool(run.loss[-1] < run.loss[0])
    ('completed', True)
    >>> bool(all(run.loss <= run.envelope * (1 + 1e-12)))   # Ling/Truong envelope holds
    True
    """
    if not isinstance(model, DEQ):
        raise TypeError(f"model must be a DEQ, got {type(model).__name__}")
    Xr = _as_data(X, model.d, check_parallel=True)
    n = Xr.shape[0]
    yv = validate.targets(y, n)
    steps = validate.positive_integer(steps, "steps")
    record_every = validate.positive_integer(record_every, "record_every")
    if lr is not None:
        lr = validate.positive(lr, "lr")
    tol = model.tol if tol is None else validate.positive(tol, "tol")
    adjoint_tol = validate.positive(adjoint_tol, "adjoint_tol")
    max_iter = model.max_iter if max_iter is None else validate.positive_integer(max_iter, "max_iter")
    divergence_factor = validate.real(divergence_factor, "divergence_factor")
    if divergence_factor <= 1:
        raise ValueError(f"divergence_factor must exceed 1, got {divergence_factor!r}")

    _check_equilibrium(equilibrium, model, Xr)
    if out is not None:
        out = check_output_path(out)        # a bad path fails before any work
    m, L = model.width, model.lipschitz
    XT = np.ascontiguousarray(Xr.T)
    XXt = Xr @ Xr.T
    sigma, dsigma = model._sigma, model._dsigma
    losses, rec_steps, rec_lmin, rec_wnorm = [], [], [], []
    fwd_its, adj_its, secs = [], [], []
    Zext, Bext = _Extrapolator(_EXTRAPOLATION_ORDER), _Extrapolator(_EXTRAPOLATION_ORDER)
    status, message = "completed", ""
    run = None
    bar = _Progress(progress, steps)
    model.spectral_norm(30)                   # warm up the power vector
    v = model._power_vec
    w_est = math.nan
    lr_source = "user"

    def record(t, Z):
        ev = np.linalg.eigvalsh(Z.T @ Z)
        rec_steps.append(t)
        rec_lmin.append(float(ev[0]))
        rec_wnorm.append(w_est)

    t = 0
    Wbuf = None
    t_start = time.perf_counter()
    errstate = np.errstate(over="ignore", invalid="ignore", divide="ignore")
    errstate.__enter__()
    try:
        while True:
            UX = model.U @ XT
            Z0 = Zext.predict((m, n))
            eq, Wv = _forward(sigma, model.W, UX, Z0, tol, max_iter, probe=v, lipschitz=L)
            w_est = float(np.linalg.norm(Wv))
            if t > 0:
                fwd_its.append(eq.iterations)
            if not L * w_est < 1.0:
                status = "contraction_lost"
                message = (f"step {t}: L*||W||_2 >= {L * w_est:.6g} >= 1 (power-iteration "
                           "lower bound); the forward map is no longer certified to be a "
                           f"contraction (lr = {lr if lr is None else format(lr, '.6g')})")
                break
            if not eq.converged:
                status = "forward_failed"
                message = (f"step {t}: the forward fixed point did not converge "
                           f"({eq.iterations} iterations, residual {eq.residual!r}); "
                           f"L*||W||_2 >= {L * model.spectral_norm(50):.6g} (power "
                           f"iteration); lr = {lr if lr is None else format(lr, '.6g')}")
                break
            Z = eq.Z
            r = model.a @ Z - yv
            loss = 0.5 * float(r @ r)
            if t > 0 and (not math.isfinite(loss) or loss > divergence_factor * losses[0]):
                losses.append(loss)
                status = "diverged"
                message = (f"diverged at step {t}: loss {loss:.6g} exceeds "
                           f"{divergence_factor:g} x Phi(0) = {losses[0]:.6g}; lr = {lr:.6g} "
                           f"vs 2/lambda_max(H(0)) = {2.0 / H0_eig[-1]:.6g}")
                break
            losses.append(loss)
            D = dsigma(eq.P)
            B0 = Bext.predict((m, n))
            adj, WTw = _adjoint(model.W, D, model.a, B0, tol if t == 0 else adjoint_tol,
                                max_iter, probe=Wv)
            nv = float(np.linalg.norm(WTw))
            if nv > 0 and math.isfinite(nv):
                v = WTw / nv
                model._power_vec = v
            if t > 0:
                adj_its.append(adj.iterations)
            if not adj.converged:
                status = "adjoint_failed"
                message = (f"step {t}: the adjoint fixed point did not converge "
                           f"({adj.iterations} iterations, residual {adj.residual!r})")
                break
            B = adj.B
            if t == 0:
                G0 = Z.T @ Z
                H0 = G0 + (B.T @ B) * (G0 + XXt)
                H0_eig, Q = np.linalg.eigh(H0)
                H0_coeffs = Q.T @ r
                r0 = r.copy()
                lambda_0 = float(np.linalg.eigvalsh(G0)[0])
                if lr is None:
                    lr = 1.0 / float(H0_eig[-1])
                    lr_source = f"auto: 1/lambda_max(H(0)) = 1/{H0_eig[-1]:.6g}"
            if t % record_every == 0 or t == steps:
                record(t, Z)
            if callback is not None:
                c0 = time.perf_counter()
                try:
                    callback(t, loss)
                except KeyboardInterrupt:
                    raise
                except Exception as exc:  # noqa: BLE001 - the user's code: keep the history
                    status = "callback_failed"
                    message = (f"the callback raised {type(exc).__name__}: {exc} at step {t}; "
                               "the history so far is kept")
                    break
                t_start += time.perf_counter() - c0      # step times exclude the callback
            bar.update(t, loss)
            if t == steps:
                break
            Zext.update(Z)
            Bext.update(B)
            Br = B * (-lr * r)
            if Wbuf is None:
                Wbuf = np.empty_like(model.W)
            np.matmul(Br, Z.T, out=Wbuf)        # -lr grad_W, into a reused buffer
            model.W += Wbuf
            model.U += Br @ Xr
            model.a -= lr * (Z @ r)
            now = time.perf_counter()
            secs.append(now - t_start)
            t_start = now
            t += 1
    except KeyboardInterrupt:
        status = "interrupted"
        message = (f"interrupted after {max(len(losses) - 1, 0)} steps; the history so far "
                   "is kept")
    finally:
        errstate.__exit__(None, None, None)
        bar.close()
    if not losses or "H0_eig" not in locals():
        # nothing beyond (possibly) the first forward solve: keep what there is
        H0_eig = np.full(n, math.nan)
        H0_coeffs = np.zeros(n)
        r0 = np.full(n, math.nan)
        lambda_0 = math.nan
        lr = math.nan if lr is None else lr
    run = TrainingRun(
        equilibrium=equilibrium, activation=model.act, width=m, sigma_w2=model.sigma_w2, X=Xr, y=yv, lr=float(lr),
        lr_source=lr_source, lipschitz=float(L), loss=np.asarray(losses, dtype=np.float64),
        record_steps=np.asarray(rec_steps, dtype=int),
        lambda_min=np.asarray(rec_lmin, dtype=np.float64),
        W_norm=np.asarray(rec_wnorm, dtype=np.float64), lambda_0=lambda_0,
        H0_eigvals=np.asarray(H0_eig, dtype=np.float64),
        H0_coeffs=np.asarray(H0_coeffs, dtype=np.float64), r0=np.asarray(r0),
        status=status, message=message, steps_requested=steps,
        forward_iterations=np.asarray(fwd_its, dtype=int),
        adjoint_iterations=np.asarray(adj_its, dtype=int),
        step_seconds=np.asarray(secs, dtype=np.float64), forward_tol=tol,
        adjoint_tol=adjoint_tol)
    if status not in ("completed", "interrupted"):
        warnings.warn(message, HermiteDualWarning, stacklevel=2)
    if out is not None:
        run.save(out)
    return run


def width_sweep(X, y, act, widths, *, sigma_w2=0.08, seed=0, steps=200, lr=None, **kwargs):
    """Train one DEQ per width on the same data (same seed for every width).

    Parameters
    ----------
    X, y : data, as for :func:`train`.
    act : str or Activation
    widths : sequence of int
    sigma_w2, seed : model parameters (see :class:`DEQ`).
    steps, lr, **kwargs : passed to :func:`train` (``lr=None`` picks each width's own
        safe step).

    Returns
    -------
    list of TrainingRun
        In the order of ``widths``.

    Raises
    ------
    ValueError
        For an empty ``widths`` or a non-positive width.

    Examples
    --------
    >>> import hermite_dual as hd
    >>> from hermite_dual.deq import sphere_data
    >>> X, y = sphere_data(5, 3, seed=0)
    >>> runs = hd.width_sweep(X, y, "sin", [20, 40], steps=5, progress=False)
    >>> [r.width for r in runs]
    [20, 40]
    """
    widths = list(widths)
    if not widths:
        raise ValueError(f"widths must be a non-empty sequence, got {widths!r}")
    for w in widths:
        validate.positive_integer(w, "width")
    Xr = _as_data(X)
    runs = []
    for w in widths:
        model = DEQ(Xr.shape[1], w, act, sigma_w2=sigma_w2, seed=seed)
        runs.append(train(model, Xr, y, steps=steps, lr=lr, **kwargs))
    return runs
