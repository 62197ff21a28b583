"""Recorder: PyNN's recording hooks over the engine's per-population recordings.

Rules: the engine records by local index; this class only translates IDs <-> indices, PyNN
variable names <-> kernel state names (``celltype.variable_map``) and units. Spikes come back as
the vectorised ``(ids, times)`` pair, never a dict per cell. Signals hold one sample per
sampling interval from the segment start to the current time inclusive, as pyNN.nest's do.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pyNN import recording

from ..errors import ConfigurationError
from . import simulator


class Recorder(recording.Recorder):
    _simulator = simulator

    def record(self, variables: Any, ids: Any, sampling_interval: float | None = None,
               locations: Any = None) -> None:
        # Overridden for a PyNN 0.13 bug sPyNNaker works around: record('all') was split
        # into letters ("Cannot record Variable 'a'"); it means every recordable variable.
        if variables == "all" or (isinstance(variables, (list, tuple)) and "all" in variables):
            variables = list(self.population.celltype.recordable)
        super().record(variables, ids, sampling_interval, locations)

    def _native(self, variable: Any) -> str:
        if variable.location is not None:
            raise ConfigurationError("spinnlive cells are single-compartment: no locations")
        name: str = self.population.celltype.variable_map.get(variable.name, variable.name)
        return name

    def _indices(self, ids: Any) -> np.ndarray:
        return np.asarray(sorted(int(i) for i in ids), dtype=np.int64) - int(
            self.population.first_id)

    def _interval_ticks(self, interval: float) -> int:
        dt = self._simulator.state.dt
        ticks = int(round(interval / dt))
        if ticks < 1 or abs(ticks * dt - interval) > 1e-9 * max(1.0, interval):
            raise ConfigurationError(
                f"sampling_interval {interval} ms is not a multiple of the time step {dt} ms")
        return ticks

    def _record(self, variable: Any, new_ids: Any, sampling_interval: float | None = None) -> None:
        engine = self._simulator.state.engine
        key = self.population._key
        indices = self._indices(self.recorded[variable])  # the whole set: engine replaces it
        if variable.name == "spikes":
            engine.record(key, "spikes", indices, 1)
        else:
            if sampling_interval is not None:  # one interval per population (PyNN's rule)
                self.sampling_interval = float(sampling_interval)
            ticks = self._interval_ticks(self.sampling_interval)
            engine.record(key, self._native(variable), indices, ticks)

    def _get_spiketimes(self, ids: Any, clear: bool = False) -> tuple[np.ndarray, np.ndarray]:
        index, times = self._simulator.state.engine.spikes(self.population._key)
        wanted = self._indices(ids)
        mask = np.isin(index, wanted)
        return index[mask] + int(self.population.first_id), times[mask].astype(float)

    def _get_all_signals(self, variable: Any, ids: Any, clear: bool = False
                         ) -> tuple[np.ndarray, None]:
        values, recorded = self._simulator.state.engine.signal(
            self.population._key, self._native(variable))
        wanted = self._indices(ids)
        if wanted.size == 0:
            return np.array([]), None
        columns = np.searchsorted(recorded, wanted)
        return values[:, columns], None

    def _local_count(self, variable: Any, filter_ids: Any = None) -> dict[int, int]:
        ids = sorted(self.filter_recorded(variable, filter_ids))
        index, _ = self._get_spiketimes(ids)
        counts = dict.fromkeys((int(i) for i in ids), 0)
        found, n = np.unique(index, return_counts=True)
        counts.update(zip(found.tolist(), n.tolist()))
        return counts

    def _clear_simulator(self) -> None:
        self._simulator.state.engine.clear_recordings(self.population._key)

    def _reset(self) -> None:
        self._simulator.state.engine.stop_recording(self.population._key)
