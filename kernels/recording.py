"""Vectorised recorders: spikes as appended index arrays, state samples as growing 2-D blocks.

No Python object is made per spike: the network's compiled loop logs ``(group, index, tick)``
and each run's spikes of a group are added as one pair of arrays, concatenated on read. State
samples are copied into a preallocated block that doubles when full. Times are NEST's: a spike
emitted by tick ``k`` has time ``(k + 1) * dt``; a state sample taken after tick ``k`` has time
``(k + 1) * dt``, plus the value before tick 0 at time 0 (pyNN.nest adds that initial sample
too).
"""

from __future__ import annotations

import numpy as np


class SpikeRecord:
    """Spikes of the selected neurons of one group, kept as blocks of (ids, ticks) arrays."""

    def __init__(self, n: int, indices: np.ndarray | None) -> None:
        self._mask: np.ndarray | None = None
        if indices is not None and np.unique(indices).size < n:
            self._mask = np.zeros(n, dtype=bool)
            self._mask[indices] = True
        self.clear()

    def clear(self) -> None:
        self._ids: list[np.ndarray] = []
        self._ticks: list[np.ndarray] = []

    def add(self, ids: np.ndarray, ticks: np.ndarray) -> None:
        """Spikes ``ids[k]`` emitted by tick ``ticks[k]``, in emission order (arrays kept)."""
        if self._mask is not None:
            keep = self._mask[ids]
            ids, ticks = ids[keep], ticks[keep]
        if ids.size:
            self._ids.append(ids)
            self._ticks.append(ticks)

    def get(self, dt: float) -> tuple[np.ndarray, np.ndarray]:
        """``(ids, times_ms)``, in emission order."""
        if not self._ids:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64)
        if len(self._ids) > 1:  # consolidate, so repeated reads stay cheap
            self._ids, self._ticks = [np.concatenate(self._ids)], [np.concatenate(self._ticks)]
        return self._ids[0].copy(), (self._ticks[0] + 1) * dt


class SignalRecord:
    """Samples of one state array at the selected indices."""

    def __init__(self, source: np.ndarray, indices: np.ndarray | None) -> None:
        self.source = source
        self.indices = None if indices is None else np.asarray(indices, dtype=np.int64)
        width = source.size if self.indices is None else self.indices.size
        self._values = np.empty((64, width), dtype=np.float64)
        self._ticks = np.empty(64, dtype=np.int64)
        self.clear()

    def clear(self) -> None:
        self._n = 0

    def sample(self, time_tick: int) -> None:
        """Store the current values as the sample at ``time_tick * dt``."""
        if self._n == self._ticks.size:
            self._values = np.concatenate([self._values, np.empty_like(self._values)])
            self._ticks = np.concatenate([self._ticks, np.empty_like(self._ticks)])
        row = self._values[self._n]
        if self.indices is None:
            row[:] = self.source
        else:
            np.take(self.source, self.indices, out=row)
        self._ticks[self._n] = time_tick
        self._n += 1

    def get(self, dt: float) -> tuple[np.ndarray, np.ndarray]:
        """``(times_ms, values[n_samples, n_recorded])`` (copies)."""
        return self._ticks[:self._n] * dt, self._values[:self._n].copy()
