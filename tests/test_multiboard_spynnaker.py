"""sPyNNaker's toolchain on a 3-board virtual machine: its database, read by the bridge and
reproduced by the engine's mapping.

The network spans boards: ``big`` (1000 one-neuron cores) starts on board (0, 0) and runs onto
board (4, 8), where the injector ``inj`` and the first core of ``late`` sit, so live output leaves
through two boards' LPGs (tag 7 for the default parameter set, tag 6 for ``inj``'s own host and
port, on every board). Creation order and first-partition order agree (big -> late first, then
inj -> late, then late's live output), so the engine places and keys the vertices in the same
order as the toolchain.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from bridge_helpers import quick_config
from spynnaker_virtual import SPYNNAKER_CFG, spynnaker_virtual_run
from subprocesses import run_python

from spinnlive.bridge import Bridge, Direction
from spinnlive.database.writer import write_database
from spinnlive.engine.mapping import map_network
from spinnlive.engine.vertices import AppVertex, LiveOutputParameters, LiveOutputRequest

pytest.importorskip("spynnaker")

SCRIPT = """\
import pyNN.spiNNaker as sim
sim.setup(timestep=1.0, n_boards_required=3)
ext = sim.external_devices
sim.set_number_of_neurons_per_core(sim.IF_curr_exp, 1)
big = sim.Population(1000, sim.IF_curr_exp(), label="big")
inj = sim.Population(10, ext.SpikeInjector({notify}), label="inj")
late = sim.Population(700, sim.IF_curr_exp(), label="late")
sim.Projection(big, late, sim.FromListConnector([(0, 0)]), sim.StaticSynapse(weight=1.0))
sim.Projection(inj, late, sim.OneToOneConnector(), sim.StaticSynapse(weight=5.0))
ext.activate_live_output_for(big, {notify})
ext.activate_live_output_for(late, {notify})
ext.activate_live_output_for(inj, host="127.0.0.1", port=17896, {notify})
sim.run(10)
sim.end()
"""
LABELS = ("big", "inj", "late")
#: the engine's view of the same network: vertices in allocation order, live outputs in order
VERTICES = [AppVertex("big", 1000, "neuron", max_atoms_per_core=1),
            AppVertex("inj", 10, "injector"),
            AppVertex("late", 700, "neuron", max_atoms_per_core=1)]
OUTPUTS = [LiveOutputRequest("big"), LiveOutputRequest("late"),
           LiveOutputRequest("inj", LiveOutputParameters(host="127.0.0.1", port=17896))]


def _reader(path: str | Path):
    from spinn_front_end_common.utilities.database import DatabaseReader

    return DatabaseReader(str(path))


def _rows(path: Path, sql: str) -> set[tuple[object, ...]]:
    with sqlite3.connect(path) as con:
        return set(con.execute(sql))


LPG_ROWS = """
    SELECT av.vertex_label, mv.label, p.chip_x, p.chip_y, p.chip_p, t.tag, t.board_address,
           t.ip_address, t.port, t.strip_sdp
    FROM IP_tags t JOIN Machine_vertices mv USING (vertex_id)
    JOIN Placements p USING (vertex_id)
    JOIN graph_mapper_vertex g ON g.machine_vertex_id = mv.vertex_id
    JOIN Application_vertices av ON av.vertex_id = g.application_vertex_id
    WHERE av.vertex_label LIKE 'LiveSpikeReceiver%'"""
LPG_EDGES = """
    SELECT DISTINCT pre_vertex_label, post_vertex_label, board_address, tag, chip_x, chip_y
    FROM app_output_tag_view"""
CHIPS = ("SELECT chip_x, chip_y, no_processors, ip_address, nearest_ethernet_x,"
         " nearest_ethernet_y FROM Machine_chip")


@pytest.mark.timeout(600)  # sPyNNaker maps 1700 cores on a busy machine
def test_engine_writes_the_multiboard_database_spynnaker_writes(tmp_path: Path) -> None:
    theirs = spynnaker_virtual_run(tmp_path / "spynnaker", SCRIPT.format(notify="notify=False"),
                                   timeout=500)
    board_ips = [ip for (ip,) in _rows(theirs, "SELECT ip_address FROM Machine_chip"
                                             " WHERE ip_address IS NOT NULL")]
    # the toolchain's Ethernet order: (0,0), (4,8), (8,4) -> 127.0.0.0, 127.0.4.8, 127.0.8.4
    addresses = ["127.0.0.0", "127.0.4.8", "127.0.8.4"]
    assert sorted(board_ips) == sorted(addresses)
    mapping = map_network(VERTICES, board_address=addresses, live_outputs=OUTPUTS,
                          n_boards_required=3)
    ours = write_database(mapping.to_database_records(), tmp_path / "ours.sqlite3")

    assert _rows(ours, "SELECT * FROM Machine_layout") == _rows(
        theirs, "SELECT * FROM Machine_layout")
    assert _rows(ours, CHIPS) == _rows(theirs, CHIPS)
    assert _rows(ours, LPG_ROWS) == _rows(theirs, LPG_ROWS)  # an LPG per board and set
    edges = _rows(theirs, LPG_EDGES)
    assert _rows(ours, LPG_EDGES) == edges
    assert {row[2] for row in edges} == {"127.0.0.0", "127.0.4.8"}  # out through two boards
    with _reader(theirs) as ref, _reader(ours) as mine:
        for label in LABELS:
            assert mine.get_atom_id_to_key_mapping(label) == \
                ref.get_atom_id_to_key_mapping(label), label
            assert mine.get_live_output_details(label, "LiveSpikeReceiver") == \
                ref.get_live_output_details(label, "LiveSpikeReceiver"), label
            (rx, ry, _), (mx, my, _) = ref.get_placements(label)[0], mine.get_placements(label)[0]
            assert mine.get_ip_address(mx, my) == ref.get_ip_address(rx, ry), label
        spans = {mine.get_ip_address(x, y) for x, y, _ in mine.get_placements("big")}
        assert spans == {"127.0.0.0", "127.0.4.8"}  # big's cores sit on two boards


@pytest.mark.timeout(600)
async def test_bridge_reads_spynnakers_multiboard_database_as_database_reader(
        tmp_path: Path) -> None:
    async with Bridge(quick_config(tag_timeout_s=0.5, tag_resend_s=0.1)) as bridge:
        port = bridge.notify_address[1]
        (tmp_path / ".spynnaker.cfg").write_text(SPYNNAKER_CFG)
        code, out, err = await run_python(
            SCRIPT.format(notify=f"database_notify_port_num={port}"), [], tmp_path, 500,
            env={"MPLBACKEND": "Agg", "PYTHONUNBUFFERED": "1", "HOME": str(tmp_path)})
        output = out + err
        assert code == 0, output[-3000:]
        assert output.count(f"Confirmation from 127.0.0.1:{port} received") == 1, output[-3000:]
        assert not [line for line in output.splitlines()
                    if "WARNING" in line and (str(port) in line or "onfirm" in line)]
        session = bridge.session
        assert session is not None and session.database is not None
        assert {(p.label, p.direction) for p in session.populations} == {
            ("big", Direction.OUT), ("late", Direction.OUT), ("inj", Direction.OUT)}
        with _reader(session.database) as ref:
            expected_tags = set()
            for label in LABELS:
                k2a = ref.get_key_to_atom_id_mapping(label)
                found = session.output_table.lookup(np.array(list(k2a), dtype=np.uint32))
                assert found.known.all() and found.atom.tolist() == list(k2a.values())
                assert [session.output_table.labels[i] for i in set(found.label_index)] == [label]
                _, _, _, board, tag, x, y = ref.get_live_output_details(label, "LiveSpikeReceiver")
                expected_tags.add((board, tag, x, y))
                assert session.output_boards[label] == (board,)
            assert {(t.board, t.tag, t.x, t.y) for t in session.tags} == expected_tags
            assert len({t.board for t in session.tags}) == 2
            assert set(session.boards) == {ref.get_ip_address(x, y)
                                           for x, y in ((0, 0), (4, 8), (8, 4))}
        stats = bridge.statistics()
        assert stats.udp.tag_timeouts == len(expected_tags)  # virtual boards never answer
        assert set(stats.boards) == set(session.boards)
        assert {b.state for b in stats.boards.values()} == {"unanswered", "untracked"}
        assert stats.boards["127.0.8.4"].topics == ()
        assert set(stats.boards["127.0.4.8"].topics) == {"spikes/late", "spikes/inj"}


@pytest.mark.timeout(600)
def test_spinnlive_run_passes_spynnakers_machine_cfg_through(tmp_path: Path) -> None:
    """``spinnlive run --backend spinnaker`` with sPyNNaker's own cfg for a 3-board virtual
    machine (``[Machine] width/height``): the script asks for no machine size, the cfg is used
    unchanged, and the bridge follows both boards' live output."""
    (tmp_path / ".spynnaker.cfg").write_text(
        SPYNNAKER_CFG.replace("version = 5\n", "version = 5\nwidth = 16\nheight = 16\n"))
    script = SCRIPT.format(notify="notify=False").replace(", n_boards_required=3", "")
    (tmp_path / "net.py").write_text(script)
    code, out, err = _spinnlive_run(tmp_path)
    output = out + err
    assert code == 0, output[-3000:]
    assert "Created Machine on 127.0.0.0 with 144 Chips" in output  # sPyNNaker's 3 boards
    assert output.count("Confirmation from") == 1, output[-3000:]
    topics = next(line for line in output.splitlines() if line.startswith("  topics:")).split()
    assert {"spikes/big", "spikes/inj", "spikes/late"} <= set(topics)
    assert "3 boards:" in output
    boards = {line.split()[0]: line for line in output.splitlines()
              if line.startswith("    127.0.")}
    assert "spikes/big" in boards["127.0.0.0"] and "spikes/late" in boards["127.0.4.8"]
    assert "unanswered" in boards["127.0.0.0"] and "untracked" in boards["127.0.8.4"]


def _spinnlive_run(cwd: Path) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("XDG_CONFIG")}
    env.update(HOME=str(cwd), MPLBACKEND="Agg", PYTHONUNBUFFERED="1")
    done = subprocess.run([sys.executable, "-m", "spinnlive.cli", "run", "net.py", "--backend",
                           "spinnaker", "--no-plot", "--discovery", "tcp://127.0.0.1:0"], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=500)
    return done.returncode, done.stdout, done.stderr
