"""The bridge's state proxy: ZeroMQ state requests <-> the embedded engine's state service.

Theory of operation
-------------------
Clients send state-plane requests (``docs/wire-format.md``, State plane) to the bridge's
``state`` endpoint, a ROUTER socket; each request is checked for form here
(:func:`~spinnlive.protocol.state.decode_request`), so a malformed one is answered at once, then
forwarded unchanged to the engine with an 8-byte route in front, over one TCP connection per
epoch to **TCP port 17893 of the run's board** (where the embedded engine's
:mod:`~spinnlive.engine.state_service` listens, beside SCAMP's UDP port). The engine's reply
comes back with the same route and goes to the client that asked, unchanged; snapshots of a
stream (route 0) are published on the output socket as ``state/<n>`` topics.

The connection is opened at the first request of an epoch, with a deadline (1 s). When nothing
answers there, the run is not on the embedded engine: on a SpiNNaker board sPyNNaker cannot read
or change a weight or a parameter while the application runs, so every request of that epoch
gets an ``unavailable`` reply saying what is possible instead (``Projection.get/set``,
``Population.get/set`` between ``run()`` steps); nothing waits longer than the deadline.

Rules: the event loop never blocks (ROUTER sends are non-blocking; an unroutable reply, whose
client went away, is dropped by libzmq); at most ``max_pending`` requests are in flight, the
rest refused as ``queue_full``; when the engine closes the link (the run ended), every request
in flight is answered ``unavailable``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import zmq
import zmq.asyncio

from spinnlive.clock import Clock, MonotonicClock, deadline_after, wait_until
from spinnlive.protocol.state import (
    Code,
    MessageReader,
    Op,
    StateError,
    StateReply,
    decode_reply,
    decode_request,
    encode_reply,
    error_reply,
    pack_routed,
    split_routed,
)

__all__ = ["SPINNAKER_REFUSAL", "StateProxy"]

logger = logging.getLogger(__name__)

#: What a client is told when the run has no state service (a SpiNNaker board).
SPINNAKER_REFUSAL = (
    "this run has no live state plane: on SpiNNaker hardware (or any toolchain-run board) "
    "sPyNNaker cannot read or change weights or neuron parameters while the application runs. "
    "Read them with Projection.get / Population.get and change them with Projection.set / "
    "Population.set between run() steps; live reads and writes need the embedded engine "
    "(spinnlive run without --backend spinnaker)")

Publish = Callable[[bytes, int, npt.NDArray[np.float64]], None]
"""``publish(topic, tick, values)``: a stream snapshot onto the output socket."""


class _Link:
    """The TCP connection to one epoch's engine."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.task: asyncio.Task[None] | None = None


class StateProxy:
    """Serve the ROUTER socket; :meth:`new_epoch` at every DATABASE; see the module docstring."""

    def __init__(self, router: zmq.asyncio.Socket, publish: Publish, *,
                 connect_timeout_s: float = 1.0, max_pending: int = 4096,
                 clock: Clock | None = None) -> None:
        self._router = router
        self._clock: Clock = clock or MonotonicClock()
        self._publish = publish
        self._timeout = connect_timeout_s
        self._max_pending = max_pending
        self._boards: tuple[tuple[str, int], ...] = ()
        self._link: _Link | None = None
        self._refusal: str | None = None  # why this epoch has no link
        self._connecting: asyncio.Future[_Link | None] | None = None
        self._pending: dict[int, tuple[bytes, Op, int]] = {}  # route -> client, op, id
        self._routes = itertools.count(1)
        self.forwarded = self.refused = self.snapshots = 0

    def new_epoch(self, boards: tuple[tuple[str, int], ...]) -> None:
        """A new run epoch on ``boards`` ((ip, port) of each board): drop the old link."""
        self._close_link("a new run epoch began")
        self._boards = tuple(dict.fromkeys(boards))
        self._refusal = None if self._boards else "no run has announced a database yet"

    def describe(self) -> dict[str, object]:
        return {"available": self._link is not None, "forwarded": self.forwarded,
                "refused": self.refused, "snapshots": self.snapshots,
                "pending": len(self._pending),
                **({"refusal": self._refusal} if self._refusal else {})}

    async def serve(self) -> None:
        while True:
            identity, *frames = await self._router.recv_multipart()
            await self.handle(identity, frames)

    async def handle(self, identity: bytes, frames: list[bytes]) -> None:
        """One client request: answered here (bad form, no engine) or forwarded."""
        try:
            request = decode_request(frames)
        except StateError as error:
            self._reply(identity, error_reply(Op.DESCRIBE, 0, error))
            return
        try:
            link = await self._connected()
            if len(self._pending) >= self._max_pending:
                raise StateError(Code.QUEUE_FULL, f"{len(self._pending)} state requests are "
                                 "in flight at the bridge; try again")
        except StateError as error:
            self.refused += 1
            self._reply(identity, error_reply(request.op, request.id, error))
            return
        route = next(self._routes)
        self._pending[route] = (identity, request.op, request.id)
        link.writer.writelines(pack_routed(route, frames))
        self.forwarded += 1

    def _reply(self, identity: bytes, reply: StateReply) -> None:
        self._send(identity, encode_reply(reply))

    def _send(self, identity: bytes, frames: list[bytes | memoryview] | list[bytes]) -> None:
        with contextlib.suppress(zmq.Again):  # the client's pipe is full: its loss
            self._router.send_multipart([identity, *frames], flags=zmq.NOBLOCK)

    async def _connected(self) -> _Link:
        if self._link is not None:
            return self._link
        if self._refusal is not None:
            raise StateError(Code.UNAVAILABLE, self._refusal)
        if self._connecting is None:
            self._connecting = asyncio.ensure_future(self._connect())
        link = await asyncio.shield(self._connecting)
        if link is None:
            raise StateError(Code.UNAVAILABLE, self._refusal or SPINNAKER_REFUSAL)
        return link

    async def _connect(self) -> _Link | None:
        errors = []
        try:
            for host, port in self._boards:
                try:
                    reader, writer = await wait_until(
                        asyncio.open_connection(host, port), self._clock,
                        deadline_after(self._clock, self._timeout))
                except (OSError, TimeoutError) as error:
                    errors.append(f"{host}:{port}: {error or 'no answer'}")
                    continue
                link = self._link = _Link(reader, writer)
                link.task = asyncio.ensure_future(self._read(link))
                logger.info("state plane: linked to the engine at tcp %s:%d", host, port)
                return link
            self._refusal = f"{SPINNAKER_REFUSAL} (no state service at {'; '.join(errors)})"
            logger.info("state plane unavailable this epoch: %s", errors)
            return None
        finally:
            self._connecting = None

    async def _read(self, link: _Link) -> None:
        messages = MessageReader()
        why = "the engine closed the state link (the run ended)"
        try:
            while data := await link.reader.read(1 << 20):
                for frames in messages.feed(data):
                    self._from_engine(frames)
        except (OSError, StateError) as error:
            why = f"the state link to the engine broke ({error})"
        finally:
            if self._link is link:
                self._close_link(why)

    def _from_engine(self, frames: list[bytes]) -> None:
        routed = split_routed(frames)
        if routed is None:
            logger.warning("state plane: a message from the engine without a route, dropped")
            return
        route, body = routed
        if route == 0:
            self._snapshot(body)
            return
        asked = self._pending.pop(route, None)
        if asked is not None:
            self._send(asked[0], body)

    def _snapshot(self, frames: list[bytes]) -> None:
        try:
            reply = decode_reply(frames)
        except StateError as error:
            logger.warning("state plane: a bad snapshot from the engine (%s), dropped", error)
            return
        topic = str(reply.info.get("topic", ""))
        if reply.values is not None and topic.startswith("state/"):
            self.snapshots += 1
            self._publish(topic.encode(), int(reply.tick or 0), reply.values)

    def _close_link(self, why: str) -> None:
        link, self._link = self._link, None
        if link is not None:
            link.writer.close()
            if link.task is not None and link.task is not asyncio.current_task():
                link.task.cancel()
        pending, self._pending = self._pending, {}
        for identity, op, number in pending.values():
            self._reply(identity, StateReply(op=op, id=number, ok=False, code=Code.UNAVAILABLE,
                                             message=why))
        if pending:
            logger.info("state plane: %d requests in flight answered 'unavailable': %s",
                        len(pending), why)

    def close(self) -> None:
        self._close_link("the bridge is closing")
