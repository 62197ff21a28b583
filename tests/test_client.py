"""spinnlive.client: deadlines, argument checks, gap counting, and the synchronous wrapper."""

from __future__ import annotations

import asyncio
import socket

import numpy as np
import pytest
import zmq
import zmq.asyncio
from bridge_helpers import (
    FakeBoard,
    bridge_mapping,
    lpg_packets,
    start_bridge_process,
    write_bridge_database,
)

from spinnlive.bridge import HEADER, Bridge
from spinnlive.client import SyncClient, connect
from spinnlive.errors import LocalProtocolError, TransportError
from spinnlive.transport.notifier import Notifier


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_no_bridge_is_a_transport_error_naming_the_endpoint():
    endpoint = f"tcp://127.0.0.1:{_free_port()}"
    with pytest.raises(TransportError, match=endpoint):
        async with connect(endpoint, timeout=0.3):
            pass


async def test_bad_arguments_are_refused_before_sending():
    from bridge_helpers import quick_config

    async with Bridge(quick_config()) as bridge:
        async with connect(bridge.endpoints["discovery"]) as client:
            with pytest.raises(LocalProtocolError):
                await client.inject("stim", [-1])
            with pytest.raises(LocalProtocolError):
                await client.inject("stim", [0.5])
            with pytest.raises(LocalProtocolError):
                await client.set_rates("noise", [1, 2], [3.0])
        assert "input" not in bridge.statistics().streams


async def test_sequence_gaps_are_counted_and_epochs_reset_them():
    """A hand-made publisher stands in for the bridge so the gaps are exactly known."""
    ctx = zmq.asyncio.Context()
    pub = ctx.socket(zmq.XPUB)
    pub.bind("tcp://127.0.0.1:*")
    rep = ctx.socket(zmq.REP)
    rep.bind("tcp://127.0.0.1:*")
    endpoint = pub.getsockopt_string(zmq.LAST_ENDPOINT)

    async def serve() -> None:
        await rep.recv()
        await rep.send_json({"endpoints": {"publish": endpoint, "input": endpoint},
                             "populations": [], "state": "running"})

    server = asyncio.ensure_future(serve())
    async with connect(rep.getsockopt_string(zmq.LAST_ENDPOINT)) as client:
        stream = client.spikes("exc")
        ready = asyncio.ensure_future(stream.ready())
        for _ in range(2):  # the subscription to spikes/exc, then the sync topic
            sub = await asyncio.wait_for(pub.recv(), 5)
        await pub.send_multipart([sub[1:], HEADER.pack(1, 0x80, 0, 0, 0, 0, 2), b"{}"])
        await ready
        for epoch, seq, tick in ((1, 0, 1), (1, 1, 2), (1, 4, 5), (2, 7, 6), (2, 8, 7)):
            ids = np.uint32([tick])
            await pub.send_multipart([b"spikes/exc", HEADER.pack(1, 0, 0, epoch, tick, seq, 1),
                                      ids.tobytes()])
        got = [(await stream.next())[0] for _ in range(5)]
        assert got == [1, 2, 5, 6, 7]
        assert (stream.gaps, stream.received, stream.epoch) == (2, 5, 2)
    await server
    pub.close(0)
    rep.close(0)
    ctx.term()


def test_sync_client_against_a_bridge_process(tmp_path):
    board = FakeBoard()
    proc, where = start_bridge_process()
    try:
        path = write_bridge_database(tmp_path, board.ip)
        table = bridge_mapping(board.ip).key_table()
        with SyncClient(str(where["discovery"])) as client:
            loop = asyncio.new_event_loop()
            notifier = Notifier([("127.0.0.1", where["notify"][1])])

            async def toolchain() -> tuple[str, int]:
                notify = asyncio.ensure_future(notifier.notify_database(str(path)))
                _, live = await board.answer_tag()
                await notify
                await notifier.start()
                return live

            live = loop.run_until_complete(toolchain())
            assert client.started()["state"] == "running"
            assert {p["label"] for p in client.describe()["populations"]} == {
                "exc", "inh", "stim", "noise"}
            spikes = client.spikes("inh")
            board.sock.setblocking(True)
            first = True
            for packet in lpg_packets(4, table.keys_of("inh", [9, 2])):
                board.send(packet, live)
            for tick, ids in spikes:
                assert first and (tick, ids.tolist()) == (4, [9, 2])
                first = False
                break
            spikes.close()
            client.set_rates("noise", [3], [2.5])
            board.sock.settimeout(5)
            data = board.sock.recv(100)
            assert data[-8:] == np.uint32([0x2003, int(2.5 * 65536)]).tobytes()
            notifier.close()
            loop.close()
    finally:
        proc.terminate()
        assert proc.wait(10) == 0
        board.close()
