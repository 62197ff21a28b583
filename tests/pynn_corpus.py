"""A corpus of public PyNN scripts run unchanged on spinnlive, with pyNN.nest as the oracle.

The corpus is every example of the installed PyNN release's sdist (``examples/``, fetched and
pinned by :mod:`pynn_upstream`) plus this project's seed script, or any folder given with
``--dir``. Each script runs in its own child process and folder, as ``python SCRIPT spinnlive``
(the examples' own way of naming a backend; ``pyNN.spinnlive`` is registered by
:func:`spinnlive.pynn.spinnaker_compat.register`, ``pyNN.spiNNaker`` by ``install``), once on
spinnlive and once on NEST, each bounded by ``--timeout`` seconds. Scripts run as published: no
shortened durations.

Outcome per script (:func:`classify`):

* ``pass``: exit 0 on spinnlive, and where NEST ran too, the spikes each written data file
  (and each neo Block the script keeps in a global) holds agree with NEST's (per file and segment: equal, or within 25 % and 10 spikes, the
  spread of runs whose Poisson streams differ);
* ``wrong``: exit 0 but the spike counts disagree with NEST's;
* ``refused``: stopped by a :class:`~spinnlive.errors.SpinnliveError` (a clear refusal naming
  the feature);
* ``crash``: any other exception, or the timeout;
* ``n/a``: NEST fails the same way, for want of a package this environment lacks (mpi4py,
  NineML, NEURON) or with the same exception (a bug of the script or of PyNN itself).

    .venv/bin/python tests/pynn_corpus.py [--dir DIR] [--jobs 2] [--timeout 240] [--markdown]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEED_SCRIPT = HERE / "data" / "programming_spinnaker_seed.py"

#: the child: register the backends, run the script as __main__, report an exception as JSON
DRIVER = textwrap.dedent("""
    import json, runpy, sys, traceback
    import matplotlib
    matplotlib.use("Agg")
    from spinnlive.pynn.spinnaker_compat import install, register
    register("spinnlive")
    script, argv = sys.argv[1], sys.argv[2:]
    if argv[0] == "nest":  # the oracle runs a pyNN.spiNNaker script on pyNN.nest
        import pyNN, pyNN.nest
        sys.modules["pyNN.spiNNaker"] = pyNN.nest
        pyNN.spiNNaker = pyNN.nest
    else:
        install()
    sys.argv = [script, *argv]
    sys.path.insert(0, __import__("os").path.dirname(script))
    def count_blocks(space):
        import neo
        out = {}
        for name, value in sorted(space.items()):
            if isinstance(value, neo.Block):
                out["global:" + name] = [sum(len(st) for st in seg.spiketrains)
                                         for seg in value.segments]
        with open("corpus-globals.json", "w") as f:
            json.dump(out, f)
    try:
        count_blocks(runpy.run_path(script, run_name="__main__"))
    except SystemExit as stop:
        if stop.code not in (None, 0):
            print("CORPUS-ERROR " + json.dumps({"type": "SystemExit", "module": "builtins",
                  "message": str(stop.code), "spinnlive_error": False}))
            raise
    except BaseException as err:
        from spinnlive.errors import SpinnliveError
        print("CORPUS-ERROR " + json.dumps({
            "type": type(err).__name__, "module": type(err).__module__,
            "message": str(err)[:300], "spinnlive_error": isinstance(err, SpinnliveError),
            "where": traceback.format_exc().strip().splitlines()[-3:]}))
        sys.exit(1)
""")

#: counting spikes in the data files a run wrote (neo's pickle format, PyNN's default)
COUNTER = textwrap.dedent("""
    import json, re, sys, pathlib, neo
    out = {}
    for path in sorted(pathlib.Path(sys.argv[1]).rglob("*.pkl")):
        try:
            block = neo.io.PickleIO(str(path)).read_block()
        except Exception:
            continue
        # PyNN's normalized_filename() stamps names with the simulator and the time
        key = re.sub(r"_?\\d{8}-\\d{6}", "", path.name.replace(sys.argv[2], "SIM"))
        out[key] = [sum(len(st) for st in seg.spiketrains) for seg in block.segments]
    print(json.dumps(out))
""")

#: arguments a script needs after the simulator's name (the published command line)
SCRIPT_ARGS: dict[str, tuple[str, ...]] = {"VAbenchmarks.py": ("CUBA",)}

#: packages some examples need that the test environment does not install
OPTIONAL_PACKAGES = ("mpi4py", "nineml", "neuron", "pyNN.neuron", "pyNN.nineml", "arbor",
                     "brian2", "pyNN.brian2", "pyNN.arbor", "mpl_toolkits.axes_grid")


@dataclass
class Run:
    """One script on one simulator."""

    returncode: int
    seconds: float
    error: dict[str, object] | None = None
    spikes: dict[str, list[int]] = field(default_factory=dict)
    timed_out: bool = False
    tail: str = ""


@dataclass
class Result:
    script: str
    outcome: str
    detail: str
    ours: Run
    nest: Run | None


def scripts(folder: Path | None) -> list[Path]:
    """The corpus: ``folder``'s ``*.py``, or PyNN's examples and the seed script."""
    if folder is not None:
        return sorted(folder.glob("*.py"))
    from pynn_upstream import pynn_tree

    return [*sorted((pynn_tree() / "examples").glob("*.py")), SEED_SCRIPT]


def run(script: Path, simulator: str, timeout: float) -> Run:
    """``python SCRIPT SIMULATOR`` in a fresh folder (with a Results/ folder, as PyNN's
    examples expect), bounded by ``timeout``."""
    work = Path(tempfile.mkdtemp(prefix="corpus-"))
    try:
        (work / "Results").mkdir()
        (work / "driver.py").write_text(DRIVER)
        env = {**os.environ, "MPLBACKEND": "Agg", "HOME": str(work),
               "SPINNLIVE_CLOCK": "fast", "PYTHONPATH": os.pathsep.join(
                   [str(HERE), os.environ.get("PYTHONPATH", "")])}
        started = time.monotonic()
        try:
            done = subprocess.run([sys.executable, "driver.py", str(script), simulator,
                                   *SCRIPT_ARGS.get(script.name, ())],
                                  cwd=work, env=env, capture_output=True, text=True,
                                  timeout=timeout)
        except subprocess.TimeoutExpired:
            return Run(-1, timeout, timed_out=True)
        seconds = time.monotonic() - started
        error = None
        for line in done.stdout.splitlines():
            if line.startswith("CORPUS-ERROR "):
                error = json.loads(line[len("CORPUS-ERROR "):])
        spikes: dict[str, list[int]] = {}
        if done.returncode == 0:
            counted = subprocess.run([sys.executable, "-c", COUNTER, str(work), simulator],
                                     capture_output=True, text=True, timeout=120)
            if counted.returncode == 0 and counted.stdout.strip():
                spikes = json.loads(counted.stdout.strip().splitlines()[-1])
            if (work / "corpus-globals.json").exists():
                spikes.update(json.loads((work / "corpus-globals.json").read_text()))
        return Run(done.returncode, seconds, error, spikes,
                   tail=(done.stderr or done.stdout)[-600:])
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _missing_package(run: Run) -> str | None:
    err = run.error or {}
    if err.get("type") in ("ImportError", "ModuleNotFoundError"):
        message = str(err.get("message", ""))
        for name in OPTIONAL_PACKAGES:
            if f"'{name}'" in message or f"named {name}" in message:
                return name
    return None


def agree(ours: dict[str, list[int]], nest: dict[str, list[int]]) -> tuple[bool, str]:
    """Spike counts per data file and segment: equal, or within the run-to-run spread."""
    if set(ours) != set(nest):
        return False, f"data files differ: {sorted(ours)} vs NEST {sorted(nest)}"
    worst = ""
    for name in sorted(ours):
        a, b = ours[name], nest[name]
        if len(a) != len(b):
            return False, f"{name}: {len(a)} segments vs NEST {len(b)}"
        for x, y in zip(a, b):
            if abs(x - y) > max(10, 0.25 * max(x, y)):
                return False, f"{name}: {x} spikes vs NEST {y}"
            worst = worst or (f"{name}: {x} vs NEST {y} spikes" if x != y else "")
    total = sum(map(sum, ours.values()))
    return True, worst or (f"spike counts equal to NEST's ({total})" if ours else
                           "no data file to compare")


def classify(ours: Run, nest: Run | None) -> tuple[str, str]:
    """The outcome and a one-line reason (see the module docstring)."""
    if ours.timed_out:
        return "crash", "timed out"
    if ours.returncode != 0:
        err = ours.error or {}
        missing = _missing_package(ours)
        if missing and nest is not None and _missing_package(nest) == missing:
            return "n/a", f"needs {missing} (NEST run fails the same way)"
        if err.get("spinnlive_error"):
            return "refused", f"{err.get('type')}: {err.get('message')}"
        theirs = (nest.error or {}) if nest is not None else {}
        if theirs and (theirs.get("type"), theirs.get("message")) == (err.get("type"),
                                                                     err.get("message")):
            return "n/a", f"fails on NEST the same way: {err.get('type')}: {err.get('message')}"
        return "crash", f"{err.get('type', 'exit')}: {err.get('message', ours.tail[-200:])}"
    if nest is None or nest.returncode != 0:
        return "pass", "runs (NEST did not run it: no oracle)"
    ok, detail = agree(ours.spikes, nest.spikes)
    return ("pass" if ok else "wrong"), detail


def run_corpus(paths: list[Path], timeout: float, jobs: int) -> list[Result]:
    def one(path: Path) -> Result:
        ours = run(path, "spinnlive", timeout)
        nest = run(path, "nest", timeout)
        outcome, detail = classify(ours, nest)
        print(f"{path.name}: {outcome} ({ours.seconds:.0f} s, NEST {nest.seconds:.0f} s) "
              f"{detail[:120]}", file=sys.stderr, flush=True)
        return Result(path.name, outcome, detail, ours, nest)

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(one, paths))


def table(results: list[Result]) -> str:
    lines = ["| script | outcome | spinnlive s | NEST s | detail |", "|---|---|---|---|---|"]
    for r in results:
        nest_s = "" if r.nest is None else f"{r.nest.seconds:.1f}"
        detail = r.detail.replace("|", "/").replace("\n", " ")[:140]
        lines.append(f"| {r.script} | {r.outcome} | {r.ours.seconds:.1f} | {nest_s} | {detail} |")
    return "\n".join(lines)


def summary(results: list[Result]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in results:
        counts[r.outcome] = counts.get(r.outcome, 0) + 1
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", type=Path, default=None, help="run this folder's *.py instead")
    parser.add_argument("--timeout", type=float, default=240.0, help="seconds per script run")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--only", nargs="*", default=None, help="these script names only")
    args = parser.parse_args()
    paths = [p for p in scripts(args.dir) if args.only is None or p.name in args.only]
    results = run_corpus(paths, args.timeout, args.jobs)
    print(table(results))
    counts = summary(results)
    runnable = len(results) - counts.get("n/a", 0)
    good = counts.get("pass", 0) + counts.get("refused", 0)
    print(f"\n{counts}; run or refuse clearly: {good}/{runnable}")


if __name__ == "__main__":
    main()
