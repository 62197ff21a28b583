"""sim.external_devices on the embedded engine: timing of live input, the I/O database and its run
folder, listeners (deduplicated, silent, refused), labels, and keys equal to sPyNNaker's."""

from __future__ import annotations

import logging
import socket
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from waiting import TickHold, injected_before, wait_until

import spinnlive.pynn as sim
from spinnlive.connections import SpynnakerLiveSpikesConnection, SpynnakerPoissonControlConnection
from spinnlive.database import IODatabase
from spinnlive.errors import HandshakeTimeout

ext = sim.external_devices


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SPINNLIVE_CLOCK", raising=False)


def report() -> Any:
    return sim.simulator.state.engine.report()


def spikes_by_tick(population: Any) -> dict[int, set[int]]:
    out: dict[int, set[int]] = {}
    for train in population.get_data("spikes").segments[0].spiketrains:
        for t in train.magnitude:
            out.setdefault(int(round(float(t))) - 1, set()).add(
                int(train.annotations["source_index"]))
    return out


def test_injected_spikes_and_rates_apply_at_the_next_tick() -> None:
    spikes = SpynnakerLiveSpikesConnection(send_labels=["inj"], local_port=0)
    rates = SpynnakerPoissonControlConnection(poisson_labels=["poisson"], local_port=0)
    try:
        sim.setup(timestep=1.0, realtime=False)  # lock-step: the tick of arrival is exact
        inj = sim.Population(5, ext.SpikeInjector(database_notify_port_num=spikes.local_port),
                             label="inj")
        pop = sim.Population(5, sim.IF_curr_exp(), label="pop")
        sim.Projection(inj, pop, sim.OneToOneConnector(), sim.StaticSynapse(weight=5.0))
        poisson = sim.Population(20, sim.SpikeSourcePoisson(rate=0.0), label="poisson")
        ext.add_poisson_live_rate_control(poisson, database_notify_port_num=rates.local_port)
        for p in (inj, pop, poisson):
            p.record("spikes")
        sim.run(10)
        spikes.send_spikes("inj", [1, 4])
        rates.set_rates("poisson", [(i, 5000.0) for i in range(10)])
        wait_until(lambda: report().live_io.board.injected_packets == 2, "two packets injected")
        sim.run(10)
        assert spikes_by_tick(inj) == {10: {1, 4}}  # queued before tick 10: emitted in it
        fired = spikes_by_tick(pop)
        assert set().union(*fired.values()) == {1, 4} and min(fired) > 10
        by_tick = spikes_by_tick(poisson)
        assert min(by_tick) == 10 and set().union(*by_tick.values()) <= set(range(10))
        sim.end()
    finally:
        spikes.close()
        rates.close()


def test_spikes_injected_while_a_tick_runs_are_emitted_in_it() -> None:
    """As on a board, where the injector core sends a spike the moment it arrives: a client that
    answers tick 20's live output while tick 20 is in progress makes the injector spike in tick
    20 and a 1 ms-delay target fire in tick 21, the next tick. The run is in lock-step with the
    client (a TickHold holds tick 21 until the spike has reached the board), so the ticks are
    exact however slow the machine is."""
    conn = SpynnakerLiveSpikesConnection(receive_labels=["pacer", "inj"], send_labels=["inj"],
                                         local_port=0)
    echoed: list[tuple[int, list[int]]] = []

    def on_pacer(label: str, time: int, ids: list[int]) -> None:
        if time == 20:
            conn.send_spike("inj", 2)

    conn.add_receive_callback("pacer", on_pacer)
    conn.add_receive_callback("inj", lambda label, time, ids: echoed.append((time, list(ids))))
    try:
        sim.setup(timestep=1.0, time_scale_factor=10.0)
        gate = TickHold.install(sim, injected_before(sim, {21: 1}),
                                "the client's answer to tick 20 at the board")
        port = conn.local_port
        pacer = sim.Population(1, sim.SpikeSourceArray(spike_times=[np.arange(1.0, 41.0)]),
                               label="pacer")
        inj = sim.Population(5, ext.SpikeInjector(database_notify_port_num=port), label="inj")
        out = sim.Population(5, sim.IF_curr_delta(), label="out")
        sim.Projection(inj, out, sim.OneToOneConnector(),
                       sim.StaticSynapse(weight=30.0, delay=1.0))
        for p in (pacer, inj):
            ext.activate_live_output_for(p, database_notify_port_num=port)
        for p in (inj, out):
            p.record("spikes")
        sim.run(40)
        assert spikes_by_tick(inj) == {20: {2}}
        assert spikes_by_tick(out) == {21: {2}}
        wait_until(lambda: bool(echoed), "the injector's live output", 5.0)
        assert echoed == [(20, [2])]  # the injector's live output carries the same tick
        assert gate.held <= 1  # at most tick 21 waited
        sim.end()
    finally:
        conn.close()


def silent_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    return sock


def test_silent_listener_fails_the_run_after_its_timeout_and_end_returns() -> None:
    with silent_socket() as silent:
        sim.setup(timestep=1.0, wait_on_confirmation_timeout=0.3)
        sim.Population(2, ext.SpikeInjector(database_notify_host="127.0.0.1",
                                            database_notify_port_num=silent.getsockname()[1]))
        with pytest.raises(HandshakeTimeout, match="did not confirm"):
            sim.run(10)
        sim.end()
        assert silent.recv(1000)[:2] == b"\x01\x40"  # it was told, and never answered


def test_silent_and_refused_listeners_are_skipped_without_wait_on_confirmation(
        caplog: pytest.LogCaptureFixture, closed_port: int) -> None:
    refused = closed_port
    with silent_socket() as silent:
        quiet = silent.getsockname()[1]
        sim.setup(timestep=1.0, wait_on_confirmation=False, wait_on_confirmation_timeout=0.3)
        ext.add_database_socket_address("127.0.0.1", quiet, None)
        ext.register_database_notification_request("127.0.0.1", refused, None)
        sim.Population(2, ext.SpikeInjector(notify=False))
        with caplog.at_level(logging.WARNING):
            sim.run(10)
            sim.run(10)
        listeners = {s.listener.port: s for s in report().live_io.listeners}
        sim.end()
    assert sim.get_current_time() == pytest.approx(20)
    assert (listeners[quiet].silent, listeners[refused].refused) == (2, 2)
    assert any("did not take the DATABASE" in r.getMessage() for r in caplog.records)


def test_listeners_are_a_set(closed_port: int) -> None:
    sim.setup(timestep=1.0)
    port = closed_port
    inj = sim.Population(2, ext.SpikeInjector(database_notify_port_num=port), label="inj")
    ext.activate_live_output_for(inj, database_notify_port_num=port)
    ext.add_database_socket_address(None, port, None)
    ext.add_database_socket_address("localhost", port, 40000)  # another ack port: another one
    assert len(sim.simulator.state.engine.listeners) == 2
    sim.end()


@pytest.mark.parametrize("keep", [False, True])
def test_database_lives_in_the_run_folder_until_end(keep: bool, tmp_path: Path) -> None:
    sim.setup(timestep=1.0, keep_input_output_database=keep)
    inj = sim.Population(3, ext.SpikeInjector(notify=False), label="inj")
    pop = sim.Population(300, sim.IF_curr_exp(), label="pop")
    sim.Projection(inj, pop, sim.AllToAllConnector(), sim.StaticSynapse(weight=1.0))
    ext.activate_live_output_for(pop, notify=False)
    sim.run(5)
    live = report().live_io
    path = Path(live.database)
    assert path.name == "input_output_database.sqlite3" and path.parent.name == "run_1"
    assert path.parent.parent.parent == tmp_path / "reports"
    with IODatabase(path) as db:
        assert db.ip_address(0, 0) == live.board_address[0] != "127.0.0.1"
        assert live.board_address[1] == 17893
        assert db.atom_to_key("inj").size == 3 and db.live_output("pop").tag == 7
        assert len(db.placements("pop")) == 2  # 300 atoms: two cores of at most 256
    sim.run(5)
    assert report().live_io.database == str(path)  # no remapping: the same file
    sim.end()
    assert path.exists() is keep
    assert (tmp_path / "reports").exists() is keep


def test_graph_change_after_a_run_is_remapped_into_a_new_run_folder() -> None:
    sim.setup(timestep=1.0)
    sim.Population(3, ext.SpikeInjector(notify=False), label="inj")
    sim.run(5)
    first = Path(report().live_io.database)
    later = sim.Population(4, sim.IF_curr_exp(), label="later")
    ext.activate_live_output_for(later, notify=False)
    later.record("spikes")
    sim.run(5)
    second = Path(report().live_io.database)
    assert second.parent.name == "run_2" and not first.exists()
    with IODatabase(second) as db:
        assert db.live_output("later").tag == 7
    sim.end()


def test_duplicate_labels_are_made_unique(caplog: pytest.LogCaptureFixture) -> None:
    sim.setup(timestep=1.0, keep_input_output_database=True)
    with caplog.at_level(logging.WARNING):
        a = sim.Population(2, sim.IF_curr_exp(), label="pop")
        b = sim.Population(3, sim.IF_curr_exp(), label="pop")
    assert (a.label, b.label) == ("pop", "pop1")
    assert any("'pop1'" in r.getMessage() for r in caplog.records)
    ext.activate_live_output_for(b, notify=False)
    sim.run(1)
    with IODatabase(report().live_io.database) as db:
        assert db.atom_to_key("pop1").size == 3
    sim.end()


def test_keys_and_live_output_equal_spynnakers_for_the_same_script(tmp_path: Path) -> None:
    pytest.importorskip("spynnaker")
    from spinn_front_end_common.utilities.database import DatabaseReader
    from spynnaker_virtual import REFERENCE_SCRIPT, spynnaker_virtual_run

    theirs = spynnaker_virtual_run(tmp_path / "spynnaker", REFERENCE_SCRIPT)
    script = (REFERENCE_SCRIPT.replace("import pyNN.spiNNaker as sim", "")
              .replace("sim.setup(timestep=1.0)",
                       "sim.setup(timestep=1.0, keep_input_output_database=True)"))
    exec(compile(script, "reference_script", "exec"), {"sim": sim})  # noqa: S102
    ours = sim.simulator.state.last_report.live_io.database
    with sqlite3.connect(theirs) as con:
        labels = [r[0] for r in con.execute(
            "SELECT DISTINCT label FROM label_event_atom_view ORDER BY label")]
    assert {"inj", "pop", "poisson_control", "inj_fixed", "poisson"} <= set(labels)
    with DatabaseReader(str(theirs)) as ref, DatabaseReader(ours) as mine:
        for label in labels:
            assert mine.get_atom_id_to_key_mapping(label) == \
                ref.get_atom_id_to_key_mapping(label), label
        for label in ("pop", "poisson"):
            details = [d.get_live_output_details(label, "LiveSpikeReceiver") for d in (mine, ref)]
            # the board address differs on purpose: ours is the engine's own 127.0.0.x
            assert details[0][:3] + details[0][4:] == details[1][:3] + details[1][4:], label


def test_injector_ids_never_collide_with_neuron_keys_in_events() -> None:
    sim.setup(timestep=1.0, keep_input_output_database=True)
    inj = sim.Population(10, ext.SpikeInjector(notify=False), label="inj",
                         additional_parameters={"virtual_key": 0x70000})
    pop = sim.Population(10, sim.IF_curr_exp(), label="pop")
    sim.Projection(inj, pop, sim.OneToOneConnector(), sim.StaticSynapse(weight=5.0))
    ext.activate_live_output_for(pop, notify=False)
    sim.run(1)
    with IODatabase(report().live_io.database) as db:
        np.testing.assert_array_equal(db.atom_to_key("inj"), 0x70000 + np.arange(10))
        assert not set(db.atom_to_key("pop").tolist()) & set(db.atom_to_key("inj").tolist())
    sim.end()


def test_every_run_step_is_bracketed_by_start_and_stop_also_after_reset() -> None:
    conn = SpynnakerLiveSpikesConnection(send_labels=["inj"], local_port=0)
    seen: list[str] = []
    conn.add_start_resume_callback("inj", lambda label, c: seen.append("start"))
    conn.add_pause_stop_callback("inj", lambda label, c: seen.append("stop"))
    conn.add_init_callback("inj", lambda label, n, runtime, step: seen.append(f"db {n}"))
    try:
        sim.setup(timestep=1.0)
        sim.Population(3, ext.SpikeInjector(database_notify_port_num=conn.local_port),
                       label="inj")
        sim.run(5)
        wait_until(lambda: seen.count("stop") == 1, "the first stop callback")
        sim.reset()
        sim.run(5)
        wait_until(lambda: seen.count("stop") == 2, "the second stop callback")
        (listener,) = report().live_io.listeners
        sim.end()
    finally:
        conn.close()
    assert seen == ["db 3", "start", "stop"] * 2
    assert (listener.steps, listener.confirmed) == (2, 2)


def test_listener_added_between_runs_of_an_offline_network_gets_no_path() -> None:
    with silent_socket() as quiet:
        sim.setup(timestep=1.0, wait_on_confirmation=False, wait_on_confirmation_timeout=0.2)
        sim.Population(2, sim.IF_curr_exp())
        sim.run(5)
        assert report().live_io is None  # nothing live, nobody listening: no live I/O at all
        ext.register_database_notification_request("127.0.0.1", quiet.getsockname()[1], None)
        sim.run(5)
        quiet.settimeout(5.0)
        # no database without live I/O (as sPyNNaker): DATABASE without a path, then START/STOP
        assert [quiet.recv(100) for _ in range(3)] == [b"\x01\x40", b"\x0b\x40", b"\x0a\x40"]
        assert report().clock.value == "lockstep"
        sim.end()
