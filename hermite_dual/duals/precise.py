"""``DualKernel.precise``: K_sigma to ``dps`` digits with mpmath and arb (MATH §3).

An independent oracle for the float64 routes: adaptive Gauss-Legendre panels (or
Gauss-Hermite where the integrand is entire), each raised in precision until two rules
agree.
"""

from __future__ import annotations

import functools
import math

import sympy as sp

from ..activations import x as _x
from ..symbolic.arb import to_arb
from .quadrature import _profile


@functools.lru_cache(maxsize=64)
def _arb_gl(n, prec):
    from flint import arb, ctx
    old = ctx.prec
    ctx.prec = prec
    try:
        pairs = [arb.legendre_p_root(n, k, weight=True) for k in range(n)]
    finally:
        ctx.prec = old
    return tuple(p[0] for p in pairs), tuple(p[1] for p in pairs)


def _arb_feature_grid():
    pos = [1.0, 2.0, 3.0, 4.0]
    v = 4.0
    while v < 1e4:
        v *= 1.4
        pos.append(v)
    return [-p for p in reversed(pos)] + [0.0] + pos


_ARB_FEATURES = _arb_feature_grid()


def _arb_uniform(lo, hi):
    """A uniform unit grid on [lo, hi] (features of periodic activations)."""
    return [float(v) for v in range(math.floor(lo), math.ceil(hi) + 1)]


def _arb_panels(lo, hi, center, scale, extra):
    """Breakpoints (python floats): Gaussian grid (3 sd), feature grid, extra points."""
    pts = {lo, hi}
    if scale > 0:
        step = 3.0 * scale
        v = center + math.floor((lo - center) / step) * step
        while v < hi:
            if v > lo:
                pts.add(v)
            v += step
    for p in extra:
        if lo < p < hi:
            pts.add(p)
    return sorted(pts)


class _GHNotConverged(Exception):
    """The Gauss-Hermite inner rule of the oracle did not reach its tolerance."""


@functools.lru_cache(maxsize=16)
def _arb_gh(n, prec):
    """Gauss-Hermite nodes/weights for E[f(Z)], Z ~ N(0,1), as arb (via mpmath)."""
    import mpmath
    from flint import arb
    with mpmath.workprec(prec + 20):
        nodes, weights = mpmath.gauss_quadrature(n, "hermite")
        out_n, out_w = [], []
        for z, w in zip(nodes, weights):
            out_n.append(arb(mpmath.nstr(z * mpmath.sqrt(2), int(prec / 3.32) + 8)))
            out_w.append(arb(mpmath.nstr(w / mpmath.sqrt(mpmath.pi), int(prec / 3.32) + 8)))
    return tuple(out_n), tuple(out_w)


def _precise_value(expr, kinks, q1v, q2v, cv, dps, n, allow_gh=True):
    """K by composite Gauss-Legendre in arb arithmetic (python-flint), nested.

    Outer integral over u ~ N(0, q1), inner over v | u ~ N(c u / q1, q2 - c^2 / q1); at
    |rho| = 1 the inner integral is the point value sigma(c u / q1).  Returns an ``arb``.
    """
    from flint import arb, ctx
    prec = int(dps * 3.33) + 30
    old = ctx.prec
    ctx.prec = prec
    try:
        f = to_arb(expr, strict=False)
        nodes, weights = _arb_gl(n, prec)
        A, B, C = arb(q1v), arb(q2v), arb(cv)      # the exact binary inputs
        D = A * B - C * C
        if not D > 0:
            D = arb(0)
        two_pi = 2 * arb.pi()
        L = math.sqrt(2.0 * dps * math.log(10.0) + 12.0)
        growth, periodic = _profile(expr)
        s1 = math.sqrt(q1v)
        Lout = L * s1 + 2.0 * growth * (q1v + math.sqrt(q1v * q2v))
        kf = [float(k) for k in kinks]
        slope = cv / q1v
        feats = _arb_uniform(-Lout, Lout) if periodic else list(_ARB_FEATURES)
        extra = feats + kf
        tvar = D / A                                  # variance of v given u
        tf = math.sqrt(max(float(tvar.mid()), 0.0))
        if slope != 0.0:
            mapped = [k / slope for k in kf]
            # v's features, pulled back to u: for a periodic sigma, v = slope u oscillates
            # over all of slope * [-Lout, Lout] (sin at q2 = 1000, rho = 1 was off by 1e-10)
            vfeats = (_arb_uniform(-abs(slope) * Lout, abs(slope) * Lout) if periodic
                      else feats)
            extra += [p / slope for p in vfeats] + mapped
            if tf > 0.0:
                w = tf / abs(slope)
                for m in mapped:
                    g = w / 8
                    while g < 2 * Lout:
                        extra += [m - g, m + g]
                        g *= 2
        if cv == 0.0:
            # independent: K = E[sigma(u)] E[sigma(v)], two one-dimensional integrals
            means = []
            for var in (A, B):
                s = math.sqrt(float(var.mid()))
                w = L * s + 2.0 * growth * float(var.mid())
                br = _arb_panels(-w, w, 0.0, s,
                                 (_arb_uniform(-w, w) if periodic else list(_ARB_FEATURES)) + kf)
                acc = arb(0)
                for a, b in zip(br[:-1], br[1:]):
                    ha = (arb(b) - arb(a)) / 2
                    ma = (arb(b) + arb(a)) / 2
                    for t, wt in zip(nodes, weights):
                        u = ma + ha * t
                        acc += ha * wt * f(u) * (-(u * u) / (2 * var)).exp()
                means.append(acc / (two_pi * var).sqrt())
            return means[0] * means[1]
        obreaks = _arb_panels(-Lout, Lout, 0.0, s1, extra)
        Lin = L + 2.0 * growth * tf
        sd = tvar.sqrt() if tf > 0 else None
        f2 = None
        taylor_t = 10.0 ** (-(dps + 4) / 4.0)
        if 0.0 < tf < taylor_t:
            try:
                f2 = to_arb(sp.diff(expr, _x, 2), strict=False)
            except ValueError:
                f2 = None
        if tf < 1e-2:
            gh_main, gh_check = _arb_gh(16, prec), _arb_gh(12, prec)
        else:
            gh_main, gh_check = _arb_gh(2 * n + 8, prec), _arb_gh(2 * n, prec)
        gh_tol = 10.0 ** (-dps - 3)
        total = arb(0)
        for a, b in zip(obreaks[:-1], obreaks[1:]):
            ha = (arb(b) - arb(a)) / 2
            ma = (arb(b) + arb(a)) / 2
            for t, wt in zip(nodes, weights):
                u = ma + ha * t
                mu = C * u / A
                if tf == 0.0:
                    g = f(mu)
                elif f2 is not None and tf < taylor_t and not any(
                        abs(k - float(mu.mid())) < (L + 1) * tf for k in kf):
                    g = f(mu) + tvar / 2 * f2(mu)     # heat expansion, error O(t^4)
                elif allow_gh and tf <= 0.25 and not any(abs(k - float(mu.mid())) < (L + 1) * tf for k in kf):
                    g = arb(0)
                    g2 = arb(0)
                    for zz, wz in zip(*gh_main):
                        g += wz * f(mu + sd * zz)
                    for zz, wz in zip(*gh_check):
                        g2 += wz * f(mu + sd * zz)
                    if not abs(float((g - g2).mid())) <= gh_tol * (1 + abs(float(g.mid()))):
                        raise _GHNotConverged
                else:
                    muf = float(mu.mid())
                    ifeats = (_arb_uniform(muf - Lin * tf, muf + Lin * tf) if periodic
                              else list(_ARB_FEATURES))
                    zextra = [(p - muf) / tf for p in ifeats + kf]
                    zbreaks = _arb_panels(-Lin, Lin, 0.0, 1.0, zextra)
                    g = arb(0)
                    for a2, b2 in zip(zbreaks[:-1], zbreaks[1:]):
                        hb = (arb(b2) - arb(a2)) / 2
                        mb = (arb(b2) + arb(a2)) / 2
                        acc = arb(0)
                        for t2, w2 in zip(nodes, weights):
                            z = mb + hb * t2
                            acc += w2 * f(mu + sd * z) * (-(z * z) / 2).exp()
                        g += hb * acc
                    g = g / two_pi.sqrt()
                total += ha * wt * f(u) * (-(u * u) / (2 * A)).exp() * g
        return total / (two_pi * A).sqrt()
    finally:
        ctx.prec = old


def _precise_scalar(expr, kinks, q1v, q2v, cv, dps):
    """The oracle value as an mpmath ``mpf`` at ``dps`` digits."""
    import mpmath
    n = max(12, int(math.ceil(0.7 * dps)) + 4)
    try:
        val = _precise_value(expr, kinks, q1v, q2v, cv, dps, n)
    except _GHNotConverged:
        val = _precise_value(expr, kinks, q1v, q2v, cv, dps, n, allow_gh=False)
    from flint import ctx
    old = ctx.prec
    ctx.prec = int(dps * 3.33) + 30
    try:
        text = val.mid().str(dps + 5, radius=False)
    finally:
        ctx.prec = old
    with mpmath.workdps(dps + 5):
        out = mpmath.mpf(text)
    return out
