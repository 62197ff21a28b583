"""inject/ and rates/ through the bridge arrive at the board as the bytes sPyNNaker's clients send.

The reference bytes are captured from SpynnakerLiveSpikesConnection and
SpynnakerPoissonControlConnection themselves, driven through the real notification handshake
against the same database and the same fake board.
"""

from __future__ import annotations

import numpy as np
import pytest
import zmq
import zmq.asyncio
from bridge_helpers import FakeBoard, announce, quick_config, write_bridge_database
from waiting import until

from spinnlive.bridge import Bridge
from spinnlive.client import connect
from spinnlive.transport.notifier import Notifier

pytest.importorskip("spynnaker")

#: Protocol sheet §5.3: atoms 0, 1, 2 of an injector on core (0,0,4), captured from spynnaker.
SHEET_VECTOR = "000007002400000000000300000001000200"

INJECT = {"stim": [0, 1, 2], "stim_many": [i % 10 for i in range(300)]}
RATE_IDS = [0, 5, 19] + list(range(20)) * 2
RATES = np.float32([10.0, 0.5, 1234.567] + [i * 3.3 for i in range(40)])


async def _reference_bytes(path, board: FakeBoard) -> dict[str, list[bytes]]:
    from spynnaker.pyNN.connections import (
        SpynnakerLiveSpikesConnection,
        SpynnakerPoissonControlConnection,
    )

    spikes = SpynnakerLiveSpikesConnection(send_labels=["stim", "big"], local_host="127.0.0.1",
                                           local_port=None)
    rates = SpynnakerPoissonControlConnection(poisson_labels=["noise"], local_host="127.0.0.1",
                                              local_port=None)
    got: dict[str, list[bytes]] = {}
    try:
        notifier = Notifier([("127.0.0.1", spikes.local_port), ("127.0.0.1", rates.local_port)])
        await notifier.notify_database(str(path))
        for name, ids in INJECT.items():
            spikes.send_spikes("stim", ids)
            got[name] = await board.recv_all()
        spikes.send_spikes("big", [0, 69_999, 12345] * 30, send_full_keys=True)
        got["big"] = await board.recv_all()
        rates.set_rates("noise", [(i, float(r)) for i, r in zip(RATE_IDS, RATES)])
        got["rates"] = await board.recv_all()
        notifier.close()
    finally:
        spikes.close()
        rates.close()
    return got


async def test_injection_and_rates_bytes_equal_spynnakers(tmp_path, board):
    path = write_bridge_database(tmp_path, board.ip, big_injector=True)
    want = await _reference_bytes(path, board)
    assert want["stim"] == [bytes.fromhex(SHEET_VECTOR)]
    assert [len(p) for p in want["stim_many"]] == [2 + 8 + 2 + 2 * n for n in (127, 127, 46)]
    async with Bridge(quick_config()) as bridge:
        notifier, _ = await announce(bridge, path, board)
        async with connect(bridge.endpoints["discovery"]) as client:
            got = {}
            for name, ids in INJECT.items():
                await client.inject("stim", ids)
                got[name] = await board.recv_all()
            await client.inject("big", np.array([0, 69_999, 12345] * 30))
            got["big"] = await board.recv_all()
            await client.set_rates("noise", RATE_IDS, RATES)
            got["rates"] = await board.recv_all()
        assert got == want
        stream = bridge.statistics().streams["rates/noise"]
        assert (stream.messages, stream.forwarded_events, stream.packets) == (1, 43, 2)
        notifier.close()


async def test_rejected_input_is_counted_and_never_forwarded(tmp_path, board):
    path = write_bridge_database(tmp_path, board.ip)
    async with Bridge(quick_config()) as bridge:
        ctx = zmq.asyncio.Context()
        push = ctx.socket(zmq.PUSH)
        push.connect(bridge.endpoints["input"])
        await push.send_multipart([b"inject/stim", np.uint32([1]).tobytes()])  # before any DB
        await until(lambda: "input" in bridge.statistics().streams,
                       "the input before any database counted")
        notifier, _ = await announce(bridge, path, board)
        u32, f32 = np.uint32, np.float32
        bad = [
            [b"inject/nosuch", u32([1]).tobytes()],
            [b"inject/stim", u32([3, 10]).tobytes()],
            [b"inject/exc", u32([1]).tobytes()],  # live output, not an injector
            [b"rates/exc", u32([1]).tobytes(), f32([1]).tobytes()],
            [b"rates/noise", u32([1]).tobytes(), f32([-1]).tobytes()],
            [b"rates/noise", u32([1]).tobytes(), f32([np.nan]).tobytes()],
            [b"rates/noise", u32([1]).tobytes(), f32([70000]).tobytes()],
            [b"rates/noise", u32([1, 2]).tobytes(), f32([1]).tobytes()],
            [b"rates/noise", u32([1]).tobytes()],
            [b"inject/stim", b"\x01\x00\x00\x00\x02"],
            [b"hello/stim", u32([1]).tobytes()],
        ]
        for frames in bad:
            await push.send_multipart(frames)
        await push.send_multipart([b"inject/stim", u32([4]).tobytes()])
        arrived = await board.recv_all(0.5)
        assert len(arrived) == 1 and arrived[0].endswith(b"\x01\x00\x04\x00")
        streams = bridge.statistics().streams
        assert streams["input"].dropped == {"no_session": 1, "unknown_label": 3,
                                            "bad_topic": 1}
        assert streams["inject/stim"].dropped == {"id_out_of_range": 1, "bad_payload": 1}
        assert streams["inject/stim"].dropped_events == {"id_out_of_range": 2, "bad_payload": 0}
        assert streams["rates/noise"].dropped == {"rate_out_of_range": 3, "bad_payload": 2}
        assert streams["inject/stim"].forwarded_events == 1
        push.close(0)
        ctx.term()
        notifier.close()


def _spinnman_timestamped(target, keys, tick: int, key32: bool) -> bytes:
    """spinnman's encoding of the same timestamped packet, wrapped as LiveEventConnection wraps."""
    from spinnman.messages.eieio import EIEIOType as SpinnmanType
    from spinnman.messages.eieio.data_messages import EIEIODataMessage
    from spinnman.messages.sdp import SDPFlag, SDPHeader, SDPMessage

    message = EIEIODataMessage.create(
        SpinnmanType.KEY_32_BIT if key32 else SpinnmanType.KEY_16_BIT, timestamp=tick)
    for key in keys:
        message.add_key(int(key))
    sdp = SDPMessage(SDPHeader(
        flags=SDPFlag.REPLY_NOT_EXPECTED, tag=0, destination_port=1, destination_cpu=target.p,
        destination_chip_x=target.x, destination_chip_y=target.y, source_port=0, source_cpu=0,
        source_chip_x=0, source_chip_y=0), data=message.bytestring)
    return b"\0\0" + sdp.bytestring


async def test_inject_with_a_tick_sends_the_timestamped_eieio_spinnman_encodes(tmp_path, board):
    from spinnlive.bridge.session import Direction

    path = write_bridge_database(tmp_path, board.ip, big_injector=True)
    async with Bridge(quick_config()) as bridge:
        notifier, _ = await announce(bridge, path, board)
        cases = [("stim", [i % 10 for i in range(300)], 7, False),  # KEY_16, 126 per packet
                 ("stim", [1, 2], 70_000, True),  # tick > 0xFFFF: KEY_32 with the DB keys
                 ("big", [0, 69_999, 12345] * 30, 0xFFFF_FFFF, True)]  # KEY_32, 62 per packet
        async with connect(bridge.endpoints["discovery"]) as client:
            for label, ids, tick, key32 in cases:
                await client.inject(label, ids, tick=tick)
                got = await board.recv_all()
                target = bridge.session.targets[(Direction.IN, label)]
                keys = target.keys[ids] if key32 else np.array(ids)
                per = 62 if key32 else 126
                assert got == [_spinnman_timestamped(target, keys[at:at + per], tick, key32)
                               for at in range(0, len(ids), per)], (label, tick)
            push = client._push
            assert push is not None
            await push.send_multipart([b"inject/stim", np.uint32([1]).tobytes(), b"\x07\x00"])
            assert await board.recv_all() == []
        assert bridge.statistics().streams["inject/stim"].dropped == {"bad_payload": 1}
        notifier.close()
