"""Input messages, clients -> bridge (wire-format.md §4), and their validation.

``[inject/<label>, ids]``, ``[inject/<label>, ids, tick]``, ``[rates/<label>, ids, rates]`` and
``[ready, epoch]``: ids little-endian uint32, tick and epoch one little-endian uint32, rates
little-endian float32 Hz (one per id). A client builds frames with :func:`encode_input` from a
record; the bridge turns what it pulls into the same record with :func:`decode_input`, which
checks everything the frames alone can tell and raises :class:`InputRejected` otherwise. What
needs the run's database (is the label known, are the ids in range) the bridge checks next.

Every rejection names one reason (the keys of the input stream's ``rejected`` counts) and the
events it throws away: the ids the message carried, whatever the reason, or 0 when frame 1 is
missing or is no whole number of ids.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from spinnlive.errors import LocalProtocolError
from spinnlive.wire.topics import INJECT, RATES, READY, label_of, label_topic

__all__ = [
    "BAD_PAYLOAD", "BAD_TOPIC", "ID_OUT_OF_RANGE", "MAX_IDS_PER_MESSAGE", "NOT_HELD",
    "NO_SESSION", "RATE_OUT_OF_RANGE", "TOO_LARGE", "UNKNOWN_LABEL", "Inject", "InputMessage", "InputRejected", "Ready",
    "SetRates", "decode_input", "encode_input", "ids_array",
]

#: The reasons an input message is rejected whole (wire-format.md §4).
NO_SESSION = "no_session"
BAD_TOPIC = "bad_topic"
UNKNOWN_LABEL = "unknown_label"
ID_OUT_OF_RANGE = "id_out_of_range"
RATE_OUT_OF_RANGE = "rate_out_of_range"
BAD_PAYLOAD = "bad_payload"
NOT_HELD = "not_held"
TOO_LARGE = "too_large"
#: Ids in one input message at most. Why: one message becomes ``ids / 127`` datagrams sent to the
#: board at once, and a board takes what its socket's kernel buffer holds: the engine's board
#: socket (transport.kernel_buffer.DEFAULT_RCVBUF, charged 1280 bytes a datagram on Linux)
#: holds 6553 unread injection datagrams. 2**19 ids are 4129 datagrams: a whole message fits even
#: while the engine reads nothing (a 2**20-id message lost 1704 of its 8257 datagrams, 21 %,
#: counted as kernel drops; a 50 MB frame, 13.1M ids, lost 41 %). Bigger inputs are refused
#: whole and counted (``too_large``); split them.
MAX_IDS_PER_MESSAGE = 1 << 19

_U32 = struct.Struct("<I")
T = TypeVar("T", bound=np.generic)
_IDS: np.dtype[np.uint32] = np.dtype("<u4")
_RATES: np.dtype[np.float32] = np.dtype("<f4")


@dataclass(frozen=True, slots=True, eq=False)
class Inject:
    """Neurons ``ids`` of injector ``label`` spike now, or at ``tick`` when it is given."""

    label: str
    ids: npt.NDArray[np.uint32]
    tick: int | None = None


@dataclass(frozen=True, slots=True, eq=False)
class SetRates:
    """Poisson rates (Hz) of neurons ``ids`` of ``label``, one per id."""

    label: str
    ids: npt.NDArray[np.uint32]
    rates: npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class Ready:
    """Release the confirmation the bridge holds for ``epoch``."""

    epoch: int


InputMessage = Inject | SetRates | Ready


class InputRejected(Exception):
    """An input message the bridge does not forward; ``reason`` is the counted key."""

    def __init__(self, reason: str, message: str, events: int = 0) -> None:
        super().__init__(message)
        self.reason = reason
        self.events = events


def ids_array(ids: npt.ArrayLike) -> npt.NDArray[np.uint32]:
    """A caller's ids as the wire's uint32, or :class:`LocalProtocolError` saying why not."""
    array = np.asarray(ids)
    if array.size == 0:
        return np.zeros(0, dtype=_IDS)
    if array.dtype.kind not in "iu":
        raise LocalProtocolError(f"neuron ids must be integers, got dtype {array.dtype}")
    if int(array.min()) < 0 or int(array.max()) > 0xFFFF_FFFF:
        raise LocalProtocolError("neuron ids must be within 0..2**32-1")
    if array.size > MAX_IDS_PER_MESSAGE:
        raise LocalProtocolError(f"{array.size} ids in one message; the bridge takes at most "
                                 f"{MAX_IDS_PER_MESSAGE}: send them in several")
    return array.ravel().astype(_IDS)


def encode_input(message: InputMessage) -> list[bytes]:
    """The frames to PUSH for one input message."""
    if isinstance(message, Ready):
        return [READY, _U32.pack(message.epoch)]
    ids = ids_array(message.ids)
    if isinstance(message, SetRates):
        rates = np.asarray(message.rates, dtype=_RATES).ravel()
        if rates.shape != ids.shape:
            raise LocalProtocolError(f"{ids.size} ids but {rates.size} rates")
        return [label_topic(RATES, message.label), ids.tobytes(), rates.tobytes()]
    frames = [label_topic(INJECT, message.label), ids.tobytes()]
    if message.tick is not None:
        if not 0 <= message.tick <= 0xFFFF_FFFF:
            raise LocalProtocolError(f"tick {message.tick} is not a u32")
        frames.append(_U32.pack(message.tick))
    return frames


def _carried(frames: list[bytes] | list[memoryview]) -> int:
    """The ids frame 1 carries, for the rejection count (0 when it cannot say)."""
    if len(frames) < 2:
        return 0
    size = memoryview(frames[1]).nbytes
    return 0 if size % 4 else size // 4


def _array(frame: bytes | memoryview, dtype: np.dtype[T], what: str,
           events: int) -> npt.NDArray[T]:
    view = memoryview(frame)
    if view.nbytes % 4:
        raise InputRejected(BAD_PAYLOAD, f"{what} frame of {view.nbytes} bytes is not a whole "
                            "number of 4-byte values", events)
    return np.frombuffer(view, dtype=dtype)


def _u32(frame: bytes | memoryview, what: str, events: int) -> int:
    view = memoryview(frame)
    if view.nbytes != _U32.size:
        raise InputRejected(BAD_PAYLOAD, f"the {what} frame has {view.nbytes} bytes, not 4 "
                            "(u32)", events)
    return int(_U32.unpack(view)[0])


def decode_input(frames: list[bytes] | list[memoryview]) -> InputMessage:
    """One input message as pulled, or :class:`InputRejected` (``bad_topic``, ``bad_payload``)."""
    if not frames:
        raise InputRejected(BAD_PAYLOAD, "empty message")
    topic = bytes(frames[0])
    events = _carried(frames)
    if topic == READY:
        if len(frames) != 2:
            raise InputRejected(BAD_PAYLOAD, f"ready takes 2 frames, got {len(frames)}")
        return Ready(_u32(frames[1], "epoch", 0))
    if events > MAX_IDS_PER_MESSAGE:
        raise InputRejected(TOO_LARGE, f"{events} ids in one message (at most "
                            f"{MAX_IDS_PER_MESSAGE})", events)
    prefix = INJECT if topic.startswith(INJECT.encode()) else RATES
    label = label_of(topic, prefix)
    want = (2, 3) if prefix == INJECT else (3,)
    if label is None:
        raise InputRejected(BAD_TOPIC, f"input topic {topic.decode('utf-8', 'replace')!r} is "
                            "neither inject/<label>, rates/<label> nor ready", events)
    if len(frames) not in want:
        raise InputRejected(BAD_PAYLOAD, f"{prefix}{label} takes "
                            f"{' or '.join(map(str, want))} frames, got {len(frames)}", events)
    ids = _array(frames[1], _IDS, "ids", events)
    if prefix == RATES:
        rates = _array(frames[2], _RATES, "rates", events)
        if rates.size != ids.size:
            raise InputRejected(BAD_PAYLOAD, f"{ids.size} ids but {rates.size} rates", events)
        return SetRates(label, ids, rates)
    return Inject(label, ids, _u32(frames[2], "tick", events) if len(frames) == 3 else None)
