"""ZeroMQ input messages -> SDP-wrapped EIEIO datagrams for the board, validated first.

Theory of operation
-------------------
An input message is ``[topic, ids]`` or ``[topic, ids, tick]`` for ``inject/<label>`` and
``[topic, ids, rates]`` for ``rates/<label>`` (wire-format.md §4): ``ids`` little-endian uint32
neuron ids, ``tick`` one little-endian uint32 (the tick at which the injector must spike),
``rates`` little-endian float32 Hz, one per id. :func:`plan` checks the whole message first and either
rejects it whole with a reason (nothing of it is forwarded) or returns every datagram to send,
byte for byte what sPyNNaker's clients send for the same request (protocol sheet §5.3, §5.5):

* ``inject``: KEY_16_BIT packets of the raw ids, <= 127 each (``send_events``), or KEY_32_BIT
  packets of the DB keys, <= 63 each, when the population has ids above 0xFFFF;
* ``inject`` with a tick: the same packets made *timestamped* the way spinnman builds them
  (``EIEIODataMessage.create(type, timestamp=tick)``: D + T, payload prefix = the tick),
  <= 126 or <= 62 events each; KEY_32_BIT with DB keys also when the tick exceeds 0xFFFF (a
  16-bit type has a 16-bit prefix). sPyNNaker's clients never send these; the embedded engine
  holds them until their tick (a real board's live injector would lose future stamps);
* ``rates``: KEY_PAYLOAD_32_BIT packets, <= 31 each, key = the ``<label>_control`` key of the
  neuron, payload = the rate as unsigned 16.16 fixed point, rounded half to even (the
  reference's ``round(Decimal(str(rate)) * 65536)``, exact for every float64);

each wrapped in SDP for SDP port 1 of the target's first core, to ``board:17893``. Unlike the
reference there is no 0.1 s pause after every 6 packets: pacing is the sender's business.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from spinnlive.bridge.session import Direction, Session, Target
from spinnlive.protocol.eieio import EIEIODataHeader, EIEIOType, encode_events
from spinnlive.protocol.sdp import injection_datagram

__all__ = ["Plan", "Rejected", "parse_topic", "plan"]

_MAX_RATE_FIXED = 0xFFFF_FFFF
_TICK_BYTES = 4
_HOST_BUDGET = 256  #: spinnman's UDP_MESSAGE_MAX_SIZE: 126 KEY_16 or 62 KEY_32 events with D


class Rejected(Exception):
    """An input message that is not forwarded; ``reason`` is the stats key."""

    def __init__(self, reason: str, message: str, events: int = 0) -> None:
        super().__init__(message)
        self.reason = reason
        self.events = events


@dataclass(frozen=True, slots=True)
class Plan:
    """What to send for one accepted message."""

    target: Target
    events: int
    datagrams: tuple[bytes, ...]


def parse_topic(topic: bytes) -> tuple[Direction, str]:
    text = topic.decode("utf-8", errors="replace")
    for direction in (Direction.IN, Direction.RATES):
        if text.startswith(direction.topic_prefix):
            return direction, text[len(direction.topic_prefix):]
    raise Rejected("bad_topic", f"input topic {text!r} is neither inject/<label> nor rates/<label>")


def _array(frame: bytes | memoryview, dtype: str, what: str) -> npt.NDArray[np.generic]:
    view = memoryview(frame)
    if view.nbytes % 4:
        raise Rejected("bad_payload", f"{what} frame of {view.nbytes} bytes is not a whole "
                       "number of 4-byte values")
    return np.frombuffer(view, dtype=dtype)


def plan(session: Session | None, frames: list[bytes] | list[memoryview]) -> Plan:
    """Validate one input message and encode it, or raise :class:`Rejected`."""
    if not frames:
        raise Rejected("bad_payload", "empty message")
    direction, label = parse_topic(bytes(frames[0]))
    want = (2, 3) if direction is Direction.IN else (3,)
    if len(frames) not in want:
        raise Rejected("bad_payload", f"{direction.topic_prefix}{label} takes "
                       f"{' or '.join(map(str, want))} frames, got {len(frames)}")
    ids = _array(frames[1], "<u4", "ids")
    if session is None:
        raise Rejected("no_session", "no database has been announced yet", ids.size)
    target = session.targets.get((direction, label))
    if target is None:
        known = sorted(t for d, t in session.targets if d is direction)
        raise Rejected("unknown_label", f"no population {label!r} takes "
                       f"{direction.topic_prefix} (known: {known})", ids.size)
    if ids.size and int(ids.max()) >= target.size:
        raise Rejected("id_out_of_range", f"{label!r} has ids 0..{target.size - 1}, got "
                       f"{int(ids.max())}", ids.size)
    if direction is Direction.IN:
        packets = _inject(target, ids, _tick(frames[2]) if len(frames) == 3 else None)
    else:
        rates = _array(frames[2], "<f4", "rates")
        if rates.size != ids.size:
            raise Rejected("bad_payload", f"{ids.size} ids but {rates.size} rates", ids.size)
        packets = _rates(target, ids, rates)
    return Plan(target, int(ids.size),
                tuple(injection_datagram(target.x, target.y, target.p, packet)
                      for packet in packets))


def _keys(target: Target, ids: npt.NDArray[np.uint32]) -> npt.NDArray[np.uint32]:
    keys = target.keys[ids.astype(np.intp)] if target.keys.size else np.full(ids.size, -1)
    if keys.size and int(keys.min()) < 0:
        raise Rejected("id_out_of_range", f"{target.label!r} has no key for some ids", ids.size)
    return keys.astype(np.uint32)


def _tick(frame: bytes | memoryview) -> int:
    view = memoryview(frame)
    if view.nbytes != _TICK_BYTES:
        raise Rejected("bad_payload", f"the tick frame has {view.nbytes} bytes, not 4 (u32)")
    return int(np.frombuffer(view, "<u4")[0])


def _inject(target: Target, ids: npt.NDArray[np.uint32], tick: int | None) -> list[bytes]:
    full = target.full_keys or (tick is not None and tick > 0xFFFF)
    etype = EIEIOType.KEY_32_BIT if full else EIEIOType.KEY_16_BIT
    keys = _keys(target, ids) if full else ids
    if tick is None:
        return encode_events(keys, eieio_type=etype)
    header = EIEIODataHeader(eieio_type=etype, payload_prefix=tick, is_time=True)
    limit = (_HOST_BUDGET - header.size) // etype.element_bytes  # spinnman's 256-byte budget
    return encode_events(keys, eieio_type=etype, payload_prefix=tick, is_time=True,
                         max_per_packet=limit)


def _rates(target: Target, ids: npt.NDArray[np.uint32],
           rates: npt.NDArray[np.float32]) -> list[bytes]:
    fixed = np.rint(rates.astype(np.float64) * 65536.0)
    bad = ~np.isfinite(fixed) | (fixed < 0) | (fixed > _MAX_RATE_FIXED)
    if np.any(bad):
        raise Rejected("rate_out_of_range", f"rates must be 0 <= Hz < 65536, got "
                       f"{float(rates[np.flatnonzero(bad)[0]])}", ids.size)
    return encode_events(_keys(target, ids), fixed.astype(np.uint32),
                         eieio_type=EIEIOType.KEY_PAYLOAD_32_BIT)
