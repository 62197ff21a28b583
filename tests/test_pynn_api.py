"""PyNN API behaviour of spinnlive.pynn: runs, resets, segments, parameters, weights, errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pyNN import errors as pynn_errors
from pynn_scenarios import signal_of, spikes_of

import spinnlive.pynn as sim
from spinnlive.errors import ConfigurationError


def small_network(seed: int = 5, rate: float = 80.0) -> tuple[Any, Any, Any]:
    """Poisson input into a recurrent current-based population."""
    sim.setup(timestep=1.0, seed=seed)
    src = sim.Population(40, sim.SpikeSourcePoisson(rate=rate), label="src")
    pop = sim.Population(30, sim.IF_curr_exp(tau_refrac=2.0), label="pop")
    rng = sim.NumpyRNG(seed=3)
    pop.initialize(v=sim.RandomDistribution("uniform", [-65.0, -55.0], rng=rng))
    sim.Projection(src, pop, sim.FixedProbabilityConnector(0.3, rng=rng),
                   sim.StaticSynapse(weight=0.4, delay=1.0))
    prj = sim.Projection(pop, pop, sim.FixedProbabilityConnector(0.2, rng=rng),
                         sim.StaticSynapse(weight=0.2, delay=sim.RandomDistribution(
                             "uniform", [1, 5], rng=rng)), receptor_type="inhibitory")
    pop.record(["spikes", "v"])
    return src, pop, prj


def test_run_in_pieces_equals_one_run() -> None:
    _, pop, _ = small_network()
    sim.run(300.0)
    whole = pop.get_data()
    sim.end()
    _, pop, _ = small_network()
    sim.run(100.0)
    assert sim.get_current_time() == pytest.approx(100.0)
    sim.run_until(250.0)
    sim.run(50.0)
    pieces = pop.get_data()
    sim.end()
    a, b = spikes_of(whole), spikes_of(pieces)
    assert a[0].size > 20
    np.testing.assert_array_equal(a[1], b[1])
    np.testing.assert_array_equal(signal_of(whole, "v"), signal_of(pieces, "v"))


def test_seed_decides_the_poisson_input() -> None:
    runs = []
    for seed in (5, 5, 6):
        _, pop, _ = small_network(seed)
        sim.run(200.0)
        runs.append(spikes_of(pop.get_data()))
        sim.end()
    np.testing.assert_array_equal(runs[0][1], runs[1][1])
    assert not np.array_equal(runs[0][1], runs[2][1])


def test_reset_starts_a_new_segment_that_repeats_the_first() -> None:
    _, pop, _ = small_network()
    sim.run(150.0)
    sim.reset()
    assert sim.get_current_time() == 0.0
    sim.run(150.0)
    block = pop.get_data()
    assert len(block.segments) == 2
    first, second = spikes_of(block, 0), spikes_of(block, 1)
    assert first[0].size > 10
    np.testing.assert_array_equal(first[1], second[1])
    v0, v1 = signal_of(block, "v", 0), signal_of(block, "v", 1)
    assert v0.shape == (151, 30)
    np.testing.assert_array_equal(v0, v1)
    sim.end()


def test_signals_start_with_initial_values_and_follow_sampling_interval() -> None:
    sim.setup(timestep=0.1)
    pop = sim.Population(4, sim.IF_cond_exp(i_offset=0.5), label="cond")
    pop.initialize(v=np.array([-70.0, -60.0, -55.0, -50.5]))
    pop.record("v", sampling_interval=1.0)
    pop.record(["gsyn_exc", "spikes"])
    sim.run(20.0)
    seg = pop.get_data().segments[0]
    v = signal_of(pop.get_data(), "v")
    assert v.shape == (21, 4)
    np.testing.assert_array_equal(v[0], [-70.0, -60.0, -55.0, -50.5])
    sig = [s for s in seg.analogsignals if s.name == "v"][0]
    assert float(sig.sampling_period.rescale("ms")) == pytest.approx(1.0)
    assert signal_of(pop.get_data(), "gsyn_exc").shape == (21, 4)  # the population's interval
    assert len(seg.spiketrains) == 4
    sim.end()


def test_clear_on_get_data_starts_after_the_current_time() -> None:
    _, pop, _ = small_network()
    sim.run(100.0)
    first = pop.get_data(clear=True)
    sim.run(50.0)
    second = pop.get_data()
    ids, times = spikes_of(second)
    assert times.size and times.min() > 100.0
    assert signal_of(second, "v").shape == (51, 30)
    np.testing.assert_array_equal(signal_of(second, "v")[0], signal_of(first, "v")[-1])
    sim.end()


def test_set_v_acts_like_initialize_and_views_write_through() -> None:
    sim.setup(timestep=1.0)
    pop = sim.Population(10, sim.IF_curr_exp(), label="p")
    pop.set(v=sim.RandomDistribution("uniform", [-65.0, -50.0], rng=sim.NumpyRNG(seed=1)),
            tau_m=15.0)
    expected = sim.NumpyRNG(seed=1).next(10, "uniform", {"low": -65.0, "high": -50.0})
    pop[2:5].set(cm=2.0)
    pop[7:9].initialize(v=-40.0)
    pop.record("v")
    sim.run(1.0)
    v0 = signal_of(pop.get_data(), "v")[0]
    np.testing.assert_allclose(v0[[0, 1, 5, 9]], expected[[0, 1, 5, 9]])
    np.testing.assert_array_equal(v0[7:9], -40.0)
    assert list(pop.get("cm")) == [1.0, 1.0, 2.0, 2.0, 2.0] + [1.0] * 5
    assert pop.get("tau_m") == 15.0
    sim.end()


def test_parameter_change_between_runs_changes_the_activity() -> None:
    src, pop, _ = small_network(rate=0.0)
    sim.run(100.0)
    src.set(rate=100.0)
    sim.run(100.0)
    _, times = spikes_of(pop.get_data())
    assert times.size > 10 and times.min() > 100.0
    sim.end()


def test_weights_get_set_save(tmp_path: Path) -> None:
    _, pop, prj = small_network()
    w = prj.get("weight", format="array")
    listed = prj.get(["weight", "delay"], format="list")
    assert len(listed) == len(prj) == np.count_nonzero(~np.isnan(w))
    i, j, weight, delay = listed[0]
    assert w[i, j] == weight == 0.2 and delay == float(int(delay))
    sim.run(100.0)
    active = spikes_of(pop.get_data())[1].size
    prj.set(weight=np.where(np.isnan(w), np.nan, 0.0))
    assert np.nanmax(prj.get("weight", format="array")) == 0.0
    prj.set(delay=3.0)
    assert set(prj.get("delay", format="list", with_address=False)) == {3.0}
    prj.save("all", str(tmp_path / "conns.txt"))
    again = sim.Projection(pop, pop, sim.FromFileConnector(str(tmp_path / "conns.txt")),
                           receptor_type="inhibitory")
    assert again.get(["weight", "delay"], format="list") == prj.get(["weight", "delay"],
                                                                      format="list")
    sim.end()
    assert active > 0


def test_positive_and_negative_inhibitory_weights_are_the_same_synapse() -> None:
    results = []
    for w in (0.5, -0.5):
        sim.setup(timestep=1.0)
        src = sim.Population(1, sim.SpikeSourceArray(spike_times=[5.0, 6.0]))
        pop = sim.Population(1, sim.IF_curr_exp())
        sim.Projection(src, pop, sim.OneToOneConnector(), sim.StaticSynapse(weight=w),
                       receptor_type="inhibitory")
        pop.record("v")
        sim.run(30.0)
        results.append(signal_of(pop.get_data(), "v"))
        sim.end()
    np.testing.assert_array_equal(results[0], results[1])
    assert results[0].min() < -65.5  # hyperpolarised, whatever the sign given


def test_neurons_per_core_decides_the_mapping() -> None:
    sim.setup(timestep=1.0)
    sim.set_number_of_neurons_per_core(sim.IF_curr_exp, 100)
    pop = sim.Population(250, sim.IF_curr_exp())
    sim.Population(250, sim.IF_cond_exp())
    sim.run(1.0)
    engine = sim.simulator.state.engine
    assert [s.stop for s in engine.populations[pop._key].cores] == [100, 200, 250]
    assert len(engine.populations[1].cores) == 1
    assert [p.name for p in engine.phases][:2] == ["Mapping", "Neuron groups"]
    sim.end()


def test_assemblies_and_views_in_projections_and_recording() -> None:
    sim.setup(timestep=1.0)
    src = sim.Population(5, sim.SpikeSourceArray(spike_times=[2.0]))
    a = sim.Population(4, sim.IF_curr_exp(), label="a")
    b = sim.Population(6, sim.IF_curr_exp(), label="b")
    prj = sim.Projection(src, a + b[1:4], sim.AllToAllConnector(),
                         sim.StaticSynapse(weight=5.0, delay=1.0))
    assert len(prj) == 5 * 7
    (a + b).record("spikes")
    sim.run(10.0)
    fired = {pop.label: {int(st.annotations["source_index"]) for st in
                         pop.get_data().segments[0].spiketrains if len(st)}
             for pop in (a, b)}
    assert fired == {"a": {0, 1, 2, 3}, "b": {1, 2, 3}}
    sim.end()


def test_projection_and_population_labels_are_separate_namespaces(
        caplog: pytest.LogCaptureFixture) -> None:
    """As in PyNN: a projection may carry a population's label; two projections between the
    same populations share PyNN's default label, and the second is numbered quietly; only a
    label the script chose twice is renamed with a WARNING naming a projection."""
    sim.setup(timestep=1.0)
    exc = sim.Population(4, sim.IF_curr_exp(), label="exc")
    loop = sim.Population(2, sim.IF_curr_exp(), label="exc→exc")  # a projection's default
    caplog.set_level("DEBUG", logger="spinnlive.engine.description")
    caplog.clear()
    first = sim.Projection(exc, exc, sim.OneToOneConnector(), receptor_type="excitatory")
    second = sim.Projection(exc, exc, sim.OneToOneConnector(), receptor_type="inhibitory")
    assert (loop.label, first.label, second.label) == ("exc→exc", "exc→exc", "exc→exc1")
    assert not [r for r in caplog.records if r.levelname == "WARNING"]
    named = [sim.Projection(exc, loop, sim.AllToAllConnector(), label="e2l") for _ in range(2)]
    assert [p.label for p in named] == ["e2l", "e2l1"]
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings == ["projection label 'e2l' is already used; this one is labelled 'e2l1' "
                        "(live clients must use that name)"]
    sim.end()


@pytest.mark.parametrize("make", [
    lambda: sim.STDPMechanism(),
    lambda: sim.ElectricalSynapse(),
    lambda: sim.STDPMechanism(timing_dependence=sim.Vogels2011Rule(alpha=0.1),
                              weight_dependence=sim.MultiplicativeWeightDependence()),
    lambda: sim.external_devices.activate_live_output_for(None),
    lambda: sim.external_devices.activate_live_output_to(None, None),
    lambda: sim.external_devices.add_poisson_live_rate_control(
        sim.Population(2, sim.IF_curr_exp())),
])
def test_unsupported_features_raise_configuration_error(make: Any) -> None:
    sim.setup()
    with pytest.raises(ConfigurationError):
        make()


def test_invalid_connections_and_recordings_raise() -> None:
    sim.setup(timestep=1.0)
    a = sim.Population(3, sim.IF_curr_exp())
    with pytest.raises(pynn_errors.ConnectionError):
        sim.Projection(a, a, sim.AllToAllConnector(), sim.StaticSynapse(weight=-1.0),
                       receptor_type="excitatory")
    with pytest.raises(pynn_errors.RecordingError):
        a.record("u")
    from pyNN.standardmodels.cells import IF_curr_exp as foreign

    with pytest.raises(ConfigurationError):
        sim.Population(2, foreign())
    sim.end()


def test_delays_below_a_step_are_clipped_under_auto_and_refused_below_an_explicit_minimum(
        caplog: pytest.LogCaptureFixture) -> None:
    sim.setup(timestep=1.0)  # min_delay='auto': sPyNNaker's clip to one step, logged
    a = sim.Population(3, sim.IF_curr_exp())
    prj = sim.Projection(a, a, sim.AllToAllConnector(), sim.StaticSynapse(weight=1.0, delay=0.2))
    assert np.all(prj.get("delay", format="array") == 1.0)
    assert "9 delays shorter than the time step" in caplog.text
    assert sim.get_min_delay() == 1.0
    sim.setup(timestep=1.0, min_delay=2.0)
    b = sim.Population(3, sim.IF_curr_exp())
    with pytest.raises(pynn_errors.ConnectionError, match="below the minimum delay 2"):
        sim.Projection(b, b, sim.AllToAllConnector(), sim.StaticSynapse(weight=1.0, delay=1.0))
    with pytest.raises(ConfigurationError, match="min_delay"):
        sim.setup(timestep=1.0, min_delay=0.5)
    sim.end()


def test_setup_defaults_are_spynnakers_and_auto_min_delay_is_the_smallest_delay(
        caplog: pytest.LogCaptureFixture) -> None:
    sim.setup()
    assert sim.get_time_step() == 0.1 and "SpyNNaker is" in caplog.text
    sim.setup(timestep="auto")
    assert sim.get_time_step() == 1.0
    sim.setup(timestep=0.1, min_delay="auto")
    a = sim.Population(2, sim.IF_curr_exp())
    assert sim.get_min_delay() == 0.1  # no projection yet: one step
    sim.Projection(a, a, sim.AllToAllConnector(), sim.StaticSynapse(delay=0.7))
    sim.Projection(a, a, sim.OneToOneConnector(), sim.StaticSynapse(delay=0.5))
    assert sim.get_min_delay() == pytest.approx(0.5)
    sim.end()


def test_noisy_current_is_recorded_reproducible_and_written(tmp_path: Path) -> None:
    traces = []
    for _ in range(2):
        sim.setup(timestep=0.1)
        pop = sim.Population(2, sim.IF_curr_exp(), label="noisy")
        noise = sim.NoisyCurrentSource(mean=0.5, stdev=0.2, dt=1.0, start=0.0, stop=500.0,
                                       rng=sim.NumpyRNG(seed=12))
        pop.inject(noise)
        noise.record()
        pop.record("v")
        sim.run(500.0)
        traces.append(np.asarray(noise.get_data().magnitude).ravel())
        pop.write_data(str(tmp_path / "noisy.pkl"))
        sim.end()
    np.testing.assert_array_equal(traces[0], traces[1])
    on = traces[0][20:]
    assert on.mean() == pytest.approx(0.5, abs=0.05) and on.std() == pytest.approx(0.2, rel=0.2)
    assert np.unique(on).size == pytest.approx(on.size / 10, rel=0.05)  # new value every 1 ms
    import neo

    block = neo.io.PickleIO(str(tmp_path / "noisy.pkl")).read_block()
    assert signal_of(block, "v").shape == (5001, 2)
