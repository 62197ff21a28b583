"""Millisecond <-> tick conversions, done the way NEST's ``nest::Time`` does them.

NEST keeps time in integer *tics* (1000 per ms by default) and converts to steps with three
different rules; spike times only match NEST on the grid if each conversion uses the same one:

* ``refractory_ticks``: ``Time(Time::ms(t)).get_steps()``: ms -> tics rounded half up, then tics
  -> steps rounded **up** (so ``t_ref = 0.15`` at ``dt = 0.1`` is 2 steps).
* ``delay_ticks``: ``Time::delay_ms_to_steps``: ``floor(ms * steps_per_ms + 0.5)`` (round half
  up; 2.55 ms at dt 0.1 is 26 ticks, which ``2.55 / 0.1`` would make 25).
* ``stamp_ticks``: ``Time::ms_stamp``: tics truncated, then moved up to the end of the step
  holding the time; a spike stamped ``T`` is emitted by the update of tick ``T / dt - 1``.
  ``T = 0`` has no such tick: it is emitted by tick 0, as sPyNNaker emits it in its first
  timestep (NEST refuses a spike_generator time of 0; see the README's PyNN section).

Tick ``k`` is the update that takes the state from ``k * dt`` to ``(k + 1) * dt``; anything it
emits (a spike) carries the time ``(k + 1) * dt``.
"""

from __future__ import annotations

import numpy as np

from spinnlive.errors import ConfigurationError

TICS_PER_MS = 1000.0


def tics_per_step(dt: float) -> int:
    """Tics in one step; ``dt`` must be a whole number of tics (NEST demands the same)."""
    tps = int(np.floor(dt * TICS_PER_MS + 0.5))
    if tps < 1 or abs(tps / TICS_PER_MS - dt) > 1e-12:
        raise ConfigurationError(f"time step {dt} ms is not a multiple of 1/{TICS_PER_MS:g} ms")
    return tps


def refractory_ticks(t_ref: np.ndarray | float, dt: float) -> np.ndarray:
    """Steps of refractoriness for ``t_ref`` ms, as ``Time(Time::ms(t_ref)).get_steps()``."""
    tps = tics_per_step(dt)
    tics = (np.asarray(t_ref, dtype=np.float64) * TICS_PER_MS + 0.5).astype(np.int64)
    return (tics + tps - 1) // tps


def delay_ticks(delays_ms: np.ndarray | float, dt: float) -> np.ndarray:
    """Synaptic delays in steps, rounded half up as ``Time::delay_ms_to_steps``."""
    steps_per_ms = 1.0 / (tics_per_step(dt) / TICS_PER_MS)  # NEST multiplies, never divides
    return np.floor(np.asarray(delays_ms, dtype=np.float64) * steps_per_ms + 0.5).astype(np.int64)


def stamp_ticks(times_ms: np.ndarray, dt: float) -> np.ndarray:
    """Tick that emits a source spike given at ``times_ms``, as ``Time::ms_stamp`` rounds it.

    Tics are truncated and an off-grid time moves **up** to the end of its step, which is what
    grid-based neurons receive from NEST's spike_generator (checked in the tests). A time of
    exactly 0 gives tick 0 (sPyNNaker's first timestep); a negative time gives a negative tick,
    which no update emits (the caller counts it).
    """
    tps = tics_per_step(dt)
    t = np.asarray(times_ms, dtype=np.float64)
    n = (t * TICS_PER_MS).astype(np.int64)
    n -= n % tps
    n = np.where(n / tps * dt < t, n + tps, n)
    ticks = n // tps - 1
    return np.where(t == 0.0, 0, ticks)


def time_ticks(times_ms: np.ndarray | float, dt: float) -> np.ndarray:
    """Nearest step of ``times_ms`` (device start/stop and amplitude times on the grid)."""
    return np.floor(np.asarray(times_ms, dtype=np.float64) / dt + 0.5).astype(np.int64)
