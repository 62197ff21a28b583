"""Spike sources: Poisson statistics and controls, spike-array timing against pyNN.nest."""

from __future__ import annotations

import os

import numpy as np
import pytest

from spinnlive.errors import ConfigurationError
from spinnlive.kernels import (
    IFCurrExp,
    InjectorGroup,
    Network,
    PoissonGroup,
    SpikeArrayGroup,
)
from spinnlive.kernels.grid import stamp_ticks
from spinnlive.kernels.sources import (
    SKIP_NEGATIVE,
    SKIP_PAST,
    GammaGroup,
    PoissonRefractoryGroup,
    VariablePoissonGroup,
)


def counts(group: PoissonGroup, ticks: range) -> np.ndarray:
    """Spike count per (tick, neuron)."""
    out = np.zeros((len(ticks), group.n), dtype=np.int64)
    for row, t in enumerate(ticks):
        np.add.at(out[row], group.step(t), 1)
    return out


def test_poisson_rate_and_count_distribution() -> None:
    dt, n, rate, n_ticks = 1.0, 2000, 40.0, 500
    c = counts(PoissonGroup(n, dt, rate=rate, rng=np.random.default_rng(1)), range(n_ticks))
    lam = rate * dt / 1000.0
    expected = lam * n * n_ticks
    assert abs(c.sum() - expected) < 4 * np.sqrt(expected)
    per_tick = c.ravel()  # Poisson(lam) per tick: P(>=2) = 1 - e^-lam (1 + lam)
    p2 = 1 - np.exp(-lam) * (1 + lam)
    n2 = np.count_nonzero(per_tick >= 2)
    assert abs(n2 - p2 * per_tick.size) < 5 * np.sqrt(p2 * per_tick.size)
    # inter-spike intervals of a Poisson process: coefficient of variation ~ 1
    isi = np.diff(np.flatnonzero(c[:, 0] > 0))
    assert isi.size > 5


def test_poisson_start_duration_and_set_rates() -> None:
    dt, n = 0.1, 500
    rates = np.where(np.arange(n) < 250, 100.0, 0.0)
    g = PoissonGroup(n, dt, rate=rates, start=10.0, duration=20.0, rng=np.random.default_rng(2))
    c = counts(g, range(400))  # 0 .. 40 ms
    times = (np.nonzero(c)[0] + 1) * dt
    assert times.min() > 10.0 and times.max() <= 30.0 + 1e-9
    assert c[:, 250:].sum() == 0
    lam = 100.0 * 20.0 / 1000.0 * 250
    assert abs(c.sum() - lam) < 4 * np.sqrt(lam)
    # set_rates takes effect from the next step, and only for the given ids
    g2 = PoissonGroup(n, dt, rate=0.0, rng=np.random.default_rng(3))
    assert counts(g2, range(50)).sum() == 0
    g2.set_rates(np.arange(100), 500.0)
    c2 = counts(g2, range(50, 450))
    assert c2[:, 100:].sum() == 0
    lam2 = 500.0 * 40.0 / 1000.0 * 100
    assert abs(c2.sum() - lam2) < 4 * np.sqrt(lam2)
    g2.set_rates(None, 0.0)
    assert counts(g2, range(450, 600)).sum() == 0


def test_poisson_seeded_and_reset_replays() -> None:
    a = PoissonGroup(300, 0.1, rate=50.0, rng=np.random.default_rng(9))
    b = PoissonGroup(300, 0.1, rate=50.0, rng=np.random.default_rng(9))
    first = counts(a, range(1000))
    np.testing.assert_array_equal(first, counts(b, range(1000)))
    a.reset_state()
    np.testing.assert_array_equal(counts(a, range(1000)), first)
    other = PoissonGroup(300, 0.1, rate=50.0, rng=np.random.default_rng(10))
    assert not np.array_equal(counts(other, range(1000)), first)


def test_spike_array_emits_at_stamp_and_counts_what_it_skips() -> None:
    g = SpikeArrayGroup(3, 0.1, [np.array([0.1, 0.5, 0.5]), np.array([0.33]), np.array([])])
    emitted = {t: sorted(g.step(t).tolist()) for t in range(10)}
    assert emitted[0] == [0] and emitted[4] == [0, 0] and emitted[3] == [1]  # 0.33 -> 0.4
    assert sum(len(v) for v in emitted.values()) == 4
    assert g.take_skipped() == {}
    g.set_spike_times([np.array([0.3, 1.5])], ids=np.array([2]))  # 0.3 is in the past now
    assert g.take_skipped() == {SKIP_PAST: 1} and g.take_skipped() == {}
    assert [g.step(t).tolist() for t in range(10, 16)] == [[], [], [], [], [2], []]
    g.reset_state()
    assert g.step(0).tolist() == [0]


def test_spike_array_time_zero_is_tick_zero_and_negative_is_counted() -> None:
    """sPyNNaker emits a spike at t = 0 in its first timestep: tick 0 here (NEST refuses it)."""
    g = SpikeArrayGroup(2, 1.0, [np.array([0.0, 0.0, 2.0, 50.0]), np.array([-1.0, 0.0])])
    assert g.take_skipped() == {SKIP_NEGATIVE: 1}
    assert sorted(g.step(0).tolist()) == [0, 0, 1]
    assert g.unemitted() == 2
    assert g.step(1).tolist() == [0] and g.step(2).tolist() == []  # 2 ms: tick 1
    assert g.unemitted() == 1  # 50 ms is still ahead
    # re-setting the same trains (the front end re-sends all of them) counts nothing again
    g.set_spike_times([np.array([0.0, 0.0, 2.0, 50.0]), np.array([-1.0, 0.0])])
    assert g.take_skipped() == {}
    np.testing.assert_array_equal(stamp_ticks(np.array([0.0, 0.05, 0.1, 0.11, -0.05, -0.1]),
                                              0.1), [0, 0, 0, 1, -1, -2])


def test_injector_group_emits_what_was_injected() -> None:
    net = Network(1.0)
    inj = net.add_group(InjectorGroup(4, 1.0))
    net.record(inj, "spikes")
    net.step()
    net.inject(inj, [1, 3])
    net.inject(inj, [1])
    assert sorted(net.step()[0].tolist()) == [1, 1, 3]
    assert net.step()[0].size == 0
    ids, times = net.spikes(inj)
    assert sorted(ids.tolist()) == [1, 1, 3] and np.all(times == 2.0)


@pytest.mark.parametrize("dt", [0.1, 1.0])
def test_spike_array_off_grid_matches_pynn_nest(dt: float) -> None:
    """Off-grid spike times reach the neuron in the ticks pyNN.nest's SpikeSourceArray gives."""
    os.environ.setdefault("PYNEST_QUIET", "1")
    pytest.importorskip("nest")
    sim = pytest.importorskip("pyNN.nest")
    trains = [np.array([1.03, 1.07, 2.0, 4.55, 7.99]), np.array([3.0, 3.01, 11.2, 12.5, 12.51])]
    sim.setup(timestep=dt, min_delay=dt, spike_precision="on_grid")  # 'auto' -> 2 ms here
    src = sim.Population(2, sim.SpikeSourceArray(spike_times=trains))
    pop = sim.Population(1, sim.IF_curr_exp(tau_syn_E=2.0))
    sim.Projection(src, pop, sim.AllToAllConnector(),
                   sim.StaticSynapse(weight=[[1.5], [0.8]], delay=2.0))
    pop.record("v")
    sim.run(20.0)
    v_ref = np.asarray(pop.get_data().segments[0].analogsignals[0])[:, 0]
    sim.end()
    net = Network(dt)
    s = net.add_group(SpikeArrayGroup(2, dt, trains))
    g = net.add_group(IFCurrExp(1, dt, tau_syn_E=2.0))
    net.connect(s, g, [0, 1], [0, 0], [1.5, 0.8], 2.0)
    net.record(s, "spikes")
    net.record(g, "v")
    net.run(int(round(20.0 / dt)))
    v = net.signal(g, "v")[1][:, 0]
    assert net.spikes(s)[0].size == sum(t.size for t in trains)
    assert np.ptp(v_ref) > 1.0
    np.testing.assert_allclose(v, v_ref[:v.size], rtol=0, atol=1e-6)


def test_variable_poisson_follows_its_schedule() -> None:
    """sPyNNaker's SpikeSourcePoissonVariable: each rate from its start for its duration, then
    the next; silent between segments and before the first; counts Poisson in each."""
    dt, n = 0.1, 400
    rates = [np.array([200.0, 0.0, 50.0])] * (n // 2) + [np.array([20.0])] * (n // 2)
    starts = [np.array([10.0, 30.0, 60.0])] * (n // 2) + [np.array([0.0])] * (n // 2)
    durations = [np.array([10.0, 30.0, 40.0])] * (n // 2) + [np.array([100.0])] * (n // 2)
    g = VariablePoissonGroup(n, dt, rates, starts, durations, rng=np.random.default_rng(4))
    c = counts(g, range(1200))  # 0 .. 120 ms
    times = (np.arange(1200) + 1) * dt
    first = c[:, : n // 2].sum(axis=1)
    for lo, hi, rate in ((0, 10, 0), (10, 20, 200), (20, 60, 0), (60, 100, 50), (100, 120, 0)):
        sel = (times > lo + 1e-9) & (times <= hi + 1e-9)
        lam = rate * (hi - lo) / 1000.0 * (n // 2)
        assert abs(first[sel].sum() - lam) <= 4 * np.sqrt(lam) + 1e-9, (lo, hi)
    second = c[:, n // 2:].sum(axis=1)
    lam = 20.0 * 100.0 / 1000.0 * (n // 2)
    assert abs(second[times <= 100.0 + 1e-9].sum() - lam) < 4 * np.sqrt(lam)
    assert second[times > 100.0 + 1e-9].sum() == 0
    g.reset_state()
    np.testing.assert_array_equal(counts(g, range(1200)), c)


def test_variable_poisson_rejects_a_bad_schedule() -> None:
    with pytest.raises(ConfigurationError, match="starts ascending"):
        VariablePoissonGroup(1, 1.0, [np.array([1.0, 2.0])], [np.array([5.0, 1.0])])
    with pytest.raises(ConfigurationError, match="2 rates, 1 starts"):
        VariablePoissonGroup(1, 1.0, [np.array([1.0, 2.0])], [np.array([5.0])])


def _isi_statistics(ids: np.ndarray, times: np.ndarray, n: int) -> tuple[float, float]:
    """(mean rate per neuron in Hz over the spikes' span, CV of all ISIs)."""
    order = np.lexsort((times, ids))
    ids, times = ids[order], times[order]
    same = ids[1:] == ids[:-1]
    isi = np.diff(times)[same]
    return ids.size / n, float(np.std(isi) / np.mean(isi))


def _nest_generator(model: str, params: dict[str, float], n: int, t_ms: float
                    ) -> tuple[np.ndarray, np.ndarray]:
    """NEST's own generator into ``n`` parrots (each target gets its own process)."""
    os.environ.setdefault("PYNEST_QUIET", "1")
    nest = pytest.importorskip("nest")
    nest.ResetKernel()
    nest.verbosity = nest.VerbosityLevel.ERROR
    nest.resolution = 0.1
    gen = nest.Create(model, params=params)
    parrots = nest.Create("parrot_neuron", n)
    nest.Connect(gen, parrots)
    rec = nest.Create("spike_recorder")
    nest.Connect(parrots, rec)
    nest.Simulate(t_ms)
    ev = rec.get("events")
    return np.asarray(ev["senders"]) - parrots[0].global_id, np.asarray(ev["times"])


@pytest.mark.parametrize(("group", "params", "nest_model", "nest_params", "rate", "cv"), [
    (GammaGroup, {"alpha": 4.0, "beta": 160.0}, "gamma_sup_generator",
     {"rate": 40.0, "gamma_shape": 4}, 40.0, 0.5),
    (GammaGroup, {"alpha": 1.0, "beta": 25.0}, "gamma_sup_generator",
     {"rate": 25.0, "gamma_shape": 1}, 25.0, 1.0),
    (PoissonRefractoryGroup, {"rate": 50.0, "tau_refrac": 8.0}, "ppd_sup_generator",
     {"rate": 50.0, "dead_time": 8.0}, 50.0, 0.6),
])
def test_renewal_sources_match_theory_and_nest(group: type, params: dict[str, float],
                                               nest_model: str, nest_params: dict[str, float],
                                               rate: float, cv: float) -> None:
    """SpikeSourceGamma / SpikeSourcePoissonRefractory: mean rate and ISI CV as the renewal
    process's equations give them (Gamma: beta / alpha, 1 / sqrt(alpha); dead time d: rate,
    1 - rate d), and as NEST's gamma_sup_generator / ppd_sup_generator give them."""
    n, t_ms, dt = 400, 4000.0, 0.1
    net = Network(dt)
    gid = net.add_group(group(n, dt, rng=np.random.default_rng(8), **params))
    net.record(gid, "spikes")
    net.run(int(round(t_ms / dt)))
    ours = _isi_statistics(*net.spikes(gid), n)
    ref = _isi_statistics(*_nest_generator(nest_model, nest_params, n, t_ms), n)
    expected_count = rate * t_ms / 1000.0
    # a stationary renewal count over T has variance ~ CV^2 * mean count: 5 sigma on the mean
    tolerance = 5 * cv * np.sqrt(expected_count / n)
    for got_count, got_cv in (ours, ref):
        assert abs(got_count - expected_count) < tolerance, (ours, ref)
        assert abs(got_cv - cv) < 0.02, (ours, ref)
    # stationary from the start: the first 100 ms carry the same rate as the rest
    ids, times = net.spikes(gid)
    early = np.count_nonzero(times <= 100.0) / n
    assert abs(early - rate * 0.1) < 5 * np.sqrt(rate * 0.1 / n) + 0.1 * rate * 0.1


def test_renewal_sources_refuse_impossible_parameters() -> None:
    with pytest.raises(ConfigurationError, match="whole number"):
        GammaGroup(2, 1.0, alpha=1.5, beta=10.0)
    with pytest.raises(ConfigurationError, match="rate \\* tau_refrac < 1"):
        PoissonRefractoryGroup(2, 1.0, rate=200.0, tau_refrac=6.0)
