"""The two stages of :func:`~hermite_dual.population_gram`: an O(n) plan, then blocks.

:class:`GramPlan` holds everything the entries of K need and that costs O(n): the
validated data, the kernel route, each point's diagonal fixed point ``kappa_i`` and
variance ``s_i``, the Mehler tables at those variances, and (equal norms) the table of
``F(u)`` (MATH §5).  :meth:`GramPlan.block` then computes any block ``K[rows][:, cols]``
and ``Sigma`` on it, and :meth:`GramPlan.tangent_block` ``Kdot`` and ``Theta``.

Every entry is a function of its own two points and the plan alone: the data Gram
``(2/d) x_i^T x_j`` is summed in coordinate order (:func:`hermite_dual._kernels.gram.
data_gram`, where BLAS would make an entry depend on its block's shape), each entry is
solved in the canonical orientation (lower point index first), and the entries the
series does not certify are flagged and re-solved one by one.  So a block gives the same
bits as the same entries of the whole matrix, whatever the block's shape and whichever
thread or process computes it: the in-memory path is one block, the Dask path
(:mod:`hermite_dual.distributed`) many.
"""

from __future__ import annotations

import math
import time

import numpy as np

from .._kernels import gram as kr
from .._kernels import pairs as kp
from .._kernels import tangent as kt
from .base import (
    _DUMMY,
    _EPS,
    _PARALLEL_COS,
    _Evaluator,
    _kernel_plan,
    _series_error_envelope,
    _series_tables,
)

_REFINE_MAXIT = 200


def _kernels(serial):
    """The numba loops of a block: parallel over rows, or single-threaded (Dask)."""
    if serial:
        return (kp.data_gram_serial, kp.find_parallel_serial, kr.gram_table_serial,
                kr.gram_general_serial, kt.kdot_theta_serial, kt.kdot_theta_table_serial)
    return (kp.data_gram, kp.find_parallel, kr.gram_table, kr.gram_general, kt.kdot_theta,
            kt.kdot_theta_table)


class GramPlan:
    """The O(n) stage of the population Gram matrix: diagonal fixed points and tables.

    Built by :func:`hermite_dual.equilibrium.solve.plan_gram` (which validates every
    input); pickles to Dask workers (a compiled closed form is rebuilt there from the
    activation, the route depending on the input alone).  Attributes used by blocks:
    ``X``, ``w2``, ``path`` ("equal" or "general"), ``kind``, ``kappa``, ``s`` (per point,
    NaN outside ``pts``), the series tables ``A, T, E`` with ``pidx`` (point -> table row)
    and, on the equal path, the table ``F, dF`` with its ``good`` intervals.
    """

    def __init__(self, **fields):
        self.__dict__.update(fields)
        self._tan = None

    # -- pickling: numba first-class functions do not pickle ------------------
    def __getstate__(self):
        state = dict(self.__dict__)
        state["ev"] = None
        state["_tan"] = None if self._tan is None else dict(self._tan, ev=None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        kind, fv, fd = _kernel_plan(self.act, self.path, self.n_route)
        self.ev = _Evaluator(self.act, kind, fv, fd)

    @property
    def n(self):
        return self.X.shape[0]

    # -- one block of K and Sigma --------------------------------------------
    def block(self, rows, cols, *, serial=False):
        """``(K, Sigma, stats)`` on the block ``rows x cols`` (int64 index arrays).

        ``stats``: the block's largest entry error, residual, Newton count and ``|K_c|``,
        the table intervals read (``lo``, ``hi``), whether every entry is finite, and
        how many entries the dual kernel re-solved (``refined``);
        :meth:`errors` turns the stats of all blocks into the error bound.
        """
        dot, find_par, g_table, g_general, _, _ = _kernels(serial)
        X, w2, ev = self.X, self.w2, self.ev
        d = X.shape[1]
        rows = np.ascontiguousarray(rows, dtype=np.int64)
        cols = np.ascontiguousarray(cols, dtype=np.int64)
        G = np.empty((rows.size, cols.size))
        dot(X, rows, np.ascontiguousarray(X[cols].T), 2.0 / d, G)
        if not self.allow_parallel and self.n > 1:
            i, j = find_par(G, rows, cols, self.gdiag_full, _PARALLEL_COS)
            if i >= 0:
                cosv = float(X[i] @ X[j] / math.sqrt(float(X[i] @ X[i]) * float(X[j] @ X[j])))
                raise ValueError(f"rows {int(i)} and {int(j)} of X are parallel (cosine "
                                 f"{cosv!r}); the theory excludes parallel inputs "
                                 "(pass allow_parallel=True to compute anyway)")
        K = np.empty_like(G)
        nr = rows.size
        row_res = np.zeros(nr)
        row_err = np.zeros(nr)
        row_its = np.zeros(nr, dtype=np.int64)
        row_dv = np.zeros(nr)
        flags = np.zeros(G.shape, dtype=np.uint8)
        flag_tol = self.flag_tol
        lo = hi = -1
        if self.path == "equal":
            row_lo = np.zeros(nr, dtype=np.int64)
            row_hi = np.zeros(nr, dtype=np.int64)
            g_table(G, rows, cols, self.g0, float(self.kap[0]), float(self.sv[0]), w2, self.F,
                    self.dF, self.good, self.kind, ev.fv, ev.fd, self.A, self.T, self.E,
                    self.max_iter, K, row_lo, row_hi, row_res, row_err, row_its, row_dv,
                    flag_tol, flags)
            if nr:
                lo, hi = int(row_lo.min()), int(row_hi.max())
        else:
            g_general(G, rows, cols, self.kappa, self.s, self.pidx, w2, self.kind, ev.fv,
                      ev.fd, self.A, self.T, self.E, self.max_iter, K, row_res, row_err,
                      row_its, row_dv, flag_tol, flags)
        Sigma = G
        local_dv = self._local_dv(row_dv, lo, hi)
        if self.kind == kr.KIND_SERIES and flags.any():
            L_ref = self.L_off if math.isfinite(self.L_off) else 2 * w2 * local_dv
            if L_ref < 1.0:
                self._refine(K, Sigma, rows, cols, flags, row_err, L_ref)
        stats = {
            "err": float(row_err.max()) if nr else 0.0,
            "res": float(row_res.max()) if nr else 0.0,
            "its": int(row_its.max()) if nr else 0,
            "dv": float(row_dv.max()) if nr else 0.0,
            "lo": lo, "hi": hi,
            "finite": bool(np.all(np.isfinite(K))),
            "refined": int(np.count_nonzero(flags)),
        }
        return K, Sigma, stats

    def _table_used(self, lo, hi):
        """Nodes of the F table read by the intervals ``lo..hi`` (equal path)."""
        nint = self.F.size - 1
        ok = np.zeros(nint + 1, dtype=bool)
        ok[:-1] |= self.good
        ok[1:] |= self.good
        ok[:lo] = False
        ok[hi + 2:] = False
        return ok

    def _local_dv(self, row_dv, lo, hi):
        dv = float(row_dv.max()) if row_dv.size else 0.0
        if self.path == "equal" and hi >= lo >= 0:
            ok = self._table_used(lo, hi)
            dv = max(dv, float(np.max(np.where(ok, np.abs(self.node_dv), 0.0))))
        return dv

    def _refine(self, K, Sigma, rows, cols, flags, row_err, L):
        """Re-solve, in place, the entries whose series error is above rounding.

        Near ``|rho| = 1`` the Mehler series of an activation with a kink converges
        slowly, and its certified tail (honest, but large) dominates the entry's error.
        The flagged entries are solved again with the dual kernel's own evaluation (which
        switches to quadrature where the series misses float64 accuracy): the fixed
        point ``k = K_sigma(s_i, s_j, 2 w k + g_ij)`` by plain iteration (contraction
        ``L``) from the series value, each entry until its own step is at rounding, in
        the canonical orientation and with one route for the whole plan, so an entry's
        value does not depend on which other entries are in the block.  For a principal
        block each unordered pair is solved once and mirrored.
        """
        from ..duals import dual
        w2 = self.w2
        P, C = np.nonzero(flags)
        gi, gj = rows[P], cols[C]
        if rows.shape == cols.shape and bool(np.all(rows == cols)):
            keep = gi < gj
            P, C, gi, gj = P[keep], C[keep], gi[keep], gj[keep]
        if P.size == 0:
            return
        lo_i = np.minimum(gi, gj)
        hi_i = np.maximum(gi, gj)
        si, sj = self.s[lo_i], self.s[hi_i]
        lim = np.sqrt(si) * np.sqrt(sj)
        k = K[P, C].copy()
        g = Sigma[P, C] - 2 * w2 * k
        bnd = np.full(k.size, np.inf)
        step = np.full(k.size, np.inf)
        active = np.arange(k.size)
        dk = dual(self.act)
        for _ in range(_REFINE_MAXIT):
            c = np.clip(2 * w2 * k[active] + g[active], -lim[active], lim[active])
            v, b = dk._evaluate(si[active], sj[active], c, few=self.few_variances)
            st = np.abs(v - k[active])
            k[active], bnd[active], step[active] = v, b, st
            if w2 == 0.0:
                break
            active = active[~(st <= 2 * _EPS * (np.abs(v) + self.kscale))]
            if active.size == 0:
                break
        err = (bnd + L * step) / (1 - L)
        K[P, C] = k
        Sigma[P, C] = 2 * w2 * k + g
        new = np.zeros(row_err.size)
        np.maximum.at(new, P, err)
        if rows.shape == cols.shape and bool(np.all(rows == cols)):
            K[C, P] = k
            Sigma[C, P] = Sigma[P, C]
            np.maximum.at(new, C, err)
        # a flagged row's error: its refined entries', and at most flag_tol for the rest
        hit = flags.any(axis=1)
        row_err[hit] = np.maximum(new[hit], np.minimum(row_err[hit], self.flag_tol))

    # -- errors of the whole (or of any union of blocks) ---------------------
    def diagonal(self, *, tangent=False):
        """``K_ii``, or ``Theta_ii = K_ii (1 + B_ii)`` with ``B_ii = Kdot_ii / (1 - 2
        sigma_w^2 Kdot_ii)`` (MATH §5), at the plan's points: O(n), from the diagonal fixed
        points and ``Kdot_ii = nu_{sigma'}(s_i)`` the plan measured its contraction with.

        >>> import numpy as np
        >>> import hermite_dual as hd
        >>> from hermite_dual.equilibrium.solve import plan_gram
        >>> X = np.array([[1.0, 1.0], [1.0, -1.0], [2.0, 0.0]])
        >>> r = hd.population_gram(X, "relu", 0.08)
        >>> plan = plan_gram(X, "relu", 0.08)
        >>> bool(np.array_equal(plan.diagonal(), np.diag(r.K)))
        True
        >>> bool(np.allclose(plan.diagonal(tangent=True), np.diag(r.Theta), rtol=1e-15))
        True
        """
        k = np.array(self.kappa[self.pts], dtype=np.float64)
        if not tangent:
            return k
        kd = np.broadcast_to(self.nu_d, k.shape)
        if not np.all(np.isfinite(kd)):
            self.ev.derivative_act()          # the ValueError naming the Dirac mass
        return k * (1.0 + kd / (1.0 - 2.0 * self.w2 * kd))

    def errors(self, stats):
        """Error bound, residual, iterations and convergence from the blocks' stats."""
        w2 = self.w2
        err = max((s["err"] for s in stats), default=0.0)
        res = max((s["res"] for s in stats), default=0.0)
        its = max((s["its"] for s in stats), default=0)
        dv = max((s["dv"] for s in stats), default=0.0)
        finite = all(s["finite"] for s in stats)
        table_err = extra_res = 0.0
        table_its = 0
        if self.path == "equal":
            los = [s["lo"] for s in stats if s["hi"] >= s["lo"] >= 0]
            his = [s["hi"] for s in stats if s["hi"] >= s["lo"] >= 0]
            if los:
                lo, hi = min(los), max(his)
                used = slice(lo, hi + 1)
                # interpolation error: twice the largest midpoint error of the interval
                # and its neighbours (guards against a midpoint where F'''' vanishes)
                mid_ok = np.where(self.good, self.mid_err, 0.0)
                mid_nb = mid_ok.copy()
                mid_nb[1:] = np.maximum(mid_nb[1:], mid_ok[:-1])
                mid_nb[:-1] = np.maximum(mid_nb[:-1], mid_ok[1:])
                table_err = float(np.max(np.where(self.good, self.node_pair + 2 * mid_nb,
                                                  0.0)[used]))
                ok = self._table_used(lo, hi)
                extra_res = float(np.max(np.where(ok, self.node_res, 0.0)))
                table_its = int(np.max(np.where(ok, self.its_tab, 0)))
                dv = max(dv, float(np.max(np.where(ok, np.abs(self.node_dv), 0.0))))
        L_loc = 2 * w2 * dv
        L = self.L_off if math.isfinite(self.L_off) else L_loc
        contraction = max(self.L_diag, L)
        if contraction >= 1.0:
            raise ValueError(f"sigma_w2={w2!r} is beyond the contraction limit for "
                             f"activation {self.act.name!r}: measured contraction factor "
                             f"{contraction:.6g} >= 1")
        off_err = max(err, table_err) / (1 - L)
        dk = float(np.max(self.diag_err))
        nu_d_max = float(np.max(self.nu_d)) if math.isfinite(self.L_off) else dv
        prop = 2 * w2 * dk * (self.D_est + nu_d_max)
        norm_term = (self.dev * self.g0 * (self.D_est + 1.0) / (1 - contraction)
                     if self.path == "equal" else 0.0)
        error_bound = max(dk, off_err + prop / (1 - L)) + norm_term
        residual = max(float(np.max(self.diag_step)), res, extra_res)
        iterations = int(self.diag_its + max(its, table_its))
        fp_bound = max(dk, res / (1 - L), extra_res / (1 - L))
        # tol is relative to the kernel's size once it exceeds 1 (K scales like the data's
        # squared norms for relu: an absolute 1e-12 at K ~ 1e80 asks for 1e-92 relative)
        converged = bool(self.diag_done and fp_bound <= self.tol * max(1.0, self.kscale)
                         and np.isfinite(error_bound) and finite)
        return {"error_bound": float(error_bound), "residual": residual,
                "iterations": iterations, "converged": converged,
                "contraction": float(contraction), "fp_bound": fp_bound}

    # -- the tangent kernel ----------------------------------------------------
    def _tangent_tables(self):
        """Tables of sigma' at every point of the plan, built once (and the Kdot table)."""
        if self._tan is not None:
            return self._tan
        t0 = time.perf_counter()
        pts = self.pts
        dact = self.ev.derivative_act()      # ValueError when sigma' has a Dirac mass
        kdiag = np.full(self.n, np.nan)
        if self.kind == kr.KIND_SERIES:
            if self.path == "equal":
                A, T, E, nud = _series_tables(dact, self.degree, self.s[pts[:1]])
                kdiag[pts] = nud[0]
            else:
                A, T, E, nud = _series_tables(dact, self.degree, self.s[pts])
                kdiag[pts] = nud
        else:
            A = T = E = _DUMMY
            kdiag[pts] = self.ev.nu_deriv_act(self.s[pts])
        tan = {"A": A, "T": T, "E": E, "kdiag": kdiag}
        if self.path == "equal":
            s0 = float(self.s[pts[0]])
            nint = self.F.size - 1
            H = np.empty(nint + 1)
            mid_err = np.empty(nint)
            kt.build_kdot_table(self.kind, self.ev.fv, self.ev.fd, A, T, s0, self.g0, self.w2,
                                self.F, self.dF, H, mid_err)
            good = np.isfinite(H[:-1]) & np.isfinite(H[1:]) & (
                mid_err <= 8 * _EPS * max(1.0, float(np.max(np.abs(H[np.isfinite(H)])))))
            tan.update(H=H, H_mid=mid_err, H_good=good, s0=s0)
        tan["seconds"] = time.perf_counter() - t0
        self._tan = tan
        return tan

    def tangent_block(self, K, Sigma, rows, cols, *, serial=False):
        """``(Kdot, Theta, stats)`` on a block, from its ``K`` and ``Sigma``."""
        _, _, _, _, kdot, kdot_table = _kernels(serial)
        tan = self._tangent_tables()
        ev = self.ev
        rows = np.ascontiguousarray(rows, dtype=np.int64)
        cols = np.ascontiguousarray(cols, dtype=np.int64)
        Kdot = np.empty_like(K)
        Theta = np.empty_like(K)
        row_rho = np.zeros(rows.size)
        lo = hi = -1
        if self.path == "equal":
            row_lo = np.zeros(rows.size, dtype=np.int64)
            row_hi = np.zeros(rows.size, dtype=np.int64)
            kdot_table(Sigma, K, rows, cols, tan["s0"], self.g0, self.w2, tan["kdiag"],
                       tan["H"], tan["H_good"], self.kind, ev.fv, ev.fd, tan["A"], tan["T"],
                       Kdot, Theta, row_rho, row_lo, row_hi)
            if rows.size:
                lo, hi = int(row_lo.min()), int(row_hi.max())
        else:
            kdot(Sigma, K, rows, cols, self.s, tan["kdiag"], self.pidx, self.w2, self.kind,
                 ev.fv, ev.fd, tan["A"], tan["T"], Kdot, Theta, row_rho)
        pts = np.unique(np.concatenate([rows, cols]))
        stats = {"rho": float(row_rho.max()) if row_rho.size else 0.0, "lo": lo, "hi": hi,
                 "tab": np.unique(self.pidx[pts])}
        return Kdot, Theta, stats

    def tangent_error(self, stats):
        """The error of ``Kdot`` over blocks (see ``EquilibriumKernel.Kdot_error``)."""
        tan = self._tangent_tables()
        rho = max((s["rho"] for s in stats), default=0.0)
        used = np.unique(np.concatenate([s["tab"] for s in stats]))
        kd = tan["kdiag"][self.pts]
        if self.kind == kr.KIND_SERIES:
            err = max(_series_error_envelope(tan["A"][used], tan["T"][used], tan["E"][used],
                                             rho),
                      16 * _EPS * float(np.max(np.abs(kd))))
        else:
            err = 16 * _EPS * float(np.max(np.abs(kd)))
        if self.path == "equal":
            los = [s["lo"] for s in stats if s["hi"] >= s["lo"] >= 0]
            his = [s["hi"] for s in stats if s["hi"] >= s["lo"] >= 0]
            if los:
                a, b = min(los), max(his)
                mid_ok = np.where(tan["H_good"], tan["H_mid"], 0.0)
                nb = mid_ok.copy()
                nb[1:] = np.maximum(nb[1:], mid_ok[:-1])
                nb[:-1] = np.maximum(nb[:-1], mid_ok[1:])
                err += 2 * float(np.max(nb[a:b + 1]))
        return err
