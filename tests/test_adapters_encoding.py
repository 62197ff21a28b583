"""Encoders of spinnlive.adapters.encoding: rate code, tuning curves, k most active, Poisson."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from spinnlive.adapters import RateCode, TuningCurves, k_most_active, poisson_spikes
from spinnlive.errors import ConfigurationError

finite = st.floats(-1e3, 1e3, allow_nan=False)


@given(
    low=finite, span=st.floats(1e-2, 1e3), n_values=st.integers(1, 4),
    per=st.integers(1, 5), min_rate=st.floats(0, 50), extra=st.floats(1, 200),
    data=st.data())
def test_rate_code_is_the_clipped_linear_map_value_major(
    low: float, span: float, n_values: int, per: int, min_rate: float, extra: float,
    data: st.DataObject,
) -> None:
    code = RateCode(low, low + span, n_values=n_values, neurons_per_value=per,
                    min_rate=min_rate, max_rate=min_rate + extra)
    values = np.array(data.draw(st.lists(st.floats(low - span, low + 2 * span),
                                         min_size=n_values, max_size=n_values)))
    rates = code.encode(values)
    assert rates.shape == (n_values * per,)
    for i, v in enumerate(values):  # np.interp clips at the ends, as a rate code must
        expected = np.interp(v, [low, low + span], [min_rate, min_rate + extra])
        np.testing.assert_allclose(rates[i * per:(i + 1) * per], expected, rtol=1e-9, atol=1e-9)


def test_rate_code_per_value_bounds_and_batches() -> None:
    code = RateCode((0.0, -1.0), (10.0, 1.0), n_values=2, neurons_per_value=3, max_rate=50.0)
    batch = np.array([[0.0, 1.0], [5.0, 0.0], [20.0, -5.0]])
    rates = code.encode(batch)
    assert rates.shape == (3, 6)
    np.testing.assert_allclose(rates[:, ::3], [[0.0, 50.0], [25.0, 25.0], [50.0, 0.0]])
    assert RateCode(0.0, 1.0).encode(0.5).shape == (1,)


@pytest.mark.parametrize("kwargs", [
    {"low": 1.0, "high": 1.0}, {"low": 0.0, "high": 1.0, "min_rate": 5.0, "max_rate": 5.0},
    {"low": 0.0, "high": 1.0, "neurons_per_value": 0}, {"low": (0, 1, 2), "high": 3, "n_values": 2},
])
def test_rate_code_rejects_bad_configuration(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        RateCode(**kwargs)  # type: ignore[arg-type]


def test_rate_code_rejects_wrong_value_shape() -> None:
    with pytest.raises(ConfigurationError):
        RateCode(0.0, 1.0, n_values=3).encode([0.1, 0.2])


def test_gaussian_tuning_curve_shape() -> None:
    curves = TuningCurves(0.0, 10.0, 21, width=0.8, max_rate=80.0, baseline_rate=5.0)
    p = curves.preferred
    assert p[0] == pytest.approx(-3 * 0.8) and p[-1] == pytest.approx(10 + 3 * 0.8)
    # every neuron peaks at its own preferred value, at max_rate
    inside = (p >= 0) & (p <= 10)
    rates = curves.encode(p[inside])
    assert np.array_equal(rates.argmax(axis=1), np.flatnonzero(inside))
    np.testing.assert_allclose(rates.max(axis=1), 80.0)
    # one width away the curve is at exp(-1/2) of its height above the baseline
    i = int(np.flatnonzero(inside)[3])
    np.testing.assert_allclose(curves.encode(p[i] + 0.8)[i], 5.0 + 75.0 * np.exp(-0.5))
    # values outside the range are clipped (like the rate code)
    np.testing.assert_allclose(curves.encode(-50.0), curves.encode(0.0))


def test_von_mises_curves_wrap_and_match_a_gaussian_near_the_peak() -> None:
    curves = TuningCurves(-np.pi, np.pi, 36, width=0.1, circular=True)
    p = curves.preferred
    np.testing.assert_allclose(np.diff(p), 2 * np.pi / 36)
    v = np.linspace(-7.0, 7.0, 57)
    np.testing.assert_allclose(curves.encode(v), curves.encode(v + 2 * np.pi), atol=1e-9)
    # near the peak exp(kappa (cos d - 1)) ~ exp(-d^2 / (2 w^2))
    d = 0.05
    np.testing.assert_allclose(curves.encode(p[7] + d)[7], 100 * np.exp(-0.5 * (d / 0.1) ** 2),
                               rtol=1e-3)
    # the neuron preferring the seam responds on both sides of it
    seam = curves.encode(np.array([np.pi - 0.05, -np.pi + 0.05]))
    np.testing.assert_allclose(seam[0, 0], seam[1, 0])


@given(st.lists(st.integers(0, 5), min_size=1, max_size=30), st.data())
def test_k_most_active_is_a_stable_descending_selection(
    rates: list[int], data: st.DataObject
) -> None:
    k = data.draw(st.integers(1, len(rates)))
    brute = sorted(range(len(rates)), key=lambda i: (-rates[i], i))[:k]
    assert k_most_active(np.array(rates, dtype=float), k).tolist() == brute


def test_active_ids_are_the_neurons_preferring_the_nearest_values() -> None:
    curves = TuningCurves(0.0, 1.0, 50, width=0.05)
    ids = curves.active_ids(np.array([0.3, 0.71]), k=4)
    assert ids.shape == (2, 4)
    for row, v in zip(ids, (0.3, 0.71), strict=True):
        nearest = np.argsort(np.abs(curves.preferred - v), kind="stable")[:4]
        assert set(row.tolist()) == set(nearest.tolist())
    with pytest.raises(ConfigurationError):
        k_most_active(np.ones(3), 4)


def test_poisson_spikes_are_sorted_and_counts_are_poisson() -> None:
    rng = np.random.default_rng(7)
    rates = np.array([0.0, 10.0, 200.0, 50.0])
    n_ticks, tick_ms = 2000, 0.5
    ticks, ids = poisson_spikes(rates, n_ticks, tick_ms=tick_ms, rng=rng, first_tick=100)
    order = np.lexsort((ids, ticks))
    assert np.array_equal(order, np.arange(ticks.size))
    assert ticks.min() >= 100 and ticks.max() < 100 + n_ticks
    counts = np.bincount(ids, minlength=4)
    assert counts[0] == 0
    # each neuron's count is Poisson(rate * duration): inside its 1e-6 two-sided interval
    lam = rates * n_ticks * tick_ms / 1000
    lo, hi = stats.poisson.ppf(5e-7, lam), stats.poisson.isf(5e-7, lam)
    assert np.all((counts >= lo) & (counts <= hi)), (counts, lo, hi)


def test_poisson_spikes_follow_a_rate_that_changes_per_tick() -> None:
    rng = np.random.default_rng(3)
    rates = np.zeros((100, 2))
    rates[50:, 1] = 1e5  # 100 expected spikes per tick, only in the second half
    ticks, ids = poisson_spikes(rates, 100, rng=rng)
    assert np.all(ids == 1) and ticks.min() == 50
    with pytest.raises(ConfigurationError):
        poisson_spikes(np.ones((3, 2)), 4, rng=rng)
    with pytest.raises(ConfigurationError):
        poisson_spikes(-np.ones(2), 4, rng=rng)


@pytest.mark.parametrize("kwargs", [
    {"width": 0.0}, {"width": -0.1}, {"low": 1.0, "high": 0.0}, {"n_neurons": 1},
    {"baseline_rate": 100.0}, {"edge_widths": -1.0},
])
def test_tuning_configuration_is_validated(kwargs: dict[str, float]) -> None:
    base: dict[str, float] = {"low": 0.0, "high": 1.0, "n_neurons": 10, "width": 0.1}
    with pytest.raises(ConfigurationError):
        TuningCurves(**(base | kwargs))  # type: ignore[arg-type]
