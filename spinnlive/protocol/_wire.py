"""Shared helpers for reading untrusted bytes with declarative ``construct`` layouts.

Rules of this module:

* Every layout handed to :func:`parse_untrusted` is a fixed-size ``construct.Struct``. The size of
  the input is checked *before* construct runs, field by field, so a short datagram is reported
  as ``RemoteProtocolError`` naming the first field that does not fit and its byte offset, rather
  than as construct's ``StreamError`` with a stream position nobody can map back to the packet.
* Anything construct still raises (it should not, for fixed layouts) is converted into the same
  error: a parser that lets another exception escape has a bug (see ``spinnlive.errors``).
* Building goes through :func:`build_checked`, which turns construct's range errors into
  :class:`LocalProtocolError`: values out of range are the caller's mistake, never the peer's.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any, TypeVar

import construct
from construct import Struct

from spinnlive.errors import LocalProtocolError, RemoteProtocolError

__all__ = [
    "build_blocks", "build_checked", "field_offsets", "parse_blocks", "parse_untrusted",
    "record_values",
]


def field_offsets(layout: construct.Struct) -> list[tuple[str, int, int]]:
    """(name, offset, size) for each sub-construct of a fixed-size ``Struct``."""
    out: list[tuple[str, int, int]] = []
    offset = 0
    for sub in layout.subcons:
        size = sub.sizeof()
        out.append((sub.name or "padding", offset, size))
        offset += size
    return out


def parse_untrusted(
    layout: construct.Struct, data: bytes, offset: int, what: str
) -> construct.Container:
    """Parse ``layout`` at ``offset`` of ``data``; raise ``RemoteProtocolError`` if it does not fit."""
    available = len(data) - offset
    for name, rel, size in field_offsets(layout):
        if rel + size > available:
            raise RemoteProtocolError(
                f"{what} truncated: {len(data)}-byte datagram ends inside a {size}-byte field",
                field=name,
                offset=offset + rel,
            )
    try:
        return layout.parse(bytes(data[offset : offset + layout.sizeof()]))
    except construct.ConstructError as exc:  # pragma: no cover - fixed layouts cannot fail here
        raise RemoteProtocolError(f"{what} unreadable: {exc}", offset=offset) from exc


def build_checked(layout: construct.Construct, values: dict[str, Any], what: str) -> bytes:
    """Build ``values`` with ``layout``; out-of-range values become ``LocalProtocolError``."""
    try:
        return bytes(layout.build(values))
    except construct.ConstructError as exc:
        raise LocalProtocolError(f"cannot encode {what}: {exc}") from exc


def record_values(record: object) -> dict[str, int]:
    """A dataclass record's fields by name: layouts name their fields after the records'."""
    return {f.name: getattr(record, f.name) for f in fields(record)}  # type: ignore[arg-type]


R = TypeVar("R")


def build_blocks(first: Struct, rest: Struct, records: tuple[object, ...], what: str
                 ) -> bytes:
    """Repeated request/ack blocks: the first with ``first``'s layout, the others ``rest``."""
    return b"".join(build_checked(first if i == 0 else rest, record_values(r), what)
                    for i, r in enumerate(records))


def parse_blocks(cls: type[R], first: Struct, rest: Struct, n: int, data: bytes, offset: int,
                 what: str) -> tuple[tuple[R, ...], int]:
    """``n`` repeated blocks from ``offset``; returns the records and the end offset."""
    out: list[R] = []
    for i in range(n):
        layout = first if i == 0 else rest
        c = parse_untrusted(layout, data, offset, f"{what} {i}")
        out.append(cls(**{f.name: c[f.name] for f in fields(cls)}))  # type: ignore[arg-type]
        offset += layout.sizeof()
    return tuple(out), offset
