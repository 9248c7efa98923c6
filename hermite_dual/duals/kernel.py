"""``dual(act)`` and :class:`DualKernel`: the one place K_sigma is evaluated (MATH §3).
"""

from __future__ import annotations

import collections
import math
import threading

import numpy as np
import sympy as sp

from .._kernels import gram as _gram
from .._kernels.mehler import _mehler_exact_kernel, _mehler_table_kernel
from .._kernels.quadrature import _nb_quad_kernel
from .._util import validate
from ..activations import activation
from .base import (
    _C_SLACK,
    _EPS,
    _MEHLER_TOL,
    _Q_MAX_SERIES,
    _as_float_array,
    _two_prod_diff,
    _validate,
)
from .closed_form import (
    _DERIVE_SECONDS,
    _compile_float64,
    _compile_numba,
    _derive_closed_form,
    refine_near_one,
    _verify_closed,
    _with_work_budget,
)
from .mehler import (
    _KERNEL_EXACT_DISTINCT,
    _MEHLER_DEGREE,
    _TABLE_P,
    _MehlerTable,
    nu_error,
    series_degree,
    series_tables,
)
from .precise import _precise_scalar
from .quadrature import _NB_FEATURES, _NB_RULES, _numba_sigma, _quad_kernel

# ---------------------------------------------------------------------------
# the public object
# ---------------------------------------------------------------------------

class DualKernel:
    """The dual kernel of one activation: float64, with error, precise and closed form.

    Build it with :func:`dual` (cached per activation).

    Attributes
    ----------
    activation : Activation
        The activation sigma.

    Notes
    -----
    ``K_sigma(q1, q2, c) = E[sigma(u) sigma(v)]`` for ``(u, v) ~ N(0, [[q1, c], [c, q2]])``
    (MATH §3); ``rho = c / sqrt(q1 q2)``.  The unit dual is
    ``sigma_hat(rho) = K_sigma(1, 1, rho)``.  See the module docstring for the numeric
    routes and their error bounds.

    Examples
    --------
    >>> import hermite_dual as hd
    >>> k = hd.dual("sin")
    >>> import math
    >>> abs(float(k.kernel(1.0, 2.0, 0.5)) - math.exp(-1.5) * math.sinh(0.5)) < 1e-15
    True
    """

    def __init__(self, act):
        self.activation = act
        self._lock = threading.RLock()
        self._closed = _UNSET
        self._closed_numeric = _UNSET
        self._sq_limit = None
        self._mehler_table = None
        self._nb_quad = _UNSET
        self._kernel_id = None
        self._compiled = _UNSET

    def __reduce__(self):
        # one kernel per expression: unpickling returns the cached kernel (tables and the
        # lock are rebuilt, not pickled)
        return (dual, (self.activation,))

    def __repr__(self):
        return f"DualKernel({self.activation.name!r})"

    # -- evaluation -----------------------------------------------------------
    def __call__(self, rho):
        """The unit dual ``sigma_hat(rho) = K_sigma(1, 1, rho)``.

        Parameters
        ----------
        rho : array_like
            Correlations in [-1, 1].

        Returns
        -------
        numpy.ndarray
            float64, the shape of ``rho``.

        Raises
        ------
        ValueError
            If rho is not finite or outside [-1, 1] beyond rounding.

        Examples
        --------
        >>> import hermite_dual as hd
        >>> float(hd.dual("step")(0.0))
        0.25
        """
        r = _as_float_array(rho, "rho")
        bad = np.abs(r) > 1.0 + _C_SLACK
        if bad.any():
            raise ValueError(f"correlation rho must lie in [-1, 1], got {float(r[bad].flat[0])!r}")
        one = np.ones_like(r)
        return self.kernel(one, one, np.clip(r, -1.0, 1.0))

    def kernel(self, q1, q2, c):
        """The generalized dual kernel ``K_sigma(q1, q2, c)`` in float64.

        Parameters
        ----------
        q1, q2 : array_like
            Positive variances.
        c : array_like
            Covariances with ``|c| <= sqrt(q1 q2)`` (a relative excess of 1e-12 from
            rounding is clipped).  The three arguments broadcast (numpy rules).

        Returns
        -------
        numpy.ndarray
            float64 of the broadcast shape.  Closed forms and the certified series
            are accurate to about 1e-13 of ``sqrt(nu(q1) nu(q2))``; where neither
            applies (a near-diagonal covariance at large variance) the quadrature
            route is used, whose error is *estimated*, not certified, and can reach
            1e-9 relative (``tanh(3x)`` at ``q ~ 20-40``, ``|rho| ~ 0.97``).  Every
            point's own bound is what :meth:`kernel_with_error` returns: use it
            when the accuracy matters.

        Raises
        ------
        ValueError
            For non-finite input, a variance <= 0, ``|c| > sqrt(q1 q2)`` beyond rounding,
            or shapes that do not broadcast; the message names the value.

        Examples
        --------
        >>> import hermite_dual as hd
        >>> import numpy as np
        >>> k = hd.dual("relu").kernel(2.0, 2.0, np.array([0.0, 2.0]))
        >>> np.allclose(k, [1 / np.pi, 1.0])
        True
        """
        return self.kernel_with_error(q1, q2, c)[0]

    def kernel_with_error(self, q1, q2, c):
        """``K_sigma(q1, q2, c)`` in float64 and a bound on its absolute error.

        Returns
        -------
        value, bound : numpy.ndarray
            The bound is certified for the Mehler truncation (Parseval tail, MATH §3)
            and estimated for the other parts: the interpolation error of the
            coefficient table (measured), the quadrature error (difference of two rules on
            the same panels) and round-off (64 eps times the integral of |sigma sigma|).

        Raises
        ------
        ValueError
            As :meth:`kernel`.

        Examples
        --------
        >>> import hermite_dual as hd
        >>> value, bound = hd.dual("tanh").kernel_with_error(1.0, 1.0, 1.0)
        >>> bool(bound[()] < 1e-12)
        True
        """
        a, b, cc = _validate(q1, q2, c)
        shape = a.shape
        fa, fb, fc = a.ravel(), b.ravel(), cc.ravel()
        value, bound = self._evaluate(fa, fb, fc)
        return value.reshape(shape), bound.reshape(shape)

    def _evaluate(self, fa, fb, fc, few=None):
        """``(value, bound)`` on flat arrays.  ``few``: the Mehler route's table, exact
        coefficients at the distinct variances (True) or the interpolated grid (False);
        by default the first up to ``_KERNEL_EXACT_DISTINCT`` (128) distinct variances.  A caller that
        needs each entry's value to be independent of the other entries in the call
        (:func:`~hermite_dual.population_gram`'s blocks) fixes it."""
        closed = self._closed_evaluator()
        if closed is not None:
            with np.errstate(over="ignore", under="ignore", invalid="ignore"):
                val = np.asarray(closed(fa, fb, fc), dtype=np.float64)
                val = np.broadcast_to(val, fa.shape).astype(np.float64)
                na = np.asarray(closed(fa, fa, fa), dtype=np.float64)
                nb = np.asarray(closed(fb, fb, fb), dtype=np.float64)
                scale = np.sqrt(np.abs(np.broadcast_to(na, fa.shape))
                                * np.abs(np.broadcast_to(nb, fb.shape)))
                bound = 64.0 * _EPS * np.maximum(scale, np.abs(val))
                rho = np.abs(fc) / (np.sqrt(fa) * np.sqrt(fb))
            near = np.flatnonzero(~(rho < 1.0 - _NEAR_ONE))
            if near.size:
                self._closed_near_one(fa, fb, fc, near, val, bound, scale)
            return val, bound
        big = max(float(fa.max(initial=0.0)), float(fb.max(initial=0.0)))
        if big > _Q_MAX_SERIES:
            # measured against the arb oracle: the series and quadrature routes hold their
            # bounds to q = 1e10 (errors <= 1e-15); at q = 1e20 the quadrature misses the
            # activation's scale 1/sqrt(q) near rho = 1 and its estimate is wrong
            raise ValueError(
                f"variance {big!r} is above {_Q_MAX_SERIES:g}, the largest variance at which "
                f"the float64 series and quadrature routes for {self.activation.name!r} are "
                "validated (closed forms accept up to 1e100); use .precise() beyond it")
        value = np.zeros(fa.size)
        bound = np.full(fa.size, np.inf)
        todo = np.ones(fa.size, dtype=bool)
        if fa.size and self._mehler_allowed():
            todo = self._mehler(fa, fb, fc, value, bound, few)
        if todo.any():
            idx = np.flatnonzero(todo)
            sig = self._numba_quad()
            if sig is not None:
                a, b, cc = fa[idx], fb[idx], fc[idx]
                v = np.empty(idx.size)
                e = np.empty(idx.size)
                d = np.maximum(_two_prod_diff(a, b, cc), 0.0)
                _nb_quad_kernel(sig, a, b, cc, d, self.activation.kinks_float,
                                _NB_FEATURES, _NB_RULES, v, e)
                fin = np.isfinite(v) & np.isfinite(e)
                # the quadrature's bound is an estimate (two rules); where the series has
                # a value whose bound it certifies (Parseval tail), a quadrature value
                # outside that interval shows its estimate is wrong, and it is not taken
                # (Max(x, 0)**4 at rho = 0.999995: quadrature off by 4.6e-9 claiming
                # 4.4e-11, the series' 2.3e-10 honest)
                agree = _agrees(v, e, value[idx], bound[idx])
                # for |rho| >= 0.99 the inner integral's width sqrt(d / q1) -> 0 and the
                # two-rule estimate was measured short on rectified monomials (Max(x, 0)**3
                # at rho = 1: error 1.2e-10, estimate 1.1e-11; at rho = 0.999: 3.9e-12
                # against 1.6e-12); there the quadrature value is taken (it is usually
                # the more accurate: softsign at (1e-3, 100, rho = 1) is off by 6e-17,
                # the series by 5.6e-10) but its bound comes through the series,
                # |v - K| <= |v - v_series| + bound_series, which the Parseval tail
                # certifies (only with kinks: for smooth activations the estimate was
                # measured reliable there, and tanh at q = 1000, rho = 0.999 needs the
                # quadrature's own bound)
                near = ~(np.abs(cc) < (1.0 - 1e-2) * np.sqrt(a) * np.sqrt(b))
                cross = (near & np.isfinite(bound[idx]) & np.isfinite(value[idx])
                         & bool(self.activation.kinks_float.size))
                good = fin & (e < bound[idx]) & agree
                via = np.abs(v - value[idx]) + bound[idx]
                value[idx[good]] = v[good]
                bound[idx[good]] = np.where(cross, via, e)[good]
                todo[idx[fin]] = False
        if todo.any():
            idx = np.flatnonzero(todo)
            v, e = _quad_kernel(self.activation, self.activation.kinks_float,
                                fa[idx], fb[idx], fc[idx])
            agree = _agrees(v, e, value[idx], bound[idx])
            better = ~(e >= bound[idx]) & agree    # NaN bounds replace an inf as before
            value[idx[better]] = v[better]
            bound[idx[better]] = e[better]
        return value, bound

    def _closed_near_one(self, fa, fb, fc, idx, val, bound, scale):
        """Closed-form values at ``|rho| >= 1 - 1e-3`` re-evaluated at 50 digits, in place
        (:func:`~hermite_dual.duals.closed_form.refine_near_one`)."""
        refine_near_one(self._closed_mp(), fa, fb, fc, idx, val, bound, scale)

    def _closed_mp(self):
        with self._lock:
            if getattr(self, "_closed_mpmath", None) is None:
                from .base import c as c_, q1 as q1_, q2 as q2_
                self._closed_mpmath = sp.lambdify((q1_, q2_, c_), self.closed_form(),
                                                  modules="mpmath")
            return self._closed_mpmath

    def _numba_quad(self):
        with self._lock:
            if self._nb_quad is _UNSET:
                self._nb_quad = _numba_sigma(self.activation)
            return self._nb_quad

    def _mehler_allowed(self):
        from ..hermite import square_integrable_limit
        with self._lock:
            if self._sq_limit is None:
                self._sq_limit = square_integrable_limit(self.activation)
            return self._sq_limit == math.inf

    def _mehler(self, fa, fb, fc, value, bound, few=None):
        """Mehler route; fills value/bound where it certifies, returns the mask of the rest."""
        rho = np.clip(fc / (np.sqrt(fa) * np.sqrt(fb)), -1.0, 1.0)
        uq = np.unique(np.concatenate([fa, fb]))
        ok = np.zeros(fa.size, dtype=np.bool_)
        out = np.zeros(fa.size)
        bnd = np.zeros(fa.size)
        if (uq.size <= _KERNEL_EXACT_DISTINCT) if few is None else few:
            A, T, E, nu = series_tables(self.activation, uq, series_degree(1))
            i1 = np.searchsorted(uq, fa)
            i2 = np.searchsorted(uq, fb)
            _mehler_exact_kernel(A, T, E, nu, i1, i2, rho, _MEHLER_TOL, out, bnd, ok)
            # the diagonal K(q, q, q) = nu(q): the quadrature of sigma^2 itself, which the
            # Gram matrix's diagonal uses too (the series converges slowly at rho = 1)
            diag = (i1 == i2) & (fc == fa)
            if diag.any():
                out[diag] = nu[i1[diag]]
                bnd[diag] = nu_error(nu, E)[i1[diag]]
                ok[diag] = True
            # where the series misses the target its value and bound still stand, and
            # the quadrature below replaces them only with a smaller bound
            part = ~ok & np.isfinite(out) & np.isfinite(bnd)
            value[part] = out[part]
            bound[part] = bnd[part]
        else:
            inside = ((fa >= 1e-3) & (fa <= 1e3) & (fb >= 1e-3) & (fb <= 1e3))
            idx = np.flatnonzero(inside)
            if idx.size:
                tab = self._table()
                o = np.zeros(idx.size)
                b = np.zeros(idx.size)
                g = np.zeros(idx.size, dtype=np.bool_)
                scl = np.zeros(idx.size)
                _mehler_table_kernel(tab.A, tab.T, tab.nu, tab.x0, tab.h, _TABLE_P,
                                     fa[idx], fb[idx], fc[idx], _MEHLER_TOL, o, b, g, scl)
                e1 = tab.error_at(fa[idx])
                e2 = tab.error_at(fb[idx])
                b += (e1 + e2 + e1 * e2) * scl
                out[idx] = o
                bnd[idx] = b
                ok[idx] = g
        value[ok] = out[ok]
        bound[ok] = bnd[ok]
        return ~ok

    def _table(self):
        with self._lock:
            if self._mehler_table is None:
                self._mehler_table = _MehlerTable(self.activation)
            return self._mehler_table

    def precise(self, q1, q2, c, dps=30):
        """``K_sigma(q1, q2, c)`` to about ``dps`` digits: the independent oracle.

        Nested composite Gauss-Legendre quadrature in ball arithmetic (python-flint
        ``arb``) at ``3.33 dps + 30`` bits, with panels at the kinks, on the Gaussian
        scale and on a feature grid; the float64 routes are never called.

        Parameters
        ----------
        q1, q2, c : float
            One covariance (scalars; validated like :meth:`kernel`).  The float64
            inputs are used as exact binary numbers.
        dps : int
            Decimal digits (10 to 100).

        Returns
        -------
        mpmath.mpf

        Raises
        ------
        ValueError
            For bad covariances (as :meth:`kernel`), non-scalar input or a bad ``dps``.

        Examples
        --------
        >>> import hermite_dual as hd, mpmath
        >>> v = hd.dual("relu").precise(1.0, 1.0, 0.0, dps=20)   # E[relu(Z)]^2
        >>> with mpmath.workdps(25):
        ...     bool(abs(v - 1 / (2 * mpmath.pi)) < mpmath.mpf(10) ** -18)
        True
        """
        dps = validate.dps(dps, hi=100, why=" (the arb quadrature's cost grows like "
                                              "dps^3)")
        a, b, cc = _validate(q1, q2, c)
        if a.shape != ():
            raise ValueError(f"precise takes scalar q1, q2, c, got shape {a.shape!r}")
        return _precise_scalar(self.activation.expr, self.activation.kinks,
                               float(a), float(b), float(cc), int(dps))

    # -- structure ------------------------------------------------------------
    def derivative(self):
        """The dual kernel of sigma' (Price: ``d/dc K_sigma = K_{sigma'}``).

        Raises
        ------
        ValueError
            If sigma' is not a function (e.g. step: a Dirac mass).

        Examples
        --------
        >>> import hermite_dual as hd
        >>> hd.dual("relu").derivative().activation.expr
        Heaviside(x)
        """
        return dual(self.activation.derivative())

    def closed_form(self):
        """A closed form of ``K_sigma`` in the symbols ``q1, q2`` (positive) and ``c`` (real).

        The form is **derived**, never looked up: sigma is split into atoms
        ``x^m exp(beta x^2 + alpha x)`` (polynomials, exponentials, sin/cos through complex
        exponentials, Gaussians), ``x^m erf(a x + b)``, ``x^m Heaviside(x - k)`` (the ReLU
        family after rewriting Max/Min/Abs/sign/Piecewise) and Dirac masses; every pair
        is then integrated by a direct Gaussian integral (moment generating function
        ``E[exp(a.X + X.B.X)]`` and its derivatives), by Price's theorem as a finite
        Taylor series in c when one side is a polynomial, through the conditional law
        ``v | u = k`` when one side is a Dirac mass, or by Price's theorem integrated back
        in c (``K_{f,g}(c) = E[f] E[g] + int_0^c K_{f',g'}``) otherwise.  The result is
        checked at random covariances, symbolically at 30 digits and in its float64 form,
        against the quadrature route before it is returned.

        Returns
        -------
        sympy.Expr or None
            ``None`` when no closed form was found (or it failed its check) within the
            time limit; never an unchecked formula.

        Examples
        --------
        >>> import hermite_dual as hd
        >>> hd.dual("step").closed_form()
        (2*asin(c/(sqrt(q1)*sqrt(q2))) + pi)/(4*pi)
        >>> hd.dual("tanh").closed_form() is None
        True
        """
        with self._lock:
            if self._closed is _UNSET:
                expr = _with_work_budget(_DERIVE_SECONDS, _derive_closed_form,
                                        self.activation.expr)
                if expr is not None and not _verify_closed(expr, self.activation):
                    expr = None
                self._closed = expr
            return self._closed

    def numeric_spec(self):
        """How a numeric layer (numba) should evaluate this kernel.

        Returns
        -------
        tuple
            * ``("closed", kind, params)`` when sigma is one of the closed forms that
              :mod:`hermite_dual._kernels` evaluates in numba: ``kind`` is its
              ``KIND_*`` id (identity, relu, step, erf, sin, cos, gaussian, exp) and
              ``params`` an empty float64 array (reserved);
            * ``("closed-numpy", fn)`` for any other derived closed form: ``fn(q1, q2, c)``
              evaluates it on float64 arrays (stable float64 form, no validation);
            * ``("mehler", info)`` otherwise: evaluate the Mehler series from
              :func:`hermite_dual.hermite.hermite_table` coefficients with the certified
              tail; ``info`` holds ``degree`` (1200) and ``tol`` (1e-13, relative to
              ``sqrt(nu(q1) nu(q2))``).  Where the tail bound is not met (|rho| near 1),
              call :meth:`kernel` (which switches to quadrature).

        Examples
        --------
        >>> import hermite_dual as hd
        >>> from hermite_dual import _kernels
        >>> hd.dual("relu").numeric_spec()[:2] == ("closed", _kernels.KIND_RELU)
        True
        >>> hd.dual("tanh").numeric_spec()[0]
        'mehler'
        """
        kind = self.kernel_id
        if kind != _gram.KIND_SERIES:
            return ("closed", kind, np.zeros(0))
        fn = self._closed_evaluator()
        if fn is not None:
            return ("closed-numpy", fn)
        return ("mehler", {"degree": _MEHLER_DEGREE, "tol": _MEHLER_TOL})

    @property
    def kernel_id(self):
        """The id (``KIND_*`` of :mod:`hermite_dual._kernels.gram`) of the numba closed form
        that evaluates this kernel, or ``KIND_SERIES`` for the Mehler series.

        The one decision, made here and read by :func:`~hermite_dual.population_gram`:
        the record of the built-in whose expression sigma is
        (:func:`hermite_dual.library.record_of`) names its numba closed form, if any
        (identity, relu, step, erf, sin, cos, gaussian, exp).

        >>> import hermite_dual as hd
        >>> from hermite_dual._kernels import gram
        >>> hd.dual("Max(0, x)").kernel_id == gram.KIND_RELU
        True
        """
        with self._lock:
            if self._kernel_id is None:
                from ..library import record_of
                rec = record_of(self.activation.expr)
                name = rec.numba_kernel if rec is not None else None
                self._kernel_id = next(
                    (kind for kind, kname in _gram.KIND_NAMES.items() if kname == name),
                    _gram.KIND_SERIES)
            return self._kernel_id

    def compiled_closed_form(self):
        """``(fv, fd)``: the closed form and its derivative in ``c`` as numba ``cfunc``s of
        ``(q1, q2, c, D)`` with ``D = q1 q2 - c^2``, or ``None``.

        For the equilibrium layer's kernels (``KIND_COMPILED``): a closed form derived
        for a new activation evaluates the Gram entries too.  Each is the float64 form
        :meth:`kernel` uses (rewritten for stability), compiled and checked against it at
        random covariances (value to 1e-13 relative, derivative against a central
        difference to 1e-6); anything that fails to compile or to agree gives ``None``
        and the caller keeps the series.
        """
        with self._lock:
            if self._compiled is _UNSET:
                self._compiled = None
                expr = self.closed_form()
                if expr is not None:
                    self._compiled = _compile_numba(expr, self._closed_evaluator())
            return self._compiled

    def _closed_evaluator(self):
        with self._lock:
            if self._closed_numeric is _UNSET:
                expr = self.closed_form()
                self._closed_numeric = None if expr is None else _compile_float64(expr)
            return self._closed_numeric


def _agrees(v, e, value, bound):
    """Quadrature values ``v +- e`` consistent with the certified ``value +- bound``
    (anywhere the series has no bound): the test before a quadrature value is taken."""
    return ~np.isfinite(bound) | (np.abs(v - value) <= bound + e)


_UNSET = object()
_NEAR_ONE = 1e-3        # |rho| from which a closed form is evaluated at 50 digits
_CACHE = collections.OrderedDict()   # sympy expression -> DualKernel, least recent first
_CACHE_SIZE = 32                     # a Mehler table is about 6 MB
_CACHE_LOCK = threading.Lock()


def dual(act):
    """The :class:`DualKernel` of an activation (cached per activation).

    Parameters
    ----------
    act : str or sympy.Expr or Activation
        Anything :func:`hermite_dual.activation` accepts.

    Returns
    -------
    DualKernel

    Raises
    ------
    ValueError, TypeError
        As :func:`hermite_dual.activation`.

    Examples
    --------
    >>> import hermite_dual as hd
    >>> hd.dual("tanh") is hd.dual("tanh")
    True
    >>> hd.dual("relu") is hd.dual("Max(0, x)")     # keyed by the expression, not the name
    True

    Notes
    -----
    Kernels are cached by their sympy expression, least recently used first out, at most
    32 of them (a Mehler table holds about 6 MB).
    """
    a = activation(act)
    with _CACHE_LOCK:
        k = _CACHE.get(a.expr)
        if k is None:
            k = DualKernel(a)
            _CACHE[a.expr] = k
            while len(_CACHE) > _CACHE_SIZE:
                _CACHE.popitem(last=False)
        else:
            _CACHE.move_to_end(a.expr)
    return k
