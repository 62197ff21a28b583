"""spinnlive's own live connections: the interop scenarios without sPyNNaker, and their details.

The scenarios of tests/test_interop_live.py run in a subprocess that imports only spinnlive,
and fail if any part of the SpiNNaker stack got imported on the way.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from pathlib import Path

import pytest
from board_harness import POISSON_RATES, MiniEngine, u1616
from subprocesses import run_python
from waiting import until

from spinnlive.connections import SpynnakerLiveSpikesConnection, SpynnakerPoissonControlConnection
from spinnlive.engine.vertices import LiveOutputParameters
from spinnlive.errors import ConfigurationError, HandshakeTimeout, TransportError
from spinnlive.transport.loop_thread import LabelWorkers, LoopThread

TESTS = Path(__file__).parent
STACK = ("spynnaker", "spinnman", "spinn_front_end_common", "pacman", "spinn_utilities",
         "spinn_machine")

SCRIPT = f"""
import asyncio, json, sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
import board_harness as h
from spinnlive.connections import (
    SpynnakerLiveSpikesConnection, SpynnakerPoissonControlConnection)

tmp, rates, encoded = Path(sys.argv[2]), json.loads(sys.argv[3]), json.loads(sys.argv[4])
(tmp / "live").mkdir()
(tmp / "poisson").mkdir()
live = asyncio.run(h.live_spikes_scenario(SpynnakerLiveSpikesConnection, tmp / "live"))
poisson = asyncio.run(h.poisson_control_scenario(
    SpynnakerPoissonControlConnection, tmp / "poisson", rates, encoded))
stack = {STACK!r}
print(json.dumps({{"steps": live["steps"], "poisson": poisson,
                  "imported": sorted(m for m in sys.modules if m.split(".")[0] in stack)}}))
"""


async def test_our_connections_pass_the_interop_scenarios_without_spynnaker(
        tmp_path: Path) -> None:
    code, out, err = await run_python(SCRIPT, [TESTS, tmp_path, json.dumps(POISSON_RATES),
                                               json.dumps(u1616(POISSON_RATES))], tmp_path, 110)
    assert code == 0, err[-4000:]
    result = json.loads(out.strip().splitlines()[-1])
    assert result["imported"] == []
    assert [s["events"] > 0 for s in result["steps"]] == [True, True]
    assert result["poisson"]["count"] > 0


async def test_no_time_packets_give_per_event_callbacks_like_the_reference(
        tmp_path: Path) -> None:
    """Without timestamps each event is one ``cb(label, atom, payload)``, as sPyNNaker does."""
    live = LiveOutputParameters(payload_as_time_stamps=False, use_payload_prefix=False)
    engine = MiniEngine(tmp_path, live=live)
    events: list[tuple[str, int, object]] = []
    started = threading.Event()
    conn = SpynnakerLiveSpikesConnection(receive_labels=["pop"], send_labels=["inj"],
                                         local_port=0)
    conn.add_receive_no_time_callback("pop", lambda *args: events.append(args))
    conn.add_start_resume_callback("inj", lambda label, c: started.set())
    try:
        await engine.start([("127.0.0.1", conn.local_port)])

        async def during() -> None:
            assert await asyncio.to_thread(started.wait, 20.0)
            await asyncio.to_thread(conn.send_spikes, "inj", [4, 5], True)  # full keys
            await until(lambda: {a for _, a, _ in events} >= {4, 5}, "spikes of 4 and 5")

        await engine.run_step(during)
        _, ids = engine.recorded("pop")
        await until(lambda: len(events) >= ids.size, "every spike")
        assert sorted(events) == sorted(("pop", int(i), None) for i in ids)
    finally:
        conn.close()
        await engine.close()


def test_callbacks_of_one_label_run_in_order_and_others_are_not_held_up() -> None:
    workers = LabelWorkers("test")
    seen: list[tuple[str, int]] = []
    gate = threading.Event()
    try:
        workers.submit("slow", gate.wait, 10.0)  # holds only the "slow" label
        futures = [workers.submit(label, seen.append, (label, i))
                   for i in range(200) for label in ("slow", "fast")]
        futures[-1].result(5)  # the last "fast" one finished while "slow" waits
        assert [i for label, i in seen if label == "fast"] == list(range(200))
        assert all(label == "fast" for label, _ in seen)
        gate.set()
        futures[-2].result(5)
        assert [i for label, i in seen if label == "slow"] == list(range(200))
        failing = workers.submit("fast", lambda: 1 / 0)
        with pytest.raises(ZeroDivisionError):
            failing.result(5)
        assert workers.submit("fast", lambda: "still serving").result(5) == "still serving"
    finally:
        gate.set()
        workers.close()


def test_the_api_matches_the_reference_and_refuses_what_it_refuses() -> None:
    conn = SpynnakerPoissonControlConnection(poisson_labels=["p"], local_host="127.0.0.1",
                                             local_port=0)
    try:
        assert conn.local_ip_address == "127.0.0.1" and conn.local_port > 0
        with pytest.raises(ConfigurationError):
            conn.add_receive_callback("p", print)
        with pytest.raises(ValueError):
            conn.set_rate("p", 0, 70000.0)
        with pytest.raises(ConfigurationError, match="no database"):
            conn.set_rate("p", 0, 1.0)  # before any database: nowhere to send
    finally:
        conn.close()
    with pytest.raises(ConfigurationError):
        SpynnakerLiveSpikesConnection(receive_labels=["x"], live_packet_gather_label=None,
                                      local_port=0)
    reference = pytest.importorskip("spynnaker.pyNN.connections")
    import inspect

    for ours, theirs in ((SpynnakerLiveSpikesConnection,
                          reference.SpynnakerLiveSpikesConnection),
                         (SpynnakerPoissonControlConnection,
                          reference.SpynnakerPoissonControlConnection)):
        public = {n for n in dir(theirs) if not n.startswith("_")}
        assert public - set(dir(ours)) <= {"get_receive_method", "is_ready_to_receive",
                                           "receive", "receive_with_address", "send",
                                           "send_to", "is_connected", "remote_ip_address",
                                           "remote_port"}  # spinnman's socket API
        theirs_args = list(inspect.signature(theirs.__init__).parameters)
        assert list(inspect.signature(ours.__init__).parameters)[:len(theirs_args)] == theirs_args


def test_close_releases_the_notification_port_and_the_threads() -> None:
    before = threading.active_count()
    conn = SpynnakerLiveSpikesConnection(receive_labels=["pop"], local_host="127.0.0.1",
                                         local_port=0)
    port = conn.local_port
    conn.close()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as again:
        again.bind(("127.0.0.1", port))  # free again
    assert threading.active_count() <= before


def test_loop_thread_deadlines_and_the_coroutines_own_timeouts() -> None:
    loop = LoopThread("test")
    try:
        async def own_timeout() -> None:
            raise HandshakeTimeout("listener 1.2.3.4:5 did not confirm")

        with pytest.raises(HandshakeTimeout, match="did not confirm"):
            loop.run(own_timeout(), 5.0, "stage")  # not mistaken for the wait's deadline
        with pytest.raises(HandshakeTimeout, match="sleeping did not finish within 0.05 s"):
            loop.run(asyncio.sleep(10), 0.05, "sleeping")
        assert loop.call(lambda: loop.in_loop_thread) is True
    finally:
        loop.close()
    with pytest.raises(TransportError):
        loop.run(asyncio.sleep(0), 1.0)


async def test_timed_live_output_is_grouped_by_time_and_label_in_order_of_appearance() -> None:
    """One ``cb(label, time, ids)`` per (time, label) group of a packet, first appearance first:
    a packet timestamp (the live-output default) with one label or two, and per-event times."""
    from spinnlive.clock import MonotonicClock
    from spinnlive.connections.receiver import LiveReceiver
    from spinnlive.protocol.eieio import EIEIOType, encode_events
    from spinnlive.protocol.keys import KeyTable

    a_keys, b_keys = [0x10000 + i for i in range(8)], [0x20000 + i for i in range(8)]
    table = KeyTable.from_arrays([("a", range(8), a_keys), ("b", range(8), b_keys)])
    calls: list[tuple[str, int, list[int]]] = []
    done = threading.Event()

    def record(label: str, time: int, ids: list[int]) -> None:
        calls.append((label, time, ids))
        if len(calls) == 6:
            done.set()

    workers = LabelWorkers("grouping")
    receiver = LiveReceiver(table, [], time_callbacks={"a": [(record, True)],
                                                       "b": [(record, False)]},
                            no_time_callbacks={}, workers=workers, error_keys=set(),
                            clock=MonotonicClock(), tag_timeout=1.0, host="127.0.0.1")
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        packets = [
            *encode_events([a_keys[3], a_keys[1]], eieio_type=EIEIOType.KEY_32_BIT,
                           payload_prefix=7, is_time=True),
            *encode_events([b_keys[2], a_keys[5], b_keys[4]], eieio_type=EIEIOType.KEY_32_BIT,
                           payload_prefix=8, is_time=True),
            *encode_events([a_keys[0], b_keys[1], a_keys[2]], [9, 9, 10],
                           eieio_type=EIEIOType.KEY_PAYLOAD_32_BIT, is_time=True),
        ]
        for packet in packets:
            sender.sendto(packet, receiver.local_address)
        assert await asyncio.to_thread(done.wait, 10.0)
        by_label = {label: [c for c in calls if c[0] == label] for label in "ab"}
        assert by_label["a"] == [("a", 7, [3, 1]), ("a", 8, [5]), ("a", 9, [0]), ("a", 10, [2])]
        assert by_label["b"] == [("b", 8, [b_keys[2], b_keys[4]]), ("b", 9, [b_keys[1]])]
    finally:
        sender.close()
        receiver.close()
        workers.close()


async def test_a_silent_board_is_logged_and_the_database_still_confirmed(tmp_path, board,
                                                                         caplog) -> None:
    """The connections point tags with the bridge's TagPointer: a board that never answers the
    IP-tag set is asked until ``tag_timeout``, logged, and the read is confirmed anyway."""
    from bridge_helpers import LPG_TAG, write_bridge_database

    from spinnlive.protocol.sdp import decode_iptag_set
    from spinnlive.transport.notifier import Notifier

    path = write_bridge_database(tmp_path, board.ip)
    inits: list[tuple[str, int]] = []
    conn = SpynnakerLiveSpikesConnection(receive_labels=["exc"], local_host="127.0.0.1",
                                         local_port=None, tag_timeout=0.5)
    conn.add_init_callback("exc", lambda label, n, *_: inits.append((label, n)))
    notifier = Notifier([("127.0.0.1", conn.local_port)], timeout=20.0)
    try:
        with caplog.at_level("WARNING", logger="spinnlive.transport.iptags"):
            await notifier.notify_database(str(path))  # returns once the read is confirmed
        requests = await board.recv_all()
        assert requests and {decode_iptag_set(r).tag for r in requests} == {LPG_TAG}
        assert "did not answer the IP-tag request" in caplog.text
        await until(lambda: len(inits) == 1, "the init callback ran")
        assert inits[0][0] == "exc" and inits[0][1] > 0
    finally:
        notifier.close()
        conn.close()
