"""Fuzz campaign for the activation parser (issue 12): 10^4 hostile strings.

Strings come from :func:`hermite_dual.hostile.hostile_string` (seeded).  They are parsed
by worker subprocesses (``--workers``, default 2), each under a memory cap
(``RLIMIT_AS``, ``--mem-mb``, default 1500) and each string under a wall-clock cap
(``--timeout``, default 10 s) enforced by the parent, which kills the worker and starts a
new one on a timeout or a crash.  (A fresh interpreter per string would spend ~1 s of
sympy import on each of 10^4 strings; a worker per batch, killed on any misbehaviour,
isolates each string as well.)  Every execution payload targets a sentinel path; the run
checks that it never appears.

Printed: counts by outcome (ok, ValueError, other exception types, timeout, crash), the
number of strings over 2 s, the slowest strings, each worker's peak RSS, and whether the
sentinel was ever created.  Targets: 0 executed, 0 non-ValueError exceptions, 0 strings
over 2 s, peak memory under 500 MB.

Run: ``python3 benchmarks/fuzz_parser.py`` (about 30-60 minutes on 2 cores);
``--n 500`` for a quick look.  Measured on this machine; nothing is extrapolated.
"""

import argparse
import collections
import json
import os
import random
import subprocess
import sys
import tempfile
import time

WORKER = r"""
import json, resource, sys, time, traceback
cap = int(sys.argv[1]) * 2**20
resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
import hermite_dual as hd
print(json.dumps({"ready": True}), flush=True)
for line in sys.stdin:
    s = json.loads(line)
    t = time.perf_counter()
    try:
        hd.activation(s)
        kind, msg = "ok", ""
    except ValueError as e:
        kind, msg = "ValueError", str(e)[:160]
    except BaseException as e:
        kind, msg = type(e).__name__, str(e)[:160]
    dt = time.perf_counter() - t
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps({"kind": kind, "seconds": dt, "rss_mb": rss, "msg": msg}), flush=True)
"""


class Worker:
    def __init__(self, mem_mb):
        self.p = subprocess.Popen([sys.executable, "-c", WORKER, str(mem_mb)],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                  bufsize=1)
        json.loads(self.p.stdout.readline())
        self.peak = 0.0

    def run(self, s, timeout):
        import select
        self.p.stdin.write(json.dumps(s) + "\n")
        self.p.stdin.flush()
        ready, _, _ = select.select([self.p.stdout], [], [], timeout)
        if not ready:
            self.p.kill()
            self.p.wait()
            return {"kind": "timeout", "seconds": timeout, "rss_mb": 0.0, "msg": ""}
        line = self.p.stdout.readline()
        if not line:
            self.p.wait()
            return {"kind": f"crash (exit {self.p.returncode})", "seconds": 0.0,
                    "rss_mb": 0.0, "msg": ""}
        out = json.loads(line)
        self.peak = max(self.peak, out["rss_mb"])
        return out

    def alive(self):
        return self.p.poll() is None

    def close(self):
        if self.alive():
            self.p.stdin.close()
            self.p.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=10.0)
    ap.add_argument("--mem-mb", type=int, default=1500)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--slow-out", default=None,
                    help="write every string over 2 s (seconds, outcome, string) as JSON lines")
    args = ap.parse_args()
    from hermite_dual.hostile import hostile_string
    sentinel = os.path.join(tempfile.mkdtemp(), "EXECUTED")
    rng = random.Random(args.seed)
    strings = [hostile_string(rng, sentinel=sentinel) for _ in range(args.n)]
    counts, slow, peaks, msgs = collections.Counter(), [], [], {}
    import concurrent.futures as cf

    def shard(items):
        w = Worker(args.mem_mb)
        local = []
        for s in items:
            if not w.alive():
                peaks.append(w.peak)
                w = Worker(args.mem_mb)
            local.append((s, w.run(s, args.timeout)))
        peaks.append(w.peak)
        w.close()
        return local

    t0 = time.perf_counter()
    shards = [strings[i::args.workers] for i in range(args.workers)]
    with cf.ThreadPoolExecutor(args.workers) as ex:
        results = [r for part in ex.map(shard, shards) for r in part]
    for s, out in results:
        counts[out["kind"]] += 1
        slow.append((out["seconds"], s, out["kind"]))
        if out["kind"] not in ("ok", "ValueError"):
            msgs.setdefault(out["kind"], (s, out["msg"]))
    slow.sort(reverse=True)
    executed = os.path.exists(sentinel)
    print(f"{args.n} strings, seed {args.seed}, {args.workers} workers, "
          f"{time.perf_counter() - t0:.0f} s (measured on this machine)")
    for kind, c in counts.most_common():
        print(f"  {kind:24s} {c:6d}")
    print(f"  over 2 s: {sum(1 for t, _, _ in slow if t > 2.0)}")
    print(f"  executed (sentinel created): {executed}")
    print(f"  peak RSS of a worker: {max(peaks):.0f} MB")
    print("  slowest:")
    for t, s, kind in slow[:5]:
        print(f"    {t:6.2f} s  {kind:12s} {s[:90]!r}")
    for kind, (s, m) in msgs.items():
        print(f"  first {kind}: {s[:80]!r}: {m}")
    if args.slow_out:
        with open(args.slow_out, "w", encoding="utf-8") as fh:
            for t, s, kind in slow:
                if t > 2.0:
                    fh.write(json.dumps({"seconds": t, "kind": kind, "string": s}) + "\n")


if __name__ == "__main__":
    main()
