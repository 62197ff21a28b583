"""The board endpoint: what SCAMP on a board's Ethernet chip does for live I/O, on 127.0.0.x.

Theory of operation
-------------------
sPyNNaker's live clients (``LiveEventConnection`` and its subclasses) talk to a board in exactly
two ways, both as SDP in UDP to ``<board IP>:17893`` (protocol sheet §5.3-§5.5, §7.6-§7.7):

* **SCP IP-tag set** (SDP port 0 of the monitor core): with ``use_sender`` the tag's target
  becomes the request's own UDP source, otherwise the ip:port it carries. SCAMP's 18-byte OK
  reply goes back to the source: the client's database callback blocks until it sees one, so
  the handshake depends on it. The new target is written to the shared
  :class:`~spinnlive.engine.live_output.TagTable`, which live output reads every tick.
* **EIEIO injection** (SDP port 1 of an injector core): decoded by
  :class:`~spinnlive.engine.injection.InjectionDecoder` against the SDP header's destination
  core, and queued for the tick thread (:class:`~spinnlive.engine.injection.InjectionQueue`),
  which takes everything queued before a tick at its start. As on a board, where the injector
  core turns a packet into multicast the moment it arrives, not aligned to the timer (protocol
  sheet §5.3), an injected spike is emitted in the tick in progress when it arrived (the
  *arrival tick*: the tick that ran last; while no ticks run, the next one), so a target 1 ms
  away sees it at the next tick; a rate change applies from the next tick.
* **Timestamped injection** (T set, the tick in the payload prefix, KEY_16 or KEY_32 with D,
  or per-event payloads): the events are HELD until their tick and delivered so that the
  injector population spikes exactly AT the stamped tick, whatever the tick mode; a stamp
  before the arrival tick is dropped and counted ``late_timestamp`` (whole packets on arrival,
  single events when they fall due after their tick began), and a full store of held events
  (``max_held``) refuses the packet as ``hold_full``. **A superset of the real board:** a
  SpiNNaker live injector loses future-stamped packets (it has no send-buffer region) and
  forwards key-only D + T packets unchecked; spinnlive holds both, which is what lets a
  replayer load a whole run's inputs before a lock-step engine starts, and what the handshake's
  confirmation can wait for. Stamps are ticks of the run's own count (they continue across
  ``run`` calls); a 16-bit payload prefix reaches tick 65535 only.

**Settling before a run.** A client may inject (timestamped) input while the toolchain waits for
its confirmation, and then confirm. Those datagrams reached the board's socket before the
confirmation left the client, but the board's task may not have read them when the engine
starts ticking. :meth:`BoardEndpoint.settle` sends the socket a marker datagram of its own and
waits until the task has read it: UDP on loopback queues datagrams on the receiving socket in
the order they were sent, so everything sent before the confirmation has then been queued for
the tick thread. The engine settles the board after every handshake, before START_RESUME.

Because sPyNNaker's clients always send to port 17893 of the database's Ethernet IP, each board
(of each engine; a multi-board machine has one endpoint per board) has its own loopback address:
:meth:`BoardEndpoint.open` binds the first free one of 127.0.0.2 .. 127.0.0.254 unless given
one; port 0 (any) is for tests with raw sockets.

Rules: the receive side runs as one asyncio task and only decodes and enqueues; the tick thread
only calls :meth:`BoardEndpoint.drain`. Whatever cannot be used (bad SDP/SCP/EIEIO, unknown cores
or keys, late timestamps, commands, a full queue or hold) is counted by reason in
:meth:`BoardEndpoint.statistics` and logged rate-limited (:class:`~spinnlive.drops.DropCounter`),
never raised; nothing here waits on a client.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from spinnlive.drops import DropCounter
from spinnlive.engine.injection import (
    Drop,
    InjectionBatch,
    InjectionDecoder,
    InjectionQueue,
    TickInjections,
    targets_from_mapping,
)
from spinnlive.engine.live_output import TagTable, TagTarget, default_tag_targets
from spinnlive.engine.mapping import Mapping as EngineMapping
from spinnlive.errors import RemoteProtocolError, TransportError
from spinnlive.protocol.sdp import (
    CMD_IPTAG,
    INJECTION_SDP_PORT,
    SCAMP_PORT,
    decode_iptag_set,
    decode_scp_request,
    iptag_set_reply,
    unwrap_sdp,
)
from spinnlive.transport.udp import Address, EndpointStatistics, UdpEndpoint, open_endpoint

__all__ = ["SCAMP_PORT", "BoardEndpoint", "BoardStatistics"]

logger = logging.getLogger(__name__)

#: SCAMP's tag table has 8 ordinary IP tags.
N_IP_TAGS = 8
_RC_ARG = 0x84  # SCAMP's "bad argument" return code
_LOOPBACK_HOSTS = tuple(f"127.0.0.{i}" for i in range(2, 255))
_SETTLE_MARKER = b"spinnlive-settle:"


@dataclass(frozen=True, slots=True, kw_only=True)
class BoardStatistics:
    """Counters of one board endpoint since it opened."""

    address: Address
    received: int  #: datagrams taken from the socket
    tag_sets: int  #: IP-tag set requests answered OK
    injected_packets: int  #: injection packets queued for the tick thread
    injected_events: int  #: events in them (spikes or rate changes)
    dropped: Mapping[str, int]  #: whole datagrams, by reason
    dropped_events: Mapping[str, int]  #: single events of used packets ("unknown_key")
    queue_depth: int
    queue_peak: int
    held_events: int  #: timestamped events waiting for their tick
    tags: Mapping[int, TagTarget]
    endpoint: EndpointStatistics  #: the socket's own counters ("queue_full", kernel drops there)

    @property
    def datagrams_dropped(self) -> int:
        """Every datagram lost on the way in, whatever the reason: the board's own reasons, the
        socket queue's and the kernel buffer's (a flood's loss is there, not in ``dropped``)."""
        kernel = self.endpoint.kernel_dropped or 0
        return sum(self.dropped.values()) + sum(self.endpoint.dropped.values()) + kernel


class BoardEndpoint:
    """SCAMP's live-I/O side at one loopback address; see the module docstring."""

    def __init__(self, endpoint: UdpEndpoint, *, tick_source: Callable[[], int] | None = None,
                 max_batches: int = 4096, max_held: int = 1 << 20) -> None:
        self._endpoint = endpoint
        #: current tick for the timestamp check; the engine points it at its scheduler
        self.tick_source: Callable[[], int] = tick_source or (lambda: 0)
        self.tags = TagTable()
        self._decoder = InjectionDecoder([])
        self._queue = InjectionQueue(max_batches, max_held)
        self._received = self._tag_sets = self._packets = self._events = 0
        self._dropped = DropCounter(logger, f"board {self.name}")
        self._dropped_events = DropCounter(logger, f"board {self.name} (events)")
        self._task: asyncio.Task[None] | None = None
        self._settling: dict[bytes, asyncio.Future[None]] = {}
        self._settles = 0

    @classmethod
    async def open(cls, host: str | None = None, port: int = SCAMP_PORT, *,
                   tick_source: Callable[[], int] | None = None, max_queue: int = 1024,
                   max_batches: int = 4096, max_held: int = 1 << 20) -> BoardEndpoint:
        """Bind ``host:port`` (``host`` None: the first free 127.0.0.2..254) and start serving."""
        errors = []
        for candidate in (host,) if host else _LOOPBACK_HOSTS:
            try:
                endpoint = await open_endpoint((candidate, port), max_queue=max_queue)
            except TransportError as error:
                errors.append(str(error))
                continue
            board = cls(endpoint, tick_source=tick_source, max_batches=max_batches,
                        max_held=max_held)
            board._task = asyncio.get_running_loop().create_task(
                board._serve(), name=f"board {board.name}")
            logger.info("board endpoint listening on %s", board.name)
            return board
        raise TransportError(f"no board address free for port {port}: {errors[-1]}"
                             + ("" if host else " (tried 127.0.0.2 .. 127.0.0.254)"))

    @property
    def address(self) -> Address:
        """The bound (ip, port); the ip goes into the database as the Ethernet chip's."""
        return self._endpoint.local_address

    @property
    def name(self) -> str:
        return f"{self.address[0]}:{self.address[1]}"

    def load(self, mapping: EngineMapping, controls: Mapping[str, str] | None = None,
             board: int = 0) -> None:
        """Take a (new) mapping as its board ``board``: the injection targets and that board's
        IP tags with their configured targets.

        ``controls`` maps rate-control labels to Poisson labels when they are not named
        ``<poisson>_control``. Like loading a new application, this resets every tag. Every
        injector is reachable through every board, as SDP reaches any chip of a machine over
        its links; clients (and the bridge) address the board ``get_ip_address`` names, which
        is the injector's own except where the reader's quirk (sheet §7.10) names board (0, 0)
        for a chip (0, y) of another board, on machines of 12 boards and more.
        """
        self._decoder = InjectionDecoder(targets_from_mapping(mapping, controls))
        self.tags.load(default_tag_targets(mapping, board))

    def drain(self, tick: int | None = None) -> TickInjections:
        """Tick thread, at the start of ``tick`` (None: ``tick_source()``): everything injected
        untimed before now and everything stamped ``tick``, merged per population."""
        return self._queue.drain(self.tick_source() if tick is None else tick)

    async def settle(self) -> None:
        """Return once every datagram that reached the socket before this call was handled
        (see the module docstring); the caller bounds the wait."""
        self._settles += 1
        token = _SETTLE_MARKER + str(self._settles).encode()
        done = self._settling[token] = asyncio.get_running_loop().create_future()
        try:
            self._endpoint.send(token, self.address)
            await done
        finally:
            self._settling.pop(token, None)

    def statistics(self) -> BoardStatistics:
        dropped_events = dict(self._dropped_events.snapshot())
        if self._queue.late_events:  # counted by the tick thread, which must not log
            dropped_events[Drop.LATE.value] = self._queue.late_events
        return BoardStatistics(
            address=self.address, received=self._received, tag_sets=self._tag_sets,
            injected_packets=self._packets, injected_events=self._events,
            dropped=self._dropped.snapshot(), dropped_events=MappingProxyType(dropped_events),
            queue_depth=self._queue.depth, queue_peak=self._queue.peak,
            held_events=self._queue.held,
            tags=MappingProxyType(self.tags.snapshot()), endpoint=self._endpoint.statistics())

    def close(self) -> None:
        """Close the socket; the serving task ends by itself."""
        self._endpoint.close()

    async def aclose(self) -> None:
        """Close and wait for the serving task to end."""
        self.close()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)

    async def __aenter__(self) -> BoardEndpoint:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ---------------------------------------------------------------- receive side
    async def _serve(self) -> None:
        while True:
            try:
                data, source = await self._endpoint.next_datagram()
            except TransportError:
                return  # closed
            except OSError as error:  # an ICMP error for an earlier reply
                self._dropped.add("socket_error", 1, error)
                continue
            self._received += 1
            try:
                self.handle_datagram(data, source)
            except Exception:  # a bug must not stop the board; it is logged and counted
                logger.exception("board %s: error handling a datagram from %s", self.name, source)
                self._dropped.add("internal_error")

    def handle_datagram(self, data: bytes, source: Address) -> None:
        """Serve one datagram from ``source`` (the receive task calls this; tests may too)."""
        if source == self.address and data.startswith(_SETTLE_MARKER):
            self._received -= 1  # our own marker: not a client's datagram
            waiter = self._settling.get(data)
            if waiter is not None and not waiter.done():
                waiter.set_result(None)
            return
        try:
            header, body = unwrap_sdp(data)
        except RemoteProtocolError as error:
            self._dropped.add("bad_sdp", 1, f"from {source}: {error}")
            return
        if header.dest_port == 0:
            self._scp(data, header.dest_cpu, source)
        elif header.dest_port == INJECTION_SDP_PORT:
            self._inject((header.dest_x, header.dest_y, header.dest_cpu), body, source)
        else:
            self._dropped.add("sdp_port", 1, f"port {header.dest_port} from {source}")

    def _scp(self, data: bytes, cpu: int, source: Address) -> None:
        try:
            request = decode_scp_request(data)
            if cpu != 0 or request.command != CMD_IPTAG:
                self._dropped.add("scp_unsupported", 1,
                                  f"command {request.command} to cpu {cpu} from {source}")
                return
            tag_set = decode_iptag_set(data)
        except RemoteProtocolError as error:
            self._dropped.add("bad_scp", 1, f"from {source}: {error}")
            return
        if tag_set.tag >= N_IP_TAGS:
            self._dropped.add("bad_tag", 1, f"tag {tag_set.tag} from {source}")
            self._endpoint.send(iptag_set_reply(data, rc=_RC_ARG), source)
            return
        target = source if tag_set.use_sender else (tag_set.ip, tag_set.port)
        self.tags.set(tag_set.tag, target, tag_set.strip)
        self._tag_sets += 1
        self._endpoint.send(iptag_set_reply(data), source)
        logger.info("board %s: IP tag %d -> %s:%d", self.name, tag_set.tag, *target)

    def _inject(self, core: tuple[int, int, int], body: bytes, source: Address) -> None:
        result = self._decoder.decode(core, body, self.tick_source())
        if isinstance(result, Drop):
            self._dropped.add(result.value, 1, f"core {core} from {source}")
            return
        self._queue_batch(result, core, source)

    def _queue_batch(self, batch: InjectionBatch, core: tuple[int, int, int],
                     source: Address) -> None:
        if batch.unknown:
            self._dropped_events.add("unknown_key", batch.unknown, f"core {core} from {source}")
        refused = self._queue.put(batch)
        if refused is not None:
            self._dropped.add(refused, 1, f"{batch.atoms.size} events for {batch.target}")
            return
        self._packets += 1
        self._events += int(batch.atoms.size)
