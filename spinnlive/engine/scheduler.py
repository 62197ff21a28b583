"""The engine's tick loop: one step per timestep, on wall-clock deadlines or as fast as possible.

Theory of operation
-------------------
A :class:`TickScheduler` calls ``step(tick)`` once per timestep. In :attr:`TickMode.REALTIME`
tick ``k`` of a run is due at the absolute deadline ``t0 + k * period`` (``period`` =
timestep x time_scale_factor), so errors never accumulate into drift. In
:attr:`TickMode.LOCKSTEP` ticks run back to back, for tests and for offline runs.

Why a thread and not asyncio: the epoll selector rounds timeouts up to whole milliseconds, so
``asyncio.sleep`` wakes ~0.6 ms late at the median, more than half a 1 ms tick. The real-time
loop therefore runs in ONE dedicated thread that ``sleep``s until ``spin_margin_s`` (250 us)
before the deadline and then spins on the clock to the deadline. That thread is the only
thread this module starts.

Rules
-----
* The tick loop never waits on a client, a socket or a lock held by one. Other threads hand it
  work with :meth:`TickScheduler.call_at_next_tick`, which appends to a bounded deque (atomic
  in CPython); the loop drains, at the start of each tick, only what was queued before that
  tick began, so the work per tick is bounded. A full queue refuses the work and counts it.
* Late ticks are never absorbed silently. A tick that starts after its deadline runs at once,
  and its lateness (start - deadline) is recorded; after a stall the loop catches up tick by
  tick on the same absolute schedule, each catch-up tick counted late. Lateness and step
  durations go into preallocated numpy arrays (a ring of ``history`` entries for long or
  endless runs); the counters of late ticks and overruns are exact over the whole run.
* Time comes only from the injected :class:`spinnlive.clock.ThreadClock`.
  :class:`spinnlive.clock.PerfCounterClock` (the default) is the one place where
  ``time.perf_counter``/``time.sleep`` appear; :class:`spinnlive.clock.VirtualThreadClock`
  lets tests account lateness deterministically (a step "takes" time by advancing the clock).
* Tick numbers continue across runs (like the board's timer count); lateness is measured
  from each run's own start, and :meth:`TickScheduler.statistics` describes the latest run.
* An exception in ``step`` or in handed-in work stops the loop and is re-raised by
  :meth:`join`, :meth:`run` or :meth:`run_async`.
* The GIL: a thread woken from ``sleep`` while another thread runs Python code waits up to
  ``sys.getswitchinterval()`` (5 ms by default) for the interpreter. Measured with a busy
  Python peer thread (bench/bench_ticks.py --busy-thread), 1 ms ticks then fell seconds
  behind; with a 100 us interval, p99 lateness was ~0.14 ms. So while a real-time run is in
  progress the scheduler lowers the process's switch interval to ``gil_switch_interval_s``
  (default 100 us; None leaves it alone) and restores it when the last real-time run ends.
* Priority: where the OS allows it, the tick thread runs real-time runs under SCHED_FIFO
  (``realtime_priority``, default 10; None: normal priority), so a loaded machine's other
  processes do not delay its wake-ups; see :func:`spinnlive.transport.tick_gate.fifo_priority`. The garbage collector's
  heap is frozen for the run (:func:`_frozen_heap`), so a full collection cannot stall a tick.
* The process's other Python threads keep out of the tick: a real-time run publishes, before
  each sleep, when it will need the interpreter (from ``gate_guard_s`` before its wake-up
  until the step's expected end, leaving at least ``gate_min_open`` of each period to the
  others) in :data:`spinnlive.transport.tick_gate.GATE`, and the I/O loops of the engine and
  the bridge wait while it is busy; see :mod:`spinnlive.transport.tick_gate`.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import enum
import gc
import logging
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from spinnlive.clock import PerfCounterClock, ThreadClock
from spinnlive.errors import ConfigurationError
from spinnlive.transport.tick_gate import GATE, TickWindow, fifo_priority

logger = logging.getLogger(__name__)

TickWork = Callable[[int], None]
"""Work handed to the loop: called with the tick number, in the tick thread, before ``step``."""


class TickMode(enum.Enum):
    """How ticks are paced."""

    REALTIME = "realtime"  #: tick k at t0 + k*period, wall clock
    LOCKSTEP = "lockstep"  #: back to back, as fast as the step allows


@dataclass(frozen=True, slots=True, kw_only=True)
class TickStatistics:
    """What the latest run did, in seconds. Percentiles cover the last ``window`` ticks."""

    mode: TickMode
    period_s: float
    ticks: int  #: ticks run in this run
    late_ticks: int  #: ticks that started more than ``late_threshold_s`` after their deadline
    late_threshold_s: float
    overruns: int  #: ticks whose step (with handed-in work) took longer than a period (real time only)
    window: int  #: how many ticks the percentiles below are computed over
    lateness_p50_s: float
    lateness_p99_s: float
    lateness_max_s: float  #: exact over the whole run
    step_p50_s: float
    step_p99_s: float
    step_max_s: float  #: exact over the whole run
    work_queued: int  #: handed-in calls accepted (whole scheduler life)
    work_dropped: int  #: handed-in calls refused because the queue was full
    work_queue_peak: int  #: deepest the hand-in queue has been


class TickScheduler:
    """Runs ``step(tick)`` once per period, in real time or lock-step; see the module docstring."""

    def __init__(
        self,
        step: Callable[[int], None],
        period_s: float,
        mode: TickMode = TickMode.REALTIME,
        *,
        clock: ThreadClock | None = None,
        late_threshold_s: float | None = None,
        spin_margin_s: float = 250e-6,
        history: int = 1 << 16,
        max_queued_work: int = 4096,
        gil_switch_interval_s: float | None = 100e-6,
        realtime_priority: int | None = 10,
        gate_guard_s: float = 100e-6,
        gate_min_open: float = 0.25,
        name: str = "spinnlive-ticks",
    ) -> None:
        if not period_s > 0:
            raise ConfigurationError(f"tick period must be positive, got {period_s!r} s")
        if history < 1 or max_queued_work < 1:
            raise ConfigurationError("history and max_queued_work must be at least 1")
        self._step = step
        self.period_s = float(period_s)
        self.mode = TickMode(mode)
        self._clock: ThreadClock = clock if clock is not None else PerfCounterClock()
        self._late_threshold_s = (
            0.1 * self.period_s if late_threshold_s is None else float(late_threshold_s)
        )
        self._spin_margin_s = float(spin_margin_s)
        self._gate_guard_s = float(gate_guard_s)
        self._gate_min_open_s = float(gate_min_open) * self.period_s
        self._history = int(history)
        self._name = name
        self._gil_switch = gil_switch_interval_s if self.mode is TickMode.REALTIME else None
        self._priority = realtime_priority if self.mode is TickMode.REALTIME else None
        self.tick = 0  #: the next tick number to run (continues across runs)

        self._work: collections.deque[TickWork] = collections.deque()
        self._max_work = int(max_queued_work)
        self._work_queued = 0
        self._work_dropped = 0
        self._work_peak = 0
        self._producers = threading.Lock()

        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._reset_run_stats(0)

    # ------------------------------------------------------------------ hand-in from other threads
    def call_at_next_tick(self, fn: TickWork) -> bool:
        """Queue ``fn(tick)`` for the start of the next tick; False (and counted) if full.

        Safe from any thread; never blocks. Work queued while a tick is draining runs at the
        tick after.
        """
        with self._producers:  # orders producers only; the tick loop never takes this lock
            depth = len(self._work)
            if depth >= self._max_work:
                self._work_dropped += 1
                return False
            self._work.append(fn)
            self._work_queued += 1
            self._work_peak = max(self._work_peak, depth + 1)
        return True

    # ------------------------------------------------------------------ running
    def run(self, n_ticks: int) -> TickStatistics:
        """Run ``n_ticks`` ticks and block until done.

        Lock-step runs in the caller's thread; real-time runs in the tick thread (the caller
        waits for it), so the pacing never depends on what the caller's thread is doing.
        """
        self._check_n(n_ticks)
        if self.mode is TickMode.LOCKSTEP:
            self._ensure_idle()
            self._stop.clear()
            self._error = None
            self._loop(n_ticks, None)
        else:
            self.start(n_ticks)
            try:
                self.join()
            except KeyboardInterrupt:
                self.request_stop()
                self.join()
                raise
        self._raise_error()
        return self.statistics()

    def start(self, n_ticks: int | None = None) -> None:
        """Start the tick thread for ``n_ticks`` ticks, or until :meth:`request_stop` if None."""
        self._start(n_ticks, None)

    def request_stop(self) -> None:
        """Ask the loop to stop after the tick in progress; safe from any thread, never blocks."""
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        """Wait for the tick thread; re-raise what stopped it, if anything did."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                raise TimeoutError(f"tick thread {self._name!r} still running after {timeout} s")
        self._raise_error()

    @property
    def running(self) -> bool:
        """True while the tick thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    async def run_async(self, n_ticks: int | None) -> TickStatistics:
        """Run in the tick thread without blocking the event loop; cancel to stop early.

        Completion comes back with ``loop.call_soon_threadsafe``; cancelling requests a stop
        and returns at once (the thread finishes the tick in progress on its own).
        """
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()

        def signal() -> None:
            try:
                loop.call_soon_threadsafe(_resolve, done)
            except RuntimeError:  # the loop closed while we ran; nobody is waiting any more
                pass

        self._start(n_ticks, signal)
        try:
            await done
        except asyncio.CancelledError:
            self.request_stop()
            raise
        self._raise_error()
        return self.statistics()

    # ------------------------------------------------------------------ statistics
    def statistics(self) -> TickStatistics:
        """Figures for the latest (or current) run; safe to call while it runs."""
        n = self._n_run
        window = min(n, self._history)
        lateness = self._lateness[:window].copy()
        durations = self._durations[:window].copy()

        def pct(a: np.ndarray, q: float) -> float:
            return float(np.percentile(a, q)) if a.size else 0.0

        return TickStatistics(
            mode=self.mode,
            period_s=self.period_s,
            ticks=n,
            late_ticks=self._late,
            late_threshold_s=self._late_threshold_s,
            overruns=self._overruns,
            window=window,
            lateness_p50_s=pct(lateness, 50),
            lateness_p99_s=pct(lateness, 99),
            lateness_max_s=self._lateness_max,
            step_p50_s=pct(durations, 50),
            step_p99_s=pct(durations, 99),
            step_max_s=self._step_max,
            work_queued=self._work_queued,
            work_dropped=self._work_dropped,
            work_queue_peak=self._work_peak,
        )

    def lateness_record(self) -> np.ndarray:
        """Per-tick lateness (s) of the latest run's last ``window`` ticks, oldest first (a copy)."""
        n, ring = self._n_run, self._lateness.size
        if n <= ring:
            return self._lateness[:n].copy()
        return np.roll(self._lateness, -(n % ring))

    # ------------------------------------------------------------------ internals
    def _start(self, n_ticks: int | None, on_done: Callable[[], None] | None) -> None:
        if n_ticks is not None:
            self._check_n(n_ticks)
        self._ensure_idle()
        self._stop.clear()
        self._error = None
        self._thread = threading.Thread(
            target=self._loop, args=(n_ticks, on_done), name=self._name, daemon=True
        )
        self._thread.start()

    def _ensure_idle(self) -> None:
        if self.running:
            raise ConfigurationError(f"tick loop {self._name!r} is already running")

    @staticmethod
    def _check_n(n_ticks: int) -> None:
        if int(n_ticks) != n_ticks or n_ticks < 0:
            raise ConfigurationError(f"number of ticks must be a whole number >= 0: {n_ticks!r}")

    def _reset_run_stats(self, n_ticks: int | None) -> None:
        size = self._history if n_ticks is None else max(1, min(int(n_ticks), self._history))
        self._lateness = np.zeros(size, dtype=np.float64)
        self._durations = np.zeros(size, dtype=np.float64)
        self._n_run = 0
        self._late = 0
        self._overruns = 0
        self._lateness_max = 0.0
        self._step_max = 0.0

    def _raise_error(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def _loop(self, n_ticks: int | None, on_done: Callable[[], None] | None) -> None:
        try:
            self._reset_run_stats(n_ticks)
            realtime = self.mode is TickMode.REALTIME
            with (_short_gil_switch(self._gil_switch),
                  fifo_priority(self._priority, 'tick thread') as priority, _frozen_heap(realtime),
                  _gate_window(realtime and isinstance(self._clock, PerfCounterClock),
                               priority) as window):
                self._ticks(n_ticks, window)
        except BaseException as error:  # re-raised in the waiting thread
            self._error = error
            logger.error("tick loop %r stopped at tick %d: %r", self._name, self.tick, error)
        finally:
            stats = self.statistics()
            if stats.late_ticks or stats.overruns:
                logger.warning(
                    "tick loop %r: %d of %d ticks late (max %.1f us late), %d overruns",
                    self._name, stats.late_ticks, stats.ticks, stats.lateness_max_s * 1e6,
                    stats.overruns,
                )
            if on_done is not None:
                on_done()

    def _ticks(self, n_ticks: int | None, window: TickWindow | None) -> None:
        clock = self._clock
        now = clock.now
        period = self.period_s
        realtime = self.mode is TickMode.REALTIME
        margin = self._spin_margin_s
        threshold = self._late_threshold_s
        ring = self._lateness.size
        stop = self._stop
        work = self._work
        step = self._step
        guard, min_open = self._gate_guard_s, self._gate_min_open_s
        t0 = now()
        end, duration = t0, 0.0
        k = 0
        while (n_ticks is None or k < n_ticks) and not stop.is_set():
            deadline = t0 + k * period
            if window is not None:
                window.publish(max(deadline - margin - guard, end + min_open),
                               deadline + 1.5 * duration + guard)
            if realtime:
                if deadline - now() > margin:
                    clock.sleep(deadline - now() - margin)
                clock.spin_until(deadline)
            start = now()
            tick = self.tick
            for _ in range(len(work)):  # only what was queued before this tick began
                work.popleft()(tick)
            step(tick)
            end = now()
            lateness = start - deadline if realtime else 0.0
            duration = end - start
            slot = k % ring
            self._lateness[slot] = lateness
            self._durations[slot] = duration
            if lateness > threshold:
                self._late += 1
            if lateness > self._lateness_max:
                self._lateness_max = lateness
            if realtime and duration > period:  # lock-step has no period to overrun
                self._overruns += 1
            if duration > self._step_max:
                self._step_max = duration
            k += 1
            self._n_run = k
            self.tick = tick + 1


class _SwitchInterval:
    """The process-wide GIL switch interval, shared by every real-time run in progress."""

    lock = threading.Lock()
    users = 0
    saved = 0.0


@contextlib.contextmanager
def _short_gil_switch(interval: float | None) -> Iterator[None]:
    if interval is None:
        yield
        return
    state = _SwitchInterval
    with state.lock:
        if state.users == 0:
            state.saved = sys.getswitchinterval()
        state.users += 1
        sys.setswitchinterval(min(sys.getswitchinterval(), interval))
    try:
        yield
    finally:
        with state.lock:
            state.users -= 1
            if state.users == 0:
                sys.setswitchinterval(state.saved)


@contextlib.contextmanager
def _gate_window(active: bool, priority: int | None) -> Iterator[TickWindow | None]:
    """The run's window in the process's tick gate, for a real-time run (``priority``: the
    tick thread's SCHED_FIFO priority, None if it runs at normal priority)."""
    if not active:
        yield None
        return
    window = GATE.open(priority)
    try:
        yield window
    finally:
        GATE.close(window)


@contextlib.contextmanager
def _frozen_heap(active: bool) -> Iterator[None]:
    """Collect once before a real-time run, then freeze what exists for its duration.

    A full garbage collection walks every object of the process (PyNN, neo, matplotlib...) and
    holds the interpreter meanwhile: several milliseconds, so a tick that happened to trigger
    one started late. Frozen objects are skipped by the collector; objects made during the run
    are still collected, cheaply. The collection happens before the first deadline is set.
    """
    if not active:
        yield
        return
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
