"""The external-application side of the handshake over UDP.

Theory of operation
-------------------
A :class:`Listener` binds one UDP socket (``127.0.0.1:19999`` by default; port 0 picks a free
one) and is driven by whoever iterates :meth:`Listener.events`: each datagram goes through one
:class:`~spinnlive.protocol.handshake.ListenerConnection`, and

* a DATABASE first awaits the ``on_database(path)`` hook (the application reads the database and
  sets up its IP tags there), and only when the hook has returned sends the bare ``01 40`` from
  this same socket to the datagram's source: the reference toolchain's socket is connect()ed to
  us, so the reply must come from the address it notified (quirk 7.3). The DatabaseReady event
  is yielded after the reply;
* START_RESUME and STOP_PAUSE are yielded as Started / Paused;
* a new DATABASE is taken in any state (a new run step or a remap, section 3.3).

Rules
-----
* A datagram that does not decode, or comes at a moment the table forbids, is counted under
  ``"rejected"`` in :meth:`Listener.statistics` and logged; it never ends the iteration.
* The wait for the toolchain ends when :meth:`Listener.close` is called (the iterator then
  finishes), or, if ``events(timeout=...)`` is given, with :class:`HandshakeTimeout` naming the
  listener, the state and what it was waiting for.
* An exception from ``on_database`` propagates to the iterating task and nothing is confirmed:
  the toolchain must not start a run the application could not prepare for. The hook may
  instead raise :class:`~spinnlive.errors.NotificationRefused` (a DATABASE from a process that
  may not replace the session): that datagram is dropped unconfirmed, counted under
  ``"refused:<reason>"``, and the handshake stays in the state it was in.
"""

from __future__ import annotations

import copy
import logging
import math
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType

from spinnlive.clock import Clock, MonotonicClock, deadline_after
from spinnlive.drops import warn_at_powers_of_ten
from spinnlive.errors import (
    HandshakeTimeout,
    NotificationRefused,
    RemoteProtocolError,
    TransportError,
)
from spinnlive.protocol.commands import NOTIFY_PORT
from spinnlive.protocol.handshake import (
    TRANSITIONS,
    DatabaseConfirmed,
    DatabaseReady,
    Event,
    ListenerConnection,
    Role,
    State,
)
from spinnlive.transport.udp import (
    Address,
    EndpointStatistics,
    UdpEndpoint,
    format_address,
    open_endpoint,
)

__all__ = ["DatabaseHook", "Listener", "ListenerStatistics"]

logger = logging.getLogger(__name__)

#: Called with the database path (None: the toolchain made no database) before confirming.
DatabaseHook = Callable[[str | None], Awaitable[None]]



@dataclass(frozen=True, slots=True)
class ListenerStatistics:
    """The listener's handshake counters and its socket's."""

    address: Address
    state: State
    steps: int
    confirmed: int
    #: the toolchain address of the last DATABASE, where the confirmation went
    toolchain: Address | None
    endpoint: EndpointStatistics


class Listener:
    """Wait for the toolchain's notifications; confirm each database once it has been read."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = NOTIFY_PORT,
        *,
        on_database: DatabaseHook | None = None,
        clock: Clock | None = None,
        max_queue: int = 64,
    ) -> None:
        self._bind = (host, port)
        self._on_database = on_database
        self._clock = clock or MonotonicClock()
        self._max_queue = max_queue
        self._conn = ListenerConnection()
        self._endpoint: UdpEndpoint | None = None
        self._confirmed = 0
        self._toolchain: Address | None = None

    async def open(self) -> Listener:
        """Bind the socket (idempotent); ``async with`` does this for you."""
        if self._endpoint is None:
            self._endpoint = await open_endpoint(
                self._bind, clock=self._clock, max_queue=self._max_queue
            )
            logger.info("listener %s waiting for the database notification", self.name)
        return self

    @property
    def address(self) -> Address:
        """The bound ``(ip, port)``; give this port to the toolchain."""
        return self._require().local_address

    @property
    def name(self) -> str:
        return format_address(self._endpoint.local_address if self._endpoint else self._bind)

    @property
    def state(self) -> State:
        return self._conn.state

    async def events(self, *, timeout: float | None = None) -> AsyncIterator[Event]:
        """DatabaseReady (already confirmed), Started and Paused, in arrival order.

        ``timeout`` bounds each wait for the toolchain's next datagram; None waits until
        :meth:`close`.
        """
        endpoint = self._require()
        while True:
            deadline = math.inf if timeout is None else deadline_after(self._clock, timeout)
            try:
                item = await endpoint.recv(deadline)
            except TransportError:
                return  # closed
            except OSError as exc:  # an ICMP error for an earlier reply; nothing to undo
                logger.warning("listener %s: socket error %s", self.name, exc)
                continue
            if item is None:
                expected = ", ".join(t.__name__ for t in TRANSITIONS[(Role.LISTENER, self.state)])
                raise HandshakeTimeout(
                    f"listener {self.name} heard nothing from the toolchain within {timeout:g} s "
                    f"(state {self.state.name}, waiting for {expected})"
                )
            data, source = item
            before = copy.copy(self._conn)  # to step back when the hook refuses a DATABASE
            try:
                events = self._conn.receive_datagram(data)
            except RemoteProtocolError as exc:
                self._drop("rejected", f"from {format_address(source)}: {exc}")
                continue
            for event in events:
                if isinstance(event, DatabaseReady):
                    try:
                        await self._confirm(event, source)
                    except NotificationRefused as refused:
                        self._conn = before
                        self._drop(f"refused:{refused.reason}",
                                   f"a DATABASE from {format_address(source)}: {refused}")
                        break
                yield event

    def statistics(self) -> ListenerStatistics:
        endpoint = self._require()
        return ListenerStatistics(
            address=endpoint.local_address,
            state=self._conn.state,
            steps=self._conn.steps,
            confirmed=self._confirmed,
            toolchain=self._toolchain,
            endpoint=endpoint.statistics(),
        )

    def close(self) -> None:
        """Close the socket; an ``events()`` iteration in progress finishes."""
        if self._endpoint is not None:
            self._endpoint.close()

    async def __aenter__(self) -> Listener:
        return await self.open()

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    async def _confirm(self, event: DatabaseReady, toolchain: Address) -> None:
        logger.info(
            "listener %s: database %r from toolchain %s",
            self.name, event.path, format_address(toolchain),
        )
        if self._on_database is not None:
            await self._on_database(event.path)
        self._require().send(self._conn.send(DatabaseConfirmed()), toolchain)
        self._confirmed += 1
        self._toolchain = toolchain

    def _drop(self, reason: str, detail: str) -> None:
        """Count a datagram thrown away; log it at counts 1, 10, 100, ... of its reason."""
        endpoint = self._require()
        before = endpoint.statistics().dropped.get(reason, 0)
        endpoint.count_drop(reason)
        warn_at_powers_of_ten(logger, f"listener {self.name}", reason, before, before + 1,
                              detail)

    def _require(self) -> UdpEndpoint:
        if self._endpoint is None:
            raise TransportError(f"listener {self.name} is not open: use 'async with' or open()")
        return self._endpoint

    def __repr__(self) -> str:
        return f"<Listener {self.name} state={self.state.name} steps={self._conn.steps}>"
