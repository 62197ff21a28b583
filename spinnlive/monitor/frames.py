"""What the monitor sends a browser: spikes gathered per display frame, as one binary message.

Theory of operation
-------------------
The monitor reads the bridge's output socket as fast as messages come (every ``spikes/<label>``,
``lifecycle`` and ``stats``) and never waits for a browser. A :class:`FrameBuilder` gathers the
spike batches that arrive between two display frames; every frame period the server takes one
frame (:meth:`FrameBuilder.take`), a few kB of numpy arrays, and offers it to each page. A page
that has not yet drawn the frames it was sent is skipped for this frame: the frame is dropped
for that page only and counted (its ``dropped`` field), never a message of the bridge's streams.

Frame layout (little-endian, every field and array 4-byte aligned, so the page reads them with
``Uint32Array`` views and no copy):

========  ====  ==========================================================================
offset    size  field
========  ====  ==========================================================================
0         u8    version (1)
1         u8    kind (1: spikes)
2         u16   sections: how many populations follow
4         u32   frame sequence, +1 per frame taken (a page sees its own skips as gaps)
8         u32   epoch of the newest batch in the frame
12        u32   newest tick in the frame (the page's "now")
16        u32   frames dropped for this page so far (filled per page by :func:`stamp_dropped`)
20        u32   events in those dropped frames (likewise)
24        u32   events in this frame
========  ====  ==========================================================================

then per section: ``u16 population index, u16 0, u32 n``, ``n`` ``u32`` ticks, ``n`` ``u32``
ids. The population index refers to the ``labels`` list of the last ``populations`` text
message (labels are appended, never reordered, within one monitor's life).

Rules: sans-IO (no sockets, no clock); one numpy concatenation per population per frame, no
Python object per spike.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from spinnlive.wire.output import SpikeBatch

__all__ = ["FRAME_HEADER", "FRAME_VERSION", "FrameBuilder", "SECTION_HEADER", "StreamCounts",
           "decode_frame", "stamp_dropped"]

FRAME_VERSION = 1
KIND_SPIKES = 1
FRAME_HEADER = struct.Struct("<BBHIIIIII")
SECTION_HEADER = struct.Struct("<HHI")
_DROPPED_OFFSET = 16
_U32 = np.dtype("<u4")


@dataclass
class StreamCounts:
    """What the monitor itself received of one ``spikes/`` topic (shown beside the bridge's)."""

    messages: int = 0
    events: int = 0
    gap_messages: int = 0  #: sequence numbers skipped within one epoch
    epoch: int | None = None
    next_sequence: int | None = None

    def as_dict(self) -> dict[str, int]:
        return {"messages": self.messages, "events": self.events,
                "gap_messages": self.gap_messages}


@dataclass
class FrameBuilder:
    """Gathers spike batches between two display frames; see the module docstring."""

    labels: list[str] = field(default_factory=list)
    streams: dict[str, StreamCounts] = field(default_factory=dict)
    frames: int = 0
    _index: dict[str, int] = field(default_factory=dict)
    _ticks: dict[int, list[npt.NDArray[np.uint32]]] = field(default_factory=dict)
    _ids: dict[int, list[npt.NDArray[np.uint32]]] = field(default_factory=dict)
    _epoch: int = 0
    _newest: int = 0
    _events: int = 0
    _labels_changed: bool = False

    def index_of(self, label: str) -> int:
        """The population's index in :attr:`labels`, appending a label seen for the first time."""
        index = self._index.get(label)
        if index is None:
            index = self._index[label] = len(self.labels)
            self.labels.append(label)
            self._labels_changed = True
        return index

    @property
    def pending_events(self) -> int:
        """Events gathered for the next frame."""
        return self._events

    def take_labels_changed(self) -> bool:
        """True once after :attr:`labels` grew (the page needs the new list first)."""
        changed, self._labels_changed = self._labels_changed, False
        return changed

    def add(self, batch: SpikeBatch) -> None:
        header = batch.header
        counts = self.streams.setdefault(batch.label, StreamCounts())
        if counts.epoch == header.epoch and counts.next_sequence is not None:
            counts.gap_messages += (header.sequence - counts.next_sequence) & 0xFFFF_FFFF
        counts.epoch = header.epoch
        counts.next_sequence = (header.sequence + 1) & 0xFFFF_FFFF
        counts.messages += 1
        counts.events += int(batch.ids.size)
        if batch.ids.size == 0:
            return
        index = self.index_of(batch.label)
        self._ids.setdefault(index, []).append(batch.ids)
        self._ticks.setdefault(index, []).append(np.full(batch.ids.size, header.tick, _U32))
        self._newest = max(self._newest, header.tick) if self._epoch == header.epoch \
            else header.tick
        self._epoch = header.epoch
        self._events += int(batch.ids.size)

    def new_epoch(self, epoch: int) -> None:
        """A new run: ticks start again, so "now" restarts with it."""
        self._epoch = epoch
        self._newest = 0

    def take(self) -> bytes:
        """The frame of everything added since the last call (a frame with no sections when
        nothing came: the page still learns that the stream is idle, not stalled)."""
        parts: list[bytes | npt.NDArray[np.uint32]] = []
        for index in sorted(self._ids):
            ids = np.concatenate(self._ids[index]) if len(self._ids[index]) > 1 \
                else self._ids[index][0]
            ticks = np.concatenate(self._ticks[index]) if len(self._ticks[index]) > 1 \
                else self._ticks[index][0]
            parts += [SECTION_HEADER.pack(index, 0, ids.size), ticks.astype(_U32, copy=False),
                      ids.astype(_U32, copy=False)]
        head = FRAME_HEADER.pack(FRAME_VERSION, KIND_SPIKES, len(self._ids),
                                 self.frames & 0xFFFF_FFFF, self._epoch & 0xFFFF_FFFF,
                                 self._newest & 0xFFFF_FFFF, 0, 0, self._events)
        self.frames += 1
        self._ids.clear()
        self._ticks.clear()
        self._events = 0
        return b"".join([head, *(p if isinstance(p, bytes) else p.tobytes() for p in parts)])


def stamp_dropped(frame: bytes, dropped: int, dropped_events: int) -> bytes:
    """The frame with one page's counts of dropped frames and their events in its header."""
    out = bytearray(frame)
    struct.pack_into("<II", out, _DROPPED_OFFSET, dropped & 0xFFFF_FFFF,
                     dropped_events & 0xFFFF_FFFF)
    return bytes(out)


@dataclass(frozen=True, slots=True)
class DecodedFrame:
    """A frame read back (tests and the benchmark's headless reader)."""

    sequence: int
    epoch: int
    newest_tick: int
    dropped: int
    dropped_events: int
    events: int
    spikes: dict[int, tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32]]]  #: index->(ticks, ids)


def decode_frame(frame: bytes) -> DecodedFrame:
    """Parse one frame; raises ValueError naming what is wrong (it is our own format)."""
    if len(frame) < FRAME_HEADER.size:
        raise ValueError(f"a monitor frame has at least {FRAME_HEADER.size} bytes")
    (version, kind, sections, seq, epoch, newest, dropped, dropped_events,
     events) = FRAME_HEADER.unpack_from(frame)
    if version != FRAME_VERSION or kind != KIND_SPIKES:
        raise ValueError(f"monitor frame version {version} kind {kind}")
    offset = FRAME_HEADER.size
    spikes = {}
    for _ in range(sections):
        if offset + SECTION_HEADER.size > len(frame):
            raise ValueError(f"monitor frame of {len(frame)} bytes, sections end beyond it")
        index, _zero, n = SECTION_HEADER.unpack_from(frame, offset)
        offset += SECTION_HEADER.size
        if offset + 8 * n > len(frame):
            raise ValueError(f"monitor frame of {len(frame)} bytes, sections end at "
                             f"{offset + 8 * n}")
        ticks = np.frombuffer(frame, _U32, n, offset)
        ids = np.frombuffer(frame, _U32, n, offset + 4 * n)
        offset += 8 * n
        spikes[index] = (ticks, ids)
    if offset != len(frame):
        raise ValueError(f"monitor frame of {len(frame)} bytes, sections end at {offset}")
    return DecodedFrame(seq, epoch, newest, dropped, dropped_events, events, spikes)
