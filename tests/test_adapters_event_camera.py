"""Event cameras: the SPIF word layout, AEStream UDP payloads, neuron-id maps, the moving bar,
and the example script run for real."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from spinnlive.adapters import (
    EventBatch,
    EventCameraMap,
    decode_datagram_untrusted,
    encode_datagrams,
    moving_bar,
    spif_fields,
    spif_words,
)
from spinnlive.errors import ConfigurationError, LocalProtocolError, RemoteProtocolError

ROOT = Path(__file__).resolve().parents[1]

# Written by hand from the SPIF layout ([31] no-timestamp flag, [30:16] x, [15] p, [14:0] y),
# each 32-bit word little-endian:
#   x=218 y=15 p=0, no timestamp: 1 << 31 | 218 << 16 | 15         = 0x80DA000F
#   x=1   y=2  p=1, no timestamp: 1 << 31 | 1 << 16 | 1 << 15 | 2  = 0x80018002
UNTIMED = b"\x0f\x00\xda\x80" + b"\x02\x80\x01\x80"
#   x=640 y=479 p=1, timestamp follows: 640 << 16 | 1 << 15 | 479  = 0x028081DF, t=0x12345678
TIMED = b"\xdf\x81\x80\x02" + b"\x78\x56\x34\x12"


def batch_of(x: list[int], y: list[int], p: list[bool], t: list[int] | None = None) -> EventBatch:
    return EventBatch(np.array(x), np.array(y), np.array(p), None if t is None else np.array(t))


def assert_same(a: EventBatch, b: EventBatch) -> None:
    assert np.array_equal(a.x, b.x) and np.array_equal(a.y, b.y) and np.array_equal(a.p, b.p)
    assert (a.t is None) == (b.t is None)
    if a.t is not None:
        assert np.array_equal(a.t, b.t)


def test_hand_written_datagrams_decode_and_encode() -> None:
    untimed = batch_of([218, 1], [15, 2], [False, True])
    assert_same(decode_datagram_untrusted(UNTIMED), untimed)
    assert encode_datagrams(untimed) == [UNTIMED]
    timed = batch_of([640], [479], [True], [0x12345678])
    assert_same(decode_datagram_untrusted(TIMED), timed)
    assert encode_datagrams(timed, timestamps=True) == [TIMED]


def test_aestream_test_datagram() -> None:
    # AEStream's own UDP test sends b"\x0F\x00\xDA\x00" and expects pixel x=218, y=15. Its flag
    # bit says "timestamp follows" but none does: a malformed datagram, which we refuse; with
    # the flag set (as AEStream's sender writes untimed events) it is that pixel.
    with pytest.raises(RemoteProtocolError, match="timestamp"):
        decode_datagram_untrusted(b"\x0f\x00\xda\x00")
    event = decode_datagram_untrusted(b"\x0f\x00\xda\x80")
    assert (int(event.x[0]), int(event.y[0]), bool(event.p[0])) == (218, 15, False)


coords = hnp.arrays(np.uint16, st.integers(0, 300), elements=st.integers(0, 0x7FFF))


@st.composite
def event_batches(draw: st.DrawFn) -> EventBatch:
    x = draw(coords)
    y = draw(hnp.arrays(np.uint16, x.size, elements=st.integers(0, 0x7FFF)))
    p = draw(hnp.arrays(np.bool_, x.size))
    t = draw(hnp.arrays(np.uint32, x.size)) if draw(st.booleans()) else None
    return EventBatch(x, y, p, t)


@given(events=event_batches(), per=st.none() | st.integers(1, 200))
def test_datagram_round_trip(events: EventBatch, per: int | None) -> None:
    timestamps = events.t is not None
    datagrams = encode_datagrams(events, timestamps=timestamps, events_per_datagram=per)
    size = (per or (32 if timestamps else 128)) * (8 if timestamps else 4)
    assert all(len(d) == size for d in datagrams[:-1])
    assert sum(map(len, datagrams)) == len(events) * (8 if timestamps else 4)
    if not len(events):  # no datagram at all, so nothing says whether there were timestamps
        assert datagrams == []
        return
    decoded = EventBatch.concatenate([decode_datagram_untrusted(d) for d in datagrams])
    assert_same(decoded, events)


def test_aestream_packing_sizes() -> None:
    events = moving_bar(20, 10)  # 400 events
    assert [len(d) for d in encode_datagrams(events)] == [512, 512, 512, 64]
    timed = encode_datagrams(events, timestamps=True)
    assert [len(d) for d in timed] == [256] * 12 + [128]


@given(st.binary(max_size=64))
def test_untrusted_bytes_raise_only_remote_protocol_error(data: bytes) -> None:
    try:
        events = decode_datagram_untrusted(data)
    except RemoteProtocolError:
        return
    assert len(events) * (8 if events.t is not None else 4) == len(data)


@pytest.mark.parametrize(("data", "field", "offset"), [
    (UNTIMED + b"\x01", "datagram length", 8),
    (UNTIMED + TIMED[:4], "timestamp flag (bit 31)", 8),
    (TIMED + UNTIMED[:4] + b"\0\0\0\0", "timestamp flag (bit 31)", 8),
    (TIMED + TIMED[:4], "timestamp", 12),
])
def test_malformed_datagrams_name_field_and_offset(data: bytes, field: str, offset: int) -> None:
    with pytest.raises(RemoteProtocolError) as info:
        decode_datagram_untrusted(data)
    assert (info.value.field, info.value.offset) == (field, offset)


def test_spif_words_and_fields_are_inverse() -> None:
    events = batch_of([0, 0x7FFF, 5], [0x7FFF, 0, 6], [True, False, True])
    words = spif_words(events)
    assert words.tolist() == [0x80000000 | 0x8000 | 0x7FFF, 0xFFFF0000, 0x80058006]
    x, y, p, timed = spif_fields(words)
    assert_same(EventBatch(x, y, p), events)
    assert not timed.any() and spif_fields(spif_words(events, timestamped=True))[3].all()


def test_event_batch_validation() -> None:
    with pytest.raises(LocalProtocolError):
        batch_of([0x8000], [0], [True])
    with pytest.raises(LocalProtocolError):
        batch_of([1, 2], [0], [True, False])
    with pytest.raises(LocalProtocolError):
        batch_of([1], [0], [True], [-1])
    with pytest.raises(LocalProtocolError):
        encode_datagrams(batch_of([1], [0], [True]), timestamps=True)
    assert len(EventBatch.concatenate([])) == 0


def test_spynnaker_spif_retina_maps_our_words_to_our_ids() -> None:
    """sPyNNaker's SPIFRetinaDevice configures SPIF's mapper to turn event words into keys:
    field 0 = x (mask, shift), field 1 = y (mask, shift; negative = left). Applied to our words,
    those fields give y * width + x: the id EventCameraMap gives the same events."""
    retina = pytest.importorskip("spynnaker.pyNN.external_devices_models.spif_retina_device")
    devices = pytest.importorskip("spynnaker.pyNN.external_devices_models.spif_devices")
    width, height = 64, 32
    device = retina.SPIFRetinaDevice(pipe=0, width=width, height=height, sub_width=16,
                                     sub_height=8)
    payloads = {c.key: c.payload for c in device.start_resume_commands}

    def field(setter: object, index: int) -> int:
        return int(payloads[setter(0, index, 0).key])  # type: ignore[operator]

    x_mask, y_mask = field(devices.set_field_mask, 0), field(devices.set_field_mask, 1)
    x_shift, y_shift = (np.int32(np.uint32(field(devices.set_field_shift, i)))
                        for i in (0, 1))

    def shifted(value: np.ndarray, shift: np.int32) -> np.ndarray:
        return value >> int(shift) if shift >= 0 else value << int(-shift)

    rng = np.random.default_rng(5)
    events = EventBatch(rng.integers(0, width, 500), rng.integers(0, height, 500),
                        rng.random(500) < 0.5)
    words = spif_words(events).astype(np.int64)
    keys = shifted(words & x_mask, x_shift) | shifted(words & y_mask, y_shift)
    assert np.array_equal(keys, EventCameraMap(width, height).ids(events))


def test_camera_map_ids_polarity_planes_and_downsampling() -> None:
    camera = EventCameraMap(10, 7, polarity_channels=True, downsample=(3, 2))
    assert camera.grid == (4, 4) and camera.n_neurons == 32
    events = batch_of([0, 9, 5, 3, 10], [0, 6, 3, 1, 0], [False, True, True, False, True])
    ids = camera.ids(events)  # the last event is off the sensor: dropped
    assert ids.tolist() == [0, 16 + 3 * 4 + 3, 16 + 1 * 4 + 1, 0 * 4 + 1]
    column, row, plane = camera.coordinates(ids)
    assert column.tolist() == [0, 3, 1, 1] and row.tolist() == [0, 3, 1, 0]
    assert plane.tolist() == [0, 1, 1, 0]
    plain = EventCameraMap(10, 7)
    assert plain.ids(batch_of([4], [2], [True])).tolist() == [24]
    with pytest.raises(ConfigurationError):
        EventCameraMap(10, 7, downsample=(0, 1))


@given(width=st.integers(1, 40), height=st.integers(1, 40), fx=st.integers(1, 5),
       fy=st.integers(1, 5), polarity=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_camera_map_is_row_major_and_inverted_by_coordinates(
    width: int, height: int, fx: int, fy: int, polarity: bool, seed: int
) -> None:
    camera = EventCameraMap(width, height, polarity_channels=polarity, downsample=(fx, fy))
    rng = np.random.default_rng(seed)
    events = EventBatch(rng.integers(0, width, 50), rng.integers(0, height, 50),
                        rng.random(50) < 0.5)
    ids = camera.ids(events)
    assert ids.min() >= 0 and ids.max() < camera.n_neurons
    column, row, plane = camera.coordinates(ids)
    assert np.array_equal(column, events.x // fx) and np.array_equal(row, events.y // fy)
    assert np.array_equal(plane, events.p.astype(int) if polarity else np.zeros(50, int))


def test_moving_bar_edges() -> None:
    bar = moving_bar(6, 3, bar_width=2, step_us=500, start_us=100)
    assert bar.t is not None and np.all(np.diff(bar.t.astype(np.int64)) >= 0)
    assert len(bar) == 2 * 6 * 3  # every column turns ON once and OFF once, in every row
    on, off = bar.p, ~bar.p
    # column c turns ON at step c and OFF bar_width steps later
    np.testing.assert_array_equal(bar.t[on], 100 + 500 * bar.x[on].astype(np.int64))
    np.testing.assert_array_equal(bar.t[off], 100 + 500 * (bar.x[off].astype(np.int64) + 2))
    rng = np.random.default_rng(1)
    thinned = moving_bar(100, 100, keep=0.5, rng=rng)
    assert 0.45 < len(thinned) / 20000 < 0.55  # 20000 events, binomial sd 0.0035
    with pytest.raises(ConfigurationError):
        moving_bar(6, 3, keep=0.5)


@pytest.mark.parametrize("mode", [[], ["--offline"]], ids=["live", "offline"])
def test_example_script_runs(tmp_path: Path, mode: list[str]) -> None:
    out = tmp_path / "raster.png"
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "event_camera.py"), "--out", str(out), *mode],
        capture_output=True, text=True, timeout=100, cwd=tmp_path,
        env=os.environ | {"MPLBACKEND": "Agg"})
    assert done.returncode == 0, done.stderr
    assert out.stat().st_size > 10_000 and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    lines = dict(line.split(": ", 1) for line in done.stdout.splitlines() if ": " in line)
    sent = int(lines["events sent"].split()[0])
    spikes_out = int(lines["edges"].split()[0])
    assert 0 < spikes_out <= sent
    if not mode:  # live: every event reached the bridge, none was dropped on the way
        assert int(lines["injected"].split()[0]) == sent
        assert int(lines["camera (sent)"].split()[0]) == sent
