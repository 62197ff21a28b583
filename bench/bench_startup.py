"""Benchmark: the seed network as a user runs it, whole process, against pyNN.nest and the floor.

What a user times is the whole process: importing, building, running 5 s of biological time,
reading the spikes. Both backends pay a shared *floor*: Python importing numpy, scipy, neo and
PyNN's front end (what ``spinnlive.pynn`` and ``pyNN.nest`` both import before doing anything).
This script runs, in turn, ``--runs`` times each (floor, spinnlive, NEST: A B C A B C ... so a
drifting machine load hits all three alike):

* the floor: ``python -c "import numpy, scipy, neo, pyNN.common, ..."``;
* ``bench/seed_script.py spinnlive`` and ``bench/seed_script.py nest`` (on-grid spiking, the
  mode whose spike times spinnlive matches), kernel cache warm;

and prints the median wall time of each, the time above the floor, and the ratio of NEST's time
above the floor to spinnlive's (median of the per-round ratios).

``--cold`` then runs spinnlive once with an empty kernel cache (``NUMBA_CACHE_DIR`` set to a new
directory: what a fresh install sees) and prints the time from the process's start to its first
tick, with the compile notice the engine logs. ``--hog`` keeps one CPU busy with a spinning
process throughout (the "loaded" condition; the machine may be loaded anyway: say so).

    .venv/bin/python bench/bench_startup.py [--runs 5] [--cold] [--hog] [--skip-nest]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cpu_hog import cpu_hog

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "seed_script.py"
FLOOR = ("import numpy, scipy, neo, quantities, lazyarray, pyNN.common, pyNN.connectors, "
         "pyNN.random, pyNN.recording, pyNN.space, pyNN.standardmodels, pyNN.network")


def timed(args: list[str], env: dict[str, str] | None = None) -> tuple[float, str]:
    """Wall seconds of one whole process, and what it printed; fails loudly on an error."""
    t0 = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True, env=env, timeout=600)
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return wall, done.stdout + done.stderr


def warm(runs: int, skip_nest: bool) -> None:
    commands = {"floor": [sys.executable, "-c", FLOOR],
                "spinnlive": [sys.executable, str(SCRIPT), "spinnlive"]}
    if not skip_nest:
        commands["NEST on_grid"] = [sys.executable, str(SCRIPT), "nest"]
    for args in commands.values():  # warm-up: file caches, the kernel cache
        timed(args)
    walls: dict[str, list[float]] = {name: [] for name in commands}
    outputs: dict[str, str] = {}
    for _ in range(runs):
        for name, args in commands.items():
            wall, outputs[name] = timed(args)
            walls[name].append(wall)
    floor = walls["floor"]
    print(f"seed network as a script (build, run(5000), get_data, rates), whole process, "
          f"median of {runs} rounds:")
    print(f"  {'':<14} {'wall s':>7} {'above floor s':>14}   min-max wall")
    for name, w in walls.items():
        above = [a - f for a, f in zip(w, floor, strict=True)]
        extra = "" if name == "floor" else f"{statistics.median(above):>14.3f}"
        print(f"  {name:<14} {statistics.median(w):>7.3f} {extra:>14}   "
              f"{min(w):.3f}-{max(w):.3f}")
    if not skip_nest:
        ratios = [(n - f) / (s - f) for n, s, f in
                  zip(walls["NEST on_grid"], walls["spinnlive"], floor, strict=True) if s > f]
        print(f"  NEST / spinnlive above the floor: {statistics.median(ratios):.2f}x "
              f"(per-round {min(ratios):.2f}-{max(ratios):.2f})")
    for line in "".join(outputs.values()).splitlines():
        if line.startswith(("spinnlive:", "nest:")):
            print(f"  {line}")


def cold() -> None:
    with tempfile.TemporaryDirectory(prefix="spinnlive-cold-cache-") as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        start = time.time()
        wall, out = timed([sys.executable, str(SCRIPT), "spinnlive", "--first-tick"], env)
        first = [float(line.split()[-1]) for line in out.splitlines()
                 if line.startswith("first tick at")]
        wall_warm, _ = timed([sys.executable, str(SCRIPT), "spinnlive"], env)
    print("first run after a fresh install (empty kernel cache):")
    for line in out.splitlines():
        if "ompil" in line:
            print(f"  | {line}")
    if first:
        print(f"  time to first tick {first[0] - start:.2f} s; whole process {wall:.2f} s "
              f"(the next run, cache warm: {wall_warm:.2f} s)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--cold", action="store_true", help="also a run with an empty kernel cache")
    ap.add_argument("--hog", action="store_true", help="one CPU-spinning process throughout")
    ap.add_argument("--skip-nest", action="store_true")
    args = ap.parse_args()
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start"
          f"{', plus one CPU hog' if args.hog else ''}")
    with cpu_hog(args.hog):
        warm(args.runs, args.skip_nest)
        if args.cold:
            cold()


if __name__ == "__main__":
    main()
