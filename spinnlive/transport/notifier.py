"""The toolchain side of the handshake over UDP: tell every listener where the database is.

Theory of operation
-------------------
A :class:`Notifier` holds a list of listener addresses (deduplicated, like the reference's set
of ``SocketAddress``) and, per listener, one :class:`~spinnlive.protocol.handshake.NotifierConnection`
that lives across run steps. Every :meth:`Notifier.notify_database` starts a run step the way
the reference does (docs/spinnaker-side.md §2): it closes the previous step's sockets, opens
a new socket per listener bound to ``ack_port`` (or any port) and connect()ed to the listener,
sends DATABASE to all, then waits for all confirmations concurrently under ONE deadline.

Outcomes per listener, per step:

* confirmed: any EIEIO datagram from the listener's exact address (the socket is connected, so
  the kernel drops replies from anywhere else);
* refused: ICMP "connection refused" (nobody on that localhost port) -> WARNING, skipped;
* silent: the deadline passed -> :class:`HandshakeTimeout` naming every silent listener if
  ``wait_for_confirmation`` (the reference's ``wait_on_confirmation``, default True, 10 s),
  otherwise a WARNING and the run step goes on.

:meth:`Notifier.start` and :meth:`Notifier.stop` send START_RESUME / STOP_PAUSE to every
listener without waiting for anything. :meth:`Notifier.close` only closes sockets, so it returns
at once; a task still waiting in :meth:`Notifier.notify_database` wakes with HandshakeError.
"""

from __future__ import annotations

import asyncio
import enum
import ipaddress
import logging
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from types import TracebackType

from spinnlive.clock import Clock, MonotonicClock, deadline_after
from spinnlive.errors import (
    ConfigurationError,
    HandshakeError,
    HandshakeTimeout,
    RemoteProtocolError,
    TransportError,
)
from spinnlive.protocol.handshake import (
    DatabaseReady,
    Event,
    NotifierConnection,
    Paused,
    Started,
    State,
)
from spinnlive.transport.kernel_buffer import udp_port_owners
from spinnlive.transport.udp import EndpointStatistics, UdpEndpoint, open_endpoint

__all__ = ["ListenerAddress", "Notifier", "NotifierPeerStatistics"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ListenerAddress:
    """Where a listener waits (``host:port``) and the local port to answer on (None: any)."""

    host: str
    port: int
    ack_port: int | None = None

    def __post_init__(self) -> None:
        if self.host == "0.0.0.0":  # the reference's SocketAddress does the same
            object.__setattr__(self, "host", "localhost")
        for name in ("port", "ack_port"):
            value = getattr(self, name)
            if value is not None and not 0 < value < 65536:
                raise ConfigurationError(f"listener {name} {value!r} is not a UDP port (1-65535)")

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class NotifierPeerStatistics:
    """One listener as the notifier sees it; ``endpoint`` is the current step's socket."""

    listener: ListenerAddress
    state: State
    steps: int
    confirmed: int
    refused: int
    silent: int
    endpoint: EndpointStatistics | None


class _Outcome(enum.Enum):
    CONFIRMED = "confirmed"
    REFUSED = "refused"
    SILENT = "silent"


class _Peer:
    """The per-listener bookkeeping: the sans-IO connection, this step's socket, counters."""

    def __init__(self, address: ListenerAddress) -> None:
        self.address = address
        self.conn = NotifierConnection()
        self.endpoint: UdpEndpoint | None = None
        self.outcomes = dict.fromkeys(_Outcome, 0)

    @property
    def name(self) -> str:
        """``ip:port`` as resolved by the connected socket, else as configured."""
        remote = self.endpoint.remote_address if self.endpoint else None
        return f"{remote[0]}:{remote[1]}" if remote else str(self.address)

    def send(self, event: Event) -> None:
        data = self.conn.send(event)
        if self.endpoint is None:  # pragma: no cover - the state machine rejects this first
            raise HandshakeError(f"no socket to listener {self.name}")
        self.endpoint.send(data)


class Notifier:
    """Announce each run step's database to the listeners, then START and STOP them."""

    def __init__(
        self,
        listeners: Iterable[ListenerAddress | tuple[str, int, int | None] | tuple[str, int]],
        *,
        timeout: float = 10.0,
        wait_for_confirmation: bool = True,
        clock: Clock | None = None,
        local_host: str = "0.0.0.0",
    ) -> None:
        addresses = [a if isinstance(a, ListenerAddress) else ListenerAddress(*a) for a in listeners]
        if timeout <= 0:
            raise ConfigurationError(f"confirmation timeout must be positive, not {timeout!r}")
        self._peers = [_Peer(a) for a in dict.fromkeys(addresses)]  # dedup, keep order
        self.timeout = timeout
        self.wait_for_confirmation = wait_for_confirmation
        self._clock = clock or MonotonicClock()
        self._local_host = local_host

    async def notify_database(self, path: str | None) -> None:
        """Start a run step: DATABASE(path) to every listener, then collect the confirmations."""
        # The state machine rules on the event before any socket is touched.
        datagrams = [peer.conn.send(DatabaseReady(path=path)) for peer in self._peers]
        for peer, data in zip(self._peers, datagrams):
            if peer.endpoint is not None:
                peer.endpoint.close()
            peer.endpoint = await open_endpoint(
                (self._local_host, peer.address.ack_port or 0),
                (peer.address.host, peer.address.port),
                clock=self._clock,
            )
            peer.endpoint.send(data)
        logger.info("DATABASE %r sent to %d listener(s)", path, len(self._peers))
        deadline = deadline_after(self._clock, self.timeout)
        results = await asyncio.gather(
            *(self._confirmation(peer, deadline) for peer in self._peers), return_exceptions=True
        )
        for result in results:
            if isinstance(result, BaseException):
                raise result
        silent = [p for p, r in zip(self._peers, results) if r is _Outcome.SILENT]
        if silent:
            message = "; ".join(_silent_listener(p.name, p.address.host, p.address.port,
                                                 self.timeout) for p in silent)
            if self.wait_for_confirmation:
                raise HandshakeTimeout(message)
            logger.warning("%s; going on without it (wait_for_confirmation is off)", message)

    async def start(self) -> None:
        """START_RESUME to every listener (no reply is expected)."""
        self._send_all(Started())

    async def stop(self) -> None:
        """STOP_PAUSE to every listener (no reply is expected)."""
        self._send_all(Paused())

    def close(self) -> None:
        """Close every socket now; nothing here waits for the network."""
        for peer in self._peers:
            if peer.endpoint is not None:
                peer.endpoint.close()

    def statistics(self) -> tuple[NotifierPeerStatistics, ...]:
        return tuple(
            NotifierPeerStatistics(
                listener=p.address,
                state=p.conn.state,
                steps=p.conn.steps,
                confirmed=p.outcomes[_Outcome.CONFIRMED],
                refused=p.outcomes[_Outcome.REFUSED],
                silent=p.outcomes[_Outcome.SILENT],
                endpoint=p.endpoint.statistics() if p.endpoint else None,
            )
            for p in self._peers
        )

    async def __aenter__(self) -> Notifier:
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _send_all(self, event: Started | Paused) -> None:
        for peer in self._peers:
            peer.send(event)
        logger.info("%s sent to %d listener(s)", type(event).__name__, len(self._peers))

    async def _confirmation(self, peer: _Peer, deadline: float) -> _Outcome:
        outcome = await self._await_reply(peer, deadline)
        peer.outcomes[outcome] += 1
        return outcome

    async def _await_reply(self, peer: _Peer, deadline: float) -> _Outcome:
        assert peer.endpoint is not None
        while True:
            try:
                item = await peer.endpoint.recv(deadline)
            except TransportError:
                raise HandshakeError(
                    f"notifier closed while listener {peer.name} had not confirmed DATABASE"
                ) from None
            except OSError as exc:  # ICMP refusal arrives here, as in the reference
                logger.warning(
                    "listener %s did not take the DATABASE notification (%s); skipping it for "
                    "this run step", peer.name, exc,
                )
                return _Outcome.REFUSED
            if item is None:
                return _Outcome.SILENT
            try:
                peer.conn.receive_datagram(item[0])
            except RemoteProtocolError as exc:
                peer.endpoint.count_drop("rejected")
                logger.warning("listener %s sent a datagram that is not EIEIO: %s", peer.name, exc)
                continue
            logger.info("confirmation from listener %s received", peer.name)
            return _Outcome.CONFIRMED

    def __repr__(self) -> str:
        return f"<Notifier {', '.join(p.name for p in self._peers)}>"


def _silent_listener(name: str, host: str, port: int, timeout: float) -> str:
    """Why a listener did not confirm, as far as this machine can tell: a local port that is
    held by a process that never answers (a crashed or foreign program squatting it) is named,
    with the way out: give every run its own port (``spinnlive run`` picks a free one)."""
    text = f"listener {name} did not confirm DATABASE within {timeout:g} s"
    try:
        local = ipaddress.ip_address(socket.gethostbyname(host)).is_loopback
    except (OSError, ValueError):
        local = False
    if not local:
        return text
    owners = udp_port_owners(host, port)
    if owners:
        return (f"{text}: the port is held by {', '.join(owners)}, which does not answer "
                "(not a listener, or a stale one); stop it, or notify a port of this run's "
                "own (spinnlive run picks a free one; database_notify_port_num in "
                "spynnaker.cfg)")
    return text
