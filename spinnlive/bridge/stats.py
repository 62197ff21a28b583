"""The bridge's counters: mutable tallies on the hot paths, frozen snapshots for everyone else.

Rules
-----
* Every stream (one ZeroMQ topic, in or out) has one :class:`StreamCounters`; every event that
  does not reach its destination is counted under a reason, once, where it was dropped.
* :meth:`StreamCounters.snapshot` and :meth:`BridgeStatistics.to_json` are the only ways out;
  the ``stats`` topic publishes exactly :meth:`BridgeStatistics.to_json` (wire-format.md §7).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["BoardStatistics", "BridgeStatistics", "StreamCounters", "StreamStatistics",
           "UdpStatistics"]


@dataclass(frozen=True, slots=True)
class StreamStatistics:
    """One topic. For output, ``messages``/``events`` were handed to ZeroMQ; for input, they
    are what arrived, and ``forwarded_events``/``packets`` what went to the board."""

    topic: str
    messages: int
    events: int
    forwarded_events: int
    packets: int
    #: messages lost, by reason (output: queue_full, no_subscriber, send_error;
    #: input: unknown_label, id_out_of_range, rate_out_of_range, bad_payload, no_session)
    dropped: Mapping[str, int]
    dropped_events: Mapping[str, int]
    queue_depth: int
    queue_peak: int
    subscribers: int
    #: output: the next sequence number, i.e. every message accepted for the topic (handed to
    #: ZeroMQ, dropped by the bridge, or still queued); 0 for input streams
    sequence: int = 0

    def totals(self) -> dict[str, Any]:
        """What a subscriber accounts its losses against (wire-format.md §8): cumulative over
        the bridge's life, never reset by an epoch."""
        return {"sequence": self.sequence, "messages": self.messages, "events": self.events,
                "dropped": dict(self.dropped), "dropped_events": dict(self.dropped_events)}


@dataclass(slots=True)
class StreamCounters:
    topic: str
    messages: int = 0
    events: int = 0
    forwarded_events: int = 0
    packets: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    dropped_events: Counter[str] = field(default_factory=Counter)
    queue_peak: int = 0
    sequence: int = 0

    def next_sequence(self) -> int:
        """Accept one message: its sequence number (every accepted message takes one)."""
        self.sequence += 1
        return self.sequence - 1

    def drop(self, reason: str, events: int) -> None:
        self.dropped[reason] += 1
        self.dropped_events[reason] += events

    def snapshot(self, queue_depth: int = 0, subscribers: int = 0) -> StreamStatistics:
        return StreamStatistics(self.topic, self.messages, self.events, self.forwarded_events,
                                self.packets, dict(self.dropped), dict(self.dropped_events),
                                queue_depth, self.queue_peak, subscribers, self.sequence)


@dataclass(frozen=True, slots=True)
class UdpStatistics:
    """The live-output receive socket and the tick assembler behind it."""

    local: tuple[str, int] | None
    received: int
    bad_packets: int
    unknown_keys: int
    late_ticks: int
    ticks_by_deadline: int
    #: datagrams the kernel dropped because the socket buffer was full (/proc/net/udp)
    kernel_drops: int
    tag_requests: int
    tag_replies: int
    tag_timeouts: int
    injected_packets: int
    #: live-output datagrams from an address that is none of the database's boards (not used)
    foreign_packets: int = 0
    #: DATABASE notifications refused (unreadable, outside the run folder), by reason
    notifications_refused: Mapping[str, int] = field(default_factory=dict)
    #: bridge tasks that failed on an input and were restarted, by task
    task_restarts: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class BoardStatistics:
    """One board of the machine, as the bridge sees it (every board the database names)."""

    address: str
    #: "answering" (its tags answered), "silent" (answered, then stopped: reported, its
    #: streams pause, the others go on), "unanswered" (never did: a virtual board), or
    #: "untracked" (no live-output tag to ask it about, so its liveness is unknown)
    state: str
    topics: tuple[str, ...]  #: the topics it carries
    packets: int  #: live-output datagrams received from it
    events: int  #: events in them
    bad_packets: int
    unknown_keys: int
    last_tick: int | None  #: the newest tick it sent
    tags: Mapping[str, bool]  #: tag -> whether its last IP-tag request was answered
    injected_packets: int  #: input datagrams sent to it
    #: input events not sent because it was silent ("board_silent")
    dropped_input_events: int
    #: while silent: ticks the other boards' streams moved on past its last tick (lost to it)
    missed_ticks: int
    silent_periods: int  #: how many times it went silent


@dataclass(frozen=True, slots=True)
class BridgeStatistics:
    epoch: int
    state: str
    udp: UdpStatistics
    streams: Mapping[str, StreamStatistics]
    boards: Mapping[str, BoardStatistics] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "state": self.state, "udp": asdict(self.udp),
                "streams": {name: asdict(s) for name, s in self.streams.items()},
                "boards": {name: asdict(b) for name, b in self.boards.items()}}
