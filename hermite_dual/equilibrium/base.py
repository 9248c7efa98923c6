"""What the equilibrium layer shares: its constants, the kernel decision and tables it
takes from the dual layer (MATH §3), nu(q) of the diagonal, and its input rules.
"""

from __future__ import annotations

import functools

import numpy as np

from .._kernels import gram as kr
from .._util import validate

_EPS = float(np.finfo(np.float64).eps)
_TABLE_INTERVALS = 1 << 12
_PARALLEL_COS = validate.PARALLEL_COS
_EQUAL_NORM_RTOL = 64 * _EPS
_METHODS = ("auto", "equal", "general")


class EquilibriumNotConverged(RuntimeError):
    """The equilibrium fixed point did not converge; ``.result`` holds what was computed.

    Examples
    --------
    >>> import numpy as np
    >>> import hermite_dual as hd
    >>> try:
    ...     hd.population_gram(np.eye(2), "tanh", max_iter=1)
    ... except hd.EquilibriumNotConverged as exc:
    ...     print(exc.result.converged, exc.result.residual > 1e-12)
    False True
    """

    def __init__(self, message, result):
        super().__init__(message)
        self.result = result


# ---------------------------------------------------------------------------
# activation -> closed-form id or series tables
# ---------------------------------------------------------------------------

#: unequal norms from this many points on: a derived closed form is worth its derivation
#: (the series costs a Hermite table per point and ~50 terms per entry; measured on
#: sin(x) + x/2, n = 1500: 7.9 s with the series against 0.8 s in closed form)
_DERIVE_FROM_N = 200


def _kernel_plan(act, path, n):
    """``(kind, fv, fd)``: the numba closed form by id, a derived closed form compiled
    (``KIND_COMPILED``, from :meth:`hermite_dual.DualKernel.compiled_closed_form`), or the
    series.  A closed form is derived here only where it pays (unequal norms, ``n >=
    _DERIVE_FROM_N``), and the choice depends on the input alone, never on what the
    process derived before: same input, same answer."""
    from ..duals import dual
    dk = dual(act)
    kind = dk.kernel_id
    if kind == kr.KIND_SERIES and path == "general" and n >= _DERIVE_FROM_N:
        compiled = dk.compiled_closed_form()
        if compiled is not None:
            return (kr.KIND_COMPILED, *compiled)
    return kind, None, None


_DUMMY = np.zeros((1, 1))


def _series_tables(act, degree, qs):
    """``(A, T, E, nu)`` at the variances ``qs``: :func:`hermite_dual.duals.mehler.series_tables`,
    the one builder the dual kernels use too (``degree=None``: its one degree policy)."""
    from ..duals.mehler import series_tables
    return series_tables(act, qs, degree)


def _series_error_envelope(A, T, E, rho):
    """Bound on the error of every Mehler sum over rows of (A, T, E) with ``|rho'| <= rho``.

    Each error term of :func:`hermite_dual._kernels.series_value` (propagated coefficient
    errors, rounding, the truncation left after its stopping rule) grows with ``|rho|``
    and with ``|a_k|``, ``e_k``, ``T_k``, so the row-wise maxima at ``rho`` bound them all.
    """
    a = np.max(np.abs(A), axis=0)
    e = np.max(E, axis=0)
    t_R = float(np.max(T[:, -1]))
    p = rho ** np.arange(a.size)
    absum = float(np.sum(a * a * p))
    cerr = float(np.sum((2 * a * e + e * e) * p))
    trunc = max(1e-3 * _EPS * absum, rho ** a.size * t_R)
    return cerr + (a.size + 4) * _EPS * absum + trunc


class _Evaluator:
    """nu(q) and nu_{sigma'}(q) of one activation, vectorized over q."""

    def __init__(self, act, kind, fv=None, fd=None):
        self.act = act
        self.kind = kind
        self.fv = kr.NO_CLOSED_FORM if fv is None else fv    # KIND_COMPILED: K, dK/dc
        self.fd = kr.NO_CLOSED_FORM if fd is None else fd

    def nu(self, qs):
        qs = np.ascontiguousarray(qs, dtype=np.float64)
        if self.kind == kr.KIND_SERIES:
            from ..duals.mehler import nu_error
            from ..hermite import hermite_table
            _, nu, E = hermite_table(self.act, 1, qs)
            return nu, nu_error(nu, E)
        return kr.diag_nu(self.kind, self.fv, self.fd, _DUMMY, _DUMMY, _DUMMY, qs)

    def nu_deriv_act(self, qs):
        """nu_{sigma'}(q) = E[sigma'(sqrt(q) Z)^2]; inf when sigma' has a Dirac mass."""
        if self.kind != kr.KIND_SERIES:
            out = np.empty(qs.size)
            for i, q in enumerate(qs):
                out[i] = kr.closed_kernel(self.kind, self.fv, self.fd, q, q, q)[1]
            return out
        if self._derivative[0] is None:
            return np.full(qs.size, np.inf)
        from ..hermite import hermite_table
        return hermite_table(self.derivative_act(), 1, qs)[1]

    @functools.cached_property
    def _derivative(self):
        try:
            return self.act.derivative(1), None
        except ValueError as exc:
            return None, str(exc)

    def derivative_act(self):
        act, why = self._derivative
        if act is None:
            raise ValueError(f"the tangent kernel of activation {self.act.name!r} needs "
                             f"sigma' as a function: {why}")
        return act


# ---------------------------------------------------------------------------
# validation
# ---------------------------------------------------------------------------

def _check_index(idx, n, name):
    if idx is None:
        return np.arange(n, dtype=np.int64)
    arr = np.asarray(idx)
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.integer) or arr.size == 0):
        raise ValueError(f"{name} must be a 1-d sequence of point indices, got {idx!r}")
    arr = arr.astype(np.int64).ravel() if arr.ndim <= 1 else None
    if arr is None or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-d sequence of point indices, "
                         f"got {idx!r}")
    bad = (arr < 0) | (arr >= n)
    if bad.any():
        raise ValueError(f"{name} contains index {int(arr[bad][0])!r} outside [0, {n})")
    return np.ascontiguousarray(arr)


_check_real = validate.real       # one rule per concept (hermite_dual._util.validate)
_check_int = validate.integer
