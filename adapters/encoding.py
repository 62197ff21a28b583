"""Encoders: values -> firing rates (Hz) -> spikes, for injection into a spiking network.

Theory of operation
-------------------
Two codes, each a frozen dataclass holding only its configuration, so one object describes the
code on both sides of a closed loop (:mod:`spinnlive.adapters.decoding` inverts the same object).

*Rate code* (:class:`RateCode`): each value ``v`` (one of a vector of ``n_values``) drives
``neurons_per_value`` neurons at the same rate, a linear map of ``[low, high]`` onto
``[min_rate, max_rate]``::

    r(v) = min_rate + (clip(v, low, high) - low) / (high - low) * (max_rate - min_rate)

Neuron ``j`` of value ``i`` has id ``i * neurons_per_value + j`` (value-major), so a population of
``n_values * neurons_per_value`` neurons carries the whole vector. Several neurons per value
average out Poisson noise: the decoder's variance falls as ``1 / neurons_per_value``.

*Tuning curves* (:class:`TuningCurves`, place / population coding): ``n_neurons`` neurons with
preferred values ``p_i`` spread evenly; neuron ``i`` fires at::

    Gaussian (linear range):  r_i(v) = b + (m - b) * exp(-(v - p_i)^2 / (2 w^2))
    von Mises (circular):     r_i(v) = b + (m - b) * exp(kappa * (cos(2 pi (v - p_i) / P) - 1))

with baseline ``b``, peak ``m``, width ``w`` (value units), period ``P = high - low`` and
``kappa = (P / (2 pi w))^2``, so a narrow von Mises curve has the same shape as a Gaussian of
standard deviation ``w``. On a linear range the preferred values extend ``edge_widths * w`` beyond
``[low, high]``: a value at the range's end then still sees a complete, symmetric bump, which is
what keeps the population-vector decoder unbiased there. On a circle they sit at
``low + P * i / n_neurons`` and the code wraps (``low`` and ``high`` are the same point).

Rates become spikes through :func:`poisson_spikes` (an exact Poisson process binned to ticks), or,
for direct injection without noise, through :meth:`TuningCurves.active_ids` / :func:`k_most_active`
(the ids of the ``k`` most driven neurons, one spike each).

Shapes: values ``(..., n_values)`` -> rates ``(..., n_values * neurons_per_value)`` for the rate
code; values ``(...)`` -> rates ``(..., n_neurons)`` for tuning curves. Rates are float64 in Hz.
Ticks are integers of ``tick_ms`` milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from spinnlive.errors import ConfigurationError

__all__ = ["RateCode", "TuningCurves", "k_most_active", "poisson_spikes"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class RateCode:
    """Linear rate code of ``n_values`` values, ``neurons_per_value`` neurons each.

    ``low``/``high`` are floats or one per value (tuples); rates are in Hz.
    """

    low: float | tuple[float, ...]
    high: float | tuple[float, ...]
    n_values: int = 1
    neurons_per_value: int = 1
    min_rate: float = 0.0
    max_rate: float = 100.0

    def __post_init__(self) -> None:
        if self.n_values < 1 or self.neurons_per_value < 1:
            raise ConfigurationError(
                f"RateCode needs n_values >= 1 and neurons_per_value >= 1, got "
                f"{self.n_values} and {self.neurons_per_value}")
        low, high = self.bounds()
        if not np.all(high > low):
            raise ConfigurationError(f"RateCode needs high > low per value, got {low} .. {high}")
        if not 0.0 <= self.min_rate < self.max_rate:
            raise ConfigurationError(
                f"RateCode needs 0 <= min_rate < max_rate, got {self.min_rate}, {self.max_rate}")

    @property
    def n_neurons(self) -> int:
        """Size of the population that carries the whole vector."""
        return self.n_values * self.neurons_per_value

    def bounds(self) -> tuple[FloatArray, FloatArray]:
        """``(low, high)`` as float arrays of shape ``(n_values,)``."""
        shape = (self.n_values,)
        try:
            low = np.broadcast_to(np.asarray(self.low, dtype=np.float64), shape)
            high = np.broadcast_to(np.asarray(self.high, dtype=np.float64), shape)
        except ValueError as exc:
            raise ConfigurationError(
                f"RateCode low/high must be scalars or {self.n_values} values each") from exc
        return low, high

    def encode(self, values: npt.ArrayLike) -> FloatArray:
        """Rates (Hz), shape ``(..., n_neurons)``, for values of shape ``(..., n_values)``.

        A scalar counts as one value when ``n_values == 1``. Values outside ``[low, high]`` are
        clipped: a rate code cannot say "more than the maximum".
        """
        v = np.asarray(values, dtype=np.float64)
        if v.ndim == 0 or v.shape[-1] != self.n_values:
            if self.n_values != 1:
                raise ConfigurationError(
                    f"RateCode expects values of shape (..., {self.n_values}), got {v.shape}")
            v = v[..., np.newaxis]
        low, high = self.bounds()
        fraction = (np.clip(v, low, high) - low) / (high - low)
        rates = self.min_rate + fraction * (self.max_rate - self.min_rate)
        return np.repeat(rates, self.neurons_per_value, axis=-1)


@dataclass(frozen=True, slots=True)
class TuningCurves:
    """A population of ``n_neurons`` with Gaussian (or von Mises, ``circular``) tuning curves.

    ``width`` is in value units; rates are in Hz. See the module docstring for the formulas.
    """

    low: float
    high: float
    n_neurons: int
    width: float
    max_rate: float = 100.0
    baseline_rate: float = 0.0
    circular: bool = False
    edge_widths: float = 3.0

    def __post_init__(self) -> None:
        if self.n_neurons < 2:
            raise ConfigurationError(f"TuningCurves needs n_neurons >= 2, got {self.n_neurons}")
        if not self.high > self.low:
            raise ConfigurationError(
                f"TuningCurves needs high > low, got {self.low} .. {self.high}")
        if not self.width > 0:
            raise ConfigurationError(f"TuningCurves needs width > 0, got {self.width}")
        if not 0.0 <= self.baseline_rate < self.max_rate:
            raise ConfigurationError(
                "TuningCurves needs 0 <= baseline_rate < max_rate, got "
                f"{self.baseline_rate}, {self.max_rate}")
        if self.edge_widths < 0:
            raise ConfigurationError(f"edge_widths must be >= 0, got {self.edge_widths}")

    @property
    def period(self) -> float:
        """``high - low``: the circle's circumference when ``circular``."""
        return self.high - self.low

    @property
    def kappa(self) -> float:
        """von Mises concentration matching a Gaussian of std ``width`` near its peak."""
        return float((self.period / (2.0 * np.pi * self.width)) ** 2)

    @property
    def preferred(self) -> FloatArray:
        """Preferred values ``p_i``, shape ``(n_neurons,)``, increasing."""
        if self.circular:
            return self.low + self.period * np.arange(self.n_neurons) / self.n_neurons
        margin = self.edge_widths * self.width
        return np.linspace(self.low - margin, self.high + margin, self.n_neurons)

    def wrap(self, values: npt.ArrayLike) -> FloatArray:
        """Values mapped into ``[low, high)`` (circular) or clipped to ``[low, high]``."""
        v = np.asarray(values, dtype=np.float64)
        if self.circular:
            wrapped = self.low + np.mod(v - self.low, self.period)
            # mod of a tiny negative offset rounds to the full period: that point is ``low``
            return np.where(wrapped >= self.high, self.low, wrapped)
        return np.clip(v, self.low, self.high)

    def encode(self, values: npt.ArrayLike) -> FloatArray:
        """Rates (Hz), shape ``(..., n_neurons)``, for values of shape ``(...)``."""
        v = self.wrap(values)[..., np.newaxis]
        delta = v - self.preferred
        if self.circular:
            shape = np.exp(self.kappa * (np.cos(2.0 * np.pi * delta / self.period) - 1.0))
        else:
            shape = np.exp(-0.5 * (delta / self.width) ** 2)
        return self.baseline_rate + (self.max_rate - self.baseline_rate) * shape

    def active_ids(self, values: npt.ArrayLike, k: int) -> IntArray:
        """Ids of the ``k`` neurons most driven by each value: shape ``(..., k)``.

        For injecting a value as one volley of spikes instead of Poisson trains.
        """
        return k_most_active(self.encode(values), k)


def k_most_active(rates: npt.ArrayLike, k: int) -> IntArray:
    """Ids of the ``k`` largest rates along the last axis, strongest first.

    Ties go to the lower id (a stable sort), so the same rates always select the same neurons.
    Shape ``(..., n) -> (..., k)``; ``1 <= k <= n``.
    """
    r = np.asarray(rates, dtype=np.float64)
    if r.ndim == 0 or not 1 <= k <= r.shape[-1]:
        raise ConfigurationError(f"k must be in 1..{r.shape[-1] if r.ndim else 0}, got {k}")
    return np.argsort(-r, axis=-1, kind="stable")[..., :k].astype(np.int64)


def poisson_spikes(
    rates: npt.ArrayLike,
    n_ticks: int,
    *,
    tick_ms: float = 1.0,
    rng: np.random.Generator,
    first_tick: int = 0,
) -> tuple[IntArray, IntArray]:
    """Spikes of independent Poisson processes, binned to ticks: ``(ticks, ids)``.

    ``rates`` (Hz) has shape ``(n_neurons,)`` and is held constant over ``n_ticks`` ticks, or has
    shape ``(n_ticks, n_neurons)`` for a rate that changes every tick. Each (tick, neuron) bin
    holds ``Poisson(rate * tick_ms / 1000)`` spikes, so counts over any window are exactly
    Poisson; a neuron can appear more than once in a tick (rarely, when ``rate * tick`` << 1).
    Output is sorted by tick, then id, ready to be fed tick by tick.
    """
    r = np.asarray(rates, dtype=np.float64)
    if r.ndim == 1:
        r = np.broadcast_to(r, (n_ticks, r.shape[0]))
    if r.ndim != 2 or r.shape[0] != n_ticks or np.any(r < 0):
        raise ConfigurationError(
            f"rates must be non-negative, shape (n_neurons,) or ({n_ticks}, n_neurons); "
            f"got shape {np.shape(rates)}")
    counts = rng.poisson(r * (tick_ms / 1000.0)).ravel()
    flat = np.repeat(np.arange(counts.size, dtype=np.int64), counts)
    ticks, ids = np.divmod(flat, r.shape[1])
    return ticks + first_tick, ids
