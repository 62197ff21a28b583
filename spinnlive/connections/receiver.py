"""The receive side of spinnlive's live connections: IP-tag programming and live-output dispatch.

Theory of operation
-------------------
A :class:`LiveReceiver` is one run step's receive socket, as ``LiveEventConnection`` opens a new
one for every database (protocol sheet §5.2, §5.4):

* :meth:`LiveReceiver.program_tags` sends SCP IP-tag set with use_sender to each board for each
  live-output tag, from this socket, so the board's live output comes back here; it resends
  every 2 s until SCAMP's 18-byte OK reply arrives (``[2] == 0x07``, ``[4] == 0xFF``, the
  reference's test) and gives up with :class:`~spinnlive.errors.HandshakeTimeout` at a deadline.
  :meth:`LiveReceiver.refresh_tags` repeats this every 10 s while the simulation runs.
* Every other datagram is EIEIO. Commands are dropped (the reference parses and ignores them).
  Data packets are decoded with spinnman's prefix reading (what the reference hands on), keys
  are translated by one :class:`~spinnlive.protocol.keys.KeyTable` lookup, matched exactly; an
  unknown key is logged once per key. Timestamped events go to ``cb(label, time, [ids])``, one
  call per (time, label) group in order of appearance; the others to ``cb(label, id, payload)``
  per event, ``payload`` None for key-only packets.

Rules: callbacks are never called here, only queued on their label's worker
(:class:`~spinnlive.engine.loop_thread.LabelWorkers`), so a slow callback cannot stall the socket;
a bad datagram is counted on the endpoint and logged, never raised.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import numpy as np

from spinnlive.clock import Clock, deadline_after, wait_event_until
from spinnlive.engine.loop_thread import LabelWorkers
from spinnlive.errors import HandshakeTimeout, RemoteProtocolError, TransportError
from spinnlive.protocol.commands import is_command_packet
from spinnlive.protocol.eieio import PrefixSemantics, decode_data_packet
from spinnlive.protocol.keys import KeyTable
from spinnlive.protocol.sdp import SCAMP_PORT, IPTagSetRequest, encode_iptag_set
from spinnlive.transport.udp import UdpEndpoint

__all__ = ["LiveReceiver", "TagRoute", "is_tag_reply"]

logger = logging.getLogger(__name__)

TAG_RESEND_S, TAG_REFRESH_S = 2.0, 10.0

TagRoute = tuple[int, int, int, str]
"""(chip x, chip y, tag, board address) of one live-output IP tag."""
Callbacks = dict[str, list[tuple[Callable[..., Any], bool]]]


def is_tag_reply(data: bytes) -> bool:
    """SCAMP's IP-tag set OK, as LiveEventConnection recognises it: 18 bytes, flags, dest."""
    return len(data) == 18 and data[2] == 0x07 and data[4] == 0xFF


class LiveReceiver:
    """One receive socket with its tags, key table and callbacks (see the module docstring)."""

    def __init__(self, endpoint: UdpEndpoint, table: KeyTable, routes: list[TagRoute], *,
                 time_callbacks: Callbacks, no_time_callbacks: Callbacks,
                 workers: LabelWorkers, error_keys: set[int], clock: Clock,
                 tag_timeout: float) -> None:
        self._endpoint, self._table, self._routes = endpoint, table, routes
        self._time_cbs, self._no_time_cbs = time_callbacks, no_time_callbacks
        self._workers, self._error_keys = workers, error_keys
        self._clock, self._tag_timeout = clock, tag_timeout
        self._reply = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._receive())

    async def program_tags(self) -> None:
        """Point every tag at this socket; wait (bounded) for each board's reply."""
        for x, y, tag, board in self._routes:
            request = encode_iptag_set(IPTagSetRequest(x=x, y=y, tag=tag))
            deadline = deadline_after(self._clock, self._tag_timeout)
            self._reply.clear()
            while not self._reply.is_set():
                if self._clock.now() >= deadline:
                    raise HandshakeTimeout(
                        f"board {board}:{SCAMP_PORT} did not answer the IP-tag set for tag"
                        f" {tag} within {self._tag_timeout:g} s")
                self._endpoint.send(request, (board, SCAMP_PORT))
                await wait_event_until(self._reply, self._clock,
                                       min(deadline, deadline_after(self._clock, TAG_RESEND_S)))

    async def refresh_tags(self) -> None:
        """Reprogram the tags every 10 s until cancelled (the reference does, while running)."""
        while True:
            await self._clock.sleep_until(deadline_after(self._clock, TAG_REFRESH_S))
            try:
                await self.program_tags()
            except (HandshakeTimeout, TransportError) as error:
                logger.warning("live connection: IP tag refresh failed: %s", error)

    def close(self) -> None:
        self._endpoint.close()

    async def _receive(self) -> None:
        endpoint = self._endpoint
        while True:
            try:
                data, _ = await endpoint.next_datagram()
            except TransportError:
                return
            except OSError:
                continue
            if is_tag_reply(data):
                self._reply.set()
            elif is_command_packet(data):
                endpoint.count_drop("command")
            else:
                try:
                    self.deliver(data)
                except RemoteProtocolError as error:
                    endpoint.count_drop("bad_eieio")
                    logger.warning("problem handling received packet: %s", error)

    def deliver(self, data: bytes) -> None:
        """Translate one live-output packet and queue its callbacks."""
        packet = decode_data_packet(data, semantics=PrefixSemantics.SPINNMAN)
        found = self._table.lookup(packet.keys)
        known = found.known
        all_known = bool(known.all())
        if not all_known:
            for key in np.unique(packet.keys[~known]).tolist():
                if key not in self._error_keys:
                    self._error_keys.add(key)
                    logger.warning("Received unexpected key %d", key)
        keys, atoms, which = ((packet.keys, found.atom, found.label_index) if all_known else
                              (packet.keys[known], found.atom[known], found.label_index[known]))
        if not keys.size:
            return
        if packet.is_time:  # T: one call per (time, label) group, in order of appearance
            if packet.timestamp is not None:  # the live-output default: one time per packet
                self._submit_timed(which, np.full(1, packet.timestamp), keys, atoms)
            elif packet.payloads is not None:
                self._submit_timed(which, packet.payloads[known], keys, atoms)
            # else T on a key-only type without D: the reference finds no payloads
            return
        payloads = packet.payloads
        labels, submit = self._table.labels, self._workers.submit
        values = None if payloads is None else payloads[known].tolist()
        for i, (key, atom, index) in enumerate(zip(keys.tolist(), atoms.tolist(),
                                                   which.tolist())):
            label = labels[index]
            for callback, translate in list(self._no_time_cbs.get(label, ())):
                submit(label, callback, label, atom if translate else key,
                       None if values is None else values[i])

    def _submit_timed(self, which: np.ndarray, times: np.ndarray, keys: np.ndarray,
                      atoms: np.ndarray) -> None:
        """``cb(label, time, ids)`` per (time, label) group; ``times`` has one entry per event,
        or one for the whole packet."""
        labels, submit = self._table.labels, self._workers.submit
        if times.size == 1 and which[0] == which[-1] and (which.size < 3 or
                                                          (which == which[0]).all()):
            label, time = labels[which[0]], int(times[0])  # one group: no grouping needed
            for callback, translate in list(self._time_cbs.get(label, ())):
                submit(label, callback, label, time, (atoms if translate else keys).tolist())
            return
        times = np.broadcast_to(times, which.shape)
        group = (times.astype(np.uint64) << np.uint64(32)) | which.astype(np.uint64)
        _, first, inverse = np.unique(group, return_index=True, return_inverse=True)
        for g in np.argsort(first):
            chosen = inverse == g
            label, time = labels[which[first[g]]], int(times[first[g]])
            for callback, translate in list(self._time_cbs.get(label, ())):
                submit(label, callback, label, time, (atoms if translate else keys)[chosen]
                       .tolist())
