"""Frame 1 of every output message: the 20-byte header (wire-format.md §2).

``version u8, flags u8, bridge u16, epoch u32, tick u32, sequence u32, count u32``, all
little-endian. ``bridge`` is the sending bridge's identity, drawn at random (1..65535) when it
starts and kept for its life, so a reader tells a restarted bridge (whose epochs and sequences
start again) from the one before; 0 from a bridge older than the field. :func:`pack_header` is the publisher's hot path (one call per message, no
record); :meth:`Header.unpack` is the reader's, and names what is wrong with a bad frame.
"""

from __future__ import annotations

import secrets
import struct
from dataclasses import dataclass

from spinnlive.errors import RemoteProtocolError

__all__ = ["FLAG_DEADLINE", "FLAG_JSON", "HEADER", "HEADER_VERSION", "Header",
           "new_bridge_identity", "pack_header"]

HEADER = struct.Struct("<BBHIIII")
HEADER_VERSION = 1
#: The tick was closed by the flush deadline, not by the LPG: more of it may follow (§3).
FLAG_DEADLINE = 0x01
#: Frame 2 is UTF-8 JSON (lifecycle, stats, sync) and ``count`` its length in bytes.
FLAG_JSON = 0x80
_U32 = 0xFFFF_FFFF


def pack_header(flags: int, epoch: int, tick: int, sequence: int, count: int,
                bridge: int = 0) -> bytes:
    """The header bytes; epoch, tick and sequence wrap at 2**32 as the spec says."""
    return HEADER.pack(HEADER_VERSION, flags, bridge, epoch & _U32, tick & _U32,
                       sequence & _U32, count)


def new_bridge_identity() -> int:
    """A bridge's identity for its life: random, never 0 (which means "not said")."""
    return secrets.randbelow(0xFFFF) + 1


@dataclass(frozen=True, slots=True)
class Header:
    """One decoded header."""

    flags: int
    epoch: int
    tick: int
    sequence: int
    count: int
    bridge: int = 0  #: the sending bridge's identity (module docstring)

    @property
    def is_json(self) -> bool:
        return bool(self.flags & FLAG_JSON)

    @property
    def by_deadline(self) -> bool:
        return bool(self.flags & FLAG_DEADLINE)

    def pack(self) -> bytes:
        return pack_header(self.flags, self.epoch, self.tick, self.sequence, self.count,
                           self.bridge)

    @classmethod
    def unpack(cls, frame: bytes | memoryview) -> Header:
        size = memoryview(frame).nbytes
        if size != HEADER.size:
            raise RemoteProtocolError(f"header of {size} bytes, expected {HEADER.size}",
                                      field="header")
        version, flags, bridge, epoch, tick, sequence, count = HEADER.unpack(frame)
        if version != HEADER_VERSION:
            raise RemoteProtocolError(f"header version {version}, expected {HEADER_VERSION}",
                                      field="version", offset=0)
        return cls(flags, epoch, tick, sequence, count, bridge)
