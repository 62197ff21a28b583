"""A non-blocking UDP sender that learns which of its datagrams no socket took.

Theory of operation
-------------------
A UDP send to a port where nothing listens (a killed engine, a killed bridge, a client gone)
succeeds, and the loss shows nowhere. Where the OS has ``IP_RECVERR`` (Linux) the socket asks
for the ICMP "port unreachable" each such datagram causes: the kernel queues one entry per
refused datagram on the socket's error queue, holding the head of that datagram and its
destination, which :meth:`UdpSender.refusals` reads (at most ``limit`` a call, so a tick
thread's work stays bounded). The kernel also reports a refusal on the next send of that socket,
which then did not leave: :meth:`UdpSender.send` tries that send once more (it may be for
another destination). So ``sent`` counts what left the socket, and the refusals what of it no
socket took. The owner knows what a head means (an EIEIO count after an SDP header, ...) and
counts it; nothing here parses.

Why not the asyncio endpoint (:mod:`spinnlive.transport.udp`): with ``IP_RECVERR`` a non-empty
error queue keeps the socket readable-with-error, and an event loop watching it would spin until
someone drained the queue. This socket is never registered with a loop: its owner reads the
queue when it sends and when it reports.

Rules: :meth:`UdpSender.send` never blocks and never raises for network conditions: it returns
the error (``BlockingIOError`` for a full send buffer) for the owner to count.
"""

from __future__ import annotations

import socket
import sys
from typing import NamedTuple

from spinnlive.errors import TransportError

__all__ = ["REFUSALS_REPORTED", "Refusal", "UdpSender"]

Address = tuple[str, int]
# Linux's values (<linux/in.h>, <sys/socket.h>); Python's socket module does not name them
_IP_RECVERR = getattr(socket, "IP_RECVERR", 11) if sys.platform == "linux" else None
_MSG_ERRQUEUE = getattr(socket, "MSG_ERRQUEUE", 0x2000) if sys.platform == "linux" else None
#: Whether this platform tells a sender about refused datagrams (Linux's IP_RECVERR).
REFUSALS_REPORTED = _IP_RECVERR is not None and _MSG_ERRQUEUE is not None


class Refusal(NamedTuple):
    """One datagram no socket took: the first bytes of it, and where it was sent."""

    head: bytes
    address: Address


class UdpSender:
    """One non-blocking UDP socket bound on ``host`` that sends and reads its refusals."""

    def __init__(self, host: str, port: int = 0) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self._sock.bind((host, port))
        except OSError as error:
            self._sock.close()
            raise TransportError(f"cannot bind a UDP sending socket on {host}: {error}"
                                 ) from None
        self._sock.setblocking(False)
        if _IP_RECVERR is not None:
            self._sock.setsockopt(socket.IPPROTO_IP, _IP_RECVERR, 1)
        name = self._sock.getsockname()
        self.local_address: Address = (name[0], name[1])
        #: datagrams that left the socket
        self.sent = 0

    @property
    def closed(self) -> bool:
        return self._sock.fileno() < 0

    def send(self, data: bytes, address: Address) -> OSError | None:
        """Send one datagram; ``None`` when it left, else the error that kept it back."""
        for retry in (False, True):
            try:
                self._sock.sendto(data, address)
            except ConnectionRefusedError as error:  # an earlier datagram's, reported now
                if retry:
                    return error
                continue
            except OSError as error:
                return error
            self.sent += 1
            return None
        raise AssertionError("unreachable")  # pragma: no cover

    def refusals(self, limit: int | None = None, head: int = 64) -> list[Refusal]:
        """The refused datagrams the error queue holds (at most ``limit``), each with its first
        ``head`` bytes; empty where the platform does not report them or once closed."""
        if not REFUSALS_REPORTED or self.closed:
            return []
        assert _MSG_ERRQUEUE is not None
        found: list[Refusal] = []
        while limit is None or len(found) < limit:
            try:
                data, _, _, address = self._sock.recvmsg(head, 0, _MSG_ERRQUEUE)
            except OSError:  # BlockingIOError: the queue is empty
                break
            found.append(Refusal(data, (address[0], address[1])))
        return found

    def close(self) -> None:
        self._sock.close()

    def __repr__(self) -> str:
        return f"<UdpSender {self.local_address[0]}:{self.local_address[1]}>"
