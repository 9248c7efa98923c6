"""DEQ kernels in scikit-learn: :class:`DEQKernel` implements sklearn's ``Kernel`` API.

``DEQKernel(activation, kind="nngp" | "ntk")`` is the infinite-width kernel of a deep
equilibrium model (MATH §5) in the variances of docs/math.md's "Parameterisations":
``kind="nngp"`` is the equilibrium kernel ``K``, ``kind="ntk"`` the tangent kernel
``Theta = K * (1 + B)``.  It works inside ``GaussianProcessRegressor`` and
``GaussianProcessClassifier``, and ``kernel(X)`` / ``kernel(X_test, X_train)`` are the
precomputed matrices for ``SVC(kernel="precomputed")`` or ``KernelRidge``.

Hyperparameters (on sklearn's log scale): ``weight_variance`` (``sigma_W^2``),
``input_variance`` (``sigma_U^2``) and ``bias_variance`` (``sigma_b^2``), each with
bounds; by default all are ``"fixed"``, so a Gaussian process uses the kernel as given.
Gradients with respect to free hyperparameters are **delivered as central finite
differences in log space** (step ``1e-4``; error estimated at about ``1e-7`` relative,
not certified), not by the implicit function theorem.  A bias variance of exactly 0 has
no log, so ``bias_variance`` must be positive to be free.

Install with ``pip install "hermite_dual[sklearn]"``.
"""

from __future__ import annotations

import math

import numpy as np
from sklearn.gaussian_process.kernels import Hyperparameter, Kernel

from .activations import activation as _activation
from .equilibrium import Parameterization, cross_gram, population_gram
from .equilibrium.solve import plan_gram

__all__ = ["DEQKernel"]

_KINDS = ("nngp", "ntk")
_FD_STEP = 1e-4


class DEQKernel(Kernel):
    """The DEQ-NNGP (``K``) or DEQ-NTK (``Theta``) kernel as a scikit-learn ``Kernel``.

    Parameters
    ----------
    activation : str or sympy.Expr or Activation
        Anything :func:`hermite_dual.activation` accepts.
    kind : {"nngp", "ntk"}
        The equilibrium kernel ``K`` or the tangent kernel ``Theta`` (MATH §5).
    weight_variance, input_variance, bias_variance : float
        ``sigma_W^2 >= 0``, ``sigma_U^2 > 0``, ``sigma_b^2 >= 0`` (docs/math.md §5,
        "Parameterisations"; Ling et al.'s ``sigma_w^2 = 0.08`` is ``weight_variance =
        0.16``, ``input_variance = 2``).  The kernel map must be a contraction.
    weight_variance_bounds, input_variance_bounds, bias_variance_bounds : pair or "fixed"
        Bounds for hyperparameter optimisation (default ``"fixed"``).
    tol : float
        Fixed-point tolerance passed to :func:`hermite_dual.population_gram`.

    Examples
    --------
    >>> import numpy as np
    >>> from hermite_dual.sklearn import DEQKernel
    >>> X = np.random.default_rng(0).standard_normal((5, 3))
    >>> k = DEQKernel("tanh")
    >>> k(X).shape, k(X[:2], X).shape
    ((5, 5), (2, 5))
    >>> bool(np.allclose(k.diag(X), np.diag(k(X)), rtol=0, atol=1e-13))
    True
    >>> DEQKernel.from_preset("erf", "gao", sigma_w=0.6, sigma_u=1.0).weight_variance
    0.36
    """

    def __init__(self, activation="tanh", kind="nngp", weight_variance=0.16,
                 input_variance=2.0, bias_variance=0.0, weight_variance_bounds="fixed",
                 input_variance_bounds="fixed", bias_variance_bounds="fixed", tol=1e-12):
        self.activation = activation
        self.kind = kind
        self.weight_variance = weight_variance
        self.input_variance = input_variance
        self.bias_variance = bias_variance
        self.weight_variance_bounds = weight_variance_bounds
        self.input_variance_bounds = input_variance_bounds
        self.bias_variance_bounds = bias_variance_bounds
        self.tol = tol

    @classmethod
    def from_preset(cls, activation, preset, kind="nngp", **constants):
        """A kernel in a paper's convention: ``preset`` and its constants as
        :func:`hermite_dual.parameterization` takes them."""
        from .equilibrium import parameterization
        p = parameterization(preset, **constants)
        return cls(activation, kind, p.weight, p.input, p.bias)

    # -- hyperparameters (sklearn reads these properties) ---------------------------
    @property
    def hyperparameter_weight_variance(self):
        return Hyperparameter("weight_variance", "numeric", self.weight_variance_bounds)

    @property
    def hyperparameter_input_variance(self):
        return Hyperparameter("input_variance", "numeric", self.input_variance_bounds)

    @property
    def hyperparameter_bias_variance(self):
        return Hyperparameter("bias_variance", "numeric", self.bias_variance_bounds)

    # -- what sklearn calls ----------------------------------------------------------
    def _checked(self):
        if self.kind not in _KINDS:
            raise ValueError(f"kind must be one of {_KINDS}, got {self.kind!r}")
        return _activation(self.activation), Parameterization(
            self.weight_variance, self.input_variance, self.bias_variance)

    def _matrix(self, X, Y=None):
        act, par = self._checked()
        if Y is None:
            r = population_gram(X, act, parameterization=par, tol=self.tol,
                                allow_parallel=True)
        else:
            r = cross_gram(X, Y, act, parameterization=par, tol=self.tol)
        return np.array(r.K if self.kind == "nngp" else r.Theta)

    def __call__(self, X, Y=None, eval_gradient=False):
        """``k(X, Y)``; with ``eval_gradient``, also ``dk/dlog(theta)``, shape
        (n, n, number of free hyperparameters), by central differences."""
        if eval_gradient and Y is not None:
            raise ValueError("eval_gradient is only supported when Y is None")
        K = self._matrix(X, Y)
        if not eval_gradient:
            return K
        free = [h for h in self.hyperparameters if not h.fixed]
        grads = []
        for h in free:
            value = getattr(self, h.name)
            if not value > 0:
                raise ValueError(f"{h.name} = {value!r} has no logarithm: make it positive "
                                 "or keep it fixed (bounds='fixed')")
            up = self.clone_with_theta(self.theta)
            down = self.clone_with_theta(self.theta)
            setattr(up, h.name, value * math.exp(_FD_STEP))
            setattr(down, h.name, value * math.exp(-_FD_STEP))
            grads.append((up._matrix(X) - down._matrix(X)) / (2 * _FD_STEP))
        grad = np.stack(grads, axis=2) if grads else np.empty(K.shape + (0,))
        return K, grad

    def diag(self, X):
        """The diagonal of ``k(X)`` in O(n): each point's diagonal fixed point."""
        act, par = self._checked()
        Xp, w2 = par.transform(X)
        plan = plan_gram(Xp, act, w2, tol=self.tol, allow_parallel=True)
        return plan.diagonal(tangent=self.kind == "ntk")

    def is_stationary(self):
        """False: the kernel depends on the norms and the angle, not on ``x - y``."""
        return False

    def __repr__(self):
        act = self.activation if isinstance(self.activation, str) else repr(self.activation)
        return (f"DEQKernel({act!r}, kind={self.kind!r}, weight_variance="
                f"{self.weight_variance:.4g}, input_variance={self.input_variance:.4g}, "
                f"bias_variance={self.bias_variance:.4g})")
