"""A board's limits, checked before the run: its 7 IP tags and its Ethernet's ~0.7 M events/s."""

from __future__ import annotations

import pytest

import spinnlive.pynn as sim
from spinnlive.engine.limits import BOARD_ETHERNET_EVENTS_S, check_live_output_rate
from spinnlive.engine.mapping import map_network
from spinnlive.engine.vertices import AppVertex, LiveOutputParameters, LiveOutputRequest
from spinnlive.errors import ConfigurationError


def test_an_eighth_parameter_set_is_refused_naming_its_population() -> None:
    vertices = [AppVertex(f"p{i}", 5, "neuron") for i in range(8)]
    outputs = [LiveOutputRequest(f"p{i}", LiveOutputParameters(port=20000 + i))
               for i in range(8)]
    map_network(vertices[:7], board_address="127.0.0.2", live_outputs=outputs[:7],
                n_boards_required=3)  # seven sets fit, on every board
    with pytest.raises(ConfigurationError, match=r"'p7'.*8th.*7 tags.*more boards do not"):
        map_network(vertices, board_address="127.0.0.2", live_outputs=outputs,
                    n_boards_required=3)


def test_live_output_rate_is_summed_per_board() -> None:
    # fast (809 cores) fills board 0 and starts board 1's; slow starts on board 1 too
    vertices = [AppVertex("fast", 809, "poisson", max_atoms_per_core=1),
                AppVertex("slow", 10, "poisson")]
    mapping = map_network(vertices, board_address="127.0.0.2",
                          live_outputs=[LiveOutputRequest("fast"), LiveOutputRequest("slow")])
    assert [mapping.lpg_for(label).board for label in ("fast", "slow")] == [0, 1]
    limit = BOARD_ETHERNET_EVENTS_S
    check_live_output_rate(mapping, {"fast": 0.9 * limit, "slow": 0.9 * limit})  # two boards
    with pytest.raises(ConfigurationError,
                       match=r"board 127\.0\.0\.2 would carry 0\.77 M events/s.*'fast'"):
        check_live_output_rate(mapping, {"fast": 1.1 * limit})
    check_live_output_rate(mapping, {"fast": 1.1 * limit}, time_scale_factor=2.0)


def test_pynn_run_refuses_a_poisson_stream_one_board_cannot_carry() -> None:
    sim.setup(timestep=1.0, realtime=False)
    noise = sim.Population(1000, sim.SpikeSourcePoisson(rate=800.0), label="noise")
    sim.external_devices.activate_live_output_for(noise)
    with pytest.raises(ConfigurationError, match=r"0\.80 M events/s.*'noise'.*time_scale_factor"):
        sim.run(10)
    assert sim.get_current_time() == 0.0  # refused before the first tick
    sim.end()
