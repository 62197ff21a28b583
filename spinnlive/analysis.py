"""Spike-train statistics shared by the tests, the bench scripts and the CLI.

All functions take the vectorised form ``(ids, times_ms)`` (what the engine and pyNN's
``SpikeTrainList`` hold) and never loop over spikes in Python. Conventions:

* rates are spikes per neuron per second over ``[t_start, t_stop)``, silent neurons included;
* the CV of inter-spike intervals is averaged over neurons with at least ``min_spikes`` spikes;
* the population-rate spectrum is Welch's estimate of the mean-subtracted spike-count histogram
  (``bin_ms`` bins), and the peak is searched inside ``[f_min, f_max]`` Hz.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class PopulationStats:
    """Summary of one population's activity over a window."""

    rate_hz: float
    cv_isi: float
    peak_hz: float
    n_spikes: int


def spike_arrays(spiketrains: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(ids, times_ms)`` from a neo segment's spike trains (ids are positions in the list)."""
    trains = list(spiketrains)
    if not trains:
        return np.zeros(0, np.int64), np.zeros(0)
    counts = [len(t) for t in trains]
    times = np.concatenate([np.asarray(t.rescale("ms").magnitude, dtype=float) for t in trains])
    return np.repeat(np.arange(len(trains)), counts), times


def _window(ids: np.ndarray, times: np.ndarray, t_start: float, t_stop: float
            ) -> tuple[np.ndarray, np.ndarray]:
    keep = (times >= t_start) & (times < t_stop)
    return np.asarray(ids)[keep], np.asarray(times, dtype=float)[keep]


def mean_rate(ids: np.ndarray, times: np.ndarray, n_neurons: int,
              t_start: float, t_stop: float) -> float:
    """Mean firing rate (Hz) per neuron in the window."""
    _, t = _window(ids, times, t_start, t_stop)
    return float(t.size / n_neurons / ((t_stop - t_start) / 1000.0))


def mean_cv_isi(ids: np.ndarray, times: np.ndarray, t_start: float, t_stop: float,
                min_spikes: int = 3) -> float:
    """Mean over neurons (with >= ``min_spikes`` spikes) of std(ISI)/mean(ISI); NaN if none."""
    i, t = _window(ids, times, t_start, t_stop)
    order = np.lexsort((t, i))
    i, t = i[order], t[order]
    same = i[1:] == i[:-1]
    isi, owner = np.diff(t)[same], i[1:][same]
    if isi.size == 0:
        return float("nan")
    uniq, inv, n = np.unique(owner, return_inverse=True, return_counts=True)
    s1 = np.bincount(inv, isi)
    s2 = np.bincount(inv, isi * isi)
    mean = s1 / n
    var = np.maximum(s2 / n - mean * mean, 0.0)
    ok = (n >= min_spikes - 1) & (mean > 0)
    if not ok.any():
        return float("nan")
    return float(np.mean(np.sqrt(var[ok]) / mean[ok]))


def rate_spectrum(times: np.ndarray, t_start: float, t_stop: float, bin_ms: float = 1.0,
                  segment_ms: float = 2048.0) -> tuple[np.ndarray, np.ndarray]:
    """Welch power spectrum of the population spike-count histogram: ``(freqs_hz, power)``."""
    from scipy import signal as sps  # here: importing scipy.signal costs ~1 s, rarely needed

    edges = np.arange(t_start, t_stop + bin_ms / 2, bin_ms)
    counts, _ = np.histogram(np.asarray(times, dtype=float), edges)
    x = counts - counts.mean()
    nperseg = int(min(len(x), max(8, round(segment_ms / bin_ms))))
    freqs, power = sps.welch(x, fs=1000.0 / bin_ms, nperseg=nperseg)
    return np.asarray(freqs), np.asarray(power)


def spectral_peak(times: np.ndarray, t_start: float, t_stop: float, f_min: float = 2.0,
                  f_max: float = 100.0, bin_ms: float = 1.0) -> float:
    """Frequency (Hz) of the largest power of the population rate inside [f_min, f_max]."""
    freqs, power = rate_spectrum(times, t_start, t_stop, bin_ms)
    band = (freqs >= f_min) & (freqs <= f_max)
    if not band.any() or not np.any(power[band] > 0):
        return float("nan")
    return float(freqs[band][np.argmax(power[band])])


def summarize(ids: np.ndarray, times: np.ndarray, n_neurons: int, t_start: float,
              t_stop: float) -> PopulationStats:
    """Rate, mean ISI CV and spectral peak of one population over a window."""
    _, t = _window(ids, times, t_start, t_stop)
    return PopulationStats(
        rate_hz=mean_rate(ids, times, n_neurons, t_start, t_stop),
        cv_isi=mean_cv_isi(ids, times, t_start, t_stop),
        peak_hz=spectral_peak(times, t_start, t_stop),
        n_spikes=int(t.size),
    )
