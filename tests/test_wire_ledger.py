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


def test_a_prefix_subscription_keeps_books_for_each_spike_topic_it_meets() -> None:
    """``spikes/`` (the monitor's subscription): a topic first seen mid-stream is accounted
    from the first sync answer on, as if it had been subscribed whole."""
    import numpy as np

    from spinnlive.wire.output import encode_json, json_frames, spike_frames
    from spinnlive.wire.subscriber import Subscriber

    book = Subscriber([b"spikes/"])
    assert b"stats" in book.subscriptions() and b"lifecycle" in book.subscriptions()

    def totals(topic: bytes, body: dict) -> list[bytes]:
        return list(json_frames(topic, 1, 0, encode_json(body)))

    def spikes(label: str, sequence: int, n: int) -> list[bytes]:
        topic, header, ids = spike_frames(f"spikes/{label}".encode(), 1, sequence, sequence,
                                          np.arange(n, dtype="<u4"))
        return [topic, header, ids.tobytes()]

    other = {"sequence": 4, "messages": 4, "events": 40, "dropped": {}, "dropped_events": {}}
    book.take(totals(book.token, {"streams": {"spikes/inh": other}}))  # exc: nothing yet
    assert book.take(spikes("exc", 0, 3)) is not None
    # messages 1 and 2 (5 + 6 events) are lost in this subscriber's pipe
    assert book.take(spikes("exc", 3, 2)) is not None
    exc = {"sequence": 4, "messages": 4, "events": 16, "dropped": {}, "dropped_events": {}}
    assert book.take(totals(b"stats", {"streams": {"spikes/exc": exc}})) is None
    got = book.statistics("spikes/exc")
    assert got.accounted and (got.received_messages, got.received_events) == (2, 5)
    assert (got.gap_messages, got.missed_messages, got.missed_events) == (2, 2, 11)
    # a topic first met after a stats body: that body's totals are its latest books
    inh = {"sequence": 6, "messages": 6, "events": 60, "dropped": {}, "dropped_events": {}}
    book.take(totals(b"stats", {"streams": {"spikes/exc": exc, "spikes/inh": inh}}))
    book.take(spikes("inh", 6, 10))
    late = book.statistics("spikes/inh")
    assert (late.announced_messages, late.announced_events, late.missed_events) == (2, 20, 20)
    assert not book.statistics("spikes/never").accounted
