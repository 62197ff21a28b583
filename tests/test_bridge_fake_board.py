"""The bridge against a fake board: a real UDP socket at a loopback address named in the database.

Covers the IP-tag handshake, LPG packets -> per-population tick messages to two subscribers,
tick closing rules, a stalled subscriber, lifecycle and epochs, and the input rejections.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import numpy as np
import zmq
import zmq.asyncio
from bridge_helpers import (
    LPG_TAG,
    announce,
    bridge_mapping,
    lpg_packets,
    quick_config,
    write_bridge_database,
)
from waiting import until

from spinnlive.bridge import Bridge
from spinnlive.client import connect
from spinnlive.protocol.keys import KeyTable
from spinnlive.wire import FLAG_DEADLINE, HEADER


def _keys(table: KeyTable, label: str, ids: list[int] | np.ndarray) -> np.ndarray:
    return table.keys_of(label, np.asarray(ids))


async def _collect(stream, n: int) -> list[tuple[int, list[int], int]]:
    out = []
    for _ in range(n):
        tick, ids = await stream.next(5.0)
        out.append((tick, ids.tolist(), stream.flags))
    return out


async def test_tag_handshake_and_two_subscribers_get_identical_ticks(tmp_path, board):
    path = write_bridge_database(tmp_path, board.ip)
    table = bridge_mapping(board.ip).key_table()
    async with Bridge(quick_config(tick_flush_s=0.05)) as bridge:
        notifier, live = await announce(bridge, path, board)
        assert live is not None and live[1] == bridge.statistics().udp.local[1]
        async with connect(bridge.endpoints["discovery"]) as one, \
                connect(bridge.endpoints["discovery"]) as two:
            streams = [one.spikes("exc"), two.spikes("exc"), one.spikes("inh")]
            for stream in streams:
                await stream.ready()
            await notifier.start()
            # tick 5: one partial packet, both populations and one unknown key
            mixed = np.concatenate([_keys(table, "exc", [0, 3, 257, 299]),
                                    _keys(table, "inh", [1]), [0xDEAD0000]]).astype(np.uint32)
            # tick 6: 100 events (a full packet then a partial one), tick 7: exactly one full
            # packet (closed by tick 8's packet), tick 9: one full packet (closed by deadline)
            exc6 = np.arange(100) % 300
            exc7 = np.arange(64) + 200
            sent = (lpg_packets(5, mixed) + lpg_packets(6, _keys(table, "exc", exc6))
                    + lpg_packets(7, _keys(table, "exc", exc7))
                    + lpg_packets(8, _keys(table, "exc", [5]))
                    + lpg_packets(9, _keys(table, "exc", exc7)))
            for packet in sent:
                board.send(packet, live)
            got = [await _collect(stream, n) for stream, n in zip(streams, (5, 5, 1))]
        want_exc = [(5, [0, 3, 257, 299], 0), (6, exc6.tolist(), 0), (7, exc7.tolist(), 0),
                    (8, [5], 0), (9, exc7.tolist(), FLAG_DEADLINE)]
        assert got[0] == want_exc
        assert got[1] == want_exc
        assert got[2] == [(5, [1], 0)]
        assert all(stream.gaps == 0 for stream in streams)
        udp = bridge.statistics().udp
        assert (udp.received, udp.unknown_keys, udp.ticks_by_deadline) == (len(sent) + 1, 1, 1)  # + the tag reply
        assert (udp.tag_requests, udp.tag_replies, udp.tag_timeouts) == (1, 1, 0)
        notifier.close()


async def test_tag_request_is_what_spinnman_sends(tmp_path, board):
    from spinnman.messages.scp.impl import IPTagSet

    path = write_bridge_database(tmp_path, board.ip)
    async with Bridge(quick_config()) as bridge:
        notify = asyncio.ensure_future(
            announce(bridge, path, None))
        data, _ = await board.recv(5.0)
        board.sock.sendto(b"\x00" * 18, ("127.0.0.1", 9))  # not a reply to the bridge
        reference = IPTagSet(0, 0, [0, 0, 0, 0], 0, LPG_TAG, strip=True, use_sender=True)
        reference.sdp_header.update_for_send(0, 0)
        assert data == b"\x00\x00" + reference.bytestring
        notifier, _ = await notify  # confirmed after the deadline, without a reply
        assert bridge.statistics().udp.tag_timeouts == 1
        notifier.close()


async def test_silent_board_is_confirmed_after_the_deadline_and_reported(tmp_path, board):
    path = write_bridge_database(tmp_path, board.ip)
    async with Bridge(quick_config(tag_timeout_s=0.4, tag_resend_s=0.1)) as bridge:
        ctx = zmq.asyncio.Context()
        sub = ctx.socket(zmq.SUB)
        sub.connect(bridge.endpoints["publish"])
        sub.setsockopt(zmq.SUBSCRIBE, b"lifecycle")
        sub.setsockopt(zmq.SUBSCRIBE, b"sync/silent-board")
        await asyncio.wait_for(sub.recv_multipart(), 5)  # the echo: 'lifecycle' is live
        notifier, _ = await announce(bridge, path, None)
        requests = await board.recv_all(0.1)
        events = []
        while not events or events[-1]["event"] != "database-ready":
            frames = await asyncio.wait_for(sub.recv_multipart(), 5)
            events.append(json.loads(frames[2]))
        assert [e["event"] for e in events] == ["new-epoch", "database-ready"]
        assert events[-1]["tags_unanswered"] == 1 and events[-1]["tags_confirmed"] == 0
        udp = bridge.statistics().udp
        assert udp.tag_timeouts == 1 and udp.tag_requests == len(requests) >= 3
        sub.close(0)
        ctx.term()
        notifier.close()


async def test_lifecycle_epochs_and_tag_refresh(tmp_path, board):
    path = write_bridge_database(tmp_path, board.ip)
    table = bridge_mapping(board.ip).key_table()
    async with Bridge(quick_config(tag_refresh_s=0.15)) as bridge:
        async with connect(bridge.endpoints["discovery"]) as client:
            assert (await client.describe())["state"] == "waiting"
            notifier, live = await announce(bridge, path, board)
            started = asyncio.ensure_future(client.started())
            await notifier.start()
            got = await started  # the event, or the description if it started before
            assert got.get("event") == "started" or got["state"] == "running"
            refreshed, _ = await board.answer_tag(2.0)  # the periodic refresh while running
            assert refreshed.tag == LPG_TAG
            await notifier.stop()
            await until(lambda: _state_is(client, "paused"), "the bridge paused")
            await board.recv_all(0.05)  # requests sent before STOP
            assert await board.recv_all(0.4) == []  # no refresh while paused
            # next run step: a new epoch, a new live socket, messages stamped with epoch 2
            notifier, live2 = await announce(bridge, path, board, notifier)
            description = await client.describe()
            assert (description["epoch"], description["state"]) == (2, "ready")
            stream = client.spikes("inh")
            await stream.ready()
            for packet in lpg_packets(3, _keys(table, "inh", [7, 8])):
                board.send(packet, live2)
            tick, ids = await stream.next()
            assert (tick, ids.tolist(), stream.epoch) == (3, [7, 8], 2)
            # STOP: 'paused' carries the totals, in order with the spikes on the same socket
            ctx = zmq.asyncio.Context()
            sub = ctx.socket(zmq.SUB)
            sub.connect(bridge.endpoints["publish"])
            for prefix in (b"lifecycle", b"sync/lifecycle-test/"):
                sub.setsockopt(zmq.SUBSCRIBE, prefix)
            while (await asyncio.wait_for(sub.recv_multipart(), 5))[0] != prefix:
                pass
            await notifier.start()
            await notifier.stop()
            events = {}
            while "paused" not in events:
                body = json.loads((await asyncio.wait_for(sub.recv_multipart(), 5))[2])
                events[body["event"]] = body
            sub.close(0)
            ctx.term()
            inh = (await client.describe())["streams"]["spikes/inh"]
            assert (inh["sequence"], inh["messages"], inh["events"]) == (1, 1, 2)
            assert events["paused"]["streams"]["spikes/inh"] == inh
            assert "streams" not in events["started"]
            got = await stream.checkpoint()  # reads 'started', 'paused', stats, the sync answer
            assert (got.accounted, got.received_events, got.missed_messages) == (True, 2, 0)
            assert got.announced_messages == 1 and got.sequence == inh["sequence"]
        notifier.close()


async def test_slow_subscriber_drops_only_on_its_own_stream_and_counts_them(tmp_path, board):
    """libzmq drops for the stalled subscriber only, silently; once it reads again, one
    checkpoint accounts for every message and event it lost, the tail included."""
    path = write_bridge_database(tmp_path, board.ip)
    table = bridge_mapping(board.ip).key_table()
    n_ticks, per_tick = 600, 4000
    keys = _keys(table, "exc", np.arange(per_tick) % 300)
    async with Bridge(quick_config(sndhwm=20)) as bridge:
        notifier, live = await announce(bridge, path, board)
        async with connect(bridge.endpoints["discovery"]) as client:
            # a small receive window so the kernel's TCP buffers cannot hide the stall
            fast, slow = client.spikes("exc"), client.spikes("exc", rcvhwm=20, rcvbuf=4096)
            for stream in (fast, slow):
                await stream.ready()

            async def read_fast() -> list[int]:
                return [(await fast.next(5.0))[0] for _ in range(n_ticks)]

            reader = asyncio.ensure_future(read_fast())
            for tick in range(n_ticks):
                for packet in lpg_packets(tick, keys):
                    board.send(packet, live)
                await asyncio.sleep(0.0005)
            assert await reader == list(range(n_ticks))  # every tick published
            got_slow = await slow.checkpoint(5.0)
            got_fast = await fast.checkpoint(5.0)
            totals = (await client.describe())["streams"]["spikes/exc"]
        for got in (got_fast, got_slow):  # both were live before tick 0
            assert (got.announced_messages, got.announced_events) == (n_ticks, n_ticks * per_tick)
            assert got.received_messages + got.missed_messages == got.announced_messages
            assert got.received_events + got.missed_events == got.announced_events
            assert got.dropped == {} and got.sequence == totals["sequence"]
        assert (got_fast.missed_messages, got_fast.gap_messages) == (0, 0)
        assert got_fast.received_events == n_ticks * per_tick
        assert got_slow.missed_messages > 0 and got_slow.received_messages == slow.buffered
        stats = bridge.statistics()
        assert stats.udp.received == n_ticks * len(lpg_packets(0, keys)) + 1  # + tag reply
        assert stats.udp.kernel_drops == 0
        exc = stats.streams["spikes/exc"]
        assert exc.messages == totals["messages"] == n_ticks and exc.dropped == {}
        notifier.close()


async def test_lossless_mode_books_balance_with_queue_full_drops(tmp_path, board):
    """XPUB_NODROP: a stalled subscriber holds the topic back, its queue overflows (queue_full,
    counted by the bridge for every subscriber), libzmq drops nothing (missed 0). The totals
    are rendered when handed to ZeroMQ, so the books balance at every sync answer, even one
    that overtook messages still waiting in the topic's queue (counted at the next)."""
    path = write_bridge_database(tmp_path, board.ip)
    table = bridge_mapping(board.ip).key_table()
    n_ticks, per_tick = 600, 4000
    keys = _keys(table, "exc", np.arange(per_tick) % 300)
    async with Bridge(quick_config(sndhwm=5, lossless=True, topic_queue=16)) as bridge:
        notifier, live = await announce(bridge, path, board)
        async with connect(bridge.endpoints["discovery"]) as client:
            slow = client.spikes("exc", rcvhwm=5, rcvbuf=4096)
            await slow.ready()
            for tick in range(n_ticks):
                for packet in lpg_packets(tick, keys):
                    board.send(packet, live)
                await asyncio.sleep(0.0005)
            await until(lambda: _exc(bridge).sequence == n_ticks, "every tick accepted")
            first = await slow.checkpoint(10.0)  # may overtake messages still queued
            await until(lambda: _exc(bridge).queue_depth == 0, "the topic queue drained")
            got = await slow.checkpoint(10.0)
        for books in (first, got):
            assert books.received_messages + books.missed_messages == books.announced_messages
            assert books.received_events + books.missed_events == books.announced_events
        assert got.accounted and (got.missed_messages, got.missed_events) == (0, 0)
        assert got.received_messages == got.announced_messages == slow.buffered
        assert got.received_events == got.announced_events
        exc = bridge.statistics().streams["spikes/exc"]
        assert exc.dropped["queue_full"] > 0  # the stall held the topic back
        assert got.dropped == {"queue_full": exc.dropped["queue_full"]}
        assert got.dropped_events["queue_full"] == exc.dropped_events["queue_full"]
        assert got.received_messages + exc.dropped["queue_full"] == n_ticks == got.sequence
        notifier.close()


def test_header_is_twenty_bytes_little_endian():
    assert HEADER.size == 20 and HEADER.format == "<BBHIIII"


def _exc(bridge: Bridge) -> Any:
    return bridge.statistics().streams["spikes/exc"]


async def _state_is(client: Any, state: str) -> bool:
    return bool((await client.describe())["state"] == state)
