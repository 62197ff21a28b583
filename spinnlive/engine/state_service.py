"""The embedded board's state service: a TCP endpoint beside SCAMP's UDP port, for the bridge.

Theory of operation
-------------------
A SpiNNaker board cannot read or change a weight of a running application; the embedded engine
can, and offers it where the bridge already knows to look: **TCP port 17893 of the board's own
address** (the Ethernet IP in the I/O database; UDP 17893 there is SCAMP's). Nothing is added
to the database, which stays byte-for-byte the reference's schema, and a real board (or any
host without the service) refuses or ignores the connection, which is how the bridge learns
that the state plane is not available there (see :mod:`spinnlive.bridge.state_proxy`).

Each connection carries messages framed by :func:`~spinnlive.protocol.state.pack_message`;
a request is ``[route (8 bytes), *request frames]`` and its reply ``[route, *reply frames]``
(``docs/wire-format.md``, State plane). Stream snapshots go to every connection with route 0.
Requests are decoded and resolved here, in the live-I/O event-loop thread
(:mod:`spinnlive.engine.state_plane`); the tick thread only runs resolved jobs, and what it
returns is finished (gathered, encoded) here and sent by the connection's sender thread, in
order, with a blocking ``sendall`` (no copy of a large array, the GIL released throughout, so
the tick thread is not held up by a big reply).

Rules: nothing here blocks the tick thread; a broken peer (bad framing) loses its connection,
a bad request gets an error reply; replies to a connection that closed are dropped and counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import socket
import threading
from collections.abc import Callable
from typing import Any

from spinnlive.clock import Clock, MonotonicClock, deadline_after, remaining
from spinnlive.engine.state_plane import (
    Catalogue,
    Finish,
    Job,
    StatePlane,
    resolve,
    stream_reader,
)
from spinnlive.errors import TransportError
from spinnlive.protocol.state import (
    Code,
    MessageReader,
    Op,
    StateError,
    StateReply,
    StateRequest,
    decode_request,
    encode_reply,
    error_reply,
    pack_routed,
    split_routed,
)
from spinnlive.transport.tick_gate import GATE, IoPriority

__all__ = ["StateService"]

logger = logging.getLogger(__name__)

_RECV = 1 << 16
#: Requests carry at most a weight write of every connection: allow 256 MB frames.
_MAX_REQUEST_FRAME = 1 << 28
#: Large replies go out in slices: loopback TCP does its receive work in the sender's kernel
#: context, where a 16 MB send would hold a core for milliseconds.
_SEND_SLICE = 1 << 16
#: A bridge that takes no byte of a reply for this long has its connection closed.
_SEND_TIMEOUT_S = 30.0


class _Peer:
    """One bridge connection: its socket, read by the event loop, and a sender thread that
    writes its replies in order with a blocking ``sendall`` on a duplicate of the socket: one C
    call per buffer with the GIL released, where asyncio's ``sock_sendall`` would wake a Python
    callback for every chunk of a large reply (each one a chance to hold the GIL the tick
    thread is waiting for). Between slices the thread takes the GIL, so it keeps out of
    real-time ticks as the gated event loop does (:mod:`spinnlive.transport.tick_gate`: it
    waits for the gate before each slice and runs one SCHED_FIFO priority below the tick
    thread during a real-time run, so no other process preempts it while it holds the GIL),
    and the slices are 64 kB (each one's loopback receive work runs in the sending thread's
    kernel context, where no tick thread can preempt it). Paired runs of
    bench/bench_state_read.py (1M synapses read every 0.1 s, loaded 2-core machine): late
    ticks per read 1.1-3.4 before, 1.0-1.4 after."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.outbox: queue.SimpleQueue[list[Any] | None] = queue.SimpleQueue()
        self.closed = False
        self._out = sock.dup()
        self._out.settimeout(_SEND_TIMEOUT_S)  # blocking semantics, polled in C
        self.sender = threading.Thread(target=self._send_all, daemon=True,
                                       name="spinnlive-state-sender")
        self.sender.start()

    def _send_all(self) -> None:
        priority = IoPriority()
        try:
            while (buffers := self.outbox.get()) is not None:
                priority.follow()
                for buffer in buffers:
                    view = memoryview(buffer).cast("B")
                    for at in range(0, view.nbytes, _SEND_SLICE):
                        GATE.wait_open()
                        self._out.sendall(view[at:at + _SEND_SLICE])
        except OSError as error:
            logger.info("state service: bridge connection lost while sending (%s)", error)
        finally:
            self.closed = True
            self._out.close()


class StateService:
    """Serve state requests for one engine; see the module docstring."""

    def __init__(self, server: socket.socket, tick_source: Callable[[], int],
                 clock: Clock | None = None) -> None:
        self._server = server
        self._loop = asyncio.get_running_loop()
        self._clock: Clock = clock or MonotonicClock()
        self.tick_source = tick_source
        self.catalogue: Catalogue | None = None  #: swapped in by the engine at each run step
        self.plane = StatePlane(self._deliver)
        self._peers: set[_Peer] = set()
        self._task: asyncio.Task[None] | None = None
        self.dropped_replies = 0

    @classmethod
    async def open(cls, host: str, port: int, tick_source: Callable[[], int],
                   clock: Clock | None = None) -> StateService:
        """Listen on TCP ``host:port`` (port 0: any free one); ``clock`` times the flush at
        :meth:`aclose`."""
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            server.bind((host, port))
            server.listen(8)
            server.setblocking(False)
        except OSError as error:
            server.close()
            raise TransportError(f"cannot open the state service on {host}:{port}: "
                                 f"{error}") from None
        service = cls(server, tick_source, clock)
        service._task = service._loop.create_task(service._accept(), name="state service")
        logger.info("state service listening on tcp %s:%d", *service.address)
        return service

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.getsockname()[:2]
        return str(host), int(port)

    # ---------------------------------------------------------------- the tick thread
    def apply(self, tick: int) -> None:
        """Between ticks, before ``tick`` is computed: run the due jobs (never blocks)."""
        self.plane.apply(tick)

    def _deliver(self, job: Job, finish: Finish) -> None:
        """Tick thread: hand the result to the loop thread."""
        try:
            self._loop.call_soon_threadsafe(self._finish, job, finish)
        except RuntimeError:  # the loop closed: nobody is left to answer
            self.dropped_replies += 1

    # ---------------------------------------------------------------- the loop thread
    def _finish(self, job: Job, finish: Finish) -> None:
        reply = finish()
        if reply is None:
            return
        if job.reply_to is None:  # a stream snapshot: every bridge gets it
            for peer in list(self._peers):
                self._send(peer, 0, reply)
        else:
            peer, route = job.reply_to
            self._send(peer, route, reply)

    def _send(self, peer: _Peer, route: int, reply: StateReply) -> None:
        if peer.closed:
            self.dropped_replies += 1
            return
        peer.outbox.put(pack_routed(route, encode_reply(reply)))

    async def _accept(self) -> None:
        while True:
            try:
                sock, _ = await self._loop.sock_accept(self._server)
            except OSError:  # closed
                return
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            peer = _Peer(sock)
            self._peers.add(peer)
            self._loop.create_task(self._read(peer))

    async def _read(self, peer: _Peer) -> None:
        reader = MessageReader(max_frame=_MAX_REQUEST_FRAME)
        try:
            while data := await self._loop.sock_recv(peer.sock, _RECV):
                for frames in reader.feed(data):
                    self.handle(peer, frames)
        except StateError as error:
            logger.warning("state service: broken framing from a bridge (%s); closing it", error)
        except OSError as error:
            logger.info("state service: bridge connection lost (%s)", error)
        finally:
            peer.outbox.put(None)
            self._drop(peer)

    def _drop(self, peer: _Peer) -> None:
        peer.closed = True
        self._peers.discard(peer)
        peer.sock.close()  # the sender's duplicate closes when its queue is done

    def handle(self, peer: _Peer, frames: list[bytes]) -> None:
        """One request from ``peer``: answered at once (errors, describe) or queued as a job."""
        routed = split_routed(frames)
        route = 0 if routed is None else routed[0]  # a reply without a route goes out as 0
        request: StateRequest | None = None
        try:
            if routed is None:
                raise StateError(Code.BAD_REQUEST, "frame 0 must be the 8-byte route")
            request = decode_request(routed[1])
            reply = self._serve(request, peer, route)
        except StateError as error:
            reply = error_reply(request.op if request else Op.DESCRIBE,
                                request.id if request else 0, error)
        if reply is not None:
            self._send(peer, route, reply)

    def _serve(self, request: StateRequest, peer: _Peer, route: int) -> StateReply | None:
        catalogue = self.catalogue
        if request.op is Op.DESCRIBE:
            return StateReply(op=Op.DESCRIBE, id=request.id, tick=self.tick_source(), info={
                **(catalogue.describe() if catalogue else {"projections": [], "populations": []}),
                "statistics": _as_json(self.plane.statistics())})
        if catalogue is None:
            raise StateError(Code.UNAVAILABLE, "the network is not built yet: requests are "
                             "served from the first run step on")
        now = self.tick_source()
        if request.tick is not None and request.tick < now:
            raise StateError(Code.LATE, f"tick {request.tick} has begun (the engine is at tick "
                             f"{now}); nothing changed")
        if request.op is Op.UNSTREAM:
            self.plane.close_stream(request, (peer, route))
            return None
        if request.op is Op.STREAM:
            if request.every is None:
                raise StateError(Code.BAD_REQUEST, "stream needs 'every' (ticks between "
                                 "snapshots)")
            self.plane.open_stream(request, stream_reader(request, catalogue), (peer, route))
            return None
        job = resolve(request, catalogue)
        job.reply_to = (peer, route)
        self.plane.submit(job)
        return None

    async def aclose(self, flush_s: float = 2.0) -> None:
        """Stop accepting; send what is queued for each bridge (the replies of a run's last
        ticks, up to ``flush_s``), then close the connections."""
        self._server.close()
        peers = list(self._peers)
        for peer in peers:
            peer.outbox.put(None)
        deadline = deadline_after(self._clock, flush_s)
        for peer in peers:
            await asyncio.to_thread(peer.sender.join, remaining(self._clock, deadline))
            self._drop(peer)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def _as_json(stats: Any) -> dict[str, int]:
    return {name: int(getattr(stats, name)) for name in stats.__slots__}
