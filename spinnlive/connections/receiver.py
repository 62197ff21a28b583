"""The receive side of spinnlive's live connections: IP-tag programming and live-output dispatch.

Theory of operation
-------------------
A :class:`LiveReceiver` is one run step's receive socket, as ``LiveEventConnection`` opens a new
one for every database (protocol sheet §5.2, §5.4). It is built from the same two parts as the
bridge's live-output side, so both behave alike towards a board:

* the socket is a :class:`~spinnlive.transport.live_socket.LiveSocket` (all interfaces, as the
  reference's ``UDPConnection()``: a board may be on any of them), drained in batches;
* :meth:`LiveReceiver.program_tags` points every live-output tag at it with a
  :class:`~spinnlive.transport.iptags.TagPointer`: SCP IP-tag set with use_sender, resent every
  2 s until SCAMP's 18-byte OK reply, under one deadline (``tag_timeout``). A board that never
  answers is logged and counted (:attr:`LiveReceiver.tags`), and the database is confirmed
  anyway, as the bridge does (the reference would wait for ever).
  :meth:`LiveReceiver.refresh_tags` repeats this every 10 s while the simulation runs.
* Every other datagram is EIEIO. Commands are dropped (the reference parses and ignores them).
  Data packets are decoded with spinnman's prefix reading (what the reference hands on), keys
  are translated by one :class:`~spinnlive.protocol.keys.KeyTable` lookup, matched exactly; an
  unknown key is logged once per key. Timestamped events go to ``cb(label, time, [ids])``, one
  call per (time, label) group in order of appearance; the others to ``cb(label, id, payload)``
  per event, ``payload`` None for key-only packets.

Rules: callbacks are never called here, only queued on their label's worker
(:class:`~spinnlive.transport.loop_thread.LabelWorkers`), so a slow callback cannot stall the socket;
a bad datagram is counted in :attr:`LiveReceiver.dropped` (a
:class:`~spinnlive.drops.DropCounter`) and logged, never raised.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from spinnlive.clock import Clock
from spinnlive.drops import DropCounter
from spinnlive.errors import RemoteProtocolError
from spinnlive.protocol.commands import is_command_packet
from spinnlive.protocol.eieio import PrefixSemantics, decode_data_packet
from spinnlive.protocol.keys import KeyTable
from spinnlive.protocol.sdp import SCAMP_PORT, is_iptag_set_ok
from spinnlive.transport.iptags import OutputTag, TagPointer
from spinnlive.transport.live_socket import Datagram, LiveSocket
from spinnlive.transport.loop_thread import LabelWorkers

__all__ = ["LiveReceiver"]

logger = logging.getLogger(__name__)

TAG_RESEND_S, TAG_REFRESH_S = 2.0, 10.0

Callbacks = dict[str, list[tuple[Callable[..., Any], bool]]]


class LiveReceiver:
    """One receive socket with its tags, key table and callbacks (see the module docstring).

    Made inside the connection's event loop (the socket registers with it)."""

    def __init__(self, table: KeyTable, routes: Sequence[OutputTag], *,
                 time_callbacks: Callbacks, no_time_callbacks: Callbacks,
                 workers: LabelWorkers, error_keys: set[int], clock: Clock,
                 tag_timeout: float, host: str = "0.0.0.0") -> None:
        self._table = table
        self._time_cbs, self._no_time_cbs = time_callbacks, no_time_callbacks
        self._workers, self._error_keys = workers, error_keys
        self.dropped = DropCounter(logger, "live connection receive socket")
        self.socket = LiveSocket(host, 0, self._on_batch)
        self.tags = TagPointer(self.socket, routes, SCAMP_PORT, resend_s=TAG_RESEND_S,
                               timeout_s=tag_timeout, refresh_s=TAG_REFRESH_S, clock=clock)

    @property
    def local_address(self) -> tuple[str, int]:
        return self.socket.local_address

    async def program_tags(self) -> int:
        """Point every tag at this socket under one deadline; returns how many boards answered
        for their tags (the others are logged and counted in :attr:`tags`)."""
        return await self.tags.point_all()

    async def refresh_tags(self) -> None:
        """Reprogram the tags every 10 s until cancelled (the reference does, while running)."""
        await self.tags.refresh_forever()

    def close(self) -> None:
        self.socket.close()

    def _on_batch(self, batch: list[Datagram]) -> None:
        for data, source in batch:
            if self.tags.offer(data, source):
                continue
            if is_iptag_set_ok(data):  # a reply nobody waits for (a resend's second answer)
                self.dropped.add("late_tag_reply")
            elif is_command_packet(data):
                self.dropped.add("command")
            else:
                try:
                    self.deliver(data)
                except RemoteProtocolError as error:
                    self.dropped.add("bad_eieio", 1, error)

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
