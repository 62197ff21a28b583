"""The asyncio client of the bridge: ``async with spinnlive.connect() as client: ...``.

Theory of operation
-------------------
A client needs one address, the bridge's discovery endpoint (``tcp://127.0.0.1:5570`` by
default). :func:`connect` asks it for the JSON description (docs/wire-format.md §5), which names
the publish and input endpoints, the populations and their sizes; the client never sees the
SQLite file or a routing key. Then:

* :meth:`Client.subscribe` opens one SUB socket for any number of topics (``spikes/`` for every
  population, ``lifecycle``, ...): messages of one publisher reach one socket in publish order,
  so a co-simulator or a recorder paced by the network's ticks reads them there, as
  :mod:`spinnlive.wire` records (:class:`~spinnlive.wire.SpikeBatch`, :class:`~spinnlive.wire.Notice`).
* :meth:`Client.spikes` is the same for one population, read as ``(tick, ids)``, with its loss
  account: the per-topic sequence number in each header counts the messages missed in
  mid-stream (``gaps``), and the totals that the sync answer, ``paused``, ``closing`` and every
  ``stats`` carry, read in order with the spikes, say exactly how many messages and events
  libzmq dropped for this subscriber at its high-water mark (:meth:`SpikeStream.statistics`,
  :meth:`SpikeStream.checkpoint`, docs/wire-format.md §8).
* Both close the slow-joiner window the same way (:meth:`ready`): the last subscription is a
  ``sync/<token>``, and its answer proves every earlier one live. What to subscribe and what
  each message read means is :class:`spinnlive.wire.subscriber.Subscriber`'s business; this
  module only moves its frames.
* :meth:`Client.inject`, :meth:`Client.set_rates` and :meth:`Client.ready` send on one PUSH
  socket; at the high-water mark a send waits (bounded by the client's timeout) instead of
  dropping.
* :meth:`Client.started` waits for the ``started`` lifecycle event; once its subscription is
  live it asks the description too, in case the run started before that.

Every wait has a deadline (``timeout``, 5 s by default) and raises :class:`TransportError`
naming the endpoint when it passes; only :meth:`Subscription.receive` returns None instead, so
a loop can log "bridge silent" and go on. :mod:`.blocking` gives plain scripts the same verbs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
import zmq
import zmq.asyncio

from spinnlive.client.state import StateChannel, VariableRead, WeightsRead
from spinnlive.clock import Clock, MonotonicClock, deadline_after, wait_until
from spinnlive.errors import RemoteProtocolError, TransportError
from spinnlive.transport.curve import load_client
from spinnlive.wire.input import Inject, InputMessage, Ready, SetRates, encode_input, ids_array
from spinnlive.wire.ledger import SpikeStreamStatistics
from spinnlive.wire.output import Notice, OutputMessage, SpikeBatch
from spinnlive.wire.subscriber import Subscriber
from spinnlive.wire.topics import DEFAULT_DISCOVERY, LIFECYCLE, SPIKES, label_topic

__all__ = ["Client", "SpikeStream", "Subscription", "VariableRead", "WeightsRead", "connect"]

T = TypeVar("T")
#: How long close() lets queued inject/rates messages reach the bridge (a one-shot sender,
#: such as ``spinnlive inject``, closes right after sending).
_PUSH_LINGER_MS = 1000
#: How long a checkpoint waits for one sync answer before asking again.
_CHECKPOINT_RETRY_S = 0.5


async def _deadline(awaitable: Awaitable[T], clock: Clock, timeout: float, what: str) -> T:
    try:
        return await wait_until(awaitable, clock, deadline_after(clock, timeout))
    except TimeoutError:
        raise TransportError(f"{what} within {timeout:g} s") from None


class Subscription:
    """``async for message in subscription``: every wanted message of one SUB socket, in order.

    Messages read off the socket (by :meth:`ready`, :meth:`checkpoint` or iteration) go through
    the :class:`~spinnlive.wire.subscriber.Subscriber` at once, so its loss ledgers see them in
    socket order; the wanted ones then wait in a deque until they are iterated.
    """

    def __init__(self, client: Client, topics: Iterable[str | bytes], *,
                 rcvhwm: int | None = None, rcvbuf: int | None = None) -> None:
        self.book = Subscriber(topics)
        self._client = client
        self._name = " ".join(t.decode() for t in self.book.topics)
        self._sock = client._socket(zmq.SUB)
        if rcvhwm is not None:
            self._sock.setsockopt(zmq.RCVHWM, rcvhwm)
        if rcvbuf is not None:
            self._sock.setsockopt(zmq.RCVBUF, rcvbuf)
        self._sock.connect(client.endpoints["publish"])
        #: the same socket, synchronous: reads what it already holds without awaiting
        self._now: zmq.Socket[bytes] = zmq.Socket.shadow(self._sock.underlying)
        for topic in self.book.subscriptions():
            self._sock.setsockopt(zmq.SUBSCRIBE, topic)
        self._pending: deque[OutputMessage] = deque()

    @property
    def socket(self) -> zmq.asyncio.Socket:
        """The SUB socket, for a poller that waits on several sockets at once."""
        return self._sock

    @property
    def buffered(self) -> int:
        """Messages read off the socket (by :meth:`checkpoint`) and not yet iterated."""
        return len(self._pending)

    def statistics(self, topic: str | bytes) -> SpikeStreamStatistics:
        """The loss account of one whole ``spikes/<label>`` topic subscribed here."""
        return self.book.statistics(topic)

    async def ready(self, timeout: float | None = None) -> None:
        """Return once the subscriptions are live at the bridge (nothing published later is
        lost to a slow join)."""
        await _deadline(self._read_until(lambda: self.book.live), self._client.clock,
                        self._limit(timeout),
                        f"bridge {self._client.endpoints['publish']} did not "
                        f"confirm the subscription to {self._name}")

    async def checkpoint(self, timeout: float | None = None) -> None:
        """Read the totals in order with this socket (a fresh sync answer carries them).

        Reads until the answer arrives, keeping the messages on the way for iteration. A
        stalled subscriber's pipe may be full when the answer is sent, so libzmq drops it too;
        the request is then repeated (a fresh token) every 0.5 s until ``timeout``. Do not
        iterate from another task meanwhile.
        """
        limit, clock = self._limit(timeout), self._client.clock
        end = deadline_after(clock, limit)
        seen = self.book.markers
        while True:
            old, new = self.book.renew_token()
            self._sock.setsockopt(zmq.UNSUBSCRIBE, old)
            self._sock.setsockopt(zmq.SUBSCRIBE, new)
            try:
                await wait_until(self._read_until(lambda: self.book.markers > seen), clock,
                                 min(deadline_after(clock, _CHECKPOINT_RETRY_S), end))
                return
            except TimeoutError:
                if clock.now() >= end:
                    raise TransportError(f"bridge {self._client.endpoints['publish']} sent no "
                                         f"totals for {self._name} within {limit:g} s") from None

    async def receive(self, timeout: float | None = None) -> OutputMessage | None:
        """The next message, or None when none came within ``timeout`` (the client's); with
        ``timeout`` 0, what the socket already holds (after a poller said it is readable).

        It waits with ``poll`` and reads without blocking, so a message that is already
        there is taken at once, and an edge of the socket's descriptor is never lost to an
        earlier read."""
        clock = self._client.clock
        end = deadline_after(clock, self._limit(timeout))
        while True:
            while not self._pending:
                try:
                    self._take(self._now.recv_multipart(zmq.NOBLOCK))
                except zmq.Again:
                    break
            if self._pending:
                return self._pending.popleft()
            if clock.now() >= end:
                return None
            with contextlib.suppress(TimeoutError):
                await wait_until(self._sock.poll(), clock, end)

    def __aiter__(self) -> AsyncIterator[OutputMessage]:
        return self

    async def __anext__(self) -> OutputMessage:
        await self._read_until(lambda: bool(self._pending))
        # A socket that holds a message answers ``recv`` with a finished future, and awaiting
        # one does not give the loop back: iterating a busy stream would starve every other
        # task of the loop until that stream ran dry (a sparse stream's spikes of tick 69
        # reached its reader 4.7 s late, behind 500 k events/s of noise on another stream).
        await asyncio.sleep(0)
        return self._pending.popleft()

    def close(self) -> None:
        self._sock.close(linger=0)

    def _limit(self, timeout: float | None) -> float:
        return self._client.timeout if timeout is None else timeout

    async def _read_until(self, done: Callable[[], bool]) -> None:
        while not done():
            self._take(await self._sock.recv_multipart())

    def _take(self, frames: list[bytes]) -> None:
        try:
            message = self.book.take(frames)
        except RemoteProtocolError as exc:
            raise TransportError(f"{self._name}: {exc}") from None
        if message is not None:
            self._pending.append(message)


class SpikeStream:
    """``async for tick, ids in stream``: one population's spikes, in order, losses counted."""

    def __init__(self, client: Client, label: str, *, rcvhwm: int | None = None,
                 rcvbuf: int | None = None) -> None:
        self.label = label
        self.topic = label_topic(SPIKES, label)
        self.subscription = Subscription(client, [self.topic], rcvhwm=rcvhwm, rcvbuf=rcvbuf)
        self._client = client
        self._ledger = self.subscription.book.ledgers[self.topic]
        #: header flags of the last batch (FLAG_DEADLINE: more of that tick may follow)
        self.flags = 0

    @property
    def epoch(self) -> int | None:
        """The epoch of the last spike message read."""
        return self._ledger.epoch

    @property
    def gaps(self) -> int:
        """Messages seen missing as sequence gaps (``statistics().gap_messages``)."""
        return self._ledger.gaps

    @property
    def received(self) -> int:
        """Spike messages read off the socket, live or early."""
        return self._ledger.received_messages + self._ledger.early

    @property
    def buffered(self) -> int:
        return self.subscription.buffered

    def statistics(self) -> SpikeStreamStatistics:
        """Received, missed (``hwm``) and bridge-dropped counts (docs/wire-format.md §8)."""
        return self._ledger.statistics()

    async def ready(self, timeout: float | None = None) -> None:
        await self.subscription.ready(timeout)

    async def checkpoint(self, timeout: float | None = None) -> SpikeStreamStatistics:
        """:meth:`Subscription.checkpoint`, then the statistics as of the totals it read."""
        await self.subscription.checkpoint(timeout)
        return self.statistics()

    def __aiter__(self) -> AsyncIterator[tuple[int, npt.NDArray[np.uint32]]]:
        return self

    async def __anext__(self) -> tuple[int, npt.NDArray[np.uint32]]:
        batch = await self.subscription.__anext__()
        assert isinstance(batch, SpikeBatch)  # the one topic is a spike topic
        self.flags = batch.header.flags
        return batch.header.tick, batch.ids

    async def next(self, timeout: float | None = None) -> tuple[int, npt.NDArray[np.uint32]]:
        """The next batch, or :class:`TransportError` after ``timeout`` (the client's default)."""
        limit = self._client.timeout if timeout is None else timeout
        if self.subscription.buffered:  # already read: no deadline to race
            return await self.__anext__()
        return await _deadline(self.__anext__(), self._client.clock, limit,
                               f"no message on {self.topic.decode()}")

    def close(self) -> None:
        self.subscription.close()


class Client:
    """A connection to one bridge; make it with :func:`connect`."""

    def __init__(self, endpoint: str | None = None, *, timeout: float = 5.0,
                 curve: str | Path | None = None, clock: Clock | None = None) -> None:
        """``curve``: the client file of ``spinnlive keys`` for a bridge that uses CURVE;
        ``clock``: what every ``timeout`` is measured on (monotonic time; a test's
        :class:`~spinnlive.clock.VirtualClock` runs them without waiting)."""
        self.discovery = endpoint or DEFAULT_DISCOVERY
        self.timeout = timeout
        self.clock: Clock = clock or MonotonicClock()
        self._keys = load_client(curve) if curve is not None else None
        self.endpoints: dict[str, str] = {}
        #: the latest description read (:meth:`describe`)
        self.description: dict[str, Any] = {}
        self._ctx = zmq.asyncio.Context()
        self._sockets: list[zmq.asyncio.Socket] = []
        self._push: zmq.asyncio.Socket | None = None
        self._state: StateChannel | None = None

    def _socket(self, kind: int) -> zmq.asyncio.Socket:
        sock = self._ctx.socket(kind)
        sock.setsockopt(zmq.LINGER, 0)
        if self._keys is not None:
            self._keys.apply(sock)
        self._sockets.append(sock)
        return sock

    async def open(self) -> Client:
        description = await self.describe()
        self.endpoints = dict(description["endpoints"])
        self._push = self._socket(zmq.PUSH)
        self._push.connect(self.endpoints["input"])
        return self

    async def describe(self) -> dict[str, Any]:
        """A fresh description from the bridge (populations, state, epoch, endpoints)."""
        req = self._ctx.socket(zmq.REQ)
        req.setsockopt(zmq.LINGER, 0)
        if self._keys is not None:
            self._keys.apply(req)
        try:
            req.connect(self.discovery)
            await req.send(b"describe")
            reply = await _deadline(req.recv(), self.clock, self.timeout,
                                    f"no bridge answered at {self.discovery}")
        finally:
            req.close(linger=0)
        self.description = dict(json.loads(reply))
        return self.description

    def subscribe(self, *topics: str | bytes, rcvhwm: int | None = None,
                  rcvbuf: int | None = None) -> Subscription:
        """One SUB socket for ``topics`` (whole topics, or prefixes ending in ``/``)."""
        return Subscription(self, topics, rcvhwm=rcvhwm, rcvbuf=rcvbuf)

    def spikes(self, label: str, *, rcvhwm: int | None = None,
               rcvbuf: int | None = None) -> SpikeStream:
        """A new ordered stream of ``(tick, neuron ids)`` for population ``label``;
        ``rcvhwm``/``rcvbuf`` bound its receive side (messages / kernel bytes)."""
        return SpikeStream(self, label, rcvhwm=rcvhwm, rcvbuf=rcvbuf)

    async def inject(self, label: str, ids: npt.ArrayLike, tick: int | None = None) -> None:
        """Make neurons ``ids`` of injector ``label`` spike now, or AT ``tick`` (the engine
        holds stamped input until its tick; wire-format.md §4)."""
        await self.send(Inject(label, ids_array(ids), tick))

    async def set_rates(self, label: str, ids: npt.ArrayLike, rates: npt.ArrayLike) -> None:
        """Set the Poisson rates (Hz) of neurons ``ids`` of ``label`` (live rate control)."""
        await self.send(SetRates(label, ids_array(ids), np.asarray(rates, dtype="<f4")))

    async def ready(self, epoch: int) -> None:
        """Release the confirmation a ``--hold-confirmation`` bridge holds for ``epoch``."""
        await self.send(Ready(epoch))

    async def send(self, message: InputMessage) -> None:
        """Any input message (``inject``, ``set_rates`` and ``ready`` say it shorter)."""
        frames = encode_input(message)
        if self._push is None:
            raise TransportError("client is not open: use 'async with spinnlive.connect()'")
        await _deadline(self._push.send_multipart(frames), self.clock, self.timeout,
                        f"bridge input {self.endpoints.get('input')} did not take a message")

    # -- the live state plane (docs/wire-format.md, State plane; spinnlive.client.state) -----
    def _state_plane(self) -> StateChannel:
        if self._state is None:
            if "state" not in self.endpoints:
                raise TransportError(f"the bridge at {self.discovery} has no state endpoint")
            self._state = StateChannel(self._ctx, self.endpoints["state"], self.timeout,
                                       self._keys.apply if self._keys is not None else None,
                                       clock=self.clock)
        return self._state

    async def describe_state(self) -> dict[str, Any]:
        """What the engine can read and write: projections, populations, names, the tick now."""
        return await self._state_plane().describe()

    async def weights(self, projection: str, pre: npt.ArrayLike | None = None,
                      post: npt.ArrayLike | None = None, *, tick: int | None = None
                      ) -> WeightsRead:
        """Projection ``projection``'s weights (rows ``pre`` / columns ``post`` only, if
        given), read between ticks at ``tick`` (default: the next one); ``.array()`` is the
        matrix ``Projection.get("weight", format="array")`` gives."""
        return await self._state_plane().weights(projection, pre, post, tick=tick)

    async def set_weights(self, projection: str, values: npt.ArrayLike,
                          pre: npt.ArrayLike | None = None, post: npt.ArrayLike | None = None,
                          *, tick: int | None = None) -> int:
        """Set weights: all (in connection order), ``pre[i] -> post[i]`` pairs, or the rows /
        columns given; one value or one each. Returns the tick they apply from."""
        return await self._state_plane().set_weights(projection, values, pre, post, tick=tick)

    async def get(self, population: str, name: str, ids: npt.ArrayLike | None = None, *,
                  tick: int | None = None) -> VariableRead:
        """A parameter or state variable (``v``, ``i_offset``, ...) of ``population``."""
        return await self._state_plane().get(population, name, ids, tick=tick)

    async def set(self, population: str, name: str, values: npt.ArrayLike,
                  ids: npt.ArrayLike | None = None, *, tick: int | None = None) -> int:
        """Set a parameter of ``population`` (all or ``ids``); returns the tick it applies from."""
        return await self._state_plane().set(population, name, values, ids, tick=tick)

    async def stream_state(self, every: int, *, projection: str | None = None,
                           population: str | None = None, name: str | None = None,
                           tick: int | None = None) -> dict[str, Any]:
        """Publish a projection's weights (or a population's variable) every ``every`` ticks;
        returns ``{"topic": "state/<n>", "stream": n, ...}`` (read it with :meth:`snapshots`)."""
        return await self._state_plane().stream(every, projection=projection,
                                                population=population, name=name, tick=tick)

    async def unstream_state(self, stream: int) -> dict[str, Any]:
        return await self._state_plane().unstream(stream)

    async def started(self, timeout: float | None = None) -> dict[str, Any]:
        """Wait until the simulation runs; returns the ``started`` event or the description."""
        limit = self.timeout if timeout is None else timeout
        lifecycle = self.subscribe(LIFECYCLE)
        try:
            await lifecycle.ready(limit)
            description = await self.describe()  # a 'started' before the sync was missed
            if description["state"] == "running":
                return description
            if description["state"] == "closed":
                raise TransportError(f"the bridge at {self.discovery} closed before its run "
                                     "started")
            while True:
                message = await _deadline(lifecycle.__anext__(), self.clock, limit,
                                          "the bridge did not announce 'started'")
                if isinstance(message, Notice) and message.event == "started":
                    return message.body
                if isinstance(message, Notice) and message.event == "closing":
                    # a run that fails before it starts (a refused network) closes the bridge:
                    # waiting on would only turn the run's own error into a timeout
                    raise TransportError(f"the bridge at {self.discovery} closed before its "
                                         "run started")
        finally:
            lifecycle.close()

    async def close(self) -> None:
        if self._state is not None:
            self._state.close()
        for sock in self._sockets:  # input already sent on may flush for up to 1 s
            sock.close(linger=_PUSH_LINGER_MS if sock is self._push else 0)
        self._ctx.term()

    async def __aenter__(self) -> Client:
        try:
            return await self.open()
        except BaseException:
            await self.close()
            raise

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()


def connect(endpoint: str | None = None, *, timeout: float = 5.0,
            curve: str | Path | None = None, clock: Clock | None = None) -> Client:
    """``async with connect() as client``: the bridge at ``endpoint`` (default: the local one);
    ``curve``: the client file of ``spinnlive keys`` when the bridge uses CURVE; ``clock``:
    what the timeouts are measured on (:class:`Client`)."""
    return Client(endpoint, timeout=timeout, curve=curve, clock=clock)
