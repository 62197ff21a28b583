"""Spike sources: Poisson processes, spike arrays and live injection, one ``step(tick)`` a tick.

Every source returns the indices that fire in tick ``k``; the network stamps them
``(k + 1) * dt`` and delivers them like neuron spikes. A neuron firing twice in one tick appears
twice. Any source also takes ``inject(ids)``: extra spikes emitted by its next step (the live
input path; ``InjectorGroup`` is a source with nothing else).

* ``SpikeArrayGroup``: a spike at ``T`` ms is emitted by tick ``T / dt - 1`` so it carries time
  ``T``, as NEST's spike_generator does on the grid; an off-grid time goes up to the next grid
  point, which is what a grid neuron receives through pyNN.nest's spike_generator -> parrot
  chain (``spike_precision='on_grid'``). Times at or before 0, or before the current tick when
  set, are skipped, as NEST skips them.
* ``PoissonGroup``: each neuron draws exponential inter-spike intervals in continuous time and a
  spike at ``t`` is emitted by the tick holding ``t``: counts per tick are Poisson(rate * dt)
  exactly, and the cost per tick is one comparison per neuron plus one draw per spike. Spikes
  fall in ``(start, start + duration]``. ``set_rates`` (or ``set_parameters``) redraws the
  affected neurons' next spike from the end of the last stepped tick (memorylessness makes this
  exact), so it takes effect from the next step. The group owns a private generator seeded from
  the ``rng`` it was given; ``reset_state`` re-seeds it, so a reset run repeats exactly.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from spinnlive.errors import ConfigurationError

from .grid import stamp_ticks

_EMPTY = np.empty(0, dtype=np.int64)


class SourceGroup:
    """Base of the spike sources; subclasses implement ``_emit``."""

    is_source: ClassVar[bool] = True
    PARAMETERS: ClassVar[dict[str, float]] = {}
    STATE: ClassVar[dict[str, float]] = {}

    def __init__(self, n: int, dt: float) -> None:
        if n < 0:
            raise ConfigurationError(f"a source group needs n >= 0, got {n}")
        self.n, self.dt = int(n), float(dt)
        self.state: dict[str, np.ndarray] = {}
        self._injected: list[np.ndarray] = []

    def inject(self, ids: np.ndarray) -> None:
        """Queue extra spikes of ``ids`` for the next step."""
        ids = np.asarray(ids, dtype=np.int64).ravel()
        if ids.size and (ids.min() < 0 or ids.max() >= self.n):
            raise ConfigurationError(f"injected index out of range 0..{self.n - 1}")
        self._injected.append(ids)

    def step(self, tick: int) -> np.ndarray:
        """Indices firing in ``tick`` (a new array)."""
        out = self._emit(tick)
        if self._injected:
            out = np.concatenate([out, *self._injected])
            self._injected.clear()
        return out

    def reset_state(self) -> None:
        self._injected.clear()

    def _emit(self, tick: int) -> np.ndarray:
        return _EMPTY.copy()


class InjectorGroup(SourceGroup):
    """A source that emits only what was injected since its last step (SpikeInjector)."""


class SpikeArrayGroup(SourceGroup):
    """PyNN SpikeSourceArray: fixed spike times in ms per neuron."""

    def __init__(self, n: int, dt: float, spike_times: list[np.ndarray] | None = None) -> None:
        super().__init__(n, dt)
        self._times: list[np.ndarray] = [np.empty(0) for _ in range(self.n)]
        self._next_tick = 0
        self.set_spike_times(spike_times if spike_times is not None else self._times)

    @property
    def spike_times(self) -> list[np.ndarray]:
        return [t.copy() for t in self._times]

    def set_spike_times(self, spike_times: list[np.ndarray],
                        ids: np.ndarray | None = None) -> None:
        """Replace the spike times of all neurons (or of ``ids``); past times are skipped."""
        ids = np.arange(self.n) if ids is None else np.asarray(ids, dtype=np.int64)
        if len(spike_times) != len(ids):
            raise ConfigurationError(
                f"got {len(spike_times)} spike trains for {len(ids)} neurons")
        for i, t in zip(ids, spike_times, strict=True):
            self._times[int(i)] = np.sort(np.asarray(t, dtype=np.float64).ravel())
        counts = np.array([t.size for t in self._times], dtype=np.int64)
        flat = np.concatenate([*self._times, np.empty(0)])
        ticks = stamp_ticks(flat, self.dt)
        owners = np.repeat(np.arange(self.n, dtype=np.int64), counts)
        order = np.argsort(ticks, kind="stable")
        self._ticks, self._ids = ticks[order], owners[order]
        self._pos = int(np.searchsorted(self._ticks, max(self._next_tick, 0), "left"))

    def reset_state(self) -> None:
        super().reset_state()
        self._next_tick = 0
        self._pos = int(np.searchsorted(self._ticks, 0, "left"))

    def _emit(self, tick: int) -> np.ndarray:
        ticks, pos = self._ticks, self._pos
        self._next_tick = tick + 1
        if pos >= ticks.size or ticks[pos] > tick:
            return _EMPTY.copy()
        lo = pos + int(np.searchsorted(ticks[pos:], tick, "left"))
        hi = lo + int(np.searchsorted(ticks[lo:], tick, "right"))
        self._pos = hi
        return self._ids[lo:hi].copy()


class PoissonGroup(SourceGroup):
    """PyNN SpikeSourcePoisson: rate (Hz), start (ms), duration (ms) per neuron."""

    PARAMETERS: ClassVar[dict[str, float]] = {"rate": 1.0, "start": 0.0, "duration": 1e10}

    def __init__(self, n: int, dt: float, rate: np.ndarray | float = 1.0,
                 start: np.ndarray | float = 0.0, duration: np.ndarray | float = 1e10,
                 rng: np.random.Generator | None = None) -> None:
        super().__init__(n, dt)
        rng = np.random.default_rng() if rng is None else rng
        self._seed = int(rng.integers(2**63))
        self.params = {k: np.full(self.n, v, dtype=np.float64)
                       for k, v in self.PARAMETERS.items()}
        self._next = np.full(self.n, np.inf)
        self._assign(None, {"rate": rate, "start": start, "duration": duration})
        self.reset_state()

    def reset_state(self) -> None:
        super().reset_state()
        self._rng = np.random.default_rng(self._seed)
        self._now = 0.0
        self._redraw(np.arange(self.n))

    def set_rates(self, ids: np.ndarray | None, rates: np.ndarray | float) -> None:
        """New rates (Hz) for ``ids`` (None: all), effective from the next step."""
        self.set_parameters(ids, rate=rates)

    def set_parameters(self, ids: np.ndarray | None = None,
                       **arrays: np.ndarray | float) -> None:
        """Change rate/start/duration of ``ids`` (None: all), effective from the next step."""
        self._assign(ids, arrays)
        self._redraw(np.arange(self.n) if ids is None else np.asarray(ids, dtype=np.int64))

    def _assign(self, ids: np.ndarray | None, arrays: dict[str, np.ndarray | float]) -> None:
        for name, value in arrays.items():
            if name not in self.params:
                raise ConfigurationError(f"SpikeSourcePoisson has no parameter {name!r}")
            if np.any(np.asarray(value) < 0):
                raise ConfigurationError(f"SpikeSourcePoisson {name} must be >= 0")
            self.params[name][slice(None) if ids is None else ids] = value

    def _redraw(self, ids: np.ndarray) -> None:
        p = self.params
        begin = np.maximum(self._now, p["start"][ids])
        with np.errstate(divide="ignore"):
            scale = 1000.0 / p["rate"][ids]
        nxt = begin + self._rng.exponential(np.minimum(scale, 1e300))
        stop = p["start"][ids] + p["duration"][ids]
        self._next[ids] = np.where(nxt <= stop, nxt, np.inf)

    def _emit(self, tick: int) -> np.ndarray:
        t_end = (tick + 1) * self.dt
        self._now = t_end
        due = np.flatnonzero(self._next <= t_end)
        if not due.size:
            return due
        out = [due]
        p = self.params
        while due.size:
            nxt = self._next[due] + self._rng.exponential(1000.0 / p["rate"][due])
            stop = p["start"][due] + p["duration"][due]
            self._next[due] = np.where(nxt <= stop, nxt, np.inf)
            due = due[self._next[due] <= t_end]
            if due.size:
                out.append(due)
        return out[0] if len(out) == 1 else np.concatenate(out)
