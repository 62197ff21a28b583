"""A subscriber's books: what it received of one topic, and what it lost, by reason.

Theory of operation
-------------------
libzmq drops silently for a subscriber whose pipe is full (the bridge's default mode), so only
the subscriber can count those losses. The bridge helps by announcing, per topic, the totals of
docs/wire-format.md §8 (messages and events handed to ZeroMQ, the next sequence number, its own
drops), rendered when the announcing message is handed to ZeroMQ: everything counted there is
ahead of the announcement in every pipe. :class:`StreamLedger` is fed, in socket order, every
spike message's header fields and every totals body it reads; it needs no socket or clock.

Rules
-----
* The books open at the stream's first sync answer (``base`` = its totals); spike messages read
  before it are delivered but counted apart (``early_messages``).
* At each totals reading ``T`` (sync answer, ``paused``/``closing``, ``stats``) the received
  counts are frozen with it: ``missed = (T − base) − received then``, exact whatever arrives
  later. A body without ``streams`` (an older bridge) leaves the books unaccounted.
* Sequence gaps are counted within one epoch only, as the wire format says.
* A restarted bridge (another ``bridge`` identity in the header, §2) starts its totals, epochs
  and sequences again. The books close the old bridge's part: what it announced until its last
  totals read, plus what was received from it after them (announced too, or it could not have
  come), and its missed count as of those totals; they then go on with the new bridge's totals
  counted from zero (everything it handed to ZeroMQ is in them), and count the restart
  (``bridge_restarts``). What the old bridge handed to ZeroMQ after its last totals and never
  arrived is counted by nobody: no totals of it will come (the engine counts what it sent to
  the dead bridge's port as ``refused``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["SpikeStreamStatistics", "StreamLedger"]


@dataclass(frozen=True, slots=True)
class SpikeStreamStatistics:
    """What one subscriber got and lost of one topic (docs/wire-format.md §8).

    ``received_*`` grow as messages arrive; the rest is as of the latest totals read in order,
    where ``received_* (then) + missed_* == announced_*`` holds exactly.
    """

    topic: str
    #: spike messages/events read since the stream went live (its first sync answer)
    received_messages: int
    received_events: int
    #: delivered before the stream was live (outside the accounting; usually 0)
    early_messages: int
    #: sequence numbers skipped between two received messages of one epoch (any reason)
    gap_messages: int
    #: True once totals were read in order after going live; the fields below need them
    accounted: bool
    #: handed to ZeroMQ for this topic since the stream went live
    announced_messages: int
    announced_events: int
    #: handed to ZeroMQ but never received: dropped by libzmq in this subscriber's own pipe
    #: (reason ``hwm``; the bridge cannot see these)
    missed_messages: int
    missed_events: int
    #: dropped by the bridge before ZeroMQ since the stream went live, by reason (queue_full,
    #: send_error): lost for every subscriber, never announced
    dropped: Mapping[str, int]
    dropped_events: Mapping[str, int]
    #: the topic's next sequence number at the latest totals (-1 before any)
    sequence: int
    #: how many times another bridge took over this stream (a restart; module docstring)
    bridge_restarts: int = 0


@dataclass(frozen=True, slots=True)
class _Totals:
    """One topic's entry in a ``streams`` object."""

    sequence: int
    messages: int
    events: int
    dropped: Mapping[str, int]
    dropped_events: Mapping[str, int]

    @classmethod
    def of(cls, streams: Mapping[str, Any], topic: str) -> _Totals:
        entry = streams.get(topic) or {}  # a topic the bridge never published: all zero
        return cls(int(entry.get("sequence", 0)), int(entry.get("messages", 0)),
                   int(entry.get("events", 0)), dict(entry.get("dropped", {})),
                   dict(entry.get("dropped_events", {})))


def _since(now: Mapping[str, int], then: Mapping[str, int]) -> dict[str, int]:
    return {k: v - then.get(k, 0) for k, v in now.items() if v - then.get(k, 0)}


class StreamLedger:
    """Feed it what one subscriber reads of ``topic``, in order; ask :meth:`statistics`."""

    def __init__(self, topic: str) -> None:
        self.topic = topic
        self.live = False
        #: sync answers read (a checkpoint waits for this to grow)
        self.markers = 0
        self.gaps = 0
        self.early = 0
        self.epoch: int | None = None
        self._expected: int | None = None
        self._received = (0, 0)
        self._base: _Totals | None = None
        self._last: _Totals | None = None
        self._at_last = (0, 0)
        self.bridge: int | None = None  #: the identity of the bridge read last
        self.bridge_restarts = 0
        #: the closed books of bridges before this one: announced and missed (messages, events)
        self._before = (0, 0, 0, 0)
        self._dropped_before: tuple[dict[str, int], dict[str, int]] = ({}, {})
        self._segment_start = (0, 0)  # received when the current bridge's books opened

    @property
    def received_messages(self) -> int:
        return self._received[0]

    def _follow(self, bridge: int) -> None:
        """Close the books of the bridge before when ``bridge`` is another one."""
        if bridge == self.bridge:
            return
        if self.bridge is not None:
            self._close_bridge()
        self.bridge = bridge

    def _close_bridge(self) -> None:
        self.bridge_restarts += 1
        self.epoch, self._expected = None, None
        base, last = self._base, self._last
        if base is None or last is None:
            return
        received = (self._received[0] - self._segment_start[0],
                    self._received[1] - self._segment_start[1])
        at_last = (self._at_last[0] - self._segment_start[0],
                   self._at_last[1] - self._segment_start[1])
        known = (last.messages - base.messages, last.events - base.events)
        a_m, a_e, m_m, m_e = self._before
        self._before = (a_m + known[0] + received[0] - at_last[0],
                        a_e + known[1] + received[1] - at_last[1],
                        m_m + known[0] - at_last[0], m_e + known[1] - at_last[1])
        for before, now, then in zip(self._dropped_before, (last.dropped, last.dropped_events),
                                     (base.dropped, base.dropped_events), strict=True):
            for reason, n in _since(now, then).items():
                before[reason] = before.get(reason, 0) + n
        zero = _Totals(0, 0, 0, {}, {})  # the new bridge counts from its start
        self._base, self._last = zero, None
        self._segment_start = self._at_last = self._received

    def spike(self, epoch: int, sequence: int, events: int, bridge: int = 0) -> None:
        """One spike message of this topic, header fields as read."""
        self._follow(bridge)
        if epoch != self.epoch:
            self.epoch, self._expected = epoch, None
        if self._expected is not None and sequence > self._expected:
            self.gaps += sequence - self._expected
        self._expected = sequence + 1
        if self.live:
            self._received = (self._received[0] + 1, self._received[1] + events)
        else:
            self.early += 1

    def totals(self, body: Mapping[str, Any], *, sync: bool, bridge: int = 0) -> None:
        """A JSON body that may carry totals: a sync answer (``sync``), lifecycle or stats,
        from the bridge ``bridge`` (its header's field)."""
        if not (sync or self.live):
            return  # announcements before the books open say nothing about this stream
        self._follow(bridge)
        streams = body.get("streams")
        if sync:
            self.markers += 1
            if not self.live:
                self.live = True
                self._base = None if streams is None else _Totals.of(streams, self.topic)
        if streams is not None and self._base is not None:
            self._last = _Totals.of(streams, self.topic)
            self._at_last = self._received

    def statistics(self) -> SpikeStreamStatistics:
        base, last = self._base, self._last
        messages, events = self._received
        if base is None or (last is None and not self.bridge_restarts):
            return SpikeStreamStatistics(self.topic, messages, events, self.early, self.gaps,
                                         False, 0, 0, 0, 0, {}, {}, -1, self.bridge_restarts)
        start = self._segment_start
        if last is None:  # a new bridge whose totals have not come yet: what came was announced
            announced = (messages - start[0], events - start[1])
            missed, last = (0, 0), base
        else:
            announced = (last.messages - base.messages, last.events - base.events)
            missed = (announced[0] - (self._at_last[0] - start[0]),
                      announced[1] - (self._at_last[1] - start[1]))
        a_m, a_e, m_m, m_e = self._before
        dropped, dropped_events = (dict(d) for d in self._dropped_before)
        for into, now, then in ((dropped, last.dropped, base.dropped),
                                (dropped_events, last.dropped_events, base.dropped_events)):
            for reason, n in _since(now, then).items():
                into[reason] = into.get(reason, 0) + n
        return SpikeStreamStatistics(
            self.topic, messages, events, self.early, self.gaps, True, a_m + announced[0],
            a_e + announced[1], m_m + missed[0], m_e + missed[1], dropped, dropped_events,
            last.sequence, self.bridge_restarts)
