"""Arbitrary-precision Hermite coefficients (MATH §2) with mpmath, to ``dps`` digits.

Fixed-point moments over Gauss-Legendre panels at a working precision above ``dps``;
two rules must agree before a digit is reported.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import sympy as sp

from .._kernels.hermite import _hmax_kernel
from .._util.nodes import gauss_legendre
from ..symbolic.numeric import to_mpmath
from .base import HermiteExpansion, _check_limit, _check_q_precise
from .fast import _fast_table

# ---------------------------------------------------------------------------
# Precise path: mpmath panels, fixed-point integer recurrence
# ---------------------------------------------------------------------------

_P_MAIN = 48
_P_CHECK = 40
_P_ROUNDS = 10


@functools.lru_cache(maxsize=32)
def _gl_mp(n, prec):
    """Gauss-Legendre nodes/weights on [-1, 1] at ``prec`` bits (Newton from float64)."""
    import mpmath

    t0, _ = gauss_legendre(n)
    nodes, weights = [], []
    with mpmath.workprec(prec + 20):
        for guess in t0:
            t = mpmath.mpf(float(guess))
            for _ in range(100):
                p0, p1 = mpmath.mpf(1), t
                for k in range(2, n + 1):
                    p0, p1 = p1, ((2 * k - 1) * t * p1 - (k - 1) * p0) / k
                dp = n * (t * p1 - p0) / (t * t - 1)
                step = p1 / dp
                t -= step
                if abs(step) < mpmath.ldexp(1, -(prec + 10)):
                    break
            p0, p1 = mpmath.mpf(1), t
            for k in range(2, n + 1):
                p0, p1 = p1, ((2 * k - 1) * t * p1 - (k - 1) * p0) / k
            dp = n * (t * p1 - p0) / (t * t - 1)
            nodes.append(+t)
            weights.append(2 / ((1 - t * t) * dp * dp))
    return tuple(nodes), tuple(weights)


@functools.lru_cache(maxsize=256)
def _mp_callable(expr):
    return to_mpmath(expr)


@functools.lru_cache(maxsize=None)
def _fixed_constants(k_max, prec):
    import mpmath
    with mpmath.workprec(prec + 20):
        s = [int(mpmath.ldexp(mpmath.sqrt(k), prec)) for k in range(k_max + 1)]
        r = [int(mpmath.ldexp(1 / mpmath.sqrt(k + 1), prec)) for k in range(k_max + 1)]
    return s, r


def _fixed_moments(k_max, zs, fs, prec):
    """sum_j f_j h_k(z_j), k = 0..k_max, in fixed point.

    ``zs`` are Python ints ``z * 2^prec``, ``fs`` ints ``f * 2^fprec`` (any fprec);
    returns ints at scale ``2^(prec + fprec)``.  ``h_k`` is carried with ``prec``
    fractional bits; choose ``fprec >= prec + log2 max|h_k|`` so that ``f h_k`` keeps an
    absolute error below ``2^-prec``.
    """
    s, r = _fixed_constants(k_max, prec)
    one = 1 << prec
    acc = [0] * (k_max + 1)
    for zi, fi in zip(zs, fs):
        if fi == 0:
            continue
        acc[0] += fi * one
        if k_max == 0:
            continue
        hp, h = one, zi
        acc[1] += fi * h
        for k in range(1, k_max):
            hp, h = h, (((zi * h - s[k] * hp) >> prec) * r[k]) >> prec
            acc[k + 1] += fi * h
    return acc


def _precise_domain(act, q, degree, dps):
    """z-interval outside which the integrand is below 10^-(dps+10) of its peak (mpmath)."""
    import mpmath

    fn = _mp_callable(act.expr)
    zg = np.arange(-80.0, 80.0 + 0.25, 0.5)
    hmax = np.empty(zg.size)
    _hmax_kernel(degree, zg, hmax)
    sq = mpmath.sqrt(q)
    with np.errstate(all="ignore"):
        vals = np.abs(act(float(sq) * zg))
        logv = np.log(vals)
    for i in np.nonzero(~np.isfinite(vals) | (vals > 1e300))[0]:   # overflow: use mpmath
        v = abs(fn(sq * mpmath.mpf(zg[i])))
        logv[i] = -np.inf if v == 0 else float(mpmath.log(v))
    # envelopes of the a_k integrands (against sqrt(nu)) and of the nu integrand (against nu)
    lognu = np.logaddexp.reduce(2 * logv - 0.5 * zg * zg) + math.log(0.5 / math.sqrt(2 * math.pi))
    half_lognu = 0.5 * max(0.0, lognu)
    logs = np.maximum(logv + np.log(hmax) - half_lognu, 2 * (logv - half_lognu)) - 0.5 * zg * zg
    if not np.any(np.isfinite(logs)):
        return -1.0, 1.0
    top = min(np.max(logs), 0.0)
    idx = np.nonzero(logs > top - (dps + 10) * math.log(10.0))[0]
    return zg[max(idx[0] - 1, 0)], zg[min(idx[-1] + 1, zg.size - 1)]


def _precise_compute(act, degree, q, dps):
    import mpmath

    qf = float(q)
    fn = _mp_callable(act.expr)
    with mpmath.workdps(dps):
        prec = mpmath.mp.prec + 40
    with mpmath.workprec(prec):
        q = mpmath.mpf(q)
        sq = mpmath.sqrt(q)
        kinks_mp = [mpmath.mpf(sp.N(k, dps + 20)) / sq for k in act.kinks]
        _, _, _, _, panels = _fast_table(act, np.array([qf]), degree)
        bp = sorted(set(panels[:, 0]).union(panels[:, 1]))
        zlo, zhi = _precise_domain(act, q, degree, dps)
        lo_ext = list(np.arange(math.floor(zlo), bp[0], 1.0)) if zlo < bp[0] else []
        hi_ext = list(np.arange(bp[-1] + 1.0, math.ceil(zhi) + 0.5, 1.0)) if zhi > bp[-1] else []
        pts = [mpmath.mpf(float(v)) for v in [*lo_ext, *bp, *hi_ext]]
        kf = [float(k) for k in kinks_mp]
        for i, v in enumerate(pts):           # breakpoints at kinks: exact, not float64
            for kfl, kmp in zip(kf, kinks_mp):
                if abs(float(v) - kfl) <= 1e-12 * max(1.0, abs(kfl)):
                    pts[i] = kmp
        pts = sorted(set(pts))
        todo = list(zip(pts[:-1], pts[1:]))
        tm, wm = _gl_mp(_P_MAIN, prec)
        tc, wc = _gl_mp(_P_CHECK, prec)
        inv_sqrt_2pi = 1 / mpmath.sqrt(2 * mpmath.pi)
        scale = None
        total = [0] * (degree + 1)
        err = [mpmath.mpf(0)] * (degree + 1)
        nu = mpmath.mpf(0)
        nu_err = mpmath.mpf(0)
        # f_j carries extra bits to cover the size of h_k(z_j) on the whole domain
        zmax = max(abs(float(pts[0])), abs(float(pts[-1])))
        hm = np.empty(1)
        _hmax_kernel(degree, np.array([zmax + 1.0]), hm)
        fprec = prec + max(0, int(math.ceil(math.log2(hm[0]))))
        ulp_fixed = mpmath.ldexp(1, -(prec + fprec))

        def rule(a, b, t, w):
            mid = (a + b) / 2
            half = (b - a) / 2
            zs, fs, nu_terms = [], [], []
            for tj, wj in zip(t, w):
                z = mid + half * tj
                s = fn(sq * z)
                s = mpmath.mpf(s)
                fw = s * mpmath.exp(-z * z / 2) * inv_sqrt_2pi * half * wj
                zs.append(int(mpmath.ldexp(z, prec)))
                fs.append(int(mpmath.ldexp(fw, fprec)))
                nu_terms.append(s * fw)
            return _fixed_moments(degree, zs, fs, prec), mpmath.fsum(nu_terms)

        for rnd in range(_P_ROUNDS + 1):
            nxt = []
            results = []
            for a, b in todo:
                mm, num = rule(a, b, tm, wm)
                mc, nuc = rule(a, b, tc, wc)
                results.append((a, b, mm, num, mc, nuc))
            if scale is None:
                nu0 = mpmath.fsum(r[3] for r in results)
                scale = max(mpmath.mpf(1), mpmath.sqrt(abs(nu0)))
                tol = mpmath.ldexp(scale, 0) * mpmath.mpf(10) ** (-(dps + 3))
            for a, b, mm, num, mc, nuc in results:
                diffs = [abs(u - v) for u, v in zip(mm, mc)]
                dmax = max(diffs) * ulp_fixed
                dnu = abs(num - nuc)
                if (dmax <= tol and dnu <= tol * scale) or rnd == _P_ROUNDS or b - a < 1e-12:
                    total = [t_ + u for t_, u in zip(total, mm)]
                    err = [e + d * ulp_fixed for e, d in zip(err, diffs)]
                    nu += num
                    nu_err += dnu
                else:
                    m = (a + b) / 2
                    nxt.extend([(a, m), (m, b)])
            todo = nxt
            if not todo:
                break
        coeffs = [mpmath.ldexp(mpmath.mpf(t_), -(prec + fprec)) for t_ in total]
        floor = mpmath.ldexp(1, -(prec - 24)) * scale
        err = [max(e, floor) for e in err]
        nu_err = max(nu_err, floor * scale)
    with mpmath.workdps(dps):
        rounded = tuple(+c for c in coeffs)
        nu_rounded = +nu
    with mpmath.workprec(prec):
        # the rounding to dps digits is part of each reported error (it was missing:
        # tanh's a_1(1) at dps 40 is 4.7e-42 from its 60-digit value, claimed 1.8e-46)
        err = [e + abs(c - r) for e, c, r in zip(err, coeffs, rounded)]
        nu_err = nu_err + abs(nu - nu_rounded)
    coeffs, nu = rounded, nu_rounded
    with mpmath.workdps(dps):
        tail = nu - mpmath.fsum(c * c for c in coeffs)
        tail_err = nu_err + mpmath.fsum(2 * abs(c) * e + e * e for c, e in zip(coeffs, err))
        tail_err += mpmath.mpf(10) ** (-dps) * max(1, abs(nu))
        err = tuple(+e for e in err)
    return coeffs, nu, tail, err, tail_err


def _precise_expansion(act, degree, q, dps):
    import mpmath

    qnum = _check_q_precise(q)
    qf = float(qnum)
    _check_limit(act, qf)
    with mpmath.workdps(dps + 20):
        if isinstance(qnum, sp.Basic):
            qmp = mpmath.mpf(sp.N(qnum, dps + 20))
        elif isinstance(qnum, (float, np.floating)):
            qmp = mpmath.mpf(repr(float(qnum)))   # the decimal the user wrote: 0.7 is 7/10
        else:
            qmp = mpmath.mpf(qnum)
    coeffs, nu, tail, err, tail_err = _precise_compute(act, degree, qmp, dps)
    return HermiteExpansion(activation=act, q=qnum, method="precise", coefficients=coeffs,
                            norm2=nu, tail=tail, abs_error=max(err), tail_error=tail_err,
                            errors=err, dps=dps)
