"""EIEIO data packets: layouts, prefix meanings, splitting and refusals."""

from __future__ import annotations

import numpy as np
import pytest

from spinnlive.errors import LocalProtocolError, RemoteProtocolError
from spinnlive.protocol.eieio import (
    DataPacket,
    EIEIODataHeader,
    EIEIOType,
    PrefixSemantics,
    PrefixType,
    decode_data_packet,
    decode_live_output,
    encode_events,
    max_events,
)

# Section 5.4's default live-output packet: 3 events at tick 5, flags 0x38 (D + T + KEY_32).
LPG_VECTOR = bytes.fromhex("0338" "05000000" "00020000" "30020000" "30030000")


def test_live_output_vector():
    packet = decode_data_packet(LPG_VECTOR)
    assert packet.keys.dtype == np.uint32
    assert packet.keys.tolist() == [0x200, 0x230, 0x330]
    assert packet.timestamp == 5
    assert packet.payloads.tolist() == [5, 5, 5]
    assert packet.header == EIEIODataHeader(eieio_type=EIEIOType.KEY_32_BIT, count=3,
                                            payload_prefix=5, is_time=True)
    assert packet.header.to_bytes() == LPG_VECTOR[:6]
    ts, keys = decode_live_output(LPG_VECTOR)
    assert ts == 5 and keys.tolist() == packet.keys.tolist()
    [again] = encode_events(packet.keys, eieio_type=EIEIOType.KEY_32_BIT, payload_prefix=5,
                            is_time=True)
    assert again == LPG_VECTOR


def test_unprefixed_32_bit_keys_are_views_of_the_datagram():
    packet = decode_data_packet(LPG_VECTOR)
    assert not packet.keys.flags.writeable
    assert np.shares_memory(packet.keys, np.frombuffer(LPG_VECTOR, np.uint8))


@pytest.mark.parametrize(("flags", "name"), [(0x00, "KEY_16_BIT"), (0x04, "KEY_PAYLOAD_16_BIT"),
                                             (0x08, "KEY_32_BIT"), (0x0C, "KEY_PAYLOAD_32_BIT")])
def test_flag_byte_values(flags, name):
    header = EIEIODataHeader(eieio_type=EIEIOType[name])
    assert header.to_bytes() == bytes([0, flags])
    with_all = EIEIODataHeader(eieio_type=EIEIOType[name], prefix=1,
                               prefix_type=PrefixType.UPPER_HALF_WORD, payload_prefix=2,
                               is_time=True, tag=3)
    assert with_all.to_bytes()[1] == flags | 0x80 | 0x40 | 0x20 | 0x10 | 3
    assert len(with_all.to_bytes()) == with_all.size == 2 + 2 + EIEIOType[name].key_bytes


def test_prefix_meanings_differ_only_for_lower_on_16_bit_keys():
    lower16 = bytes([2, 0x80, 0x34, 0x12]) + np.array([1, 2], "<u2").tobytes()
    assert decode_data_packet(lower16).keys.tolist() == [0x00011234, 0x00021234]
    spinnman = decode_data_packet(lower16, semantics=PrefixSemantics.SPINNMAN)
    assert spinnman.keys.tolist() == [0x1235, 0x1236]
    upper16 = bytes([2, 0xC0, 0x34, 0x12]) + np.array([1, 2], "<u2").tobytes()
    for sem in PrefixSemantics:
        assert decode_data_packet(upper16, semantics=sem).keys.tolist() == [0x12340001,
                                                                            0x12340002]
    lower32 = bytes([1, 0x88, 0x34, 0x12]) + np.array([0x50000], "<u4").tobytes()
    for sem in PrefixSemantics:
        assert decode_data_packet(lower32, semantics=sem).keys.tolist() == [0x51234]


def test_payload_prefix_is_ored_and_fills_key_only_types():
    pairs = np.array([[1, 0x10], [2, 0x20]], "<u4").tobytes()
    packet = decode_data_packet(bytes([2, 0x2C]) + (0x7000).to_bytes(4, "little") + pairs)
    assert packet.payloads.tolist() == [0x7010, 0x7020]
    assert packet.timestamp is None  # D without T, and a payload type
    key_only = decode_data_packet(bytes([2, 0x20, 9, 0]) + np.array([3, 4], "<u2").tobytes())
    assert key_only.payloads.tolist() == [9, 9] and key_only.timestamp is None
    no_payload = decode_data_packet(bytes([1, 0x00]) + b"\x05\x00")
    assert no_payload.payloads is None and no_payload.timestamp is None


@pytest.mark.parametrize(("data", "field", "offset"), [
    (b"", "header", 0),
    (b"\x00", "header", 0),
    (b"\x01\x40", "flags", 1),  # command marker
    (b"\x01\x7f\x00\x00", "flags", 1),
    (b"\x00\x80\x01", "prefix", 2),
    (b"\x00\xa8\x01\x00\x05", "payload_prefix", 4),
    (b"\x00\x38\x05\x00\x00", "payload_prefix", 2),
    (LPG_VECTOR[:-1], "count", 0),
    (LPG_VECTOR + b"\x00", "count", 0),
    (b"\x02\x08\x01\x00\x00\x00", "count", 0),
])
def test_bad_bytes_name_field_and_offset(data, field, offset):
    with pytest.raises(RemoteProtocolError) as err:
        decode_data_packet(data)
    assert (err.value.field, err.value.offset) == (field, offset)
    with pytest.raises(RemoteProtocolError):
        decode_live_output(data)


def test_live_output_fast_path_falls_back_and_refuses_untimed_packets():
    [timed16] = encode_events([1, 2], eieio_type=EIEIOType.KEY_16_BIT, payload_prefix=77,
                              is_time=True)
    ts, keys = decode_live_output(timed16)
    assert ts == 77 and keys.tolist() == [1, 2] and keys.dtype == np.uint32
    [untimed] = encode_events([1, 2], eieio_type=EIEIOType.KEY_32_BIT)
    with pytest.raises(RemoteProtocolError, match="timestamp"):
        decode_live_output(untimed)


def test_splitting_follows_the_host_sender_budgets():
    # Captured: LiveEventConnection sends 300 atom ids as 127 + 127 + 46.
    packets = encode_events(np.arange(300), eieio_type=EIEIOType.KEY_16_BIT)
    assert [p[0] for p in packets] == [127, 127, 46]
    counts = {t: encode_events(np.arange(200), np.arange(200) if t.has_payload else None,
                               eieio_type=t)[0][0] for t in EIEIOType}
    assert counts == {EIEIOType.KEY_16_BIT: 127, EIEIOType.KEY_PAYLOAD_16_BIT: 63,
                      EIEIOType.KEY_32_BIT: 63, EIEIOType.KEY_PAYLOAD_32_BIT: 31}
    lpg = EIEIODataHeader(eieio_type=EIEIOType.KEY_32_BIT, payload_prefix=0, is_time=True)
    assert max_events(lpg) == 66  # (272 - 6) // 4
    assert max_events(EIEIODataHeader(eieio_type=EIEIOType.KEY_16_BIT)) == 135
    full = encode_events(np.arange(64), eieio_type=EIEIOType.KEY_32_BIT, payload_prefix=3,
                         is_time=True, max_per_packet=64)
    assert [len(p) for p in full] == [262]
    assert encode_events([], eieio_type=EIEIOType.KEY_32_BIT) == []


@pytest.mark.parametrize(("keys", "payloads", "kwargs"), [
    ([0x10000], None, dict(eieio_type=EIEIOType.KEY_16_BIT)),
    ([-1], None, dict(eieio_type=EIEIOType.KEY_32_BIT)),
    ([1 << 32], None, dict(eieio_type=EIEIOType.KEY_32_BIT)),
    ([1.5], None, dict(eieio_type=EIEIOType.KEY_32_BIT)),
    ([[1, 2]], None, dict(eieio_type=EIEIOType.KEY_32_BIT)),
    ([1], None, dict(eieio_type=EIEIOType.KEY_PAYLOAD_32_BIT)),
    ([1], [1, 2], dict(eieio_type=EIEIOType.KEY_PAYLOAD_32_BIT)),
    ([1], [0x10000], dict(eieio_type=EIEIOType.KEY_PAYLOAD_16_BIT)),
    ([1], [1], dict(eieio_type=EIEIOType.KEY_32_BIT)),
    ([1], [1], dict(eieio_type=EIEIOType.KEY_32_BIT, payload_prefix=2)),
    ([0x00050001], None, dict(eieio_type=EIEIOType.KEY_16_BIT, prefix=4)),
    ([0x00050001], None, dict(eieio_type=EIEIOType.KEY_16_BIT, prefix=4,
                              prefix_type=PrefixType.LOWER_HALF_WORD)),
    ([1], [0x10], dict(eieio_type=EIEIOType.KEY_PAYLOAD_32_BIT, payload_prefix=0x100)),
    ([1], None, dict(eieio_type=EIEIOType.KEY_16_BIT, payload_prefix=0x10000)),
    ([1], None, dict(eieio_type=EIEIOType.KEY_16_BIT, prefix=0x10000)),
    ([1], None, dict(eieio_type=EIEIOType.KEY_16_BIT, tag=4)),
    ([1], None, dict(eieio_type=EIEIOType.KEY_32_BIT, payload_prefix=0, max_per_packet=67)),
    ([1], None, dict(eieio_type=EIEIOType.KEY_32_BIT, max_per_packet=0)),
])
def test_encoder_refusals_are_local_errors(keys, payloads, kwargs):
    with pytest.raises(LocalProtocolError):
        encode_events(keys, payloads, **kwargs)


def test_upper_prefix_type_without_prefix_is_refused():
    with pytest.raises(LocalProtocolError):
        EIEIODataHeader(eieio_type=EIEIOType.KEY_32_BIT, prefix_type=PrefixType.UPPER_HALF_WORD)


def test_data_packet_is_frozen():
    packet = decode_data_packet(LPG_VECTOR)
    assert isinstance(packet, DataPacket) and DataPacket.__dataclass_params__.frozen
    with pytest.raises(AttributeError):
        packet.keys = np.zeros(1)  # type: ignore[misc]


def test_full_packets_stamps_and_prefix_flags_are_read_by_the_protocol_layer():
    from spinnlive.protocol.eieio import decode_data_packet, encode_events, is_full_packet

    full, short = encode_events(np.arange(70, dtype=np.uint32), eieio_type=EIEIOType.KEY_32_BIT,
                                payload_prefix=9, is_time=True, max_per_packet=64)
    assert is_full_packet(full) and not is_full_packet(short)
    timed = decode_data_packet(full)
    assert (timed.is_time, timed.stamp, timed.has_key_prefix) == (True, 9, False)
    untimed = decode_data_packet(encode_events(np.array([1, 2], np.uint32),
                                               eieio_type=EIEIOType.KEY_32_BIT)[0])
    assert (untimed.is_time, untimed.stamp) == (False, None)
