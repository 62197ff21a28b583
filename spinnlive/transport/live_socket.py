"""A batch-draining UDP socket for live output, the one receive socket of the SpiNNaker side.

Theory of operation
-------------------
:class:`LiveSocket` is a live-output receive socket (the bridge's, and each run step's of
``spinnlive.connections``). It is also the socket the IP-tag requests
leave from (``use_sender``: the board sends to whatever address the request came from). When the
event loop reports it readable, it drains up to ``max_batch`` datagrams with non-blocking
``recvfrom`` and hands the whole batch to its owner in one call. asyncio's own datagram
transport costs one selector round per datagram (about 120 k datagrams/s measured here, below a
full LPG stream), which is why this socket does not use :mod:`spinnlive.transport.udp`. It keeps
that module's rules: the queue is bounded (the kernel buffer, ``SO_RCVBUF``), overflow is a
counted drop (the kernel's per-socket drop counter, :mod:`spinnlive.transport.kernel_buffer`),
nothing blocks.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable

from spinnlive.errors import TransportError
from spinnlive.transport.kernel_buffer import DEFAULT_RCVBUF, kernel_drops, set_receive_buffer

__all__ = ["Address", "Datagram", "LiveSocket"]

logger = logging.getLogger(__name__)

Address = tuple[str, int]
Datagram = tuple[bytes, Address]

_MAX_DATAGRAM = 2048


class LiveSocket:
    """A non-blocking UDP socket whose readable callback drains datagrams in batches."""

    def __init__(self, host: str, port: int, on_batch: Callable[[list[Datagram]], None], *,
                 rcvbuf: int = 2 * DEFAULT_RCVBUF, max_batch: int = 512) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self._sock.setblocking(False)
            set_receive_buffer(self._sock, rcvbuf)
            self._sock.bind((host, port))
        except OSError as exc:
            self._sock.close()
            raise TransportError(f"cannot open the live-output socket on {host}:{port}: {exc}") \
                from exc
        self.local_address: Address = self._sock.getsockname()[:2]
        self._on_batch = on_batch
        self._max_batch = max_batch
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self._sock.fileno(), self._readable)
        self.received = 0
        self.sent = 0
        self.errors = 0
        self.closed = False

    def _readable(self) -> None:
        recv = self._sock.recvfrom
        batch: list[Datagram] = []
        for _ in range(self._max_batch):
            try:
                batch.append(recv(_MAX_DATAGRAM))
            except BlockingIOError:
                break
            except OSError as exc:  # an ICMP error for an earlier send; nothing to undo
                self.errors += 1
                logger.debug("live socket %s: %s", self.local_address, exc)
                break
        if batch:
            self.received += len(batch)
            self._on_batch(batch)

    def send(self, data: bytes, address: Address) -> None:
        """Send without waiting; a full socket buffer or unreachable peer is counted, not raised."""
        try:
            self._sock.sendto(data, address)
            self.sent += 1
        except OSError as exc:
            self.errors += 1
            logger.debug("live socket %s: send to %s failed: %s", self.local_address, address, exc)

    def kernel_drops(self) -> int:
        """Datagrams the kernel threw away for this socket (buffer full); 0 where unknown."""
        return kernel_drops(self._sock) or 0

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._loop.remove_reader(self._sock.fileno())
            self._sock.close()
