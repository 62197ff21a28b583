"""spinnlive's protocol layer against spinnman's own codec (sPyNNaker 7.4.1), both ways.

Every data-packet layout and every command is built by one side and read by the other. Where
spinnman is known to be wrong (its EIEIO command codec) a test names the fault, shows
spinnman's reading, and asserts the on-chip meaning instead.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

pytest.importorskip("spinnman")

from spinnman.messages.eieio import (  # noqa: E402
    EIEIOPrefix,
    read_eieio_command_message,
    read_eieio_data_message,
)
from spinnman.messages.eieio import EIEIOType as SmType  # noqa: E402
from spinnman.messages.eieio import command_messages as sm_cmd  # noqa: E402
from spinnman.messages.eieio.data_messages import (  # noqa: E402
    EIEIODataHeader as SmHeader,
)
from spinnman.messages.eieio.data_messages import (  # noqa: E402
    EIEIODataMessage,
    KeyPayloadDataElement,
)

from spinnlive.protocol import (  # noqa: E402
    Database,
    EIEIOType,
    HostSendSequencedData,
    PrefixSemantics,
    PrefixType,
    ReadRequest,
    SpinnakerRequestReadData,
    decode_command,
    decode_data_packet,
    encode_command,
    encode_events,
)

N_EVENTS = 11
PREFIX, PAYLOAD_PREFIX = 0x1234, 0x00A0


def _combos():
    for etype, prefix_type, use_pp, is_time in itertools.product(
        list(EIEIOType), [None, PrefixType.LOWER_HALF_WORD, PrefixType.UPPER_HALF_WORD],
        [False, True], [False, True],
    ):
        yield pytest.param(etype, prefix_type, use_pp, is_time,
                           id=f"{etype.name}-{getattr(prefix_type, 'name', 'NOPREFIX')}"
                              f"-{'D' if use_pp else 'noD'}-{'T' if is_time else 'noT'}")


def _spinnman_packet(etype, prefix_type, use_pp, is_time, rng):
    """Build with spinnman; return its bytes and its own reading of them."""
    width = 16 if etype.key_bytes == 2 else 32
    header = SmHeader(
        SmType(int(etype)), prefix=PREFIX if prefix_type is not None else None,
        prefix_type=EIEIOPrefix(int(prefix_type or 0)),
        payload_base=PAYLOAD_PREFIX if use_pp else None, is_time=is_time,
    )
    msg = EIEIODataMessage(header)
    wire = rng.integers(0, 1 << width, N_EVENTS, dtype=np.uint64)
    for k in wire:
        if etype.has_payload:
            msg.add_key_and_payload(int(k), int(rng.integers(0, 1 << width)))
        else:
            msg.add_key(int(k))
    data = msg.bytestring
    return data, _spinnman_reading(data), wire


def _spinnman_reading(data: bytes):
    msg = read_eieio_data_message(data, 0)
    keys, payloads, timed = [], [], []
    while msg.is_next_element:
        e = msg.next_element
        keys.append(e.key)
        if isinstance(e, KeyPayloadDataElement):
            payloads.append(e.payload)
            timed.append(e.payload_is_timestamp)
    return (np.array(keys, dtype=np.uint32),
            np.array(payloads, dtype=np.uint32) if payloads else None, timed)


@pytest.mark.parametrize(("etype", "prefix_type", "use_pp", "is_time"), list(_combos()))
def test_spinnman_built_data_packets_decode_alike(etype, prefix_type, use_pp, is_time):
    rng = np.random.default_rng(int(etype) * 100 + (prefix_type or 0) * 10 + use_pp * 2 + is_time)
    data, (sm_keys, sm_payloads, sm_timed), wire = _spinnman_packet(
        etype, prefix_type, use_pp, is_time, rng)
    ours = decode_data_packet(data, semantics=PrefixSemantics.SPINNMAN)
    np.testing.assert_array_equal(ours.keys, sm_keys)
    if sm_payloads is None:
        assert ours.payloads is None
    else:
        np.testing.assert_array_equal(ours.payloads, sm_payloads)
        assert all(t == is_time for t in sm_timed)
    h = ours.header
    assert (h.eieio_type, h.is_time, h.count) == (etype, is_time, N_EVENTS)
    assert h.payload_prefix == (PAYLOAD_PREFIX if use_pp else None)
    on_chip = decode_data_packet(data)
    if prefix_type == PrefixType.LOWER_HALF_WORD and etype.key_bytes == 2:
        # Known spinnman fault: LOWER on 16-bit keys. The injector core builds
        # (key << 16) | prefix; spinnman's next_element builds key | prefix.
        np.testing.assert_array_equal(on_chip.keys, ((wire << 16) | PREFIX).astype(np.uint32))
        assert not np.array_equal(on_chip.keys, sm_keys)
    else:
        np.testing.assert_array_equal(on_chip.keys, sm_keys)


@pytest.mark.parametrize(("etype", "prefix_type", "use_pp", "is_time"), list(_combos()))
def test_spinnlive_built_data_packets_decode_alike_in_spinnman(etype, prefix_type, use_pp,
                                                                is_time):
    rng = np.random.default_rng(7 + int(etype))
    # Take spinnman's reading of one of its packets as the events to send, then send them.
    _, (keys, payloads, _), _ = _spinnman_packet(etype, prefix_type, use_pp, is_time, rng)
    kwargs = dict(eieio_type=etype, prefix=PREFIX if prefix_type is not None else None,
                  prefix_type=PrefixType.UPPER_HALF_WORD if prefix_type is None else prefix_type,
                  payload_prefix=PAYLOAD_PREFIX if use_pp else None, is_time=is_time)
    [data] = encode_events(keys, payloads, semantics=PrefixSemantics.SPINNMAN, **kwargs)
    sm_keys, sm_payloads, sm_timed = _spinnman_reading(data)
    np.testing.assert_array_equal(sm_keys, keys)
    if payloads is None:
        assert sm_payloads is None
    else:
        np.testing.assert_array_equal(sm_payloads, payloads)
        assert all(t == is_time for t in sm_timed)
    if prefix_type == PrefixType.LOWER_HALF_WORD and etype.key_bytes == 2:
        # Known spinnman fault, other direction: keys meant for the chip, (w << 16) | prefix,
        # come out of spinnman's decoder as w | prefix.
        full = (np.arange(N_EVENTS, dtype=np.uint32) << 16) | PREFIX
        [chip] = encode_events(full, payloads, **kwargs)
        sm_chip, _, _ = _spinnman_reading(chip)
        np.testing.assert_array_equal(sm_chip, np.arange(N_EVENTS) | PREFIX)
        np.testing.assert_array_equal(decode_data_packet(chip).keys, full)


def test_full_live_output_packet_exceeds_spinnman_budget_but_both_read_it():
    keys = np.arange(64, dtype=np.uint32) * 16 + 0x800
    [data] = encode_events(keys, eieio_type=EIEIOType.KEY_32_BIT, payload_prefix=5, is_time=True,
                           max_per_packet=64)
    assert len(data) == 262  # section 1.4: more than spinnman's 256-byte UDP_MESSAGE_MAX_SIZE
    sm_keys, sm_payloads, sm_timed = _spinnman_reading(data)
    np.testing.assert_array_equal(sm_keys, keys)
    assert set(sm_payloads.tolist()) == {5} and all(sm_timed)


# ---- commands ---------------------------------------------------------------------------

SPINNMAN_COMMANDS = [
    (sm_cmd.NotificationProtocolDatabaseLocation(), Database()),
    (sm_cmd.PaddingRequest(), None),
    (sm_cmd.EventStopRequest(), None),
    (sm_cmd.StopRequests(), None),
    (sm_cmd.StartRequests(), None),
    (sm_cmd.NotificationProtocolPauseStop(), None),
    (sm_cmd.NotificationProtocolStartResume(), None),
    (sm_cmd.SpinnakerRequestBuffers(3, 5, 17, 9, 201, 123456), None),
    (sm_cmd.HostDataRead(2, 77, [1, 2], [3, 4], [500, 600]), None),
    (sm_cmd.HostDataReadAck(99), None),
]


def _fields(msg) -> dict:
    """spinnman's view of a command, as a dict of its public scalar properties."""
    out = {"command": msg.eieio_header.command}
    for name in ("x", "y", "p", "region_id", "sequence_no", "space_available", "n_requests",
                 "database_path"):
        if hasattr(type(msg), name) and isinstance(getattr(type(msg), name), property):
            out[name] = getattr(msg, name)
    if isinstance(msg, sm_cmd.HostDataRead):
        out["acks"] = [(msg.channel(i), msg.region_id(i), msg.space_read(i))
                       for i in range(msg.n_requests)]
    return out


def _our_fields(cmd) -> dict:
    out = {"command": int(cmd.command_id)}
    for name in ("x", "y", "p", "region_id", "sequence_no", "space_available"):
        if hasattr(cmd, name):
            out[name] = getattr(cmd, name)
    if hasattr(cmd, "acks"):
        out["n_requests"] = len(cmd.acks)
        out["acks"] = [(a.channel, a.region_id, a.space_read) for a in cmd.acks]
    if hasattr(cmd, "path"):
        out["database_path"] = cmd.path
    return out


@pytest.mark.parametrize("sm_msg", [c for c, _ in SPINNMAN_COMMANDS],
                         ids=lambda m: type(m).__name__)
def test_commands_both_ways(sm_msg):
    data = sm_msg.bytestring
    ours = decode_command(data)
    assert _our_fields(ours) == _fields(sm_msg)
    back = encode_command(ours)
    assert back == data
    if isinstance(sm_msg, sm_cmd.HostDataReadAck):
        # read_eieio_command_message has no case for id 12; the class's own parser reads it.
        reread = sm_cmd.HostDataReadAck.from_bytestring(None, back, 2)
    else:
        reread = read_eieio_command_message(back, 0)
    assert _fields(reread) == _fields(sm_msg)


def test_database_with_path_spinnman_parser_fault():
    """Known fault: spinnman's parser raises (SpiNNMan issue 424) on a DATABASE path, which the
    toolchain itself sends; DatabaseConnection slices data[2:] instead. spinnlive reads it."""
    path = "/tmp/run é/input_output_database.sqlite3"
    sm_bytes = sm_cmd.NotificationProtocolDatabaseLocation(path).bytestring
    assert decode_command(sm_bytes) == Database(path=path)
    ours = encode_command(Database(path=path))
    assert ours == sm_bytes
    assert ours[2:].decode("utf-8") == path  # what DatabaseConnection does
    with pytest.raises(Exception, match="424"):
        read_eieio_command_message(ours, 0)


def test_request_read_data_spinnman_faults():
    """Known faults: SpinnakerRequestReadData encodes x, y but decodes y, x, and its encoder
    writes request 0's start address into every request. The chip id on the wire is the chip's
    u16 (x << 8) | y, little-endian: y first, as SpinnakerRequestBuffers has it both ways."""
    sm = sm_cmd.SpinnakerRequestReadData(3, 5, 17, [1, 2], 9, 2, [0, 1], [0x1000, 0x2000],
                                         [64, 128])
    ours = decode_command(sm.bytestring)
    assert (ours.x, ours.y) == (5, 3)  # spinnman's encoder swapped them
    assert [r.start_address for r in ours.requests] == [0x1000, 0x1000]  # repeated
    assert [(r.channel, r.region_id, r.space_to_be_read) for r in ours.requests] == [
        (0, 1, 64), (1, 2, 128)]
    # Ours, read by spinnman's decoder (which has the chip's order): everything survives.
    cmd = SpinnakerRequestReadData(x=3, y=5, p=17, sequence_no=9, requests=(
        ReadRequest(channel=0, region_id=1, start_address=0x1000, space_to_be_read=64),
        ReadRequest(channel=1, region_id=2, start_address=0x2000, space_to_be_read=128)))
    sm_read = read_eieio_command_message(encode_command(cmd), 0)
    assert (sm_read.x, sm_read.y, sm_read.p, sm_read.sequence_no) == (3, 5, 17, 9)
    assert [sm_read.start_address(i) for i in range(2)] == [0x1000, 0x2000]
    assert [sm_read.space_to_be_read(i) for i in range(2)] == [64, 128]
    # The bytes differ from spinnman's only where its faults are.
    sm_again = sm_cmd.SpinnakerRequestReadData(5, 3, 17, [1, 2], 9, 2, [0, 1], [0x1000, 0x1000],
                                               [64, 128])
    assert decode_command(sm_again.bytestring) == SpinnakerRequestReadData(
        x=3, y=5, p=17, sequence_no=9, requests=(cmd.requests[0], ReadRequest(
            channel=1, region_id=2, start_address=0x1000, space_to_be_read=128)))


def test_host_send_sequenced_data_spinnman_offset_fault():
    """Known fault: HostSendSequencedData.from_bytestring reads the inner data packet at the
    region/sequence bytes instead of after them. spinnman's encoder is right."""
    inner = EIEIODataMessage.create(SmType.KEY_32_BIT)
    for k in (10, 20, 30):
        inner.add_key(k)
    sm = sm_cmd.HostSendSequencedData(4, 12, inner)
    ours = decode_command(sm.bytestring)
    assert ours == HostSendSequencedData(region_id=4, sequence_no=12, packet=inner.bytestring)
    np.testing.assert_array_equal(decode_data_packet(ours.packet).keys, [10, 20, 30])
    assert encode_command(ours) == sm.bytestring
    sm_read = read_eieio_command_message(encode_command(ours), 0)
    assert (sm_read.region_id, sm_read.sequence_no) == (4, 12)
    # spinnman took bytes 2-3 (region 4, sequence 12) as the inner header: count 4, flags 0x0c.
    assert sm_read.eieio_data_message.eieio_header.count == 4
    assert sm_read.eieio_data_message.eieio_header.count != 3


# ---- SDP / SCP --------------------------------------------------------------------------


@pytest.mark.parametrize(("x", "y", "tag", "strip"), [(0, 0, 7, True), (4, 8, 1, False),
                                                      (255, 3, 6, True)])
def test_iptag_set_bytes_equal_spinnman(x, y, tag, strip):
    from spinnman.messages.scp.impl.iptag_set import IPTagSet

    from spinnlive.protocol import IPTagSetRequest, decode_iptag_set, encode_iptag_set

    sm = IPTagSet(x, y, [0, 0, 0, 0], 0, tag, strip=strip, use_sender=True)
    sm.sdp_header.update_for_send(x, y)  # as reprogram_tag_to_listener does
    expected = b"\0\0" + sm.bytestring
    req = IPTagSetRequest(x=x, y=y, tag=tag, strip=strip)
    assert encode_iptag_set(req) == expected
    assert decode_iptag_set(expected) == req
    sm_host = IPTagSet(x, y, [10, 1, 2, 3], 17895, tag, strip=strip)
    sm_host.sdp_header.update_for_send(x, y)
    req_host = IPTagSetRequest(x=x, y=y, tag=tag, port=17895, ip="10.1.2.3", strip=strip,
                               use_sender=False)
    assert encode_iptag_set(req_host) == b"\0\0" + sm_host.bytestring


def test_iptag_reply_is_accepted_by_spinnman_and_live_event_connection():
    from spinn_front_end_common.utilities.connections import LiveEventConnection
    from spinnman.messages.scp.enums import SCPResult
    from spinnman.messages.scp.impl.iptag_set import IPTagSet

    from spinnlive.protocol import IPTagSetRequest, encode_iptag_set, iptag_set_reply

    request = encode_iptag_set(IPTagSetRequest(x=0, y=0, tag=7, sequence=3))
    reply = iptag_set_reply(request)
    assert len(reply) == 18
    # spinnman's own reading (reprogram_tag_to_listener with read_response=True)
    response = IPTagSet(0, 0, [0, 0, 0, 0], 0, 7).get_scp_response()
    response.read_bytestring(reply, 2)
    assert response.scp_response_header.result == SCPResult.RC_OK
    assert response.scp_response_header.sequence == 3
    # The check LiveEventConnection applies to every datagram on its receive socket.
    conn = LiveEventConnection("LiveSpikeReceiver", local_host="127.0.0.1", local_port=0)
    try:
        conn._LiveEventConnection__expect_scp_response = True
        assert conn._LiveEventConnection__handle_scp_packet(reply)
        conn._LiveEventConnection__expect_scp_response = True
        assert not conn._LiveEventConnection__handle_scp_packet(reply + b"\0")
    finally:
        conn.close()
