"""Recordings of one segment: what PyNN asked to record, read back from the kernels.

Rules
-----
* Recordings belong to a segment that starts at tick 0 (reset) or at the tick of the last
  :meth:`SegmentRecordings.clear_recordings`. Signals come back on the tick grid ``start,
  start + interval, ..., now``; samples that were never taken (a recording added mid-segment)
  are NaN, so the shape is always what PyNN expects.
* Replacing a recording keeps what the old one collected (its pieces), so changing the recorded
  set between runs loses nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ConfigurationError

__all__ = ["Recording", "SegmentRecordings"]


@dataclass(eq=False)
class Recording:
    """One recorded variable of one population within the current segment."""

    indices: np.ndarray
    interval: int
    pieces: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=list)


class SegmentRecordings:
    """The recording half of :class:`~spinnlive.engine.simulation.Simulation` (a mixin)."""

    populations: list[Any]
    currents: list[Any]
    net: Any
    dt: float

    def __init__(self) -> None:
        self.recordings: dict[tuple[int, str], Recording] = {}
        self._starts: dict[int, int] = {}  # population key -> tick its segment starts

    @property
    def tick(self) -> int:
        return 0 if self.net is None else int(self.net.tick)

    def record(self, key: int, variable: str, indices: np.ndarray, interval: int) -> None:
        """Record ``variable`` ('spikes' or a kernel state name) of ``indices`` (replaces)."""
        rec = self.populations[key]
        if variable != "spikes" and variable not in rec.initial:
            raise ConfigurationError(
                f"population {rec.label!r} ({rec.model}) cannot record {variable!r}")
        old = self.recordings.get((key, variable))
        new = Recording(np.unique(np.asarray(indices, np.int64)), int(interval))
        if old is not None:
            new.pieces = old.pieces
            if self.net is not None:
                new.pieces.append(self._read_kernel(rec, variable, old))
        self.recordings[(key, variable)] = new
        if self.net is not None:
            self._start_kernel_recording(rec, variable, new)

    def stop_recording(self, key: int) -> None:
        for k in [k for k in self.recordings if k[0] == key]:
            del self.recordings[k]
            rec = self.populations[key]
            if self.net is not None:
                self.net.record(rec.gid, k[1], np.zeros(0, np.int64))

    def clear_recordings(self, key: int) -> None:
        """Forget what was recorded so far; the segment now starts at the current tick."""
        self._starts[key] = self.tick
        for (k, variable), recording in self.recordings.items():
            if k == key:
                recording.pieces = []
                if self.net is not None:
                    self._start_kernel_recording(self.populations[key], variable, recording)

    def reset_recordings(self) -> None:
        self._starts.clear()
        for recording in self.recordings.values():
            recording.pieces = []

    def spikes(self, key: int) -> tuple[np.ndarray, np.ndarray]:
        """``(local indices, times_ms)`` of the recorded spikes of this segment."""
        recording = self.recordings.get((key, "spikes"))
        if recording is None:
            return np.zeros(0, np.int64), np.zeros(0)
        pieces = list(recording.pieces)
        if self.net is not None:
            pieces.append(self._read_kernel(self.populations[key], "spikes", recording))
        ids = np.concatenate([p[0] for p in pieces] or [np.zeros(0, np.int64)])
        times = np.concatenate([p[1] for p in pieces] or [np.zeros(0)])
        start = self._starts.get(key, 0) * self.dt
        keep = np.isin(ids, recording.indices) & (times > start + 1e-9)
        return ids[keep], times[keep]

    def signal(self, key: int, variable: str) -> tuple[np.ndarray, np.ndarray]:
        """``(values[n_samples, n_indices], indices)`` on this segment's sampling grid."""
        recording = self.recordings[(key, variable)]
        grid = np.arange(self._starts.get(key, 0), self.tick + 1, recording.interval)
        out = np.full((grid.size, recording.indices.size), np.nan)
        pieces = list(recording.pieces)
        if self.net is not None:
            pieces.append(self._read_kernel(self.populations[key], variable, recording))
        for ticks, values, indices in pieces:
            rows = np.searchsorted(grid, ticks)
            ok = (rows < grid.size) & (grid[np.minimum(rows, grid.size - 1)] == ticks)
            cols = np.searchsorted(recording.indices, indices)
            present = (cols < recording.indices.size) & (
                recording.indices[np.minimum(cols, recording.indices.size - 1)] == indices)
            out[np.ix_(rows[ok], cols[present])] = values[np.ix_(ok, present)]
        return out, recording.indices

    def current_trace(self, key: int) -> tuple[np.ndarray, np.ndarray]:
        """``(times_ms, nA)`` of a recorded current source (empty before the first run), from
        the segment start to the current time inclusive, as pyNN.nest reports it: the last
        sample is the current of the tick about to run."""
        rec = self.currents[key]
        if rec.source is None:
            return np.zeros(0), np.zeros(0)
        times, values = rec.source.recorded()
        if times.size == 0 or rec.source.n_targets == 0:
            return times, values
        now = rec.source.peek(self.tick)[:1]
        return np.r_[times, self.tick * rec.source.dt], np.r_[values, now]

    def record_current(self, key: int) -> None:
        rec = self.currents[key]
        rec.recording = True
        if rec.source is not None:
            rec.source.record(True)

    def start_kernel_recordings(self) -> None:
        """Point the freshly built kernels at every recording asked for before the first run."""
        for (key, variable), recording in self.recordings.items():
            self._start_kernel_recording(self.populations[key], variable, recording)

    def _start_kernel_recording(self, rec: Any, variable: str, recording: Recording) -> None:
        self.net.record(rec.gid, variable, recording.indices)
        if variable != "spikes" and self.tick > 0:  # the kernel samples only after a step
            values = rec.group.state[variable][recording.indices].copy()
            recording.pieces.append((np.array([self.tick]), values[None, :], recording.indices))

    def _read_kernel(self, rec: Any, variable: str, recording: Recording
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if variable == "spikes":
            ids, times = self.net.spikes(rec.gid)
            return ids, times, np.zeros(0)
        times, values = self.net.signal(rec.gid, variable)
        ticks = np.floor(times / self.dt + 0.5).astype(np.int64)
        return ticks, values, recording.indices
