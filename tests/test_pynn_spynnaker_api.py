"""sPyNNaker 7.4.1's API surface on spinnlive.pynn: every exported name exists and either works
or refuses naming the feature; sPyNNaker's extras and PyNN 0.13 workarounds behave as there."""

from __future__ import annotations

import numpy as np
import pytest

import spinnlive.pynn as sim
from spinnlive.errors import ConfigurationError
from spinnlive.pynn import unavailable

spynnaker = pytest.importorskip("spynnaker.pyNN")


@pytest.mark.parametrize(("theirs", "ours"), [
    ("spynnaker.pyNN", sim),
    ("spynnaker.pyNN.extra_models", sim.extra_models),
    ("spynnaker.pyNN.external_devices", sim.external_devices),
])
def test_every_name_spynnaker_exports_exists(theirs: str, ours: object) -> None:
    module = pytest.importorskip(theirs)
    missing = [name for name in module.__all__ if not hasattr(ours, name)]
    assert not missing
    if theirs.endswith("extra_models"):
        assert len(module.__all__) == 24


REFUSED = sorted({**unavailable.TOP_LEVEL, **unavailable.EXTRA_MODELS, **unavailable.DEVICES,
                  **unavailable.PYNN_MODELS})


@pytest.mark.parametrize("name", REFUSED)
def test_a_name_without_an_implementation_refuses_naming_itself(name: str) -> None:
    holder = next(m for m in (sim, sim.extra_models, sim.external_devices) if hasattr(m, name))
    stand_in = getattr(holder, name)
    if getattr(stand_in, "__module__", "") != unavailable.__name__:
        return  # a real implementation took the name
    with pytest.raises(ConfigurationError, match=name):
        stand_in(1, key="value")


def test_hardware_devices_and_machine_say_a_board_is_needed() -> None:
    with pytest.raises(ConfigurationError, match="SpiNNaker board"):
        sim.external_devices.PushBotEthernetMotorDevice("motor", None)
    with pytest.raises(ConfigurationError, match="SpiNNaker board"):
        sim.get_machine()
    with pytest.raises(ConfigurationError, match="structural plasticity"):
        sim.StructuralMechanismStatic()


def test_live_connections_are_spynnakers_classes_when_it_imports() -> None:
    from spynnaker.pyNN.connections import (
        SpynnakerLiveSpikesConnection,
        SpynnakerPoissonControlConnection,
    )
    from spynnaker.pyNN.external_devices import SpynnakerLiveSpikesConnection as via_devices

    assert sim.external_devices.SpynnakerLiveSpikesConnection is SpynnakerLiveSpikesConnection
    assert sim.external_devices.SpynnakerLiveSpikesConnection is via_devices
    assert (sim.external_devices.SpynnakerPoissonControlConnection
            is SpynnakerPoissonControlConnection)


def test_spynnaker_multi_run_pattern_through_external_devices_gets_its_spikes() -> None:
    from live_scenarios import SCENARIOS

    result = SCENARIOS["two_runs"](sim, sim.external_devices.SpynnakerLiveSpikesConnection)
    assert result["events"] > 0 and result["callbacks"] == ["start inj", "stop inj"] * 2


def test_positional_source_arguments_state_variables_float_size_and_cell_classes(
        caplog: pytest.LogCaptureFixture) -> None:
    sim.setup(timestep=1.0)
    src = sim.Population(2, sim.SpikeSourceArray([[2.0, 6.0], [4.0]]), label="src")
    noise = sim.Population(3, sim.SpikeSourcePoisson(0.0), label="noise")
    assert noise.get("rate") == 0.0
    cells = sim.Population(4.0, sim.IF_curr_exp, label="cells")  # float size, class alone
    assert cells.size == 4 and "rounded from 4.0 to 4" in caplog.text
    with pytest.raises(ConfigurationError, match="must be an int"):
        sim.Population(2.5, sim.IF_curr_exp())
    primed = sim.Population(2, sim.IF_curr_exp(v=-55.0, tau_m=12.0), label="primed")
    assert primed.get("tau_m") == 12.0
    np.testing.assert_array_equal(primed.initial_values["v"].evaluate(), [-55.0, -55.0])
    izh = sim.Population(1, sim.Izhikevich(u=-10.0, v=-60.0), label="izh")
    np.testing.assert_array_equal(izh.initial_values["u"].evaluate(), [-10.0])
    with pytest.raises(ConfigurationError, match="positional"):
        sim.SpikeSourceArray([1.0], [2.0])
    sim.Projection(src, cells, sim.AllToAllConnector(), sim.StaticSynapse(weight=5.0))
    src.record("spikes")
    cells.record("all")  # every recordable, not the letters of 'all'
    primed.record(["v"])
    sim.run(10.0)
    spikes = src.spinnaker_get_data("spikes")
    np.testing.assert_array_equal(spikes, [[0, 2.0], [0, 6.0], [1, 4.0]])
    v = cells.spinnaker_get_data("v")
    assert v.shape == (4 * 11, 3) and set(v[:, 0]) == {0, 1, 2, 3}
    matrix = cells.spinnaker_get_data(["v"], as_matrix=True)
    assert matrix.shape == (11, 4)
    np.testing.assert_array_equal(cells[1:3].spinnaker_get_data("v", as_matrix=True),
                                  matrix[:, 1:3])
    assert primed.spinnaker_get_data("v", as_matrix=True)[0, 0] == -55.0
    sim.end()


def test_spynnaker_mapping_calls_shape_the_mapping() -> None:
    sim.setup(timestep=1.0)
    pop = sim.Population(10, sim.IF_curr_exp(), label="pop")
    pop.set_max_atoms_per_core((2, 2))
    sim.set_number_of_synapse_cores(sim.IF_curr_exp, 1)
    sim.set_allow_delay_extensions(sim.IF_curr_exp, False)
    with pytest.raises(ConfigurationError, match="cell type class"):
        sim.set_number_of_synapse_cores("IF_curr_exp", 1)
    sim.run(1.0)
    cores = sim.simulator.state.engine.populations[pop._key].cores
    assert [c.stop - c.start for c in cores] == [4, 4, 2]
    sim.end()


def test_extra_connectors_wire_within_groups() -> None:
    sim.setup(timestep=1.0)
    pop = sim.Population(6, sim.extra_models.IFCurDelta())
    abm = sim.Projection(pop, pop, sim.extra_models.AllButMeConnector(n_neurons_per_group=3),
                         sim.StaticSynapse(weight=1.0))
    pairs = {(i, j) for i, j, _ in abm.get("weight", format="list")}
    assert pairs == {(i, j) for i in range(6) for j in range(6) if i // 3 == j // 3 and i != j}
    weighted = sim.Projection(pop, pop, sim.extra_models.AllButMeConnector(
        n_neurons_per_group=2, weights=[0.5, 0.7]), sim.StaticSynapse(weight=1.0))
    assert sorted(weighted.get("weight", format="list")) == [
        (0, 1, 0.7), (1, 0, 0.5), (2, 3, 0.7), (3, 2, 0.5), (4, 5, 0.7), (5, 4, 0.5)]
    wrap = sim.Projection(pop, pop, sim.extra_models.OneToOneOffsetConnector(1, True, 3),
                          sim.StaticSynapse(weight=1.0))
    assert {(i, j) for i, j, _ in wrap.get("weight", format="list")} == {
        (2, 0), (0, 1), (1, 2), (5, 3), (3, 4), (4, 5)}
    cut = sim.Projection(pop, pop, sim.extra_models.OneToOneOffsetConnector(-1, False),
                         sim.StaticSynapse(weight=1.0))
    assert {(i, j) for i, j, _ in cut.get("weight", format="list")} == {
        (1, 0), (2, 1), (3, 2), (4, 3), (5, 4)}
    with pytest.raises(Exception, match="multiple of the group size"):
        sim.Projection(pop, pop, sim.extra_models.AllButMeConnector(n_neurons_per_group=4))
    sim.end()
