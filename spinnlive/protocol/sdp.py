"""SDP framing and the SCP subset the live clients use, sans-IO.

Theory of operation
-------------------
Every UDP datagram to or from SCAMP's port (17893) is 2 padding bytes, an 8-byte SDP header and
a body of at most 272 bytes. The header (little-endian, one byte each unless noted)::

    flags | tag | dest port<<5 | dest cpu | src port<<5 | src cpu | dest y | dest x | src y | src x

SDP port 0 of a monitor core carries SCP: ``command u16, sequence u16, arg1..arg3 u32`` then data
for a request; ``rc u16, sequence u16`` then a payload for a reply. The live clients use exactly
two SCP messages: IP-tag set (``CMD_IPTAG`` = 26, op 1, sent by ``LiveEventConnection`` with
``use_sender`` so the tag points back at its receive socket) and SCAMP's 18-byte OK reply to it,
whose arg1 is the tag (``cmd_iptag`` in scamp-cmd.c: ``msg->arg1 = tag; return 4``).
Everything else on 17893 is EIEIO injection: SDP port 1 of the injector core, header flags 0x07.

Rules: decoders take whole datagrams (padding included) from the network and raise only
:class:`RemoteProtocolError` naming the field and the byte offset in the datagram. The padding
bytes are skipped, not checked, as SCAMP does.
"""

from __future__ import annotations

import functools
import ipaddress
import struct
from dataclasses import dataclass
from enum import IntEnum

from construct import BitsInteger, BitStruct, Int8ul, Int16ul, Int32ul, Struct

from spinnlive.errors import LocalProtocolError, RemoteProtocolError
from spinnlive.protocol._wire import build_checked, parse_untrusted

__all__ = [
    "SCAMP_PORT",
    "CMD_IPTAG", "EVENTS_HEAD", "IPTAG_SET", "RC_OK", "SDP_BODY_MAX", "UDP_PADDING",
    "IPTagSetRequest", "SCPReply", "SCPRequest", "SDPFlag", "SDPHeader", "datagram_events",
    "decode_iptag_set", "decode_scp_reply",
    "decode_scp_request", "encode_iptag_set", "encode_scp_reply", "injection_datagram",
    "is_iptag_set_ok", "iptag_set_reply", "unwrap_sdp", "wrap_sdp",
]

#: SCAMP's UDP port on every board: IP-tag requests and SDP-wrapped injection go there.
SCAMP_PORT = 17893
UDP_PADDING = b"\x00\x00"
SDP_BODY_MAX = 272
CMD_IPTAG = 26
IPTAG_SET = 1
RC_OK = 0x80
#: The SDP port of an injector core that turns EIEIO into multicast (INPUT_BUFFERING_SDP_PORT).
INJECTION_SDP_PORT = 1
#: Where a host request comes "from" (spinnman's update_for_send): port 7, cpu 31, tag 0xFF.
HOST_PORT, HOST_CPU, HOST_TAG = 7, 31, 0xFF


class SDPFlag(IntEnum):
    REPLY_NOT_EXPECTED = 0x07
    REPLY_EXPECTED = 0x87


_SDP = Struct(
    "flags" / Int8ul,
    "tag" / Int8ul,
    "dest" / BitStruct("port" / BitsInteger(3), "cpu" / BitsInteger(5)),
    "src" / BitStruct("port" / BitsInteger(3), "cpu" / BitsInteger(5)),
    "dest_y" / Int8ul, "dest_x" / Int8ul, "src_y" / Int8ul, "src_x" / Int8ul,
)
_SCP_REQUEST = Struct("command" / Int16ul, "sequence" / Int16ul)
_SCP_REPLY = Struct("rc" / Int16ul, "sequence" / Int16ul)
_ARGS = Struct("arg1" / Int32ul, "arg2" / Int32ul, "arg3" / Int32ul)
_HDR = len(UDP_PADDING) + _SDP.sizeof()  # offset of the SDP body in a datagram
#: The same 8 bytes as ``_SDP`` for the receive hot path: construct's BitStruct costs tens of
#: microseconds per header, which capped a board endpoint at ~20k datagrams/s. ``_SDP`` stays
#: the layout's definition (used to build); a test checks both read every header alike.
_SDP_FAST = struct.Struct("<8B")


@dataclass(frozen=True, slots=True, kw_only=True)
class SDPHeader:
    flags: int
    tag: int
    dest_port: int
    dest_cpu: int
    src_port: int
    src_cpu: int
    dest_x: int
    dest_y: int
    src_x: int
    src_y: int

    def __post_init__(self) -> None:
        for name, top in (("flags", 255), ("tag", 255), ("dest_port", 7), ("dest_cpu", 31),
                          ("src_port", 7), ("src_cpu", 31), ("dest_x", 255), ("dest_y", 255),
                          ("src_x", 255), ("src_y", 255)):
            value = getattr(self, name)
            if not 0 <= value <= top:
                raise LocalProtocolError(f"SDP {name}={value} outside 0..{top}")

    def to_bytes(self) -> bytes:
        return build_checked(_SDP, {
            "flags": self.flags, "tag": self.tag,
            "dest": {"port": self.dest_port, "cpu": self.dest_cpu},
            "src": {"port": self.src_port, "cpu": self.src_cpu},
            "dest_y": self.dest_y, "dest_x": self.dest_x,
            "src_y": self.src_y, "src_x": self.src_x,
        }, "SDP header")


def wrap_sdp(header: SDPHeader, body: bytes) -> bytes:
    """The UDP datagram: padding, header, body (at most 272 bytes, as the chip accepts)."""
    if len(body) > SDP_BODY_MAX:
        raise LocalProtocolError(f"SDP body of {len(body)} bytes exceeds {SDP_BODY_MAX}")
    return UDP_PADDING + _header_bytes(header) + bytes(body)


@functools.lru_cache(maxsize=4096)
def _header_bytes(header: SDPHeader) -> bytes:
    """A header's bytes, built once per header value: construct's build costs ~30 us, which sat
    on the send path of every injected spike."""
    return header.to_bytes()


def unwrap_sdp(datagram: bytes) -> tuple[SDPHeader, bytes]:
    """Split an untrusted datagram into its SDP header and body."""
    datagram = bytes(datagram)
    if len(datagram) < len(UDP_PADDING):
        raise RemoteProtocolError("SDP datagram shorter than its 2 padding bytes",
                                  field="padding", offset=0)
    if len(datagram) < _HDR:
        # construct names the first field that is cut off, with its offset
        parse_untrusted(_SDP, datagram, len(UDP_PADDING), "SDP header")
    if len(datagram) - _HDR > SDP_BODY_MAX:
        raise RemoteProtocolError(f"SDP body of {len(datagram) - _HDR} bytes exceeds "
                                  f"{SDP_BODY_MAX}", field="body", offset=_HDR + SDP_BODY_MAX)
    flags, tag, dest, src, dest_y, dest_x, src_y, src_x = _SDP_FAST.unpack_from(datagram, 2)
    header = SDPHeader(flags=flags, tag=tag, dest_port=dest >> 5, dest_cpu=dest & 31,
                       src_port=src >> 5, src_cpu=src & 31, dest_x=dest_x, dest_y=dest_y,
                       src_x=src_x, src_y=src_y)
    return header, datagram[_HDR:]


#: How many first bytes of a datagram :func:`datagram_events` needs.
EVENTS_HEAD = _HDR + 1


def datagram_events(head: bytes) -> tuple[SDPHeader | None, int]:
    """The SDP header (None for a bare packet) and the EIEIO event count of the first
    :data:`EVENTS_HEAD` bytes of a datagram spinnlive sent: SDP-wrapped EIEIO (injection into
    a board) or bare EIEIO (live output). What a sender counts when the kernel hands one of
    its datagrams back as refused; a head too short to say counts 0 events."""
    head = bytes(head)
    if len(head) > _HDR and head[:len(UDP_PADDING)] == UDP_PADDING:
        header, body = unwrap_sdp(head)
        return header, body[0]
    return None, head[0] if head else 0


def injection_datagram(x: int, y: int, p: int, eieio_bytes: bytes, port: int = 1) -> bytes:
    """What ``LiveEventConnection`` sends to board:17893 to inject into core (x, y, p)."""
    return wrap_sdp(_injection_header(x, y, p, port), eieio_bytes)


@functools.lru_cache(maxsize=4096)
def _injection_header(x: int, y: int, p: int, port: int) -> SDPHeader:
    return SDPHeader(flags=SDPFlag.REPLY_NOT_EXPECTED, tag=0, dest_port=port, dest_cpu=p,
                     src_port=0, src_cpu=0, dest_x=x, dest_y=y, src_x=0, src_y=0)


# ---- SCP ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class SCPRequest:
    """A request body: the three arguments are None where the datagram stops before them."""

    sdp: SDPHeader
    command: int
    sequence: int
    arg1: int | None
    arg2: int | None
    arg3: int | None
    data: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class SCPReply:
    sdp: SDPHeader
    rc: int
    sequence: int
    payload: bytes


def decode_scp_request(datagram: bytes) -> SCPRequest:
    header, _ = unwrap_sdp(datagram)
    c = parse_untrusted(_SCP_REQUEST, datagram, _HDR, "SCP request")
    offset = _HDR + _SCP_REQUEST.sizeof()
    args: list[int | None] = []
    for _ in range(3):
        if len(datagram) - offset >= 4:
            args.append(int.from_bytes(datagram[offset:offset + 4], "little"))
            offset += 4
        else:
            args.append(None)
    return SCPRequest(sdp=header, command=c.command, sequence=c.sequence, arg1=args[0],
                      arg2=args[1], arg3=args[2], data=bytes(datagram[offset:]))


def decode_scp_reply(datagram: bytes) -> SCPReply:
    header, _ = unwrap_sdp(datagram)
    c = parse_untrusted(_SCP_REPLY, datagram, _HDR, "SCP reply")
    return SCPReply(sdp=header, rc=c.rc, sequence=c.sequence,
                    payload=bytes(datagram[_HDR + _SCP_REPLY.sizeof():]))


def encode_scp_reply(request: SDPHeader, *, rc: int = RC_OK, sequence: int,
                     payload: bytes = b"") -> bytes:
    """SCAMP's reply to ``request``: addresses swapped, flags 0x07, tag 0xFF."""
    header = SDPHeader(flags=SDPFlag.REPLY_NOT_EXPECTED, tag=0xFF, dest_port=request.src_port,
                       dest_cpu=request.src_cpu, src_port=request.dest_port,
                       src_cpu=request.dest_cpu, dest_x=request.src_x, dest_y=request.src_y,
                       src_x=request.dest_x, src_y=request.dest_y)
    return wrap_sdp(header, build_checked(_SCP_REPLY, {"rc": rc, "sequence": sequence},
                                          "SCP reply") + bytes(payload))


@dataclass(frozen=True, slots=True, kw_only=True)
class IPTagSetRequest:
    """IP-tag set on the Ethernet chip (x, y): send tag ``tag``'s traffic to ip:port.

    With ``use_sender`` (what LiveEventConnection sends) SCAMP takes ip:port from the request's
    own UDP source instead, so ``ip``/``port`` are 0.
    """

    x: int
    y: int
    tag: int
    port: int = 0
    ip: str = "0.0.0.0"
    strip: bool = True
    use_sender: bool = True
    sequence: int = 0

    def __post_init__(self) -> None:
        for name, top in (("x", 255), ("y", 255), ("tag", 255), ("port", 0xFFFF),
                          ("sequence", 0xFFFF)):
            value = getattr(self, name)
            if not 0 <= value <= top:
                raise LocalProtocolError(f"IP-tag {name}={value} outside 0..{top}")
        try:
            ipaddress.IPv4Address(self.ip)
        except ValueError as exc:
            raise LocalProtocolError(f"IP-tag ip {self.ip!r} is not IPv4: {exc}") from None

    @property
    def arg1(self) -> int:
        return ((int(self.strip) << 28) | (int(self.use_sender) << 30) | (IPTAG_SET << 16)
                | self.tag)


def encode_iptag_set(req: IPTagSetRequest) -> bytes:
    """The 26-byte datagram spinnman's ``reprogram_tag_to_listener`` sends."""
    header = SDPHeader(flags=SDPFlag.REPLY_EXPECTED, tag=HOST_TAG, dest_port=0, dest_cpu=0,
                       src_port=HOST_PORT, src_cpu=HOST_CPU, dest_x=req.x, dest_y=req.y,
                       src_x=req.x, src_y=req.y)
    ip = int.from_bytes(ipaddress.IPv4Address(req.ip).packed, "little")
    body = (build_checked(_SCP_REQUEST, {"command": CMD_IPTAG, "sequence": req.sequence}, "SCP")
            + build_checked(_ARGS, {"arg1": req.arg1, "arg2": req.port, "arg3": ip}, "SCP"))
    return wrap_sdp(header, body)


def decode_iptag_set(datagram: bytes) -> IPTagSetRequest:
    """Parse an untrusted IP-tag set request (CMD_IPTAG with op 1, all three arguments)."""
    req = decode_scp_request(datagram)
    if req.command != CMD_IPTAG:
        raise RemoteProtocolError(f"SCP command {req.command} is not CMD_IPTAG ({CMD_IPTAG})",
                                  field="command", offset=_HDR)
    if req.arg1 is None or req.arg2 is None or req.arg3 is None:
        raise RemoteProtocolError("IP-tag set request lacks its three arguments",
                                  field="arg1" if req.arg1 is None else "arg2/arg3",
                                  offset=len(datagram))
    if (req.arg1 >> 16) & 0xFF != IPTAG_SET:
        raise RemoteProtocolError(f"IP-tag operation {(req.arg1 >> 16) & 0xFF} is not SET",
                                  field="arg1", offset=_HDR + 4)
    if req.arg2 > 0xFFFF:
        raise RemoteProtocolError(f"IP-tag port {req.arg2} exceeds 16 bits", field="arg2",
                                  offset=_HDR + 8)
    return IPTagSetRequest(
        x=req.sdp.dest_x, y=req.sdp.dest_y, tag=req.arg1 & 0xFF, port=req.arg2,
        ip=str(ipaddress.IPv4Address(req.arg3.to_bytes(4, "little"))),
        strip=bool(req.arg1 >> 28 & 1), use_sender=bool(req.arg1 >> 30 & 1),
        sequence=req.sequence,
    )


def is_iptag_set_ok(data: bytes) -> bool:
    """SCAMP's OK to an IP-tag set, tested as ``LiveEventConnection`` does: 18 bytes, SDP flags
    0x07 at [2] and destination 0xFF at [4] (the sequence is always 0, so order tells replies
    apart)."""
    return len(data) == 18 and data[2] == 0x07 and data[4] == 0xFF


def iptag_set_reply(request_datagram: bytes, *, rc: int = RC_OK) -> bytes:
    """SCAMP's 18-byte answer to an IP-tag set request datagram: rc, sequence, arg1 = tag."""
    req = decode_scp_request(request_datagram)
    tag = (req.arg1 or 0) & 0xFF
    return encode_scp_reply(req.sdp, rc=rc, sequence=req.sequence,
                            payload=tag.to_bytes(4, "little"))
