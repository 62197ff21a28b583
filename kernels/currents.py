"""Injected-current sources: DC, step, AC and noisy, each giving the current of a tick per target.

``step(tick)`` returns the current (nA) that flows into each attached target **during** tick
``tick`` (the neuron's ``i_ext``). The timing is what pyNN.nest produces with NEST's generators
at ``min_delay = dt``: pyNN moves start/stop/amplitude times one ``min_delay`` earlier and connects
the generator with that delay, and NEST makes a generator's value reach a neuron's membrane one
step after arrival. The net effect, checked against NEST in the tests:

* a change at ``T`` ms acts from tick ``round(T / dt)``, and a current stops at tick
  ``round(stop / dt)`` (exclusive), but
* nothing flows before tick ``EARLIEST_TICK = 2`` (pyNN clips the corrected times at 0 and the
  generator-to-neuron path needs two steps), and
* ``ACSource`` gives, during tick ``k``, the sine at ``(k - 1) * dt - max(start - dt, 0)``:
  NEST's oscillator runs from time 0 and lags by the generator delay, and pyNN.nest corrects
  the phase by the delay-corrected (clipped) start. For ``start >= dt`` that is the sine at
  ``k * dt - start``; for ``start = 0`` it lags one tick.

A source may feed several target blocks (``attach`` returns the slice of its output for one
block). ``record()`` keeps the current of the first target per tick, stamped ``tick * dt``,
which is the trace pyNN.nest reports.
"""

from __future__ import annotations

import numpy as np

from .grid import time_ticks

EARLIEST_TICK = 2


class CurrentSource:
    """Base: subclasses implement ``_values(tick) -> np.ndarray`` of length ``n_targets``."""

    def __init__(self, dt: float) -> None:
        self.dt = float(dt)
        self.n_targets = 0
        self._recording = False
        self._trace: list[float] = []
        self._trace_ticks: list[int] = []

    def attach(self, n: int) -> slice:
        """Reserve ``n`` more targets; returns their slice of ``step``'s output."""
        sl = slice(self.n_targets, self.n_targets + n)
        self.n_targets += n
        return sl

    def record(self, on: bool = True) -> None:
        self._recording = on

    def recorded(self) -> tuple[np.ndarray, np.ndarray]:
        """``(times_ms, current_nA)`` of the first target, one sample per stepped tick."""
        return np.asarray(self._trace_ticks) * self.dt, np.asarray(self._trace)

    def clear_recording(self) -> None:
        self._trace.clear()
        self._trace_ticks.clear()

    def reset_state(self) -> None:
        self.clear_recording()

    def step(self, tick: int) -> np.ndarray:
        vals = self._values(tick)
        if self._recording:
            self._trace_ticks.append(tick)
            self._trace.append(float(vals[0]) if vals.size else 0.0)
        return vals

    def peek(self, tick: int) -> np.ndarray:
        """The current ``step(tick)`` will give, without recording it or advancing a stream."""
        return self._values(tick).copy()

    def _values(self, tick: int) -> np.ndarray:
        raise NotImplementedError

    def _window(self, start: float, stop: float) -> tuple[int, int]:
        return max(int(time_ticks(start, self.dt)), EARLIEST_TICK), int(time_ticks(stop, self.dt))


class DCSource(CurrentSource):
    """Constant ``amplitude`` (nA) from ``start`` to ``stop`` (ms)."""

    def __init__(self, dt: float, amplitude: float = 1.0, start: float = 0.0,
                 stop: float = 1e12) -> None:
        super().__init__(dt)
        self.set_parameters(amplitude=amplitude, start=start, stop=stop)

    def set_parameters(self, amplitude: float | None = None, start: float | None = None,
                       stop: float | None = None) -> None:
        self.amplitude = self.amplitude if amplitude is None else float(amplitude)
        self.start = self.start if start is None else float(start)
        self.stop = self.stop if stop is None else float(stop)
        self._first, self._last = self._window(self.start, self.stop)

    def _values(self, tick: int) -> np.ndarray:
        on = self._first <= tick < self._last
        return np.full(self.n_targets, self.amplitude if on else 0.0)


class StepCurrentSource(CurrentSource):
    """Piecewise-constant current: ``amplitudes[i]`` (nA) from ``times[i]`` (ms) on, 0 before."""

    def __init__(self, dt: float, times: np.ndarray, amplitudes: np.ndarray) -> None:
        super().__init__(dt)
        self.set_parameters(times, amplitudes)

    def set_parameters(self, times: np.ndarray, amplitudes: np.ndarray) -> None:
        self.times = np.asarray(times, dtype=np.float64)
        self.amplitudes = np.asarray(amplitudes, dtype=np.float64)
        ticks = np.maximum(time_ticks(self.times, self.dt), EARLIEST_TICK)
        # several changes landing on one tick: the last one wins, as in pyNN.nest
        keep = np.r_[ticks[1:] != ticks[:-1], True] if ticks.size else ticks.astype(bool)
        self._ticks, self._amps = ticks[keep], self.amplitudes[keep]

    def _values(self, tick: int) -> np.ndarray:
        i = int(np.searchsorted(self._ticks, tick, "right")) - 1
        return np.full(self.n_targets, self._amps[i] if i >= 0 else 0.0)


class ACSource(CurrentSource):
    """``offset + amplitude * sin(2 pi frequency t / 1000 + phase)`` (nA, Hz, degrees)."""

    def __init__(self, dt: float, amplitude: float = 1.0, offset: float = 0.0,
                 frequency: float = 10.0, phase: float = 0.0, start: float = 0.0,
                 stop: float = 1e12) -> None:
        super().__init__(dt)
        self.amplitude, self.offset, self.frequency, self.phase = (
            float(amplitude), float(offset), float(frequency), float(phase))
        self.start, self.stop = float(start), float(stop)
        self._first, self._last = self._window(self.start, self.stop)

    def _values(self, tick: int) -> np.ndarray:
        if not self._first <= tick < self._last:
            return np.zeros(self.n_targets)
        omega = 2.0 * np.pi * self.frequency / 1000.0
        t = (tick - 1) * self.dt - max(self.start - self.dt, 0.0)
        value = self.amplitude * np.sin(omega * t + np.deg2rad(self.phase)) + self.offset
        return np.full(self.n_targets, value)


class NoisyCurrentSource(CurrentSource):
    """Gaussian current, a new independent value per target every ``dt`` ms of the noise."""

    def __init__(self, dt: float, mean: float = 0.0, stdev: float = 1.0, noise_dt: float = 1.0,
                 start: float = 0.0, stop: float = 1e12,
                 rng: np.random.Generator | None = None) -> None:
        super().__init__(dt)
        self.mean, self.stdev = float(mean), float(stdev)
        self._every = max(int(time_ticks(noise_dt, dt)), 1)
        self.start, self.stop = float(start), float(stop)
        self._first, self._last = self._window(self.start, self.stop)
        rng = np.random.default_rng() if rng is None else rng
        self._seed = int(rng.integers(2**63))
        self.reset_state()

    def reset_state(self) -> None:
        super().reset_state()
        self._rng = np.random.default_rng(self._seed)
        self._current = np.zeros(self.n_targets)

    def peek(self, tick: int) -> np.ndarray:
        saved = self._rng.bit_generator.state, self._current
        try:
            return self._values(tick).copy()
        finally:
            self._rng.bit_generator.state, self._current = saved

    def _values(self, tick: int) -> np.ndarray:
        if not self._first <= tick < self._last:
            return np.zeros(self.n_targets)
        if self._current.size != self.n_targets or (tick - self._first) % self._every == 0:
            self._current = self.mean + self.stdev * self._rng.standard_normal(self.n_targets)
        return self._current
