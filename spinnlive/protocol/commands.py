"""EIEIO command packets: typed records <-> bytes, sans-IO.

Theory of operation
-------------------
A command packet is one little-endian u16 ``0x4000 | id`` (bits 15-14 = ``01``: P = 0 with F = 1,
which no data packet may carry) followed by a payload whose layout depends on the id alone. No
command has a length field, so every payload is either fixed-size or runs to the end of the
datagram (DATABASE's path, HOST_SEND_SEQUENCED_DATA's inner data packet, the repeated request
blocks of SPINNAKER_REQUEST_READ_DATA / HOST_DATA_READ whose count sits in the payload).

Each of the twelve ids is a frozen, slotted, keyword-only dataclass that validates its fields on
construction (out of range -> :class:`LocalProtocolError`). :func:`encode_command` and
:func:`decode_command` are the only two ways between records and bytes; the fixed parts of the
payloads are declared once, as module-level ``construct`` layouts whose field names are the
records' field names.

Rules
-----
* :func:`decode_command` reads untrusted bytes: it raises only :class:`RemoteProtocolError`, whose
  message names the field and the byte offset. Unknown ids, truncated payloads, trailing bytes
  after a fixed-size payload, and data packets given by mistake are all errors.
* Where spinnman's codec disagrees with the chip, this module
  follows the chip, and says so where it matters:

  - DATABASE: the path is UTF-8 bytes to the end of the datagram; spinnman's parser rejects it.
  - SPINNAKER_REQUEST_READ_DATA: the chip id is the chip's u16 ``(x << 8) | y`` little-endian, so
    the bytes are ``y, x`` (spinnman decodes y, x but encodes x, y), and every request carries its
    own start address (spinnman's encoder repeats request 0's). The y-first order is inferred
    from the chip-id convention and SpinnakerRequestBuffers, which spinnman codes y-first both
    ways; it was not checked against the C source.
  - HOST_SEND_SEQUENCED_DATA: the inner data packet starts after region and sequence, at byte 4
    (spinnman's parser reads it from byte 2).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import ClassVar, Union

from construct import BitsInteger, BitStruct, Int8ul, Int32ul, Padding, Struct

from spinnlive.errors import LocalProtocolError, RemoteProtocolError
from spinnlive.protocol._wire import (
    build_blocks,
    build_checked,
    parse_blocks,
    parse_untrusted,
    record_values,
)
from spinnlive.protocol.eieio import decode_data_packet

__all__ = [
    "NOTIFY_PORT",
    "Command", "Database", "EIEIOCommandId", "EventPadding", "EventStop", "HostDataRead",
    "HostDataReadAck", "HostSendSequencedData", "ReadAck", "ReadRequest", "SpinnakerRequestBuffers",
    "SpinnakerRequestReadData", "StartResumeNotification", "StartSendingRequests",
    "StopPauseNotification", "StopSendingRequests", "decode_command", "encode_command",
    "is_command_packet",
]

#: A UDP datagram carries at most 65507 bytes; the 2-byte header leaves this for a payload.
#: The toolchain's default notification port (``[Database] notify_port``).
NOTIFY_PORT = 19999
MAX_PAYLOAD = 65507 - 2


class EIEIOCommandId(IntEnum):
    """The command ids of ``spinnman.constants.EIEIO_COMMAND_IDS`` (the low 14 header bits)."""

    DATABASE = 1
    EVENT_PADDING = 2
    EVENT_STOP = 3
    STOP_SENDING_REQUESTS = 4
    START_SENDING_REQUESTS = 5
    SPINNAKER_REQUEST_BUFFERS = 6
    HOST_SEND_SEQUENCED_DATA = 7
    SPINNAKER_REQUEST_READ_DATA = 8
    HOST_DATA_READ = 9
    STOP_PAUSE_NOTIFICATION = 10
    START_RESUME_NOTIFICATION = 11
    HOST_DATA_READ_ACK = 12


def is_command_packet(data: bytes) -> bool:
    """True when the u16 header has bits 15-14 = ``01`` (spinnman's receivers use the same test)."""
    return len(data) >= 2 and (data[1] & 0xC0) == 0x40


def _check(record: object, **bits: int) -> None:
    """Refuse any named field whose value does not fit its number of bits."""
    for name, width in bits.items():
        value = len(getattr(record, name)) if name in ("requests", "acks") else getattr(record, name)
        if not 0 <= value < (1 << width):
            raise LocalProtocolError(f"{type(record).__name__}.{name}={value!r} does not fit in "
                                     f"{width} bits")


# ---- payload layouts (after the 2-byte header), all little-endian -----------------------------

# SPINNAKER_REQUEST_BUFFERS: y, x, p<<3, pad, region (low 4 bits), sequence, space_available u32
_REQUEST_BUFFERS = Struct(
    "y" / Int8ul,
    "x" / Int8ul,
    "core" / BitStruct("p" / BitsInteger(5), Padding(3)),
    Padding(1),
    "region" / BitStruct(Padding(4), "region_id" / BitsInteger(4)),
    "sequence_no" / Int8ul,
    "space_available" / Int32ul,
)
# HOST_SEND_SEQUENCED_DATA: region, sequence, then a whole EIEIO data packet to the end
_SEQUENCED = Struct("region_id" / Int8ul, "sequence_no" / Int8ul)
# SPINNAKER_REQUEST_READ_DATA: y, x, (p<<3)|n_requests, sequence, then n request blocks
_READ_DATA = Struct(
    "y" / Int8ul,
    "x" / Int8ul,
    "core" / BitStruct("p" / BitsInteger(5), "n_requests" / BitsInteger(3)),
    "sequence_no" / Int8ul,
)
_READ_REQUEST_FIRST = Struct(
    "channel" / Int8ul, "region_id" / Int8ul, "start_address" / Int32ul,
    "space_to_be_read" / Int32ul,
)
_READ_REQUEST_NEXT = Struct(Padding(2), *_READ_REQUEST_FIRST.subcons)
# HOST_DATA_READ: n_requests (low 3 bits), sequence, then n ack blocks of pad2, channel, region, u32
_DATA_READ = Struct(
    "count" / BitStruct(Padding(5), "n_requests" / BitsInteger(3)), "sequence_no" / Int8ul
)
_READ_ACK = Struct(
    Padding(2), "channel" / Int8ul, "region_id" / Int8ul, "space_read" / Int32ul
)
# HOST_DATA_READ_ACK: sequence
_DATA_READ_ACK = Struct("sequence_no" / Int8ul)


# ---- records ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Database:
    """DATABASE: "the database is ready at ``path``" (toolchain) or "read it" (``path=None``).

    ``path=""`` is normalised to ``None``: both are the bare 2-byte packet, which the reference
    listener reads as "no database".
    """

    command_id: ClassVar[EIEIOCommandId] = EIEIOCommandId.DATABASE
    path: str | None = None

    def __post_init__(self) -> None:
        if self.path == "":
            object.__setattr__(self, "path", None)
        if self.path is not None and len(self.path.encode("utf-8")) > MAX_PAYLOAD:
            raise LocalProtocolError("database path does not fit in one UDP datagram")


@dataclass(frozen=True, slots=True, kw_only=True)
class EventPadding:
    """EVENT_PADDING: fills buffered-input space; the chip skips it."""

    command_id: ClassVar[EIEIOCommandId] = EIEIOCommandId.EVENT_PADDING


@dataclass(frozen=True, slots=True, kw_only=True)
class EventStop:
    """EVENT_STOP: end of the buffered input."""

    command_id: ClassVar[EIEIOCommandId] = EIEIOCommandId.EVENT_STOP


@dataclass(frozen=True, slots=True, kw_only=True)
class StopSendingRequests:
    """STOP_SENDING_REQUESTS: host asks an injector core to stop requesting buffers."""

    command_id: ClassVar[EIEIOCommandId] = EIEIOCommandId.STOP_SENDING_REQUESTS


@dataclass(frozen=True, slots=True, kw_only=True)
class StartSendingRequests:
    """START_SENDING_REQUESTS: host lets an injector core request buffers again."""

    command_id: ClassVar[EIEIOCommandId] = EIEIOCommandId.START_SENDING_REQUESTS


@dataclass(frozen=True, slots=True, kw_only=True)
class StopPauseNotification:
    """STOP_PAUSE_NOTIFICATION: the simulation paused or stopped (notification channel)."""

    command_id: ClassVar[EIEIOCommandId] = EIEIOCommandId.STOP_PAUSE_NOTIFICATION


@dataclass(frozen=True, slots=True, kw_only=True)
class StartResumeNotification:
    """START_RESUME_NOTIFICATION: the simulation started or resumed (notification channel)."""

    command_id: ClassVar[EIEIOCommandId] = EIEIOCommandId.START_RESUME_NOTIFICATION


@dataclass(frozen=True, slots=True, kw_only=True)
class SpinnakerRequestBuffers:
    """SPINNAKER_REQUEST_BUFFERS: core (x, y, p) has ``space_available`` bytes for region data."""

    command_id: ClassVar[EIEIOCommandId] = EIEIOCommandId.SPINNAKER_REQUEST_BUFFERS
    x: int
    y: int
    p: int
    region_id: int
    sequence_no: int
    space_available: int

    def __post_init__(self) -> None:
        _check(self, x=8, y=8, p=5, region_id=4, sequence_no=8, space_available=32)


@dataclass(frozen=True, slots=True, kw_only=True)
class HostSendSequencedData:
    """HOST_SEND_SEQUENCED_DATA: ``packet`` is one complete EIEIO *data* packet's bytes."""

    command_id: ClassVar[EIEIOCommandId] = EIEIOCommandId.HOST_SEND_SEQUENCED_DATA
    region_id: int
    sequence_no: int
    packet: bytes

    def __post_init__(self) -> None:
        _check(self, region_id=8, sequence_no=8)
        try:
            decode_data_packet(self.packet)
        except RemoteProtocolError as exc:
            raise LocalProtocolError(
                f"HOST_SEND_SEQUENCED_DATA must carry one EIEIO data packet: {exc}") from None
        if len(self.packet) > MAX_PAYLOAD - _SEQUENCED.sizeof():
            raise LocalProtocolError("sequenced data packet does not fit in one UDP datagram")


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadRequest:
    """One block of SPINNAKER_REQUEST_READ_DATA: ``space_to_be_read`` bytes at ``start_address``."""

    channel: int
    region_id: int
    start_address: int
    space_to_be_read: int

    def __post_init__(self) -> None:
        _check(self, channel=8, region_id=8, start_address=32, space_to_be_read=32)


@dataclass(frozen=True, slots=True, kw_only=True)
class SpinnakerRequestReadData:
    """SPINNAKER_REQUEST_READ_DATA: core (x, y, p) has up to 7 output regions ready to read."""

    command_id: ClassVar[EIEIOCommandId] = EIEIOCommandId.SPINNAKER_REQUEST_READ_DATA
    x: int
    y: int
    p: int
    sequence_no: int
    requests: tuple[ReadRequest, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "requests", tuple(self.requests))
        _check(self, x=8, y=8, p=5, sequence_no=8, requests=3)


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadAck:
    """One block of HOST_DATA_READ: ``space_read`` bytes of (channel, region) were consumed."""

    channel: int
    region_id: int
    space_read: int

    def __post_init__(self) -> None:
        _check(self, channel=8, region_id=8, space_read=32)


@dataclass(frozen=True, slots=True, kw_only=True)
class HostDataRead:
    """HOST_DATA_READ: the host read up to 7 output regions, acknowledged block by block."""

    command_id: ClassVar[EIEIOCommandId] = EIEIOCommandId.HOST_DATA_READ
    sequence_no: int
    acks: tuple[ReadAck, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "acks", tuple(self.acks))
        _check(self, sequence_no=8, acks=3)


@dataclass(frozen=True, slots=True, kw_only=True)
class HostDataReadAck:
    """HOST_DATA_READ_ACK: the host saw read request ``sequence_no``."""

    command_id: ClassVar[EIEIOCommandId] = EIEIOCommandId.HOST_DATA_READ_ACK
    sequence_no: int

    def __post_init__(self) -> None:
        _check(self, sequence_no=8)


Command = Union[
    Database, EventPadding, EventStop, StopSendingRequests, StartSendingRequests,
    SpinnakerRequestBuffers, HostSendSequencedData, SpinnakerRequestReadData, HostDataRead,
    StopPauseNotification, StartResumeNotification, HostDataReadAck,
]

#: the commands that are their id alone
_Bare = (EventPadding | EventStop | StopSendingRequests | StartSendingRequests
         | StopPauseNotification | StartResumeNotification)
_BARE: dict[EIEIOCommandId, type[_Bare]] = {
    c.command_id: c
    for c in (EventPadding, EventStop, StopSendingRequests, StartSendingRequests,
              StopPauseNotification, StartResumeNotification)
}


# ---- encoding -----------------------------------------------------------------------------


def encode_command(cmd: Command) -> bytes:
    """The datagram for ``cmd``: the u16 header ``0x4000 | id`` then the payload."""
    cid = cmd.command_id
    header = (0x4000 | cid).to_bytes(2, "little")
    if isinstance(cmd, Database):
        return header + (cmd.path.encode("utf-8") if cmd.path is not None else b"")
    if isinstance(cmd, SpinnakerRequestBuffers):
        values = {**record_values(cmd), "core": {"p": cmd.p},
                  "region": {"region_id": cmd.region_id}}
        return header + build_checked(_REQUEST_BUFFERS, values, cid.name)
    if isinstance(cmd, HostSendSequencedData):
        fixed = build_checked(_SEQUENCED, record_values(cmd), cid.name)
        return header + fixed + bytes(cmd.packet)
    if isinstance(cmd, SpinnakerRequestReadData):
        values = {**record_values(cmd), "core": {"p": cmd.p, "n_requests": len(cmd.requests)}}
        fixed = build_checked(_READ_DATA, values, cid.name)
        return header + fixed + build_blocks(_READ_REQUEST_FIRST, _READ_REQUEST_NEXT,
                                             cmd.requests, cid.name)
    if isinstance(cmd, HostDataRead):
        fixed = build_checked(_DATA_READ, {
            "count": {"n_requests": len(cmd.acks)}, "sequence_no": cmd.sequence_no}, cid.name)
        return header + fixed + build_blocks(_READ_ACK, _READ_ACK, cmd.acks, cid.name)
    if isinstance(cmd, HostDataReadAck):
        return header + build_checked(_DATA_READ_ACK, record_values(cmd), cid.name)
    if cid in _BARE and isinstance(cmd, _BARE[cid]):
        return header
    raise LocalProtocolError(f"not an EIEIO command record: {cmd!r}")


# ---- decoding (untrusted bytes) -----------------------------------------------------------


def _no_trailing(data: bytes, end: int, what: str) -> None:
    if len(data) != end:
        raise RemoteProtocolError(
            f"{what}: {len(data) - end} unexpected byte(s) after the payload",
            field="end of packet", offset=end,
        )


def decode_command(data: bytes) -> Command:
    """Parse one command datagram (layout in the module docstring and section 2.2)."""
    data = bytes(data)
    if len(data) < 2:
        raise RemoteProtocolError(
            f"command packet truncated: {len(data)} byte(s), the header needs 2",
            field="header", offset=0,
        )
    if not is_command_packet(data):
        raise RemoteProtocolError(
            f"not a command packet: flags byte 0x{data[1]:02x} lacks P=0,F=1 (a data packet?)",
            field="header", offset=0,
        )
    if len(data) > 2 + MAX_PAYLOAD:
        raise RemoteProtocolError(f"{len(data)} bytes cannot be one UDP datagram",
                                  field="end of packet", offset=2 + MAX_PAYLOAD)
    raw_id = int.from_bytes(data[:2], "little") & 0x3FFF
    try:
        cid = EIEIOCommandId(raw_id)
    except ValueError:
        raise RemoteProtocolError(
            f"unknown EIEIO command id {raw_id}", field="command_id", offset=0
        ) from None
    what = cid.name
    if cid is EIEIOCommandId.DATABASE:
        try:
            path = data[2:].decode("utf-8") if len(data) > 2 else None
        except UnicodeDecodeError as exc:
            raise RemoteProtocolError(
                f"DATABASE path is not UTF-8: {exc.reason}", field="path", offset=2 + exc.start
            ) from None
        return Database(path=path)
    if cid in _BARE:
        _no_trailing(data, 2, what)
        return _BARE[cid]()
    if cid is EIEIOCommandId.SPINNAKER_REQUEST_BUFFERS:
        c = parse_untrusted(_REQUEST_BUFFERS, data, 2, what)
        _no_trailing(data, 2 + _REQUEST_BUFFERS.sizeof(), what)
        return SpinnakerRequestBuffers(
            x=c.x, y=c.y, p=c.core.p, region_id=c.region.region_id, sequence_no=c.sequence_no,
            space_available=c.space_available,
        )
    if cid is EIEIOCommandId.HOST_SEND_SEQUENCED_DATA:
        c = parse_untrusted(_SEQUENCED, data, 2, what)
        inner = data[4:]
        try:
            decode_data_packet(inner)
        except RemoteProtocolError as exc:
            raise RemoteProtocolError(
                f"{what} does not carry one EIEIO data packet: {exc}",
                field=f"packet.{exc.field}", offset=4 + (exc.offset or 0),
            ) from None
        return HostSendSequencedData(region_id=c.region_id, sequence_no=c.sequence_no, packet=inner)
    if cid is EIEIOCommandId.SPINNAKER_REQUEST_READ_DATA:
        c = parse_untrusted(_READ_DATA, data, 2, what)
        requests, end = parse_blocks(ReadRequest, _READ_REQUEST_FIRST, _READ_REQUEST_NEXT,
                                      c.core.n_requests, data, 2 + _READ_DATA.sizeof(),
                                      f"{what} request")
        _no_trailing(data, end, what)
        return SpinnakerRequestReadData(x=c.x, y=c.y, p=c.core.p, sequence_no=c.sequence_no,
                                        requests=requests)
    if cid is EIEIOCommandId.HOST_DATA_READ:
        c = parse_untrusted(_DATA_READ, data, 2, what)
        acks, end = parse_blocks(ReadAck, _READ_ACK, _READ_ACK, c.count.n_requests, data,
                                  2 + _DATA_READ.sizeof(), f"{what} ack")
        _no_trailing(data, end, what)
        return HostDataRead(sequence_no=c.sequence_no, acks=acks)
    # the only id left
    c = parse_untrusted(_DATA_READ_ACK, data, 2, what)
    _no_trailing(data, 2 + _DATA_READ_ACK.sizeof(), what)
    return HostDataReadAck(sequence_no=c.sequence_no)
