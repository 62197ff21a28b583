"""EIEIO data packets: numpy event arrays <-> bytes, sans-IO.

Theory of operation
-------------------
A data packet is ``count`` (u8), a flags byte ``P F D T type:2 tag:2``, an optional 16-bit key
prefix (P), an optional payload prefix as wide as a key (D), then ``count`` keys, each followed by
its payload for the payload types. There is no length field: the datagram length must equal
header + count x element size exactly, and this decoder insists on it (spinnman does not check).
``_HEADER`` below is the declarative ``construct`` layout; it is used to build headers and to
derive, once at import, a plan per flags byte (``_PLANS``). The hot path never runs construct: it
reads the count and flags bytes, looks the plan up, and slices the datagram into
``np.frombuffer`` views, so decoding costs the same few numpy calls whatever the event count.

Prefix meaning (why there is a ``semantics`` argument)
------------------------------------------------------
The chip and spinnman agree except for a LOWER-half prefix on 16-bit keys: the injector core
(reverse_iptag_multicast_source.c) makes ``(key << 16) | prefix``, spinnman's decoder makes
``key | prefix``. Packets are ultimately read by chips, so :attr:`PrefixSemantics.ON_CHIP` is the
default; :attr:`PrefixSemantics.SPINNMAN` reproduces the host reference, for talking to tools
that were written against spinnman's reading. UPPER prefixes give ``key | (prefix << 16)`` and a
payload prefix is OR'd into every payload in both. With D on a key-only type every event's payload
is the prefix itself (the live-output timestamp).

The encoder takes the *decoded* meaning (full keys and payloads) and derives the wire values, so
``decode(encode(x)) == x``; a key or payload that the chosen prefix cannot express, or that does
not fit the type's width, is a :class:`LocalProtocolError`.

Treat returned arrays as read-only: unprefixed 32-bit keys and payloads are views of the
datagram itself (no copy), the others are fresh arrays. Copy before writing.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from construct import (
    BitsInteger,
    BitStruct,
    Flag,
    If,
    IfThenElse,
    Int8ul,
    Int16ul,
    Int32ul,
    Struct,
    this,
)

from spinnlive.errors import LocalProtocolError, RemoteProtocolError
from spinnlive.protocol._wire import build_checked
from spinnlive.protocol.eieio_types import EIEIOType, PrefixSemantics, PrefixType

__all__ = [
    "DataPacket", "EIEIODataHeader", "EIEIOType", "PrefixSemantics", "PrefixType",
    "decode_data_packet", "decode_live_output", "encode_events", "is_full_packet",
    "EventPacker", "max_events",
]


#: Host sender budgets (LiveEventConnection), the no-prefix rows of spinnman's 256-byte table.
DEFAULT_MAX_EVENTS = {EIEIOType.KEY_16_BIT: 127, EIEIOType.KEY_PAYLOAD_16_BIT: 63,
                      EIEIOType.KEY_32_BIT: 63, EIEIOType.KEY_PAYLOAD_32_BIT: 31}
#: An SDP message carries at most this many bytes after its header (MAX_PACKET_SIZE on chip).
SDP_BODY_MAX = 272

# count, flags, [prefix u16], [payload prefix u16|u32] -- all little-endian
_HEADER = Struct(
    "count" / Int8ul,
    "flags" / BitStruct(
        "p" / Flag, "f" / Flag, "d" / Flag, "t" / Flag,
        "type" / BitsInteger(2), "tag" / BitsInteger(2),
    ),
    "prefix" / If(this.flags.p, Int16ul),
    "payload_prefix" / If(this.flags.d, IfThenElse(this.flags.type >= 2, Int32ul, Int16ul)),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class EIEIODataHeader:
    """Everything before the events. ``prefix``/``payload_prefix`` are None when absent."""

    eieio_type: EIEIOType
    count: int = 0
    prefix: int | None = None
    prefix_type: PrefixType = PrefixType.LOWER_HALF_WORD
    payload_prefix: int | None = None
    is_time: bool = False
    tag: int = 0

    def __post_init__(self) -> None:
        if self.prefix is None and self.prefix_type is not PrefixType.LOWER_HALF_WORD:
            # P=0 with F=1 is the command-packet marker, so F can only be set with a prefix.
            raise LocalProtocolError("an UPPER_HALF_WORD prefix type needs a prefix")
        limits = (("count", self.count, 0xFF), ("tag", self.tag, 3),
                  ("prefix", self.prefix, 0xFFFF),
                  ("payload_prefix", self.payload_prefix, (1 << 8 * self.eieio_type.key_bytes) - 1))
        for name, value, top in limits:
            if value is not None and not 0 <= value <= top:
                raise LocalProtocolError(f"{name}={value} outside 0..{top} for {self.eieio_type.name}")

    @property
    def size(self) -> int:
        """Header bytes: 2, +2 with a prefix, +key width with a payload prefix."""
        return (2 + (2 if self.prefix is not None else 0)
                + (self.eieio_type.key_bytes if self.payload_prefix is not None else 0))

    def to_bytes(self) -> bytes:
        return build_checked(_HEADER, {
            "count": self.count,
            "flags": {"p": self.prefix is not None, "f": bool(self.prefix_type), "t": self.is_time,
                      "d": self.payload_prefix is not None, "type": int(self.eieio_type),
                      "tag": self.tag},
            "prefix": self.prefix, "payload_prefix": self.payload_prefix,
        }, "EIEIO data header")


@functools.lru_cache(maxsize=1024)
def _fixed_header(header: EIEIODataHeader) -> bytes:
    """Flags and prefixes of a header (the count byte varies per packet), built once per
    header: construct's build costs ~20 us, which sat on the send path of every spike."""
    return header.to_bytes()[1:]


def max_events(header: EIEIODataHeader) -> int:
    """Most events one packet with this header may carry: u8 count and the 272-byte SDP body."""
    return min(0xFF, (SDP_BODY_MAX - header.size) // header.eieio_type.element_bytes)


# ---- the per-flags-byte plan table, derived from _HEADER once ---------------------------------
# plan = (type, has_payload, has_prefix, prefix_upper, pp_offset or 0, header_size, element_size,
#         key dtype, is 32-bit); None for the command marker P=0, F=1.
_Plan = tuple[EIEIOType, bool, bool, bool, int, int, int, np.dtype, bool]


def _make_plan(flags: int) -> _Plan | None:
    f = _HEADER.subcons[1].parse(bytes([flags]))
    if not f.p and f.f:
        return None  # command packet
    etype = EIEIOType(f.type)
    pp_offset = (4 if f.p else 2) if f.d else 0
    size = 2 + (2 if f.p else 0) + (etype.key_bytes if f.d else 0)
    wide = etype.key_bytes == 4
    dtype = np.dtype("<u4" if wide else "<u2")
    return (etype, etype.has_payload, bool(f.p), bool(f.f), pp_offset, size, etype.element_bytes,
            dtype, wide)


_PLANS = tuple(_make_plan(flags) for flags in range(256))
_U32 = np.dtype("<u4")
_EMPTY = np.zeros(0, dtype=np.uint32)
_EMPTY.flags.writeable = False
_ON_CHIP = PrefixSemantics.ON_CHIP


def _fail(message: str, field: str, offset: int) -> RemoteProtocolError:
    return RemoteProtocolError(message, field=field, offset=offset)


# Layout read here (section 1.1/1.2): [count u8][flags u8][prefix u16 if P][payload prefix
# u16|u32 if D][count x (key [, payload])], little-endian, nothing after the last event.
#: (plan, count, prefix, payload prefix, keys, payloads or None), what ``_decode_raw`` returns
_Raw = tuple[_Plan, int, int | None, int | None, np.ndarray, np.ndarray | None]


def _decode_raw(data: bytes, semantics: PrefixSemantics) -> _Raw:
    """(plan, count, prefix, payload_prefix, keys, payloads|None) of one untrusted datagram."""
    n = len(data)
    if n < 2:
        raise _fail(f"EIEIO packet of {n} byte(s) has no 2-byte header", "header", 0)
    plan = _PLANS[data[1]]
    if plan is None:
        raise _fail(f"flags 0x{data[1]:02x} mark a command packet (P=0, F=1), not data", "flags", 1)
    _, has_payload, has_prefix, upper, pp_offset, size, esize, dtype, wide = plan
    if n < size:
        field = "prefix" if has_prefix and n < 4 else "payload_prefix"
        raise _fail(f"{n}-byte packet ends inside its {size}-byte header", field,
                    2 if field == "prefix" else pp_offset)
    count = data[0]
    if n != size + count * esize:
        raise _fail(f"count {count} needs {size + count * esize} bytes but the datagram has {n}",
                    "count", 0)
    pprefix = (int.from_bytes(data[pp_offset:pp_offset + (4 if wide else 2)], "little")
               if pp_offset else None)
    if has_payload:
        pairs = np.frombuffer(data, dtype, 2 * count, size).reshape(count, 2)
        keys, payloads = pairs[:, 0], pairs[:, 1]
        if not wide:
            keys, payloads = keys.astype(np.uint32), payloads.astype(np.uint32)
        if pprefix:
            payloads = payloads | np.uint32(pprefix)
    else:
        keys = np.frombuffer(data, dtype, count, size)
        if not wide:
            keys = keys.astype(np.uint32)
        payloads = None
    prefix = None
    if has_prefix:
        prefix = data[2] | (data[3] << 8)
        if upper:
            keys = keys | np.uint32(prefix << 16)
        elif not wide and semantics is _ON_CHIP:
            keys = (keys << np.uint32(16)) | np.uint32(prefix)
        else:
            keys = keys | np.uint32(prefix)
    return plan, count, prefix, pprefix, keys, payloads


@dataclass(frozen=True, slots=True, eq=False)
class DataPacket:
    """One decoded data packet: the events as ``uint32`` arrays, its header on demand.

    The header record is built only when asked for (``header``), because building and
    validating it costs more than decoding the events themselves.
    """

    keys: np.ndarray
    _payloads: np.ndarray | None
    _flags: int
    _prefix: int | None
    _payload_prefix: int | None

    @property
    def header(self) -> EIEIODataHeader:
        f = self._flags
        return EIEIODataHeader(
            eieio_type=EIEIOType((f >> 2) & 3), count=len(self.keys), prefix=self._prefix,
            prefix_type=PrefixType((f >> 6) & 1), payload_prefix=self._payload_prefix,
            is_time=bool(f & 0x10), tag=f & 3,
        )

    @property
    def payloads(self) -> np.ndarray | None:
        """Per-event payloads after the payload prefix; with D on a key-only type, the prefix for
        every event; None for a key-only type without D."""
        if self._payloads is None and self._payload_prefix is not None:
            return np.full(len(self.keys), self._payload_prefix, dtype=np.uint32)
        return self._payloads

    @property
    def timestamp(self) -> int | None:
        """The packet-level time: D and T on a key-only type (the live-output default)."""
        return self._payload_prefix if (self._flags & 0x14) == 0x10 else None

    @property
    def is_time(self) -> bool:
        """T: the payloads (or the payload prefix) are times."""
        return bool(self._flags & 0x10)

    @property
    def has_payload_type(self) -> bool:
        """The type carries a payload per event (KEY_PAYLOAD_16/32_BIT)."""
        return bool(self._flags & 0x04)

    @property
    def has_key_prefix(self) -> bool:
        """P: the keys carry a key prefix (the injector core then does not OR its base in)."""
        return self._flags >= 0x80

    @property
    def stamp(self) -> int | None:
        """The tick an injector core reads from a timed packet: with T on a payload type or
        with D, the payload prefix (0 without D); None for an untimed packet."""
        f = self._flags
        return (self._payload_prefix or 0) if f & 0x10 and f & 0x24 else None


#: Events in a full packet by type: the LPG's 256-byte event area (live_packet_gather.c).
_FULL_PACKET = (128, 64, 64, 32)


def is_full_packet(data: bytes) -> bool:
    """True when a data packet holds as many events as its type's full packet; a sender that
    fills packets before flushing (the LPG) sends a shorter one only at the end of a tick."""
    return data[0] >= _FULL_PACKET[(data[1] >> 2) & 3]


def decode_data_packet(
    data: bytes, *, semantics: PrefixSemantics = PrefixSemantics.ON_CHIP
) -> DataPacket:
    """Decode one untrusted datagram; only :class:`RemoteProtocolError` escapes."""
    _, _, prefix, pprefix, keys, payloads = _decode_raw(data, semantics)
    return DataPacket(keys, payloads, data[1], prefix, pprefix)


def _is_live_default(data: bytes) -> bool:
    """Flags 0x38 (KEY_32, D + T, no key prefix) and a length that matches the count."""
    n = len(data)
    return n >= 6 and data[1] == 0x38 and n == 6 + 4 * data[0]


def decode_live_output(data: bytes) -> tuple[int, np.ndarray]:
    """``(timestamp, keys)`` of a live-output packet (flags 0x38: KEY_32, D + T).

    A bytes check and two slices serve the LPG default; any other layout goes through the
    generic decoder and must still carry a packet-level timestamp.
    """
    if _is_live_default(data):
        return int.from_bytes(data[2:6], "little"), np.frombuffer(data, _U32, data[0], 6)
    packet = decode_data_packet(data)
    if packet.timestamp is None:
        raise _fail("not a live-output packet: no packet timestamp (D and T on a key-only type)",
                    "flags", 1)
    return packet.timestamp, packet.keys


# ---- encoding -----------------------------------------------------------------------------


def _as_u32(name: str, values: Iterable[int] | np.ndarray, width_bits: int) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise LocalProtocolError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if arr.size == 0:
        return np.zeros(0, dtype=np.uint32)
    if arr.dtype.kind not in "iu":
        raise LocalProtocolError(f"{name} must be integers, got dtype {arr.dtype}")
    lo, hi = int(arr.min()), int(arr.max())
    if lo < 0 or hi >= 1 << width_bits:
        raise LocalProtocolError(f"{name} outside 0..{(1 << width_bits) - 1}: {lo}..{hi}")
    return arr.astype(np.uint32)


def _strip_or(name: str, full: np.ndarray, bits: int) -> np.ndarray:
    """Wire values ``w`` with ``w | bits == full``; every value must contain all of ``bits``."""
    mask = np.uint32(bits)
    if np.any((full & mask) != mask):
        raise LocalProtocolError(f"some {name} lack the prefix bits 0x{bits:x}")
    return full & ~mask


def encode_events(
    keys: Iterable[int] | np.ndarray,
    payloads: Iterable[int] | np.ndarray | None = None,
    *,
    eieio_type: EIEIOType,
    prefix: int | None = None,
    prefix_type: PrefixType = PrefixType.UPPER_HALF_WORD,
    payload_prefix: int | None = None,
    is_time: bool = False,
    tag: int = 0,
    max_per_packet: int | None = None,
    semantics: PrefixSemantics = PrefixSemantics.ON_CHIP,
) -> list[bytes]:
    """Encode events (their decoded meaning) into as many packets as needed.

    ``prefix_type`` defaults to UPPER because that is the reading the chip and spinnman share.
    ``max_per_packet`` defaults to the host sender's budget (127/63/63/31) and may go up to
    :func:`max_events`.
    """
    etype = EIEIOType(eieio_type)
    header = EIEIODataHeader(eieio_type=etype, prefix=prefix,
                             prefix_type=prefix_type if prefix is not None else PrefixType.LOWER_HALF_WORD,
                             payload_prefix=payload_prefix, is_time=is_time, tag=tag)
    limit = max_events(header)
    per_packet = DEFAULT_MAX_EVENTS[etype] if max_per_packet is None else max_per_packet
    if not 1 <= per_packet <= limit:
        raise LocalProtocolError(f"max_per_packet={per_packet} outside 1..{limit} for this header")
    width = 8 * etype.key_bytes
    k = _as_u32("keys", keys, 32 if prefix is not None else width)
    if prefix is None:
        wire_k = k
    elif prefix_type == PrefixType.UPPER_HALF_WORD:
        wire_k = _as_u32("keys (after the prefix)", _strip_or("keys", k, prefix << 16), width)
    elif width == 16 and semantics is PrefixSemantics.ON_CHIP:
        if np.any((k & np.uint32(0xFFFF)) != prefix):
            raise LocalProtocolError(f"some keys lack the LOWER prefix 0x{prefix:x} (low half)")
        wire_k = k >> np.uint32(16)
    else:
        wire_k = _as_u32("keys (after the prefix)", _strip_or("keys", k, prefix), width)
    wire_p = None
    if etype.has_payload:
        if payloads is None:
            raise LocalProtocolError(f"{etype.name} needs one payload per key")
        p = _as_u32("payloads", payloads, width)
        if p.shape != k.shape:
            raise LocalProtocolError(f"{len(p)} payloads for {len(k)} keys")
        wire_p = _strip_or("payloads", p, payload_prefix) if payload_prefix else p
    elif payloads is not None:
        p = np.asarray(payloads)
        if payload_prefix is None or p.shape != k.shape or np.any(p != payload_prefix):
            raise LocalProtocolError(
                f"{etype.name} carries no per-event payload: payloads must all equal the "
                "payload prefix, or be omitted")
    return _packer(header, per_packet).pack(wire_k, wire_p)


class EventPacker:
    """Packs events that are already what the wire carries under one header (no prefix
    arithmetic, values within the type's width): the one place an EIEIO data packet's bytes are
    put together.

    :func:`encode_events` checks and strips the events' meaning, then packs with one of these;
    an emitter that sends fixed wire values, as the LPG does (``engine/live_output.py``), keeps
    one per header, so its per-tick cost is the body and the split alone.
    """

    __slots__ = ("_dtype", "_esize", "_fixed", "_key_bytes", "_pairs", "_per_packet")

    def __init__(self, header: EIEIODataHeader, per_packet: int) -> None:
        etype = header.eieio_type
        if not 1 <= per_packet <= max_events(header):
            raise LocalProtocolError(
                f"{per_packet} events a packet outside 1..{max_events(header)} for this header")
        self._fixed = _fixed_header(header)
        self._key_bytes = etype.key_bytes if header.payload_prefix is not None else 0
        self._dtype = np.dtype("<u4" if etype.key_bytes == 4 else "<u2")
        self._pairs = etype.has_payload
        self._esize = etype.element_bytes
        self._per_packet = per_packet

    def pack(self, keys: npt.NDArray[np.uint32],
             payloads: npt.NDArray[np.uint32] | int | None = None,
             payload_prefix: int | None = None) -> list[bytes]:
        """The packets of ``keys`` (and ``payloads``: one per key, or one value for all, for a
        payload type). ``payload_prefix`` replaces the header's for this call only, as a tick
        stamped in the header is (T and D; the header must have one)."""
        fixed = self._fixed
        if payload_prefix is not None:
            if not self._key_bytes:
                raise LocalProtocolError("a payload prefix per call needs a header with one (D)")
            fixed = fixed[:-self._key_bytes] + payload_prefix.to_bytes(self._key_bytes, "little")
        n = keys.size
        if self._pairs:
            if payloads is None:
                raise LocalProtocolError("a payload type needs one payload per key")
            body = np.empty((n, 2), dtype=self._dtype)
            body[:, 0], body[:, 1] = keys, payloads
        else:
            body = keys.astype(self._dtype)
        raw = body.tobytes()
        per, esize = self._per_packet, self._esize
        return [bytes((min(per, n - start),)) + fixed + raw[start * esize:(start + per) * esize]
                for start in range(0, n, per)]


_packer = functools.lru_cache(maxsize=1024)(EventPacker)
