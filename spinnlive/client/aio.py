"""The Python client of the bridge: ``async with spinnlive.connect() as client: ...``.

Theory of operation
-------------------
A client needs one address, the bridge's discovery endpoint (``tcp://127.0.0.1:5570`` by
default). :func:`connect` asks it for the JSON description (docs/wire-format.md §5), which names
the publish and input endpoints, the populations and their sizes; the client never sees the
SQLite file or a routing key. Then:

* :meth:`Client.spikes` opens one SUB socket per stream, subscribed to ``spikes/<label>``.
  Messages from one publisher arrive in order; the per-topic sequence number in each header
  tells the stream how many messages it missed in mid-stream (``gaps``).
  :meth:`SpikeStream.ready` closes the slow-joiner window: it subscribes ``sync/<token>`` last
  and waits for the bridge's echo, after which every earlier subscription of that socket is
  live. The echo carries the topic's totals (messages and events handed to ZeroMQ so far), and
  so do ``paused``, ``closing`` and ``stats`` on the same socket, and every later sync echo
  (:meth:`SpikeStream.checkpoint`): each, read in order with the spikes, says exactly how many
  messages and events libzmq dropped for this subscriber at its high-water mark, including
  losses at the end of a run that no later sequence number would reveal
  (:meth:`SpikeStream.statistics`, docs/wire-format.md §8).
* :meth:`Client.inject` and :meth:`Client.set_rates` send on one PUSH socket; at the high-water
  mark a send waits (bounded by the client's timeout) instead of dropping.
* :meth:`Client.started` waits for the ``started`` lifecycle event; once a sync echo shows its
  subscription is live, it asks the description too, in case the run started before that.

Every wait has a deadline (``timeout``, 5 s by default) and raises :class:`TransportError`
naming the endpoint when it passes. :class:`SyncClient` wraps all of this for plain scripts with
a private event loop, no threads.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from types import TracebackType
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
import zmq
import zmq.asyncio

from spinnlive.errors import RemoteProtocolError, TransportError
from spinnlive.state_client import StateChannel, VariableRead, WeightsRead
from spinnlive.wire.input import Inject, InputMessage, Ready, SetRates, encode_input, ids_array
from spinnlive.wire.ledger import SpikeStreamStatistics, StreamLedger
from spinnlive.wire.output import Notice, SpikeBatch, decode_output
from spinnlive.wire.topics import DEFAULT_DISCOVERY, LIFECYCLE, SPIKES, STATS, label_topic

__all__ = ["Client", "SpikeStream", "SpikeStreamStatistics", "SyncClient", "SyncSpikeStream",
           "VariableRead", "WeightsRead", "connect"]

T = TypeVar("T")
#: How long close() lets queued inject/rates messages reach the bridge (a one-shot sender,
#: such as ``spinnlive inject``, closes right after sending).
_PUSH_LINGER_MS = 1000
_tokens = itertools.count()
#: Topics whose JSON bodies may carry the output totals (docs/wire-format.md §8).
_TOTALS_TOPICS = (LIFECYCLE, STATS)
#: How long a checkpoint waits for one sync answer before asking again.
_CHECKPOINT_RETRY_S = 0.5


async def _deadline(awaitable: Awaitable[T], timeout: float, what: str) -> T:
    try:
        return await asyncio.wait_for(awaitable, timeout)
    except asyncio.TimeoutError:
        raise TransportError(f"{what} within {timeout:g} s") from None


class SpikeStream:
    """``async for tick, ids in stream``: one population's spikes, in order, losses counted.

    One SUB socket, subscribed to the topic, to ``lifecycle`` and ``stats`` (which may carry
    totals) and to this stream's ``sync/<token>``s. Every message goes into the
    :class:`~spinnlive.wire.ledger.StreamLedger` when it is read off the socket; spike
    batches then wait in a deque until iterated, so a :meth:`checkpoint` can read past them.
    """

    def __init__(self, client: Client, label: str, *, rcvhwm: int | None = None,
                 rcvbuf: int | None = None) -> None:
        self.label = label
        self.topic = label_topic(SPIKES, label)
        self._name = self.topic.decode()
        self._client = client
        self._sock = client._socket(zmq.SUB)
        if rcvhwm is not None:
            self._sock.setsockopt(zmq.RCVHWM, rcvhwm)
        if rcvbuf is not None:
            self._sock.setsockopt(zmq.RCVBUF, rcvbuf)
        self._sock.connect(client.endpoints["publish"])
        for topic in (self.topic, *_TOTALS_TOPICS):
            self._sock.setsockopt(zmq.SUBSCRIBE, topic)
        self._sync = f"sync/{os.getpid()}-{id(self)}-{next(_tokens)}/".encode()
        self._attempts = itertools.count()
        self._token = self._subscribe_sync()
        self._pending: deque[tuple[int, npt.NDArray[np.uint32], int]] = deque()
        self._ledger = StreamLedger(self._name)
        #: header flags of the last message (FLAG_DEADLINE: more of that tick may follow)
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
        """Batches read off the socket (by :meth:`checkpoint`) and not yet iterated."""
        return len(self._pending)

    def statistics(self) -> SpikeStreamStatistics:
        """Received, missed (``hwm``) and bridge-dropped counts (docs/wire-format.md §8)."""
        return self._ledger.statistics()

    async def ready(self, timeout: float | None = None) -> None:
        """Return once the subscription is live at the bridge (nothing published later is lost)."""
        limit = self._client.timeout if timeout is None else timeout
        await _deadline(self._read_until(lambda: self._ledger.live), limit,
                        f"bridge {self._client.endpoints['publish']} did not "
                        f"confirm the subscription to {self._name}")

    async def checkpoint(self, timeout: float | None = None) -> SpikeStreamStatistics:
        """Read the topic's totals in order with this stream and return the statistics then.

        Asks for a sync answer (it carries the totals) and reads until it arrives, keeping the
        spike batches on the way for iteration. A stalled subscriber's pipe may be full when the
        answer is sent, so libzmq drops it too; the request is then repeated (a fresh token)
        every 0.5 s until ``timeout``. Do not iterate the stream from another task meanwhile.
        """
        limit = self._client.timeout if timeout is None else timeout
        loop = asyncio.get_running_loop()
        end = loop.time() + limit
        seen = self._ledger.markers
        while True:
            self._sock.setsockopt(zmq.UNSUBSCRIBE, self._token)
            self._token = self._subscribe_sync()
            try:
                await asyncio.wait_for(self._read_until(lambda: self._ledger.markers > seen),
                                       max(min(_CHECKPOINT_RETRY_S, end - loop.time()), 0))
                return self.statistics()
            except TimeoutError:
                if loop.time() >= end:
                    raise TransportError(f"bridge {self._client.endpoints['publish']} sent no "
                                         f"totals for {self._name} within {limit:g} s") from None

    def _subscribe_sync(self) -> bytes:
        token = self._sync + str(next(self._attempts)).encode()
        self._sock.setsockopt(zmq.SUBSCRIBE, token)
        return token

    async def _read_until(self, done: Callable[[], bool]) -> None:
        while not done():
            self._take(await self._sock.recv_multipart())

    def _take(self, frames: list[bytes]) -> None:
        """Account for one message read off the socket; keep a spike batch for iteration."""
        try:
            message = decode_output(frames)
        except RemoteProtocolError as exc:
            raise TransportError(f"{self._name}: {exc}") from None
        if isinstance(message, Notice):
            ours = message.topic.startswith(self._sync)
            if ours or message.topic in _TOTALS_TOPICS:
                self._ledger.totals(message.body, sync=ours)
            return
        if not isinstance(message, SpikeBatch) or message.topic != self.topic:
            return  # a longer label sharing our prefix, or a state snapshot
        header = message.header
        self._ledger.spike(header.epoch, header.sequence, header.count)
        self._pending.append((header.tick, message.ids, header.flags))

    def __aiter__(self) -> AsyncIterator[tuple[int, npt.NDArray[np.uint32]]]:
        return self

    async def __anext__(self) -> tuple[int, npt.NDArray[np.uint32]]:
        await self._read_until(lambda: bool(self._pending))
        tick, ids, self.flags = self._pending.popleft()
        return tick, ids

    async def next(self, timeout: float | None = None) -> tuple[int, npt.NDArray[np.uint32]]:
        """The next batch, or :class:`TransportError` after ``timeout`` (the client's default)."""
        limit = self._client.timeout if timeout is None else timeout
        return await _deadline(self.__anext__(), limit, f"no message on {self._name}")

    def close(self) -> None:
        self._sock.close(linger=0)


class Client:
    """A connection to one bridge; make it with :func:`connect`."""

    def __init__(self, endpoint: str | None = None, *, timeout: float = 5.0) -> None:
        self.discovery = endpoint or DEFAULT_DISCOVERY
        self.timeout = timeout
        self.endpoints: dict[str, str] = {}
        self._ctx = zmq.asyncio.Context()
        self._sockets: list[zmq.asyncio.Socket] = []
        self._push: zmq.asyncio.Socket | None = None
        self._sizes: dict[tuple[str, str], int] = {}
        self._state: StateChannel | None = None

    def _socket(self, kind: int) -> zmq.asyncio.Socket:
        sock = self._ctx.socket(kind)
        sock.setsockopt(zmq.LINGER, 0)
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
        try:
            req.connect(self.discovery)
            await req.send(b"describe")
            reply = await _deadline(req.recv(), self.timeout,
                                    f"no bridge answered at {self.discovery}")
        finally:
            req.close(linger=0)
        description: dict[str, Any] = json.loads(reply)
        self._sizes = {(p["direction"], p["label"]): p["size"]
                       for p in description["populations"]}
        return description

    def spikes(self, label: str, *, rcvhwm: int | None = None,
               rcvbuf: int | None = None) -> SpikeStream:
        """A new ordered stream of ``(tick, neuron ids)`` for population ``label``;
        ``rcvhwm``/``rcvbuf`` bound its receive side (messages / kernel bytes)."""
        return SpikeStream(self, label, rcvhwm=rcvhwm, rcvbuf=rcvbuf)

    async def inject(self, label: str, ids: npt.ArrayLike, tick: int | None = None) -> None:
        """Make neurons ``ids`` of injector ``label`` spike now, or AT ``tick`` (the engine
        holds stamped input until its tick; wire-format.md §4)."""
        await self.send(Inject(label, ids_array(ids), tick))

    async def ready(self, epoch: int) -> None:
        """Release the confirmation a ``--hold-confirmation`` bridge holds for ``epoch``."""
        await self.send(Ready(epoch))

    async def set_rates(self, label: str, ids: npt.ArrayLike, rates: npt.ArrayLike) -> None:
        """Set the Poisson rates (Hz) of neurons ``ids`` of ``label`` (live rate control)."""
        await self.send(SetRates(label, ids_array(ids), np.asarray(rates, dtype="<f4")))

    async def send(self, message: InputMessage) -> None:
        """Any input message (``inject``, ``set_rates`` and ``ready`` say it shorter)."""
        await self._send(encode_input(message))

    async def _send(self, frames: list[bytes]) -> None:
        if self._push is None:
            raise TransportError("client is not open: use 'async with spinnlive.connect()'")
        await _deadline(self._push.send_multipart(frames), self.timeout,
                        f"bridge input {self.endpoints.get('input')} did not take a message")

    # -- the live state plane (docs/wire-format.md, State plane; spinnlive.state_client) -----
    def _state_plane(self) -> StateChannel:
        if self._state is None:
            if "state" not in self.endpoints:
                raise TransportError(f"the bridge at {self.discovery} has no state endpoint")
            self._state = StateChannel(self._ctx, self.endpoints["state"], self.timeout)
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
        sub = self._socket(zmq.SUB)
        token = f"sync/{os.getpid()}-started-{next(_tokens)}".encode()
        try:
            sub.connect(self.endpoints["publish"])
            sub.setsockopt(zmq.SUBSCRIBE, b"lifecycle")
            sub.setsockopt(zmq.SUBSCRIBE, token)  # its echo: 'lifecycle' is live (slow joiner)
            live = False
            while True:
                frames = await _deadline(sub.recv_multipart(), limit,
                                         "the bridge did not announce 'started'")
                if frames[0] == token:
                    if not live:  # a 'started' before this point was missed: ask instead
                        live = True
                        description = await self.describe()
                        if description["state"] == "running":
                            return description
                elif json.loads(frames[2]).get("event") == "started":
                    return dict(json.loads(frames[2]))
        finally:
            sub.close(linger=0)

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


def connect(endpoint: str | None = None, *, timeout: float = 5.0) -> Client:
    """``async with connect() as client``: the bridge at ``endpoint`` (default: the local one)."""
    return Client(endpoint, timeout=timeout)


class SyncSpikeStream:
    """``for tick, ids in stream``; each wait is bounded by ``timeout`` (the client's default)."""

    def __init__(self, owner: SyncClient, stream: SpikeStream, timeout: float | None) -> None:
        self._owner = owner
        self.stream = stream
        self._timeout = timeout
        owner._run(stream.ready(timeout))

    @property
    def gaps(self) -> int:
        return self.stream.gaps

    def statistics(self) -> SpikeStreamStatistics:
        return self.stream.statistics()

    def checkpoint(self) -> SpikeStreamStatistics:
        """:meth:`SpikeStream.checkpoint`, bounded by this stream's timeout."""
        return self._owner._run(self.stream.checkpoint(self._timeout))

    def __iter__(self) -> Iterator[tuple[int, npt.NDArray[np.uint32]]]:
        return self

    def __next__(self) -> tuple[int, npt.NDArray[np.uint32]]:
        return self._owner._run(self.stream.next(self._timeout))

    def close(self) -> None:
        self.stream.close()


class SyncClient:
    """The same client for plain scripts: every call runs to completion on a private loop."""

    def __init__(self, endpoint: str | None = None, *, timeout: float = 5.0) -> None:
        self._loop = asyncio.new_event_loop()
        self._client = Client(endpoint, timeout=timeout)
        self._run(self._client.__aenter__())

    def _run(self, awaitable: Awaitable[T]) -> T:
        return self._loop.run_until_complete(awaitable)

    def describe(self) -> dict[str, Any]:
        return self._run(self._client.describe())

    def inject(self, label: str, ids: npt.ArrayLike) -> None:
        self._run(self._client.inject(label, ids))

    def set_rates(self, label: str, ids: npt.ArrayLike, rates: npt.ArrayLike) -> None:
        self._run(self._client.set_rates(label, ids, rates))

    def started(self, timeout: float | None = None) -> dict[str, Any]:
        return self._run(self._client.started(timeout))

    def describe_state(self) -> dict[str, Any]:
        return self._run(self._client.describe_state())

    def weights(self, projection: str, pre: npt.ArrayLike | None = None,
                post: npt.ArrayLike | None = None, *, tick: int | None = None) -> WeightsRead:
        return self._run(self._client.weights(projection, pre, post, tick=tick))

    def set_weights(self, projection: str, values: npt.ArrayLike,
                    pre: npt.ArrayLike | None = None, post: npt.ArrayLike | None = None, *,
                    tick: int | None = None) -> int:
        return self._run(self._client.set_weights(projection, values, pre, post, tick=tick))

    def get(self, population: str, name: str, ids: npt.ArrayLike | None = None, *,
            tick: int | None = None) -> VariableRead:
        return self._run(self._client.get(population, name, ids, tick=tick))

    def set(self, population: str, name: str, values: npt.ArrayLike,
            ids: npt.ArrayLike | None = None, *, tick: int | None = None) -> int:
        return self._run(self._client.set(population, name, values, ids, tick=tick))

    def spikes(self, label: str, timeout: float | None = None) -> SyncSpikeStream:
        """A live subscription (already confirmed by the bridge) to ``label``'s spikes."""
        return SyncSpikeStream(self, self._client.spikes(label), timeout)

    def close(self) -> None:
        if not self._loop.is_closed():
            self._run(self._client.close())
            self._loop.close()

    def __enter__(self) -> SyncClient:
        return self

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
