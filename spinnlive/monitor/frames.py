"""What the monitor sends a browser: spikes gathered per display frame, as one binary message.

Theory of operation
-------------------
The monitor reads the bridge's output socket as fast as messages come (every ``spikes/<label>``,
``lifecycle`` and ``stats``) and never waits for a browser. A :class:`FrameBuilder` gathers the
spike batches that arrive between two display frames; every frame period the server takes one
frame (:meth:`FrameBuilder.take`) and offers it to each page. A page that has not yet drawn the
frames it was sent is skipped for this frame: the frame is dropped for that page only and
counted (its ``dropped`` field), never a message of the bridge's streams.

The page's work is bounded whatever the event rate: a population with at most ``exact_max``
events in a frame is sent event by event (tick, id); above that its section is **binned** at
the raster's resolution, ``ticks_per_bin`` ticks by one of ``rows`` rows (:func:`rows_for`:
one row per neuron up to :data:`MAX_ROWS`), each non-empty cell with its exact count. A cell
is one pixel of the page's canvas at most, so the browser's work per frame follows the pixels
the frame covers, not the events in it; the counts still add up to every event.

Frame layout (little-endian, every field and array 4-byte aligned, so the page reads them with
``Uint32Array`` views and no copy):

========  ====  ==========================================================================
offset    size  field
========  ====  ==========================================================================
0         u8    version (2)
1         u8    kind (1: spikes)
2         u16   sections: how many populations follow
4         u32   frame sequence, +1 per frame taken (a page sees its own skips as gaps)
8         u32   epoch of the newest batch in the frame
12        u32   newest tick in the frame (the page's "now")
16        u32   frames dropped for this page so far (filled per page by :func:`stamp_dropped`)
20        u32   events in those dropped frames (likewise)
24        u32   events in this frame
========  ====  ==========================================================================

then per section ``u16 population index, u16 mode, u32 n``, and

* mode 0 (events): ``n`` ``u32`` ticks, ``n`` ``u32`` ids;
* mode 1 (binned): ``n`` ``u32`` first ticks of the cells' bins, ``n`` ``u32`` rows, ``n``
  ``u32`` counts (``row = id * rows // size``).

A population's section can only be binned once its size is known (from the run's
``describe``). Spikes of a new run can overtake that description (it is a round trip to the
bridge; the monitor runs niced), so while one is awaited (:attr:`FrameBuilder.describing`)
the sections of populations of unknown size are held back, for at most
:data:`HOLD_FRAMES` frames, rather than sent event by event: a busy population is binned from
its first frame, and nothing is lost either way.

The population index refers to the ``labels`` list of the last ``describe`` text message
(labels are appended, never reordered, within one monitor's life), which also gives each
label's ``rows`` and the ``ticks_per_bin``.

Rules: sans-IO (no sockets, no clock); per message only list appends, numpy once per
population per frame, no Python object per spike.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from spinnlive.wire.output import SpikeBatch

__all__ = ["FRAME_HEADER", "FRAME_VERSION", "MAX_ROWS", "MODE_BINNED", "MODE_EVENTS",
           "SECTION_HEADER", "DecodedFrame", "FrameBuilder", "bin_events", "decode_frame",
           "frame_events", "rows_for", "stamp_dropped", "ticks_per_bin"]

FRAME_VERSION = 2
KIND_SPIKES = 1
MODE_EVENTS = 0
MODE_BINNED = 1
FRAME_HEADER = struct.Struct("<BBHIIIIII")
SECTION_HEADER = struct.Struct("<HHI")
#: the most rows a population's raster has (the page's canvas is at most this many pixels high)
MAX_ROWS = 160
#: bins across the raster's window: finer than any canvas the page draws, so a cell is at most
#: one pixel wide
COLUMNS = 2048
#: the most frames a population of unknown size is held back while a description is awaited
HOLD_FRAMES = 200
_DROPPED_OFFSET = 16
_EVENTS_OFFSET = 24
_U32 = np.dtype("<u4")


def rows_for(size: int) -> int:
    """The raster rows of a population of ``size`` neurons (one per neuron up to MAX_ROWS)."""
    return max(1, min(size, MAX_ROWS))


def ticks_per_bin(window_s: float, timestep_ms: float) -> int:
    """Ticks per binned column: the window in ticks over :data:`COLUMNS`."""
    return max(1, math.ceil(window_s * 1000.0 / timestep_ms / COLUMNS))


def bin_events(ticks: npt.NDArray[np.uint32], ids: npt.NDArray[np.uint32], size: int,
               per_bin: int) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32],
                                      npt.NDArray[np.uint32]]:
    """(first tick of each non-empty cell's bin, its row, its count), cells in bin-major order.
    Every event is in exactly one cell (ids beyond ``size`` in the last row)."""
    rows = rows_for(size)
    row = np.minimum(ids.astype(np.int64) * rows // max(size, 1), rows - 1)
    column = ticks.astype(np.int64) // per_bin
    first = int(column.min())
    key = (column - first) * rows + row
    if (int(column.max()) - first + 1) * rows <= 4 * key.size + 65536:  # dense enough: O(n)
        dense = np.bincount(key)
        cells = np.flatnonzero(dense)
        counts = dense[cells]
    else:  # ticks far apart (a new run within one frame): sort instead
        cells, counts = np.unique(key, return_counts=True)
    return (((cells // rows + first) * per_bin).astype(_U32), (cells % rows).astype(_U32),
            counts.astype(_U32))


@dataclass
class FrameBuilder:
    """Gathers spike batches between two display frames; see the module docstring."""

    labels: list[str] = field(default_factory=list)
    frames: int = 0
    exact_max: int = 1024  #: events of one population per frame sent one by one; above: binned
    per_bin: int = 3  #: ticks per binned column (:func:`ticks_per_bin` of the described run)
    sizes: dict[str, int] = field(default_factory=dict)  #: neurons per label, where described
    describing: bool = False  #: a new run's description is awaited: hold unsized populations
    _index: dict[str, int] = field(default_factory=dict)
    _batches: dict[int, list[SpikeBatch]] = field(default_factory=dict)
    _epoch: int = 0
    _newest: int = 0
    _events: int = 0
    _held_frames: int = 0
    _labels_changed: bool = False

    def index_of(self, label: str) -> int:
        """The population's index in :attr:`labels`, appending a label seen for the first time."""
        index = self._index.get(label)
        if index is None:
            index = self._index[label] = len(self.labels)
            self.labels.append(label)
            self._labels_changed = True
        return index

    def take_labels_changed(self) -> bool:
        """True once after :attr:`labels` grew (the page needs the new list first)."""
        changed, self._labels_changed = self._labels_changed, False
        return changed

    def add(self, batch: SpikeBatch) -> None:
        n = batch.ids.size
        if n == 0:
            return
        tick, epoch = batch.header.tick, batch.header.epoch
        index = self._index.get(batch.label)
        if index is None:
            index = self.index_of(batch.label)
        batches = self._batches.get(index)
        if batches is None:
            batches = self._batches[index] = []
        batches.append(batch)
        if self._epoch != epoch:
            self._epoch, self._newest = epoch, tick
        elif tick > self._newest:
            self._newest = tick
        self._events += n

    def new_epoch(self, epoch: int) -> None:
        """A new run: ticks start again, so "now" restarts with it."""
        self._epoch = epoch
        self._newest = 0

    def take(self) -> bytes:
        """The frame of everything added since the last call (a frame with no sections when
        nothing came: the page still learns that the stream is idle, not stalled), less the
        populations held back while their size is awaited (module docstring)."""
        hold = self.describing and self._held_frames < HOLD_FRAMES
        parts: list[bytes | npt.NDArray[np.uint32]] = []
        sent = events = 0
        for index in sorted(self._batches):
            size = self.sizes.get(self.labels[index])
            if size is None and hold:
                continue
            batches = self._batches.pop(index)
            ids = np.concatenate([b.ids for b in batches]).astype(_U32, copy=False)
            ticks = np.repeat(np.array([b.header.tick for b in batches], _U32),
                              [b.ids.size for b in batches])
            if size is None or ids.size <= self.exact_max:
                parts += [SECTION_HEADER.pack(index, MODE_EVENTS, ids.size), ticks, ids]
            else:
                first, rows, counts = bin_events(ticks, ids, size, self.per_bin)
                parts += [SECTION_HEADER.pack(index, MODE_BINNED, first.size), first, rows,
                          counts]
            sent += 1
            events += ids.size
        self._held_frames = self._held_frames + 1 if self._batches else 0
        head = FRAME_HEADER.pack(FRAME_VERSION, KIND_SPIKES, sent,
                                 self.frames & 0xFFFF_FFFF, self._epoch & 0xFFFF_FFFF,
                                 self._newest & 0xFFFF_FFFF, 0, 0, events)
        self.frames += 1
        self._events -= events
        return b"".join([head, *(p if isinstance(p, bytes) else p.tobytes() for p in parts)])


def frame_events(frame: bytes) -> int:
    """The events a frame carries (its header's count)."""
    return int(struct.unpack_from("<I", frame, _EVENTS_OFFSET)[0])


def stamp_dropped(frame: bytes, dropped: int, dropped_events: int) -> bytes:
    """The frame with one page's counts of dropped frames and their events in its header."""
    out = bytearray(frame)
    struct.pack_into("<II", out, _DROPPED_OFFSET, dropped & 0xFFFF_FFFF,
                     dropped_events & 0xFFFF_FFFF)
    return bytes(out)


_Arrays = tuple[npt.NDArray[np.uint32], ...]


@dataclass(frozen=True, slots=True)
class DecodedFrame:
    """A frame read back (tests and the benchmark's headless reader)."""

    sequence: int
    epoch: int
    newest_tick: int
    dropped: int
    dropped_events: int
    events: int
    spikes: dict[int, _Arrays]  #: index -> (ticks, ids): sections sent event by event
    cells: dict[int, _Arrays]  #: index -> (first ticks, rows, counts): binned sections


def decode_frame(frame: bytes) -> DecodedFrame:
    """Parse one frame; raises ValueError naming what is wrong (it is our own format)."""
    if len(frame) < FRAME_HEADER.size:
        raise ValueError(f"a monitor frame has at least {FRAME_HEADER.size} bytes")
    (version, kind, sections, seq, epoch, newest, dropped, dropped_events,
     events) = FRAME_HEADER.unpack_from(frame)
    if version != FRAME_VERSION or kind != KIND_SPIKES:
        raise ValueError(f"monitor frame version {version} kind {kind}")
    offset = FRAME_HEADER.size
    spikes: dict[int, _Arrays] = {}
    cells: dict[int, _Arrays] = {}
    for _ in range(sections):
        if offset + SECTION_HEADER.size > len(frame):
            raise ValueError(f"monitor frame of {len(frame)} bytes, sections end beyond it")
        index, mode, n = SECTION_HEADER.unpack_from(frame, offset)
        offset += SECTION_HEADER.size
        arrays = {MODE_EVENTS: 2, MODE_BINNED: 3}.get(mode)
        if arrays is None:
            raise ValueError(f"monitor frame section mode {mode} (0 events, 1 binned)")
        if offset + 4 * arrays * n > len(frame):
            raise ValueError(f"monitor frame of {len(frame)} bytes, sections end at "
                             f"{offset + 4 * arrays * n}")
        got = tuple(np.frombuffer(frame, _U32, n, offset + 4 * n * k) for k in range(arrays))
        offset += 4 * arrays * n
        (spikes if mode == MODE_EVENTS else cells)[index] = got
    if offset != len(frame):
        raise ValueError(f"monitor frame of {len(frame)} bytes, sections end at {offset}")
    return DecodedFrame(seq, epoch, newest, dropped, dropped_events, events, spikes, cells)
