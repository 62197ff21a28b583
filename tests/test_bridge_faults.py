"""The bridge under attack and under bad input: spoofed notifications and live output, broken
databases, malformed ZeroMQ peers. Nothing may take a task down, replace a working session, or be
published as the network's; every refusal is counted.

Real sockets throughout: the attacker is another socket on 127.0.0.1 (any local process can do
this), the board a fake one at its own loopback address, the toolchain spinnlive's Notifier.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import zmq
import zmq.asyncio
from bridge_helpers import FakeBoard, announce, bridge_mapping, lpg_packets, quick_config
from bridge_helpers import write_bridge_database as write_db
from waiting import until

from spinnlive.bridge import Bridge
from spinnlive.client import connect
from spinnlive.protocol.commands import Database, encode_command


@pytest.fixture
def raw_peer() -> Iterator[Callable[[int, str], zmq.asyncio.Socket]]:
    """Bare ZeroMQ sockets connected to a bridge endpoint, closed after the test: the malformed
    peers here send what spinnlive's client refuses to (it checks its input before sending)."""
    ctx = zmq.asyncio.Context()
    made: list[zmq.asyncio.Socket] = []

    def peer(kind: int, endpoint: str) -> zmq.asyncio.Socket:
        sock = ctx.socket(kind)
        sock.setsockopt(zmq.LINGER, 0)
        sock.connect(endpoint)
        made.append(sock)
        return sock

    yield peer
    for sock in made:
        sock.close()
    ctx.term()


def _spoof_notification(bridge: Bridge, path: str) -> socket.socket:
    """A DATABASE from an unrelated process; the socket is returned to look for a reply."""
    spoofer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    spoofer.bind(("127.0.0.1", 0))
    spoofer.setblocking(False)
    spoofer.sendto(encode_command(Database(path=path)), ("127.0.0.1", bridge.notify_address[1]))
    return spoofer


def _no_reply(sock: socket.socket) -> bool:
    try:
        sock.recv(64)
    except BlockingIOError:
        return True
    return False


def _corrupt(path: Path, *statements: str) -> Path:
    with sqlite3.connect(path) as db:
        for sql in statements:
            db.execute(sql)
    return path


async def _running(bridge: Bridge, tmp_path: Path, board: FakeBoard):
    """A working session on the fake board, started; returns the notifier and the live address."""
    notifier, live = await announce(bridge, write_db(tmp_path, board.ip), board)
    await notifier.start()
    await until(lambda: bridge.state == "running", "the bridge to run")
    return notifier, live


async def _one_tick_reaches_a_subscriber(bridge: Bridge, board: FakeBoard, live, tick: int,
                                         ids: list[int]) -> None:
    table = bridge_mapping(board.ip).key_table()
    async with connect(bridge.endpoints["discovery"]) as client:
        stream = client.spikes("exc")
        await stream.ready()
        for packet in lpg_packets(tick, table.keys_of("exc", np.asarray(ids))):
            board.send(packet, live)
        got_tick, got = await stream.next(10.0)
    assert (got_tick, got.tolist()) == (tick, ids)


async def test_a_spoofed_database_notification_cannot_replace_a_running_session(tmp_path, board):
    """Point 1: /etc/passwd and a database of another folder, notified mid-run."""
    other = tmp_path / "elsewhere"
    other.mkdir()
    run_folder = tmp_path / "run"
    run_folder.mkdir()
    config = quick_config(database_root=str(run_folder))
    async with Bridge(config) as bridge:
        notifier, live = await _running(bridge, run_folder, board)
        epoch = bridge.epoch
        spoofers = [_spoof_notification(bridge, "/etc/passwd"),
                    _spoof_notification(bridge, str(write_db(other, board.ip)))]
        await until(lambda: sum(bridge.statistics().udp.notifications_refused.values()) == 2,
                    "both notifications to be refused")
        assert bridge.statistics().udp.notifications_refused == {"outside_root": 2}
        assert bridge.epoch == epoch and bridge.state == "running"
        assert all(_no_reply(s) for s in spoofers)  # nothing confirmed to the spoofer
        await _one_tick_reaches_a_subscriber(bridge, board, live, 10, [1, 2, 3])
        for s in spoofers:
            s.close()
        notifier.close()


async def test_a_refused_database_is_read_again_once_the_file_changes(tmp_path, board):
    """Point 1 / 14: a repeated spoof of an unchanged unreadable file is refused from what the
    bridge remembers (one stat, no worker thread); a file that changed since (the toolchain
    finished writing it) is read again and taken."""
    (tmp_path / "late").mkdir()
    path = tmp_path / "late" / "input_output_database.sqlite3"
    path.write_bytes(b"not yet a database" * 100)
    async with Bridge(quick_config()) as bridge:
        notifier, _ = await _running(bridge, tmp_path, board)
        spoofers = []
        for n in (1, 2, 3):
            spoofers.append(_spoof_notification(bridge, str(path)))
            await until(lambda n=n: bridge.statistics().udp.notifications_refused
                        == {"unreadable": n}, f"refusal {n}")
        assert bridge.epoch == 1 and all(_no_reply(s) for s in spoofers)
        path.unlink()
        assert write_db(tmp_path / "late", board.ip) == path
        await notifier.stop()
        await until(lambda: bridge.state == "paused", "the bridge to pause")
        await announce(bridge, path, board, notifier)
        assert bridge.epoch == 2 and bridge.session is not None
        assert bridge.session.database is not None
        for spoofer in spoofers:
            spoofer.close()
        notifier.close()


async def test_an_unreadable_database_never_replaces_a_working_session(tmp_path, board):
    """Point 1 without a run folder: the file cannot be read, so it cannot be the new run."""
    async with Bridge(quick_config()) as bridge:
        notifier, live = await _running(bridge, tmp_path, board)
        spoofer = _spoof_notification(bridge, "/etc/passwd")
        await until(lambda: bridge.statistics().udp.notifications_refused == {"unreadable": 1},
                    "the notification to be refused")
        assert bridge.epoch == 1 and bridge.session is not None
        assert bridge.session.database is not None and _no_reply(spoofer)
        await _one_tick_reaches_a_subscriber(bridge, board, live, 3, [7])
        # the toolchain's handshake goes on where it was: STOP, then a new DATABASE
        await notifier.stop()
        await until(lambda: bridge.state == "paused", "the bridge to pause")
        (tmp_path / "next").mkdir()
        await announce(bridge, write_db(tmp_path / "next", board.ip), board, notifier)
        assert bridge.epoch == 2
        spoofer.close()
        notifier.close()


async def test_live_output_from_an_unrelated_process_is_counted_not_published(tmp_path, board):
    """Point 2: only the boards the database names may stream."""
    table = bridge_mapping(board.ip).key_table()
    async with Bridge(quick_config()) as bridge:
        notifier, live = await _running(bridge, tmp_path, board)
        intruder = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        intruder.bind(("127.0.0.1", 0))
        fake = [p for tick in range(900_000, 900_050)
                for p in lpg_packets(tick, table.keys_of("exc", np.arange(10)))]
        async with connect(bridge.endpoints["discovery"]) as client:
            stream = client.spikes("exc")
            await stream.ready()
            for packet in fake:
                intruder.sendto(packet, live)
            await until(lambda: bridge.statistics().udp.foreign_packets == len(fake),
                        "every foreign packet to be counted")
            for packet in lpg_packets(4, table.keys_of("exc", np.asarray([9]))):
                board.send(packet, live)
            tick, ids = await stream.next(10.0)
        assert (tick, ids.tolist()) == (4, [9])  # the first message is the board's
        stats = bridge.statistics()
        assert stats.streams["spikes/exc"].messages == 1
        intruder.close()
        notifier.close()


async def test_a_dealer_without_the_delimiter_does_not_stop_discovery(tmp_path, raw_peer):
    """Point 5: one malformed request used to kill the discovery task (zmq.Again)."""
    async with Bridge(quick_config()) as bridge:
        dealer = raw_peer(zmq.DEALER, bridge.endpoints["discovery"])
        for _ in range(3):
            await dealer.send(b"describe")
        await until(lambda: bridge.statistics().streams.get("discovery") is not None
                    and bridge.statistics().streams["discovery"].dropped["no_delimiter"] == 3,
                    "the malformed requests to be counted")
        await dealer.send_multipart([b"", b"describe"])  # a well-formed DEALER request
        assert (await asyncio.wait_for(dealer.recv_multipart(), 10))[0] == b""
        async with connect(bridge.endpoints["discovery"]) as client:
            assert (await client.describe())["state"] == "waiting"
        assert bridge.statistics().udp.task_restarts == {}


BROKEN = {  # point 6 and 7: each was a ValueError/TypeError/LocalProtocolError past the bridge
    "text_configuration": ["UPDATE configuration_parameters SET value = 'fast' "
                           "WHERE parameter_id = 'machine_time_step'"],
    "null_app_id": ["UPDATE configuration_parameters SET value = NULL "
                    "WHERE parameter_id = 'app_id'"],
    "null_core": ["UPDATE Placements SET chip_p = NULL"],
    "text_atom": ["UPDATE event_to_atom_mapping SET atom_id = 'one' WHERE event_id = "
                  "(SELECT MIN(event_id) FROM event_to_atom_mapping)"],
    "huge_atom": ["UPDATE event_to_atom_mapping SET atom_id = 1e30 WHERE event_id = "
                  "(SELECT MIN(event_id) FROM event_to_atom_mapping)"],
    "tag_999": ["UPDATE IP_tags SET tag = 999"],
    "chip_x_1000": ["PRAGMA foreign_keys = OFF", "UPDATE Placements SET chip_x = 1000"],
    "core_99": ["UPDATE Placements SET chip_p = 99"],
    "board_any": ["UPDATE IP_tags SET board_address = '0.0.0.0'"],
    "board_text": ["UPDATE Machine_chip SET ip_address = 'the board'"],
}


@pytest.mark.parametrize("broken", sorted(BROKEN))
async def test_a_broken_database_is_refused_and_the_toolchain_task_lives_on(tmp_path, board,
                                                                           broken):
    """Points 6 and 7: with no session, a broken file is confirmed empty (the toolchain must not
    hang); with a working session it is refused; the next good DATABASE is taken either way."""
    (tmp_path / "bad").mkdir()
    bad = _corrupt(write_db(tmp_path / "bad", board.ip), *BROKEN[broken])
    async with Bridge(quick_config()) as bridge:
        notifier, _ = await announce(bridge, bad, None)  # confirmed, nothing to stream
        assert bridge.session is not None and bridge.session.populations == ()
        async with connect(bridge.endpoints["discovery"]) as client:
            await client.inject("stim", [1, 2])  # no session: counted, the input task lives
            await until(lambda: "input" in bridge.statistics().streams, "the rejection")
            assert bridge.statistics().streams["input"].dropped == {"unknown_label": 1}
        await announce(bridge, write_db(tmp_path, board.ip), board, notifier)
        await notifier.start()
        async with connect(bridge.endpoints["discovery"]) as client:
            await client.inject("stim", [1, 2])
            data, _ = await board.recv(10.0)  # the input task forwards again
            assert data[8:] and bridge.statistics().streams["inject/stim"].forwarded_events == 2
        spoofer = _spoof_notification(bridge, str(bad))
        await until(lambda: bridge.statistics().udp.notifications_refused == {"unreadable": 1},
                    "the broken database to be refused")
        assert bridge.epoch == 2 and _no_reply(spoofer)
        assert bridge.statistics().udp.task_restarts == {}
        spoofer.close()
        notifier.close()


async def test_a_database_that_never_finishes_reading_does_not_block_the_bridge(tmp_path, board):
    """Point 8: a view with a recursive CTE passes the schema check and never ends."""
    bad = _corrupt(write_db(tmp_path, board.ip),
                   "DROP VIEW application_vertex_placements",
                   "CREATE VIEW application_vertex_placements AS WITH RECURSIVE n(i) AS "
                   "(SELECT 0 UNION ALL SELECT i + 1 FROM n) SELECT 0 AS x, 0 AS y, 1 AS p, "
                   "a.vertex_label AS vertex_label FROM n, Application_vertices AS a")
    async with Bridge(quick_config(database_deadline_s=3.0)) as bridge:
        notify = asyncio.ensure_future(announce(bridge, bad, None))
        async with connect(bridge.endpoints["discovery"]) as client:
            # answered while the file is being read: the loop is free
            assert (await client.describe())["state"] == "waiting" and not notify.done()
            notifier, _ = await asyncio.wait_for(notify, 30)  # then confirmed, empty
        assert bridge.session is not None and bridge.session.populations == ()
        notifier.close()


async def test_a_flood_of_bad_input_is_counted_whole_and_logged_a_few_times(tmp_path, board,
                                                                           raw_peer, caplog):
    """Point 9: 200k bad messages wrote 159k WARNING lines; now 1, 10, 100, ... per reason."""
    n = 3000
    async with Bridge(quick_config()) as bridge:
        notifier, _ = await _running(bridge, tmp_path, board)
        push = raw_peer(zmq.PUSH, bridge.endpoints["input"])
        with caplog.at_level(logging.WARNING, logger="spinnlive.bridge"):
            for _ in range(n):
                await push.send_multipart([b"inject/stim", b"\x01\x02\x03"])  # not uint32s
            await until(lambda: "inject/stim" in bridge.statistics().streams
                        and bridge.statistics().streams["inject/stim"].messages == n,
                        "every bad message to be counted")
        stim = bridge.statistics().streams["inject/stim"]
        assert sum(stim.dropped.values()) == n
        lines = [r for r in caplog.records if r.name.startswith("spinnlive.bridge")]
        assert 1 <= len(lines) <= 4, [r.getMessage() for r in lines]  # at 1, 10, 100, 1000
        notifier.close()


async def test_an_input_on_an_output_topic_leaves_the_output_totals_alone(tmp_path, board,
                                                                    raw_peer):
    """Point 13: an input named ``spikes/exc`` replaced that stream's totals in every stats."""
    async with Bridge(quick_config()) as bridge:
        notifier, live = await _running(bridge, tmp_path, board)
        for tick in range(5):
            await _one_tick_reaches_a_subscriber(bridge, board, live, tick, [tick])
        push = raw_peer(zmq.PUSH, bridge.endpoints["input"])
        await push.send_multipart([b"spikes/exc", np.arange(3, dtype=np.uint32).tobytes()])
        await until(lambda: bridge.statistics().streams.get("input") is not None,
                    "the input to be counted")
        exc = bridge.statistics().streams["spikes/exc"]
        assert (exc.messages, exc.sequence) == (5, 5)
        assert bridge.statistics().streams["input"].messages == 1
        notifier.close()


async def test_a_50_mb_inject_frame_is_refused_whole_and_counted(tmp_path, board, raw_peer):
    """Point 11: 13.1M ids were forwarded whole and 41 % lost in the board's kernel buffer,
    counted nowhere; now the message is refused and counted, and the client says so first."""
    from spinnlive.errors import LocalProtocolError
    from spinnlive.wire.input import MAX_IDS_PER_MESSAGE

    n = 13_100_000
    async with Bridge(quick_config()) as bridge:
        notifier, _ = await _running(bridge, tmp_path, board)
        push = raw_peer(zmq.PUSH, bridge.endpoints["input"])
        await push.send_multipart([b"inject/stim", np.zeros(n, dtype="<u4").tobytes()])
        await until(lambda: "inject/stim" in bridge.statistics().streams, "the frame", 60)
        stim = bridge.statistics().streams["inject/stim"]
        assert (stim.dropped, stim.dropped_events) == ({"too_large": 1}, {"too_large": n})
        assert stim.forwarded_events == 0 and bridge.statistics().udp.injected_packets == 0
        async with connect(bridge.endpoints["discovery"]) as client:
            with pytest.raises(LocalProtocolError, match="at most"):
                await client.inject("stim", np.zeros(MAX_IDS_PER_MESSAGE + 1, dtype=np.uint32))
        notifier.close()


async def test_the_largest_accepted_inject_frame_fits_the_board_socket_whole(tmp_path, board):
    """Point 11: the largest message the bridge takes (MAX_IDS_PER_MESSAGE ids) is sent at once;
    a board socket sized as the engine's (DEFAULT_RCVBUF) holds all of it even while nothing
    reads it, so every id arrives (a 2**20-id message lost 21 % there)."""
    from spinnlive.transport.kernel_buffer import DEFAULT_RCVBUF, kernel_drops, set_receive_buffer
    from spinnlive.wire.input import MAX_IDS_PER_MESSAGE

    n = MAX_IDS_PER_MESSAGE
    granted = set_receive_buffer(board.sock)
    async with Bridge(quick_config()) as bridge:
        notifier, _ = await _running(bridge, tmp_path, board)
        async with connect(bridge.endpoints["discovery"]) as client:
            await client.inject("stim", np.arange(n, dtype=np.uint32) % 10)
            await until(lambda: "inject/stim" in bridge.statistics().streams
                        and bridge.statistics().streams["inject/stim"].packets == -(-n // 127),
                        "every datagram of the frame sent", 60)
        events = 0
        for datagram in await board.recv_all():
            events += datagram[10]  # the EIEIO count after padding and SDP header
        drops = kernel_drops(board.sock)
        if granted >= 2 * DEFAULT_RCVBUF:  # what Linux grants the engine's board socket
            assert (events, drops) == (n, 0)
        else:  # a smaller buffer (rmem_max, not root): what did not fit is counted
            assert drops and events + 127 * drops >= n
        notifier.close()
