"""EIEIO command packets: records, layouts and refusals (spinnman comparisons are in
test_interop_spinnman.py)."""

from __future__ import annotations

import dataclasses

import pytest

from spinnlive.errors import LocalProtocolError, RemoteProtocolError
from spinnlive.protocol import commands as c

ALL = [
    c.Database(path="/tmp/db.sqlite3"), c.Database(), c.EventPadding(), c.EventStop(),
    c.StopSendingRequests(), c.StartSendingRequests(),
    c.SpinnakerRequestBuffers(x=1, y=2, p=3, region_id=4, sequence_no=5, space_available=600),
    c.HostSendSequencedData(region_id=1, sequence_no=2, packet=bytes.fromhex("0300010002000300")),
    c.SpinnakerRequestReadData(x=1, y=2, p=17, sequence_no=9, requests=(
        c.ReadRequest(channel=1, region_id=2, start_address=3, space_to_be_read=4),
        c.ReadRequest(channel=5, region_id=6, start_address=7, space_to_be_read=8))),
    c.HostDataRead(sequence_no=3, acks=(c.ReadAck(channel=1, region_id=2, space_read=3),)),
    c.StopPauseNotification(), c.StartResumeNotification(), c.HostDataReadAck(sequence_no=7),
]


def test_every_id_has_a_record():
    assert {type(cmd).command_id for cmd in ALL} == set(c.EIEIOCommandId)


@pytest.mark.parametrize("cmd", ALL, ids=lambda x: type(x).__name__)
def test_round_trip_and_header(cmd):
    data = c.encode_command(cmd)
    assert c.is_command_packet(data)
    assert int.from_bytes(data[:2], "little") == 0x4000 | cmd.command_id
    assert c.decode_command(data) == cmd
    params = type(cmd).__dataclass_params__
    assert params.frozen and hasattr(type(cmd), "__slots__")
    for field in dataclasses.fields(cmd):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(cmd, field.name, None)


# DATABASE is left out: its path runs to the end of the datagram, so every prefix is valid.
@pytest.mark.parametrize("cmd", [x for x in ALL if not isinstance(x, c.Database)],
                         ids=lambda x: type(x).__name__)
def test_every_truncation_is_a_remote_error(cmd):
    data = c.encode_command(cmd)
    for n in range(len(data)):
        if n == 2 and len(data) == 2:
            continue
        with pytest.raises(RemoteProtocolError) as err:
            c.decode_command(data[:n])
        assert err.value.offset is not None and err.value.offset <= n


def test_sizes_match_the_protocol_table():
    # Section 2.2: total sizes for one request / one ack.
    sizes = {type(cmd): len(c.encode_command(cmd)) for cmd in ALL}
    assert sizes[c.SpinnakerRequestBuffers] == 12
    assert sizes[c.HostDataReadAck] == 3
    assert sizes[c.HostDataRead] == 12
    one = c.SpinnakerRequestReadData(x=0, y=0, p=1, sequence_no=0, requests=(
        c.ReadRequest(channel=0, region_id=0, start_address=0, space_to_be_read=0),))
    assert len(c.encode_command(one)) == 16


def test_database_path_is_utf8_to_the_end_and_empty_means_none():
    path = "/données/run 1/db.sqlite3"
    assert c.encode_command(c.Database(path=path)) == b"\x01\x40" + path.encode("utf-8")
    assert c.Database(path="") == c.Database()
    assert c.encode_command(c.Database()) == b"\x01\x40"
    with pytest.raises(RemoteProtocolError, match="UTF-8") as err:
        c.decode_command(b"\x01\x40abc\xff")
    assert (err.value.field, err.value.offset) == ("path", 5)


@pytest.mark.parametrize(("data", "field", "offset"), [
    (b"", "header", 0),
    (b"\x01", "header", 0),
    (b"\x0d\x40", "command_id", 0),
    (b"\xff\x7f", "command_id", 0),
    (b"\x03\x38\x00\x00\x00\x00", "header", 0),  # a data packet
    (b"\x0a\x40\x00", "end of packet", 2),  # trailing byte after a bare command
    (b"\x06\x40\x01\x02", "core", 4),
    (b"\x07\x40\x01\x02\x03", "packet.header", 4),
    (b"\x07\x40\x01\x02\x01\x40", "packet.flags", 5),  # a command inside it
    (b"\x07\x40\x01\x02\x02\x08\x00\x00\x00\x00", "packet.count", 4),
])
def test_bad_bytes_name_field_and_offset(data, field, offset):
    with pytest.raises(RemoteProtocolError) as err:
        c.decode_command(data)
    assert (err.value.field, err.value.offset) == (field, offset)
    assert repr(field) in str(err.value) and f"offset {offset}" in str(err.value)


@pytest.mark.parametrize("make", [
    lambda: c.SpinnakerRequestBuffers(x=256, y=0, p=0, region_id=0, sequence_no=0,
                                      space_available=0),
    lambda: c.SpinnakerRequestBuffers(x=0, y=0, p=32, region_id=0, sequence_no=0,
                                      space_available=0),
    lambda: c.SpinnakerRequestBuffers(x=0, y=0, p=0, region_id=16, sequence_no=0,
                                      space_available=0),
    lambda: c.HostDataReadAck(sequence_no=-1),
    lambda: c.HostDataRead(sequence_no=0, acks=(c.ReadAck(channel=0, region_id=0,
                                                          space_read=0),) * 8),
    lambda: c.ReadRequest(channel=0, region_id=0, start_address=1 << 32, space_to_be_read=0),
    lambda: c.HostSendSequencedData(region_id=0, sequence_no=0, packet=b"\x01\x40"),
    lambda: c.HostSendSequencedData(region_id=0, sequence_no=0, packet=b"\x00"),
])
def test_out_of_range_records_are_local_errors(make):
    with pytest.raises(LocalProtocolError):
        make()


def test_is_command_packet_mask():
    assert [c.is_command_packet(bytes([0, f])) for f in (0x40, 0x7F, 0x00, 0x80, 0xC0, 0x38)] == [
        True, True, False, False, False, False]
    assert not c.is_command_packet(b"\x40")
