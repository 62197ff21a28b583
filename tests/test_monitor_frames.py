"""The monitor's frame format, back to back with no sockets (spinnlive/monitor/frames.py)."""

from __future__ import annotations

import numpy as np
import pytest

from spinnlive.monitor.frames import FrameBuilder, decode_frame, stamp_dropped
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


def test_sequence_gaps_are_counted_per_topic_within_an_epoch_only() -> None:
    b = FrameBuilder()
    b.add(batch("exc", 1, [0], 0))
    b.add(batch("exc", 2, [0], 3))  # messages 1 and 2 never arrived
    b.add(batch("exc", 5, [0], 9, epoch=2))  # a new epoch: no gap across it
    b.add(batch("exc", 6, [0], 10, epoch=2))
    counts = b.streams["exc"]
    assert (counts.messages, counts.events, counts.gap_messages) == (4, 4, 2)


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
    with pytest.raises(ValueError, match="sections end"):
        decode_frame(b.take()[:-4])
    with pytest.raises(ValueError, match="at least"):
        decode_frame(b"\x01")
