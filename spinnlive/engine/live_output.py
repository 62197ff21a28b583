"""Live output as a SpiNNaker live packet gatherer (LPG) sends it, one tick at a time.

Theory of operation
-------------------
Each :class:`~spinnlive.engine.mapping.LpgMapping` becomes one gatherer. At the end of every
engine tick :meth:`LiveOutput.emit` gets the atoms that fired in that tick per population and
each gatherer sends them the way live_packet_gather.c (FEC 7.x) does:

* **Keys** are the database events (the neuron key with its colour bits masked off by
  ``received_key_mask``), or with ``translate_keys`` the atom ids
  (``((key & ~core_mask) >> colour_bits) + lo_atom``). 16-bit types send
  ``(key >> right_shift) & 0xFFFF``; 32-bit types send the key unshifted, as the C code does.
* **Payloads.** Spikes carry none, so a payload type sends 0 per event, or the tick when
  ``payload_as_time_stamps``. With ``use_payload_prefix`` the header carries the tick (T) or the
  fixed ``payload_prefix`` (16 bits for 16-bit types). With ``use_prefix`` the header carries
  ``key_prefix`` and its F bit; the keys are not changed by it.
* **Packets** hold at most ``256 // event size`` events (128, 64, 64 or 32): a full default
  packet (KEY_32_BIT, D + T, flags 0x38) is 2 + 4 + 256 = 262 bytes. With
  ``number_of_packets_sent_per_time_step = N > 0`` only N packets leave per tick; unlike the LPG
  the rest is counted (``packet_cap``), not dropped silently.
* **Timestamp** = the engine tick the spikes happened in: the LPG's counter starts at 0 on the
  first tick and continues across runs, which is what the engine's tick counter does.
* **Boards.** Each board of the mapping has its own :class:`TagTable` and its own socket, bound
  on that board's address, so a gatherer sends from the board it sits on, as a board's Ethernet
  does; LPG cores that no population feeds send nothing.
* **Destination**: the IP tag's current target in its board's :class:`TagTable`, which the board
  endpoint updates when a client reprograms the tag (SCP IP-tag set with use_sender). Before
  that, the database's host:port when it is a real address (``localhost`` and ``.`` are the host
  itself, 127.0.0.1, as the tag loader makes them); ``0.0.0.0`` has no target and the packets are
  counted under ``no_target``. A tag set without strip gets the LPG's SDP header and padding.

**Undeliverable output.** A UDP send to a port where nothing listens (a killed bridge, a client
gone) succeeds, and the loss showed nowhere. Each board's socket is a
:class:`~spinnlive.transport.sender.UdpSender`, which learns (Linux's ``IP_RECVERR``) of every
datagram no socket took: every emit first reads the senders' refusals (at most
:data:`MAX_REFUSALS_PER_TICK` a tick, the rest at the next) and counts each refused datagram and
its events under ``refused``, naming the destination; :meth:`LiveOutput.collect_refusals` reads
what is left once ticks have stopped. So packets_sent counts what left the socket, and
``refused`` what of it no socket took.

Rules: :meth:`LiveOutput.emit` runs in the tick thread and never blocks: the socket is
non-blocking, ``EAGAIN`` and other send errors are counted drops. Packets are built with
numpy from the mapping's dense atom -> key arrays: no Python object per spike.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from spinnlive.closing import Closing
from spinnlive.drops import DropCounter
from spinnlive.engine.mapping import LpgMapping
from spinnlive.engine.mapping import Mapping as EngineMapping
from spinnlive.errors import ConfigurationError, TransportError
from spinnlive.protocol.eieio import EIEIODataHeader, EIEIOType, EventPacker, PrefixType
from spinnlive.protocol.sdp import EVENTS_HEAD, UDP_PADDING, SDPHeader, datagram_events
from spinnlive.transport.sender import UdpSender

__all__ = ["LPG_BUFFER_BYTES", "MAX_REFUSALS_PER_TICK", "LiveOutput", "LiveOutputStatistics", "TagTable", "TagTarget",
           "default_tag_targets", "resolve_tag_host"]

logger = logging.getLogger(__name__)

Address = tuple[str, int]
#: The LPG's event area: events are flushed when one more would pass this many bytes.
LPG_BUFFER_BYTES = 256
_LPG_SDP_SOURCE_PORT = 3  # the LPG sends from SDP port 3 of its core (srce_port = 3 << 5 | core)
#: Error-queue entries (refused datagrams) one emit reads per socket; the rest wait a tick.
MAX_REFUSALS_PER_TICK = 64


@dataclass(frozen=True, slots=True)
class TagTarget:
    """Where an IP tag sends: ``address`` None means nowhere (a 0.0.0.0 tag not yet set)."""

    address: Address | None
    strip_sdp: bool = True


def resolve_tag_host(host: str, port: int) -> Address | None:
    """The destination a tag loaded from the database has (see the module docstring)."""
    if host in ("0.0.0.0", ""):
        return None
    if host in ("localhost", "."):
        return ("127.0.0.1", port)
    try:
        return (str(ipaddress.IPv4Address(host)), port)
    except ValueError:
        try:  # a host name: resolved once here, never in the tick thread
            return (socket.gethostbyname(host), port)
        except OSError as error:
            raise ConfigurationError(f"live output host {host!r} does not resolve: {error}"
                                     ) from None


def default_tag_targets(mapping: EngineMapping, board: int = 0) -> dict[int, TagTarget]:
    """The targets board ``board``'s IP tags have before any client reprograms them."""
    return {lpg.tag: TagTarget(resolve_tag_host(lpg.parameters.host, lpg.parameters.port),
                               lpg.parameters.strip_sdp)
            for lpg in mapping.lpgs if lpg.board == board}


class TagTable:
    """IP tag -> current target, written by the board endpoint, read by the tick thread.

    A whole :class:`TagTarget` is replaced at once (one dict store), so a reader sees either
    the old or the new target, never half of each.
    """

    def __init__(self) -> None:
        self._targets: dict[int, TagTarget] = {}

    def load(self, defaults: Mapping[int, TagTarget]) -> None:
        """Forget every target and take the mapping's (what loading tags on a board does)."""
        self._targets = dict(defaults)

    def set(self, tag: int, address: Address, strip_sdp: bool = True) -> None:
        self._targets[tag] = TagTarget(address, strip_sdp)

    def target(self, tag: int) -> TagTarget | None:
        return self._targets.get(tag)

    def snapshot(self) -> dict[int, TagTarget]:
        return dict(self._targets)


@dataclass(frozen=True, slots=True, kw_only=True)
class LiveOutputStatistics:
    """What the gatherers did since they were made (packets and events, sent and dropped)."""

    ticks: int
    packets_sent: int
    events_sent: int
    bytes_sent: int
    #: "packet_cap", "no_target", "would_block", "send_error", "refused" (sent, no socket there)
    dropped_packets: Mapping[str, int]
    dropped_events: Mapping[str, int]


class _Gatherer:
    """One LPG: its sources' key arrays, its fixed header bytes and its packet budget."""

    def __init__(self, lpg: LpgMapping, mapping: EngineMapping) -> None:
        p = lpg.parameters
        etype = EIEIOType(p.message_type)
        if p.payload_as_time_stamps and not p.use_payload_prefix and not etype.has_payload:
            raise ConfigurationError(
                f"live output {lpg.label}: timestamps need a payload type or a payload prefix")
        if p.payload_as_time_stamps and p.use_payload_prefix and etype.has_payload:
            raise ConfigurationError(
                f"live output {lpg.label}: timestamps go in the payload prefix or in each"
                " payload, not both")
        self.label, self.tag, self.sources, self.board = lpg.label, lpg.tag, lpg.sources, lpg.board
        self.wide = etype.key_bytes == 4
        self.has_payload = etype.has_payload
        self.timestamps = p.payload_as_time_stamps
        self.key_shift = 0 if self.wide else p.right_shift
        self.per_packet = LPG_BUFFER_BYTES // etype.element_bytes
        self.cap = p.number_of_packets_sent_per_time_step
        width_mask = 0xFFFF_FFFF if self.wide else 0xFFFF
        self.time_mask = width_mask
        self.stamp_in_header = p.use_payload_prefix and p.payload_as_time_stamps
        fixed_pp = None
        if p.use_payload_prefix:
            fixed_pp = 0 if self.stamp_in_header else (p.payload_prefix or 0) & width_mask
        prefix = (p.key_prefix or 0) & 0xFFFF if p.use_prefix else None
        prefix_type = PrefixType(p.prefix_type or 0) if p.use_prefix else PrefixType.LOWER_HALF_WORD
        # the key prefix rides in the header only: the LPG sends the keys unchanged
        self.packer = EventPacker(
            EIEIODataHeader(eieio_type=etype, prefix=prefix, prefix_type=prefix_type,
                            payload_prefix=fixed_pp, is_time=p.payload_as_time_stamps),
            self.per_packet)
        self.values: dict[str, npt.NDArray[np.uint32]] = {}
        for source in lpg.sources:
            vm = mapping.vertex(source)
            self.values[source] = (np.arange(vm.vertex.n_atoms, dtype=np.uint32)
                                   if p.translate_keys else vm.keys.astype(np.uint32))
        x, y = lpg.placement.x, lpg.placement.y
        self.sdp = UDP_PADDING + SDPHeader(
            flags=0x07, tag=lpg.tag, dest_port=7, dest_cpu=31,
            src_port=_LPG_SDP_SOURCE_PORT, src_cpu=lpg.placement.p, dest_x=0, dest_y=0,
            src_x=x, src_y=y).to_bytes()

    def packets(self, values: npt.NDArray[np.uint32], tick: int) -> list[bytes]:
        """The datagrams (stripped) carrying ``values`` stamped with ``tick``."""
        keys = values if self.wide else (values >> np.uint32(self.key_shift)) & np.uint32(0xFFFF)
        stamp = tick & self.time_mask
        payload = (stamp if self.timestamps else 0) if self.has_payload else None
        return self.packer.pack(keys, payload, stamp if self.stamp_in_header else None)


class LiveOutput(Closing):
    """The live packet gatherers of one mapping, sending through one non-blocking socket per
    board (``tags``: one table per board of the mapping, or the one board's table)."""

    def __init__(self, mapping: EngineMapping, tags: TagTable | Sequence[TagTable], *,
                 local_host: str | None = None) -> None:
        self._gatherers = tuple(_Gatherer(lpg, mapping) for lpg in mapping.lpgs if lpg.sources)
        self._tags = [tags] if isinstance(tags, TagTable) else list(tags)
        if len(self._tags) != mapping.n_boards:
            raise ConfigurationError(
                f"live output needs one tag table per board: {mapping.n_boards} boards,"
                f" {len(self._tags)} tables")
        #: every population with live output (the labels :meth:`emit` looks for)
        self.sources = tuple(dict.fromkeys(s for g in self._gatherers for s in g.sources))
        self._senders: list[UdpSender] = []
        for board in mapping.boards:
            try:
                self._senders.append(UdpSender(local_host or board.address))
            except TransportError as error:
                self.close()
                raise TransportError(f"live output: {error}") from None
        self._ticks = self._packets = self._events = self._bytes = 0
        self._last_tick = -1
        self._dropped = DropCounter(logger, "live output (packets)")
        self._dropped_events = DropCounter(logging.getLogger(f"{__name__}.events"),
                                           "live output (events)")

    @property
    def local_address(self) -> Address:
        """The first board's sending address."""
        return self.local_addresses[0]

    @property
    def local_addresses(self) -> tuple[Address, ...]:
        """Each board's sending address, in board order."""
        return tuple(s.local_address for s in self._senders)

    def emit(self, tick: int, spikes: Mapping[str, npt.NDArray[np.integer]]) -> None:
        """Send the spikes of ``tick`` (atom ids per population label); never blocks.

        A tick may be emitted twice (an injector's spikes that arrived while it ran, then the
        next tick's); the packets-per-timestep cap applies to each call."""
        if tick != self._last_tick:
            self._ticks += 1
            self._last_tick = tick
            self.collect_refusals(MAX_REFUSALS_PER_TICK)
        for g in self._gatherers:
            parts = [g.values[s][ids] for s in g.sources
                     if (ids := spikes.get(s)) is not None and len(ids)]
            if not parts:
                continue
            values = parts[0] if len(parts) == 1 else np.concatenate(parts)
            packets = g.packets(values, tick)
            if g.cap and len(packets) > g.cap:
                over = packets[g.cap:]
                self._drop("packet_cap", len(over), sum(p[0] for p in over), g.label)
                packets = packets[:g.cap]
            target = self._tags[g.board].target(g.tag)
            if target is None or target.address is None:
                self._drop("no_target", len(packets), sum(p[0] for p in packets),
                           f"{g.label}: tag {g.tag} has no target (no client set it yet)")
                continue
            sender = self._senders[g.board]
            for packet in packets:
                self._send(sender, packet if target.strip_sdp else g.sdp + packet, target.address,
                           packet[0])

    def _send(self, sender: UdpSender, data: bytes, address: Address, n_events: int) -> None:
        error = sender.send(data, address)
        if error is None:
            self._packets += 1
            self._events += n_events
            self._bytes += len(data)
        elif isinstance(error, BlockingIOError):
            self._drop("would_block", 1, n_events, address)
        else:
            self._drop("send_error", 1, n_events, f"{address}: {error}")

    def collect_refusals(self, limit: int | None = None) -> int:
        """Count the datagrams the senders learnt were refused (at most ``limit`` per socket);
        the tick thread calls it, others only while no tick runs."""
        found = 0
        for sender in self._senders:
            for head, address in sender.refusals(limit, EVENTS_HEAD):
                _, events = datagram_events(head)
                self._drop("refused", 1, events,
                           f"{address}: nothing listens there (ICMP port unreachable)")
                found += 1
        return found

    def _drop(self, reason: str, packets: int, events: int, detail: object) -> None:
        self._dropped.add(reason, packets, detail)
        self._dropped_events.add(reason, events)

    def statistics(self) -> LiveOutputStatistics:
        return LiveOutputStatistics(
            ticks=self._ticks, packets_sent=self._packets, events_sent=self._events,
            bytes_sent=self._bytes, dropped_packets=self._dropped.snapshot(),
            dropped_events=self._dropped_events.snapshot())

    def close(self) -> None:
        self.collect_refusals()
        for sender in self._senders:
            sender.close()

