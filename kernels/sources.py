"""Spike sources: Poisson processes, spike arrays and live injection, one ``step(tick)`` a tick.

Every source returns the indices that fire in tick ``k``; the network stamps them
``(k + 1) * dt`` and delivers them like neuron spikes. A neuron firing twice in one tick appears
twice. Any source also takes ``inject(ids)``: extra spikes emitted by its next step (the live
input path; ``InjectorGroup`` is a source with nothing else).

* ``SpikeArrayGroup``: a spike at ``T`` ms is emitted by tick ``T / dt - 1`` so it carries time
  ``T``, as NEST's spike_generator does on the grid; an off-grid time goes up to the next grid
  point, which is what a grid neuron receives through pyNN.nest's spike_generator -> parrot
  chain (``spike_precision='on_grid'``). A time of exactly 0 is emitted by tick 0, as
  sPyNNaker emits it in its first timestep. Nothing is dropped silently: a negative time, or
  one that a ``set_spike_times`` during a run puts before the tick in progress, cannot be
  emitted and is counted in ``skipped`` by reason (``take_skipped``; the engine logs it); ``unemitted()`` counts
  the times still ahead (after the end of the run, when the simulation ends).
* ``PoissonGroup``: each neuron draws exponential inter-spike intervals in continuous time and a
  spike at ``t`` is emitted by the tick holding ``t``: counts per tick are Poisson(rate * dt)
  exactly, and the cost per tick is one comparison per neuron plus one draw per spike. Spikes
  fall in ``(start, start + duration]``. ``set_rates`` (or ``set_parameters``) redraws the
  affected neurons' next spike from the end of the last stepped tick (memorylessness makes this
  exact), so it takes effect from the next step. The group owns a private xoshiro256** state
  (``rng``) seeded from the ``rng`` it was given; ``reset_state`` re-seeds it, so a reset run
  repeats exactly. A neuron due twice in one tick is emitted twice, consecutively.

The emission loops are compiled (``emit_poisson``, ``emit_array``) and shared with the
network's tick loop (``ticks``); they append to a growable ``out`` buffer and return it with
the new count. Layout as for neurons: ``_s`` holds the per-neuron state (Poisson: the next spike
time and the segment it belongs to), ``_k`` the constants (Poisson: per segment, mean interval
ms, start, stop; SpikeSourcePoisson has one segment, ``VariablePoissonGroup`` one per rate of
its schedule), ``_i`` integer tables (spike arrays: emitting tick and index, sorted by tick;
Poisson: the generator state).
"""

from __future__ import annotations

from typing import ClassVar

import numba
import numpy as np

from spinnlive.errors import ConfigurationError

from . import layout
from .grid import stamp_ticks
from .rng import exponential, seed_state, uniform

_EMPTY = np.empty(0, dtype=np.int64)

#: group kinds of the network's compiled dispatch (neuron models use 10 and up)
KIND_POISSON, KIND_ARRAY, KIND_INJECTOR = 1, 2, 3
#: reasons a spike-array time is not emitted (``SpikeArrayGroup.skipped``)
SKIP_NEGATIVE, SKIP_PAST = "negative time", "before the current time"


@numba.njit(cache=True)
def grow(out, need):  # pragma: no cover - compiled
    """``out`` itself if it has room for ``need`` entries, else a copy at least twice as large.

    Never called inside a per-neuron loop: a loop that may rebind an array pays reference
    counting on every iteration (measured: 10x the cost of the Poisson loop itself).
    """
    if need <= out.shape[0]:
        return out
    new = np.empty(max(need, 2 * out.shape[0]), dtype=out.dtype)
    for i in range(out.shape[0]):  # a loop, not a slice assignment: see ticks's docstring
        new[i] = out[i]
    return new


#: rows of one segment in a renewal source's ``_k``: mean stage interval (ms), start, stop,
#: stages per interval (gamma order), dead time (ms)
SEGMENT_ROWS = 5


@numba.njit(cache=True, inline="always")
def _interval(k, r, j, state):  # pragma: no cover - compiled
    """One inter-spike interval of the segment whose rows start at ``r``: the dead time plus
    ``order`` exponential stages (Poisson: one stage, no dead time)."""
    scale = k[r, j]
    x = k[r + 4, j] + exponential(state) * scale
    for _ in range(int(k[r + 3, j]) - 1):
        x += exponential(state) * scale
    return x


@numba.njit(cache=True, inline="always")
def _first_interval(k, r, j, state):  # pragma: no cover - compiled
    """Time to the first spike of a renewal process entered in its stationary state: the
    forward recurrence time. Poisson: one exponential (no other draw, so a Poisson stream is
    the same as a plain exponential one). Gamma of order ``q``: ``1 + U{0..q-1}`` stages left.
    Dead time ``d``: inside it with probability ``d / (d + mean exponential part)``, then a
    uniform part of it is left (a model has stages > 1 or a dead time, not both)."""
    scale, order, dead = k[r, j], int(k[r + 3, j]), k[r + 4, j]
    x = 0.0
    if dead > 0.0 and uniform(state) * (dead + order * scale) < dead:
        x = uniform(state) * dead
    stages = order if order <= 1 else 1 + min(int(uniform(state) * order), order - 1)
    for _ in range(stages):
        x += exponential(state) * scale
    return x


@numba.njit(cache=True, inline="always")
def _next_in_schedule(k, j, seg, x, state):  # pragma: no cover - compiled
    """The first spike at or after candidate ``x`` of segment ``seg``, moving on through the
    later segments while ``x`` falls past a segment's stop (each segment's process starts
    afresh, stationary, at its start). Returns ``(time or inf, segment)``."""
    n_seg = k.shape[0] // SEGMENT_ROWS
    while x > k[SEGMENT_ROWS * seg + 2, j]:
        seg += 1
        if seg >= n_seg:
            return np.inf, seg
        r = SEGMENT_ROWS * seg
        x = k[r + 1, j] + _first_interval(k, r, j, state)
    return x, seg


@numba.njit(cache=True)
def emit_poisson(s, k, rng, t_end, out, n_out, j):  # pragma: no cover - compiled
    """Append neurons ``j..`` whose next spike is at or before ``t_end`` ms; draw their next.

    Returns ``(n_out, j)``: ``j == n`` when done, else ``out`` filled up at neuron ``j``
    (call again with a larger ``out`` from there: the state is consistent).
    """
    nxt, seg = s[0], s[1]
    state = rng[0]
    cap = out.shape[0]
    while j < nxt.shape[0]:
        while nxt[j] <= t_end:
            if n_out == cap:
                return n_out, j
            out[n_out] = j
            n_out += 1
            m = int(seg[j])
            r = SEGMENT_ROWS * m
            x = nxt[j] + _interval(k, r, j, state)
            if x <= k[r + 2, j]:  # the common case: still in this segment
                nxt[j] = x
            else:
                nxt[j], seg[j] = _next_in_schedule(k, j, m, x, state)
        j += 1
    return n_out, j


@numba.njit(cache=True)
def redraw_poisson(s, k, rng, ids, now):  # pragma: no cover - compiled
    """Next spike of ``ids`` drawn afresh (stationary) from ``now``, in the segment holding
    ``now``."""
    state = rng[0]
    n_seg = k.shape[0] // SEGMENT_ROWS
    for j in ids:
        m = 0
        while m < n_seg - 1 and k[SEGMENT_ROWS * m + 2, j] <= now:
            m += 1
        r = SEGMENT_ROWS * m
        x = max(now, k[r + 1, j]) + _first_interval(k, r, j, state)
        s[0, j], s[1, j] = _next_in_schedule(k, j, m, x, state)


@numba.njit(cache=True)
def emit_array(table, pos, tick, out, n_out):  # pragma: no cover - compiled
    """Append the entries stamped ``tick`` (skipping older ones) from ``pos``.

    Returns ``(n_out, pos, done)``; not done means ``out`` is full (call again, larger).
    """
    ticks, ids = table[0], table[1]
    m, cap = ticks.shape[0], out.shape[0]
    while pos < m and ticks[pos] < tick:
        pos += 1
    while pos < m and ticks[pos] == tick:
        if n_out == cap:
            return n_out, pos, False
        out[n_out] = ids[pos]
        n_out += 1
        pos += 1
    return n_out, pos, True


class SourceGroup:
    """Base of the spike sources; subclasses implement ``_emit``."""

    is_source: ClassVar[bool] = True
    KIND: ClassVar[int] = KIND_INJECTOR
    PARAMETERS: ClassVar[dict[str, float]] = {}
    STATE: ClassVar[dict[str, float]] = {}

    def __init__(self, n: int, dt: float) -> None:
        if n < 0:
            raise ConfigurationError(f"a source group needs n >= 0, got {n}")
        self.n, self.dt = int(n), float(dt)
        self.state: dict[str, np.ndarray] = {}
        self._injected: list[np.ndarray] = []
        self._s = np.zeros((0, 0), dtype=np.float64)
        self._k = np.zeros((0, 0), dtype=np.float64)
        self._i = np.zeros((0, 0), dtype=np.int64)

    def inject(self, ids: np.ndarray) -> None:
        """Queue extra spikes of ``ids`` for the next step."""
        ids = np.asarray(ids, dtype=np.int64).ravel()
        if ids.size and (ids.min() < 0 or ids.max() >= self.n):
            raise ConfigurationError(f"injected index out of range 0..{self.n - 1}")
        self._injected.append(ids)

    def take_injected(self) -> np.ndarray:
        """The queued spikes, removed from the queue."""
        if not self._injected:
            return _EMPTY
        out = np.concatenate(self._injected)
        self._injected.clear()
        return out

    def step(self, tick: int) -> np.ndarray:
        """Indices firing in ``tick`` (a new array)."""
        out = self._emit(tick)
        if self._injected:
            out = np.concatenate([out, self.take_injected()])
        return out

    def reset_state(self) -> None:
        self._injected.clear()

    def advanced(self, tick: int, cursor: int) -> None:
        """The network ran this group's emission up to (excluding) ``tick``."""

    def cursor(self) -> int:
        """Integer position the network's loop keeps for this group (spike arrays)."""
        return 0

    def _emit(self, tick: int) -> np.ndarray:
        return _EMPTY.copy()


class InjectorGroup(SourceGroup):
    """A source that emits only what was injected since its last step (SpikeInjector)."""


class SpikeArrayGroup(SourceGroup):
    """PyNN SpikeSourceArray: fixed spike times in ms per neuron."""

    KIND: ClassVar[int] = KIND_ARRAY

    def __init__(self, n: int, dt: float, spike_times: list[np.ndarray] | None = None) -> None:
        super().__init__(n, dt)
        self._times: list[np.ndarray] = [np.empty(0) for _ in range(self.n)]
        self._next_tick = 0
        self._pos = 0
        #: spike times that could not be emitted, by reason (see the module docstring)
        self.skipped: dict[str, int] = {SKIP_NEGATIVE: 0, SKIP_PAST: 0}
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
        changed_ids = []
        for i, t in zip(ids, spike_times, strict=True):
            new = np.sort(np.asarray(t, dtype=np.float64).ravel())
            if not np.array_equal(new, self._times[int(i)]):
                changed_ids.append(int(i))
            self._times[int(i)] = new
        counts = np.array([t.size for t in self._times], dtype=np.int64)
        flat = np.concatenate([*self._times, np.empty(0)])
        ticks = stamp_ticks(flat, self.dt)
        owners = np.repeat(np.arange(self.n, dtype=np.int64), counts)
        changed = np.isin(owners, changed_ids)
        negative = ticks < 0
        self.skipped[SKIP_NEGATIVE] += int(np.count_nonzero(negative & changed))
        past = ~negative & (ticks < self._next_tick)
        self.skipped[SKIP_PAST] += int(np.count_nonzero(past & changed))
        keep = ~negative
        ticks, owners = ticks[keep], owners[keep]
        order = np.argsort(ticks, kind="stable")
        self._i = np.ascontiguousarray(np.stack([ticks[order], owners[order]]), dtype=np.int64)
        layout.changed()
        self._pos = int(np.searchsorted(self._i[0], self._next_tick, "left"))

    def take_skipped(self) -> dict[str, int]:
        """The non-zero ``skipped`` counts since the last call, and zero them."""
        out = {reason: count for reason, count in self.skipped.items() if count}
        self.skipped = dict.fromkeys(self.skipped, 0)
        return out

    def unemitted(self) -> int:
        """Spike times not emitted yet (the tick in progress and later ones)."""
        return int(self._i.shape[1] - self._pos)

    def reset_state(self) -> None:
        super().reset_state()
        self._next_tick = 0
        self._pos = int(np.searchsorted(self._i[0], 0, "left"))

    def advanced(self, tick: int, cursor: int) -> None:
        self._next_tick, self._pos = tick, cursor

    def cursor(self) -> int:
        return self._pos

    def _emit(self, tick: int) -> np.ndarray:
        out, n_out, pos, done = np.empty(8, np.int64), 0, self._pos, False
        while not done:
            out = grow(out, n_out + 1)
            n_out, pos, done = emit_array(self._i, pos, tick, out, n_out)
        self.advanced(tick + 1, pos)
        return out[:n_out].copy()


class PoissonGroup(SourceGroup):
    """PyNN SpikeSourcePoisson: rate (Hz), start (ms), duration (ms) per neuron.

    The base of the renewal sources: a subclass names its ``PARAMETERS`` and turns them into
    the segment's mean stage interval, stage count and dead time (``_renewal``).
    """

    KIND: ClassVar[int] = KIND_POISSON
    NAME: ClassVar[str] = "SpikeSourcePoisson"
    PARAMETERS: ClassVar[dict[str, float]] = {"rate": 1.0, "start": 0.0, "duration": 1e10}

    def __init__(self, n: int, dt: float, rng: np.random.Generator | None = None,
                 **params: np.ndarray | float) -> None:
        super().__init__(n, dt)
        rng = np.random.default_rng() if rng is None else rng
        self._seed = int(rng.integers(2**63))
        self.params = {k: np.full(self.n, v, dtype=np.float64)
                       for k, v in self.PARAMETERS.items()}
        self._s = np.full((2, self.n), np.inf)  # next spike, its segment
        self._k = np.zeros((SEGMENT_ROWS, self.n), dtype=np.float64)  # one segment
        self._i = seed_state(self._seed).reshape(1, 4)
        self._now = 0.0
        self._assign(None, params)
        self.reset_state()

    def reset_state(self) -> None:
        super().reset_state()
        self._i[0] = seed_state(self._seed)
        self._now = 0.0
        self._redraw(np.arange(self.n))

    def advanced(self, tick: int, cursor: int) -> None:
        self._now = tick * self.dt

    def set_rates(self, ids: np.ndarray | None, rates: np.ndarray | float) -> None:
        """New rates (Hz) for ``ids`` (None: all), effective from the next step."""
        self.set_parameters(ids, rate=rates)

    def set_parameters(self, ids: np.ndarray | None = None,
                       **arrays: np.ndarray | float) -> None:
        """Change parameters of ``ids`` (None: all), effective from the next step."""
        self._assign(ids, arrays)
        self._redraw(np.arange(self.n) if ids is None else np.asarray(ids, dtype=np.int64))

    def _assign(self, ids: np.ndarray | None, arrays: dict[str, np.ndarray | float]) -> None:
        for name, value in arrays.items():
            if name not in self.params:
                raise ConfigurationError(f"{self.NAME} has no parameter {name!r}; it has "
                                         f"{sorted(self.params)}")
            if np.any(np.asarray(value) < 0):
                raise ConfigurationError(f"{self.NAME} {name} must be >= 0")
            self.params[name][slice(None) if ids is None else ids] = value
        p = self.params
        scale, order, dead = self._renewal(p)
        self._k[0] = scale
        self._k[1] = p["start"]
        self._k[2] = p["start"] + p["duration"]
        self._k[3] = order
        self._k[4] = dead

    def _renewal(self, p: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(mean stage interval ms, stages per interval, dead time ms) per neuron."""
        return _mean_interval_ms(p["rate"]), np.ones(self.n), np.zeros(self.n)

    def _redraw(self, ids: np.ndarray) -> None:
        redraw_poisson(self._s, self._k, self._i, np.ascontiguousarray(ids, dtype=np.int64),
                       self._now)

    def _emit(self, tick: int) -> np.ndarray:
        t_end = (tick + 1) * self.dt
        self._now = t_end
        out, n_out, j = np.empty(16, np.int64), 0, 0
        while j < self.n:
            out = grow(out, n_out + 1)
            n_out, j = emit_poisson(self._s, self._k, self._i, t_end, out, n_out, j)
        return out[:n_out].copy()


def _mean_interval_ms(rate_hz: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.minimum(1000.0 / np.asarray(rate_hz, dtype=np.float64), 1e300)


class VariablePoissonGroup(PoissonGroup):
    """sPyNNaker's SpikeSourcePoissonVariable: per neuron, a schedule of rates (Hz), each from
    its start (ms) for its duration (ms; default until the next start, the last one forever),
    silent outside them. A segment ends at ``min(start + duration, next start)``.

    The schedule is the Poisson kernel's segment table (``SEGMENT_ROWS`` rows per segment of
    ``_k``; neurons with fewer segments are padded with
    segments that never start), so the compiled emission and the network's loop are the
    SpikeSourcePoisson ones.
    """

    PARAMETERS: ClassVar[dict[str, float]] = {}

    def __init__(self, n: int, dt: float, rates: list[np.ndarray], starts: list[np.ndarray],
                 durations: list[np.ndarray] | None = None,
                 rng: np.random.Generator | None = None) -> None:
        SourceGroup.__init__(self, n, dt)
        rng = np.random.default_rng() if rng is None else rng
        self._seed = int(rng.integers(2**63))
        self.params = {}
        self._s = np.full((2, self.n), np.inf)
        self._k = np.zeros((SEGMENT_ROWS, self.n), dtype=np.float64)
        self._i = seed_state(self._seed).reshape(1, 4)
        self._now = 0.0
        self.set_schedule(rates, starts, durations)
        self.reset_state()

    def set_schedule(self, rates: list[np.ndarray], starts: list[np.ndarray],
                     durations: list[np.ndarray] | None = None) -> None:
        """Replace every neuron's schedule; takes effect from the next step."""
        if durations is None:
            durations = [np.full(np.size(r), np.inf) for r in rates]
        if not len(rates) == len(starts) == len(durations) == self.n:
            raise ConfigurationError(
                f"SpikeSourcePoissonVariable needs rates, starts and durations for each of its "
                f"{self.n} neurons (got {len(rates)}, {len(starts)}, {len(durations)})")
        rows = []
        for j, (r, t0, d) in enumerate(zip(rates, starts, durations, strict=True)):
            r, t0, d = (np.asarray(x, dtype=np.float64).ravel() for x in (r, t0, d))
            if not r.size == t0.size == d.size:
                raise ConfigurationError(
                    f"SpikeSourcePoissonVariable neuron {j}: {r.size} rates, {t0.size} starts, "
                    f"{d.size} durations")
            if np.any(r < 0) or np.any(t0 < 0) or np.any(d < 0) or np.any(np.diff(t0) < 0):
                raise ConfigurationError(
                    f"SpikeSourcePoissonVariable neuron {j}: rates, starts and durations must "
                    "be >= 0 and the starts ascending")
            stops = np.minimum(t0 + d, np.append(t0[1:], np.inf))
            rows.append(np.stack([_mean_interval_ms(r), t0, stops, np.ones(r.size),
                                  np.zeros(r.size)]))
        n_seg = max([1, *(row.shape[1] for row in rows)])
        never = np.array([[1.0], [np.inf], [np.inf], [1.0], [0.0]])  # a segment never started
        table = np.tile(never, (n_seg, self.n))
        for j, row in enumerate(rows):
            table[:SEGMENT_ROWS * row.shape[1], j] = row.T.ravel()
        if table.shape != self._k.shape:
            layout.changed()
        self._k = np.ascontiguousarray(table)
        self._redraw(np.arange(self.n))

    def set_parameters(self, ids: np.ndarray | None = None,
                       **arrays: np.ndarray | float) -> None:
        raise ConfigurationError("SpikeSourcePoissonVariable's schedule changes with "
                                 "set_schedule (rates, starts, durations), not per parameter")


class GammaGroup(PoissonGroup):
    """PyNN SpikeSourceGamma (NEST gamma_sup_generator): intervals Gamma(``alpha``, ``beta``),
    ``alpha`` a whole number of exponential stages of rate ``beta`` Hz each (NEST's
    ``gamma_shape`` is an integer too), so the mean rate is ``beta / alpha`` and the ISI CV
    ``1 / sqrt(alpha)``; started in the stationary state, as NEST's generator is."""

    NAME: ClassVar[str] = "SpikeSourceGamma"
    PARAMETERS: ClassVar[dict[str, float]] = {
        "alpha": 2.0, "beta": 1.0, "start": 0.0, "duration": 1e10}

    def _renewal(self, p: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        alpha = p["alpha"]
        if np.any(alpha < 1) or np.any(alpha != np.round(alpha)):
            raise ConfigurationError(
                f"SpikeSourceGamma alpha must be a whole number >= 1 (NEST's gamma_shape), got "
                f"{alpha[(alpha < 1) | (alpha != np.round(alpha))][0]}")
        return _mean_interval_ms(p["beta"]), alpha, np.zeros(self.n)


class PoissonRefractoryGroup(PoissonGroup):
    """PyNN SpikeSourcePoissonRefractory (NEST ppd_sup_generator): a Poisson process with dead
    time ``tau_refrac`` ms whose mean rate is ``rate``: each interval is the dead time plus an
    exponential of mean ``1000 / rate - tau_refrac``; the ISI CV is ``1 - rate tau_refrac``."""

    NAME: ClassVar[str] = "SpikeSourcePoissonRefractory"
    PARAMETERS: ClassVar[dict[str, float]] = {
        "rate": 1.0, "tau_refrac": 0.0, "start": 0.0, "duration": 1e10}

    def _renewal(self, p: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        rest = _mean_interval_ms(p["rate"]) - p["tau_refrac"]
        if np.any(rest <= 0):
            raise ConfigurationError("SpikeSourcePoissonRefractory needs rate * tau_refrac < 1 "
                                     "(a mean interval longer than the dead time)")
        return rest, np.ones(self.n), p["tau_refrac"].copy()
