"""The monitor's frame format, back to back with no sockets (spinnlive/monitor/frames.py)."""

from __future__ import annotations

import numpy as np
import pytest

from spinnlive.monitor.frames import (
    HOLD_FRAMES,
    FrameBuilder,
    bin_events,
    decode_frame,
    frame_events,
    stamp_dropped,
)
from spinnlive.wire.header import Header
from spinnlive.wire.output import SpikeBatch


def batch(label: str, tick: int, ids: list[int], sequence: int, epoch: int = 1) -> SpikeBatch:
    arr = np.array(ids, dtype="<u4")
    return SpikeBatch(f"spikes/{label}".encode(), label, Header(0, epoch, tick, sequence,
                                                                arr.size), arr)


def test_a_frame_carries_every_event_of_its_period_with_its_tick_per_population() -> None:
    b = FrameBuilder()
    b.add(batch("exc", 10, [3, 1], 0))
    b.add(batch("inh", 10, [7], 0))
    b.add(batch("exc", 11, [2], 1))
    frame = decode_frame(b.take())
    assert b.labels == ["exc", "inh"]
    assert frame.sequence == 0 and frame.epoch == 1 and frame.newest_tick == 11
    assert frame.events == 4
    ticks, ids = frame.spikes[0]
    assert ticks.tolist() == [10, 10, 11] and ids.tolist() == [3, 1, 2]
    assert [a.tolist() for a in frame.spikes[1]] == [[10], [7]]
    empty = decode_frame(b.take())  # nothing new: an empty frame, the next sequence
    assert empty.sequence == 1 and empty.spikes == {} and empty.events == 0


def test_above_exact_max_a_population_is_binned_with_every_event_counted() -> None:
    """The page's work per frame is bounded by pixels: a busy population comes binned, a
    quiet one (or one of unknown size) event by event in the same frame."""
    rng = np.random.default_rng(3)
    b = FrameBuilder(exact_max=100, per_bin=4, sizes={"exc": 1000, "inh": 40})
    sent = {"exc": [], "inh": [], "odd": []}
    for seq, tick in enumerate(range(100, 140)):
        for label, size, n in (("exc", 1000, 50), ("inh", 40, 2), ("odd", 10_000, 30)):
            ids = rng.integers(0, size, n)
            b.add(batch(label, tick, ids.tolist(), seq))
            sent[label] += [(tick, int(i)) for i in ids]
    frame = decode_frame(b.take())
    assert frame.events == sum(map(len, sent.values()))
    exc, inh, odd = (b.labels.index(x) for x in ("exc", "inh", "odd"))
    assert set(frame.cells) == {exc} and set(frame.spikes) == {inh, odd}
    first, rows, counts = frame.cells[exc]
    ticks = np.array([t for t, _ in sent["exc"]])
    ids = np.array([i for _, i in sent["exc"]])
    expect: dict[tuple[int, int], int] = {}
    for t, r in zip(ticks // 4 * 4, ids * 160 // 1000, strict=True):
        expect[int(t), int(r)] = expect.get((int(t), int(r)), 0) + 1
    assert dict(zip(zip(first.tolist(), rows.tolist(), strict=True), counts.tolist(),
                    strict=True)) == expect
    assert counts.sum() == len(sent["exc"]) and len(first) <= 10 * 160  # 10 bins x 160 rows
    assert sorted(zip(*map(np.ndarray.tolist, frame.spikes[inh]), strict=True)) == \
        sorted(sent["inh"])


def test_a_run_whose_sizes_are_not_yet_described_is_held_then_binned_whole() -> None:
    """Spikes of a new run can overtake its description: while it is awaited, a population of
    unknown size waits (other populations go on), and once described it comes binned, every
    event in its cell; a frame's count is what the frame carries, not what is held."""
    b = FrameBuilder(exact_max=0, per_bin=3, sizes={"known": 4}, describing=True)
    b.add(batch("src", 1, [0, 1], 0))
    b.add(batch("known", 1, [2], 0))
    first = b.take()
    frame = decode_frame(first)
    assert frame_events(first) == frame.events == 1 and set(frame.cells) == {1}  # "known"
    b.add(batch("src", 4, [1], 1))
    assert decode_frame(b.take()).events == 0  # still held
    b.sizes["src"] = 5
    b.describing = False
    frame = decode_frame(b.take())
    assert frame.spikes == {} and frame.events == 3
    cells = frame.cells[b.labels.index("src")]
    assert sorted(zip(*map(np.ndarray.tolist, cells), strict=True)) == \
        [(0, 0, 1), (0, 1, 1), (3, 1, 1)]


def test_a_description_that_never_comes_holds_a_population_only_so_long() -> None:
    b = FrameBuilder(exact_max=0, describing=True)
    b.add(batch("src", 1, [0, 1], 0))
    for _ in range(HOLD_FRAMES):
        assert decode_frame(b.take()).events == 0
    frame = decode_frame(b.take())  # then event by event: drawn, never lost
    assert frame.events == 2 and [a.tolist() for a in frame.spikes[0]] == [[1, 1], [0, 1]]


def test_bins_of_ticks_far_apart_are_exact_too() -> None:
    ticks = np.array([5, 5, 6, 4_000_000_000], np.uint32)
    first, rows, counts = bin_events(ticks, np.array([0, 0, 3, 9], np.uint32), 10, 3)
    assert list(zip(first.tolist(), rows.tolist(), counts.tolist(), strict=True)) == \
        [(3, 0, 2), (6, 3, 1), (3_999_999_999, 9, 1)]


def test_a_new_epoch_restarts_the_newest_tick() -> None:
    b = FrameBuilder()
    b.add(batch("exc", 900, [1], 0))
    b.take()
    b.new_epoch(2)
    b.add(batch("exc", 3, [1], 1, epoch=2))
    frame = decode_frame(b.take())
    assert (frame.epoch, frame.newest_tick) == (2, 3)


def test_labels_are_appended_once_and_announced_once() -> None:
    b = FrameBuilder()
    assert b.index_of("a") == 0 and b.index_of("b") == 1 and b.index_of("a") == 0
    assert b.take_labels_changed() and not b.take_labels_changed()
    b.add(batch("c", 1, [0], 0))
    assert b.labels == ["a", "b", "c"] and b.take_labels_changed()


def test_the_dropped_count_is_stamped_per_page_without_touching_the_spikes() -> None:
    b = FrameBuilder()
    b.add(batch("exc", 4, [5, 6], 0))
    raw = b.take()
    stamped = decode_frame(stamp_dropped(raw, 17, 300))
    assert (stamped.dropped, stamped.dropped_events) == (17, 300)
    assert stamped.spikes[0][1].tolist() == [5, 6]


def test_a_truncated_frame_is_refused_by_name() -> None:
    b = FrameBuilder()
    b.add(batch("exc", 4, [5, 6], 0))
    raw = b.take()
    with pytest.raises(ValueError, match="sections end"):
        decode_frame(raw[:-4])
    with pytest.raises(ValueError, match="section mode"):
        decode_frame(raw[:30] + b"\x07" + raw[31:])
    with pytest.raises(ValueError, match="at least"):
        decode_frame(b"\x01")
