"""What a run did, as one frozen record: :class:`RunReport`, and the tallies that feed it.

Theory of operation
-------------------
A report covers the current *segment*: everything simulated since ``setup()`` or the last
``reset()``, over however many run steps (``sim.run`` calls, ``run_forever``) it took.

* **Spikes.** Every population has a spike count (recorded or not) and a mean rate over the
  segment's biological time: the kernels' compiled tick loop adds each group's spikes to one
  int64 array (``Network.spike_counts()``, cleared by ``reset``), which costs nothing extra.
* **Tick timing.** After each step the scheduler's statistics and its per-tick lateness record
  go into a :class:`TimingLog`; late ticks and overruns are summed exactly over the steps, the
  maximum is exact, and p50/p99 are computed over the kept records (the last
  :data:`LATENESS_KEPT` ticks of the segment, which bounds memory in endless runs).
* **Live I/O** counters (board endpoint, live output, notification listeners) are snapshots
  taken when the report is made; they count since the engine's live I/O started.

Rules: every record here is a frozen dataclass that holds no reference to the engine, so a
report stays readable after ``sim.end()`` (the CLI reads ``state.last_report`` after the user's
script returned).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import UnknownLabelError
from .scheduler import TickMode, TickStatistics

__all__ = [
    "LATENESS_KEPT", "LiveIOSummary", "PhaseTiming", "PopulationSummary", "RunReport",
    "TimingLog", "TimingSummary", "default_time_scale_factor",
]

#: per-tick lateness values kept for the percentiles of a segment (8 bytes each)
LATENESS_KEPT = 1 << 20


def default_time_scale_factor(dt_ms: float) -> float:
    """sPyNNaker's default: ``max(1, ceil(step_us / 10000))`` with ``step_us = ceil(dt*1000)``."""
    step_us = math.ceil(round(dt_ms * 1000.0, 9))
    return float(max(1, math.ceil(step_us / 10000)))


@dataclass(frozen=True)
class PhaseTiming:
    """How long one named build or run phase took (wall seconds)."""

    name: str
    seconds: float


@dataclass(frozen=True, slots=True)
class PopulationSummary:
    """One population over the segment: its spikes and mean rate per neuron."""

    label: str
    model: str
    size: int
    cores: int
    spikes: int
    rate_hz: float


@dataclass(frozen=True, slots=True, kw_only=True)
class TimingSummary:
    """Tick timing over every run step of the segment (seconds)."""

    steps: int
    ticks: int
    late_ticks: int
    overruns: int
    lateness_p50_s: float
    lateness_p99_s: float
    lateness_max_s: float
    step_max_s: float
    work_dropped: int


@dataclass(frozen=True, slots=True, kw_only=True)
class LiveIOSummary:
    """The live-I/O side: where the board is, the database, and each part's counters."""

    board_address: tuple[str, int] | None
    database: str | None
    listeners: tuple[Any, ...]  #: NotifierPeerStatistics per listener
    board: Any | None  #: BoardStatistics of the first board
    live_output: Any | None  #: LiveOutputStatistics
    boards: tuple[Any, ...] = ()  #: BoardStatistics of every board, in board order


@dataclass(frozen=True, slots=True, kw_only=True)
class RunReport:
    """The segment so far: clock, populations, tick timing, live I/O and phase timings."""

    clock: TickMode
    dt_ms: float
    time_scale_factor: float
    period_s: float
    ticks: int  #: ticks simulated in the segment
    wall_s: float  #: wall time the tick loop took over the segment
    populations: tuple[PopulationSummary, ...]
    timing: TimingSummary
    last_step: TickStatistics | None
    live_io: LiveIOSummary | None
    phases: tuple[PhaseTiming, ...]

    @property
    def biological_ms(self) -> float:
        return self.ticks * self.dt_ms

    def population(self, label: str) -> PopulationSummary:
        found = next((s for s in self.populations if s.label == label), None)
        if found is None:
            raise UnknownLabelError(f"no population labelled {label!r} in this report")
        return found

    def summary(self) -> str:
        """One paragraph for the log at the end of a run."""
        t = self.timing
        mode = "real time" if self.clock is TickMode.REALTIME else "lock-step"
        rates = ", ".join(f"{p.label} {p.rate_hz:.2f} Hz" for p in self.populations[:8])
        if len(self.populations) > 8:
            rates += f", ... ({len(self.populations)} populations)"
        text = (f"Simulated {self.biological_ms:g} ms ({self.ticks} ticks of {self.dt_ms:g} ms,"
                f" {mode}, period {self.period_s * 1e3:g} ms) in {self.wall_s:.3f} s over"
                f" {t.steps} run step(s). Mean rates: {rates or 'no populations'}.")
        if self.clock is TickMode.REALTIME:
            text += (f" Ticks late: {t.late_ticks} of {t.ticks} (lateness p50"
                     f" {t.lateness_p50_s * 1e6:.0f} us, p99 {t.lateness_p99_s * 1e6:.0f} us,"
                     f" max {t.lateness_max_s * 1e6:.0f} us); overruns: {t.overruns}.")
        if self.live_io is not None:
            text += " " + _live_io_text(self.live_io)
        return text

    def format(self) -> str:
        """A few lines a person reads at the end of a run (the CLI prints these)."""
        lines = [self.summary()]
        lines += [f"  {p.label:<24} {p.size:>7} neurons {p.cores:>4} cores {p.spikes:>10} spikes"
                  f" {p.rate_hz:9.2f} Hz" for p in self.populations]
        lines += [f"  {p.name:<24} {p.seconds:9.3f} s" for p in _merge_phases(self.phases)]
        return "\n".join(lines)


def _live_io_text(live: LiveIOSummary) -> str:
    parts: list[str] = []
    if len(live.boards) > 1:
        parts.extend(f"board {b.address[0]}:{b.address[1]} injected {b.injected_events} events"
                     f" in {b.injected_packets} packets, {b.datagrams_dropped} datagrams dropped"
                     for b in live.boards)
    else:
        if live.board_address is not None:
            parts.append(f"board {live.board_address[0]}:{live.board_address[1]}")
        if live.board is not None:
            b = live.board
            parts.append(f"injected {b.injected_events} events in {b.injected_packets}"
                         f" packets, {b.datagrams_dropped} datagrams dropped")
    if live.live_output is not None:
        o = live.live_output
        parts.append(f"live output {o.events_sent} events in {o.packets_sent} packets,"
                     f" {sum(o.dropped_events.values())} events dropped")
    if live.listeners:
        confirmed = sum(p.confirmed for p in live.listeners)
        parts.append(f"{len(live.listeners)} listener(s), {confirmed} confirmation(s)")
    return "Live I/O: " + "; ".join(parts) + "."


def _merge_phases(phases: Sequence[PhaseTiming]) -> list[PhaseTiming]:
    """Phases of the same name added up, in first-seen order."""
    totals: dict[str, float] = {}
    for p in phases:
        totals[p.name] = totals.get(p.name, 0.0) + p.seconds
    return [PhaseTiming(name, seconds) for name, seconds in totals.items()]


class TimingLog:
    """The scheduler's statistics of each run step of a segment, kept for the report."""

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        self.steps: list[TickStatistics] = []
        self._lateness: list[np.ndarray] = []
        self._kept = 0
        self.wall_s = 0.0

    def add(self, stats: TickStatistics, lateness: np.ndarray, wall_s: float) -> None:
        self.steps.append(stats)
        self.wall_s += wall_s
        self._lateness.append(lateness)
        self._kept += lateness.size
        while self._kept > LATENESS_KEPT and len(self._lateness) > 1:
            self._kept -= self._lateness.pop(0).size

    def summary(self) -> TimingSummary:
        kept = np.concatenate(self._lateness) if self._lateness else np.zeros(0)
        kept = kept[-LATENESS_KEPT:]

        def pct(q: float) -> float:
            return float(np.percentile(kept, q)) if kept.size else 0.0

        s = self.steps
        return TimingSummary(
            steps=len(s), ticks=sum(x.ticks for x in s), late_ticks=sum(x.late_ticks for x in s),
            overruns=sum(x.overruns for x in s), lateness_p50_s=pct(50), lateness_p99_s=pct(99),
            lateness_max_s=max((x.lateness_max_s for x in s), default=0.0),
            step_max_s=max((x.step_max_s for x in s), default=0.0),
            work_dropped=s[-1].work_dropped if s else 0)
