"""Timestamped injection over real UDP: future stamps held until their tick, past ones late,
a full hold counted; and the same through a real tick thread (the injector spikes AT the stamp)."""

from __future__ import annotations

import numpy as np
import pytest
from test_board_endpoint import N_INJ, Peer, deliver, network, to_core

from spinnlive.engine.board import BoardEndpoint
from spinnlive.engine.hold import TimedHold
from spinnlive.engine.scheduler import TickMode, TickScheduler
from spinnlive.protocol.eieio import EIEIOType, encode_events


@pytest.fixture
async def board():  # type: ignore[no-untyped-def]
    endpoint = await BoardEndpoint.open(port=0, max_held=40)
    mapping = network(endpoint.address[0])
    endpoint.load(mapping)
    peer = Peer()
    try:
        yield endpoint, peer, mapping
    finally:
        peer.sock.close()
        await endpoint.aclose()


def stamped(ids: list[int], tick: int, key_type: EIEIOType = EIEIOType.KEY_16_BIT) -> bytes:
    """What the bridge sends for ``inject(label, ids, tick=tick)``: D + T, prefix = tick."""
    (packet,) = encode_events(np.array(ids, np.uint32), eieio_type=key_type,
                              payload_prefix=tick, is_time=True)
    return packet


async def test_future_stamps_are_delivered_at_their_tick_in_stamp_order(board) -> None:  # type: ignore[no-untyped-def]
    endpoint, peer, mapping = board
    endpoint.tick_source = lambda: 0
    keys = mapping.keys("inj")
    packets = [stamped([1, 2], 7), stamped([3], 3), stamped([4], 7),
               stamped(keys[[5, 6]].tolist(), 3, EIEIOType.KEY_32_BIT), stamped([0], 12)]
    await deliver(endpoint, peer, to_core(mapping, "inj", packets))
    assert endpoint.statistics().held_events == 7
    got = {tick: endpoint.drain(tick).spikes.get("inj") for tick in range(15)}
    assert {t: a.tolist() for t, a in got.items() if a is not None} == {
        3: [3, 5, 6], 7: [1, 2, 4], 12: [0]}
    stats = endpoint.statistics()
    assert stats.held_events == 0 and stats.dropped == {} and not stats.dropped_events


async def test_stamps_already_past_are_counted_late_on_arrival_and_when_due(board) -> None:  # type: ignore[no-untyped-def]
    endpoint, peer, mapping = board
    endpoint.tick_source = lambda: 10
    await deliver(endpoint, peer, to_core(mapping, "inj", [stamped([1], 9), stamped([2, 3], 10)]))
    assert endpoint.statistics().dropped == {"late_timestamp": 1}  # 9 < 10: whole packet
    # tick 10 was computed without draining: at tick 11 its two events are late, one by one
    assert endpoint.drain(11).empty
    stats = endpoint.statistics()
    assert stats.dropped_events == {"late_timestamp": 2} and stats.held_events == 0


async def test_a_full_hold_refuses_whole_packets_and_counts_them(board) -> None:  # type: ignore[no-untyped-def]
    endpoint, peer, mapping = board  # max_held=40 events
    endpoint.tick_source = lambda: 0
    ten = list(range(N_INJ))
    await deliver(endpoint, peer, to_core(mapping, "inj", [stamped(ten, t) for t in range(1, 7)]))
    stats = endpoint.statistics()
    assert stats.held_events == 40 and stats.dropped == {"hold_full": 2}
    assert endpoint.drain(1).spikes["inj"].tolist() == ten  # frees 10 places
    await deliver(endpoint, peer, to_core(mapping, "inj", [stamped(ten, 20), stamped(ten, 21)]))
    assert endpoint.statistics().dropped == {"hold_full": 3}
    delivered = [t for t in range(2, 25) if not endpoint.drain(t).empty]
    assert delivered == [2, 3, 4, 20]


async def test_stamped_spikes_reach_the_tick_thread_at_their_tick(board) -> None:  # type: ignore[no-untyped-def]
    endpoint, peer, mapping = board
    applied: list[tuple[int, list[int]]] = []

    def step(tick: int) -> None:
        injected = endpoint.drain(tick)
        if "inj" in injected.spikes:
            applied.append((tick, injected.spikes["inj"].tolist()))

    scheduler = TickScheduler(step, 0.001, TickMode.LOCKSTEP)
    endpoint.tick_source = lambda: scheduler.tick
    await deliver(endpoint, peer, to_core(mapping, "inj", [
        stamped([4], 30), stamped([1, 2], 5), stamped([9], 299)]))
    scheduler.start(300)
    scheduler.join(30)
    assert applied == [(5, [1, 2]), (30, [4]), (299, [9])]


def test_the_hold_keeps_arrival_order_among_equal_stamps_and_sorts_by_stamp() -> None:
    hold = TimedHold()
    rng = np.random.default_rng(3)
    stamps = rng.integers(0, 20, 50)
    batches = [rng.integers(0, 100, int(n)) for n in rng.integers(1, 6, 50)]
    labels = ["a" if i % 3 else "b" for i in range(50)]
    for at in range(0, 50, 7):  # several merges, as several drains would do
        hold.add(stamps[at:at + 7].tolist(), labels[at:at + 7], batches[at:at + 7])
    for tick in range(20):
        due = hold.take(tick)
        for label in ("a", "b"):
            want = [b for s, lab, b in zip(stamps, labels, batches, strict=True)
                    if s == tick and lab == label]
            got = due.spikes.get(label, np.zeros(0, np.int64))
            np.testing.assert_array_equal(got, np.concatenate(want) if want else [])
        assert due.late == 0
    assert len(hold) == 0


async def test_settle_returns_after_every_datagram_sent_before_it_is_queued(board) -> None:  # type: ignore[no-untyped-def]
    endpoint, peer, mapping = board
    endpoint.tick_source = lambda: 0
    packets = to_core(mapping, "inj", [stamped([t % N_INJ], t) for t in range(1, 31)])
    for data in packets:  # no waiting: settle alone must make them visible
        peer.sock.sendto(data, endpoint.address)
    await endpoint.settle()
    stats = endpoint.statistics()
    assert stats.received == len(packets) and stats.held_events == len(packets)
    assert [t for t in range(40) if not endpoint.drain(t).empty] == list(range(1, 31))
