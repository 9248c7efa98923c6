"""Numba loops of the bivariate Gauss-Legendre route of :class:`hermite_dual.DualKernel`.

``K_sigma(q1, q2, c)`` as an outer integral over ``u`` of the conditional expectation
over ``v | u`` (MATH §3), panels split at the kinks and refined near the Gaussian's centre;
two rules of different order give the error estimate.  The activation arrives as a numba
``cfunc`` address built by :mod:`hermite_dual.duals.quadrature`.
"""

from __future__ import annotations

import math

import numba
import numpy as np


@numba.njit(cache=True)
def _nb_inner(sig, mu, t, kinks, feats, zs, ws, gl_t, gl_w):  # pragma: no cover - compiled
    """E[sigma(mu + t Z)]: Gauss-Hermite when smooth and t <= 1, else composite GL."""
    L = 9.5
    if t == 0.0:
        f = sig(mu)
        return f, abs(f)
    lo = mu - L * t
    hi = mu + L * t
    smooth = t <= 1.0
    for kk in range(kinks.size):
        if lo < kinks[kk] < hi:
            smooth = False
    s = 0.0
    sa = 0.0
    if smooth:
        for i in range(zs.size):
            f = sig(mu + t * zs[i])
            s += ws[i] * f
            sa += ws[i] * abs(f)
        return s, sa
    buf = np.empty(2 * 10 + 2 + feats.size + kinks.size)
    nb = 0
    z = -L
    while z <= L + 1e-12:
        buf[nb] = z
        nb += 1
        z += 1.0
    for kk in range(feats.size):
        zz = (feats[kk] - mu) / t
        if -L < zz < L:
            buf[nb] = zz
            nb += 1
    for kk in range(kinks.size):
        zz = (kinks[kk] - mu) / t
        if -L < zz < L:
            buf[nb] = zz
            nb += 1
    bb = np.sort(buf[:nb])
    c0 = 1.0 / math.sqrt(2.0 * math.pi)
    for p in range(nb - 1):
        a = bb[p]
        b = bb[p + 1]
        if b <= a:
            continue
        hw = 0.5 * (b - a)
        md = 0.5 * (a + b)
        for i in range(gl_t.size):
            zz = md + hw * gl_t[i]
            wgt = hw * gl_w[i] * math.exp(-0.5 * zz * zz) * c0
            f = sig(mu + t * zz)
            s += wgt * f
            sa += wgt * abs(f)
    return s, sa


@numba.njit(cache=True)
def _nb_point(sig, q1v, q2v, cv, dv, kinks, feats, tm, wm, tc, wc, zh, wh, zh2, wh2):  # pragma: no cover
    """Conditional quadrature of one covariance: (value, error estimate)."""
    L = 9.5
    s1 = math.sqrt(q1v)
    lo = -L * s1
    hi = L * s1
    t = math.sqrt(dv / q1v)
    lam = cv / q1v
    nmax = 64 + 2 * feats.size + kinks.size * 140
    buf = np.empty(nmax)
    nb = 0
    g = -L
    while g <= L + 1e-12:
        buf[nb] = g * s1
        nb += 1
        g += 2.0
    mapped = lam != 0.0 and abs(abs(lam) - 1.0) > 0.2
    for kk in range(feats.size):
        if lo < feats[kk] < hi:
            buf[nb] = feats[kk]
            nb += 1
        if mapped:
            m = feats[kk] / lam
            if lo < m < hi:
                buf[nb] = m
                nb += 1
    for kk in range(kinks.size):
        if lo < kinks[kk] < hi:
            buf[nb] = kinks[kk]
            nb += 1
        if lam != 0.0:
            m = kinks[kk] / lam
            if lo < m < hi:
                buf[nb] = m
                nb += 1
            w = t / abs(lam) / 8.0
            while w < hi - lo and w > 0.0 and nb < nmax - 2:
                if lo < m - w < hi:
                    buf[nb] = m - w
                    nb += 1
                if lo < m + w < hi:
                    buf[nb] = m + w
                    nb += 1
                w *= 2.0
    bb = np.sort(buf[:nb])
    main = 0.0
    check = 0.0
    absval = 0.0
    c0 = 1.0 / math.sqrt(2.0 * math.pi)
    for p in range(nb - 1):
        a = bb[p]
        b = bb[p + 1]
        if b - a <= 1e-14 * s1:
            continue
        hw = 0.5 * (b - a)
        md = 0.5 * (a + b)
        for i in range(tm.size):
            u = md + hw * tm[i]
            wu = hw * wm[i] * math.exp(-0.5 * u * u / q1v) * c0 / s1
            fu = sig(u)
            gi, ga = _nb_inner(sig, lam * u, t, kinks, feats, zh, wh, tm, wm)
            main += wu * fu * gi
            absval += abs(wu * fu) * ga
        for i in range(tc.size):
            u = md + hw * tc[i]
            wu = hw * wc[i] * math.exp(-0.5 * u * u / q1v) * c0 / s1
            gi, ga = _nb_inner(sig, lam * u, t, kinks, feats, zh2, wh2, tc, wc)
            check += wu * sig(u) * gi
    # rounding of the sum: a floor of 8 sqrt(N) eps of the absolute integral, N the
    # outer nodes (at least 64 eps); the fixed 64 eps was exceeded 2.4x at rho = 1
    # (Max(x, 0)**2 at (10, 1, sqrt(10)): error 5.3e-13 against 2.2e-13)
    nterms = (nb - 1) * tm.size
    floor = max(64.0, 8.0 * math.sqrt(max(nterms, 1)))
    return main, abs(main - check) + floor * 2.220446049250313e-16 * absval


@numba.njit(cache=True, parallel=True)
def _nb_quad_kernel(sig, q1a, q2a, ca, da, kinks, feats, rules, out, err):  # pragma: no cover
    """Conditional quadrature for many covariances (sigma a first-class cfunc).

    Outer integral over u on composite Gauss-Legendre panels (16 nodes main, 10 check)
    with breakpoints on the Gaussian grid (1.5 sd), a feature grid geometric in |u| and
    its image under u -> c u / q1, the kinks, their images and a geometric grading
    around the images down to the smoothing width.  Inner integral over
    z = (v - c u / q1) / t: Gauss-Hermite (24 nodes main, 16 check) when its window
    holds no kink and t <= 1, composite Gauss-Legendre otherwise; exact at t = 0.
    """
    (t16, w16, t10, w10, z24, v24, z20, v20, z16, v16, z14, v14, z10, v10) = rules
    for i in numba.prange(q1a.size):
        t = math.sqrt(da[i] / q1a[i])
        # outer rule pair 16/10 (a 12/8 pair was measured too weak for a 1e-12 error
        # estimate); inner Gauss-Hermite pair by the smoothing width t
        ta, wa, tb, wb = t16, w16, t10, w10
        if t <= 0.3:
            v, e = _nb_point(sig, q1a[i], q2a[i], ca[i], da[i], kinks, feats,
                             ta, wa, tb, wb, z16, v16, z10, v10)
        elif t <= 0.7:
            v, e = _nb_point(sig, q1a[i], q2a[i], ca[i], da[i], kinks, feats,
                             ta, wa, tb, wb, z20, v20, z14, v14)
        else:
            v, e = _nb_point(sig, q1a[i], q2a[i], ca[i], da[i], kinks, feats,
                             t16, w16, t10, w10, z24, v24, z16, v16)
        out[i] = v
        err[i] = e
