"""The live state plane's messages: reads and writes of weights and neuron parameters, sans-IO.

Theory of operation
-------------------
A client asks a running network for the weights of a projection or a parameter / state variable
of a population, or changes them, and the answer comes back stamped with the tick at which it was
read or from which it applies (``docs/wire-format.md``, "State plane"). One message is a list of
*frames*: frame 0 is a UTF-8 JSON object, the frames after it are little-endian arrays named, in
order, by the object's ``arrays`` list (``ids``/``pre``/``post`` as ``<u4``, ``values`` as
``<f8``). The same frames travel on both hops, so the bridge forwards without re-encoding:

* client <-> bridge, as ZeroMQ frames (DEALER -> ROUTER);
* bridge <-> embedded engine, over one TCP stream per epoch, each message framed by
  :func:`pack_message` (a ``<u32`` frame count, then ``<u32`` length + bytes per frame) and cut
  back into frames by :class:`MessageReader`; the bridge puts an 8-byte route in front of every
  request and the engine echoes it, so replies find their client.

:class:`StateRequest` and :class:`StateReply` are the records; :func:`decode_request` and
:func:`decode_reply` check everything that can be checked without the network (field types,
frame sizes, dtypes, lengths) and raise :class:`StateError` with a :class:`Code` naming what was
wrong, which the receiver turns into an error reply: a malformed request never raises anything
else and never reaches the engine's tick thread.

Rules: no sockets, clocks or threads; arrays are numpy, never a Python object per synapse.
"""

from __future__ import annotations

import enum
import json
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from spinnlive.errors import SpinnliveError

__all__ = [
    "INDEX_DTYPE", "MAX_FRAME", "ROUTE", "VALUE_DTYPE", "Code", "MessageReader", "Op",
    "StateError", "StateReply", "StateRequest", "decode_reply", "decode_request",
    "encode_reply", "encode_request", "error_reply", "pack_message", "pack_routed", "split_routed",
]

INDEX_DTYPE: np.dtype[Any] = np.dtype("<u4")  #: ``ids``, ``pre``, ``post``
VALUE_DTYPE: np.dtype[Any] = np.dtype("<f8")  #: ``values``
ROUTE = struct.Struct("<Q")  #: the bridge's route in front of a request on the engine link
#: Largest single frame on the engine link (a 64M-synapse weight read is 512 MB).
MAX_FRAME = 1 << 30
_COUNT = struct.Struct("<I")
_ARRAY_DTYPES: dict[str, np.dtype[Any]] = {"ids": INDEX_DTYPE, "pre": INDEX_DTYPE, "post": INDEX_DTYPE,
                 "values": VALUE_DTYPE}

IndexArray = npt.NDArray[np.uint32]
ValueArray = npt.NDArray[np.float64]


class Op(str, enum.Enum):
    """What a request asks for."""

    WEIGHTS = "weights"  #: read a projection's weights (all, or rows ``pre`` / columns ``post``)
    SET_WEIGHTS = "set_weights"  #: write weights (all in connection order, or ``pre``/``post`` pairs)
    GET = "get"  #: read a population's parameter or state variable (all, or ``ids``)
    SET = "set"  #: write a population's parameter (all, or ``ids``)
    STREAM = "stream"  #: publish a read every ``every`` ticks on a topic
    UNSTREAM = "unstream"  #: stop a stream
    DESCRIBE = "describe"  #: what can be read and written: projections, populations, names
    SNAPSHOT = "snapshot"  #: engine -> bridge only: one streamed read


class Code(str, enum.Enum):
    """Why a request was refused (the ``error.code`` of a reply)."""

    BAD_REQUEST = "bad_request"  #: not a well-formed request (JSON, fields, frames, dtypes)
    UNKNOWN_PROJECTION = "unknown_projection"
    UNKNOWN_POPULATION = "unknown_population"
    UNKNOWN_PARAMETER = "unknown_parameter"
    READ_ONLY = "read_only"  #: a state variable (or a source's parameter): readable only
    WRONG_SHAPE = "wrong_shape"  #: values do not match the ids / pairs / connections
    OUT_OF_RANGE = "out_of_range"  #: an index >= the population size
    NO_CONNECTION = "no_connection"  #: a (pre, post) pair the projection does not connect
    REFUSED_VALUE = "refused_value"  #: the model refuses it (NaN, tau <= 0, negative weight...)
    LATE = "late"  #: the request's tick had already begun when the engine took it
    QUEUE_FULL = "queue_full"  #: the engine's bounded request queue (or hold) was full
    UNKNOWN_STREAM = "unknown_stream"
    TOO_MANY_STREAMS = "too_many_streams"
    UNAVAILABLE = "unavailable"  #: no state service: a SpiNNaker board, no run, engine gone


class StateError(SpinnliveError):
    """A request that cannot be served; the reply carries :attr:`code` and the message."""

    def __init__(self, code: Code, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True, eq=False, kw_only=True)
class StateRequest:
    """One request; which fields matter depends on :attr:`op` (wire-format.md, State plane)."""

    op: Op
    id: int = 0  #: the client's correlation number, echoed in the reply
    projection: str | None = None
    population: str | None = None
    name: str | None = None  #: parameter / state variable (GET, SET, STREAM of a population)
    tick: int | None = None  #: read at / apply from this tick (None: the next tick)
    every: int | None = None  #: STREAM period in ticks
    stream: int | None = None  #: UNSTREAM: the stream's number
    ids: IndexArray | None = None
    pre: IndexArray | None = None
    post: IndexArray | None = None
    values: ValueArray | None = None


@dataclass(frozen=True, slots=True, eq=False, kw_only=True)
class StateReply:
    """One answer: ``ok`` with the tick (and arrays), or an error ``code`` and message."""

    op: Op
    id: int = 0
    ok: bool = True
    tick: int | None = None  #: read at, or applies from
    code: Code | None = None
    message: str = ""
    info: dict[str, Any] = field(default_factory=dict)  #: op-specific JSON fields
    ids: IndexArray | None = None
    pre: IndexArray | None = None
    post: IndexArray | None = None
    values: ValueArray | None = None


_REQUEST_FIELDS = {"projection": str, "population": str, "name": str, "tick": int,
                   "every": int, "stream": int}
_NAMES = ("ids", "pre", "post", "values")


def encode_request(request: StateRequest) -> list[bytes | memoryview]:
    """The frames of ``request``: the JSON object, then its arrays."""
    body: dict[str, Any] = {"op": request.op.value, "id": request.id}
    for key in _REQUEST_FIELDS:
        value = getattr(request, key)
        if value is not None:
            body[key] = value
    return _with_arrays(body, request)


def encode_reply(reply: StateReply) -> list[bytes | memoryview]:
    """The frames of ``reply`` (arrays as views of the record's own, no copy when aligned)."""
    body: dict[str, Any] = {**reply.info, "op": reply.op.value, "id": reply.id, "ok": reply.ok}
    if reply.tick is not None:
        body["tick"] = reply.tick
    if not reply.ok:
        body["error"] = {"code": (reply.code or Code.BAD_REQUEST).value,
                         "message": reply.message}
    return _with_arrays(body, reply)


def error_reply(request_op: Op | str, request_id: int, error: StateError) -> StateReply:
    op = request_op if isinstance(request_op, Op) else (_op(request_op, None) or Op.DESCRIBE)
    return StateReply(op=op, id=request_id, ok=False, code=error.code, message=str(error))


def _with_arrays(body: dict[str, Any], record: StateRequest | StateReply
                 ) -> list[bytes | memoryview]:
    frames: list[bytes | memoryview] = []
    names = []
    for name in _NAMES:
        array = getattr(record, name)
        if array is not None:
            names.append(name)
            contiguous = np.ascontiguousarray(array, _ARRAY_DTYPES[name])
            frames.append(memoryview(contiguous.data).cast("B"))
    if names:
        body["arrays"] = names
    return [json.dumps(body, separators=(",", ":")).encode(), *frames]


def decode_request(frames: Sequence[bytes | memoryview]) -> StateRequest:
    """A request from its frames; :class:`StateError` (``bad_request``) names what is wrong."""
    body, arrays = _split(frames)
    op = _op(body.get("op"), None)
    if op is None or op is Op.SNAPSHOT:
        raise StateError(Code.BAD_REQUEST, f"unknown op {body.get('op')!r}; ops are "
                         f"{[o.value for o in Op if o is not Op.SNAPSHOT]}")
    values: dict[str, Any] = {}
    for key, kind in _REQUEST_FIELDS.items():
        value = body.get(key)
        if value is not None:
            if not isinstance(value, kind) or isinstance(value, bool):
                raise StateError(Code.BAD_REQUEST, f"field {key!r} must be {kind.__name__}, "
                                 f"got {value!r}")
            values[key] = value
    for key in ("tick", "every", "stream"):
        if values.get(key, 0) < 0 or (key == "every" and values.get(key, 1) < 1):
            raise StateError(Code.BAD_REQUEST, f"field {key!r} out of range: {values[key]}")
    return StateRequest(op=op, id=_request_id(body), **values, **arrays)


def decode_reply(frames: Sequence[bytes | memoryview]) -> StateReply:
    """A reply from its frames (a client's side); :class:`StateError` if malformed."""
    body, arrays = _split(frames)
    op = _op(body.pop("op", None), None)
    if op is None:
        raise StateError(Code.BAD_REQUEST, "reply without a known op")
    ok = bool(body.pop("ok", False))
    error = body.pop("error", None) or {}
    tick = body.pop("tick", None)
    code = None if ok else _code(error.get("code"))
    return StateReply(op=op, id=_request_id(body), ok=ok, tick=tick, code=code,
                      message=str(error.get("message", "")),
                      info={k: v for k, v in body.items() if k not in ("id", "arrays")},
                      **arrays)


def _split(frames: Sequence[bytes | memoryview]) -> tuple[dict[str, Any], dict[str, Any]]:
    if not frames:
        raise StateError(Code.BAD_REQUEST, "empty message: frame 0 must be a JSON object")
    try:
        body = json.loads(bytes(frames[0]))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise StateError(Code.BAD_REQUEST, f"frame 0 is not JSON: {error}") from None
    if not isinstance(body, dict):
        raise StateError(Code.BAD_REQUEST, "frame 0 must be a JSON object")
    names = body.get("arrays", [])
    if not isinstance(names, list) or len(names) != len(frames) - 1:
        raise StateError(Code.BAD_REQUEST, f"'arrays' names {names!r} but the message has "
                         f"{len(frames) - 1} array frames")
    arrays: dict[str, Any] = {}
    for name, frame in zip(names, frames[1:], strict=True):
        dtype = _ARRAY_DTYPES.get(name) if isinstance(name, str) else None
        if dtype is None or name in arrays:
            raise StateError(Code.BAD_REQUEST, f"array {name!r}: arrays are "
                             f"{list(_ARRAY_DTYPES)}, each at most once")
        size = memoryview(frame).nbytes
        if size % dtype.itemsize:
            raise StateError(Code.BAD_REQUEST, f"array {name!r}: {size} bytes is not a whole "
                             f"number of {dtype.str} ({dtype.itemsize} bytes)")
        arrays[name] = np.frombuffer(frame, dtype=dtype)
    return body, arrays


def _request_id(body: dict[str, Any]) -> int:
    value = body.get("id", 0)
    if not isinstance(value, int) or isinstance(value, bool):
        raise StateError(Code.BAD_REQUEST, f"field 'id' must be an integer, got {value!r}")
    return value


def _op(value: object, default: Op | None) -> Op | None:
    try:
        return Op(value)
    except ValueError:
        return default


def _code(value: object) -> Code:
    try:
        return Code(value)
    except ValueError:
        return Code.BAD_REQUEST


# -- the engine link's framing --------------------------------------------------------------

def pack_message(frames: Sequence[bytes | memoryview]) -> list[bytes | memoryview]:
    """Buffers to write, in order, for one message on a byte stream (no frame copied)."""
    out: list[bytes | memoryview] = [_COUNT.pack(len(frames))]
    for frame in frames:
        out.append(_COUNT.pack(memoryview(frame).nbytes))
        out.append(frame)
    return out


def pack_routed(route: int, frames: Sequence[bytes | memoryview]) -> list[bytes | memoryview]:
    """:func:`pack_message` of one engine-link message: the 8-byte ``route`` (the bridge's
    request number; 0: a snapshot for every subscriber), then ``frames``."""
    return pack_message([ROUTE.pack(route), *frames])


def split_routed(frames: list[bytes]) -> tuple[int, list[bytes]] | None:
    """The route and the remaining frames of one engine-link message (either direction);
    None when frame 0 is not an 8-byte route."""
    if not frames or len(frames[0]) != ROUTE.size:
        return None
    (route,) = ROUTE.unpack(frames[0])
    return int(route), frames[1:]


def _bounded(buffer: bytearray, at: int, limit: int, what: str) -> int:
    """The little-endian 4-byte count at ``at``; past ``limit`` a BAD_REQUEST that names it
    (``what`` with the count filled in), read before anything of that size is buffered."""
    (count,) = _COUNT.unpack_from(buffer, at)
    if count > limit:
        raise StateError(Code.BAD_REQUEST, f"{what.format(count)} (at most {limit})")
    return int(count)


class MessageReader:
    """Bytes of a stream in, whole messages (lists of frames) out: :meth:`feed` as they come.

    A frame longer than ``max_frame`` or a count above ``max_frames`` is a broken peer:
    :class:`StateError` (``bad_request``), after which the stream cannot be resynchronised.
    """

    def __init__(self, max_frame: int = MAX_FRAME, max_frames: int = 16) -> None:
        self._buffer = bytearray()
        self._max_frame, self._max_frames = max_frame, max_frames
        self._frames: list[bytes] = []
        self._want: int | None = None  # frames still to read in the current message

    def feed(self, data: bytes | memoryview) -> list[list[bytes]]:
        self._buffer += data
        done: list[list[bytes]] = []
        buffer, at = self._buffer, 0
        while True:
            if self._want is None:
                if len(buffer) - at < 4:
                    break
                self._want = _bounded(buffer, at, self._max_frames, "message of {} frames")
                at += 4
            if self._want == 0:
                done.append(self._frames)
                self._frames, self._want = [], None
                continue
            if len(buffer) - at < 4:
                break
            size = _bounded(buffer, at, self._max_frame, "frame of {} bytes")
            if len(buffer) - at - 4 < size:
                break
            self._frames.append(bytes(memoryview(buffer)[at + 4:at + 4 + size]))
            at += 4 + size
            self._want -= 1
        del buffer[:at]
        return done
