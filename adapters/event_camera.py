"""Event cameras: SPIF / AEStream event words and datagrams <-> numpy arrays <-> neuron ids.

Wire format (where each bit comes from)
---------------------------------------
One event is a 32-bit word, the *SPIF event* layout::

    bit  31      timestamp flag: 0 = a 32-bit timestamp word follows, 1 = no timestamp
    bits 30..16  x coordinate (15 bits)
    bit  15      polarity (1 = ON)
    bits 14..0   y coordinate (15 bits)

Sources read for this layout:

* SpiNNakerManchester/spif, ``spiffer/README.md`` ("spiffer events" table) and
  ``spiffer/spiffer_caer_support.cpp`` (``usb_get_events``:
  ``0x80000000 | (x << 16) | (pol << 15) | y``; commit 21e21468a2f6). spiffer forwards UDP
  datagrams to spif "as is", so a datagram is a run of these words.
* sPyNNaker 7.4.1 ``SPIFRetinaDevice`` (``spif_retina_device.py``): defaults
  ``input_x_shift=16``, ``input_y_shift=0`` for the words SPIF receives.
* aestream/aestream, ``src/cpp/output/dvs_to_udp.cpp`` (its ``output udp``, "SPIF protocol";
  commit a1a695e110ab, 2025-08-05): without timestamps each word is
  ``((x | 0x8000) << 16) | y | (p << 15)``; with timestamps the word is
  ``((x & 0x7FFF) << 16) | ...`` followed by ``uint32(event.timestamp)``, the low 32 bits of
  AEStream's 64-bit timestamp (``src/cpp/aer.hpp``; microseconds for the cameras it reads).
  Words are written in host order: little-endian on the x86/ARM hosts that run AEStream and
  spiffer, so the wire order here is little-endian (``<u4``). AEStream's reader
  (``src/python/tensor_buffer.cpp``, ``set_buffer``) reads the same bytes as little-endian
  ``uint16`` pairs ``(y | p << 15, x | flag << 15)``, and its test ``src/python/test/test_udp.py``
  sends ``b"\\x0F\\x00\\xDA\\x00"`` as the event x=218, y=15 (with bit 31 clear and no
  timestamp word after it: AEStream's reader ignores the flag, this module rejects that datagram).
* Datagram sizes from ``dvs_to_udp.hpp``/``.cpp``: ``UDP_max_bytesize = 512`` and
  ``message[UDP_max_bytesize / event_size]`` with ``event_size`` 4 or 8 bytes, so full datagrams
  carry 128 events (512 bytes) without timestamps and, because each timestamped event takes two
  of the 64 slots, 32 events (256 bytes) with them; the last datagram carries the rest.
  :func:`encode_datagrams` reproduces exactly this packing by default.

A datagram uses one mode throughout (AEStream never mixes them). :func:`decode_datagram_untrusted`
reads the mode from bit 31 of the first word and rejects datagrams that break it; unlike
AEStream's reader, it does not mistake timestamp words for events.

Neuron ids (:class:`EventCameraMap`)
------------------------------------
A sensor of ``width x height`` pixels, optionally downsampled by integer factors ``(fx, fy)``,
maps onto a 2-D population of ``W x H = ceil(width/fx) x ceil(height/fy)`` neurons, row-major:
``id = (y // fy) * W + (x // fx)``. With ``polarity_channels`` the population doubles and the
ON events get the second plane: ``id = p * W * H + (y // fy) * W + (x // fx)``; each plane stays a
row-major image, so PyNN views ``pop[:W*H]`` and ``pop[W*H:]`` are the OFF and ON maps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from spinnlive.errors import ConfigurationError, LocalProtocolError, RemoteProtocolError

from .encoding import IntArray

__all__ = [
    "EventBatch",
    "EventCameraMap",
    "decode_datagram_untrusted",
    "encode_datagrams",
    "moving_bar",
    "spif_fields",
    "spif_words",
]

#: Bit 31: set when no timestamp word follows.
NO_TIMESTAMP = np.uint32(1 << 31)
X_SHIFT = 16
POLARITY_SHIFT = 15
COORD_MASK = 0x7FFF
#: Coordinates are 15-bit fields.
MAX_COORD = COORD_MASK
WORD = np.dtype("<u4")
#: AEStream's ``UDP_max_bytesize``.
AESTREAM_DATAGRAM_BYTES = 512


@dataclass(frozen=True, slots=True)
class EventBatch:
    """Events as parallel arrays: ``x``, ``y`` (uint16 pixels), ``p`` (bool, True = ON) and
    optionally ``t`` (uint32, the sender's clock; microseconds for AEStream cameras)."""

    x: npt.NDArray[np.uint16]
    y: npt.NDArray[np.uint16]
    p: npt.NDArray[np.bool_]
    t: npt.NDArray[np.uint32] | None = None

    def __post_init__(self) -> None:
        fields = {"x": self.x, "y": self.y, "p": self.p}
        if self.t is not None:
            fields["t"] = self.t
        arrays = {name: np.asarray(value) for name, value in fields.items()}
        sizes = {a.shape for a in arrays.values()}
        if len(sizes) != 1 or next(iter(sizes)) != (arrays["x"].size,):
            raise LocalProtocolError(f"event arrays must be 1-D of one length, got {sizes}")
        for name in ("x", "y"):
            a = arrays[name]
            if a.size and (a.dtype.kind not in "iu" or a.min() < 0 or a.max() > MAX_COORD):
                raise LocalProtocolError(f"event {name} must be integers in 0..{MAX_COORD}")
        object.__setattr__(self, "x", arrays["x"].astype(np.uint16, copy=False))
        object.__setattr__(self, "y", arrays["y"].astype(np.uint16, copy=False))
        object.__setattr__(self, "p", arrays["p"].astype(np.bool_, copy=False))
        if self.t is not None:
            t = arrays["t"]
            if t.size and (t.dtype.kind not in "iu" or t.min() < 0 or t.max() > 0xFFFFFFFF):
                raise LocalProtocolError("event timestamps must be integers in 0..2**32-1")
            object.__setattr__(self, "t", t.astype(np.uint32, copy=False))

    def __len__(self) -> int:
        return int(self.x.size)

    @classmethod
    def concatenate(cls, batches: Sequence[EventBatch]) -> EventBatch:
        """One batch from several; timestamps survive only if every batch has them."""
        if not batches:
            empty = np.zeros(0, dtype=np.uint16)
            return cls(empty, empty, np.zeros(0, dtype=np.bool_))
        with_t = all(b.t is not None for b in batches)
        return cls(
            np.concatenate([b.x for b in batches]),
            np.concatenate([b.y for b in batches]),
            np.concatenate([b.p for b in batches]),
            np.concatenate([b.t for b in batches if b.t is not None]) if with_t else None)


def spif_words(events: EventBatch, *, timestamped: bool = False) -> npt.NDArray[np.uint32]:
    """Event words (uint32) in the SPIF layout; bit 31 set unless ``timestamped``."""
    words = (events.x.astype(np.uint32) << X_SHIFT) | events.y.astype(np.uint32)
    words |= events.p.astype(np.uint32) << POLARITY_SHIFT
    if not timestamped:
        words |= NO_TIMESTAMP
    return words


def spif_fields(
    words: npt.NDArray[np.uint32],
) -> tuple[npt.NDArray[np.uint16], npt.NDArray[np.uint16], npt.NDArray[np.bool_],
           npt.NDArray[np.bool_]]:
    """``(x, y, p, timestamp_follows)`` of SPIF event words."""
    w = np.asarray(words, dtype=np.uint32)
    x = ((w >> X_SHIFT) & COORD_MASK).astype(np.uint16)
    y = (w & COORD_MASK).astype(np.uint16)
    p = ((w >> POLARITY_SHIFT) & 1).astype(np.bool_)
    return x, y, p, (w & NO_TIMESTAMP) == 0


def encode_datagrams(
    events: EventBatch, *, timestamps: bool = False, events_per_datagram: int | None = None
) -> list[bytes]:
    """UDP payloads carrying ``events`` as AEStream's ``output udp`` sends them.

    With ``timestamps`` every event word is followed by its timestamp word (``events.t`` must
    be set). ``events_per_datagram`` defaults to AEStream's packing (128, or 32 timestamped).
    """
    if timestamps and events.t is None:
        raise LocalProtocolError("timestamped datagrams need events with t")
    per = events_per_datagram or (32 if timestamps else AESTREAM_DATAGRAM_BYTES // 4)
    if per < 1:
        raise ConfigurationError(f"events_per_datagram must be >= 1, got {per}")
    words = spif_words(events, timestamped=timestamps)
    if timestamps:
        assert events.t is not None
        words = np.column_stack((words, events.t)).ravel()
    payload = words.astype(WORD).tobytes()
    step = per * (8 if timestamps else 4)
    return [payload[i:i + step] for i in range(0, len(payload), step)]


def decode_datagram_untrusted(data: bytes) -> EventBatch:
    """Events of one AEStream/SPIF UDP payload (untrusted bytes from the network).

    Raises :class:`RemoteProtocolError` (naming the field and byte offset) for a length that is
    not a whole number of events, or for a word whose timestamp flag breaks the datagram's mode.
    """
    if len(data) % 4:
        raise RemoteProtocolError(
            f"SPIF datagram of {len(data)} bytes is not a whole number of 32-bit words",
            field="datagram length", offset=len(data) - len(data) % 4)
    words = np.frombuffer(data, dtype=WORD)
    if words.size == 0:
        return EventBatch(np.zeros(0, np.uint16), np.zeros(0, np.uint16), np.zeros(0, np.bool_))
    timestamped = not bool(words[0] & NO_TIMESTAMP)
    if timestamped:
        if words.size % 2:
            raise RemoteProtocolError(
                "timestamped SPIF datagram ends with an event word and no timestamp",
                field="timestamp", offset=len(data))
        events, t = words[0::2], words[1::2]
    else:
        events, t = words, None
    x, y, p, flagged = spif_fields(events)
    bad = np.flatnonzero(flagged != timestamped)
    if bad.size:
        index = int(bad[0]) * (2 if timestamped else 1)
        raise RemoteProtocolError(
            "SPIF datagram mixes events with and without timestamps",
            field="timestamp flag (bit 31)", offset=4 * index)
    return EventBatch(x, y, p, None if t is None else t.astype(np.uint32))


@dataclass(frozen=True, slots=True)
class EventCameraMap:
    """Pixels of a ``width x height`` sensor -> neuron ids of a 2-D population.

    ``downsample = (fx, fy)`` pools ``fx x fy`` pixels into one neuron; ``polarity_channels``
    gives ON events a second plane (see the module docstring for the id formula).
    """

    width: int
    height: int
    polarity_channels: bool = False
    downsample: tuple[int, int] = (1, 1)

    def __post_init__(self) -> None:
        fx, fy = self.downsample
        if not (1 <= self.width <= MAX_COORD + 1 and 1 <= self.height <= MAX_COORD + 1):
            raise ConfigurationError(
                f"sensor size must be 1..{MAX_COORD + 1} per side, got {self.width}x{self.height}")
        if fx < 1 or fy < 1:
            raise ConfigurationError(f"downsample factors must be >= 1, got {self.downsample}")

    @property
    def grid(self) -> tuple[int, int]:
        """``(W, H)``: the population's width and height in neurons, per polarity plane."""
        fx, fy = self.downsample
        return -(-self.width // fx), -(-self.height // fy)

    @property
    def n_neurons(self) -> int:
        w, h = self.grid
        return w * h * (2 if self.polarity_channels else 1)

    def ids(self, events: EventBatch) -> IntArray:
        """Neuron id per event (int64, event order kept); events off the sensor are dropped."""
        x = events.x.astype(np.int64)
        y = events.y.astype(np.int64)
        on_sensor = (x < self.width) & (y < self.height)
        fx, fy = self.downsample
        w, h = self.grid
        ids = (y // fy) * w + x // fx
        if self.polarity_channels:
            ids += events.p.astype(np.int64) * (w * h)
        return ids if on_sensor.all() else ids[on_sensor]

    def coordinates(self, ids: npt.ArrayLike) -> tuple[IntArray, IntArray, IntArray]:
        """``(column, row, plane)`` of neuron ids on the population's grid (the inverse map)."""
        i = np.asarray(ids, dtype=np.int64)
        w, h = self.grid
        plane, pixel = np.divmod(i, w * h)
        row, column = np.divmod(pixel, w)
        return column, row, plane


def moving_bar(
    width: int,
    height: int,
    *,
    bar_width: int = 2,
    step_us: int = 1000,
    start_us: int = 0,
    keep: float = 1.0,
    rng: np.random.Generator | None = None,
) -> EventBatch:
    """Events of a vertical bar sweeping left to right across the sensor, one pixel per step.

    At step ``s`` (time ``start_us + s * step_us``) column ``s`` turns ON (``p=True``) and
    column ``s - bar_width`` turns OFF, for every row: ``width + bar_width`` steps in all, time
    ordered, then by x and y. ``keep < 1`` drops each event independently (needs ``rng``), like a
    sensor that misses some edges.
    """
    if bar_width < 1 or step_us < 1 or not 0.0 <= keep <= 1.0:
        raise ConfigurationError("moving_bar needs bar_width >= 1, step_us >= 1, 0 <= keep <= 1")
    steps = np.arange(width + bar_width, dtype=np.int64)
    columns = np.stack((steps - bar_width, steps), axis=1).ravel()  # OFF edge, then ON edge
    polarity = np.tile(np.array([False, True]), steps.size)
    time = np.repeat(steps, 2)
    inside = (columns >= 0) & (columns < width)
    columns, polarity, time = columns[inside], polarity[inside], time[inside]
    rows = np.arange(height, dtype=np.int64)
    x = np.repeat(columns, height)
    y = np.tile(rows, columns.size)
    p = np.repeat(polarity, height)
    t = start_us + np.repeat(time, height) * step_us
    if keep < 1.0:
        if rng is None:
            raise ConfigurationError("moving_bar with keep < 1 needs an rng")
        kept = rng.random(x.size) < keep
        x, y, p, t = x[kept], y[kept], p[kept], t[kept]
    return EventBatch(x, y, p, t)
