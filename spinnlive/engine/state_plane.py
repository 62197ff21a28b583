"""The live state plane, engine side: resolve requests, queue them, apply them between ticks.

Theory of operation
-------------------
A request (:class:`~spinnlive.protocol.state.StateRequest`) is checked and *resolved* in the
event-loop thread that received it, against a :class:`Catalogue` of what the running network
has (projections by label, populations with their readable and writable names): labels, names,
index ranges, shapes and values are all checked there, so a bad request gets its error reply at
once and never reaches the tick thread. What passes becomes a :class:`Job` holding positions
already resolved (connection positions, neuron ids) and the values, and goes into the
:class:`StatePlane`'s bounded queue.

The tick thread calls :meth:`StatePlane.apply` between ticks, right before the network computes
tick ``T`` (after the live input of tick ``T - 1`` was delivered):

* untimed jobs queued before that moment apply at ``T``; jobs stamped with a tick wait in a
  sorted hold until their tick, like timestamped injection (:mod:`spinnlive.engine.hold`); a job
  whose tick has already begun is refused as ``late``;
* a write changes the kernel arrays (and the front end's copy) and is acknowledged with ``T``,
  the first tick computed with the new value; a read copies what it needs (for weights, the
  whole contiguous weight table: one ``memcpy``, so a million synapses cost ~0.6 ms) and is
  stamped ``T`` (the state after ticks ``< T``, what ``Projection.get`` returns after
  ``run(T)``);
* streams (``every`` N ticks) read the same way at ticks ``start + k N``; a snapshot still being
  sent when the next is due is skipped and counted.

Everything slow (gathering a read into connection order, encoding, sending) runs in the loop
thread: :meth:`apply` hands each result back as a closure through ``deliver`` (the service's
``call_soon_threadsafe``).

Rules: the tick thread never waits on a client or a lock a client holds; queues are bounded and
every refusal, skip and late job is counted; no Python object per synapse or per neuron.
"""

from __future__ import annotations

import bisect
import collections
import itertools
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from spinnlive.engine.description import ProjectionRecord
from spinnlive.protocol.state import Code, Op, StateError, StateReply, StateRequest

__all__ = ["Catalogue", "Job", "PopulationEntry", "ProjectionEntry", "StatePlane",
           "StatePlaneStatistics", "resolve"]

Finish = Callable[[], StateReply | None]
"""Made on the tick thread, called on the loop thread: the reply (None: nothing to send)."""
Deliver = Callable[["Job", Finish], None]

_I64 = npt.NDArray[np.int64]
_F64 = npt.NDArray[np.float64]
E = TypeVar("E")


@dataclass(eq=False)
class ProjectionEntry(ProjectionRecord):
    """A projection's record with its kernel ``Connection`` per synapse block (``blocks``)."""

    handles: tuple[Any, ...] = ()
    _keys: tuple[_I64, _I64] | None = field(default=None, repr=False)
    _slots: tuple[tuple[int, ...], _I64] | None = field(default=None, repr=False)
    _indices32: tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32]] | None = field(
        default=None, repr=False)
    version: int = 0  #: writes through the state plane so far
    pending: list[_PendingRead] = field(default_factory=list)  #: gathers in flight
    #: copies of a learning projection's span of the table, free for the next read (reused, so
    #: a read's copy on the tick thread touches no fresh pages: 8 MB of new pages cost ~1 ms)
    spares: collections.deque[_F64] = field(default_factory=collections.deque, repr=False)

    def span(self, slots: _I64) -> tuple[int, int]:
        """The part of the weight table ``slots`` lie in, ``[lo, hi)``: what a learning
        projection's read copies on the tick thread (the whole table only when it is the
        whole table)."""
        if not slots.size:
            return 0, 0
        return int(slots.min()), int(slots.max()) + 1

    def spare(self, size: int) -> _F64:
        """A buffer of ``size`` floats for a copy: a free one if there is one (the deque's
        append and pop are atomic, so the tick thread and the loop thread share it)."""
        try:
            buffer = self.spares.pop()
        except IndexError:
            return np.empty(size)
        return buffer if buffer.size == size else np.empty(size)

    @property
    def where(self) -> tuple[_I64, ...]:
        """Per block, the projection positions of its connections."""
        return tuple(where for _, where in self.blocks)

    def __len__(self) -> int:
        return int(self.pre.size)

    def slots(self) -> _I64:
        """Each connection's position in the network's merged weight table (cached until the
        network rebuilds its table)."""
        current = tuple(id(handle._slots) for handle in self.handles)
        if self._slots is None or self._slots[0] != current:
            out = np.empty(len(self), np.int64)
            for handle, where in zip(self.handles, self.where, strict=True):
                out[where] = handle._slots
            self._slots = (current, out)
        return self._slots[1]

    @property
    def scales(self) -> bool:
        """Whether the weight table holds what this projection's last spikes delivered, not
        its weights: a Tsodyks-Markram or stochastic synapse writes its scaled weight there at
        each spike, a reward connection delivers nothing (kernels ``Connection.read_weights``
        reads such weights from the connection's own array, and so does a live read)."""
        return any(h.plastic is not None and not h.learns for h in self.handles)

    def base_weights(self) -> _F64:
        """The weights of a projection that :attr:`scales`, in its own order (a copy)."""
        out = np.empty(len(self))
        for handle, where in zip(self.handles, self.where, strict=True):
            out[where] = handle.read_weights()
        return out

    def indices32(self) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32]]:
        """``pre`` and ``post`` as the wire's uint32 (made once)."""
        if self._indices32 is None:
            self._indices32 = (self.pre.astype(np.uint32), self.post.astype(np.uint32))
        return self._indices32

    def pairs(self, pre: _I64, post: _I64) -> tuple[_I64, _I64]:
        """Positions of every connection ``pre[i] -> post[i]`` and, per position, its ``i``;
        :class:`StateError` ``no_connection`` names the first pair not connected."""
        if self._keys is None:
            keys = self.pre * self.post_size + self.post
            order = np.argsort(keys, kind="stable")
            self._keys = (keys[order], order)
        sorted_keys, order = self._keys
        wanted = pre * self.post_size + post
        lo = np.searchsorted(sorted_keys, wanted, side="left")
        hi = np.searchsorted(sorted_keys, wanted, side="right")
        missing = np.flatnonzero(hi == lo)
        if missing.size:
            i = int(missing[0])
            raise StateError(Code.NO_CONNECTION, f"projection {self.label!r} has no connection "
                             f"{int(pre[i])} -> {int(post[i])} ({missing.size} of {pre.size} "
                             "pairs are not connected)")
        counts = hi - lo
        which = np.repeat(np.arange(pre.size), counts)
        starts = np.repeat(lo - np.cumsum(counts) + counts, counts)
        return order[starts + np.arange(which.size)], which


@dataclass(eq=False)
class PopulationEntry:
    """One population: its kernel group and the names the state plane may read / write."""

    label: str
    model: str
    size: int
    group: Any
    front: dict[str, np.ndarray]  #: the front end's parameter arrays (kept in step on writes)
    readable: tuple[str, ...]
    writable: tuple[str, ...]

    def array(self, name: str) -> _F64:
        """The live array of ``name`` (a parameter or a state variable)."""
        params = getattr(self.group, "params", {})
        return params[name] if name in params else self.group.state[name]  # type: ignore[no-any-return]


def _labelled(entries: dict[str, E], label: str | None, code: Code, kind: str) -> E:
    """``entries[label]``, or the error that names the label and every one there is."""
    entry = entries.get(label or "")
    if entry is None:
        raise StateError(code, f"no {kind} labelled {label!r}; there are {sorted(entries)}")
    return entry


@dataclass(frozen=True, eq=False)
class Catalogue:
    """What a running network offers; rebuilt by the engine at every run step."""

    projections: dict[str, ProjectionEntry]
    populations: dict[str, PopulationEntry]
    net: Any  #: the kernel Network (its merged weight table)

    def projection(self, label: str | None) -> ProjectionEntry:
        return _labelled(self.projections, label, Code.UNKNOWN_PROJECTION, "projection")

    def population(self, label: str | None) -> PopulationEntry:
        return _labelled(self.populations, label, Code.UNKNOWN_POPULATION, "population")

    def describe(self) -> dict[str, Any]:
        return {
            "projections": [{"label": p.label, "pre": p.pre_label, "post": p.post_label,
                             "pre_size": p.pre_size, "post_size": p.post_size,
                             "connections": len(p), "receptor": p.receptor}
                            for p in self.projections.values()],
            "populations": [{"label": p.label, "model": p.model, "size": p.size,
                             "parameters": list(p.writable),
                             "state": [n for n in p.readable if n not in p.writable]}
                            for p in self.populations.values()]}


def population_entry(label: str, model: str, size: int, group: Any,
                     front: dict[str, np.ndarray]) -> PopulationEntry:
    params = tuple(getattr(group, "params", {}) if hasattr(group, "set_parameters") else ())
    state = tuple(getattr(group, "state", {}))
    return PopulationEntry(label, model, size, group, front, params + state, params)


# -- jobs --------------------------------------------------------------------------------

@dataclass(eq=False)
class Job:
    """A resolved request; :attr:`run` executes it on the tick thread at ``tick``."""

    request: StateRequest
    run: Callable[[int], Finish]
    tick: int | None = None  #: stamped: apply at this tick; None: the next tick
    reply_to: Any = None  #: where the service sends the reply (None: every peer, a snapshot)


@dataclass(eq=False)
class _Stream:
    number: int
    topic: str
    every: int
    read: Callable[[int], Finish]
    start: int = -1
    in_flight: bool = False
    sent: int = 0
    skipped: int = 0


_SNAPSHOT = StateRequest(op=Op.SNAPSHOT)


def _ok(request: StateRequest, tick: int, **arrays: Any) -> StateReply:
    info = {k: v for k, v in (("projection", request.projection),
                              ("population", request.population), ("name", request.name))
            if v is not None}
    return StateReply(op=request.op, id=request.id, tick=tick, info=info, **arrays)


def _indices(values: np.ndarray | None, size: int, what: str) -> _I64 | None:
    if values is None:
        return None
    out = values.astype(np.int64)
    if out.size and int(out.max()) >= size:
        raise StateError(Code.OUT_OF_RANGE, f"{what} index {int(out.max())} out of range "
                         f"0..{size - 1}")
    return out


def _values(request: StateRequest, count: int, what: str) -> _F64:
    values = request.values
    if values is None:
        raise StateError(Code.WRONG_SHAPE, f"{request.op.value} needs 'values' ({what})")
    if values.size not in (1, count):
        raise StateError(Code.WRONG_SHAPE, f"{values.size} values for {count} {what} "
                         "(give one value or one per item)")
    if not np.all(np.isfinite(values)):
        raise StateError(Code.REFUSED_VALUE, f"values for {what} must be finite")
    return np.broadcast_to(values, (count,)).astype(np.float64)


def resolve(request: StateRequest, catalogue: Catalogue) -> Job:
    """Check ``request`` against the network and make its job (loop thread); StateError if bad."""
    if request.op in (Op.WEIGHTS, Op.GET):
        return Job(request, reader(request, catalogue), request.tick)
    if request.op is Op.SET_WEIGHTS:
        return _weights_job(request, catalogue, catalogue.projection(request.projection))
    if request.op is Op.SET:
        return _variable_job(request, catalogue.population(request.population))
    raise StateError(Code.BAD_REQUEST, f"op {request.op.value!r} is not a read or a write")


def reader(request: StateRequest, catalogue: Catalogue) -> Callable[[int], Finish]:
    """The tick-thread read of a WEIGHTS or GET request (checked here; StateError if bad)."""
    if request.op is Op.WEIGHTS:
        entry = catalogue.projection(request.projection)
        pre, post = _selection(request, entry)
        return weight_reader(request, catalogue, entry, _filtered(entry, pre, post))
    population = catalogue.population(request.population)
    _readable(request, population)
    ids = _indices(request.ids, population.size, f"neuron ({population.label})")
    return variable_reader(request, population, ids)


def stream_reader(request: StateRequest, catalogue: Catalogue) -> Callable[[int], Finish]:
    """The read a STREAM request repeats: its projection's weights or its population's
    variable, with the same selection fields as a single read."""
    if request.projection is not None:
        op = Op.WEIGHTS
    elif request.population is not None:
        op = Op.GET
    else:
        raise StateError(Code.BAD_REQUEST, "stream needs 'projection', or 'population' and "
                         "'name'")
    read = StateRequest(op=op, projection=request.projection, population=request.population,
                        name=request.name, ids=request.ids, pre=request.pre, post=request.post)
    return reader(read, catalogue)


def _selection(request: StateRequest, entry: ProjectionEntry) -> tuple[_I64 | None, _I64 | None]:
    pre = _indices(request.pre, entry.pre_size, f"presynaptic ({entry.pre_label})")
    post = _indices(request.post, entry.post_size, f"postsynaptic ({entry.post_label})")
    return pre, post


def _filtered(entry: ProjectionEntry, pre: _I64 | None, post: _I64 | None) -> _I64 | None:
    if pre is None and post is None:
        return None
    mask = np.ones(len(entry), bool)
    if pre is not None:
        mask &= np.isin(entry.pre, pre)
    if post is not None:
        mask &= np.isin(entry.post, post)
    return np.flatnonzero(mask)


def _weights_job(request: StateRequest, catalogue: Catalogue, entry: ProjectionEntry) -> Job:
    pre, post = _selection(request, entry)
    if pre is not None and post is not None:  # pairs
        if pre.size != post.size:
            raise StateError(Code.WRONG_SHAPE, f"{pre.size} pre but {post.size} post indices")
        values = _values(request, pre.size, "(pre, post) pairs")
        positions, which = entry.pairs(pre, post)
        values = values[which]
    else:
        selected = _filtered(entry, pre, post)
        positions = np.arange(len(entry)) if selected is None else selected
        values = _values(request, positions.size, f"connections of {entry.label!r}")
    magnitudes = values * entry.sign
    if np.any(magnitudes < 0):
        raise StateError(Code.REFUSED_VALUE, f"projection {entry.label!r} has "
                         f"{'inhibitory (<= 0)' if entry.sign < 0 else 'weights >= 0'}; "
                         f"got {float(values[np.argmin(magnitudes)])}")
    blocks = _by_block(entry, positions, magnitudes)

    def write(tick: int) -> Finish:
        _before_write(entry, catalogue.net.weight_table())
        for handle, local, w in blocks:
            handle.write_weights(w, at=local)
        reply = _ok(request, tick)
        return lambda: reply
    return Job(request, write, request.tick)


def _by_block(entry: ProjectionEntry, positions: _I64, values: _F64
              ) -> list[tuple[Any, _I64, _F64]]:
    """Projection positions -> per kernel block: (handle, local positions, values)."""
    out = []
    for handle, where in zip(entry.handles, entry.where, strict=True):
        local = np.full(len(entry), -1, np.int64)
        local[where] = np.arange(where.size)
        mine = local[positions]
        keep = mine >= 0
        if keep.any():
            out.append((handle, mine[keep], values[keep]))
    return out


@dataclass(eq=False)
class _PendingRead:
    """A read of a static projection gathering from the live table in the loop thread."""

    version: int  #: the projection's write count when the read was taken
    snapshot: _F64 | None = None  #: the table as it was, if a write came before the gather ended


def weight_reader(request: StateRequest, catalogue: Catalogue, entry: ProjectionEntry,
                  positions: _I64 | None) -> Callable[[int], Finish]:
    """A read of ``entry``'s weights stamped with the tick it runs at.

    A learning projection's weights change every tick: the tick thread copies the part of the
    weight table the projection lies in (one memcpy into a reused buffer), the loop thread
    gathers from the copy and gives the buffer back. A static projection's change only by
    the state plane's own writes, on the tick thread: the loop thread gathers straight from
    the live table (``np.take`` releases the GIL, so the tick thread runs on) and checks the
    projection's write count afterwards; a write that comes while a gather is pending first
    copies the table for it (:func:`_before_write`), so the read is still the state at its tick.
    A projection that :attr:`~ProjectionEntry.scales` its weights per spike (Tsodyks-Markram,
    the stochastic synapses) leaves in the table what it last delivered: its read copies the
    connections' own weights on the tick thread instead.
    """
    slots = entry.slots()
    pre32, post32 = entry.indices32()
    if positions is not None:
        slots, pre32, post32 = slots[positions], pre32[positions], post32[positions]
    sign = entry.sign
    learns = any(getattr(handle, "learns", False) for handle in entry.handles)
    lo, hi = entry.span(slots)
    local = slots - lo

    def reply(tick: int, values: _F64) -> StateReply:
        return _ok(request, tick, pre=pre32, post=post32,
                   values=values * sign if sign < 0 else values)

    def read(tick: int) -> Finish:
        if entry.scales:  # the table is not where its weights are: copied here, at once
            base = entry.base_weights()
            taken = base if positions is None else base[positions]
            return lambda: reply(tick, taken)
        table = catalogue.net.weight_table()
        if slots.size <= 4096:  # small: gathered here, at once
            taken = table[slots]
            return lambda: reply(tick, taken)
        if learns:
            snapshot = entry.spare(hi - lo)
            np.copyto(snapshot, table[lo:hi])

            def gather_copy() -> StateReply:
                values = np.take(snapshot, local)
                entry.spares.append(snapshot)
                return reply(tick, values)
            return gather_copy
        pending = _PendingRead(entry.version)
        entry.pending.append(pending)

        def gather() -> StateReply:
            values = np.take(table, slots)
            if entry.version != pending.version:  # a write came: its copy is the tick's state
                assert pending.snapshot is not None
                values = np.take(pending.snapshot, slots)
            entry.pending.remove(pending)
            return reply(tick, values)
        return gather
    return read


def _before_write(entry: ProjectionEntry, table: _F64) -> None:
    """Tick thread, before a write to ``entry``: pending gathers get the table as it is."""
    if entry.pending:
        copy = None
        for pending in entry.pending:
            if pending.snapshot is None:
                copy = table.copy() if copy is None else copy
                pending.snapshot = copy
    entry.version += 1


def _readable(request: StateRequest, entry: PopulationEntry) -> str:
    name = request.name
    if name is None or name not in entry.readable:
        raise StateError(Code.UNKNOWN_PARAMETER, f"population {entry.label!r} "
                         f"({entry.model}) has no parameter or state variable {name!r}; it has "
                         f"{list(entry.readable)}")
    return name


def _variable_job(request: StateRequest, entry: PopulationEntry) -> Job:
    name = _readable(request, entry)
    ids = _indices(request.ids, entry.size, f"neuron ({entry.label})")
    if name not in entry.writable:
        raise StateError(Code.READ_ONLY, f"{name!r} of population {entry.label!r} is a state "
                         f"variable: read-only live; writable: {list(entry.writable)}")
    count = entry.size if ids is None else ids.size
    values = _values(request, count, f"neurons of {entry.label!r}")
    refusal = refused(name, values)
    if refusal:
        raise StateError(Code.REFUSED_VALUE, f"{entry.model} {name!r} of {entry.label!r}: "
                         f"{refusal}")
    front = entry.front.get(name)

    def write(tick: int) -> Finish:
        entry.group.set_parameters(ids, **{name: values})
        if front is not None:  # the front end's copy (Population.get after the run)
            front[slice(None) if ids is None else ids] = values
        reply = _ok(request, tick)
        return lambda: reply
    return Job(request, write, request.tick)


def refused(name: str, values: _F64) -> str:
    """Why a model refuses ``values`` for parameter ``name`` ('' when it takes them)."""
    if name == "tau_refrac" or name in ("rate", "start", "duration"):
        return "must be >= 0" if np.any(values < 0) else ""
    if name.startswith("tau") or name == "cm":
        return "must be > 0" if np.any(values <= 0) else ""
    return ""


def variable_reader(request: StateRequest, entry: PopulationEntry,
                    ids: _I64 | None) -> Callable[[int], Finish]:
    name = request.name or ""
    ids32 = (np.arange(entry.size) if ids is None else ids).astype(np.uint32)

    def read(tick: int) -> Finish:
        live = entry.array(name)
        values = live.copy() if ids is None else live[ids]
        return lambda: _ok(request, tick, ids=ids32, values=values)
    return read


# -- the plane ----------------------------------------------------------------------------

@dataclass(frozen=True, slots=True, kw_only=True)
class StatePlaneStatistics:
    """Counters since the plane was made (what the run report and ``describe`` show)."""

    queued: int  #: jobs accepted into the queue
    refused: int  #: jobs refused because the queue or the hold was full
    applied: int  #: jobs executed on the tick thread
    late: int  #: stamped jobs whose tick had begun
    held: int  #: stamped jobs waiting now
    queue_peak: int
    streams: int  #: streams open now
    snapshots: int  #: stream reads sent
    skipped: int  #: stream reads skipped because the previous one was still being sent


class StatePlane:
    """Bounded hand-over from the loop thread to the tick thread; see the module docstring."""

    def __init__(self, deliver: Deliver, *, max_queued: int = 1024, max_held: int = 4096,
                 max_streams: int = 16) -> None:
        self._deliver = deliver
        self._queue: collections.deque[Job] = collections.deque()
        self._max_queued, self._max_held, self._max_streams = max_queued, max_held, max_streams
        self._producers = threading.Lock()  # orders producers; the tick thread never takes it
        self._held: list[tuple[int, int, Job]] = []
        self._order = itertools.count()
        self._streams: dict[int, _Stream] = {}
        self._numbers = itertools.count(1)
        self._queued = self._refused = self._applied = self._late = self._peak = 0
        self._snapshots = self._skipped = 0

    # ---------------------------------------------------------------- producers (loop thread)
    def submit(self, job: Job) -> None:
        """Queue ``job`` for the tick thread; :class:`StateError` ``queue_full`` if bounded out."""
        with self._producers:
            depth = len(self._queue)
            if depth >= self._max_queued or (
                    job.tick is not None and len(self._held) >= self._max_held):
                self._refused += 1
                raise StateError(Code.QUEUE_FULL, f"the engine's state queue is full ({depth} "
                                 f"requests, {len(self._held)} held); try again")
            self._queue.append(job)
            self._queued += 1
            self._peak = max(self._peak, depth + 1)

    def open_stream(self, request: StateRequest, read: Callable[[int], Finish],
                    reply_to: Any) -> None:
        """A STREAM job: ``read`` every ``request.every`` ticks from the tick it applies at."""
        if len(self._streams) >= self._max_streams:
            raise StateError(Code.TOO_MANY_STREAMS, f"{len(self._streams)} streams are open "
                             f"(at most {self._max_streams}); close one with unstream")
        number = next(self._numbers)
        stream = _Stream(number, f"state/{number}", int(request.every or 1), read)

        def first(tick: int) -> Finish:
            stream.start = tick
            self._streams[number] = stream
            reply = _ok(request, tick)
            info = {**reply.info, "stream": number, "topic": stream.topic,
                    "every": stream.every}
            return lambda: StateReply(op=request.op, id=request.id, tick=tick, info=info)
        self.submit(Job(request, first, request.tick, reply_to))

    def close_stream(self, request: StateRequest, reply_to: Any) -> None:
        number = request.stream

        def close(tick: int) -> Finish:
            stream = self._streams.pop(number or 0, None)
            reply = (StateReply(op=request.op, id=request.id, ok=False,
                                code=Code.UNKNOWN_STREAM,
                                message=f"no stream {number}; open: {sorted(self._streams)}")
                     if stream is None else StateReply(
                         op=request.op, id=request.id, tick=tick,
                         info={"stream": number, "sent": stream.sent,
                               "skipped": stream.skipped}))
            return lambda: reply
        self.submit(Job(request, close, None, reply_to))

    def statistics(self) -> StatePlaneStatistics:
        return StatePlaneStatistics(
            queued=self._queued, refused=self._refused, applied=self._applied, late=self._late,
            held=len(self._held), queue_peak=self._peak, streams=len(self._streams),
            snapshots=self._snapshots, skipped=self._skipped)

    # ---------------------------------------------------------------- the tick thread
    def apply(self, tick: int) -> None:
        """Run what is due before ``tick`` is computed (called between ticks; never blocks)."""
        queue = self._queue
        for _ in range(len(queue)):  # only what was queued before now
            job = queue.popleft()
            if job.tick is None or job.tick == tick:
                self._run(job, tick)
            elif job.tick < tick:
                self._refuse_late(job, tick)
            else:
                bisect.insort(self._held, (job.tick, next(self._order), job))
        held = self._held
        while held and held[0][0] <= tick:
            _, _, job = held.pop(0)
            self._run(job, tick)
        if self._streams:
            self._stream_reads(tick)

    def _run(self, job: Job, tick: int) -> None:
        self._applied += 1
        self._deliver(job, job.run(tick))

    def _refuse_late(self, job: Job, tick: int) -> None:
        self._late += 1
        reply = StateReply(op=job.request.op, id=job.request.id, ok=False, code=Code.LATE,
                           message=f"tick {job.tick} had begun when the request reached the "
                           f"engine (at tick {tick}); nothing changed")
        self._deliver(job, lambda: reply)

    def _stream_reads(self, tick: int) -> None:
        for stream in list(self._streams.values()):
            if (tick - stream.start) % stream.every:
                continue
            if stream.in_flight:
                stream.skipped += 1
                self._skipped += 1
                continue
            stream.in_flight = True
            finish = stream.read(tick)
            made = self._snapshot_finish(stream, tick, finish)
            self._deliver(Job(_SNAPSHOT, stream.read, tick), made)

    def _snapshot_finish(self, stream: _Stream, tick: int, finish: Finish) -> Finish:
        def made() -> StateReply | None:
            stream.in_flight = False
            reply = finish()
            if reply is None:
                return None
            stream.sent += 1
            self._snapshots += 1
            return StateReply(op=Op.SNAPSHOT, tick=tick, values=reply.values,
                              info={"stream": stream.number, "topic": stream.topic})
        return made


def build_catalogue(net: Any, projections: Iterable[ProjectionEntry],
                    populations: Iterable[PopulationEntry]) -> Catalogue:
    return Catalogue({p.label: p for p in projections}, {p.label: p for p in populations}, net)
