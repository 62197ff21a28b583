"""spinnlive.analysis against direct per-neuron computations and synthetic processes."""

from __future__ import annotations

import numpy as np
import pytest

from spinnlive import analysis


def poisson_population(n: int, rate_of_t: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Spikes of n neurons with a per-millisecond rate profile (Hz), on a 1 ms grid."""
    rng = np.random.default_rng(seed)
    fire = rng.random((n, rate_of_t.size)) < rate_of_t[None, :] / 1000.0
    ids, t = np.nonzero(fire)
    return ids, t.astype(float) + 0.5


def test_rate_and_cv_match_per_neuron_computation() -> None:
    ids, times = poisson_population(50, np.full(4000, 20.0), seed=1)
    assert analysis.mean_rate(ids, times, 50, 0.0, 4000.0) == pytest.approx(
        times.size / 50 / 4.0)
    cvs = []
    for i in range(50):
        isi = np.diff(np.sort(times[ids == i]))
        if isi.size >= 2:
            cvs.append(isi.std() / isi.mean())
    assert analysis.mean_cv_isi(ids, times, 0.0, 4000.0) == pytest.approx(np.mean(cvs))
    assert 0.85 < np.mean(cvs) < 1.1  # Poisson


def test_regular_firing_has_zero_cv_and_window_excludes_outside() -> None:
    ids = np.repeat(np.arange(3), 10)
    times = np.tile(np.arange(10) * 25.0 + 5.0, 3)  # 5, 30, ..., 230 ms
    assert analysis.mean_cv_isi(ids, times, 0.0, 300.0) == pytest.approx(0.0, abs=1e-12)
    assert analysis.mean_rate(ids, times, 3, 0.0, 100.0) == pytest.approx(4 / 0.1)
    assert np.isnan(analysis.mean_cv_isi(ids[:1], times[:1], 0.0, 300.0))


def test_spectral_peak_finds_the_modulation_frequency() -> None:
    t = np.arange(5000)
    ids, times = poisson_population(200, 10.0 * (1 + 0.8 * np.sin(2 * np.pi * 11.7 * t / 1e3)),
                                    seed=2)
    assert analysis.spectral_peak(times, 0.0, 5000.0) == pytest.approx(11.7, abs=0.6)
    stats = analysis.summarize(ids, times, 200, 0.0, 5000.0)
    assert stats.n_spikes == times.size and stats.rate_hz == pytest.approx(10.0, rel=0.05)
