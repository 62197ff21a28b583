"""The bridge's input plan (spinnlive.bridge.injection): a large message is encoded piece by
piece as it is sent, and the pieces are exactly the packets of encoding it at once."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from spinnlive.bridge.injection import PACKETS_PER_PIECE, plan
from spinnlive.bridge.session import Direction, Session, Target
from spinnlive.protocol.eieio import (
    EIEIOType,
    decode_data_packet,
    encode_events,
)
from spinnlive.protocol.sdp import injection_datagram, unwrap_sdp
from spinnlive.wire.input import Inject, SetRates


def _session(size: int, full_keys: bool) -> Session:
    keys = np.arange(size, dtype=np.int64) + 0x10000
    targets = {(d, "pop"): Target("pop", size, "127.0.0.1", 0, 0, 3, keys, full_keys)
               for d in (Direction.IN, Direction.RATES)}
    return dataclasses.replace(Session.empty(1), targets=targets)


@pytest.mark.parametrize(("full_keys", "tick", "rates"),
                         [(False, None, False), (True, None, False), (False, 7, False),
                          (True, 70000, False), (False, None, True)])
def test_pieces_are_the_packets_of_the_whole_message(full_keys: bool, tick: int | None,
                                                     rates: bool) -> None:
    n = 100_003  # several pieces and a ragged last packet
    ids = (np.arange(n) % 5000).astype(np.uint32)
    session = _session(5000, full_keys)
    if rates:
        message: Inject | SetRates = SetRates("pop", ids, np.full(n, 12.5, np.float32))
    else:
        message = Inject("pop", ids, tick)
    accepted = plan(session, message)
    pieces = list(accepted.pieces())
    assert len(pieces) > 2 and all(len(p) == PACKETS_PER_PIECE for p in pieces[:-1])
    target = session.targets[(Direction.RATES if rates else Direction.IN, "pop")]
    sent = [d for piece in pieces for d in piece]
    packets = [decode_data_packet(unwrap_sdp(d)[1]) for d in sent]
    full = full_keys or rates or (tick is not None and tick > 0xFFFF)
    expected = target.keys[ids].astype(np.uint32) if full else ids
    np.testing.assert_array_equal(np.concatenate([p.keys for p in packets]), expected)
    if rates:
        assert all(np.all(p.payloads == round(12.5 * 65536)) for p in packets)
        whole = encode_events(expected, np.full(n, round(12.5 * 65536), np.uint32),
                              eieio_type=EIEIOType.KEY_PAYLOAD_32_BIT)
    elif tick is not None:
        assert all(p.timestamp == tick for p in packets)
        first = packets[0].header  # spinnman's 256-byte budget sets the count per packet
        whole = encode_events(expected, eieio_type=first.eieio_type, payload_prefix=tick,
                              is_time=True, max_per_packet=first.count)
    else:
        whole = encode_events(expected, eieio_type=EIEIOType.KEY_32_BIT if full
                              else EIEIOType.KEY_16_BIT)
    assert sent == [injection_datagram(0, 0, 3, packet) for packet in whole]
    assert accepted.events == n
