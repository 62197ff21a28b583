"""Run steps of a Simulation: the tick loop, run_forever / run_sync control, progress.

Theory of operation
-------------------
A run step (``run_until``, ``run_forever``, ``run_sync``) prepares the network (map, build, load
live I/O: the Simulation's business), brackets the ticks with the live-I/O handshake (DATABASE,
START_RESUME ... STOP_PAUSE) and hands the ticks to a
:class:`~spinnlive.engine.scheduler.TickScheduler`, in its own thread in both clock modes, so
the PyNN thread only watches: every 0.1 s it updates the progress bar, and Ctrl-C there stops
the loop after the tick in progress. ``run_sync`` runs chunks of ``sync`` ticks and waits at
each sync point for :meth:`RunControl.continue_simulation`; :meth:`RunControl.request_stop`
(any thread) ends any of them after the tick in progress, including a stop requested just
before the tick thread started.

Rules: :meth:`RunControl._step` is the only code that runs per tick, in the tick thread:
numpy and kernel calls only, nothing that waits.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from .. import progress
from ..errors import ConfigurationError
from . import kernel_build
from .run_report import PhaseTiming, RunReport, TimingLog
from .scheduler import TickMode, TickScheduler

if TYPE_CHECKING:
    from ..clock import ThreadClock
    from .description import PopulationRecord

__all__ = ["RunControl", "StepProgress"]

logger = logging.getLogger(__name__)

_POLL_S = 0.1  # how often the PyNN thread looks at a running tick loop (progress, Ctrl-C)
#: The tick thread sleeps until SPIN_MARGIN_S before each deadline, then spins (holding the GIL
#: at most GIL_SWITCH_S at a time, the process's switch interval during a real-time run, so the
#: board's receive thread gets in quickly). Measured on this 2-core VM: wake-ups from sleep come
#: up to ~350 us late, so a 150 us margin left 0.1-0.4 % of the seed network's ticks late
#: (bench/bench_realtime_seed.py); 400 us gave 0-0.1 %, with closed-loop latency unchanged
#: within its run-to-run noise (bench/bench_latency.py).
SPIN_MARGIN_S = 400e-6
GIL_SWITCH_S = 20e-6


class RunControl:
    """The running half of :class:`~spinnlive.engine.simulation.Simulation` (a mixin)."""

    dt: float
    net: Any
    live: Any
    listeners: dict[Any, None]
    populations: list[PopulationRecord]
    thread_clock: ThreadClock | None
    progress: Callable[[int, int], None] | None
    clock: Callable[[], float]
    phases: list[PhaseTiming]
    _closed: bool
    _run_number: int
    _timing: TimingLog
    _by_label: dict[str, PopulationRecord]
    _live_sources: tuple[tuple[str, int], ...]

    @property
    def tick(self) -> int:
        """The network's tick (:class:`~spinnlive.engine.recordings.SegmentRecordings`' property,
        which comes first in the simulation's bases)."""
        raise NotImplementedError

    @property
    def plastic(self) -> bool:
        """Whether the network has plastic synapses (the simulation's property)."""
        raise NotImplementedError

    def __init__(self) -> None:
        self._scheduler: TickScheduler | None = None
        self._stop = threading.Event()
        self._continue = threading.Event()
        self._ticking_from: int | None = None  #: first tick of the ticks running now

    @property
    def arrival_tick(self) -> int:
        """The tick that live input arriving now is emitted in: the tick in progress (on a
        board, the timer tick that ran last), or, while no ticks run (before a run step's first
        tick, at a sync point, between runs), the next tick."""
        tick: int = self.net.tick
        first = self._ticking_from
        return tick - 1 if first is not None and tick > first else tick

    @property
    def period_s(self) -> float:
        raise NotImplementedError

    @property
    def clock_mode(self) -> TickMode:
        raise NotImplementedError

    def report(self) -> RunReport:
        raise NotImplementedError

    def _prepare(self, n: int | None) -> None:
        raise NotImplementedError

    def _phase(self, name: str) -> _Phase:
        return _Phase(self, name)

    def run_until(self, tick: int) -> None:
        n = int(tick) - self.tick
        if n < 0:
            raise ConfigurationError(f"cannot run back from tick {self.tick} to {tick}")
        self._run_step(n, 0)

    def run_forever(self, sync_ticks: int = 0) -> None:
        """Run until :meth:`request_stop` (from another thread or a live callback)."""
        self._run_step(None, sync_ticks)

    def run_sync(self, n_ticks: int, sync_ticks: int) -> None:
        """Run ``n_ticks``, pausing every ``sync_ticks`` until :meth:`continue_simulation`."""
        self._run_step(int(n_ticks), int(sync_ticks))

    def request_stop(self) -> None:
        """Stop a running step after the tick in progress; safe from any thread."""
        self._stop.set()
        self._continue.set()
        if self._scheduler is not None:
            self._scheduler.request_stop()

    def continue_simulation(self) -> None:
        """Resume a step paused at a sync point; safe from any thread."""
        self._continue.set()

    def _run_step(self, n: int | None, sync: int) -> None:
        if self._closed:
            raise ConfigurationError("this simulation has ended; call setup() again")
        if sync < 0:
            raise ConfigurationError(f"sync time must be >= 0, got {sync} ticks")
        self._run_number += 1
        self._prepare(n)
        sched = self._scheduler_for(self.clock_mode)
        # kernels loaded before the loop: no 20 ms first tick (late in real time, an overrun)
        kernel_build.warm_up((r.model for r in self.populations), self.dt, self.net.threads,
                             self.plastic)
        self._stop.clear()
        logger.info("Simulating for %s %g ms timesteps (%s, period %g ms)",
                    "ever" if n is None else n, self.dt, sched.mode.value, self.period_s * 1e3)
        if self.live is not None:
            with self._phase("Notification"):
                self.live.begin_step(self.listeners)
        try:
            with self._phase("Run"):
                self._run_chunks(sched, n, sync)
        finally:
            if self.live is not None:
                self.live.end_step()
            logger.info("%s", self.report().summary())

    def _run_chunks(self, sched: TickScheduler, n: int | None, sync: int) -> None:
        done = 0
        bar = StepProgress(self, "Running the network") if n else None
        while (n is None or done < n) and not self._stop.is_set():
            chunk = sync if sync > 0 else None
            if n is not None:
                chunk = n - done if chunk is None else min(chunk, n - done)
            self._continue.clear()
            done += self._drive(sched, chunk, bar, done, n)
            if sync > 0 and (n is None or done < n) and not self._stop.is_set():
                logger.info("paused at tick %d until continue_simulation()", self.tick)
                while not self._continue.wait(_POLL_S):
                    pass
        if bar is not None:
            bar.finish()

    def _drive(self, sched: TickScheduler, n: int | None, bar: StepProgress | None,
               done_before: int, total: int | None) -> int:
        """Run ``n`` ticks (None: until stopped) in the tick thread; returns the ticks run."""
        sched.tick = first = self._ticking_from = self.net.tick
        started = self.clock()
        sched.start(n)
        if self._stop.is_set():  # a stop requested before the loop began
            sched.request_stop()
        try:
            while True:
                try:
                    sched.join(_POLL_S)
                    break
                except TimeoutError:
                    if bar is not None and total:
                        # the tick counter, not statistics(): its percentiles hold the GIL
                        # for ~1 ms, which made the tick thread late every poll
                        bar(done_before + sched.tick - first, total)
        except KeyboardInterrupt:
            sched.request_stop()
            sched.join()
            raise
        finally:
            self._ticking_from = None
            stats = sched.statistics()
            self._timing.add(stats, sched.lateness_record(), self.clock() - started)
        if bar is not None and total:
            bar(done_before + stats.ticks, total)
        return stats.ticks

    def _scheduler_for(self, mode: TickMode) -> TickScheduler:
        sched = self._scheduler
        if sched is None or sched.mode is not mode or sched.period_s != self.period_s:
            sched = self._scheduler = TickScheduler(
                self._step, self.period_s, mode, clock=self.thread_clock,
                spin_margin_s=SPIN_MARGIN_S, gil_switch_interval_s=GIL_SWITCH_S)
        return sched

    def _step(self, _tick: int) -> None:
        """One tick, in the tick thread: injections in, network step, counts, live output.

        What arrived while the previous tick ran is emitted in that tick, as on a board
        (:meth:`~spinnlive.kernels.network.Network.inject_arrived`): its targets see it after
        their delay counted from then, and it leaves through live output stamped with that tick,
        before this tick's spikes. Rate changes apply from this tick, and so do the state
        plane's writes (:mod:`~spinnlive.engine.state_plane`), whose reads see the state after
        the previous tick.
        """
        net, live = self.net, self.live
        if live is not None:
            arrival = self.arrival_tick
            injected = live.drain(arrival)
            if not injected.empty:
                by_label = self._by_label
                emitted: dict[str, Any] = {}
                for label, atoms in injected.spikes.items():
                    if net.inject_arrived(by_label[label].gid, atoms, arrival):
                        emitted[label] = atoms
                for label, (atoms, rates) in injected.rates.items():
                    by_label[label].group.set_rates(atoms, rates)
                if emitted and self._live_sources:
                    live.emit(arrival, emitted)
            live.apply_state(net.tick)  # reads and writes of the state plane due now
        tick = net.tick
        fired = net.step()  # the network counts every group's spikes itself
        if self._live_sources:
            live.emit(tick, {label: fired[gid] for label, gid in self._live_sources})


class StepProgress:
    """``progress(done, total)`` for a long step: the Simulation's callback and a drawn bar.

    The bar (:func:`spinnlive.progress.bar`, drawn only when the CLI enabled drawing) is made at
    the first call, when the total is known.
    """

    def __init__(self, sim: RunControl, title: str) -> None:
        self.sim, self.title = sim, title
        self.bar: progress.Bar | None = None
        self._drawing = contextlib.ExitStack()

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            self.bar = self._drawing.enter_context(progress.bar(self.title, total))
        self.bar.update(done)
        if self.sim.progress is not None:
            self.sim.progress(done, total)

    def finish(self) -> None:
        self._drawing.close()  # completes the bar


class _Phase:
    """Context manager timing one phase into ``Simulation.phases`` and the log."""

    def __init__(self, sim: RunControl, name: str) -> None:
        self.sim, self.name = sim, name

    def __enter__(self) -> None:
        self.started = self.sim.clock()

    def __exit__(self, *exc: object) -> None:
        seconds = self.sim.clock() - self.started
        self.sim.phases.append(PhaseTiming(self.name, seconds))
        logger.info("Time %s taken by %s", timedelta(seconds=seconds), self.name)
