"""A counting decoder for untrusted EIEIO datagram streams.

Theory of operation
-------------------
A socket loop hands every datagram it receives to one :class:`StreamDecoder`. Each datagram
becomes a :class:`~spinnlive.protocol.eieio.DataPacket`, a command record, or a counted drop:
bad bytes from the network are an expected condition on a live stream, so they are never raised.
Drops are counted by reason (``"<data|command>: <field>"``, the field the protocol error names)
and logged at most once per reason per ``log_every`` occurrences (the 1st, the 1+N-th, ...), so a
flood of garbage cannot flood the log. :meth:`StreamDecoder.statistics` returns a frozen snapshot.

This is the one module of ``spinnlive.protocol`` that logs; it still does no I/O of its own.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from spinnlive.errors import ConfigurationError, RemoteProtocolError
from spinnlive.protocol.commands import Command, decode_command, is_command_packet
from spinnlive.protocol.eieio import DataPacket, PrefixSemantics, decode_data_packet, decode_many

__all__ = ["StreamDecoder", "StreamStatistics"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamStatistics:
    received: int
    data_packets: int
    commands: int
    events: int
    dropped: Mapping[str, int]

    @property
    def dropped_total(self) -> int:
        return sum(self.dropped.values())


class StreamDecoder:
    """Feed datagrams, get packets; malformed ones are counted, logged sparingly, skipped."""

    def __init__(self, *, semantics: PrefixSemantics = PrefixSemantics.ON_CHIP,
                 log_every: int = 1000, name: str = "stream") -> None:
        if log_every < 1:
            raise ConfigurationError(f"log_every must be at least 1, got {log_every}")
        self._semantics = semantics
        self._log_every = log_every
        self._name = name
        self._received = 0
        self._data = 0
        self._commands = 0
        self._events = 0
        self._dropped: Counter[str] = Counter()

    def _drop(self, kind: str, datagram: bytes, exc: RemoteProtocolError) -> None:
        reason = f"{kind}: {exc.field or 'datagram'}"
        self._dropped[reason] += 1
        n = self._dropped[reason]
        if n % self._log_every == 1 or self._log_every == 1:
            logger.warning("%s: dropped %d-byte datagram (%s), %d so far for %r", self._name,
                           len(datagram), exc, n, reason)

    def feed(self, datagram: bytes) -> DataPacket | Command | None:
        """Decode one datagram; None when it was malformed (and counted)."""
        self._received += 1
        if is_command_packet(datagram):
            try:
                cmd = decode_command(datagram)
            except RemoteProtocolError as exc:
                self._drop("command", datagram, exc)
                return None
            self._commands += 1
            return cmd
        try:
            packet = decode_data_packet(datagram, semantics=self._semantics)
        except RemoteProtocolError as exc:
            self._drop("data", datagram, exc)
            return None
        self._data += 1
        self._events += len(packet.keys)
        return packet

    def feed_many(
        self, datagrams: Sequence[bytes]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[Command]]:
        """Events of all data packets as arrays (see ``decode_many``), plus the commands.

        ``packet_index`` refers to positions in ``datagrams``; dropped datagrams and commands
        contribute no events.
        """
        commands: list[Command] = []
        bad = 0

        def on_error(i: int, exc: RemoteProtocolError) -> None:
            nonlocal bad
            datagram = datagrams[i]
            if is_command_packet(datagram):
                try:
                    commands.append(decode_command(datagram))
                    return
                except RemoteProtocolError as cmd_exc:
                    self._drop("command", datagram, cmd_exc)
            else:
                self._drop("data", datagram, exc)
            bad += 1

        keys, payloads, index = decode_many(datagrams, semantics=self._semantics,
                                            on_error=on_error)
        self._received += len(datagrams)
        self._commands += len(commands)
        self._data += len(datagrams) - len(commands) - bad
        self._events += len(keys)
        return keys, payloads, index, commands

    def statistics(self) -> StreamStatistics:
        return StreamStatistics(received=self._received, data_packets=self._data,
                                commands=self._commands, events=self._events,
                                dropped=MappingProxyType(dict(self._dropped)))
