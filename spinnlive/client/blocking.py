"""The same client for plain scripts and loops that own their thread (NEST, replay, a recorder).

:class:`SyncClient` has :class:`~spinnlive.client.aio.Client`'s verbs; each call runs the
asyncio client to completion on a private event loop (no thread), so there is one
implementation of the contract and the two flavours cannot drift apart. Every wait is bounded:
by the client's ``timeout``, or by the one a call is given.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
import zmq.asyncio

from spinnlive.client.aio import Client, SpikeStream, Subscription
from spinnlive.client.state import VariableRead, WeightsRead
from spinnlive.clock import Clock
from spinnlive.closing import Closing
from spinnlive.wire.input import InputMessage
from spinnlive.wire.ledger import SpikeStreamStatistics
from spinnlive.wire.output import OutputMessage

__all__ = ["SyncClient", "SyncSpikeStream", "SyncSubscription"]

T = TypeVar("T")


class SyncSubscription:
    """:class:`~spinnlive.client.aio.Subscription`, blocking; already live when made."""

    def __init__(self, owner: SyncClient, subscription: Subscription,
                 timeout: float | None) -> None:
        self._owner = owner
        self.subscription = subscription
        self._timeout = timeout
        owner._run(subscription.ready(timeout))

    @property
    def socket(self) -> zmq.asyncio.Socket:
        """The SUB socket: register it with a ``zmq.Poller`` beside the caller's own."""
        return self.subscription.socket

    @property
    def buffered(self) -> int:
        """Messages already read off the socket (a poller does not see them)."""
        return self.subscription.buffered

    def receive(self, timeout: float | None = None) -> OutputMessage | None:
        """The next message, or None when none came within ``timeout``."""
        return self._owner._run(self.subscription.receive(
            self._timeout if timeout is None else timeout))

    def checkpoint(self) -> None:
        self._owner._run(self.subscription.checkpoint(self._timeout))

    def statistics(self, topic: str | bytes) -> SpikeStreamStatistics:
        return self.subscription.statistics(topic)

    def __iter__(self) -> Iterator[OutputMessage]:
        while True:
            message = self.receive()
            if message is None:
                return
            yield message

    def close(self) -> None:
        self.subscription.close()


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


class SyncClient(Closing):
    """The asyncio client's verbs, each run to completion on a private loop."""

    def __init__(self, endpoint: str | None = None, *, timeout: float = 5.0,
                 curve: str | Path | None = None, clock: Clock | None = None) -> None:
        """The arguments are :class:`~spinnlive.client.aio.Client`'s."""
        self._loop = asyncio.new_event_loop()
        self._client = Client(endpoint, timeout=timeout, curve=curve, clock=clock)
        try:
            self._run(self._client.__aenter__())
        except BaseException:
            self._loop.close()
            raise

    @property
    def discovery(self) -> str:
        return self._client.discovery

    @property
    def timeout(self) -> float:
        return self._client.timeout

    @property
    def endpoints(self) -> dict[str, str]:
        return self._client.endpoints

    @property
    def description(self) -> dict[str, Any]:
        """The latest description read (on connecting, or by :meth:`describe`)."""
        return self._client.description

    def _run(self, awaitable: Awaitable[T]) -> T:
        return self._loop.run_until_complete(awaitable)

    def describe(self) -> dict[str, Any]:
        return self._run(self._client.describe())

    def inject(self, label: str, ids: npt.ArrayLike, tick: int | None = None) -> None:
        self._run(self._client.inject(label, ids, tick))

    def set_rates(self, label: str, ids: npt.ArrayLike, rates: npt.ArrayLike) -> None:
        self._run(self._client.set_rates(label, ids, rates))

    def ready(self, epoch: int) -> None:
        self._run(self._client.ready(epoch))

    def send(self, message: InputMessage) -> None:
        self._run(self._client.send(message))

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

    def subscribe(self, *topics: str | bytes, timeout: float | None = None) -> SyncSubscription:
        """A live subscription (already confirmed by the bridge) to ``topics``."""
        return SyncSubscription(self, self._client.subscribe(*topics), timeout)

    def spikes(self, label: str, timeout: float | None = None) -> SyncSpikeStream:
        """A live subscription (already confirmed by the bridge) to ``label``'s spikes."""
        return SyncSpikeStream(self, self._client.spikes(label), timeout)

    def close(self) -> None:
        if not self._loop.is_closed():
            self._run(self._client.close())
            self._loop.close()

