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
>>> from hermite_dual.data import sphere_data
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

from ..data import digits_data, sphere_data
from .lipschitz import lipschitz_constant
from .model import DEQ, Adjoint, Equilibrium
from .run import TrainingRun, describe_run
from .training import train, width_sweep

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
