"""SDP framing and the IP-tag SCP subset (byte equality with spinnman is in
test_interop_spinnman.py)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spinnlive.errors import LocalProtocolError, RemoteProtocolError
from spinnlive.protocol.eieio import EIEIOType, decode_data_packet, encode_events
from spinnlive.protocol.sdp import (
    EVENTS_HEAD,
    RC_OK,
    IPTagSetRequest,
    SDPHeader,
    datagram_events,
    decode_iptag_set,
    decode_scp_reply,
    decode_scp_request,
    encode_iptag_set,
    encode_scp_reply,
    injection_datagram,
    iptag_set_reply,
    unwrap_sdp,
    wrap_sdp,
)


def test_injection_matches_the_captured_datagram():
    # Captured from spynnaker's own client: atoms 0, 1, 2 to the injector on core (0, 0, 4).
    [eieio] = encode_events([0, 1, 2], eieio_type=EIEIOType.KEY_16_BIT)
    datagram = injection_datagram(0, 0, 4, eieio)
    assert datagram == bytes.fromhex("000007002400000000000300000001000200")
    header, body = unwrap_sdp(datagram)
    assert (header.dest_port, header.dest_cpu, header.flags) == (1, 4, 0x07)
    assert decode_data_packet(body).keys.tolist() == [0, 1, 2]


def test_wrap_unwrap_round_trip_and_limits():
    header = SDPHeader(flags=0x87, tag=3, dest_port=5, dest_cpu=17, src_port=7, src_cpu=31,
                       dest_x=9, dest_y=200, src_x=1, src_y=2)
    datagram = wrap_sdp(header, b"x" * 272)
    assert unwrap_sdp(datagram) == (header, b"x" * 272)
    assert datagram[6:10] == bytes([200, 9, 2, 1])  # dest y, dest x, src y, src x
    with pytest.raises(LocalProtocolError):
        wrap_sdp(header, b"x" * 273)
    with pytest.raises(RemoteProtocolError) as err:
        unwrap_sdp(datagram + b"x")
    assert err.value.field == "body"
    with pytest.raises(LocalProtocolError):
        SDPHeader(flags=0, tag=0, dest_port=8, dest_cpu=0, src_port=0, src_cpu=0, dest_x=0,
                  dest_y=0, src_x=0, src_y=0)


@pytest.mark.parametrize(("n", "field", "offset"), [(0, "padding", 0), (1, "padding", 0),
                                                    (2, "flags", 2), (5, "src", 5),
                                                    (9, "src_x", 9)])
def test_short_sdp_names_field(n, field, offset):
    with pytest.raises(RemoteProtocolError) as err:
        unwrap_sdp(bytes(10)[:n])
    assert (err.value.field, err.value.offset) == (field, offset)


def test_iptag_request_layout():
    datagram = encode_iptag_set(IPTagSetRequest(x=0, y=0, tag=7))
    assert len(datagram) == 26
    request = decode_scp_request(datagram)
    assert (request.command, request.sequence) == (26, 0)
    assert (request.arg1, request.arg2, request.arg3) == (0x50010007, 0, 0)  # section 5.4
    assert (request.sdp.flags, request.sdp.tag, request.sdp.src_port, request.sdp.src_cpu) == (
        0x87, 0xFF, 7, 31)
    assert decode_iptag_set(datagram) == IPTagSetRequest(x=0, y=0, tag=7)
    explicit = IPTagSetRequest(x=1, y=2, tag=3, port=17895, ip="192.168.1.9", strip=False,
                               use_sender=False, sequence=513)
    assert decode_iptag_set(encode_iptag_set(explicit)) == explicit


def test_iptag_reply_is_what_live_event_connection_waits_for():
    request = encode_iptag_set(IPTagSetRequest(x=3, y=4, tag=6, sequence=42))
    reply = iptag_set_reply(request)
    # LiveEventConnection: exactly 18 bytes, byte 2 = 0x07 and byte 4 = 0xFF.
    assert (len(reply), reply[2], reply[4]) == (18, 0x07, 0xFF)
    parsed = decode_scp_reply(reply)
    assert (parsed.rc, parsed.sequence, parsed.payload) == (RC_OK, 42, (6).to_bytes(4, "little"))
    req_sdp = decode_scp_request(request).sdp
    assert (parsed.sdp.dest_x, parsed.sdp.dest_y) == (req_sdp.src_x, req_sdp.src_y)
    assert (parsed.sdp.src_x, parsed.sdp.src_y) == (req_sdp.dest_x, req_sdp.dest_y)
    assert (parsed.sdp.dest_port, parsed.sdp.dest_cpu) == (req_sdp.src_port, req_sdp.src_cpu)
    error = decode_scp_reply(encode_scp_reply(req_sdp, rc=0x83, sequence=1))
    assert (error.rc, error.payload) == (0x83, b"")


@pytest.mark.parametrize("mutate", [
    lambda d: d[:10] + (25).to_bytes(2, "little") + d[12:],  # another SCP command
    lambda d: d[:14] + (0x50020007).to_bytes(4, "little") + d[18:],  # IPTAG op 2, not SET
    lambda d: d[:18] + (1 << 16).to_bytes(4, "little") + d[22:],  # port over 16 bits
    lambda d: d[:20],  # arguments missing
    lambda d: d[:11],
])
def test_bad_iptag_requests_are_remote_errors(mutate):
    datagram = encode_iptag_set(IPTagSetRequest(x=0, y=0, tag=7))
    with pytest.raises(RemoteProtocolError) as err:
        decode_iptag_set(mutate(datagram))
    assert err.value.field is not None and err.value.offset is not None


def test_iptag_request_refuses_bad_values():
    with pytest.raises(LocalProtocolError):
        IPTagSetRequest(x=0, y=0, tag=7, ip="localhost")
    with pytest.raises(LocalProtocolError):
        IPTagSetRequest(x=0, y=0, tag=7, port=70000)


@given(st.binary(min_size=10, max_size=40))
def test_fast_header_parse_agrees_with_the_declared_layout(datagram: bytes) -> None:
    """unwrap_sdp reads headers with struct; the construct layout is the definition."""
    from spinnlive.protocol.sdp import _SDP

    header, body = unwrap_sdp(datagram)
    c = _SDP.parse(datagram[2:10])
    assert (header.flags, header.tag, header.dest_port, header.dest_cpu, header.src_port,
            header.src_cpu, header.dest_x, header.dest_y, header.src_x, header.src_y) == (
        c.flags, c.tag, c.dest.port, c.dest.cpu, c.src.port, c.src.cpu, c.dest_x, c.dest_y,
        c.src_x, c.src_y)
    assert body == datagram[10:]


@given(st.lists(st.integers(0, 0xFFFF), min_size=1, max_size=100), st.integers(0, 255),
       st.integers(0, 255), st.integers(1, 17))
def test_a_refused_datagram_head_names_its_core_and_event_count(ids, x, y, p):
    """What a sender reads back from the kernel's error queue: the first EVENTS_HEAD bytes."""
    [packet] = encode_events(ids, eieio_type=EIEIOType.KEY_16_BIT)
    sdp, events = datagram_events(injection_datagram(x, y, p, packet)[:EVENTS_HEAD])
    assert sdp is not None and (sdp.dest_x, sdp.dest_y, sdp.dest_cpu, events) == (x, y, p, len(ids))
    assert datagram_events(packet[:EVENTS_HEAD]) == (None, len(ids))  # bare live output
    assert datagram_events(b"") == (None, 0)
