"""spinnlive.client: deadlines, argument checks, gap counting, and the synchronous wrapper."""

from __future__ import annotations

import asyncio
import dataclasses

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
from closed_loop_helpers import free_port
from waiting import loop_turns

from spinnlive.bridge import Bridge
from spinnlive.client import SyncClient, connect
from spinnlive.errors import LocalProtocolError, TransportError
from spinnlive.transport.notifier import Notifier
from spinnlive.wire.output import encode_json, json_frames, spike_frames


async def test_no_bridge_is_a_transport_error_naming_the_endpoint():
    endpoint = f"tcp://127.0.0.1:{free_port()}"
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


class _HandMadeBridge:
    """An XPUB and a REP on 127.0.0.1 standing in for a bridge, so that every message the
    client reads is one the test sent (and nothing answers unless the test says so)."""

    def __init__(self) -> None:
        self.ctx = zmq.asyncio.Context()
        self.pub = self.ctx.socket(zmq.XPUB)
        self.pub.bind("tcp://127.0.0.1:*")
        self.rep = self.ctx.socket(zmq.REP)
        self.rep.bind("tcp://127.0.0.1:*")
        self.publish = self.pub.getsockopt_string(zmq.LAST_ENDPOINT)
        self.discovery = self.rep.getsockopt_string(zmq.LAST_ENDPOINT)

    async def describe(self) -> None:
        """Answer one describe: a running bridge with no populations."""
        await self.rep.recv()
        await self.rep.send_json({"endpoints": {"publish": self.publish, "input": self.publish},
                                  "populations": [], "state": "running"})

    async def next_sync(self) -> bytes:
        """The next sync token the client subscribes."""
        while not (sub := await asyncio.wait_for(self.pub.recv(), 5)).startswith(b"\x01sync/"):
            pass
        return sub[1:]

    async def answer_sync(self, body: dict) -> None:
        await self.pub.send_multipart(json_frames(await self.next_sync(), 1, 0, encode_json(body)))

    def close(self) -> None:
        self.pub.close(0)
        self.rep.close(0)
        self.ctx.term()


def _totals(sequence: int, messages: int, events: int, queue_full: tuple[int, int] = (0, 0)):
    """One topic's entry in a ``streams`` object, as the bridge sends it (wire-format.md §8)."""
    return {"spikes/exc": {"sequence": sequence, "messages": messages, "events": events,
                           "dropped": {"no_subscriber": 1, "queue_full": queue_full[0]},
                           "dropped_events": {"no_subscriber": 3, "queue_full": queue_full[1]}}}


async def test_gaps_epochs_and_losses_are_counted_against_the_totals():
    """A hand-made publisher stands in for the bridge so every loss is exactly known: of the
    sequences 10..20 accepted after the stream went live, the subscriber gets 10, 11, 14, 17,
    18; the bridge dropped 12, 13 (queue_full, 4 events); libzmq dropped 15, 16, 19, 20 in the
    subscriber's pipe (hwm). The stats message counts 19 and 20 before any later sequence
    number could show them; the sync answer of a checkpoint closes the books at the end."""
    bridge = _HandMadeBridge()
    pub = bridge.pub

    async def answer_sync(streams: dict) -> None:
        await bridge.answer_sync({"event": "sync", "streams": streams})

    async def spike(epoch: int, seq: int, tick: int, n: int, topic=b"spikes/exc") -> None:
        await pub.send_multipart(spike_frames(topic, epoch, tick, seq, np.full(n, tick, np.uint32)))

    server = asyncio.ensure_future(bridge.describe())
    async with connect(bridge.discovery) as client:
        stream = client.spikes("exc")
        ready = asyncio.ensure_future(stream.ready())
        while (await asyncio.wait_for(pub.recv(), 5))[1:] != b"stats":
            pass  # the stream subscribes its topic, lifecycle and stats before the sync token
        await spike(1, 9, 0, 1)  # before the stream is live: delivered, not accounted
        await answer_sync(_totals(10, 9, 30))
        await ready
        received = {10: 1, 11: 2, 14: 3, 17: 1, 18: 2}  # sequence: events
        missed = {15: 3, 16: 1, 19: 2, 20: 5}
        for epoch, seq, tick in ((1, 10, 1), (1, 11, 2), (1, 14, 5), (2, 17, 6), (2, 18, 7)):
            await spike(epoch, seq, tick, received[seq])
        await spike(2, 0, 99, 4, topic=b"spikes/exc2")  # shares the prefix: not ours
        at_stats = _totals(21, 9 + 9, 30 + sum(received.values()) + sum(missed.values()), (2, 4))
        await pub.send_multipart(json_frames(b"stats", 2, 3, encode_json(
            {"epoch": 2, "streams": at_stats})))
        await spike(2, 21, 8, 6)  # after the stats: received, not yet announced
        got = [(await stream.next())[0] for _ in range(7)]
        assert got == [0, 1, 2, 5, 6, 7, 8]
        # gaps: 12, 13, and 19, 20 once 21 arrived (15, 16 straddle the epoch change)
        assert (stream.gaps, stream.received, stream.epoch) == (4, 7, 2)
        mid = stream.statistics()
        assert (mid.received_messages, mid.received_events, mid.early_messages) == (6, 15, 1)
        assert (mid.announced_messages, mid.announced_events) == (9, 20)
        assert (mid.missed_messages, mid.missed_events) == (4, 11)  # as of the stats message
        assert (mid.dropped, mid.dropped_events) == ({"queue_full": 2}, {"queue_full": 4})
        at_end = _totals(22, 19, at_stats["spikes/exc"]["events"] + 6, (2, 4))
        checkpoint = asyncio.ensure_future(stream.checkpoint())
        await answer_sync(at_end)
        final = await checkpoint
        assert final == dataclasses.replace(mid, announced_messages=10, announced_events=26,
                                            sequence=22)
        assert final.received_messages + final.missed_messages == final.announced_messages
        assert final.received_events + final.missed_events == final.announced_events
    await server
    bridge.close()


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


async def test_every_client_deadline_runs_on_the_injected_clock():
    """The client reads no clock of its own: with a VirtualClock a 10 s discovery timeout, a
    3 s ``receive``, the checkpoint's 0.5 s re-ask and its 2 s budget all pass exactly when the
    test moves the clock, in milliseconds of wall time. A hand-made XPUB/REP pair stands in for
    the bridge so that nothing answers unless the test says so."""
    from spinnlive.clock import VirtualClock

    bridge = _HandMadeBridge()
    clock = VirtualClock()

    async def parked() -> None:  # bounded, so a client that reads the wall clock fails here
        await asyncio.wait_for(clock.wait_for_sleepers(), 10)

    silent = connect(f"tcp://127.0.0.1:{free_port()}", timeout=10.0, clock=clock)
    opening = asyncio.ensure_future(silent.open())
    await parked()
    clock.advance(9.9)
    await loop_turns()
    assert not opening.done()  # 9.9 of 10 virtual seconds: still asking
    clock.advance(0.2)
    with pytest.raises(TransportError, match="within 10 s"):
        await opening
    await silent.close()

    server = asyncio.ensure_future(bridge.describe())
    async with connect(bridge.discovery, clock=clock) as client:
        sub = client.subscribe("lifecycle")
        ready = asyncio.ensure_future(sub.ready())
        await bridge.answer_sync({"event": "sync"})
        await ready
        receiving = asyncio.ensure_future(sub.receive(3.0))
        await parked()
        clock.advance(2.5)
        await loop_turns()
        assert not receiving.done()
        clock.advance(0.5)
        assert await receiving is None  # nothing came within 3 virtual seconds
        checkpoint = asyncio.ensure_future(sub.checkpoint(2.0))
        asked = [await bridge.next_sync()]
        for _ in range(3):  # unanswered: asked again every 0.5 s of the clock
            await parked()
            clock.advance(0.5)
            asked.append(await bridge.next_sync())
        assert len(set(asked)) == 4 and not checkpoint.done()
        await parked()
        clock.advance(0.5)
        with pytest.raises(TransportError, match="sent no totals .* within 2 s"):
            await checkpoint
        sub.close()
    await server
    bridge.close()


async def test_iterating_a_busy_stream_gives_the_loop_back_at_every_message():
    """A stream whose socket always holds a message must not starve the loop's other tasks
    (another stream's reader, a controller): each message read yields to them once."""
    bridge = _HandMadeBridge()
    n = 200
    try:
        server = asyncio.ensure_future(bridge.describe())
        async with connect(bridge.discovery) as client:
            busy, sparse = client.spikes("busy"), client.spikes("sparse")
            wanted = {b"spikes/busy", b"spikes/sparse"}
            while wanted:  # both sockets' subscriptions are at the publisher
                wanted.discard((await asyncio.wait_for(bridge.pub.recv(), 5))[1:])
            for seq in range(n):
                await bridge.pub.send_multipart(spike_frames(
                    b"spikes/busy", 1, seq, seq, np.arange(4, dtype=np.uint32)))
            await bridge.pub.send_multipart(spike_frames(
                b"spikes/sparse", 1, 0, 0, np.zeros(1, np.uint32)))
            # the sparse message, sent last, is in: the busy ones sent before it are queued
            assert await sparse.subscription.socket.poll(5000)
            turns = 0

            async def other_task() -> None:
                nonlocal turns
                while True:
                    turns += 1
                    await asyncio.sleep(0)

            other = asyncio.ensure_future(other_task())
            await asyncio.sleep(0)
            seen = [turns]
            async for _ in busy:  # iteration, as a reader task does
                seen.append(turns)
                if len(seen) > n:
                    break
            other.cancel()
            # the other task ran between every two messages, not only once the stream ran dry
            assert all(b > a for a, b in zip(seen, seen[1:], strict=False))
        await server
    finally:
        bridge.close()
