"""Tick lateness: spinnlive's sleep-then-spin tick thread against a naive asyncio.sleep loop.

Both loops run the same step (numpy work of a configurable cost) on the same absolute
deadlines t0 + k*period, one after the other in this process, and report lateness
(start - deadline). The ratio of the naive loop's lateness to the scheduler's is the figure
of merit; absolute numbers depend on the machine and its load.

    .venv/bin/python bench/bench_ticks.py [--ticks 10000] [--period-ms 1] [--cost-us 50]
                                          [--busy-thread]

``--busy-thread`` runs a pure-Python busy loop in another thread during both measurements, as
an event loop full of Python work would: the tick thread then waits for the GIL (up to
``sys.getswitchinterval()``, 5 ms by default) and lateness shows it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import threading
import time
from collections.abc import Iterator

import numpy as np

from spinnlive.engine.scheduler import TickMode, TickScheduler


def make_step(cost_us: float) -> tuple[np.ndarray, int]:
    """Size a numpy workload so one call takes about ``cost_us`` microseconds."""
    size = 1024
    work = np.random.default_rng(0).random(size)
    for _ in range(12):
        t = time.perf_counter()
        for _ in range(50):
            np.sin(work, out=work)
        per_call = (time.perf_counter() - t) / 50
        size = max(16, int(size * (cost_us * 1e-6) / max(per_call, 1e-9)))
        work = np.random.default_rng(0).random(size)
    return work, size


def summarise(name: str, lateness: np.ndarray, period: float) -> dict[str, float]:
    us = lateness * 1e6
    row = {
        "p50": float(np.percentile(us, 50)),
        "p99": float(np.percentile(us, 99)),
        "max": float(us.max()),
        "late": float(np.mean(lateness > 0.1 * period)),
    }
    print(f"{name:<28} p50 {row['p50']:8.1f} us  p99 {row['p99']:8.1f} us  "
          f"max {row['max']:9.1f} us  late(>10% period) {100 * row['late']:6.2f} %")
    return row


def run_scheduler(n: int, period: float, work: np.ndarray) -> np.ndarray:
    def step(tick: int) -> None:
        np.sin(work, out=work)

    sched = TickScheduler(step, period, TickMode.REALTIME, history=n)
    stats = sched.run(n)
    print(f"  scheduler statistics: late {stats.late_ticks}/{stats.ticks}, overruns "
          f"{stats.overruns}, step p50 {stats.step_p50_s * 1e6:.1f} us p99 "
          f"{stats.step_p99_s * 1e6:.1f} us")
    return sched.lateness_record()


async def run_naive_asyncio(n: int, period: float, work: np.ndarray) -> np.ndarray:
    lateness = np.empty(n)
    t0 = time.perf_counter()
    for k in range(n):
        deadline = t0 + k * period
        delay = deadline - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        lateness[k] = time.perf_counter() - deadline
        np.sin(work, out=work)
    return lateness


@contextlib.contextmanager
def busy_thread(enabled: bool) -> Iterator[None]:
    """A peer thread that keeps the interpreter busy with pure-Python work."""
    stop = threading.Event()

    def spin() -> None:
        while not stop.is_set():
            sum(range(1000))

    thread = threading.Thread(target=spin, daemon=True)
    if enabled:
        thread.start()
    try:
        yield
    finally:
        stop.set()
        if enabled:
            thread.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=10_000)
    parser.add_argument("--period-ms", type=float, default=1.0)
    parser.add_argument("--cost-us", type=float, default=50.0)
    parser.add_argument("--busy-thread", action="store_true")
    parser.add_argument("--switch-interval-us", type=float, default=None,
                        help="set sys.setswitchinterval for the measurement (GIL hand-over)")
    args = parser.parse_args()
    period = args.period_ms * 1e-3
    work, size = make_step(args.cost_us)
    t = time.perf_counter()
    for _ in range(200):
        np.sin(work, out=work)
    print(f"{args.ticks} ticks at {args.period_ms} ms; step = np.sin over {size} doubles "
          f"({(time.perf_counter() - t) / 200 * 1e6:.1f} us)")

    if args.busy_thread:
        print("with a busy pure-Python peer thread")
    if args.switch_interval_us is not None:
        sys.setswitchinterval(args.switch_interval_us * 1e-6)
    print(f"GIL switch interval {sys.getswitchinterval() * 1e6:.0f} us (the scheduler lowers it"
          " to 100 us during its own run unless it is already lower)")
    with busy_thread(args.busy_thread):
        ours = summarise("TickScheduler (sleep+spin)",
                         run_scheduler(args.ticks, period, work), period)
        naive = summarise("naive asyncio.sleep loop",
                          asyncio.run(run_naive_asyncio(args.ticks, period, work)), period)
    for key in ("p50", "p99", "max"):
        print(f"ratio naive/scheduler lateness {key}: "
              f"{naive[key] / max(ours[key], 1e-3):8.1f}x")


if __name__ == "__main__":
    main()
