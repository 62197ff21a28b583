"""The client's side of the live state plane: one DEALER socket, requests matched by id.

:class:`StateChannel` is what :class:`spinnlive.client.Client` delegates ``weights``,
``set_weights``, ``get``, ``set``, ``stream_state``, ``unstream_state`` and ``describe_state``
to. Each request gets a fresh ``id``; one reader task files each reply with the future that
waits for it, so any number of tasks can have requests in flight on the same socket. Every wait
has the client's deadline; an error reply raises :class:`~spinnlive.protocol.state.StateError`
with the code and the message the engine (or the bridge) gave (docs/wire-format.md §10).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import zmq
import zmq.asyncio

from spinnlive.clock import Clock, MonotonicClock, deadline_after, wait_until
from spinnlive.errors import LocalProtocolError, TransportError
from spinnlive.protocol.state import (
    Code,
    Op,
    StateError,
    StateReply,
    StateRequest,
    decode_reply,
    encode_request,
)

__all__ = ["StateChannel", "VariableRead", "WeightsRead"]


@dataclass(frozen=True, slots=True, eq=False)
class WeightsRead:
    """A projection's weights as read at :attr:`tick` (before that tick was computed)."""

    tick: int
    pre: npt.NDArray[np.uint32]  #: per connection, in the projection's order
    post: npt.NDArray[np.uint32]
    values: npt.NDArray[np.float64]  #: PyNN's sign and unit (nA or uS)
    shape: tuple[int, int]  #: (pre size, post size)

    def array(self) -> npt.NDArray[np.float64]:
        """``Projection.get(format="array")``: NaN where unconnected, multiple synapses summed."""
        out = np.full(self.shape, np.nan)
        out[self.pre, self.post] = 0.0
        np.add.at(out, (self.pre, self.post), self.values)
        return out


@dataclass(frozen=True, slots=True, eq=False)
class VariableRead:
    """A population's parameter or state variable as read at :attr:`tick`."""

    tick: int
    ids: npt.NDArray[np.uint32]
    values: npt.NDArray[np.float64]


def _index(values: npt.ArrayLike | None, what: str) -> npt.NDArray[np.uint32] | None:
    if values is None:
        return None
    array = np.atleast_1d(np.asarray(values))
    if array.size and (array.dtype.kind not in "iu" or int(array.min()) < 0
                       or int(array.max()) > 0xFFFF_FFFF):
        raise LocalProtocolError(f"{what} must be integers within 0..2**32-1")
    return array.ravel().astype("<u4")


def _floats(values: npt.ArrayLike) -> npt.NDArray[np.float64]:
    return np.atleast_1d(np.asarray(values, dtype="<f8")).ravel()


class StateChannel:
    """Requests to one bridge's ``state`` endpoint; made by the client on first use."""

    def __init__(self, context: zmq.asyncio.Context, endpoint: str, timeout: float,
                 configure: Callable[[zmq.Socket[Any]], None] | None = None, *,
                 clock: Clock | None = None) -> None:
        """``configure``: applied to the socket before it connects (the client's CURVE keys);
        ``clock``: the client's, on which ``timeout`` is measured."""
        self.endpoint = endpoint
        self.timeout = timeout
        self._clock: Clock = clock or MonotonicClock()
        self._sock = context.socket(zmq.DEALER)
        self._sock.setsockopt(zmq.LINGER, 0)
        if configure is not None:
            configure(self._sock)
        self._sock.connect(endpoint)
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[StateReply]] = {}
        self._reader: asyncio.Task[None] | None = None
        self._shapes: dict[str, tuple[int, int]] = {}

    async def request(self, request: StateRequest, timeout: float | None = None) -> StateReply:
        """Send ``request`` (its id replaced by a fresh one) and wait for its reply."""
        number = next(self._ids)
        frames = encode_request(StateRequest(**{**_fields(request), "id": number}))
        limit = self.timeout if timeout is None else timeout
        end = deadline_after(self._clock, limit)
        waiter = self._waiting[number] = asyncio.get_running_loop().create_future()
        if self._reader is None or self._reader.done():
            self._reader = asyncio.ensure_future(self._read())
        try:
            try:  # sent now, in call order (requests stamped with one tick apply in that order)
                self._sock.send_multipart(frames, flags=zmq.NOBLOCK)
            except zmq.Again:  # the pipe to the bridge is full: wait for room, bounded
                await wait_until(self._sock.send_multipart(frames), self._clock, end)
            reply: StateReply = await wait_until(waiter, self._clock, end)
        except TimeoutError:
            raise TransportError(f"no state reply from the bridge at {self.endpoint} within "
                                 f"{limit:g} s ({request.op.value})") from None
        finally:
            self._waiting.pop(number, None)
        if not reply.ok:
            raise StateError(reply.code or Code.BAD_REQUEST, f"{request.op.value}: {reply.message}")
        return reply

    async def _read(self) -> None:
        """The one reader: files each reply with the request that waits for it."""
        while self._waiting:
            frames = await self._sock.recv_multipart()
            try:
                reply = decode_reply(frames)
            except StateError as error:
                failure = TransportError(f"bridge {self.endpoint} sent a bad state reply: "
                                         f"{error}")
                for waiter in self._waiting.values():
                    if not waiter.done():
                        waiter.set_exception(failure)
                return
            wanted = self._waiting.get(reply.id)
            if wanted is not None and not wanted.done():
                wanted.set_result(reply)

    async def describe(self) -> dict[str, Any]:
        """What the engine offers: projections, populations, parameter names, the tick now."""
        reply = await self.request(StateRequest(op=Op.DESCRIBE))
        for p in reply.info.get("projections", []):
            self._shapes[p["label"]] = (int(p["pre_size"]), int(p["post_size"]))
        return {"tick": reply.tick, **reply.info}

    async def weights(self, projection: str, pre: npt.ArrayLike | None = None,
                      post: npt.ArrayLike | None = None, *, tick: int | None = None
                      ) -> WeightsRead:
        if projection not in self._shapes:
            await self.describe()
        reply = await self.request(StateRequest(
            op=Op.WEIGHTS, projection=projection, pre=_index(pre, "pre"),
            post=_index(post, "post"), tick=tick))
        assert reply.pre is not None and reply.post is not None and reply.values is not None
        return WeightsRead(int(reply.tick or 0), reply.pre, reply.post, reply.values,
                           self._shapes.get(projection, (0, 0)))

    async def set_weights(self, projection: str, values: npt.ArrayLike,
                          pre: npt.ArrayLike | None = None, post: npt.ArrayLike | None = None,
                          *, tick: int | None = None) -> int:
        reply = await self.request(StateRequest(
            op=Op.SET_WEIGHTS, projection=projection, pre=_index(pre, "pre"),
            post=_index(post, "post"), values=_floats(values), tick=tick))
        return int(reply.tick or 0)

    async def get(self, population: str, name: str, ids: npt.ArrayLike | None = None, *,
                  tick: int | None = None) -> VariableRead:
        reply = await self.request(StateRequest(
            op=Op.GET, population=population, name=name, ids=_index(ids, "ids"), tick=tick))
        assert reply.ids is not None and reply.values is not None
        return VariableRead(int(reply.tick or 0), reply.ids, reply.values)

    async def set(self, population: str, name: str, values: npt.ArrayLike,
                  ids: npt.ArrayLike | None = None, *, tick: int | None = None) -> int:
        reply = await self.request(StateRequest(
            op=Op.SET, population=population, name=name, ids=_index(ids, "ids"),
            values=_floats(values), tick=tick))
        return int(reply.tick or 0)

    async def stream(self, every: int, *, projection: str | None = None,
                     population: str | None = None, name: str | None = None,
                     tick: int | None = None) -> dict[str, Any]:
        """Open a stream; the reply names its ``topic`` (``state/<n>``) and ``stream`` number."""
        reply = await self.request(StateRequest(
            op=Op.STREAM, every=every, projection=projection, population=population,
            name=name, tick=tick))
        return {"tick": reply.tick, **reply.info}

    async def unstream(self, stream: int) -> dict[str, Any]:
        reply = await self.request(StateRequest(op=Op.UNSTREAM, stream=stream))
        return {"tick": reply.tick, **reply.info}

    def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
        self._sock.close(linger=0)


def _fields(request: StateRequest) -> dict[str, Any]:
    return {name: getattr(request, name) for name in request.__slots__}
