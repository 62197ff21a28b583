"""spinnlive.wire.ledger: a subscriber's books balance against the bridge's totals.

A model bridge (a list of accepted messages, each handed to ZeroMQ or dropped by the bridge, and
each handed one delivered or dropped in this subscriber's pipe) announces its totals the way
publisher.Publisher does; the ledger, fed only what the subscriber reads, must recover the losses
exactly, by reason, at every announcement.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from spinnlive.wire.ledger import StreamLedger

TOPIC = "spikes/exc"
FATES = ("delivered", "hwm", "queue_full")


class _ModelBridge:
    def __init__(self) -> None:
        self.sequence = self.messages = self.events = 0
        self.dropped = {"no_subscriber": 0, "queue_full": 0}
        self.dropped_events = {"no_subscriber": 0, "queue_full": 0}

    def accept(self, fate: str, events: int) -> None:
        self.sequence += 1
        if fate == "queue_full":
            self.dropped[fate] += 1
            self.dropped_events[fate] += events
        else:
            self.messages += 1
            self.events += events

    def body(self) -> dict:
        return {"streams": {TOPIC: {"sequence": self.sequence, "messages": self.messages,
                                    "events": self.events, "dropped": dict(self.dropped),
                                    "dropped_events": dict(self.dropped_events)}}}


messages = st.lists(st.tuples(st.sampled_from(FATES), st.integers(0, 300), st.booleans()),
                    max_size=60)


@given(before=messages, after=messages, epoch_at=st.integers(0, 60))
def test_books_balance_at_every_announcement(before, after, epoch_at):
    bridge, ledger = _ModelBridge(), StreamLedger(TOPIC)
    early = 0
    for fate, events, _ in before:  # before the stream is live: outside the books
        bridge.accept(fate, events)
        if fate == "delivered":
            ledger.spike(1, bridge.sequence - 1, events)
            early += 1
    ledger.totals(bridge.body(), sync=True)
    want = {"received": [0, 0], "hwm": [0, 0], "queue_full": [0, 0]}
    for i, (fate, events, announce) in enumerate(after):
        bridge.accept(fate, events)
        key = "received" if fate == "delivered" else fate
        want[key][0] += 1
        want[key][1] += events
        if fate == "delivered":
            ledger.spike(1 if i < epoch_at else 2, bridge.sequence - 1, events)
        if announce:  # a stats message, in order with the spikes
            ledger.totals({"epoch": 2, **bridge.body()}, sync=False)
            got = ledger.statistics()
            assert got.accounted and got.sequence == bridge.sequence
            assert (got.received_messages, got.received_events) == tuple(want["received"])
            assert (got.missed_messages, got.missed_events) == tuple(want["hwm"])
            assert (got.announced_messages, got.announced_events) == (
                want["received"][0] + want["hwm"][0], want["received"][1] + want["hwm"][1])
            assert got.dropped == ({"queue_full": want["queue_full"][0]}
                                   if want["queue_full"][0] else {})
            assert sum(got.dropped_events.values()) == want["queue_full"][1]
    ledger.totals(bridge.body(), sync=True)  # a checkpoint: the tail is counted too
    final = ledger.statistics()
    assert final.early_messages == early and ledger.markers == 2
    assert (final.missed_messages, final.missed_events) == tuple(want["hwm"])
    assert final.received_messages + final.missed_messages == final.announced_messages
    assert final.gap_messages <= want["hwm"][0] + want["queue_full"][0] + len(before)


def test_no_totals_no_books_and_nothing_counted_before_live():
    ledger = StreamLedger(TOPIC)
    ledger.totals({"streams": {TOPIC: {"messages": 5}}}, sync=False)  # before live: ignored
    ledger.spike(1, 0, 3)
    ledger.totals({"event": "sync"}, sync=True)  # an answer without totals (an older bridge)
    ledger.spike(1, 2, 4)
    ledger.totals({"streams": {TOPIC: {"messages": 9, "events": 9}}}, sync=False)
    got = ledger.statistics()
    assert not got.accounted and got.sequence == -1 and got.missed_messages == 0
    assert (got.early_messages, got.received_messages, got.received_events) == (1, 1, 4)
    assert got.gap_messages == 1 and ledger.live


def test_a_topic_absent_from_the_totals_has_published_nothing():
    ledger = StreamLedger(TOPIC)
    ledger.totals({"streams": {}}, sync=True)
    ledger.totals({"streams": {TOPIC: {"sequence": 2, "messages": 2, "events": 7}}}, sync=False)
    got = ledger.statistics()
    assert (got.announced_messages, got.announced_events) == (2, 7)
    assert (got.missed_messages, got.missed_events) == (2, 7)
