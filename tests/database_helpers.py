"""Shared by the database tests: a hand-built mapping, and the reader-vs-reference comparison.

:func:`sample_mapping` is shaped like sPyNNaker's mappings (see tests/spynnaker_virtual.py). It has every key layout (colour-bit neuron keys with one base per core, injector keys stepping
by 1, fixed virtual keys), two LPGs whose cores share a label, system vertices with repeated
labels and an IP tag, a population with no events, and two boards so the Ethernet-IP quirk of
``get_ip_address`` shows.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
from spinn_front_end_common.utilities.database import DatabaseReader

from spinnlive.database import (
    ApplicationVertex,
    Chip,
    Configuration,
    IODatabase,
    IPTag,
    LiveOutputDetails,
    LpgEdge,
    Machine,
    MachineVertex,
    Mapping,
    Placement,
)
from spinnlive.errors import DatabaseError
from spinnlive.protocol.keys import core_keys

BOARD_A = "10.11.12.1"
BOARD_B = "10.11.12.2"


def sample_machine() -> Machine:
    """A 2x3 machine: chips (x, 0..1) on board A at (0, 0), chips (x, 2) on board B at (1, 2)."""
    chips = []
    for x in range(2):
        for y in range(3):
            eth = (1, 2) if y == 2 else (0, 0)
            ip = {(0, 0): BOARD_A, (1, 2): BOARD_B}.get((x, y))
            chips.append(Chip(x, y, 17 if (x, y) == (1, 1) else 18, ip, eth))
    return Machine(2, 3, tuple(chips))


def sample_mapping(runtime_ms: float | None = None) -> Mapping:
    pop_cores = (
        MachineVertex.for_slice("pop", 0, 255, Placement(0, 0, 2), core_keys(0, 256, 4)),
        MachineVertex.for_slice("pop", 256, 299, Placement(0, 0, 3), core_keys(0x1000, 44, 4)),
    )
    inj = MachineVertex.for_slice("inj", 0, 9, Placement(0, 0, 4), core_keys(0x6000, 10))
    poisson = MachineVertex.for_slice("poisson", 0, 19, Placement(0, 1, 1), core_keys(0x4000, 20, 4))
    control = MachineVertex.for_slice("poisson_control", 0, 19, Placement(0, 1, 2),
                                      core_keys(0x2000, 20))
    fixed = MachineVertex.for_slice("inj_fixed", 0, 2, Placement(1, 0, 5), core_keys(0x70000, 3))
    silent = MachineVertex.for_slice("silent", 0, 99, Placement(1, 1, 16))
    lpg = MachineVertex("LiveSpikeReceiver", Placement(0, 0, 1),
                        ip_tags=(IPTag(7, BOARD_A, "0.0.0.0", 17895, True),))
    lpg_b = MachineVertex("LiveSpikeReceiver", Placement(1, 2, 1),
                          ip_tags=(IPTag(3, BOARD_B, "192.168.7.9", 20000, False),))
    system = (
        MachineVertex("SYSTEM:PacketGatherer(0,0)", Placement(0, 0, 17),
                      ip_tags=(IPTag(6, BOARD_A, "localhost", 10000, True),)),
        MachineVertex("SYSTEM:ExtraMonitor", Placement(0, 0, 16)),
        MachineVertex("SYSTEM:ExtraMonitor", Placement(1, 2, 16)),
    )
    vertices = (
        ApplicationVertex("inj", (inj,)),
        ApplicationVertex("pop", pop_cores),
        ApplicationVertex("LiveSpikeReceiver", (lpg,)),
        ApplicationVertex("poisson", (poisson,)),
        ApplicationVertex("poisson_control", (control,)),
        ApplicationVertex("LiveSpikeReceiver1", (lpg_b,)),
        ApplicationVertex("inj_fixed", (fixed,)),
        ApplicationVertex("silent", (silent,)),
    )
    edges = (LpgEdge(pop_cores[1], lpg), LpgEdge(pop_cores[0], lpg), LpgEdge(poisson, lpg_b))
    return Mapping(sample_machine(), vertices, Configuration(1000.0, 2.0, runtime_ms, 17),
                   edges, system)



def expected_live_output(mapping: Mapping, label: str,
                         lpg_label: str = "LiveSpikeReceiver") -> LiveOutputDetails | None:
    """What the records say ``get_live_output_details`` must answer (first matching edge)."""
    cores = mapping.vertex(label).machine_vertices
    for edge in mapping.lpg_edges:
        if any(edge.pre is core for core in cores) and edge.post.label.startswith(lpg_label):
            tag = edge.post.ip_tags[0]
            return LiveOutputDetails(tag.ip_address, tag.port, tag.strip_sdp, tag.board_address,
                                     tag.tag, edge.post.placement.x, edge.post.placement.y)
    return None


def assert_same_answers_as_reference(path: Path) -> int:
    """Ask spinnlive's IODatabase and FEC's DatabaseReader everything, per label; they must agree.

    Returns the number of labels compared. Where the reference fails (no live output: it
    subscripts None) spinnlive must raise DatabaseError instead.
    """
    raw = sqlite3.connect(path)
    labels = [r[0] for r in raw.execute("SELECT vertex_label FROM Application_vertices")]
    chips = raw.execute("SELECT chip_x, chip_y FROM Machine_chip").fetchall()
    lpg_labels = {r[0] for r in raw.execute("SELECT post_vertex_label FROM app_output_tag_view")}
    infinite_run = raw.execute(
        "SELECT value FROM configuration_parameters WHERE parameter_id = 'infinite_run'").fetchone()
    raw.close()
    assert labels, f"{path} has no application vertices"
    with DatabaseReader(str(path)) as ref, IODatabase(path) as ours:
        for label in labels:
            ref_k2a = ref.get_key_to_atom_id_mapping(label)
            keys, atoms = ours.key_to_atom(label)
            assert dict(zip(keys.tolist(), atoms.tolist())) == ref_k2a, label
            assert np.all(np.diff(keys.astype(np.int64)) > 0)
            ref_a2k = ref.get_atom_id_to_key_mapping(label)
            dense = ours.atom_to_key(label)
            assert {a: k for a, k in enumerate(dense.tolist()) if k >= 0} == ref_a2k, label
            table = ours.key_table([label])
            assert table.lookup(list(ref_k2a)).atom.tolist() == list(ref_k2a.values())
            assert ours.placements(label).tolist() == [list(p) for p in ref.get_placements(label)]
            for lpg in sorted(lpg_labels) + ["LiveSpikeReceiver"]:
                try:
                    want = ref.get_live_output_details(label, lpg)
                except TypeError:  # the reference's way of saying "no such row"
                    try:
                        ours.live_output(label, lpg)
                    except DatabaseError as error:
                        assert label in str(error) and str(path) in str(error)
                    else:
                        raise AssertionError(f"{label}->{lpg}: spinnlive found live output")
                    continue
                got = ours.live_output(label, lpg)
                assert (got.ip_address, got.port, int(got.strip_sdp), got.board_address, got.tag,
                        got.chip_x, got.chip_y) == want
        for x, y in [*chips, (97, 98)]:
            assert ours.ip_address(x, y) == ref.get_ip_address(x, y), (x, y)
        cfg = ours.configuration()
        assert cfg.machine_time_step_us == ref.get_configuration_parameter_value("machine_time_step")
        assert cfg.time_scale_factor == ref.get_configuration_parameter_value("time_scale_factor")
        assert cfg.app_id == ref.get_configuration_parameter_value("app_id")
        runtime = ref.get_configuration_parameter_value("runtime")
        assert (-1.0 if cfg.runtime_ms is None else cfg.runtime_ms) == runtime
        # The reference cannot read infinite_run (float('False') fails): compare the raw text.
        assert infinite_run == (str(cfg.infinite_run),)
        assert ref.get_job() is None
    return len(labels)
