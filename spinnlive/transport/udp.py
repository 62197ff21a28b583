"""A small asyncio UDP endpoint with a bounded receive queue and counters.

Theory of operation
-------------------
:func:`open_endpoint` wraps ``loop.create_datagram_endpoint`` (IPv4, like the SpiNNaker stack).
The protocol callback only enqueues: ``datagram_received`` does ``put_nowait`` into a deque of at
most ``max_queue`` datagrams and, when it is full, drops the datagram and counts it under
``"queue_full"`` (trio's ``dtls_receive_loop`` shape, code-models item 6). Socket errors that
the kernel reports later, above all ICMP "connection refused" on a connected socket, arrive in
``error_received``; they are kept (bounded) and raised by the next :meth:`UdpEndpoint.recv`, which
is how a plain ``socket.recv`` reports them too.

Rules
-----
* :meth:`UdpEndpoint.send` never blocks and never raises for network conditions: asyncio's
  transport buffers or reports through ``error_received``. It raises only on a closed endpoint.
* :meth:`UdpEndpoint.recv` always has a deadline (an absolute time on the injected clock) and
  returns ``None`` when it passes; after :meth:`UdpEndpoint.close` it raises
  :class:`TransportError` at once, which is what lets a closing owner wake its waiters.
* Layers above count their own drops (a datagram that does not parse) through
  :meth:`UdpEndpoint.count_drop`, so :meth:`UdpEndpoint.statistics` is the one place to look.
* No parsing here. ``asyncio-dgram`` is not used for the endpoint itself because its receive
  queue is unbounded and its ``send`` awaits the write buffer; the tests use it for raw peers.
"""

from __future__ import annotations

import asyncio
import collections
import math
import socket
from collections.abc import Mapping
from dataclasses import dataclass

from spinnlive.clock import Clock, MonotonicClock, wait_event_until
from spinnlive.errors import TransportError
from spinnlive.transport.kernel_buffer import DEFAULT_RCVBUF, kernel_drops, set_receive_buffer
from spinnlive.transport.tick_gate import GATE

__all__ = [
    "Address", "EndpointStatistics", "UdpEndpoint", "format_address", "open_endpoint",
]

Address = tuple[str, int]

#: Errors kept for the next recv(); more than this between two recv() calls are only counted.
_MAX_PENDING_ERRORS = 8


@dataclass(frozen=True, slots=True)
class EndpointStatistics:
    """Counters of one endpoint, copied at the moment :meth:`UdpEndpoint.statistics` ran."""

    local: Address
    remote: Address | None
    received: int
    sent: int
    #: drops by reason: "queue_full" here, others ("bad_datagram", "unexpected") from the owner
    dropped: Mapping[str, int]
    #: socket errors by exception type name, e.g. "ConnectionRefusedError"
    errors: Mapping[str, int]
    queue_depth: int
    queue_peak: int
    closed: bool
    #: datagrams the kernel threw away before the queue saw them (receive buffer full);
    #: ``None`` where the platform does not say (see :mod:`spinnlive.transport.kernel_buffer`)
    kernel_dropped: int | None = None


class _Protocol(asyncio.DatagramProtocol):
    """The asyncio callbacks: enqueue, count, wake the reader. Nothing else."""

    def __init__(self, max_queue: int) -> None:
        self.queue: collections.deque[tuple[bytes, Address]] = collections.deque()
        self.max_queue = max_queue
        self.peak = 0
        self.received = 0
        self.dropped: collections.Counter[str] = collections.Counter()
        self.errors: collections.Counter[str] = collections.Counter()
        self.pending_errors: collections.deque[OSError] = collections.deque(
            maxlen=_MAX_PENDING_ERRORS
        )
        self.wakeup = asyncio.Event()
        self.closed = False

    def datagram_received(self, data: bytes, addr: Address) -> None:
        self.received += 1
        if len(self.queue) >= self.max_queue:
            self.dropped["queue_full"] += 1
            return
        self.queue.append((data, (addr[0], addr[1])))
        self.peak = max(self.peak, len(self.queue))
        self.wakeup.set()

    def error_received(self, exc: Exception) -> None:
        self.errors[type(exc).__name__] += 1
        if isinstance(exc, OSError):
            self.pending_errors.append(exc)
        self.wakeup.set()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.wakeup.set()


class UdpEndpoint:
    """One UDP socket: ``send`` without blocking, ``recv`` with a deadline, ``statistics``."""

    def __init__(
        self, transport: asyncio.DatagramTransport, protocol: _Protocol, clock: Clock
    ) -> None:
        self._transport = transport
        self._protocol = protocol
        self._clock = clock
        self._sent = 0
        self._fileno: int = transport.get_extra_info("socket").fileno()
        self._kernel_dropped: int | None = None  # the last value read before close
        sockname = transport.get_extra_info("sockname")
        self.local_address: Address = (sockname[0], sockname[1])
        peer = transport.get_extra_info("peername")
        #: The connected peer, or None for an endpoint that takes datagrams from anyone.
        self.remote_address: Address | None = (peer[0], peer[1]) if peer else None

    @property
    def closed(self) -> bool:
        return self._protocol.closed or self._transport.is_closing()

    def send(self, data: bytes, addr: Address | None = None) -> None:
        """Queue ``data`` for ``addr`` (or the connected peer); never waits for the network."""
        if self.closed:
            raise TransportError(f"UDP endpoint {format_address(self.local_address)} is closed")
        self._transport.sendto(data, addr)
        self._sent += 1

    async def recv(self, deadline: float) -> tuple[bytes, Address] | None:
        """The next datagram and its source, or ``None`` if ``deadline`` passes first.

        Raises the oldest pending socket error (e.g. ``ConnectionRefusedError``) before waiting,
        and :class:`TransportError` once the endpoint is closed.
        """
        p = self._protocol
        while True:
            if p.queue:
                GATE.wait_open()  # a flood read from a full queue keeps out of the ticks
                return p.queue.popleft()
            if p.pending_errors:
                raise p.pending_errors.popleft()
            if self.closed:
                raise TransportError(f"UDP endpoint {format_address(self.local_address)} is closed")
            p.wakeup.clear()
            if not await wait_event_until(p.wakeup, self._clock, deadline):
                return None

    async def next_datagram(self) -> tuple[bytes, Address]:
        """The next datagram and its source, however long it takes (a server's receive loop);
        raises as :meth:`recv` does."""
        while True:
            got = await self.recv(math.inf)
            if got is not None:
                return got

    def count_drop(self, reason: str) -> None:
        """Count a datagram the owner threw away (it did not parse, or came at the wrong time)."""
        self._protocol.dropped[reason] += 1

    def kernel_dropped(self) -> int | None:
        """The kernel's drop counter of this socket (see :mod:`~spinnlive.transport.kernel_buffer`);
        after close, the last value read."""
        if not self.closed:
            self._kernel_dropped = kernel_drops(self._fileno)
        return self._kernel_dropped

    def statistics(self) -> EndpointStatistics:
        p = self._protocol
        return EndpointStatistics(
            local=self.local_address,
            remote=self.remote_address,
            received=p.received,
            sent=self._sent,
            dropped=dict(p.dropped),
            errors=dict(p.errors),
            queue_depth=len(p.queue),
            queue_peak=p.peak,
            closed=self.closed,
            kernel_dropped=self.kernel_dropped(),
        )

    def close(self) -> None:
        """Close the socket now; a task blocked in :meth:`recv` wakes with TransportError."""
        self.kernel_dropped()  # its last value outlives the socket
        self._transport.close()
        self._protocol.closed = True
        self._protocol.wakeup.set()

    def __repr__(self) -> str:
        peer = f" -> {format_address(self.remote_address)}" if self.remote_address else ""
        return f"<UdpEndpoint {format_address(self.local_address)}{peer}>"


async def open_endpoint(
    local: Address = ("127.0.0.1", 0),
    remote: Address | None = None,
    *,
    clock: Clock | None = None,
    max_queue: int = 256,
    rcvbuf: int = DEFAULT_RCVBUF,
) -> UdpEndpoint:
    """Bind ``local`` (port 0: any free port) and, if ``remote`` is given, connect() to it.

    A connected endpoint only ever receives datagrams whose source is exactly ``remote``: the
    kernel drops the rest, which is the reference toolchain's behaviour (quirk 7.3). The kernel
    buffer is sized to ``rcvbuf`` and its overflow is counted (``kernel_dropped``).
    """
    if max_queue < 1:
        raise ValueError("max_queue must be at least 1")
    loop = asyncio.get_running_loop()
    try:
        transport, protocol = await loop.create_datagram_endpoint(
            lambda: _Protocol(max_queue),
            local_addr=local,
            remote_addr=remote,
            family=socket.AF_INET,
        )
    except OSError as exc:
        where = f"{format_address(local)}" + (f" -> {format_address(remote)}" if remote else "")
        raise TransportError(f"cannot open UDP endpoint {where}: {exc}") from exc
    set_receive_buffer(transport.get_extra_info("socket"), rcvbuf)
    return UdpEndpoint(transport, protocol, clock or MonotonicClock())


def format_address(addr: Address | None) -> str:
    """``host:port`` as the log and error messages write a peer."""
    return "?" if addr is None else f"{addr[0]}:{addr[1]}"
