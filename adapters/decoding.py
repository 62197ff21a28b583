"""Decoders: spikes -> counts over a sliding window -> rates (Hz) -> values.

Theory of operation
-------------------
:class:`SpikeWindow` keeps, per population, the spikes of the last ``window_ticks`` ticks: after
the newest tick ``t`` it holds exactly the spikes with tick in ``(t - window_ticks, t]``. Spikes
arrive as ``(tick, ids)`` batches (one tick, a numpy array of neuron ids, duplicates allowed). It
stores them in a FIFO ring of ``(tick, id)`` pairs, sorted by tick, beside a running count per
neuron: a batch is added with one ``np.add.at``, and moving the window forward finds the expired
prefix with ``searchsorted`` and removes it with one ``np.subtract.at``. Every spike is added once
and removed once, so an update costs O(batch) amortised, independent of the population size, and
there is no Python loop per spike. The ring doubles when full, so nothing is lost to overflow;
its peak size is in :meth:`SpikeWindow.statistics`.

Rules for awkward input (all counted in :class:`WindowStatistics`, never raised, because the
batches come from the network):

* a batch whose tick is older than the newest tick but still inside the window is counted as if
  it had arrived at the newest tick (``late_batches``): the FIFO stays sorted, the spikes stay in
  the window a little longer instead of being lost;
* a batch older than the whole window is dropped (``dropped_stale``);
* ids outside ``0 .. n_neurons - 1`` are dropped (``dropped_out_of_range``).

Rates are ``count / (window_ticks * tick_ms / 1000)`` Hz: the full window, also during the first
``window_ticks`` ticks, where they therefore read low.

The value decoders invert the encoders of :mod:`spinnlive.adapters.encoding`, configured by the
same dataclass: :func:`decode_rates` inverts :class:`RateCode` (mean over each value's neurons,
then the inverse linear map), :func:`population_vector` inverts :class:`TuningCurves`::

    linear:   v = sum_i w_i p_i / sum_i w_i
    circular: v = low + P / (2 pi) * arg(sum_i w_i exp(2 pi i (p_i - low) / P))

with weights ``w_i = max(r_i - baseline, 0)`` (so the baseline carries no vote). A population
with no weight at all gives NaN: "no estimate", which a closed loop must treat as such.
:class:`PushPull` decodes a pair of motor populations into a command in ``[-1, 1]``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from spinnlive.errors import ConfigurationError

from .encoding import FloatArray, IntArray, RateCode, TuningCurves

__all__ = ["PushPull", "SpikeWindow", "WindowStatistics", "decode_rates", "population_vector"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class WindowStatistics:
    """Counters of one :class:`SpikeWindow` (spikes unless the name says batches)."""

    received: int
    expired: int
    held: int
    peak_held: int
    capacity: int
    late_batches: int
    dropped_stale: int
    dropped_out_of_range: int


class SpikeWindow:
    """Spike counts per neuron over the last ``window_ticks`` ticks of one population."""

    def __init__(
        self, n_neurons: int, window_ticks: int, *, tick_ms: float = 1.0, capacity: int = 1024
    ) -> None:
        if n_neurons < 1 or window_ticks < 1 or tick_ms <= 0 or capacity < 1:
            raise ConfigurationError(
                "SpikeWindow needs n_neurons >= 1, window_ticks >= 1, tick_ms > 0, capacity >= 1;"
                f" got {n_neurons}, {window_ticks}, {tick_ms}, {capacity}")
        self.n_neurons = n_neurons
        self.window_ticks = window_ticks
        self.tick_ms = tick_ms
        self._counts = np.zeros(n_neurons, dtype=np.int64)
        self._ticks = np.empty(capacity, dtype=np.int64)
        self._ids = np.empty(capacity, dtype=np.int64)
        self._head = 0  # ring index of the oldest held spike
        self._size = 0
        self._now: int | None = None
        self._received = self._expired = self._peak = 0
        self._late = self._stale = self._out_of_range = 0

    @property
    def now(self) -> int | None:
        """Newest tick seen (``None`` before the first batch or advance)."""
        return self._now

    def add(self, tick: int, ids: npt.ArrayLike) -> None:
        """Count the spikes ``ids`` (1-D integer array) of tick ``tick``."""
        tick = int(tick)
        batch = np.asarray(ids)
        if batch.ndim != 1 or (batch.size and batch.dtype.kind not in "iu"):
            raise ConfigurationError(
                f"SpikeWindow.add needs a 1-D integer array of ids, got {batch.dtype}{batch.shape}")
        if self._now is None or tick > self._now:
            self.advance(tick)
        elif tick < self._now:
            if tick <= self._now - self.window_ticks:
                self._stale += batch.size
                return
            self._late += 1
        assert self._now is not None
        batch = batch.astype(np.int64, copy=False)
        valid = (batch >= 0) & (batch < self.n_neurons)
        if not valid.all():
            self._out_of_range += int(batch.size - np.count_nonzero(valid))
            batch = batch[valid]
        if batch.size == 0:
            return
        np.add.at(self._counts, batch, 1)
        self._push(self._now, batch)
        self._received += batch.size

    def advance(self, tick: int) -> None:
        """Move the window's end to ``tick`` (never backwards), expiring older spikes."""
        tick = int(tick)
        if self._now is not None and tick <= self._now:
            return
        self._now = tick
        cutoff = tick - self.window_ticks  # spikes with tick <= cutoff leave the window
        first, second = self._segments()
        n_first = int(np.searchsorted(self._ticks[first], cutoff, side="right"))
        n_second = 0
        if n_first == first.stop - first.start:
            n_second = int(np.searchsorted(self._ticks[second], cutoff, side="right"))
        if n_first:
            np.subtract.at(self._counts, self._ids[first.start:first.start + n_first], 1)
        if n_second:
            np.subtract.at(self._counts, self._ids[:n_second], 1)
        gone = n_first + n_second
        self._head = (self._head + gone) % self._ticks.size
        self._size -= gone
        self._expired += gone

    def counts(self) -> IntArray:
        """Spikes per neuron in the window, shape ``(n_neurons,)`` (a copy)."""
        return self._counts.copy()

    def rates(self) -> FloatArray:
        """Firing rate per neuron (Hz) over the full window, shape ``(n_neurons,)``."""
        return self._counts / (self.window_ticks * self.tick_ms / 1000.0)

    def reset(self) -> None:
        """Forget every spike and the current tick; statistics keep counting."""
        self._counts[:] = 0
        self._head = self._size = 0
        self._now = None

    def statistics(self) -> WindowStatistics:
        return WindowStatistics(
            received=self._received, expired=self._expired, held=self._size,
            peak_held=self._peak, capacity=int(self._ticks.size), late_batches=self._late,
            dropped_stale=self._stale, dropped_out_of_range=self._out_of_range)

    def _segments(self) -> tuple[slice, slice]:
        """The held spikes as ring slices, oldest first: ``[head, end)`` then ``[0, wrap)``."""
        capacity = self._ticks.size
        end = self._head + self._size
        if end <= capacity:
            return slice(self._head, end), slice(0, 0)
        return slice(self._head, capacity), slice(0, end - capacity)

    def _push(self, tick: int, batch: IntArray) -> None:
        needed = self._size + batch.size
        if needed > self._ticks.size:
            self._grow(max(2 * self._ticks.size, needed))
        capacity = self._ticks.size
        start = (self._head + self._size) % capacity
        n_first = min(batch.size, capacity - start)
        self._ticks[start:start + n_first] = tick
        self._ids[start:start + n_first] = batch[:n_first]
        rest = batch.size - n_first
        if rest:
            self._ticks[:rest] = tick
            self._ids[:rest] = batch[n_first:]
        self._size = needed
        self._peak = max(self._peak, needed)

    def _grow(self, capacity: int) -> None:
        first, second = self._segments()
        ticks = np.empty(capacity, dtype=np.int64)
        ids = np.empty(capacity, dtype=np.int64)
        ticks[:self._size] = np.concatenate((self._ticks[first], self._ticks[second]))
        ids[:self._size] = np.concatenate((self._ids[first], self._ids[second]))
        self._ticks, self._ids, self._head = ticks, ids, 0
        logger.debug("SpikeWindow ring grown to %d spikes", capacity)


def decode_rates(code: RateCode, rates: npt.ArrayLike) -> FloatArray:
    """Values ``(..., n_values)`` from rates (Hz) ``(..., n_neurons)``: inverse of ``encode``.

    The ``neurons_per_value`` rates of each value are averaged, mapped back linearly and clipped
    to ``[low, high]`` (noise can push a mean past the ends of the rate range).
    """
    r = np.asarray(rates, dtype=np.float64)
    if r.ndim == 0 or r.shape[-1] != code.n_neurons:
        raise ConfigurationError(
            f"decode_rates expects rates of shape (..., {code.n_neurons}), got {r.shape}")
    mean = r.reshape(*r.shape[:-1], code.n_values, code.neurons_per_value).mean(axis=-1)
    low, high = code.bounds()
    fraction = (mean - code.min_rate) / (code.max_rate - code.min_rate)
    return np.clip(low + fraction * (high - low), low, high)


def population_vector(curves: TuningCurves, rates: npt.ArrayLike) -> FloatArray:
    """Values ``(...)`` from rates (Hz) ``(..., n_neurons)``: inverse of ``curves.encode``.

    NaN where no neuron fires above the baseline. Linear estimates are clipped to
    ``[low, high]``; circular ones lie in ``[low, high)``.
    """
    r = np.asarray(rates, dtype=np.float64)
    if r.ndim == 0 or r.shape[-1] != curves.n_neurons:
        raise ConfigurationError(
            f"population_vector expects rates of shape (..., {curves.n_neurons}), got {r.shape}")
    weights = np.maximum(r - curves.baseline_rate, 0.0)
    total = weights.sum(axis=-1)
    silent = total <= 0.0
    with np.errstate(invalid="ignore", divide="ignore"):
        if curves.circular:
            angle = 2.0 * np.pi * (curves.preferred - curves.low) / curves.period
            mean_angle = np.arctan2(weights @ np.sin(angle), weights @ np.cos(angle))
            values = curves.wrap(curves.low + curves.period * mean_angle / (2.0 * np.pi))
        else:
            values = np.clip((weights @ curves.preferred) / total, curves.low, curves.high)
    return np.where(silent, np.nan, values)


@dataclass(frozen=True, slots=True)
class PushPull:
    """A command in ``[-1, 1]`` carried by two motor populations ("push left" / "push right").

    ``command = clip(gain * (mean(right) - mean(left)) / max_rate, -1, 1)``: positive drives
    right. Opposing activity cancels, so both populations firing together means "hold".
    """

    max_rate: float = 100.0
    gain: float = 1.0

    def __post_init__(self) -> None:
        if not self.max_rate > 0 or not self.gain > 0:
            raise ConfigurationError(
                f"PushPull needs max_rate > 0 and gain > 0, got {self.max_rate}, {self.gain}")

    def encode(self, command: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
        """``(left_rates, right_rates)`` (Hz) that decode to ``command``.

        Each has shape ``command.shape + (1,)``: one rate per population, to broadcast over its
        neurons. Only one side fires: ``right = max_rate * max(c, 0) / gain``, ``left`` likewise
        for ``-c``, after clipping ``c`` to ``[-1, 1]``.
        """
        c = np.clip(np.asarray(command, dtype=np.float64), -1.0, 1.0) * self.max_rate / self.gain
        c = c[..., np.newaxis]
        return np.maximum(-c, 0.0), np.maximum(c, 0.0)

    def decode(self, left_rates: npt.ArrayLike, right_rates: npt.ArrayLike) -> FloatArray:
        """Command from the rates (Hz) of both populations, each ``(..., n)``: shape ``(...)``."""
        left = np.asarray(left_rates, dtype=np.float64)
        right = np.asarray(right_rates, dtype=np.float64)
        if left.ndim == 0 or right.ndim == 0:
            raise ConfigurationError("PushPull.decode needs rate arrays of shape (..., n)")
        difference = right.mean(axis=-1) - left.mean(axis=-1)
        return np.clip(self.gain * difference / self.max_rate, -1.0, 1.0)
