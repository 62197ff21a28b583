"""ZeroMQ input messages -> SDP-wrapped EIEIO datagrams for the board, validated first.

Theory of operation
-------------------
An input message is ``[topic, ids]`` or ``[topic, ids, tick]`` for ``inject/<label>`` and
``[topic, ids, rates]`` for ``rates/<label>`` (wire-format.md §4), decoded and checked by
:func:`spinnlive.wire.input.decode_input`. :func:`plan` checks the record against the run (the
label takes this kind of input, the ids exist) and either rejects it whole with a reason
(nothing of it is forwarded) or returns every datagram to send,
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

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from spinnlive.bridge.session import Direction, Session, Target
from spinnlive.protocol.eieio import DEFAULT_MAX_EVENTS, EIEIODataHeader, EIEIOType, encode_events
from spinnlive.protocol.sdp import injection_datagram
from spinnlive.wire.input import (
    ID_OUT_OF_RANGE,
    NO_SESSION,
    RATE_OUT_OF_RANGE,
    UNKNOWN_LABEL,
    Inject,
    InputRejected,
    SetRates,
)

__all__ = ["Plan", "plan"]

_MAX_RATE_FIXED = 0xFFFF_FFFF
_HOST_BUDGET = 256  #: spinnman's UDP_MESSAGE_MAX_SIZE: 126 KEY_16 or 62 KEY_32 events with D
#: Packets encoded and sent at a time: a large message is encoded as it is sent, so the sender
#: steps aside for an engine's ticks between pieces (a 512k-id frame is 4129 datagrams, ~25 ms
#: of encoding and sends: in one go it held the interpreter across ticks). The same packets as
#: encoding it at once: every piece but the last is a whole number of full packets.
PACKETS_PER_PIECE = 64

Encode = Callable[[slice], list[bytes]]
"""The packets of the accepted ids ``part``."""


@dataclass(frozen=True, slots=True)
class Plan:
    """What to send for one accepted message (checked whole; encoded as it is sent)."""

    target: Target
    events: int
    encode: Encode
    per_packet: int  #: events in a full packet

    def pieces(self) -> Iterator[list[bytes]]:
        """The datagrams, :data:`PACKETS_PER_PIECE` at a time, each piece encoded when asked."""
        t, piece = self.target, self.per_packet * PACKETS_PER_PIECE
        for lo in range(0, self.events, piece):
            yield [injection_datagram(t.x, t.y, t.p, packet)
                   for packet in self.encode(slice(lo, lo + piece))]


def plan(session: Session | None, message: Inject | SetRates) -> Plan:
    """Check a decoded input message against the run and encode it, or raise
    :class:`~spinnlive.wire.input.InputRejected`."""
    ids = message.ids
    if session is None:
        raise InputRejected(NO_SESSION, "no database has been announced yet", ids.size)
    direction = Direction.IN if isinstance(message, Inject) else Direction.RATES
    label = message.label
    target = session.targets.get((direction, label))
    if target is None:
        known = sorted(t for d, t in session.targets if d is direction)
        raise InputRejected(UNKNOWN_LABEL, f"no population {label!r} takes "
                            f"{direction.topic_prefix} (known: {known})", ids.size)
    if ids.size and int(ids.max()) >= target.size:
        raise InputRejected(ID_OUT_OF_RANGE, f"{label!r} has ids 0..{target.size - 1}, got "
                            f"{int(ids.max())}", ids.size)
    if isinstance(message, Inject):
        encode, per_packet = _inject(target, ids, message.tick)
    else:
        encode, per_packet = _rates(target, ids, message.rates)
    return Plan(target, int(ids.size), encode, per_packet)


def _keys(target: Target, ids: npt.NDArray[np.uint32]) -> npt.NDArray[np.uint32]:
    keys = target.keys[ids.astype(np.intp)] if target.keys.size else np.full(ids.size, -1)
    if keys.size and int(keys.min()) < 0:
        raise InputRejected(ID_OUT_OF_RANGE, f"{target.label!r} has no key for some ids",
                            ids.size)
    return keys.astype(np.uint32)


def _inject(target: Target, ids: npt.NDArray[np.uint32], tick: int | None
            ) -> tuple[Encode, int]:
    full = target.full_keys or (tick is not None and tick > 0xFFFF)
    etype = EIEIOType.KEY_32_BIT if full else EIEIOType.KEY_16_BIT
    keys = _keys(target, ids) if full else ids
    if tick is None:
        return (lambda part: encode_events(keys[part], eieio_type=etype)), \
            DEFAULT_MAX_EVENTS[etype]
    header = EIEIODataHeader(eieio_type=etype, payload_prefix=tick, is_time=True)
    limit = (_HOST_BUDGET - header.size) // etype.element_bytes  # spinnman's 256-byte budget
    return (lambda part: encode_events(keys[part], eieio_type=etype, payload_prefix=tick,
                                       is_time=True, max_per_packet=limit)), limit


def _rates(target: Target, ids: npt.NDArray[np.uint32],
           rates: npt.NDArray[np.float32]) -> tuple[Encode, int]:
    fixed = np.rint(rates.astype(np.float64) * 65536.0)
    bad = ~np.isfinite(fixed) | (fixed < 0) | (fixed > _MAX_RATE_FIXED)
    if np.any(bad):
        raise InputRejected(RATE_OUT_OF_RANGE, f"rates must be 0 <= Hz < 65536, got "
                            f"{float(rates[np.flatnonzero(bad)[0]])}", ids.size)
    keys, payloads = _keys(target, ids), fixed.astype(np.uint32)
    etype = EIEIOType.KEY_PAYLOAD_32_BIT
    return (lambda part: encode_events(keys[part], payloads[part], eieio_type=etype)), \
        DEFAULT_MAX_EVENTS[etype]
