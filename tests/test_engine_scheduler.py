"""Tick scheduler: deadlines, lateness and overrun accounting in virtual time; mechanics in real time."""

from __future__ import annotations

import asyncio
import sys
import threading

import numpy as np
import pytest
from waiting import until

from spinnlive.clock import PerfCounterClock
from spinnlive.clock import VirtualThreadClock as VirtualClock
from spinnlive.engine.scheduler import TickMode, TickScheduler
from spinnlive.errors import ConfigurationError

PERIOD = 1.0  # virtual seconds; a whole number keeps the float arithmetic exact


class Recorder:
    """A step that records (tick, start time) and takes a configurable amount of virtual time."""

    def __init__(self, clock: VirtualClock, cost: dict[int, float] | float = 0.0) -> None:
        self.clock = clock
        self.cost = cost
        self.ticks: list[int] = []
        self.starts: list[float] = []

    def __call__(self, tick: int) -> None:
        self.ticks.append(tick)
        self.starts.append(self.clock.now())
        cost = self.cost.get(tick, 0.0) if isinstance(self.cost, dict) else self.cost
        self.clock.advance(cost)


def make(cost: dict[int, float] | float = 0.0, mode: TickMode = TickMode.REALTIME, **kw):
    clock = VirtualClock(start=100.0)
    rec = Recorder(clock, cost)
    return TickScheduler(rec, PERIOD, mode, clock=clock, **kw), rec, clock


def test_realtime_ticks_start_exactly_at_absolute_deadlines() -> None:
    sched, rec, _ = make(cost=0.3 * PERIOD)
    stats = sched.run(10)
    assert rec.ticks == list(range(10))
    assert rec.starts == [100.0 + k * PERIOD for k in range(10)]
    assert stats.ticks == 10 and stats.late_ticks == 0 and stats.overruns == 0
    assert stats.lateness_max_s == 0.0
    assert stats.step_p50_s == pytest.approx(0.3 * PERIOD)


def test_step_taking_one_and_a_half_periods_makes_every_later_tick_late() -> None:
    sched, rec, _ = make(cost=1.5 * PERIOD)
    stats = sched.run(8)
    lateness = np.array(rec.starts) - (100.0 + np.arange(8) * PERIOD)
    # tick k starts at 1.5k, due at k: lateness 0.5k, run at once (no skipping, no burst hiding)
    np.testing.assert_allclose(lateness, 0.5 * np.arange(8) * PERIOD)
    assert stats.late_ticks == 7
    assert stats.overruns == 8
    assert stats.lateness_max_s == pytest.approx(3.5 * PERIOD)
    assert stats.lateness_p50_s == pytest.approx(np.percentile(lateness, 50))


def test_one_slow_step_delays_exactly_one_tick_then_schedule_recovers() -> None:
    sched, rec, _ = make(cost={3: 1.5 * PERIOD})
    stats = sched.run(8)
    assert stats.overruns == 1
    assert stats.late_ticks == 1
    assert stats.lateness_max_s == pytest.approx(0.5 * PERIOD)
    assert rec.starts[4] == pytest.approx(100.0 + 4.5 * PERIOD)
    assert rec.starts[5] == 100.0 + 5 * PERIOD  # back on the absolute schedule, no drift


def test_stall_is_caught_up_tick_by_tick_and_every_catch_up_tick_counted() -> None:
    sched, rec, _ = make(cost={2: 4.2 * PERIOD})
    stats = sched.run(10)
    # tick 2 ends at 6.2: ticks 3..6 run back to back, late by 3.2, 2.2, 1.2, 0.2 periods
    assert rec.starts[3:7] == pytest.approx([100 + 6.2 * PERIOD] * 4)
    assert stats.late_ticks == 4
    assert rec.starts[7] == 100.0 + 7 * PERIOD


def test_late_threshold_is_configurable() -> None:
    sched, _, _ = make(cost={0: 1.05 * PERIOD, 5: 1.3 * PERIOD}, late_threshold_s=0.2 * PERIOD)
    stats = sched.run(8)
    assert stats.late_ticks == 1  # 0.05 late is below 0.2; 0.3 late is above
    assert stats.late_threshold_s == 0.2 * PERIOD
    assert stats.overruns == 2


def test_lockstep_runs_in_the_caller_thread_without_waiting() -> None:
    caller = threading.get_ident()
    seen: list[int] = []
    clock = VirtualClock()
    sched = TickScheduler(lambda t: seen.append(threading.get_ident()), PERIOD,
                          TickMode.LOCKSTEP, clock=clock)
    stats = sched.run(5)
    assert seen == [caller] * 5
    assert clock.now() == 0.0  # no sleeping to deadlines
    assert stats.ticks == 5 and stats.late_ticks == 0


def test_tick_numbers_continue_across_runs_and_stats_describe_the_latest_run() -> None:
    sched, rec, _ = make(cost={1: 2.5 * PERIOD})
    assert sched.run(3).late_ticks == 1
    stats = sched.run(4)
    assert rec.ticks == list(range(7))
    assert stats.ticks == 4 and stats.late_ticks == 0 and sched.tick == 7


def test_ring_keeps_exact_counters_beyond_its_window() -> None:
    sched, _, _ = make(cost={k: 1.5 * PERIOD for k in range(0, 40, 4)}, history=8)
    stats = sched.run(40)
    assert stats.window == 8 and stats.ticks == 40
    # the last 8 ticks, oldest first: ticks 32..39; ticks 33 and 37 follow slow steps
    np.testing.assert_allclose(sched.lateness_record(), [0, 0.5, 0, 0, 0, 0.5, 0, 0])
    assert stats.overruns == 10 and stats.late_ticks == 10
    assert stats.lateness_max_s == pytest.approx(0.5 * PERIOD)


def test_handed_in_work_runs_at_the_next_tick_before_step_in_order() -> None:
    clock = VirtualClock()
    log: list[tuple[str, int]] = []
    sched: TickScheduler

    def step(tick: int) -> None:
        log.append(("step", tick))
        if tick == 1:  # queued during tick 1: must wait for tick 2
            sched.call_at_next_tick(lambda t: log.append(("late-work", t)))

    sched = TickScheduler(step, PERIOD, TickMode.LOCKSTEP, clock=clock)
    assert sched.call_at_next_tick(lambda t: log.append(("a", t)))
    assert sched.call_at_next_tick(lambda t: log.append(("b", t)))
    sched.run(3)
    assert log == [("a", 0), ("b", 0), ("step", 0), ("step", 1), ("late-work", 2), ("step", 2)]
    assert sched.statistics().work_queued == 3


def test_full_work_queue_refuses_and_counts_instead_of_blocking() -> None:
    sched, _, _ = make(max_queued_work=3)
    accepted = [sched.call_at_next_tick(lambda t: None) for _ in range(5)]
    assert accepted == [True, True, True, False, False]
    stats = sched.statistics()
    assert stats.work_dropped == 2 and stats.work_queue_peak == 3
    sched.run(1)
    assert sched.call_at_next_tick(lambda t: None)  # drained: room again


def test_request_stop_ends_a_forever_run() -> None:
    clock = VirtualClock()
    stop_at = 25
    sched: TickScheduler

    def step(tick: int) -> None:
        if tick == stop_at:
            sched.request_stop()

    sched = TickScheduler(step, PERIOD, TickMode.REALTIME, clock=clock)
    sched.start(None)
    sched.join(timeout=10)
    assert sched.tick == stop_at + 1
    assert sched.statistics().ticks == stop_at + 1
    assert not sched.running


def test_step_error_stops_the_loop_and_is_reraised() -> None:
    failures = [RuntimeError("boom at 2")]

    def step(tick: int) -> None:
        if tick == 2 and failures:
            raise failures.pop()

    sched = TickScheduler(step, PERIOD, TickMode.REALTIME, clock=VirtualClock())
    with pytest.raises(RuntimeError, match="boom at 2"):
        sched.run(10)
    assert sched.tick == 2  # the failed tick did not count
    sched.run(1)  # the error was delivered once; the scheduler is usable again
    assert sched.tick == 3


def test_bad_arguments_raise_configuration_errors() -> None:
    with pytest.raises(ConfigurationError):
        TickScheduler(lambda t: None, 0.0)
    sched = TickScheduler(lambda t: None, PERIOD, TickMode.LOCKSTEP, clock=VirtualClock())
    with pytest.raises(ConfigurationError):
        sched.run(-1)
    with pytest.raises(ConfigurationError):
        sched.run(2.5)  # type: ignore[arg-type]


def test_second_start_while_running_is_refused() -> None:
    release = threading.Event()
    sched = TickScheduler(lambda t: release.wait(5), PERIOD, TickMode.LOCKSTEP,
                          clock=VirtualClock())
    sched.start(None)
    try:
        with pytest.raises(ConfigurationError, match="already running"):
            sched.start(3)
    finally:
        sched.request_stop()
        release.set()
        sched.join(timeout=10)


async def test_run_async_does_not_block_the_event_loop() -> None:
    clock = VirtualClock()
    release = threading.Event()
    started = threading.Event()

    def step(tick: int) -> None:
        started.set()
        release.wait(5)  # the tick thread is blocked; the event loop must not be

    sched = TickScheduler(step, PERIOD, TickMode.REALTIME, clock=clock)
    async with asyncio.timeout(10):
        task = asyncio.create_task(sched.run_async(3))
        await asyncio.to_thread(started.wait, 5)
        assert not task.done()
        await asyncio.sleep(0)  # the loop keeps turning while the tick is in progress
        release.set()
        stats = await task
    assert stats.ticks == 3 and sched.tick == 3


async def test_run_async_cancel_requests_stop_and_error_propagates() -> None:
    sched = TickScheduler(lambda t: None, 1e-3, TickMode.REALTIME, clock=PerfCounterClock())
    async with asyncio.timeout(10):
        task = asyncio.create_task(sched.run_async(None))
        await until(lambda: sched.tick > 0, "the loop ticking", 10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.to_thread(sched.join, 5)
    assert not sched.running and sched.tick > 0

    def failing(tick: int) -> None:
        raise ValueError("bad step")

    bad = TickScheduler(failing, PERIOD, TickMode.LOCKSTEP, clock=VirtualClock())
    async with asyncio.timeout(10):
        with pytest.raises(ValueError, match="bad step"):
            await bad.run_async(5)


def test_realtime_runs_shorten_the_gil_switch_interval_and_restore_it() -> None:
    before = sys.getswitchinterval()
    seen: list[float] = []
    sched = TickScheduler(lambda t: seen.append(sys.getswitchinterval()), PERIOD,
                          clock=VirtualClock(), gil_switch_interval_s=2e-4)
    sched.run(3)
    assert seen == [pytest.approx(min(before, 2e-4))] * 3
    assert sys.getswitchinterval() == before
    lock = TickScheduler(lambda t: seen.append(sys.getswitchinterval()), PERIOD,
                         TickMode.LOCKSTEP, clock=VirtualClock(), gil_switch_interval_s=2e-4)
    lock.run(1)
    assert seen[-1] == before  # lock-step has no deadlines to protect


def test_real_clock_mechanics_200_ticks_at_1ms() -> None:
    """Real clock: counts, order and stop. No timing assertion (timing lives in bench/)."""
    seen: list[int] = []
    threads: set[int] = set()

    def step(tick: int) -> None:
        seen.append(tick)
        threads.add(threading.get_ident())

    sched = TickScheduler(step, 1e-3, TickMode.REALTIME)
    stats = sched.run(200)
    assert seen == list(range(200))
    assert threads and threading.get_ident() not in threads  # paced in its own thread
    assert stats.ticks == 200 and stats.window == 200
    assert 0 <= stats.late_ticks <= 200

    sched.start(None)
    sched.request_stop()
    sched.join(timeout=5)
    assert not sched.running and seen[-1] == sched.tick - 1
