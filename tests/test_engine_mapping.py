"""Mapping: key layouts, placements, LPGs and tags, the database it produces, and sPyNNaker's own keys."""

from __future__ import annotations

import logging
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spinnlive.database.records import Configuration, Placement
from spinnlive.database.writer import write_database
from spinnlive.engine.keyspace import CoreKeys, check_disjoint
from spinnlive.engine.mapping import (
    CHIPS_PER_BOARD,
    CORES_PER_BOARD,
    N_CORES,
    Mapping,
    machine_boards,
    map_network,
)
from spinnlive.engine.vertices import AppVertex, LiveOutputParameters, LiveOutputRequest
from spinnlive.errors import ConfigurationError, UnknownLabelError

BOARD = "127.0.0.2"


def seed_network() -> list[AppVertex]:
    """The seed script's populations, in the order their first outgoing partition was made."""
    return [AppVertex("poisson_source", 250, "poisson"),
            AppVertex("spike_source", 250, "spike_array"),
            AppVertex("inj", 10, "injector"),
            AppVertex("excitatory_pop", 500, "neuron")]


def reader(path: Path):
    dbr = pytest.importorskip("spinn_front_end_common.utilities.database")
    return dbr.DatabaseReader(str(path))


def assert_key_spaces_disjoint(mapping: Mapping) -> None:
    spaces = [(c.label, CoreKeys(c.base_key, c.mask, 0)) for v in mapping.vertices
              for c in v.cores]
    check_disjoint(spaces)  # raises on any overlap
    for vertex in mapping.vertices:
        for core in vertex.cores:
            assert core.base_key & ~core.mask & 0xFFFF_FFFF == 0  # base aligned to its space
            assert np.all(core.keys & core.mask == core.base_key)  # every key in its space
    every = np.concatenate([v.keys for v in mapping.vertices])
    assert np.unique(every).size == every.size


# --------------------------------------------------------------------------- key layouts
def test_neuron_cores_have_power_of_two_key_spaces_and_keys_step_by_16() -> None:
    mapping = map_network(seed_network(), board_address=BOARD)
    exc = mapping.vertex("excitatory_pop")
    assert exc.slices == ((0, 255), (256, 499)) and exc.n_colour_bits == 4
    assert [c.mask for c in exc.cores] == [0xFFFF_F000] * 2
    assert exc.cores[1].base_key - exc.cores[0].base_key == 256 * 16  # 4096 apart, as the seed
    for core in exc.cores:
        np.testing.assert_array_equal(
            core.keys, core.base_key + (np.arange(core.n_atoms) << 4))
    np.testing.assert_array_equal(exc.keys, np.concatenate([c.keys for c in exc.cores]))
    inj = mapping.vertex("inj")
    assert inj.n_colour_bits == 0 and len(inj.cores) == 1
    np.testing.assert_array_equal(np.diff(inj.keys), 1)
    assert mapping.vertex("poisson_source").n_colour_bits == 4
    assert_key_spaces_disjoint(mapping)
    assert not exc.keys.flags.writeable


def test_virtual_key_gives_fixed_keys_and_the_reference_mask() -> None:
    rip = pytest.importorskip("spinn_front_end_common.utility_models."
                              "reverse_ip_tag_multicast_source_machine_vertex")
    calculate_mask = rip.ReverseIPTagMulticastSourceMachineVertex.calculate_mask
    for n in (3, 10, 16, 100):
        key = 0x70000
        mapping = map_network([AppVertex("pop", 300, "neuron"),
                               AppVertex("inj", n, "injector", virtual_key=key)],
                              board_address=BOARD)
        inj = mapping.vertex("inj")
        np.testing.assert_array_equal(inj.keys, key + np.arange(n))
        assert inj.cores[0].mask == calculate_mask(n)
        assert_key_spaces_disjoint(mapping)


def test_allocated_keys_skip_the_zone_a_virtual_key_occupies() -> None:
    # 256-atom neuron cores: 12-bit zones; a virtual key at 0x1000 sits in zone 1
    vertices = [AppVertex("inj", 10, "injector", virtual_key=0x1000),
                *[AppVertex(f"p{i}", 256, "neuron") for i in range(3)]]
    mapping = map_network(vertices, board_address=BOARD)
    bases = [mapping.vertex(f"p{i}").cores[0].base_key for i in range(3)]
    assert 0x1000 not in bases and len(set(bases)) == 3
    assert_key_spaces_disjoint(mapping)


def test_poisson_control_keys_step_by_one_on_one_core() -> None:
    mapping = map_network([AppVertex("poisson_control", 700, "poisson_control"),
                           AppVertex("poisson", 700, "poisson")], board_address=BOARD)
    control = mapping.vertex("poisson_control")
    assert len(control.cores) == 1 and control.n_colour_bits == 0
    np.testing.assert_array_equal(np.diff(control.keys), 1)
    assert len(mapping.vertex("poisson").cores) == 3


vertex_sets = st.lists(
    st.tuples(st.sampled_from(["neuron", "poisson", "spike_array", "injector",
                               "poisson_control"]),
              st.integers(1, 2000), st.sampled_from([None, 1, 7, 64, 255, 256]),
              st.one_of(st.none(), st.integers(0, 0xFFFF))),
    min_size=1, max_size=12)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(vertex_sets)
def test_no_two_cores_key_spaces_overlap(specs: list[tuple[str, int, int | None, int | None]]) -> None:
    vertices = []
    for i, (kind, n, per_core, vkey) in enumerate(specs):
        fixed = None
        if vkey is not None and kind in ("injector", "poisson_control"):
            fixed = (vkey << 12) & (0xFFFF_FFFF - ((1 << n.bit_length()) - 1))
            per_core = None
        vertices.append(AppVertex(f"v{i}", n, kind, per_core, fixed))
    try:
        mapping = map_network(vertices, board_address=BOARD)
    except ConfigurationError as error:  # only two virtual keys hitting each other may fail
        assert "collide" in str(error)
        fixed_spaces = [(v.label, CoreKeys(v.virtual_key, v.virtual_mask, 0))
                        for v in vertices if v.virtual_key is not None]
        with pytest.raises(ConfigurationError):
            check_disjoint(fixed_spaces)
        return
    assert_key_spaces_disjoint(mapping)
    for vertex, spec in zip(mapping.vertices, vertices):
        assert vertex.keys.size == spec.n_atoms
        if spec.virtual_key is not None:
            np.testing.assert_array_equal(vertex.keys, spec.virtual_key + np.arange(spec.n_atoms))


# --------------------------------------------------------------------------- placement, LPGs, tags
def test_lpg_first_on_core_1_then_cores_in_order_and_shared_lpgs() -> None:
    shared = LiveOutputParameters(host="127.0.0.1", port=17896)
    mapping = map_network(
        [AppVertex("a", 300, "neuron"), AppVertex("b", 20, "neuron"),
         AppVertex("c", 20, "neuron")], board_address=BOARD,
        live_outputs=[LiveOutputRequest("a", shared), LiveOutputRequest("b", shared),
                      LiveOutputRequest("c")])
    assert [(lpg.label, lpg.tag, lpg.sources) for lpg in mapping.lpgs] == [
        ("LiveSpikeReceiver", 7, ("a", "b")), ("LiveSpikeReceiver1", 6, ("c",))]
    assert [(p.x, p.y, p.p) for p in (lpg.placement for lpg in mapping.lpgs)] == [
        (0, 0, 1), (0, 0, 2)]
    cores = [c.placement.p for v in mapping.vertices for c in v.cores]
    assert cores == [3, 4, 5, 6]
    assert mapping.lpgs[0].received_key_mask == 0xFFFF_FFF0
    assert mapping.lpg_for("b") is mapping.lpgs[0]
    with pytest.raises(UnknownLabelError):
        mapping.lpg_for("nobody")


def test_requested_tags_are_kept_and_auto_tags_avoid_them() -> None:
    mapping = map_network(
        [AppVertex("a", 5, "neuron"), AppVertex("b", 5, "neuron")], board_address=BOARD,
        live_outputs=[LiveOutputRequest("a"), LiveOutputRequest("b", LiveOutputParameters(tag=7))])
    assert [lpg.tag for lpg in mapping.lpgs] == [6, 7]


def test_several_board_network_grows_the_machine_as_spynnaker_does(
        caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    """One board more than fits: a triad (3 boards, 16x16 chips), each its own Ethernet chip
    and address; the big population spans boards 0 and 1 but leaves through board 0's LPG."""
    per_board = CORES_PER_BOARD
    big = AppVertex("big", 256 * (per_board + 40), "neuron")
    vertices = [AppVertex("inj", 10, "injector"), big, AppVertex("tail", 10, "injector")]
    done: list[tuple[int, int]] = []
    outputs = [LiveOutputRequest("big"), LiveOutputRequest("tail")]
    assert machine_boards(vertices, outputs) == 3
    with caplog.at_level(logging.INFO, logger="spinnlive.engine.mapping"):
        mapping = map_network(vertices, board_address=BOARD, live_outputs=outputs,
                              progress=lambda d, t: done.append((d, t)))
    assert mapping.n_boards == 3
    assert [(b.address, b.ethernet) for b in mapping.boards] == [
        ("127.0.0.2", (0, 0)), ("127.0.0.3", (4, 8)), ("127.0.0.4", (8, 4))]
    assert any("3 boards" in r.getMessage() for r in caplog.records)
    assert any("taken by Mapping" in r.getMessage() for r in caplog.records)
    assert done[-1][0] == done[-1][1] and [d for d, _ in done] == sorted(d for d, _ in done)
    chips = {(c.x, c.y): c for c in mapping.machine.chips}
    assert len(chips) == 3 * CHIPS_PER_BOARD
    assert (mapping.machine.width, mapping.machine.height) == (16, 16)
    placements = [c.placement for v in mapping.vertices for c in v.cores]
    placements += [lpg.placement for lpg in mapping.lpgs]
    assert len(set(placements)) == len(placements) == per_board + 40 + 2 + 2 * 3
    assert all((p.x, p.y) in chips and 1 <= p.p < N_CORES for p in placements)
    spans = {mapping.board_of(c.placement).index for c in mapping.vertex("big").cores}
    assert spans == {0, 1}
    tail = mapping.vertex("tail").cores[0].placement
    assert mapping.board_of(tail).index == 1
    # an LPG core per board and parameter set (the colour bits differ: two sets); each
    # population's cores go to the LPG on the board of its FIRST core
    assert [(lpg.label, lpg.tag, lpg.board, lpg.placement, lpg.sources)
            for lpg in mapping.lpgs] == [
        ("LiveSpikeReceiver", 7, 0, Placement(0, 0, 1), ("big",)),
        ("LiveSpikeReceiver", 7, 1, Placement(4, 8, 1), ()),
        ("LiveSpikeReceiver", 7, 2, Placement(8, 4, 1), ()),
        ("LiveSpikeReceiver1", 6, 0, Placement(0, 0, 2), ()),
        ("LiveSpikeReceiver1", 6, 1, Placement(4, 8, 2), ("tail",)),
        ("LiveSpikeReceiver1", 6, 2, Placement(8, 4, 2), ())]
    assert_key_spaces_disjoint(mapping)

    path = write_database(mapping.to_database_records(), tmp_path / "db.sqlite3")
    far = mapping.vertex("big").cores[-1].placement
    with reader(path) as db:
        assert db.get_ip_address(far.x, far.y) == "127.0.0.3"  # its own board's Ethernet
        assert db.get_ip_address(tail.x, tail.y) == "127.0.0.3"
        assert db.get_ip_address(0, 0) == "127.0.0.2"
        atom_to_key = db.get_atom_id_to_key_mapping("big")
        assert atom_to_key[big.n_atoms - 1] == int(mapping.keys("big")[-1])
        assert db.get_live_output_details("big", "LiveSpikeReceiver")[3:] == (
            "127.0.0.2", 7, 0, 0)
        assert db.get_live_output_details("tail", "LiveSpikeReceiver")[3:] == (
            "127.0.0.3", 6, 4, 8)


@pytest.mark.parametrize(("asked", "boards", "size"), [
    (1, 1, (8, 8)), (2, 3, (16, 16)), (3, 3, (16, 16)), (4, 6, (28, 16)), (6, 6, (28, 16)),
    (7, 12, (28, 28))])
def test_boards_asked_for_give_spynnakers_machine(asked: int, boards: int,
                                                   size: tuple[int, int]) -> None:
    mapping = map_network([AppVertex("a", 5, "neuron")], board_address=BOARD,
                          n_boards_required=asked)
    assert (mapping.n_boards, (mapping.machine.width, mapping.machine.height)) == (boards, size)
    geometry = pytest.importorskip("spinn_machine.spinnaker_triad_geometry")
    if boards > 1:  # spinn_machine's own Ethernet chips, in its order
        assert [b.ethernet for b in mapping.boards] == geometry.SpiNNakerTriadGeometry \
            .get_spinn5_geometry().get_potential_ethernet_chips(*size)
    for board in mapping.boards:
        on_board = [c for c in mapping.machine.chips if c.nearest_ethernet == board.ethernet]
        assert len(on_board) == CHIPS_PER_BOARD
        assert [c.ip_address for c in on_board if c.ip_address] == [board.address]


# --------------------------------------------------------------------------- the database
def test_database_read_back_through_spinnakers_own_reader(tmp_path: Path) -> None:
    vertices = [AppVertex("poisson_control", 5, "poisson_control"),
                AppVertex("poisson", 5, "poisson"), *seed_network()]
    outputs = [LiveOutputRequest("excitatory_pop"),
               LiveOutputRequest("spike_source", LiveOutputParameters(
                   host="localhost", port=17897, strip_sdp=True))]
    config = Configuration(machine_time_step_us=100.0, time_scale_factor=10.0, runtime_ms=None)
    mapping = map_network(vertices, board_address=BOARD, live_outputs=outputs,
                          configuration=config)
    path = write_database(mapping.to_database_records(), tmp_path)
    with reader(path) as db:
        for label in ("inj", "poisson_control", "excitatory_pop", "spike_source"):
            keys = mapping.keys(label)
            assert db.get_atom_id_to_key_mapping(label) == dict(enumerate(keys.tolist()))
            first = mapping.vertex(label).cores[0].placement
            assert db.get_placements(label)[0] == (first.x, first.y, first.p)
        # populations that are neither injected nor live-output carry no events (as sPyNNaker)
        assert db.get_atom_id_to_key_mapping("poisson") == {}
        assert db.get_atom_id_to_key_mapping("poisson_source") == {}
        lpg0, lpg1 = mapping.lpgs
        assert db.get_live_output_details("excitatory_pop", "LiveSpikeReceiver") == (
            "0.0.0.0", 17895, 1, BOARD, lpg0.tag, 0, 0)
        assert db.get_live_output_details("spike_source", "LiveSpikeReceiver") == (
            "localhost", 17897, 1, BOARD, lpg1.tag, 0, 0)
        assert db.get_ip_address(0, 0) == BOARD
        assert db.get_configuration_parameter_value("machine_time_step") == 100.0
        assert db.get_configuration_parameter_value("time_scale_factor") == 10.0
        assert db.get_configuration_parameter_value("runtime") == -1
        assert db.get_configuration_parameter_value("app_id") == 17


# --------------------------------------------------------------------------- errors
@pytest.mark.parametrize(("build", "match"), [
    (lambda: AppVertex("n", 10, "neuron", virtual_key=0x1000), "virtual_key applies"),
    (lambda: AppVertex("i", 10, "injector", virtual_key=0x1001), "not aligned"),
    (lambda: AppVertex("i", 10, "injector", max_atoms_per_core=5, virtual_key=0x1000),
     "needs one core"),
    (lambda: AppVertex("x", 0, "neuron"), "n_atoms"),
    (lambda: AppVertex("x", 5, "dendrite"), "unknown vertex kind"),
    (lambda: LiveOutputParameters(port=70000), "UDP port"),
])
def test_impossible_vertices_are_refused(build, match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        build()


@pytest.mark.parametrize(("kwargs", "match"), [
    (dict(vertices=[AppVertex("i", 10, "injector", virtual_key=0x1000),
                    AppVertex("j", 4, "injector", virtual_key=0x1008)]), "collide"),
    (dict(vertices=[AppVertex("a", 5, "neuron"), AppVertex("a", 6, "neuron")]), "unique"),
    (dict(vertices=[AppVertex("big", 2**28 + 1, "neuron", max_atoms_per_core=2**28 + 1)]),
     "key bits"),
    (dict(vertices=[AppVertex("a", 300 * 256, "neuron")], max_boards=0), "boards"),
    (dict(vertices=[AppVertex("a", 5, "neuron")],
          live_outputs=[LiveOutputRequest("a", LiveOutputParameters(port=20000 + i))
                        for i in range(8)]), "out of IP tags"),
    (dict(vertices=[AppVertex("a", 5, "neuron")],
          live_outputs=[LiveOutputRequest("a", LiveOutputParameters(port=1, tag=3)),
                        LiveOutputRequest("a", LiveOutputParameters(port=2, tag=3))]),
     "same IP tag"),
    (dict(vertices=[AppVertex("a", 5, "neuron")],
          live_outputs=[LiveOutputRequest("a", LiveOutputParameters(tag=9))]), "1..7"),
    (dict(vertices=[AppVertex("LiveSpikeReceiver", 5, "neuron")],
          live_outputs=[LiveOutputRequest("LiveSpikeReceiver")]), "live packet gatherer"),
])
def test_impossible_mappings_are_refused(kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        map_network(board_address=BOARD, **kwargs)


def test_live_output_for_unknown_population_names_it() -> None:
    with pytest.raises(UnknownLabelError, match="ghost"):
        map_network([AppVertex("a", 5, "neuron")], board_address=BOARD,
                    live_outputs=[LiveOutputRequest("ghost")])


# --------------------------------------------------------------------------- sPyNNaker's own keys
SPYNNAKER_SCRIPT = textwrap.dedent("""
    import glob, sys
    import pyNN.spiNNaker as sim
    ext = sim.external_devices
    sim.setup(timestep=1.0)
    if sys.argv[1] == "seed":
        ps = sim.Population(250, sim.SpikeSourcePoisson(rate=50), label="poisson_source")
        ss = sim.Population(250, sim.SpikeSourceArray(spike_times=[10]), label="spike_source")
        ex = sim.Population(500, sim.IF_curr_exp(), label="excitatory_pop")
        inj = sim.Population(10, ext.SpikeInjector(notify=False), label="inj")
        for pre in (ps, ss, inj):
            sim.Projection(pre, ex, sim.OneToOneConnector(), sim.StaticSynapse(weight=0.1))
        ext.activate_live_output_for(ex, notify=False)
    else:
        po = sim.Population(5, sim.SpikeSourcePoisson(rate=10), label="poisson")
        ext.add_poisson_live_rate_control(po, notify=False)
        inj = sim.Population(3, ext.SpikeInjector(notify=False), label="inj_fixed",
                             additional_parameters={"virtual_key": 0x70000})
        a = sim.Population(8, sim.IF_curr_exp(), label="pop_a")
        b = sim.Population(6, sim.IF_curr_exp(), label="pop_b")
        sim.Projection(po, a, sim.OneToOneConnector(), sim.StaticSynapse(weight=0.1))
        sim.Projection(inj, b, sim.OneToOneConnector(), sim.StaticSynapse(weight=0.1))
        for pop in (a, b):
            ext.activate_live_output_for(pop, host="127.0.0.1", port=17896, notify=False)
    sim.run(5)
    sim.end()
    print(sorted(glob.glob("reports/*/run_1/input_output_database.sqlite3"))[-1])
""")

# Vertices in the order sPyNNaker made their first outgoing partitions (the allocation order).
REFERENCE_NETWORKS = {
    "seed": (seed_network(), [LiveOutputRequest("excitatory_pop")]),
    "second": ([AppVertex("poisson_control", 5, "poisson_control"),
                AppVertex("poisson", 5, "poisson"),
                AppVertex("inj_fixed", 3, "injector", virtual_key=0x70000),
                AppVertex("pop_a", 8, "neuron"), AppVertex("pop_b", 6, "neuron")],
               [LiveOutputRequest(label, LiveOutputParameters(host="127.0.0.1", port=17896))
                for label in ("pop_a", "pop_b")]),
}


def test_keys_and_live_output_equal_spynnakers_on_a_virtual_board(tmp_path: Path) -> None:
    pytest.importorskip("spynnaker")
    home = tmp_path / "home"
    home.mkdir()
    (home / ".spynnaker.cfg").write_text(
        "[Machine]\nvirtual_board = True\nversion = 5\n\n"
        "[Reports]\nkeep_input_output_database = True\n")
    env = {**os.environ, "HOME": str(home)}
    runs = {}
    for name in REFERENCE_NETWORKS:
        cwd = tmp_path / name
        cwd.mkdir()
        runs[name] = (cwd, subprocess.Popen(
            [sys.executable, "-c", SPYNNAKER_SCRIPT, name], cwd=cwd, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    for name, (cwd, proc) in runs.items():
        out, err = proc.communicate(timeout=100)
        assert proc.returncode == 0, err[-2000:]
        theirs = cwd / out.strip().splitlines()[-1]
        vertices, outputs = REFERENCE_NETWORKS[name]
        mapping = map_network(vertices, board_address="127.0.0.0", live_outputs=outputs)
        ours = write_database(mapping.to_database_records(), cwd / "ours.sqlite3")
        with sqlite3.connect(theirs) as con:
            labels = [r[0] for r in con.execute(
                "SELECT DISTINCT label FROM label_event_atom_view ORDER BY label")]
        assert labels, "the reference database has no events"
        with reader(theirs) as ref, reader(ours) as mine:
            for label in labels:
                assert mine.get_atom_id_to_key_mapping(label) == \
                    ref.get_atom_id_to_key_mapping(label), (name, label)
            for request in outputs:
                assert mine.get_live_output_details(request.label, "LiveSpikeReceiver") == \
                    ref.get_live_output_details(request.label, "LiveSpikeReceiver")
