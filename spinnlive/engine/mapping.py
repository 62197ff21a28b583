"""Mapping: populations -> cores, routing keys, placements and IP tags, as sPyNNaker does it.

Theory of operation
-------------------
:func:`map_network` takes application vertices (populations and live-I/O devices), live-output
requests and the run configuration and produces a frozen :class:`Mapping`, which
:meth:`Mapping.to_database_records` turns into the records spinnlive's database writer takes.

1. **Partition.** Each vertex is cut into cores of at most ``max_atoms_per_core`` atoms (256
   for neurons and sources; one core for injectors and Poisson control).
2. **Keys** (:mod:`spinnlive.engine.keyspace`): pacman's flexible zoned allocator, the
   sPyNNaker 7.4.1 default, so the keys equal the toolchain's for the same vertex order.
3. **Live output.** Requests with equal parameters (and equal colour mask) share one live
   packet gatherer (LPG) and one IP tag, as sPyNNaker's plugin manager does. Tags are the
   requested ones, else taken from the top of 1..7 (the reason sPyNNaker's first LPG gets 7).
4. **Place** on a virtual SpiNN-5 machine: 48 chips per board in the 8x8 hexagon, 18 cores per
   chip, core 0 the monitor. LPGs go first, on chip (0, 0) from core 1 as in sPyNNaker, then
   every application core in vertex order, filling chips in (x, y) order. A network needing
   more cores than a board gets more boards, tiled as 8x8 blocks (logged).

Rules
-----
* The engine is ONE endpoint at the board address, so chip (0, 0) is the only Ethernet chip and
  every chip names it as its nearest Ethernet chip: ``get_ip_address(x, y)`` then gives the
  board address for every core (also sidestepping protocol sheet §7.10).
* System vertices (ExtraMonitor, PacketGatherer) are not modelled: the engine has none, so
  application cores start right after the LPGs (sPyNNaker's own cores numbers differ there).
* The database carries events only where sPyNNaker writes them (§4.2): injection-mode vertices
  (injectors, Poisson control) and the sources of an LPG.
* Anything that cannot be mapped raises :class:`~spinnlive.errors.ConfigurationError` naming
  the vertex; a :class:`Mapping` that exists can always be written.
"""

from __future__ import annotations

import datetime
import logging
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from spinnlive.clock import PerfCounterClock
from spinnlive.database import records as db
from spinnlive.engine.keyspace import CoreKeys, allocate_keys
from spinnlive.engine.vertices import (
    AppVertex,
    LiveOutputParameters,
    LiveOutputRequest,
    VertexKind,
)
from spinnlive.errors import ConfigurationError, UnknownLabelError
from spinnlive.protocol.keys import core_keys

__all__ = [
    "AppVertex", "CoreMapping", "LiveOutputParameters", "LiveOutputRequest", "LpgMapping",
    "Mapping", "VertexKind", "VertexMapping", "map_network",
]

logger = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
"""``progress(done, total)``: called as vertices are mapped, for the CLI's progress bar."""

N_CORES = 18  # per chip, SpiNN-5
CHIPS_PER_BOARD = 48
BOARD_SIDE = 8
_IP_TAGS = range(1, 8)  # pacman's tags per Ethernet chip


def board_chip_offsets() -> list[tuple[int, int]]:
    """The 48 (x, y) chip offsets of a SpiNN-5 board within its 8x8 box, in (x, y) order."""
    return [(x, y) for x in range(BOARD_SIDE) for y in range(BOARD_SIDE)
            if -4 < x - y < 5]  # row y holds x from max(0, y-4) to min(7, y+4)


@dataclass(frozen=True, slots=True)
class CoreMapping:
    """One core (machine vertex): its atoms, place and keys."""

    label: str  #: ``pop(lo:hi)``, as sPyNNaker labels machine vertices
    lo_atom: int
    hi_atom: int
    placement: db.Placement
    base_key: int
    mask: int
    keys: npt.NDArray[np.uint32] = field(repr=False)  #: key of atom lo_atom + i (read-only)

    @property
    def n_atoms(self) -> int:
        return self.hi_atom - self.lo_atom + 1


@dataclass(frozen=True, slots=True)
class VertexMapping:
    """A vertex and its cores, in atom order."""

    vertex: AppVertex
    n_colour_bits: int
    cores: tuple[CoreMapping, ...]
    keys: npt.NDArray[np.uint32] = field(repr=False)  #: key of every atom, indexed by atom id

    @property
    def label(self) -> str:
        return self.vertex.label

    @property
    def slices(self) -> tuple[tuple[int, int], ...]:
        return tuple((c.lo_atom, c.hi_atom) for c in self.cores)

    @property
    def placements(self) -> tuple[db.Placement, ...]:
        return tuple(c.placement for c in self.cores)


@dataclass(frozen=True, slots=True)
class LpgMapping:
    """One live packet gatherer: the sources it forwards and the IP tag it sends through."""

    label: str  #: ``LiveSpikeReceiver``, then ``LiveSpikeReceiver_1`` ... (the reader's LIKE)
    parameters: LiveOutputParameters
    received_key_mask: int
    translated_key_right_shift: int
    tag: int
    placement: db.Placement
    sources: tuple[str, ...]  #: population labels, in request order


@dataclass(frozen=True, slots=True)
class Mapping:
    """The whole mapping of one network on the virtual machine."""

    board_address: str
    configuration: db.Configuration
    machine: db.Machine
    n_boards: int
    vertices: tuple[VertexMapping, ...]
    lpgs: tuple[LpgMapping, ...]

    def vertex(self, label: str) -> VertexMapping:
        for vertex in self.vertices:
            if vertex.label == label:
                return vertex
        raise UnknownLabelError(f"no population labelled {label!r} in this mapping")

    def keys(self, label: str) -> npt.NDArray[np.uint32]:
        """Key of every atom of ``label``, indexed by atom id."""
        return self.vertex(label).keys

    def lpg_for(self, label: str) -> LpgMapping:
        """The LPG forwarding ``label``'s spikes (the first, if several)."""
        for lpg in self.lpgs:
            if label in lpg.sources:
                return lpg
        raise UnknownLabelError(f"population {label!r} has no live output")

    def to_database_records(self) -> db.Mapping:
        """The records the database writer takes, with events where sPyNNaker writes them."""
        live = {s for lpg in self.lpgs for s in lpg.sources}
        cores: dict[str, tuple[db.MachineVertex, ...]] = {
            v.label: tuple(db.MachineVertex(
                c.label, c.placement, c.lo_atom, c.hi_atom,
                c.keys if v.vertex.injection_mode or v.label in live else None) for c in v.cores)
            for v in self.vertices}
        apps = [db.ApplicationVertex(label, mvs) for label, mvs in cores.items()]
        edges: list[db.LpgEdge] = []
        for lpg in self.lpgs:
            tag = db.IPTag(lpg.tag, self.board_address, lpg.parameters.host,
                           lpg.parameters.port, lpg.parameters.strip_sdp)
            lpg_core = db.MachineVertex(lpg.label, lpg.placement, ip_tags=(tag,))
            apps.append(db.ApplicationVertex(lpg.label, (lpg_core,)))
            edges.extend(db.LpgEdge(core, lpg_core, partition)
                         for source in lpg.sources for core in cores[source]
                         for partition in lpg.parameters.partition_ids)
        return db.Mapping(self.machine, tuple(apps), self.configuration, tuple(edges))


class _Timer:
    """Logs "Time H:MM:SS.ffffff taken by <stage>" like SpiNNFrontEndCommon's FecTimer."""

    def __init__(self) -> None:
        self._clock = PerfCounterClock()

    def __call__(self, stage: str, start: float) -> float:
        now = self._clock.now()
        logger.info("Time %s taken by %s", datetime.timedelta(seconds=now - start), stage)
        return now

    def now(self) -> float:
        return self._clock.now()


def map_network(
    vertices: Sequence[AppVertex],
    *,
    board_address: str,
    live_outputs: Sequence[LiveOutputRequest] = (),
    configuration: db.Configuration | None = None,
    progress: Progress | None = None,
    max_boards: int | None = None,
) -> Mapping:
    """Map ``vertices`` (in key-allocation order) onto a virtual machine at ``board_address``.

    To reproduce sPyNNaker's keys exactly, give the vertices in the order their first outgoing
    partition was made (projections in script order, live outputs at run time).
    """
    timer = _Timer()
    begin = stage = timer.now()
    labels = [v.label for v in vertices]
    if len(set(labels)) != len(labels):
        raise ConfigurationError(f"population labels must be unique, got {labels}")
    by_label = {v.label: v for v in vertices}
    total = len(vertices) + 2
    slices = [v.slices() for v in vertices]
    stage = timer("Partitioner", stage)

    allocated = allocate_keys([(v, s) for v, s in zip(vertices, slices)])
    stage = timer("Zoned routing info allocator", stage)
    _report(progress, 1, total)

    groups = _group_sources(live_outputs, by_label)
    tags = _allocate_tags([params for (params, _, _), _ in groups])
    n_cores = len(groups) + sum(len(s) for s in slices)
    n_boards, machine = _virtual_machine(n_cores, board_address, max_boards)
    cores = _core_sequence(machine)
    lpgs = tuple(
        LpgMapping(db.DEFAULT_LPG_LABEL if i == 0 else f"{db.DEFAULT_LPG_LABEL}_{i}",
                   params, mask, shift, tag, next(cores), tuple(sources))
        for i, (((params, mask, shift), sources), tag) in enumerate(zip(groups, tags)))
    for lpg in lpgs:
        if lpg.label in by_label:
            raise ConfigurationError(
                f"population label {lpg.label!r} is the name of a live packet gatherer; rename it")
    _report(progress, 2, total)

    mapped = []
    for done, (vertex, vertex_slices, core_keys_) in enumerate(
            zip(vertices, slices, allocated), start=3):
        mapped.append(_map_vertex(vertex, vertex_slices, core_keys_, cores))
        _report(progress, done, total)
    timer("Placer", stage)
    mapping = Mapping(board_address, configuration or db.Configuration(), machine, n_boards,
                      tuple(mapped), lpgs)
    timer("Mapping", begin)
    return mapping


def _report(progress: Progress | None, done: int, total: int) -> None:
    if progress is not None:
        progress(done, total)


def _map_vertex(vertex: AppVertex, slices: list[tuple[int, int]], keys: list[CoreKeys],
                cores: Iterator[db.Placement]) -> VertexMapping:
    colour = vertex.colour_bits
    mapped = tuple(
        CoreMapping(db.slice_label(vertex.label, lo, hi), lo, hi, next(cores), ck.base_key,
                    ck.mask, _frozen(core_keys(ck.base_key, hi - lo + 1, ck.key_shift)))
        for (lo, hi), ck in zip(slices, keys))
    every = _frozen(np.concatenate([c.keys for c in mapped]))
    return VertexMapping(vertex, colour, mapped, every)


def _frozen(array: npt.NDArray[np.uint32]) -> npt.NDArray[np.uint32]:
    array.flags.writeable = False
    return array


_Group = tuple[LiveOutputParameters, int, int]  # parameters, received_key_mask, right shift


def _lpg_key(request: LiveOutputRequest, by_label: dict[str, AppVertex]) -> _Group:
    vertex = by_label.get(request.label)
    if vertex is None:
        raise UnknownLabelError(f"live output requested for unknown population {request.label!r}")
    colour = vertex.colour_bits
    return request.parameters, 0xFFFF_FFFF & ~((1 << colour) - 1), colour


def _group_sources(requests: Sequence[LiveOutputRequest],
                   by_label: dict[str, AppVertex]) -> list[tuple[_Group, list[str]]]:
    """Requests grouped by their full LPG parameter set, first-seen order."""
    groups: dict[_Group, list[str]] = {}
    for request in requests:
        sources = groups.setdefault(_lpg_key(request, by_label), [])
        if request.label not in sources:
            sources.append(request.label)
    return list(groups.items())


def _allocate_tags(parameters: Sequence[LiveOutputParameters]) -> list[int]:
    """Requested tags first, then the highest free ones, like pacman's basic tag allocator."""
    wanted = [p.tag for p in parameters if p.tag is not None]
    for tag in wanted:
        if tag not in _IP_TAGS:
            raise ConfigurationError(f"IP tag {tag} is not one of the board's tags 1..7")
    if len(set(wanted)) != len(wanted):
        raise ConfigurationError(
            f"two live outputs with different parameters ask for the same IP tag: {wanted}")
    free = [t for t in _IP_TAGS if t not in wanted]
    tags = []
    for p in parameters:
        if p.tag is not None:
            tags.append(p.tag)
        elif free:
            tags.append(free.pop())
        else:
            raise ConfigurationError(
                f"out of IP tags: {len(parameters)} distinct live-output parameter sets need"
                f" more than the board's {len(_IP_TAGS)}; share parameters between populations")
    return tags


def _virtual_machine(n_cores: int, board_address: str,
                     max_boards: int | None) -> tuple[int, db.Machine]:
    per_board = CHIPS_PER_BOARD * (N_CORES - 1)
    n_boards = max(1, math.ceil(n_cores / per_board))
    if max_boards is not None and n_boards > max_boards:
        raise ConfigurationError(
            f"the network needs {n_cores} cores = {n_boards} boards of {per_board} application"
            f" cores, more than the {max_boards} allowed")
    across = math.ceil(math.sqrt(n_boards))
    down = math.ceil(n_boards / across)
    if n_boards > 1:
        logger.info("network needs %d cores: using %d boards (%dx%d chips)", n_cores, n_boards,
                    across * BOARD_SIDE, down * BOARD_SIDE)
    chips = tuple(
        db.Chip(bx * BOARD_SIDE + dx, by * BOARD_SIDE + dy, N_CORES,
                board_address if (b, dx, dy) == (0, 0, 0) else None, (0, 0))
        for b in range(n_boards) for bx, by in [(b % across, b // across)]
        for dx, dy in board_chip_offsets())
    return n_boards, db.Machine(across * BOARD_SIDE, down * BOARD_SIDE, chips)


def _core_sequence(machine: db.Machine) -> Iterator[db.Placement]:
    """Application cores in placement order: chip by chip (board by board), cores 1..17."""
    for chip in machine.chips:
        for p in range(1, chip.n_processors):
            yield db.Placement(chip.x, chip.y, p)
