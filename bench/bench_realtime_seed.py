"""The seed E/I network in real time: how many 1 ms ticks start late, and by how much.

Runs ``examples/seed_ei_network.py``'s network (the seed script, unchanged but for the import
line) for ``--seconds`` of biological time with ``setup(realtime=True)``, then prints the run
report's tick statistics: late ticks (a tick is late when it starts more than 10 % of a period
after its deadline), lateness p50/p99/max and overruns. As a peer measured in the same run, the
same tick work is paced by a naive ``asyncio.sleep`` loop (what an asyncio program gets without
a dedicated tick thread), and the ratio of late fractions is printed.

    .venv/bin/python bench/bench_realtime_seed.py [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import re
import time
from pathlib import Path

import numpy as np

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "seed_ei_network.py"


def seed_script(seconds: float) -> str:
    """The example's network part (no plotting), with the run length and the clock changed."""
    text = EXAMPLE.read_text()
    body = text[:text.index("# Extract results data")]
    body = body.replace("sim.setup(timestep=1)", "sim.setup(timestep=1, realtime=True)")
    return re.sub(r"sim\.run\(simtime=\d+\)", f"sim.run(simtime={seconds * 1000:g})", body)


def run_spinnlive(seconds: float):  # noqa: ANN201 - a RunReport
    namespace: dict[str, object] = {}
    exec(compile(seed_script(seconds), str(EXAMPLE), "exec"), namespace)  # noqa: S102
    sim = namespace["sim"]
    report = sim.simulator.state.engine.report()  # type: ignore[attr-defined]
    sim.end()  # type: ignore[attr-defined]
    return report


async def naive_loop(ticks: int, work_s: float) -> np.ndarray:
    """Tick k due at t0 + k ms, paced by asyncio.sleep; returns each tick's lateness (s)."""
    lateness = np.empty(ticks)
    t0 = time.perf_counter()
    for k in range(ticks):
        delay = t0 + k * 1e-3 - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        lateness[k] = time.perf_counter() - (t0 + k * 1e-3)
        end = time.perf_counter() + work_s
        while time.perf_counter() < end:  # the same per-tick cost as the engine's step
            pass
    return lateness


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    os.environ.pop("SPINNLIVE_CLOCK", None)
    report = run_spinnlive(args.seconds)
    stats = report.timing
    step_s = report.last_step.step_p50_s
    print(f"spinnlive, seed network, {stats.ticks} real-time ticks of 1 ms:")
    print(f"  late ticks {stats.late_ticks} ({100 * stats.late_ticks / stats.ticks:.3f} %), "
          f"lateness p50 {stats.lateness_p50_s * 1e6:.1f} us, p99 "
          f"{stats.lateness_p99_s * 1e6:.1f} us, max {stats.lateness_max_s * 1e6:.1f} us, "
          f"overruns {stats.overruns}, step p50 {step_s * 1e6:.1f} us")
    ticks = min(stats.ticks, 5000)
    lateness = asyncio.run(naive_loop(ticks, step_s))
    late = int(np.count_nonzero(lateness > 1e-4))
    print(f"naive asyncio.sleep loop, {ticks} ticks with the same step cost:")
    print(f"  late ticks {late} ({100 * late / ticks:.3f} %), lateness p50 "
          f"{np.percentile(lateness, 50) * 1e6:.1f} us, p99 "
          f"{np.percentile(lateness, 99) * 1e6:.1f} us, max {lateness.max() * 1e6:.1f} us")
    ours = stats.late_ticks / stats.ticks
    print(f"late-tick fraction, naive / spinnlive: {late / ticks / max(ours, 1 / stats.ticks):.0f}x"
          f" (spinnlive target: <= 0.1 %)")


if __name__ == "__main__":
    main()
