"""The network description a PyNN script builds, and its lock-step run on the kernels' Network.

Theory of operation
-------------------
The front end describes populations, synapse blocks, current sources and recordings here, as
plain arrays (no PyNN objects cross this boundary). Nothing is simulated until the first
:meth:`Simulation.run_until`, which maps populations onto cores (``neurons_per_core``), builds
one kernel group per population, one ``Network.connect`` per synapse block and one kernel current
per source, each phase timed and logged the way sPyNNaker's toolchain logs its algorithms.
Anything added or changed later is forwarded to the live ``Network`` at once.

Rules
-----
* Population parameter/initial arrays are shared with the front end: it writes them in place and
  calls :meth:`parameters_changed` / :meth:`initial_changed` with the names it touched.
* Recordings belong to a segment that starts at tick 0 (reset) or at the tick of the last
  :meth:`clear_recordings`. Signals come back on the tick grid ``start, start + interval, ...,
  now``; samples that were never taken (a recording added mid-segment) are NaN, so the shape is
  always what PyNN expects.
* Random streams (Poisson sources, noisy currents) are seeded from ``(seed, key)``: the same seed
  gives the same run, and a reset run repeats the first one exactly.
* Lock-step only: ``realtime`` and ``time_scale_factor`` are stored for the real-time scheduler
  and reported, never used to sleep here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import numpy as np

from ..errors import ConfigurationError

logger = logging.getLogger(__name__)

DEFAULT_NEURONS_PER_CORE = 256
SOURCE_MODELS = ("SpikeSourcePoisson", "SpikeSourceArray")
_CURRENT_NAMES = {"NoisyCurrentSource": {"dt": "noise_dt"}}


@dataclass(frozen=True)
class PhaseTiming:
    """How long one named build or run phase took (wall seconds)."""

    name: str
    seconds: float


@dataclass(eq=False)
class PopulationRecord:
    key: int
    label: str
    model: str
    size: int
    parameters: dict[str, np.ndarray]
    initial: dict[str, np.ndarray]
    gid: int | None = None
    group: Any = None
    cores: list[slice] = field(default_factory=list)


@dataclass(eq=False)
class SynapseBlock:
    pre: int
    post: int
    pre_idx: np.ndarray
    post_idx: np.ndarray
    weights: np.ndarray
    delays: np.ndarray
    receptor: str
    handle: Any = None


@dataclass(eq=False)
class CurrentRecord:
    kind: str
    parameters: dict[str, Any]
    targets: list[tuple[int, np.ndarray]]
    seed: int | None = None
    recording: bool = False
    source: Any = None


@dataclass(eq=False)
class Recording:
    """One recorded variable of one population within the current segment."""

    indices: np.ndarray
    interval: int
    pieces: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=list)


class Simulation:
    """A network description plus, once run, the kernels ``Network`` that simulates it."""

    def __init__(self, dt: float, *, seed: int = 0, realtime: bool = False,
                 time_scale_factor: float | None = None,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self.dt = float(dt)
        self.seed = int(seed)
        self.realtime = realtime
        self.time_scale_factor = time_scale_factor
        self.clock = clock
        self.neurons_per_core: dict[str, int] = {}
        self.populations: list[PopulationRecord] = []
        self.synapses: list[SynapseBlock] = []
        self.currents: list[CurrentRecord] = []
        self.recordings: dict[tuple[int, str], Recording] = {}
        self.phases: list[PhaseTiming] = []
        self.progress: Callable[[int, int], None] | None = None
        self.net: Any = None
        self._starts: dict[int, int] = {}  # population key -> tick its segment starts

    @property
    def tick(self) -> int:
        return 0 if self.net is None else int(self.net.tick)

    # -- description ------------------------------------------------------------------------
    def add_population(self, label: str, model: str, size: int,
                       parameters: dict[str, np.ndarray], initial: dict[str, np.ndarray]) -> int:
        rec = PopulationRecord(len(self.populations), label, model, int(size), parameters,
                               initial)
        self.populations.append(rec)
        if self.net is not None:
            self._build_population(rec)
        return rec.key

    def add_projection(self, pre: int, post: int, pre_idx: np.ndarray, post_idx: np.ndarray,
                       weights: np.ndarray, delays: np.ndarray, receptor: str) -> int:
        block = SynapseBlock(pre, post, np.asarray(pre_idx, np.int64),
                             np.asarray(post_idx, np.int64), np.asarray(weights, float),
                             np.asarray(delays, float), receptor)
        self.synapses.append(block)
        if self.net is not None:
            self._build_synapses(block)
        return len(self.synapses) - 1

    def add_current(self, kind: str, parameters: dict[str, Any],
                    targets: list[tuple[int, np.ndarray]], seed: int | None = None) -> int:
        """A current source; ``seed`` (noisy sources) defaults to one derived from the run's."""
        rec = CurrentRecord(kind, dict(parameters), list(targets), seed)
        self.currents.append(rec)
        if self.net is not None:
            self._build_current(rec)
        return len(self.currents) - 1

    def add_current_targets(self, key: int, targets: list[tuple[int, np.ndarray]]) -> None:
        rec = self.currents[key]
        rec.targets.extend(targets)
        if rec.source is not None:
            for pop, indices in targets:
                self.net.add_current(self.populations[pop].gid, rec.source, indices)

    # -- changes ----------------------------------------------------------------------------
    def parameters_changed(self, key: int, names: list[str]) -> None:
        rec = self.populations[key]
        if rec.group is None:
            return
        if rec.model == "SpikeSourceArray":
            rec.group.set_spike_times(_spike_lists(rec.parameters["spike_times"]))
        else:
            rec.group.set_parameters(**{n: rec.parameters[n] for n in names})

    def initial_changed(self, key: int, names: list[str]) -> None:
        rec = self.populations[key]
        if rec.group is not None and rec.model not in SOURCE_MODELS:
            rec.group.set_initial_values(**{n: rec.initial[n] for n in names})

    def set_synapses(self, key: int, weights: np.ndarray, delays: np.ndarray) -> None:
        block = self.synapses[key]
        block.weights, block.delays = np.asarray(weights, float), np.asarray(delays, float)
        if block.handle is not None:
            block.handle.weights = block.weights
            block.handle.delays = block.delays

    def set_current_parameters(self, key: int, parameters: dict[str, Any]) -> None:
        rec = self.currents[key]
        rec.parameters.update(parameters)
        if rec.source is None:
            return
        if not hasattr(rec.source, "set_parameters"):
            raise ConfigurationError(
                f"{rec.kind} parameters cannot change after the first run yet")
        rec.source.set_parameters(**_current_kwargs(rec.kind, rec.parameters))

    # -- recording --------------------------------------------------------------------------
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
        """``(times_ms, nA)`` of a recorded current source (empty before the first run)."""
        rec = self.currents[key]
        if rec.source is None:
            return np.zeros(0), np.zeros(0)
        return rec.source.recorded()

    def record_current(self, key: int) -> None:
        rec = self.currents[key]
        rec.recording = True
        if rec.source is not None:
            rec.source.record(True)

    # -- running ----------------------------------------------------------------------------
    def run_until(self, tick: int) -> None:
        if self.net is None:
            self._build()
        n = int(tick) - self.tick
        if n < 0:
            raise ConfigurationError(f"cannot run back from tick {self.tick} to {tick}")
        logger.info("Simulating for %d %g ms timesteps (lock-step)", n, self.dt)
        with self._phase("Run"):
            chunk = max(1, n // 20)
            done = 0
            while done < n:
                step = min(chunk, n - done)
                self.net.run(step)
                done += step
                if self.progress is not None:
                    self.progress(done, n)

    def reset(self) -> None:
        self._starts.clear()
        for recording in self.recordings.values():
            recording.pieces = []
        if self.net is not None:
            self.net.reset()

    # -- building ---------------------------------------------------------------------------
    def _phase(self, name: str) -> _Phase:
        return _Phase(self, name)

    def _build(self) -> None:
        from spinnlive.kernels.network import Network

        with self._phase("Mapping"):
            for rec in self.populations:
                per_core = self.neurons_per_core.get(rec.model, DEFAULT_NEURONS_PER_CORE)
                rec.cores = [slice(lo, min(rec.size, lo + per_core))
                             for lo in range(0, rec.size, per_core)]
            n_cores = sum(len(r.cores) for r in self.populations)
            logger.info("%d populations on %d cores", len(self.populations), n_cores)
        self.net = Network(self.dt)
        with self._phase("Neuron groups"):
            for rec in self.populations:
                self._build_population(rec)
        with self._phase("Synaptic matrices"):
            for block in self.synapses:
                self._build_synapses(block)
            self.net._build()
        with self._phase("Current sources"):
            for current in self.currents:
                self._build_current(current)
        with self._phase("Recording"):
            for (key, variable), recording in self.recordings.items():
                self._start_kernel_recording(self.populations[key], variable, recording)

    def _build_population(self, rec: PopulationRecord) -> None:
        from spinnlive.kernels import sources
        from spinnlive.kernels.neurons import MODELS

        p = rec.parameters
        if rec.model == "SpikeSourcePoisson":
            rng = np.random.default_rng([self.seed, rec.key])
            group = sources.PoissonGroup(rec.size, self.dt, rate=p["rate"], start=p["start"],
                                         duration=p["duration"], rng=rng)
        elif rec.model == "SpikeSourceArray":
            group = sources.SpikeArrayGroup(rec.size, self.dt, _spike_lists(p["spike_times"]))
        elif rec.model in MODELS:
            group = MODELS[rec.model](rec.size, self.dt, **p)
            group.set_initial_values(**rec.initial)
        else:
            raise ConfigurationError(f"population {rec.label!r}: no kernel for {rec.model}")
        rec.group = group
        rec.gid = self.net.add_group(group)

    def _build_synapses(self, block: SynapseBlock) -> None:
        pre, post = self.populations[block.pre], self.populations[block.post]
        block.handle = self.net.connect(pre.gid, post.gid, block.pre_idx, block.post_idx,
                                        block.weights, block.delays, block.receptor)

    def _build_current(self, rec: CurrentRecord) -> None:
        from spinnlive.kernels import currents

        kind = getattr(currents, rec.kind)
        kwargs = _current_kwargs(rec.kind, rec.parameters)
        if rec.kind == "NoisyCurrentSource":
            seed = [self.seed, 1 << 20, self.currents.index(rec)] if rec.seed is None else rec.seed
            kwargs["rng"] = np.random.default_rng(seed)
        rec.source = kind(self.dt, **kwargs)
        rec.source.record(rec.recording)
        for key, indices in rec.targets:
            self.net.add_current(self.populations[key].gid, rec.source, indices)

    def _start_kernel_recording(self, rec: PopulationRecord, variable: str,
                                recording: Recording) -> None:
        self.net.record(rec.gid, variable, recording.indices)
        if variable != "spikes" and self.tick > 0:  # the kernel samples only after a step
            values = rec.group.state[variable][recording.indices].copy()
            recording.pieces.append((np.array([self.tick]), values[None, :], recording.indices))

    def _read_kernel(self, rec: PopulationRecord, variable: str, recording: Recording
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if variable == "spikes":
            ids, times = self.net.spikes(rec.gid)
            return ids, times, np.zeros(0)
        times, values = self.net.signal(rec.gid, variable)
        ticks = np.floor(times / self.dt + 0.5).astype(np.int64)
        return ticks, values, recording.indices


class _Phase:
    """Context manager timing one phase into ``Simulation.phases`` and the log."""

    def __init__(self, sim: Simulation, name: str) -> None:
        self.sim, self.name = sim, name

    def __enter__(self) -> None:
        self.started = self.sim.clock()

    def __exit__(self, *exc: object) -> None:
        seconds = self.sim.clock() - self.started
        self.sim.phases.append(PhaseTiming(self.name, seconds))
        logger.info("Time %s taken by %s", timedelta(seconds=seconds), self.name)


def _spike_lists(values: np.ndarray) -> list[np.ndarray]:
    return [np.asarray(getattr(v, "value", v), dtype=float).ravel() for v in values]


def _current_kwargs(kind: str, parameters: dict[str, Any]) -> dict[str, Any]:
    names = _CURRENT_NAMES.get(kind, {})
    return {names.get(k, k): _plain(v) for k, v in parameters.items()}


def _plain(value: Any) -> Any:
    value = getattr(value, "value", value)  # pyNN Sequence -> ndarray
    arr = np.asarray(value, dtype=float)
    return float(arr) if arr.ndim == 0 else arr

