"""The ZeroMQ side: an XPUB publisher with per-topic queues, and the subscription watcher.

Theory of operation
-------------------
Every published message is three frames, ``[topic, header, payload]`` (wire-format.md §2-3).
:class:`Publisher` stamps the header with a per-topic sequence number when the message is
*accepted*, so every loss after that point, in the bridge or in libzmq, shows as a gap at the
subscriber. Sends are ``NOBLOCK`` on a synchronous shadow of the XPUB socket, from the event
loop thread only, so a slow or dead subscriber can never stall the UDP path:

* by default (``lossless=False``) libzmq drops for a subscriber whose pipe has reached SNDHWM,
  that subscriber only, silently: the bridge cannot count it, so the subscriber does, against
  the totals below (reason ``hwm``);
* with ``lossless=True`` (XPUB_NODROP) a full pipe makes the send fail with EAGAIN; the message
  then waits in its topic's bounded queue (``topic_queue``), which is retried every millisecond
  and, when full, drops by the topic's :class:`OverflowPolicy`, counted as ``queue_full``.

XPUB_VERBOSE/VERBOSER pass every (un)subscription up, so the bridge knows which topics have a
subscriber: a message for a topic nobody wants is counted as ``no_subscriber`` and not sent.
A subscription to ``sync/<token>`` is answered at once with one message on that topic; since
subscriptions on one connection apply in order, a client that has seen it knows all its earlier
subscriptions are live (the slow-joiner problem, closed without sleeping).

Accounting for the drops libzmq makes silently: the sync answer carries every topic's
:meth:`totals` (messages and events handed to ZeroMQ so far, the next sequence number, the
bridge's own drops), and so can any JSON body (``lifecycle``, ``stats``). A JSON body given as a
callable is rendered when the message is *handed to ZeroMQ*, not when it is accepted, so the
totals it carries count exactly the messages ahead of it in every subscriber's pipe: a
subscriber that reads it knows that whatever of those it did not receive was dropped for it.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
import zmq
import zmq.asyncio

from spinnlive.bridge.config import BridgeConfig, OverflowPolicy
from spinnlive.bridge.stats import StreamCounters, StreamStatistics
from spinnlive.wire.header import new_bridge_identity
from spinnlive.wire.output import encode_json, json_frames, snapshot_frames, spike_frames
from spinnlive.wire.topics import SYNC

__all__ = ["Publisher", "make_xpub"]

logger = logging.getLogger(__name__)

_RETRY_S = 0.001
#: pyzmq's advice: below this, copying a frame is cheaper than tracking a zero-copy one.
_COPY_THRESHOLD = 65536

_Frames = tuple[bytes, bytes, Any]
#: the frames (or a function rendering a JSON message's frames at hand-off), and its events
_Message = tuple[_Frames | Callable[[], _Frames], int]
#: A JSON body, or a function making it when the message is handed to ZeroMQ.
JsonBody = dict[str, Any] | Callable[[], dict[str, Any]]


class _Topic:
    __slots__ = ("counters", "name", "queue")

    def __init__(self, name: bytes) -> None:
        self.name = name
        self.counters = StreamCounters(name.decode())
        self.queue: collections.deque[_Message] = collections.deque()


class Publisher:
    """The output socket. Call :meth:`publish` from the event loop; never blocks."""

    def __init__(self, sock: zmq.asyncio.Socket, config: BridgeConfig) -> None:
        self._async = sock
        self._sock: zmq.Socket[bytes] = zmq.Socket.shadow(sock.underlying)
        self._limit = config.topic_queue
        self._policy = config.overflow
        self._topics: dict[bytes, _Topic] = {}
        self._subs: collections.Counter[bytes] = collections.Counter()
        self._wanted: dict[bytes, bool] = {}
        #: the run epoch the bridge is in; sync answers carry it in their header (§2)
        self.epoch = 0
        #: this bridge's identity, in every header (a reader sees a restarted bridge by it)
        self.bridge = new_bridge_identity()
        self._retry: asyncio.TimerHandle | None = None
        self._watcher: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._watcher = asyncio.ensure_future(self._watch_subscriptions())

    def close(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
        if self._retry is not None:
            self._retry.cancel()

    # -- publishing -------------------------------------------------------------------------

    def publish(self, topic: bytes, epoch: int, tick: int, ids: npt.NDArray[np.uint32],
                flags: int = 0) -> None:
        """One spike batch: ``ids`` as little-endian uint32."""
        state = self._state(topic)
        frames = spike_frames(topic, epoch, tick, state.counters.next_sequence(), ids, flags,
                              self.bridge)
        self._accept(state, (frames, int(ids.size)))

    def publish_values(self, topic: bytes, epoch: int, tick: int,
                       values: npt.NDArray[np.float64]) -> None:
        """One state-plane snapshot (``state/<n>``): ``values`` as little-endian float64."""
        state = self._state(topic)
        frames = snapshot_frames(topic, epoch, tick, state.counters.next_sequence(), values,
                                 self.bridge)
        self._accept(state, (frames, int(values.size)))

    def publish_json(self, topic: bytes, epoch: int, body: JsonBody, tick: int = 0) -> None:
        """A JSON message; a callable ``body`` is called when the message is handed to ZeroMQ
        (so totals inside it match what precedes it in every pipe)."""
        make = body if callable(body) else (lambda: body)
        sequence = self._state(topic).counters.next_sequence()
        self._accept(self._topics[topic],
                     (lambda: json_frames(topic, epoch, sequence, encode_json(make()), tick,
                                          self.bridge), 0))

    def _state(self, topic: bytes) -> _Topic:
        state = self._topics.get(topic)
        if state is None:
            state = self._topics[topic] = _Topic(topic)
        return state

    def _accept(self, state: _Topic, message: _Message) -> None:
        if not self._is_wanted(state.name):
            state.counters.drop("no_subscriber", message[1])
            return
        if state.queue or not self._send(state, message):
            self._enqueue(state, message)

    def _send(self, state: _Topic, message: _Message) -> bool:
        frames, events = message
        counters = state.counters
        # counted as handed before a JSON body is rendered, so a body's totals count the
        # message itself too: its topic's messages == sequence, as for every other topic
        counters.messages += 1
        counters.events += events
        if callable(frames):  # JSON rendered now: its totals count what went before it
            frames = frames()
        try:
            self._sock.send_multipart(frames, flags=zmq.NOBLOCK,
                                      copy=_nbytes(frames[2]) < _COPY_THRESHOLD)
        except zmq.ZMQError as exc:
            counters.messages -= 1
            counters.events -= events
            if isinstance(exc, zmq.Again):
                return False
            counters.drop("send_error", events)
            logger.warning("publishing on %s failed: %s", state.name.decode(), exc)
        return True

    def _enqueue(self, state: _Topic, message: _Message) -> None:
        queue = state.queue
        if len(queue) >= self._limit:
            if self._policy is OverflowPolicy.DROP_NEWEST:
                state.counters.drop("queue_full", message[1])
                return
            state.counters.drop("queue_full", queue.popleft()[1])
        queue.append(message)
        state.counters.queue_peak = max(state.counters.queue_peak, len(queue))
        if self._retry is None:
            self._retry = asyncio.get_running_loop().call_later(_RETRY_S, self._drain)

    def _drain(self) -> None:
        self._retry = None
        pending = False
        for state in self._topics.values():
            queue = state.queue
            while queue and self._send(state, queue[0]):
                queue.popleft()
            pending = pending or bool(queue)
        if pending:
            self._retry = asyncio.get_running_loop().call_later(_RETRY_S, self._drain)

    # -- subscriptions ----------------------------------------------------------------------

    def _is_wanted(self, topic: bytes) -> bool:
        wanted = self._wanted.get(topic)
        if wanted is None:
            wanted = self._wanted[topic] = any(topic.startswith(p) for p in self._subs)
        return wanted

    def subscribers(self, topic: bytes) -> int:
        return sum(n for prefix, n in self._subs.items() if topic.startswith(prefix))

    async def _watch_subscriptions(self) -> None:
        while True:
            try:
                message = await self._async.recv()
            except zmq.ZMQError:  # the socket closed under us
                return
            if not message:
                continue
            prefix = bytes(message[1:])
            if message[0] == 1:
                self._subs[prefix] += 1
                if prefix.startswith(SYNC):
                    self._wanted.clear()
                    self.publish_json(prefix, self.epoch, lambda: {"event": "sync",
                                                          "streams": self.totals()})
            elif message[0] == 0 and self._subs[prefix] > 0:
                self._subs[prefix] -= 1
                if not self._subs[prefix]:
                    del self._subs[prefix]
            self._wanted.clear()

    # -- statistics -------------------------------------------------------------------------

    def statistics(self) -> dict[str, StreamStatistics]:
        return {name.decode(): state.counters.snapshot(len(state.queue), self.subscribers(name))
                for name, state in self._topics.items() if not name.startswith(SYNC)}

    def totals(self) -> dict[str, dict[str, Any]]:
        """Per topic, what a subscriber accounts its losses against (wire-format.md §8)."""
        return {name.decode(): state.counters.snapshot().totals()
                for name, state in self._topics.items() if not name.startswith(SYNC)}


def _nbytes(payload: Any) -> int:
    return int(payload.nbytes) if isinstance(payload, np.ndarray) else len(payload)


def make_xpub(context: zmq.asyncio.Context, config: BridgeConfig) -> zmq.asyncio.Socket:
    """The output socket with the options this module relies on (not yet bound)."""
    sock = context.socket(zmq.XPUB)
    sock.setsockopt(zmq.SNDHWM, config.sndhwm)
    sock.setsockopt(zmq.XPUB_VERBOSE, 1)
    sock.setsockopt(zmq.XPUB_VERBOSER, 1)
    sock.setsockopt(zmq.XPUB_NODROP, int(config.lossless))
    sock.setsockopt(zmq.LINGER, 0)
    return sock
