"""``hermite-dual gram`` on Dask: K by blocks, out of core, lambda_* certified.

The blocked path of the ``gram`` subcommand (:mod:`hermite_dual.cli` dispatches here when
``--workers``, ``--scheduler`` or a store ``--out`` is given): the plan on this process,
the blocks on a local Dask cluster (``--workers N``: N worker processes), on the
scheduler at ``--scheduler ADDRESS``, or on Dask's threads; the matrices stored block by
block (zarr or ``.npy`` memory maps) or assembled in memory; then the certified lambda_*
from Dask's blocked Cholesky when it fits in memory, and the Hermite certificate from the
blocks' largest correlation in any case.  Prints the times per stage and the peak memory
of this process and of the workers.
"""

from __future__ import annotations

import os
import resource
import time

import numpy as np

__all__ = ["run_blocked"]


def _rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0    # Linux: KiB


def _available_bytes():
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def _client(args):
    if args.scheduler is not None:
        from distributed import Client
        return Client(args.scheduler), None
    if args.workers is not None:
        from distributed import Client, LocalCluster
        cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                               dashboard_address=":0", silence_logs=40)
        return Client(cluster), cluster
    return None, None


def run_blocked(args, X, act, *, progress, say):
    """Run ``gram`` through :mod:`hermite_dual.distributed`; returns (summary, text)."""
    import dask
    import dask.array as da

    from . import distributed
    from .cli import CLIError, _table
    from .equilibrium.result import hermite_certificate
    n = X.shape[0]
    if args.out:                     # a store: checked before any work
        parent = os.path.dirname(os.path.abspath(args.out))
        if not os.path.isdir(parent):
            raise CLIError(f"cannot write {args.out!r}: folder {parent!r} does not exist")
        if os.path.exists(args.out) and not args.overwrite:
            raise CLIError(f"{args.out!r} exists; pass --overwrite to replace it")
    stages = {}
    client, cluster = _client(args)
    where = (f"scheduler {args.scheduler}" if args.scheduler else
             f"local cluster of {args.workers} worker processes" if args.workers else
             f"Dask threads ({os.cpu_count()})")
    try:
        ctx = dask.config.set(scheduler="threads") if client is None else _Null()
        with ctx:
            say(f"plan: diagonal fixed points and tables of {n} points ({act.name})")
            t0 = time.perf_counter()
            dg = distributed.gram(X, act, args.sigma_w2, chunks=args.chunk,
                                  tangent=args.tangent, client=client)
            stages["plan"] = time.perf_counter() - t0
            say(f"{dg.nblocks} x {dg.nblocks} blocks of {args.chunk} on {where}")
            t0 = time.perf_counter()
            if args.out:
                meta = dg.store(args.out, overwrite=args.overwrite, progress=progress)
                kind = "zarr" if meta["format"] == "zarr" else "npy"
                K = (da.from_zarr(args.out, component="K") if kind == "zarr" else
                     da.from_array(np.load(os.path.join(args.out, "K.npy"), mmap_mode="r"),
                                   chunks=args.chunk))
            else:
                res = dg.compute(progress=progress)
                meta = {"error_bound": res.error_bound, "converged": res.converged,
                        "residual": res.residual, "iterations": res.iterations,
                        "contraction": res.contraction,
                        "beta": float(_beta(res)), "blocks": [dg.nblocks] * 2}
                K = da.from_array(res.K, chunks=args.chunk)
            stages["blocks"] = time.perf_counter() - t0
            plan = dg.plan
            t0 = time.perf_counter()
            cert = hermite_certificate(act, plan.degree, np.unique(plan.s[plan.pts]), n,
                                       meta["beta"], plan.w2, meta["error_bound"])
            stages["certificate"] = time.perf_counter() - t0
            need = 3 * 8 * n * n
            avail = _available_bytes()
            bound, skipped, upper_block = None, None, None
            if args.lam == "no":
                skipped = "not asked for (--lambda no)"
            elif args.lam == "auto" and need > 0.7 * avail:
                skipped = (f"the blocked Cholesky needs about {need / 2**30:.1f} GiB, more "
                           f"than 70 % of the {avail / 2**30:.1f} GiB available "
                           "(--lambda yes forces it)")
                t0 = time.perf_counter()
                upper_block = distributed.leading_block_upper(
                    K, entry_error=meta["error_bound"])
                stages["upper"] = time.perf_counter() - t0
            else:
                say("certified lambda_*: blocked Cholesky, Lanczos on K^-1, verified shift")
                t0 = time.perf_counter()
                # a matrix held here is factored by this process's threads (shipping
                # it into every task graph would cost more than the factorisation)
                local = (dask.config.set(scheduler="threads") if not args.out
                         else _Null())
                with local:
                    bound = distributed.least_eigenvalue(
                        K, entry_error=meta["error_bound"], chunks=args.chunk)
                stages["lambda"] = time.perf_counter() - t0
        workers_mb = None
        if client is not None:
            try:
                got = client.run(_rss_mb)
                workers_mb = {str(k): float(v) for k, v in got.items()}
            except Exception:  # noqa: BLE001 - a remote cluster may refuse client.run
                workers_mb = None
    finally:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
    summary = {
        "activation": act.name, "n": n, "d": int(X.shape[1]), "sigma_w2": plan.w2,
        "engine": where, "blocks": meta["blocks"], "block_size": args.chunk,
        "out": args.out, "error_bound": meta["error_bound"], "converged": meta["converged"],
        "residual": meta["residual"], "contraction": meta["contraction"],
        "beta": meta["beta"], "certificate": cert,
        "lambda_lower": None if bound is None else bound.lower,
        "lambda_upper": None if bound is None else bound.upper,
        "lambda_min": None if bound is None else bound.estimate,
        "lambda_method": None if bound is None else bound.method,
        "lambda_skipped": skipped,
        "lambda_upper_leading_block": None if upper_block is None else upper_block[0],
        "leading_block": None if upper_block is None else upper_block[1],
        "seconds": stages,
        "peak_rss_mb": {"client": _rss_mb(), "workers": workers_mb},
    }
    return summary, _text(summary, _table)


class _Null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _beta(res):
    S = res.Sigma
    s = np.sqrt(np.diag(S))
    rho = np.abs(S) / np.outer(s, s)
    np.fill_diagonal(rho, 0.0)
    return rho.max() if rho.size else 0.0


def _text(s, table):
    def g(v, digits=10):
        return "n/a" if v is None else f"{v:.{digits}g}"
    if s["lambda_lower"] is not None:
        lam = f"[{g(s['lambda_lower'])}, {g(s['lambda_upper'])}]"
    elif s["lambda_upper_leading_block"] is not None:
        lam = (f"[{g(s['certificate'], 6)} (Hermite certificate), "
               f"{g(s['lambda_upper_leading_block'])} (leading {s['leading_block']} "
               f"block, interlacing)]; blocked Cholesky not run: {s['lambda_skipped']}")
    else:
        lam = f"not computed: {s['lambda_skipped']}"
    cert = g(s["certificate"], 6) + ("  (vacuous: two inputs are nearly parallel)"
                                     if not s["certificate"] > 0 else "")
    workers = s["peak_rss_mb"]["workers"]
    rows = [
        ("activation", s["activation"]),
        ("data", f"n = {s['n']} points, d = {s['d']}"),
        ("sigma_w^2", g(s["sigma_w2"])),
        ("engine", f"{s['engine']}; {s['blocks'][0]} x {s['blocks'][1]} blocks of "
                   f"{s['block_size']}"),
        None,
        ("lambda_* (certified)", lam),
        ("lambda_* estimate", g(s["lambda_min"])),
        ("Hermite certificate", cert),
        ("entry error bound", f"{g(s['error_bound'], 3)} (converged = {s['converged']})"),
        None,
    ]
    rows += [(f"time: {k}", f"{v:.2f} s") for k, v in s["seconds"].items()]
    rows.append(("peak RSS: this process", f"{s['peak_rss_mb']['client']:.0f} MB"))
    if workers:
        rows.append(("peak RSS: workers", ", ".join(f"{v:.0f} MB" for v in workers.values())))
    if s["out"]:
        rows.append(("stored in", s["out"]))
    return "population Gram matrix at the equilibrium point, by blocks\n" + table(rows)
