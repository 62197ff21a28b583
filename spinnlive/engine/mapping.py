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
4. **Machine** (:func:`machine_boards`): one SpiNN-5 board (48 chips of 18 cores in the 8x8
   box, 8 of them with 17 as spinn_machine's virtual board has them) or, when the network
   needs more cores or ``n_boards_required`` asks for more, the machine sPyNNaker's virtual
   board and spalloc give for that many boards: a rectangle of triads (``12 w + 4`` by
   ``12 h + 4`` chips, 3 boards per triad, no wrap-around), each board's Ethernet chip at a
   triad root (0, 0), (4, 8), (8, 4) plus multiples of 12, in spinn_machine's order. Each board
   has its own address (one board endpoint each, as each real board has its own Ethernet);
   every chip names its own board's Ethernet chip as its nearest.
5. **Place**: the LPGs first, on every board's Ethernet chip from core 1, as sPyNNaker's LPG
   splitter makes one LPG core per Ethernet chip for each parameter set; then every application
   core in vertex order, board by board, filling each board's chips in (x, y) order.
6. **Route live output** as sPyNNaker's LPG splitter does: every core of a live-output
   population sends to the LPG on the board of the population's FIRST core, so a population
   whose cores span boards still leaves through one board (its spikes cross the board links).

Rules
-----
* ``get_ip_address(x, y)`` gives each core's own board address (the nearest Ethernet chip), so
  an injector is reached through the board it sits on (every board endpoint also takes it, as
  SDP reaches any chip of a real machine).
* Tags are per board: every LPG parameter set holds the same tag on every board (7, then 6 ...),
  so a board's 7 tags bound the number of parameter sets.
* System vertices (ExtraMonitor, PacketGatherer) are not modelled: the engine has none, so
  application cores start right after the LPGs (sPyNNaker's own cores numbers differ there).
* The database carries events only where sPyNNaker writes them (§4.2): injection-mode vertices
  (injectors, Poisson control) and the sources of an LPG.
* Anything that cannot be mapped raises :class:`~spinnlive.errors.ConfigurationError` naming
  the vertex; a :class:`Mapping` that exists can always be written.
"""

from __future__ import annotations

import datetime
import ipaddress
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
    "AppVertex", "Board", "CoreMapping", "LiveOutputParameters", "LiveOutputRequest",
    "LpgMapping", "Mapping", "VertexKind", "VertexMapping", "consecutive_addresses",
    "machine_boards", "map_network",
]

logger = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
"""``progress(done, total)``: called as vertices are mapped, for the CLI's progress bar."""

N_CORES = 18  # per chip, SpiNN-5
CHIPS_PER_BOARD = 48
BOARD_SIDE = 8
TRIAD_SIDE = 12  # a triad of boards repeats every 12 chips in x and y
_TRIAD_ROOTS = ((0, 0), (4, 8), (8, 4))  # Ethernet chips of a triad's three boards
_IP_TAGS = range(1, 8)  # pacman's tags per Ethernet chip
#: board offsets of the chips with 17 cores (16 application cores), as spinn_machine's SpiNN-5
#: board has them (the million-core machine's boards have their 17-core chips there)
_SEVENTEEN_CORE_CHIPS = frozenset({(1, 1), (1, 3), (3, 1), (3, 3), (3, 5), (5, 2), (5, 4),
                                   (5, 6)})


def board_chip_offsets() -> list[tuple[int, int]]:
    """The 48 (x, y) chip offsets of a SpiNN-5 board within its 8x8 box, in (x, y) order."""
    return [(x, y) for x in range(BOARD_SIDE) for y in range(BOARD_SIDE)
            if -4 < x - y < 5]  # row y holds x from max(0, y-4) to min(7, y+4)


#: application cores of one board: 17 on 40 chips, 16 on 8
CORES_PER_BOARD = sum(N_CORES - 1 - (xy in _SEVENTEEN_CORE_CHIPS) for xy in board_chip_offsets())


@dataclass(frozen=True, slots=True)
class Board:
    """One board of the virtual machine: its Ethernet chip and that chip's IP (its endpoint)."""

    index: int
    address: str
    ethernet: tuple[int, int]


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
    """One live packet gatherer core: the sources it forwards and the IP tag it sends through.

    A parameter set has one such core on every board (all labelled ``LiveSpikeReceiver``, the
    reader's LIKE); their application vertex is ``label``."""

    label: str  #: ``LiveSpikeReceiver``, then ``LiveSpikeReceiver1`` ... as sPyNNaker names them
    parameters: LiveOutputParameters
    received_key_mask: int
    translated_key_right_shift: int
    tag: int
    placement: db.Placement  #: on its board's Ethernet chip
    sources: tuple[str, ...]  #: population labels whose first core is on this board
    board: int = 0  #: index into :attr:`Mapping.boards`


@dataclass(frozen=True, slots=True)
class Mapping:
    """The whole mapping of one network on the virtual machine."""

    boards: tuple[Board, ...]
    configuration: db.Configuration
    machine: db.Machine
    vertices: tuple[VertexMapping, ...]
    lpgs: tuple[LpgMapping, ...]  #: every LPG core: parameter set by parameter set, board order

    @property
    def n_boards(self) -> int:
        return len(self.boards)

    @property
    def board_address(self) -> str:
        """The first board's address (the only one on a one-board machine)."""
        return self.boards[0].address

    chip_boards: dict[tuple[int, int], int] = field(repr=False, compare=False)

    def board_of(self, placement: db.Placement) -> Board:
        """The board whose chips hold ``placement``."""
        return self.boards[self.chip_boards[(placement.x, placement.y)]]

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
        lpg_cores: dict[str, list[db.MachineVertex]] = {}
        for lpg in self.lpgs:
            tag = db.IPTag(lpg.tag, self.boards[lpg.board].address, lpg.parameters.host,
                           lpg.parameters.port, lpg.parameters.strip_sdp)
            lpg_core = db.MachineVertex(db.DEFAULT_LPG_LABEL, lpg.placement, ip_tags=(tag,))
            lpg_cores.setdefault(lpg.label, []).append(lpg_core)
            edges.extend(db.LpgEdge(core, lpg_core, partition)
                         for source in lpg.sources for core in cores[source]
                         for partition in lpg.parameters.partition_ids)
        apps.extend(db.ApplicationVertex(label, tuple(mvs)) for label, mvs in lpg_cores.items())
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
    board_address: str | Sequence[str],
    live_outputs: Sequence[LiveOutputRequest] = (),
    configuration: db.Configuration | None = None,
    progress: Progress | None = None,
    max_boards: int | None = None,
    n_boards_required: int | None = None,
) -> Mapping:
    """Map ``vertices`` (in key-allocation order) onto a virtual machine.

    ``board_address`` is one address per board of the machine the network needs
    (:func:`machine_boards` says how many), or the first board's address, the others then
    following it (127.0.0.2, 127.0.0.3 ...; see :func:`consecutive_addresses`). To reproduce sPyNNaker's keys exactly,
    give the vertices in the order their first outgoing partition was made (projections in
    script order, live outputs at run time).
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
    tags = _allocate_tags([params for (params, _, _), _ in groups],
                          [sources for _, sources in groups])
    n_boards = machine_boards(vertices, live_outputs, n_boards_required=n_boards_required,
                              max_boards=max_boards)
    addresses = (consecutive_addresses(board_address, n_boards)
                 if isinstance(board_address, str) else list(board_address))
    if len(addresses) != n_boards:
        raise ConfigurationError(
            f"the network is mapped on {n_boards} boards but {len(addresses)} board addresses"
            f" were given ({addresses}); give one per board")
    boards, machine = _virtual_machine(addresses)
    chip_boards = {(c.x, c.y): b.index for b in boards for c in machine.chips
                   if c.nearest_ethernet == b.ethernet}
    lpg_placements = [[db.Placement(*b.ethernet, 1 + g) for b in boards]
                      for g in range(len(groups))]
    used = {p for per_group in lpg_placements for p in per_group}
    cores = (p for p in _core_sequence(machine) if p not in used)
    _report(progress, 2, total)

    mapped = []
    for done, (vertex, vertex_slices, core_keys_) in enumerate(
            zip(vertices, slices, allocated), start=3):
        mapped.append(_map_vertex(vertex, vertex_slices, core_keys_, cores))
        _report(progress, done, total)
    first_board = {v.label: chip_boards[(v.cores[0].placement.x, v.cores[0].placement.y)]
                   for v in mapped}
    lpgs = tuple(
        LpgMapping(db.DEFAULT_LPG_LABEL if g == 0 else f"{db.DEFAULT_LPG_LABEL}{g}",
                   params, mask, shift, tag, lpg_placements[g][b.index],
                   tuple(s for s in sources if first_board[s] == b.index), b.index)
        for g, (((params, mask, shift), sources), tag) in enumerate(zip(groups, tags))
        for b in boards)
    for lpg in lpgs:
        if lpg.label in by_label:
            raise ConfigurationError(
                f"population label {lpg.label!r} is the name of a live packet gatherer; rename it")
    if n_boards > 1:
        spans = {v.label: sorted({chip_boards[(c.placement.x, c.placement.y)] for c in v.cores})
                 for v in mapped}
        logger.info("%d boards (%dx%d chips) at %s; boards per population: %s", n_boards,
                    machine.width, machine.height, ", ".join(addresses), spans)
    timer("Placer", stage)
    mapping = Mapping(tuple(boards), configuration or db.Configuration(), machine,
                      tuple(mapped), lpgs, chip_boards)
    timer("Mapping", begin)
    return mapping


def consecutive_addresses(first: str, n_boards: int) -> list[str]:
    """``n_boards`` IPv4 addresses counting up from ``first`` (the boards of a mapping made
    without endpoints; the engine gives the addresses its endpoints bound)."""
    try:
        start = ipaddress.IPv4Address(first)
    except ValueError:
        raise ConfigurationError(f"board address {first!r} is not an IPv4 address") from None
    return [str(start + i) for i in range(n_boards)]


def machine_boards(vertices: Sequence[AppVertex],
                   live_outputs: Sequence[LiveOutputRequest] = (), *,
                   n_boards_required: int | None = None, max_boards: int | None = None) -> int:
    """How many boards the machine for this network has, before any address is known.

    Enough boards for every core and every board's LPG cores (``n_boards_required`` at least),
    rounded up to the machine sPyNNaker's virtual board and spalloc build for that many: one
    board, else whole triads in a rectangle (2 -> 3, 4 -> 6, 7 -> 12 boards).
    """
    if n_boards_required is not None and n_boards_required < 1:
        raise ConfigurationError(f"n_boards_required must be at least 1, got {n_boards_required}")
    by_label = {v.label: v for v in vertices}
    n_groups = len(_group_sources(live_outputs, by_label))
    n_cores = sum(len(v.slices()) for v in vertices)
    per_board = CORES_PER_BOARD - n_groups
    n_boards = _machine_size(n_boards_required or 1)[2]
    while n_cores > n_boards * per_board:
        n_boards = _machine_size(n_boards + 1)[2]
    if max_boards is not None and n_boards > max_boards:
        raise ConfigurationError(
            f"the network needs {n_cores} cores = {n_boards} boards of {per_board} application"
            f" cores, more than the {max_boards} allowed")
    return n_boards


def _machine_size(n_boards: int) -> tuple[int, int, int]:
    """(width, height, boards) of the machine sPyNNaker builds for at least ``n_boards``."""
    if n_boards <= 1:
        return BOARD_SIDE, BOARD_SIDE, 1
    triads = math.ceil(n_boards / 3)
    across = math.ceil(math.sqrt(triads))
    down = math.ceil(triads / across)
    return across * TRIAD_SIDE + 4, down * TRIAD_SIDE + 4, 3 * across * down


def _ethernet_chips(width: int, height: int) -> list[tuple[int, int]]:
    """The Ethernet chips of a machine of triads, in spinn_machine's order (root by root,
    then row by row)."""
    if (width, height) == (BOARD_SIDE, BOARD_SIDE):
        return [(0, 0)]
    last_x, last_y = width - BOARD_SIDE, height - BOARD_SIDE
    return [(x, y) for rx, ry in _TRIAD_ROOTS
            for y in range(ry, last_y + 1, TRIAD_SIDE) for x in range(rx, last_x + 1, TRIAD_SIDE)]


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


def _allocate_tags(parameters: Sequence[LiveOutputParameters],
                   sources: Sequence[Sequence[str]]) -> list[int]:
    """Requested tags first, then the highest free ones, like pacman's basic tag allocator.

    Every parameter set holds its tag on every board (an LPG core on each), so the board's
    7 tags bound the number of sets whatever the number of boards."""
    wanted = [p.tag for p in parameters if p.tag is not None]
    for tag in wanted:
        if tag not in _IP_TAGS:
            raise ConfigurationError(f"IP tag {tag} is not one of the board's tags 1..7")
    if len(set(wanted)) != len(wanted):
        raise ConfigurationError(
            f"two live outputs with different parameters ask for the same IP tag: {wanted}")
    free = [t for t in _IP_TAGS if t not in wanted]
    tags = []
    for p, labels in zip(parameters, sources):
        if p.tag is not None:
            tags.append(p.tag)
        elif free:
            tags.append(free.pop())
        else:
            raise ConfigurationError(
                f"out of IP tags: the live output of {', '.join(map(repr, labels))} is the"
                f" {len(tags) + 1}th distinct live-output parameter set, and a board has"
                f" {len(_IP_TAGS)} tags (each set takes one on every board, more boards do not"
                " help): give it the same host, port and parameters as another population")
    return tags


def _virtual_machine(addresses: Sequence[str]) -> tuple[list[Board], db.Machine]:
    """The machine for ``len(addresses)`` boards (a count :func:`machine_boards` gave)."""
    width, height, n_boards = _machine_size(len(addresses))
    if n_boards != len(addresses):
        raise ConfigurationError(
            f"a machine has 1 board or a multiple of 3; {len(addresses)} addresses given")
    boards = [Board(i, address, eth)
              for i, (address, eth) in enumerate(zip(addresses, _ethernet_chips(width, height)))]
    chips = tuple(
        db.Chip(bx + dx, by + dy, N_CORES - ((dx, dy) in _SEVENTEEN_CORE_CHIPS),
                board.address if (dx, dy) == (0, 0) else None, board.ethernet)
        for board in boards for bx, by in [board.ethernet] for dx, dy in board_chip_offsets())
    return boards, db.Machine(width, height, chips)


def _core_sequence(machine: db.Machine) -> Iterator[db.Placement]:
    """Cores in placement order: board by board, chip by chip in (x, y) order, cores 1..17."""
    for chip in machine.chips:
        for p in range(1, chip.n_processors):
            yield db.Placement(chip.x, chip.y, p)
