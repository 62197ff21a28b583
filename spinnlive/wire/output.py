"""Output messages, bridge -> subscribers: ``[topic, header, payload]`` (wire-format.md §2, §6-8).

The publisher builds frames with :func:`spike_frames` / :func:`json_frames`; every reader turns
the frames it receives into one frozen record with :func:`decode_output`: a
:class:`SpikeBatch` (``spikes/<label>``: the ids as a numpy view of the payload, no copy) or a
:class:`Notice` (a JSON body: ``lifecycle``, ``stats`` or a ``sync/<token>`` answer). A frame
that breaks the contract raises :class:`~spinnlive.errors.RemoteProtocolError` naming it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from spinnlive.errors import RemoteProtocolError
from spinnlive.wire.header import FLAG_JSON, Header, pack_header
from spinnlive.wire.topics import SPIKES, STATE, SYNC, label_of

__all__ = ["Notice", "OutputMessage", "SpikeBatch", "StateSnapshot", "decode_output",
           "encode_json", "json_frames", "snapshot_frames", "spike_frames"]

IDS = np.dtype("<u4")
VALUES = np.dtype("<f8")


@dataclass(frozen=True, slots=True, eq=False)
class SpikeBatch:
    """One population's spikes of one tick (or part of it, when ``header.by_deadline``)."""

    topic: bytes
    label: str
    header: Header
    ids: npt.NDArray[np.uint32]

    def frames(self) -> tuple[bytes, bytes, bytes]:
        """The message's frames again (a recorder keeps them)."""
        return self.topic, self.header.pack(), self.ids.astype(IDS).tobytes()


@dataclass(frozen=True, slots=True)
class Notice:
    """A JSON message: ``lifecycle``, ``stats``, or the answer to a ``sync/<token>``."""

    topic: bytes
    header: Header
    body: dict[str, Any]

    def frames(self) -> tuple[bytes, bytes, bytes]:
        """The message's frames again; the body as the bridge renders it (compact JSON)."""
        body = encode_json(self.body)
        h = self.header
        return self.topic, pack_header(h.flags, h.epoch, h.tick, h.sequence, len(body),
                                       h.bridge), body

    @property
    def is_sync(self) -> bool:
        return self.topic.startswith(SYNC)

    @property
    def event(self) -> str | None:
        """``lifecycle``'s and the sync answer's ``event``; None for ``stats``."""
        event = self.body.get("event")
        return None if event is None else str(event)


@dataclass(frozen=True, slots=True, eq=False)
class StateSnapshot:
    """One read of a state-plane stream (``state/<n>``), stamped with its tick."""

    topic: bytes
    header: Header
    values: npt.NDArray[np.float64]


OutputMessage = SpikeBatch | Notice | StateSnapshot


def encode_json(body: dict[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


def spike_frames(topic: bytes, epoch: int, tick: int, sequence: int,
                 ids: npt.NDArray[np.uint32], flags: int = 0, bridge: int = 0
                 ) -> tuple[bytes, bytes, npt.NDArray[np.uint32]]:
    """The frames of one spike batch; ``ids`` go out as little-endian uint32, uncopied when
    they already are."""
    payload = ids if ids.dtype == IDS else ids.astype(IDS)
    return topic, pack_header(flags, epoch, tick, sequence, int(payload.size), bridge), payload


def snapshot_frames(topic: bytes, epoch: int, tick: int, sequence: int,
                    values: npt.NDArray[np.float64], bridge: int = 0
                    ) -> tuple[bytes, bytes, npt.NDArray[Any]]:
    """The frames of one stream snapshot: ``values`` as little-endian float64."""
    payload = values if values.dtype == VALUES else values.astype(VALUES)
    return topic, pack_header(0, epoch, tick, sequence, int(payload.size), bridge), payload


def json_frames(topic: bytes, epoch: int, sequence: int, body: bytes, tick: int = 0,
                bridge: int = 0) -> tuple[bytes, bytes, bytes]:
    """The frames of one JSON message whose body is already rendered."""
    return topic, pack_header(FLAG_JSON, epoch, tick, sequence, len(body), bridge), body


def decode_output(frames: list[bytes]) -> OutputMessage:
    """One message as read off a SUB socket."""
    if len(frames) != 3:
        raise RemoteProtocolError(f"an output message has 3 frames, got {len(frames)}",
                                  field="frames")
    topic, raw_header, payload = frames
    header = Header.unpack(raw_header)
    if header.is_json:
        if len(payload) != header.count:
            raise RemoteProtocolError(f"{topic!r}: header says {header.count} JSON bytes, "
                                      f"payload has {len(payload)}", field="count")
        try:
            body = json.loads(payload)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise RemoteProtocolError(f"{topic!r}: payload is not JSON: {exc}",
                                      field="payload") from None
        if not isinstance(body, dict):
            raise RemoteProtocolError(f"{topic!r}: JSON body is not an object", field="payload")
        return Notice(topic, header, body)
    if topic.startswith(STATE.encode()):
        if len(payload) != 8 * header.count:
            raise RemoteProtocolError(f"{topic!r}: header says {header.count} values, payload "
                                      f"has {len(payload)} bytes", field="count")
        return StateSnapshot(topic, header, np.frombuffer(payload, dtype=VALUES))
    label = label_of(topic, SPIKES)
    if label is None:
        raise RemoteProtocolError(f"{topic!r} carries ids but is no spikes/<label> topic",
                                  field="topic")
    if len(payload) != 4 * header.count:
        raise RemoteProtocolError(f"{topic!r}: header says {header.count} ids, payload has "
                                  f"{len(payload)} bytes", field="count")
    return SpikeBatch(topic, label, header, np.frombuffer(payload, dtype=IDS))
