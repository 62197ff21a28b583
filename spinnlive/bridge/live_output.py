"""Live output from the board: the per-tick assembler behind the live-output socket.

Theory of operation
-------------------
The datagrams come from :class:`~spinnlive.transport.live_socket.LiveSocket` in batches.

:class:`TickAssembler` turns a stream of LPG packets into one batch per (LPG, tick). The LPG
stamps each packet with its tick counter and sends a packet early only when its buffer is full
(128 / 64 / 64 / 32 events by type), so a tick is *closed* for a source address when

1. a packet arrives with fewer events than a full one (the LPG's flush): closed at once;
2. a packet from the same source carries another timestamp: the open tick closes first;
3. ``tick_flush_s`` has passed since the tick's first packet (its last packet was full and
   nothing followed): closed with :data:`~spinnlive.wire.header.FLAG_DEADLINE` set.

A closed tick's keys go through one :meth:`KeyTable.lookup` and are split by population into
``uint32`` neuron-id arrays, in arrival order; the ``emit`` callback publishes each. Unknown
keys, malformed packets and timestamps older than the source's last closed tick are counted,
in total and per sending host (:attr:`TickAssembler.hosts`: on a multi-board machine each
board's LPGs send from that board's address, so these are the per-board counters).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from spinnlive.clock import Clock, MonotonicClock, deadline_after
from spinnlive.errors import RemoteProtocolError
from spinnlive.protocol.eieio import decode_live_output, is_full_packet
from spinnlive.protocol.keys import KeyTable
from spinnlive.transport.live_socket import Address, Datagram
from spinnlive.wire.header import FLAG_DEADLINE

__all__ = ["HostCounters", "TickAssembler"]

logger = logging.getLogger(__name__)

#: (label index, tick, neuron ids, flags)
Emit = Callable[[int, int, npt.NDArray[np.uint32], int], None]

@dataclass(slots=True)
class HostCounters:
    """What one sending host (a board) delivered."""

    packets: int = 0
    events: int = 0
    bad_packets: int = 0
    unknown_keys: int = 0
    last_tick: int | None = None


@dataclass(slots=True)
class _OpenTick:
    tick: int
    parts: list[npt.NDArray[np.uint32]]
    opened: float


class TickAssembler:
    """LPG packets in, one ``emit(label_index, tick, ids, flags)`` per population per tick out."""

    def __init__(self, table: KeyTable, emit: Emit, flush_s: float,
                 clock: Clock | None = None) -> None:
        self._table = table
        self._n_labels = len(table.labels)
        self._emit = emit
        self._flush_s = flush_s
        self._clock: Clock = clock or MonotonicClock()
        self._loop = asyncio.get_running_loop()
        self._open: dict[Address, _OpenTick] = {}
        self._last: dict[Address, int] = {}
        self._timer: asyncio.Task[None] | None = None
        self.bad_packets = 0
        self.unknown_keys = 0
        self.late_ticks = 0
        self.by_deadline = 0
        #: sending host (board IP) -> its counters
        self.hosts: dict[str, HostCounters] = {}

    def host(self, address: str) -> HostCounters:
        counters = self.hosts.get(address)
        if counters is None:
            counters = self.hosts[address] = HostCounters()
        return counters

    def feed(self, batch: list[Datagram]) -> None:
        """Take a batch of untrusted datagrams (commands and garbage are counted as bad)."""
        opened = self._open
        hosts = self.hosts
        for data, source in batch:
            counters = hosts.get(source[0]) or self.host(source[0])
            counters.packets += 1
            try:
                tick, keys = decode_live_output(data)
            except RemoteProtocolError as exc:
                self.bad_packets += 1
                counters.bad_packets += 1
                logger.debug("bad live-output datagram from %s: %s", source, exc)
                continue
            counters.events += keys.size
            counters.last_tick = tick
            current = opened.get(source)
            if current is not None and current.tick != tick:
                self._close(source, opened.pop(source), 0)
                current = None
            if current is None:
                current = opened[source] = _OpenTick(tick, [], self._clock.now())
            current.parts.append(keys)
            if not is_full_packet(data):
                self._close(source, opened.pop(source), 0)
        if opened and self._timer is None:
            self._expire_at(deadline_after(self._clock, self._flush_s))

    def flush(self) -> None:
        """Close every open tick now (end of a run step, or the bridge closing)."""
        for source in list(self._open):
            self._close(source, self._open.pop(source), FLAG_DEADLINE)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.flush()

    def _expire_at(self, deadline: float) -> None:
        self._timer = self._loop.create_task(self._sleep_then_expire(deadline))

    async def _sleep_then_expire(self, deadline: float) -> None:
        await self._clock.sleep_until(deadline)
        self._timer = None
        self._expire()

    def _expire(self) -> None:
        now = self._clock.now()
        for source, current in list(self._open.items()):
            if now - current.opened >= self._flush_s * 0.999:
                self._close(source, self._open.pop(source), FLAG_DEADLINE)
        if self._open:
            oldest = min(c.opened for c in self._open.values())
            self._expire_at(oldest + self._flush_s)

    def _close(self, source: Address, current: _OpenTick, flags: int) -> None:
        if flags & FLAG_DEADLINE:
            self.by_deadline += 1
        last = self._last.get(source)
        if last is not None and current.tick < last:
            self.late_ticks += 1
        self._last[source] = current.tick
        parts = current.parts
        keys = parts[0] if len(parts) == 1 else np.concatenate(parts)
        found = self._table.lookup(keys)
        known = found.known
        n_known = int(np.count_nonzero(known))
        if n_known != keys.size:
            self.unknown_keys += keys.size - n_known
            self.host(source[0]).unknown_keys += keys.size - n_known
        if n_known == 0:
            return
        atoms = found.atom
        if self._n_labels == 1:
            self._emit(0, current.tick, atoms[known].astype(np.uint32), flags)
            return
        label_index = found.label_index
        present = np.bincount(label_index[known], minlength=self._n_labels)
        for index in np.flatnonzero(present):
            ids = atoms[label_index == index].astype(np.uint32)
            self._emit(int(index), current.tick, ids, flags)
