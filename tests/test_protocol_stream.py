"""The counting stream decoder: bad datagrams are counted and logged sparingly, never raised."""

from __future__ import annotations

import dataclasses
import logging

import numpy as np
import pytest

from spinnlive.errors import ConfigurationError
from spinnlive.protocol.commands import StartResumeNotification, encode_command
from spinnlive.protocol.eieio import DataPacket, EIEIOType, encode_events
from spinnlive.protocol.stream import StreamDecoder

GOOD = encode_events(np.arange(10), eieio_type=EIEIOType.KEY_32_BIT, payload_prefix=3,
                     is_time=True)[0]
START = encode_command(StartResumeNotification())


def test_feed_decodes_counts_and_never_raises(caplog):
    decoder = StreamDecoder(log_every=3, name="lpg")
    caplog.set_level(logging.WARNING, logger="spinnlive.protocol.stream")
    assert isinstance(decoder.feed(GOOD), DataPacket)
    assert decoder.feed(START) == StartResumeNotification()
    for _ in range(7):
        assert decoder.feed(GOOD[:-1]) is None
    assert decoder.feed(b"\x0d\x40") is None
    assert decoder.feed(b"") is None
    stats = decoder.statistics()
    assert (stats.received, stats.data_packets, stats.commands, stats.events) == (11, 1, 1, 10)
    assert dict(stats.dropped) == {"data: count": 7, "command: command_id": 1,
                                   "data: header": 1}
    assert stats.dropped_total == 9
    count_logs = [r for r in caplog.records if "data: count" in r.getMessage()]
    assert len(count_logs) == 3  # occurrences 1, 4 and 7 with log_every=3
    assert all("lpg" in r.getMessage() for r in caplog.records)
    with pytest.raises(dataclasses.FrozenInstanceError):
        stats.received = 0  # type: ignore[misc]
    with pytest.raises(TypeError):
        stats.dropped["x"] = 1  # type: ignore[index]


def test_feed_many_returns_arrays_commands_and_counts_drops():
    decoder = StreamDecoder()
    keys, payloads, index, commands = decoder.feed_many([GOOD, START, b"\x01", GOOD,
                                                         b"\x06\x40\x00"])
    assert keys.tolist() == list(range(10)) * 2
    assert set(payloads.tolist()) == {3}
    assert index.tolist() == [0] * 10 + [3] * 10
    assert commands == [StartResumeNotification()]
    stats = decoder.statistics()
    assert (stats.received, stats.data_packets, stats.commands, stats.events) == (5, 2, 1, 20)
    assert dict(stats.dropped) == {"data: header": 1, "command: x": 1}


def test_log_every_must_be_positive():
    with pytest.raises(ConfigurationError):
        StreamDecoder(log_every=0)
