"""Time every command-line example the docs print (issue 15: each within 30 s).

Collects the inline ``hermite-dual ...`` commands of ``docs/*.md``, ``docs/howto/*.md``
and ``README.md``, runs each once in a fresh temporary folder (a subprocess, so each pays
its own imports and its numba cache loads, as a user's first command does) and prints a
table of seconds and exit codes, then the commands over the target.

Run: ``python3 benchmarks/docs_examples.py`` (about 2 minutes on 2 cores), ``--only
train`` for a subset.  Seconds are wall-clock on this machine, measured in this run; the
machine is shared, so the script also times ``hermite-dual --version`` as a baseline and
prints each command's ratio to it.
"""

import argparse
import pathlib
import re
import shlex
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
TARGET = 30.0
# Examples that are about scale or a long search on purpose; the docs say how long each
# takes (docs/howto/scale.md: minutes at n = 60,000; audit: its --budget in seconds).
SKIP = ("--synthetic 60000", "--scheduler", "audit")


def doc_commands():
    pages = sorted((ROOT / "docs").glob("*.md")) + sorted((ROOT / "docs" / "howto").glob("*.md"))
    pages.append(ROOT / "README.md")
    seen = []
    for page in pages:
        for cmd in re.findall(r"`(hermite-dual [^`]+)`", page.read_text(encoding="utf-8")):
            if "|" in cmd or "COMMAND" in cmd or cmd.strip().endswith("--help"):
                continue              # a synopsis, not a runnable example
            if any(s in cmd for s in SKIP) or cmd in (c for _, c in seen):
                continue
            seen.append((page.relative_to(ROOT).as_posix(), cmd))
    return seen


def timed(argv, cwd):
    exe = pathlib.Path(sys.executable).with_name("hermite-dual")
    t0 = time.perf_counter()
    p = subprocess.run([str(exe), *argv[1:]], cwd=cwd, capture_output=True, text=True)
    return time.perf_counter() - t0, p.returncode


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", default="", help="run only commands containing this text")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base, _ = timed(["hermite-dual", "--version"], tmp)
        print(f"baseline `hermite-dual --version`: {base:.2f} s (measured here, this run)")
        print(f"{'seconds':>8} {'x base':>7} {'exit':>4}  page / command")
        slow = []
        for page, cmd in doc_commands():
            if args.only not in cmd:
                continue
            with tempfile.TemporaryDirectory() as work:
                sec, rc = timed(shlex.split(cmd), work)
            print(f"{sec:8.1f} {sec / base:7.1f} {rc:4d}  {page}: {cmd}", flush=True)
            if sec > TARGET or rc != 0:
                slow.append((sec, rc, cmd))
        print(f"over {TARGET:.0f} s or failed: {len(slow)}")
        for sec, rc, cmd in slow:
            print(f"  {sec:.1f} s, exit {rc}: {cmd}")


if __name__ == "__main__":
    main()
