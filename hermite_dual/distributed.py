"""K, Sigma, Kdot and Theta block by block on Dask, for n past one machine's memory.

:func:`gram` builds the O(n) plan of :func:`hermite_dual.population_gram` once (every
point's diagonal fixed point and the tables its entries need,
:class:`hermite_dual.equilibrium.plan.GramPlan`) and ships it to the workers; every block
of the n x n matrices is then an independent task, a single-threaded ``nogil`` numba call,
so Dask's threads and processes scale.  Each entry is a function of its two points and
the plan alone, so the blocks are **bit for bit** the entries of the in-memory
:func:`~hermite_dual.population_gram`, whatever the block sizes (they need not divide n).

* :attr:`DistributedGram.K` (and ``Sigma``, ``Kdot``, ``Theta``): ``dask.array`` views,
  for anything Dask composes;
* :meth:`DistributedGram.compute`: the in-memory :class:`~hermite_dual.EquilibriumKernel`;
* :meth:`DistributedGram.store`: the matrices written block by block to a zarr group
  (``*.zarr``) or to ``.npy`` memory maps in a directory, the client never holding more
  than the blocks' statistics; the store is marked complete only after every block is
  written (:func:`open_store` refuses an incomplete one);
* :func:`least_eigenvalue`: the certified interval of :func:`hermite_dual.least_eigenvalue`
  from Dask-backed linear algebra (a blocked Cholesky for the estimate, by Lanczos on
  ``K^{-1}``, and for the verified lower bound).

Works with Dask's threaded scheduler (the default) and with ``dask.distributed``
(``LocalCluster`` here; any scheduler address on a cluster): pass ``client=``.  Needs the
``[dask]`` extra: ``pip install "hermite_dual[dask]"``.

>>> import numpy as np
>>> import hermite_dual as hd
>>> from hermite_dual import distributed
>>> from hermite_dual.data import sphere_data
>>> X, _ = sphere_data(100, 5, seed=0)
>>> dg = distributed.gram(X, "tanh", 0.08, chunks=40, tangent=True)   # 3 x 3 blocks
>>> res = dg.compute(progress=False)
>>> ref = hd.population_gram(X, "tanh", 0.08)
>>> bool(np.array_equal(res.K, ref.K)), bool(np.array_equal(res.Theta, ref.Theta))
(True, True)
"""

from __future__ import annotations

import json
import math
import os
import pathlib
import shutil
import time

import numpy as np

from ._util import validate
from .equilibrium.solve import finish_gram, plan_gram

__all__ = ["DistributedGram", "gram", "least_eigenvalue", "leading_block_upper", "open_store"]

_NAMES = ("K", "Sigma", "Kdot", "Theta")
_MARKER = "COMPLETE.json"


def _dask():
    try:
        import dask
        import dask.array as da
    except ImportError:            # pragma: no cover - the [dask] extra is tested in CI
        raise ImportError("hermite_dual.distributed needs Dask: pip install "
                          "'hermite_dual[dask]' (dask, distributed, zarr, tqdm)") from None
    return dask, da


def _edges(n, chunks):
    size = validate.positive_integer(chunks, "chunks")
    return np.unique(np.r_[np.arange(0, n, size), n]).astype(np.int64)


# ---------------------------------------------------------------------------
# one block: the task every worker runs
# ---------------------------------------------------------------------------

def _block(plan, r0, r1, c0, c1, tangent):
    """K, Sigma (and Kdot, Theta) of one block and its statistics; single-threaded."""
    rows = np.arange(r0, r1, dtype=np.int64)
    cols = np.arange(c0, c1, dtype=np.int64)
    K, S, stats = plan.block(rows, cols, serial=True)
    # the largest off-diagonal correlation, for the Hermite certificate
    rho = np.abs(S) / np.sqrt(np.outer(plan.s[rows], plan.s[cols]))
    rho[rows[:, None] == cols[None, :]] = 0.0
    stats["beta"] = float(rho.max()) if rho.size else 0.0
    out = {"K": K, "Sigma": S, "stats": stats}
    if tangent:
        Kd, Th, tst = plan.tangent_block(K, S, rows, cols, serial=True)
        out.update(Kdot=Kd, Theta=Th, tstats=tst)
    return out


def _part(out, name):
    return out[name]


def _write_block(plan, r0, r1, c0, c1, tangent, target, names):
    """Compute one block and write it into the store; returns only its statistics."""
    out = _block(plan, r0, r1, c0, c1, tangent)
    arrays = _open_arrays(target, names, mode="r+")
    for name in names:
        arrays[name][r0:r1, c0:c1] = out[name]
    if hasattr(arrays[names[0]], "flush"):
        for name in names:
            arrays[name].flush()
    return {"stats": out["stats"], "tstats": out.get("tstats")}


def _open_arrays(target, names, mode):
    kind, path = target
    if kind == "zarr":
        import zarr
        g = zarr.open_group(path, mode=mode)
        return {name: g[name] for name in names}
    return {name: np.load(os.path.join(path, f"{name}.npy"), mmap_mode=mode)
            for name in names}


# ---------------------------------------------------------------------------
# progress: one tick per block, with an ETA (tqdm: terminal or notebook widget)
# ---------------------------------------------------------------------------

def _bar(total, enabled, desc):
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:            # pragma: no cover - tqdm comes with the [dask] extra
        return None
    return tqdm(total=total, desc=desc, unit="block")


def _run(dask, tasks, client, bar):
    """Compute the delayed ``tasks``; tick ``bar`` per finished task."""
    if client is not None:
        from distributed import as_completed
        futures = client.compute(tasks)
        index = {f.key: i for i, f in enumerate(futures)}
        out = [None] * len(futures)
        for fut in as_completed(futures):
            out[index[fut.key]] = fut.result()
            if bar is not None:
                bar.update(1)
        return out
    from dask.callbacks import Callback
    keys = {t.key for t in tasks}

    class _Tick(Callback):
        def _posttask(self, key, result, dsk, state, worker_id):
            if bar is not None and key in keys:
                bar.update(1)

    with _Tick():
        return list(dask.compute(*tasks))


# ---------------------------------------------------------------------------
# the public objects
# ---------------------------------------------------------------------------

class DistributedGram:
    """K, Sigma (and Kdot, Theta) of :func:`population_gram` as blocks on Dask.

    Made by :func:`gram`.  ``K``, ``Sigma``, ``Kdot``, ``Theta`` are ``dask.array``s
    (the tangent pair only with ``tangent=True``); :meth:`compute` and :meth:`store`
    run every block once, with a progress bar.

    Attributes
    ----------
    plan : hermite_dual.equilibrium.plan.GramPlan
        The O(n) stage (diagonal fixed points, tables), computed on the client.
    edges : numpy.ndarray
        Block boundaries ``0 = e_0 < e_1 < ... = n``.
    tangent : bool
        Whether Kdot and Theta are computed with K.
    timing : dict
        Seconds per stage (``plan``, then ``blocks`` or ``store``).
    """

    def __init__(self, plan, edges, tangent, client=None):
        dask, da = _dask()
        self.plan, self.edges, self.tangent, self.client = plan, edges, tangent, client
        self.timing = dict(plan_seconds=plan.timing.get("total", 0.0))
        self._plan_ref = (client.scatter(plan, broadcast=True) if client is not None
                          else dask.delayed(plan, pure=True))
        self._blocks = {}
        for a in range(self.nblocks):
            for b in range(self.nblocks):
                r0, r1, c0, c1 = self._bounds(a, b)
                self._blocks[a, b] = dask.delayed(_block, pure=True)(
                    self._plan_ref, r0, r1, c0, c1, tangent,
                    dask_key_name=f"hd-block-{a}-{b}-{id(self)}")
        names = _NAMES if tangent else _NAMES[:2]
        for name in names:
            setattr(self, name, da.block([[da.from_delayed(
                dask.delayed(_part, pure=True)(self._blocks[a, b], name),
                shape=self._shape(a, b), dtype=np.float64)
                for b in range(self.nblocks)] for a in range(self.nblocks)]))
        if not tangent:
            self.Kdot = self.Theta = None

    @property
    def n(self):
        return int(self.edges[-1])

    @property
    def nblocks(self):
        return self.edges.size - 1

    def _bounds(self, a, b):
        e = self.edges
        return int(e[a]), int(e[a + 1]), int(e[b]), int(e[b + 1])

    def _shape(self, a, b):
        r0, r1, c0, c1 = self._bounds(a, b)
        return (r1 - r0, c1 - c0)

    def __repr__(self):
        return (f"DistributedGram(n={self.n}, blocks={self.nblocks}x{self.nblocks}, "
                f"activation={self.plan.act.name!r}, sigma_w2={self.plan.w2!r}, "
                f"tangent={self.tangent})")

    # -- in memory -------------------------------------------------------------
    def compute(self, *, progress=True, raise_on_failure=True):
        """Every block, assembled: the :class:`~hermite_dual.EquilibriumKernel` of
        :func:`~hermite_dual.population_gram` (the same bits, the same error bound)."""
        dask, _ = _dask()
        t0 = time.perf_counter()
        keys = list(self._blocks)
        bar = _bar(len(keys), progress, "Gram blocks")
        try:
            outs = _run(dask, [self._blocks[k] for k in keys], self.client, bar)
        finally:
            if bar is not None:
                bar.close()
        got = dict(zip(keys, outs))
        nb = self.nblocks
        arrays = {name: np.block([[got[a, b][name] for b in range(nb)] for a in range(nb)])
                  for name in (_NAMES if self.tangent else _NAMES[:2])}
        idx = np.arange(self.n, dtype=np.int64)
        res = finish_gram(self.plan, arrays["K"], arrays["Sigma"], idx, idx,
                          [o["stats"] for o in outs], raise_on_failure)
        if self.tangent:
            res._cache["Kdot"], res._cache["Theta"] = arrays["Kdot"], arrays["Theta"]
            res._cache["Kdot_error"] = self.plan.tangent_error([o["tstats"] for o in outs])
        self.timing["blocks"] = time.perf_counter() - t0
        res.timing["blocks"] = self.timing["blocks"]
        return res

    # -- out of core -----------------------------------------------------------
    def store(self, path, *, overwrite=False, progress=True, what=None):
        """Write the matrices block by block to ``path``; returns the run's summary.

        Parameters
        ----------
        path : str or os.PathLike
            A zarr group if it ends in ``.zarr``, else a directory of ``.npy`` files
            (memory maps: ``numpy.load(..., mmap_mode="r")`` reads them back).
        overwrite : bool
            Replace an existing store (otherwise an existing path is refused).
        progress : bool
            A progress bar per block, with an ETA.
        what : sequence of str, optional
            Which of ``K``, ``Sigma``, ``Kdot``, ``Theta`` to write (default ``K`` and
            ``Sigma``, plus the tangent pair when computed).

        Returns
        -------
        dict
            The summary written to the store's completion record: ``n``, ``blocks``,
            ``arrays``, ``error_bound``, ``converged``, ``residual``, ``iterations``,
            ``contraction``, ``beta`` (largest off-diagonal correlation), ``kappa`` and
            ``Kdot_error`` (tangent), ``seconds``.

        Notes
        -----
        Workers write their own blocks (the client holds only statistics); the zarr
        chunks are the blocks, so no two tasks write one chunk.  The completion record
        (``COMPLETE.json``, and ``attrs["complete"]`` for zarr) is written last, after
        every block: an interrupted run leaves a store that :func:`open_store` refuses.
        """
        dask, _ = _dask()
        names = tuple(what) if what is not None else (_NAMES if self.tangent else _NAMES[:2])
        bad = [w for w in names if w not in _NAMES or (w in _NAMES[2:] and not self.tangent)]
        if bad or not names:
            raise ValueError(f"what must name some of {_NAMES[:4] if self.tangent else _NAMES[:2]}"
                             f", got {what!r}")
        path = os.fspath(path)
        kind = "zarr" if path.rstrip("/").endswith(".zarr") else "npy"
        target = (kind, path)
        parent = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(parent):
            raise ValueError(f"the parent directory of {path!r} does not exist")
        if os.path.exists(path):
            if not overwrite:
                raise ValueError(f"{path!r} exists; pass overwrite=True to replace it")
            shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)
        t0 = time.perf_counter()
        n = self.n
        block = int(self.edges[1] - self.edges[0]) if self.nblocks else n
        if kind == "zarr":
            import zarr
            g = zarr.open_group(path, mode="w")
            g.attrs["complete"] = False
            for name in names:
                g.create_array(name, shape=(n, n), chunks=(block, block), dtype="f8",
                               fill_value=np.nan)
        else:
            os.makedirs(path)
            for name in names:
                np.lib.format.open_memmap(os.path.join(path, f"{name}.npy"), mode="w+",
                                          dtype=np.float64, shape=(n, n))
        tasks = []
        for (a, b) in self._blocks:
            r0, r1, c0, c1 = self._bounds(a, b)
            tasks.append(dask.delayed(_write_block, pure=False)(
                self._plan_ref, r0, r1, c0, c1, self.tangent, target, names,
                dask_key_name=f"hd-store-{a}-{b}-{id(self)}-{time.time_ns()}"))
        bar = _bar(len(tasks), progress, "Gram blocks -> " + os.path.basename(path))
        try:
            outs = _run(dask, tasks, self.client, bar)
        finally:
            if bar is not None:
                bar.close()
        stats = [o["stats"] for o in outs]
        err = self.plan.errors(stats)
        summary = {
            "n": n, "blocks": [self.nblocks, self.nblocks], "block_size": block,
            "arrays": list(names), "format": kind,
            "activation": self.plan.act.name, "sigma_w2": self.plan.w2,
            "error_bound": err["error_bound"], "converged": err["converged"],
            "residual": err["residual"], "iterations": err["iterations"],
            "contraction": err["contraction"],
            "beta": max((s["beta"] for s in stats), default=0.0),
            "refined": int(sum(s["refined"] for s in stats)),
            "kappa": [float(self.plan.kappa[0]), float(np.nanmax(self.plan.kappa))],
        }
        if self.tangent:
            summary["Kdot_error"] = self.plan.tangent_error([o["tstats"] for o in outs])
        summary["seconds"] = time.perf_counter() - t0
        self.timing["store"] = summary["seconds"]
        with open(os.path.join(path, _MARKER), "w") as fh:      # last: the run is complete
            json.dump(summary, fh, indent=1)
        if kind == "zarr":
            import zarr
            zarr.open_group(path, mode="r+").attrs["complete"] = True
        return summary


def gram(X, act, sigma_w2=0.08, *, chunks=4096, tangent=False, client=None, tol=1e-12,
         max_iter=500, method="auto", degree=None, allow_parallel=False):
    """The population Gram matrix of :func:`hermite_dual.population_gram`, as Dask blocks.

    Parameters
    ----------
    X, act, sigma_w2, tol, max_iter, method, degree, allow_parallel
        As :func:`hermite_dual.population_gram`.
    chunks : int
        Block size (rows and columns); it need not divide n.
    tangent : bool
        Compute Kdot and Theta with K (one task per block for all four).
    client : distributed.Client, optional
        Run on this ``dask.distributed`` client (the plan is scattered to every worker
        once); default: Dask's current scheduler (threads).

    Returns
    -------
    DistributedGram

    Raises
    ------
    ValueError
        As :func:`~hermite_dual.population_gram`, and for a bad ``chunks``.  A parallel
        pair of rows is reported by the block that holds it, when it runs.
    ImportError
        Without Dask (``pip install "hermite_dual[dask]"``).
    """
    _dask()
    t0 = time.perf_counter()
    X = validate.data_matrix(X)
    n = X.shape[0]
    edges = _edges(n, chunks)
    plan = plan_gram(X, act, sigma_w2, tol=tol, max_iter=max_iter, method=method,
                     degree=degree, allow_parallel=allow_parallel)
    if tangent:
        plan._tangent_tables()     # once, here, not once per worker
    plan.timing["total"] = time.perf_counter() - t0
    return DistributedGram(plan, edges, bool(tangent), client)


def open_store(path):
    """The arrays of a complete store written by :meth:`DistributedGram.store`.

    Returns ``(arrays, summary)``: a dict of zarr arrays or read-only ``.npy`` memory
    maps, and the completion record.  Raises ``ValueError`` for a store whose run did
    not finish (no completion record), and ``FileNotFoundError`` for a missing path.
    """
    path = os.fspath(path)
    if not os.path.isdir(path):
        raise FileNotFoundError(f"no store at {path!r}")
    marker = pathlib.Path(path, _MARKER)
    if not marker.is_file():
        raise ValueError(f"{path!r} is incomplete: its run did not finish (no {_MARKER}); "
                         "compute it again")
    summary = json.loads(marker.read_text())
    kind = "zarr" if path.rstrip("/").endswith(".zarr") else "npy"
    return _open_arrays((kind, path), summary["arrays"], mode="r"), summary


# ---------------------------------------------------------------------------
# the certified least eigenvalue from Dask linear algebra
# ---------------------------------------------------------------------------

def least_eigenvalue(K, *, entry_error=0.0, chunks=None, tol=1e-6):
    """Certified interval for ``lambda_min`` of a (large) symmetric matrix, on Dask.

    The method of :func:`hermite_dual.least_eigenvalue`, with Dask's blocked linear
    algebra: the estimate by Lanczos on ``K^{-1}`` through a blocked Cholesky factor
    (``dask.array.linalg.cholesky``, then two blocked triangular solves per step), the
    upper bound from a Rayleigh quotient whose products ``K v`` and ``|K| |v|`` are
    blocked matrix-vector products, and the lower bound from a blocked Cholesky of
    ``K - sigma I`` that runs to completion (Rump 2006; the backward error bound of
    Higham's Thm 10.3 holds for every order of the inner products, so for the blocked
    algorithm too), widened by ``n * entry_error``.

    Parameters
    ----------
    K : dask.array.Array or array_like or zarr array
        Symmetric matrix (e.g. :attr:`DistributedGram.K`, or ``open_store(...)[0]["K"]``).
    entry_error : float
        Bound on the entrywise error of ``K`` (e.g. the store's ``error_bound``).
    chunks : int, optional
        Square block size for the factorisations (default: K's row chunks).
    tol : float
        Lanczos tolerance for the eigenvector (the Rayleigh quotient is accurate to its
        square).

    Returns
    -------
    hermite_dual.EigenBound
    """
    dask, da = _dask()
    from scipy.sparse.linalg import LinearOperator, eigsh

    from .eigen import certify, cholesky_bound, rayleigh_bound
    err = validate.nonnegative(entry_error, "entry_error")
    if not isinstance(K, da.Array):
        K = da.from_array(K, chunks=chunks or 4096)
    if K.ndim != 2 or K.shape[0] != K.shape[1]:
        raise ValueError(f"K must be a square matrix, got shape {K.shape!r}")
    n = K.shape[0]
    size = int(chunks or K.chunks[0][0])
    diag = np.asarray(da.diag(K).compute(), dtype=np.float64)
    if not np.all(np.isfinite(diag)):
        raise ValueError("K has a non-finite diagonal entry")
    # Dask's Cholesky needs equal square chunks: pad K to a multiple of the block size
    # with c I, c = max K_ii >= lambda_min(K).  lambda_min of the padded matrix is then
    # lambda_min(K), and by Cauchy interlacing any lower bound of it bounds K's.
    npad = (-n) % size
    c_pad = float(diag.max())
    Kp = K
    if npad:
        Kp = da.block([[K, da.zeros((n, npad), chunks=size)],
                       [da.zeros((npad, n), chunks=size),
                        c_pad * da.eye(npad, chunks=size, dtype=np.float64)]])
    N = n + npad
    Kp = Kp.rechunk((size, size))
    diag_p = np.r_[diag, np.full(npad, c_pad)]
    eye = da.eye(N, chunks=size, dtype=np.float64)
    v0 = np.r_[np.full(n, 1.0 / math.sqrt(n)), np.zeros(npad)]
    try:
        L = da.linalg.cholesky(Kp, lower=True).persist()

        def solve(v):
            y = da.linalg.solve_triangular(L, da.from_array(v, chunks=size), lower=True)
            return da.linalg.solve_triangular(L.T, y, lower=False).compute()

        op = LinearOperator((N, N), matvec=solve, dtype=np.float64)
        _, V = eigsh(op, k=1, which="LM", tol=tol, ncv=min(N - 1, 40), v0=v0)
        how = "Lanczos on K^-1 (Dask blocked Cholesky)"
        del L
    except np.linalg.LinAlgError:
        op = LinearOperator((N, N), matvec=lambda v: (Kp @ da.from_array(v, chunks=size))
                            .compute(), dtype=np.float64)
        _, V = eigsh(op, k=1, which="SA", tol=1e-10, v0=v0)
        how = "Lanczos on K (Dask matvecs; not numerically positive definite)"
    v = V[:n, 0]                  # the padding's coordinates: ~0 (they are K's)
    Kr = K.rechunk((size, size))
    vd = da.from_array(v, chunks=size)
    absv = np.abs(v)
    Kv, absKv = dask.compute(Kr @ vd, abs(Kr) @ da.from_array(absv, chunks=size))
    estimate, upper = rayleigh_bound(float(v @ Kv), float(v @ v), float(absv @ absKv), n)

    def try_shift(sigma):
        shifted = diag_p - sigma
        if np.any(shifted <= 0):
            return None
        try:
            R = da.linalg.cholesky(Kp - sigma * eye, lower=True)
            d = np.asarray(da.diag(R).compute())
        except np.linalg.LinAlgError:
            return None
        if not np.all(np.isfinite(d) & (d > 0)):
            return None
        return cholesky_bound(sigma, shifted)

    return certify(estimate, upper, diag, err, try_shift, how)


def leading_block_upper(K, m=8192, *, entry_error=0.0):
    """A proved upper bound on ``lambda_min(K)`` from its leading ``m x m`` block.

    By Cauchy interlacing ``lambda_min(K) <= lambda_min(K[:m, :m])``, and the upper end
    of :func:`hermite_dual.least_eigenvalue` on that block (a Rayleigh quotient with its
    rounding error, widened by ``m * entry_error``) bounds the latter.  Reads only the
    block (from a zarr store, a memory map or a ``dask.array``): the upper end of
    ``lambda_*`` at any n, at the cost of one m x m problem, where the full Cholesky
    interval does not fit in memory.

    Returns ``(upper, m)``.
    """
    from .eigen import least_eigenvalue as _lev
    m = min(validate.positive_integer(m, "m"), K.shape[0])
    block = K[:m, :m]
    block = np.asarray(block.compute() if hasattr(block, "compute") else block[...],
                       dtype=np.float64)
    return _lev(block, entry_error=entry_error).upper, m

