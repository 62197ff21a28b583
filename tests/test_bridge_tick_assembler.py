"""The bridge's tick assembler closes a tick by the LPG's flush, by a new stamp, or by its
deadline; the deadline is read from an injected clock, so it is tested here in virtual time."""

from __future__ import annotations

import asyncio

import numpy as np

from spinnlive.bridge.live_output import TickAssembler
from spinnlive.clock import VirtualClock
from spinnlive.protocol.eieio import EIEIOType, encode_events
from spinnlive.protocol.keys import KeyTable
from spinnlive.wire.header import FLAG_DEADLINE

KEYS = [0x10000 + i for i in range(200)]
TABLE = KeyTable.from_arrays([("exc", range(200), KEYS)])
BOARD = ("10.0.0.1", 17894)


def _packets(tick: int, atoms: list[int]) -> list[bytes]:
    return encode_events([KEYS[a] for a in atoms], eieio_type=EIEIOType.KEY_32_BIT,
                         payload_prefix=tick, is_time=True, max_per_packet=64)


async def test_a_tick_whose_last_packet_was_full_closes_at_its_deadline_in_virtual_time() -> None:
    clock = VirtualClock()
    out: list[tuple[int, int, list[int], int]] = []
    assembler = TickAssembler(TABLE, lambda i, t, ids, f: out.append((i, t, ids.tolist(), f)),
                              flush_s=0.05, clock=clock)
    try:
        full = _packets(7, list(range(64)))  # exactly one full packet: the LPG sends no flush
        assembler.feed([(p, BOARD) for p in full])
        await clock.wait_for_sleepers()
        assert out == []  # nothing closes while virtual time stands still
        clock.advance(0.049)
        await asyncio.sleep(0)
        assert out == []
        clock.advance(0.001)
        for _ in range(3):
            await asyncio.sleep(0)
        assert out == [(0, 7, list(range(64)), FLAG_DEADLINE)]
        assert assembler.by_deadline == 1
        # a short packet (the LPG's flush) closes its tick at once, with no deadline flag
        assembler.feed([(p, BOARD) for p in _packets(8, [1, 2])])
        assert out[-1] == (0, 8, [1, 2], 0)
        # a new stamp closes the open tick first
        assembler.feed([(p, BOARD) for p in _packets(9, list(range(64)))])
        assembler.feed([(p, BOARD) for p in _packets(10, [5])])
        assert [o[1:] for o in out[-2:]] == [(9, list(range(64)), 0), (10, [5], 0)]
        assert np.sum([len(o[2]) for o in out]) == 64 + 2 + 64 + 1
    finally:
        assembler.close()
