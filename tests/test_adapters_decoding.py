"""Decoders of spinnlive.adapters.decoding: the sliding spike window, and the inverse of every
encoder (round trips through expected rates and through sampled Poisson spikes)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import stats

from spinnlive.adapters import (
    PushPull,
    RateCode,
    SpikeWindow,
    TuningCurves,
    decode_rates,
    poisson_spikes,
    population_vector,
)
from spinnlive.errors import ConfigurationError

# ---------------------------------------------------------------- SpikeWindow vs brute force

batch = st.tuples(
    st.integers(0, 4),  # ticks since the previous batch (0: same tick)
    st.lists(st.integers(0, 11), max_size=12),  # ids, duplicates allowed
    st.booleans(),  # True: only advance the window, no spikes
)


@settings(max_examples=150)
@given(n=st.integers(1, 12), window=st.integers(1, 9), capacity=st.integers(1, 6),
       start=st.integers(-5, 5), stream=st.lists(batch, max_size=40))
def test_window_counts_equal_a_brute_force_recount(
    n: int, window: int, capacity: int, start: int,
    stream: list[tuple[int, list[int], bool]],
) -> None:
    spikes = SpikeWindow(n, window, capacity=capacity)  # tiny capacity: wraps and grows
    seen_ticks: list[int] = []
    seen_ids: list[int] = []
    tick = start
    for gap, ids, advance_only in stream:
        tick += gap
        if advance_only:
            spikes.advance(tick)
        else:
            spikes.add(tick, np.array(ids, dtype=np.int64))
            kept = [i for i in ids if i < n]
            seen_ticks += [tick] * len(kept)
            seen_ids += kept
        in_window = [i for t, i in zip(seen_ticks, seen_ids, strict=True)
                     if tick - window < t <= tick]
        expected = np.bincount(np.array(in_window, dtype=np.int64), minlength=n)
        assert np.array_equal(spikes.counts(), expected)
    stats_ = spikes.statistics()
    assert stats_.received == len(seen_ids)
    assert stats_.received - stats_.expired == stats_.held == int(spikes.counts().sum())
    assert stats_.dropped_out_of_range == sum(len(ids) - sum(i < n for i in ids)
                                              for _, ids, only in stream if not only)


def test_window_late_stale_and_out_of_range_batches() -> None:
    spikes = SpikeWindow(4, 10, tick_ms=0.5)
    spikes.add(100, np.array([0, 1, 1]))
    spikes.add(95, np.array([2]))  # late but inside (90, 100]: counted at tick 100
    spikes.add(90, np.array([3]))  # outside the window: dropped
    spikes.add(100, np.array([-1, 4, 3]))  # two ids out of range
    assert spikes.counts().tolist() == [1, 2, 1, 1]
    np.testing.assert_allclose(spikes.rates(), spikes.counts() / (10 * 0.5e-3))
    spikes.advance(109)
    assert spikes.counts().sum() == 5  # the late spike stays as long as the tick-100 ones
    spikes.advance(110)
    assert spikes.counts().sum() == 0
    s = spikes.statistics()
    assert (s.received, s.expired, s.late_batches, s.dropped_stale, s.dropped_out_of_range) == (
        5, 5, 1, 1, 2)
    spikes.advance(50)  # never backwards
    assert spikes.now == 110
    spikes.reset()
    assert spikes.now is None and spikes.statistics().held == 0


def test_window_rejects_non_integer_ids_and_bad_configuration() -> None:
    with pytest.raises(ConfigurationError):
        SpikeWindow(3, 5).add(0, np.array([0.5]))
    with pytest.raises(ConfigurationError):
        SpikeWindow(3, 0)


# ---------------------------------------------------------------- rate code round trips

@st.composite
def rate_codes(draw: st.DrawFn, min_per: int = 1, min_max_rate: float = 10.0) -> RateCode:
    n_values = draw(st.integers(1, 3))
    low = draw(st.lists(st.floats(-100, 100), min_size=n_values, max_size=n_values))
    span = draw(st.lists(st.floats(0.1, 100), min_size=n_values, max_size=n_values))
    min_rate = draw(st.floats(0, 20))
    return RateCode(tuple(low), tuple(a + b for a, b in zip(low, span, strict=True)),
                    n_values=n_values, neurons_per_value=draw(st.integers(min_per, 16)),
                    min_rate=min_rate, max_rate=min_rate + draw(st.floats(min_max_rate, 500)))


@given(code=rate_codes(), fractions=st.lists(st.floats(0, 1), min_size=3, max_size=3),
       window_s=st.floats(0.01, 10))
def test_rate_code_round_trip_through_expected_counts(
    code: RateCode, fractions: list[float], window_s: float
) -> None:
    low, high = code.bounds()
    values = low + np.array(fractions[:code.n_values]) * (high - low)
    expected_counts = code.encode(values) * window_s  # what a window would hold on average
    decoded = decode_rates(code, expected_counts / window_s)
    # float round-off only: the decoder is the exact inverse on [low, high]
    np.testing.assert_allclose(decoded, values, rtol=0, atol=1e-9 * float(np.max(high - low)))


@settings(max_examples=20, deadline=None)
@given(code=rate_codes(min_per=8, min_max_rate=400.0),
       fractions=st.lists(st.floats(0, 1), min_size=3, max_size=3),
       seed=st.integers(0, 2**32 - 1))
def test_rate_code_round_trip_through_poisson_spikes(
    code: RateCode, fractions: list[float], seed: int
) -> None:
    """Tolerance from the exact count distribution: value i's neurons fire
    N_i ~ Poisson(lambda_i = neurons_per_value * r_i * T) spikes in the window, so N_i lies in
    [ppf(1e-7), isf(1e-7)] except with probability 2e-7 per value; the decoded value must lie
    between the decodes of those two counts (monotone map). For these codes (>= 8 neurons per
    value, >= 400 Hz of rate range, T = 2 s) that band is at most 14 % of the range wide
    (about 5.2 standard deviations each side), which the test checks too."""
    window_ticks, tick_ms = 2000, 1.0
    seconds = window_ticks * tick_ms / 1000
    low, high = code.bounds()
    values = low + np.array(fractions[:code.n_values]) * (high - low)
    rates = code.encode(values)
    ticks, ids = poisson_spikes(rates, window_ticks, tick_ms=tick_ms,
                                rng=np.random.default_rng(seed))
    spikes = SpikeWindow(code.n_neurons, window_ticks, tick_ms=tick_ms)
    busy, starts = np.unique(ticks, return_index=True)  # one batch per tick with spikes
    ends = np.searchsorted(ticks, busy, side="right")
    for tick, a, b in zip(busy, starts, ends, strict=True):
        spikes.add(int(tick), ids[a:b])
    spikes.advance(window_ticks - 1)  # the window now spans exactly ticks 0 .. window_ticks-1
    assert np.array_equal(spikes.counts(), np.bincount(ids, minlength=code.n_neurons))
    decoded = decode_rates(code, spikes.rates())

    per = code.neurons_per_value
    lam = rates.reshape(code.n_values, per).sum(axis=1) * seconds
    n_lo, n_hi = stats.poisson.ppf(1e-7, lam), stats.poisson.isf(1e-7, lam)

    def at(count: np.ndarray) -> np.ndarray:
        return decode_rates(code, np.repeat(count / (per * seconds), per))

    eps = 1e-9 * (high - low)
    assert np.all(at(n_hi) - at(n_lo) <= 0.14 * (high - low))
    assert np.all((decoded >= at(n_lo) - eps) & (decoded <= at(n_hi) + eps)), (
        decoded, values, at(n_lo), at(n_hi))


# ---------------------------------------------------------------- population vector

@given(low=st.floats(-50, 50), span=st.floats(1, 100), n=st.integers(8, 80),
       width_ratio=st.floats(1.0, 3.0), baseline=st.floats(0, 20),
       fractions=st.lists(st.floats(0, 1), min_size=1, max_size=20))
def test_population_vector_inverts_gaussian_tuning(
    low: float, span: float, n: int, width_ratio: float, baseline: float, fractions: list[float]
) -> None:
    """With preferred values every <= 1 width, extending 3 widths past the range, the weighted
    mean is exact up to the Gaussian mass beyond 3 widths: |error| <= phi(3) w ~ 0.0044 w; the
    test allows 0.01 w."""
    # choose the width so that the preferred-value spacing is width / width_ratio
    assume((n - 1) / width_ratio > 7)
    width = span / ((n - 1) / width_ratio - 6)
    curves = TuningCurves(low, low + span, n, width, baseline_rate=baseline)
    assert np.diff(curves.preferred)[0] <= width * (1 + 1e-9)
    values = low + span * np.array(fractions)
    decoded = population_vector(curves, curves.encode(values))
    np.testing.assert_allclose(decoded, values, rtol=0, atol=0.01 * width)


def test_edge_margin_is_what_removes_the_inward_bias() -> None:
    flush = TuningCurves(0.0, 10.0, 41, width=0.5, edge_widths=0.0)
    padded = TuningCurves(0.0, 10.0, 41, width=0.5)
    ends = np.array([0.0, 10.0])
    # a one-sided bump is pulled inwards by ~ sqrt(2/pi) w = 0.4
    assert np.all(np.abs(population_vector(flush, flush.encode(ends)) - ends) > 0.3)
    np.testing.assert_allclose(population_vector(padded, padded.encode(ends)), ends, atol=5e-3)


circular_value = st.floats(-20, 20)


@given(n=st.integers(6, 72), baseline=st.floats(0, 20), shift=st.floats(-10, 10),
       values=st.lists(circular_value, min_size=1, max_size=20))
def test_population_vector_inverts_von_mises_tuning_across_the_seam(
    n: int, baseline: float, shift: float, values: list[float]
) -> None:
    """Evenly spaced von Mises curves make the circular mean exact up to aliasing, negligible
    when the spacing is at most one width; values outside [low, high) come back wrapped."""
    period = 2 * np.pi
    width = period / n
    curves = TuningCurves(shift, shift + period, n, width, baseline_rate=baseline, circular=True)
    v = np.array(values)
    decoded = population_vector(curves, curves.encode(v))
    assert np.all((decoded >= curves.low) & (decoded < curves.high))
    circular_error = np.angle(np.exp(1j * (decoded - v)))
    np.testing.assert_allclose(circular_error, 0.0, atol=0.01 * width)


def test_circular_decode_near_the_seam_does_not_average_to_the_middle() -> None:
    curves = TuningCurves(0.0, 360.0, 36, width=15.0, circular=True)
    # rates of two neighbours straddling the seam: 355 and 5 degrees
    rates = curves.encode(355.0) + curves.encode(5.0)
    decoded = float(population_vector(curves, rates))
    assert min(decoded, 360.0 - decoded) < 1e-6  # 0 degrees, not 180


def test_silent_population_has_no_estimate() -> None:
    curves = TuningCurves(0.0, 1.0, 10, width=0.1, baseline_rate=5.0)
    rates = np.full((2, 10), 5.0)
    rates[1] = curves.encode(0.25)
    decoded = population_vector(curves, rates)
    assert np.isnan(decoded[0]) and decoded[1] == pytest.approx(0.25, abs=1e-3)
    with pytest.raises(ConfigurationError):
        population_vector(curves, np.ones(9))


# ---------------------------------------------------------------- push-pull

@given(command=st.floats(-1, 1), gain=st.floats(0.1, 10), max_rate=st.floats(1, 500),
       n_left=st.integers(1, 10), n_right=st.integers(1, 10))
def test_push_pull_round_trip(
    command: float, gain: float, max_rate: float, n_left: int, n_right: int
) -> None:
    motor = PushPull(max_rate=max_rate, gain=gain)
    left, right = motor.encode(command)
    assert left.shape == right.shape == (1,) and min(left[0], right[0]) == 0.0
    decoded = motor.decode(np.repeat(left, n_left), np.repeat(right, n_right))
    assert decoded == pytest.approx(command, abs=1e-12)


def test_push_pull_cancels_and_saturates() -> None:
    motor = PushPull(max_rate=100.0, gain=2.0)
    both = np.array([[40.0, 60.0], [10.0, 10.0], [0.0, 0.0]])
    assert motor.decode(both, both).tolist() == [0.0, 0.0, 0.0]
    assert motor.decode(np.zeros(3), np.full(3, 80.0)) == 1.0  # 2 * 0.8 saturates
    assert motor.decode(np.full(3, 20.0), np.zeros(3)) == pytest.approx(-0.4)
    left, right = motor.encode(np.array([0.5, -3.0]))
    assert left.shape == (2, 1)
    np.testing.assert_allclose(motor.decode(left, right), [0.5, -1.0])
    with pytest.raises(ConfigurationError):
        motor.decode(1.0, 2.0)
