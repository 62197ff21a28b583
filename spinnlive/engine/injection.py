"""Injected EIEIO -> per-population atom arrays and rate changes, as the injector cores do it.

Theory of operation
-------------------
Live input reaches a board as SDP port 1 of one injector core (a SpikeInjector, or the
``<poisson>_control`` source of a Poisson population with live rate control): protocol sheet
§5.3, §5.5. That core (reverse_iptag_multicast_source.c) turns each EIEIO event into a multicast
key, and this module does the same arithmetic with numpy, then maps the keys back to atoms
(a :class:`~spinnlive.protocol.keys.KeyTable` per core), because the engine's kernels take atoms:

* **Keys.** With a key prefix in the packet the decoder's on-chip reading applies (§1.3). Without
  one, the core's own prefix applies: its base key, as an UPPER prefix, so ``key | base_key``
  for 16-bit ids and full 32-bit keys alike; bare atom ids thus become keys, and full keys,
  which contain the base already, stay what they are.
* **Timestamps.** A packet is timestamped when T is set and it has a payload prefix (D, any
  key type: one tick for the whole packet) or per-event payloads (the prefix then counts as 0,
  as on chip). A stamp before the arrival tick (the tick in progress) is *late* and dropped;
  any other stamp is kept until its tick (:mod:`spinnlive.engine.hold`), so the injector spikes
  exactly AT the stamped tick. This is a superset of the chip, which loses future stamps (a
  live injector has no send-buffer region) and does not check key-only packets with D + T at
  all; spinnlive holds them so that a replayer can load a whole run's inputs before a lock-step
  engine starts.
  Rate-control packets cannot be timestamped (their payload is the rate).
* **Targets.** A SpikeInjector core yields spikes of its atoms. A control core yields rate
  changes of the controlled Poisson population's neurons: the payload is the rate in Hz as
  unsigned 16.16 fixed point, as ``SpynnakerPoissonControlConnection.set_rates`` sends it.
  Events whose key the core's vertex does not own are counted (``unknown``) and dropped.

Only a vertex's first core is a target: sPyNNaker's clients address ``get_placements(label)[0]``
(§7.6). Decoded batches go to the tick thread through :class:`InjectionQueue`, which is bounded
(batches for untimed ones, held events for timestamped ones) and merges, at each tick, every
untimed batch queued before it and the timestamped events due at it into one array per
population.

Rules: sans-IO (no sockets, clocks or threads); a bad datagram is a :class:`Drop` value,
never an exception; no Python object per event.
"""

from __future__ import annotations

import collections
import enum
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import numpy.typing as npt

from spinnlive.engine.hold import TimedHold
from spinnlive.engine.mapping import Mapping as EngineMapping
from spinnlive.engine.vertices import VertexKind
from spinnlive.errors import ConfigurationError, RemoteProtocolError
from spinnlive.protocol.commands import is_command_packet
from spinnlive.protocol.eieio import decode_data_packet
from spinnlive.protocol.keys import KeyTable

__all__ = [
    "CONTROL_SUFFIX", "EMPTY_INJECTIONS", "Drop", "InjectionBatch", "InjectionDecoder", "InjectionQueue",
    "InjectionTarget", "TargetKind", "TickInjections", "targets_from_mapping",
]

#: ``add_poisson_live_rate_control``'s default ``control_label_extension``.
CONTROL_SUFFIX = "_control"
#: 16.16 fixed point: the payload of a rate-control event is ``round(rate_hz * 2**16)``.
RATE_SCALE = 65536.0

Core = tuple[int, int, int]


class TargetKind(enum.Enum):
    """What an injector core feeds."""

    SPIKES = "spikes"  #: a SpikeInjector: every event is a spike of its atom
    RATES = "rates"  #: a Poisson control source: key -> neuron, payload -> rate (16.16 Hz)


class Drop(str, enum.Enum):
    """Why a whole injected packet was not used (the board counts these by value)."""

    BAD_EIEIO = "bad_eieio"  #: not a decodable EIEIO data packet
    COMMAND = "command"  #: an EIEIO command (buffered input; a live injector has no use for it)
    UNKNOWN_CORE = "unknown_core"  #: no injector's first core at that (x, y, p)
    EMPTY = "empty"  #: count 0
    LATE = "late_timestamp"  #: timestamped, for a tick already past
    HOLD_FULL = "hold_full"  #: timestamped, but the store of held events is full
    NO_PAYLOAD = "no_payload"  #: a rate-control packet without a (non-timestamp) payload
    UNKNOWN_KEYS = "unknown_keys"  #: no event had a key of the addressed vertex


@dataclass(frozen=True, slots=True)
class InjectionTarget:
    """The first core of an injection-mode vertex, and where its events go."""

    vertex: str  #: the injector's label (its rows in the database)
    target: str  #: the population fed: the injector itself, or the controlled Poisson source
    kind: TargetKind
    core: Core
    base_key: int  #: the core's prefix (its base key, UPPER)
    table: KeyTable  #: key <-> atom of ``vertex``


@dataclass(frozen=True, slots=True, eq=False)
class InjectionBatch:
    """The usable part of one injected packet."""

    target: str
    kind: TargetKind
    atoms: npt.NDArray[np.int64]
    rates_hz: npt.NDArray[np.float64] | None  #: per atom, for RATES
    unknown: int  #: events dropped for an unknown key
    tick: int | None = None  #: the stamped tick of a timestamped packet; None: on arrival


@dataclass(frozen=True, slots=True, eq=False)
class TickInjections:
    """Everything injected before a tick began, merged per population.

    ``spikes[label]`` holds atom ids in arrival order (repeats are repeated spikes);
    ``rates[label]`` is ``(atoms, rates_hz)`` with one entry per atom, the last one sent winning.
    """

    spikes: Mapping[str, npt.NDArray[np.int64]]
    rates: Mapping[str, tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]]

    @property
    def empty(self) -> bool:
        return not self.spikes and not self.rates


EMPTY_INJECTIONS = TickInjections(MappingProxyType({}), MappingProxyType({}))


def targets_from_mapping(mapping: EngineMapping,
                         controls: Mapping[str, str] | None = None) -> list[InjectionTarget]:
    """The injection targets of a mapping: the first core of every injection-mode vertex.

    ``controls`` maps a control vertex's label to the Poisson population it drives; by default
    ``<label>_control`` drives ``<label>``.
    """
    targets = []
    labels = {v.label for v in mapping.vertices}
    for vm in mapping.vertices:
        kind = vm.vertex.kind
        if not kind.injection_mode:
            continue
        first = vm.cores[0]
        target = vm.label
        if kind is VertexKind.POISSON_CONTROL:
            given = None if controls is None else controls.get(vm.label)
            target = given or (vm.label[:-len(CONTROL_SUFFIX)]
                               if vm.label.endswith(CONTROL_SUFFIX) else "")
            if target not in labels:
                raise ConfigurationError(
                    f"rate-control vertex {vm.label!r} controls no known population"
                    f" ({target!r}); name it '<poisson label>{CONTROL_SUFFIX}' or pass controls")
        atoms = np.arange(vm.vertex.n_atoms, dtype=np.int64)
        targets.append(InjectionTarget(
            vm.label, target,
            TargetKind.RATES if kind is VertexKind.POISSON_CONTROL else TargetKind.SPIKES,
            (first.placement.x, first.placement.y, first.placement.p), first.base_key,
            KeyTable.from_arrays([(vm.label, atoms, vm.keys)])))
    return targets


class InjectionDecoder:
    """Decode the EIEIO body of an SDP message addressed to an injector core."""

    def __init__(self, targets: list[InjectionTarget]) -> None:
        self._by_core = {t.core: t for t in targets}
        if len(self._by_core) != len(targets):
            raise ConfigurationError("two injection targets share a core")

    @property
    def targets(self) -> tuple[InjectionTarget, ...]:
        return tuple(self._by_core.values())

    def decode(self, core: Core, body: bytes, tick: int) -> InjectionBatch | Drop:
        """The batch for ``body`` sent to ``core`` while ``tick`` is current, or why not."""
        target = self._by_core.get(core)
        if target is None:
            return Drop.UNKNOWN_CORE
        if is_command_packet(body):
            return Drop.COMMAND
        try:
            packet = decode_data_packet(body)
        except RemoteProtocolError:
            return Drop.BAD_EIEIO
        if packet.keys.size == 0:
            return Drop.EMPTY
        stamp = packet.stamp
        if stamp is not None and stamp < tick:
            return Drop.LATE
        keys = (packet.keys if packet.has_key_prefix
                else packet.keys | np.uint32(target.base_key))
        found = target.table.lookup(keys)
        known = found.known
        n_known = int(np.count_nonzero(known))
        if n_known == 0:
            return Drop.UNKNOWN_KEYS
        all_known = n_known == known.size
        atoms = found.atom if all_known else found.atom[known]
        rates = None
        if target.kind is TargetKind.RATES:
            payloads = packet.payloads
            if payloads is None or not packet.has_payload_type or packet.is_time:
                return Drop.NO_PAYLOAD
            rates = (payloads if all_known else payloads[known]) / RATE_SCALE
        return InjectionBatch(target.target, target.kind, atoms, rates, known.size - n_known,
                              stamp)


class InjectionQueue:
    """Bounded hand-off of decoded batches from the receive side to the tick thread.

    One producer (the board's receive loop) appends; the tick thread calls :meth:`drain` at the
    start of a tick with the arrival tick and gets, merged, exactly what was queued before it
    plus the timestamped events stamped with the arrival tick (``deque`` appends and pops are
    atomic in CPython, so neither side takes a lock). Untimed batches are bounded in number (``max_batches``); timestamped ones in
    events waiting for their tick (``max_held``), counted with two totals that each side alone
    writes (queued by the producer, taken out of the hold by the tick thread), so the bound is
    exact without a lock. :meth:`put` returns why it refused a batch, or None.
    """

    def __init__(self, max_batches: int = 4096, max_held: int = 1 << 20) -> None:
        if max_batches < 1 or max_held < 1:
            raise ConfigurationError(f"max_batches and max_held must be at least 1, got "
                                     f"{max_batches} and {max_held}")
        self._queue: collections.deque[InjectionBatch] = collections.deque()
        self._timed: collections.deque[InjectionBatch] = collections.deque()
        self._hold = TimedHold()
        self.max_batches, self.max_held = max_batches, max_held
        self.peak = 0
        self._held_in = 0  #: timestamped events queued (producer only)
        self._held_out = 0  #: timestamped events delivered or dropped late (tick thread only)
        self.late_events = 0  #: timestamped events whose tick had passed when they were due

    def put(self, batch: InjectionBatch) -> str | None:
        """Queue ``batch``; the drop reason when refused (the caller counts it)."""
        if batch.tick is not None:
            n = int(batch.atoms.size)
            if self._held_in - self._held_out + n > self.max_held:
                return Drop.HOLD_FULL.value
            self._timed.append(batch)
            self._held_in += n
            return None
        depth = len(self._queue)
        if depth >= self.max_batches:
            return "queue_full"
        self._queue.append(batch)
        self.peak = max(self.peak, depth + 1)
        return None

    @property
    def depth(self) -> int:
        return len(self._queue)

    @property
    def held(self) -> int:
        """Timestamped events queued or held, not yet due."""
        return self._held_in - self._held_out

    def drain(self, tick: int) -> TickInjections:
        """Untimed batches queued so far and the events stamped ``tick``, merged per population
        (see :class:`TickInjections`); events stamped before ``tick`` are dropped as late."""
        spikes: dict[str, list[npt.NDArray[np.int64]]] = {}
        if self._timed or len(self._hold):
            self._hold_timed()
            due = self._hold.take(tick)
            self.late_events += due.late
            self._held_out += due.removed
            for label, atoms in due.spikes.items():
                spikes[label] = [atoms]
        n = len(self._queue)
        if n == 0 and not spikes:
            return EMPTY_INJECTIONS
        pop = self._queue.popleft
        rates: dict[str, list[tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]]] = {}
        for _ in range(n):
            batch = pop()
            if batch.rates_hz is None:
                spikes.setdefault(batch.target, []).append(batch.atoms)
            else:
                rates.setdefault(batch.target, []).append((batch.atoms, batch.rates_hz))
        return TickInjections(
            MappingProxyType({k: v[0] if len(v) == 1 else np.concatenate(v)
                              for k, v in spikes.items()}),
            MappingProxyType({k: _last_rate_wins(v) for k, v in rates.items()}))

    def _hold_timed(self) -> None:
        pop = self._timed.popleft
        batches = [pop() for _ in range(len(self._timed))]
        self._hold.add([b.tick for b in batches], [b.target for b in batches],  # type: ignore[misc]
                       [b.atoms for b in batches])


def _last_rate_wins(parts: list[tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]]
                    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """One (atom, rate) per atom, the latest sent, atoms ascending."""
    atoms = np.concatenate([a for a, _ in parts])[::-1]
    values = np.concatenate([r for _, r in parts])[::-1]
    unique, first = np.unique(atoms, return_index=True)  # first in reversed order = last sent
    return unique, values[first]
