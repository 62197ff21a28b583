"""Frozen records describing one mapping: everything the input/output database holds.

Theory of operation
-------------------
The writer turns a :class:`Mapping` into SpiNNFrontEndCommon's SQLite schema and the reader can
turn such a file back into one, so these records are the whole content of the database and
nothing else (protocol sheet §4.2):

- :class:`Machine` -> ``Machine_layout`` + ``Machine_chip``;
- :class:`ApplicationVertex` -> ``Application_vertices``; its :class:`MachineVertex` entries ->
  ``Machine_vertices``, ``graph_mapper_vertex``, ``Placements``, ``IP_tags`` (an LPG is an
  application vertex whose machine vertex carries an :class:`IPTag`) and
  ``event_to_atom_mapping`` (the vertex's ``keys``);
- ``system_vertices`` are placed machine vertices with no application vertex
  (``SYSTEM:ExtraMonitor`` ...);
- :class:`LpgEdge` -> ``m_vertex_to_lpg_vertex``; :class:`Configuration` ->
  ``configuration_parameters``; ``proxy`` rows -> ``proxy_configuration``.

Machine-vertex labels need not be unique (the reference has dozens of ``SYSTEM:ExtraMonitor``);
a core is identified by its placement, which must be unique. :class:`Mapping` checks
every cross reference when it is built and raises :class:`~spinnlive.errors.ConfigurationError`
naming the offending vertex, so a mapping that exists can always be written.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from spinnlive.errors import ConfigurationError
from spinnlive.protocol.keys import KeyTable

__all__ = [
    "DEFAULT_APP_ID", "DEFAULT_LPG_LABEL", "SPIKE_PARTITION", "ApplicationVertex", "Chip",
    "Configuration", "IPTag", "LiveOutputDetails", "LpgEdge", "Machine", "MachineVertex",
    "Mapping", "Placement", "slice_label",
]

DEFAULT_APP_ID = 17
DEFAULT_LPG_LABEL = "LiveSpikeReceiver"
SPIKE_PARTITION = "SPIKE"


def slice_label(app_label: str, lo_atom: int, hi_atom: int) -> str:
    """The machine-vertex label sPyNNaker gives a core of a population: ``pop(0:255)``."""
    return f"{app_label}({lo_atom}:{hi_atom})"


@dataclass(frozen=True, slots=True)
class Chip:
    x: int
    y: int
    n_processors: int
    ip_address: str | None = None  # dotted string on Ethernet chips, None elsewhere
    nearest_ethernet: tuple[int, int] = (0, 0)


@dataclass(frozen=True, slots=True)
class Machine:
    width: int
    height: int
    chips: tuple[Chip, ...]

    @classmethod
    def uniform(cls, width: int, height: int, n_processors: int = 18,
                ethernet_ip: str = "127.0.0.0") -> Machine:
        """A rectangular machine whose only Ethernet chip is (0, 0), as a one-board host sees."""
        chips = tuple(Chip(x, y, n_processors, ethernet_ip if (x, y) == (0, 0) else None)
                      for x in range(width) for y in range(height))
        return cls(width, height, chips)


@dataclass(frozen=True, slots=True)
class Placement:
    x: int
    y: int
    p: int


@dataclass(frozen=True, slots=True)
class IPTag:
    """An IP tag: the board at ``board_address`` sends this vertex's output to ip:port."""

    tag: int
    board_address: str
    ip_address: str  # as configured ('0.0.0.0', 'localhost'), not resolved
    port: int
    strip_sdp: bool = True


@dataclass(frozen=True, eq=False)
class MachineVertex:
    """One core. ``keys[i]`` is the routing key of atom ``lo_atom + i``.

    ``lo_atom``/``hi_atom`` are ``None`` for vertices without atoms (an LPG, a system vertex).
    ``keys`` is ``None`` when the database carries no events for this core (a population that
    is neither injected nor live-output); otherwise it is a read-only ``uint32`` array.
    """

    label: str
    placement: Placement
    lo_atom: int | None = None
    hi_atom: int | None = None
    keys: npt.NDArray[np.uint32] | None = None
    ip_tags: tuple[IPTag, ...] = ()

    def __post_init__(self) -> None:
        lo, hi = self.lo_atom, self.hi_atom
        if (lo is None) != (hi is None):
            raise ConfigurationError(f"machine vertex {self.label!r}: give both lo/hi atom or neither")
        if lo is not None and hi is not None and not 0 <= lo <= hi:
            raise ConfigurationError(
                f"machine vertex {self.label!r}: bad atom range {self.lo_atom}..{self.hi_atom}")
        if self.keys is not None:
            keys = np.asarray(self.keys)
            if keys.size and (keys.min() < 0 or keys.max() > 0xFFFF_FFFF):
                raise ConfigurationError(f"machine vertex {self.label!r}: a key exceeds 32 bits")
            keys = keys.astype(np.uint32).ravel()
            keys.flags.writeable = False
            if keys.size != self.n_atoms:
                raise ConfigurationError(
                    f"machine vertex {self.label!r} has {self.n_atoms} atoms but {keys.size} keys")
            object.__setattr__(self, "keys", keys)

    @classmethod
    def for_slice(cls, app_label: str, lo_atom: int, hi_atom: int, placement: Placement,
                  keys: npt.ArrayLike | None = None) -> MachineVertex:
        """A population core labelled the way sPyNNaker labels it (see :func:`slice_label`)."""
        return cls(slice_label(app_label, lo_atom, hi_atom), placement, lo_atom, hi_atom,
                   None if keys is None else np.asarray(keys))

    @property
    def n_atoms(self) -> int:
        lo, hi = self.lo_atom, self.hi_atom
        return 0 if lo is None or hi is None else hi - lo + 1

    @property
    def atoms(self) -> npt.NDArray[np.int64]:
        """The atom ids of this core (empty for vertices without atoms)."""
        return np.arange(self.lo_atom or 0, (self.lo_atom or 0) + self.n_atoms, dtype=np.int64)

    def _identity(self) -> tuple[object, ...]:
        return (self.label, self.placement, self.lo_atom, self.hi_atom, self.ip_tags)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MachineVertex):
            return NotImplemented
        if self._identity() != other._identity():
            return False
        if self.keys is None or other.keys is None:
            return self.keys is other.keys
        return bool(np.array_equal(self.keys, other.keys))

    __hash__ = None  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class ApplicationVertex:
    """A population (or an LPG, injector, control source): a label and its cores."""

    label: str
    machine_vertices: tuple[MachineVertex, ...]

    @property
    def n_atoms(self) -> int:
        """One past the highest atom of any core; 0 for vertices without atoms (an LPG)."""
        return max((mv.hi_atom + 1 for mv in self.machine_vertices if mv.hi_atom is not None),
                   default=0)

    def atoms_and_keys(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.uint32]]:
        """Every (atom, key) event of this vertex, concatenated over its cores."""
        parts = [(mv.atoms, mv.keys) for mv in self.machine_vertices if mv.keys is not None]
        if not parts:
            return np.zeros(0, np.int64), np.zeros(0, np.uint32)
        return (np.concatenate([a for a, _ in parts]),
                np.concatenate([k for _, k in parts]).astype(np.uint32))


@dataclass(frozen=True, slots=True)
class LpgEdge:
    """A source core whose ``partition`` goes to an LPG core (both vertices of the mapping)."""

    pre: MachineVertex
    post: MachineVertex
    partition: str = SPIKE_PARTITION


@dataclass(frozen=True, slots=True)
class Configuration:
    """The ``configuration_parameters`` rows. ``runtime_ms`` None means run forever."""

    machine_time_step_us: float = 1000.0
    time_scale_factor: float = 1.0
    runtime_ms: float | None = None
    app_id: int = DEFAULT_APP_ID

    @property
    def infinite_run(self) -> bool:
        return self.runtime_ms is None


@dataclass(frozen=True, slots=True)
class LiveOutputDetails:
    """Where the board sends a population's live output (``get_live_output_details``)."""

    ip_address: str
    port: int
    strip_sdp: bool
    board_address: str
    tag: int
    chip_x: int  # the LPG's chip
    chip_y: int


@dataclass(frozen=True, slots=True)
class Mapping:
    """A whole database's worth of mapping, checked for consistency on construction."""

    machine: Machine
    vertices: tuple[ApplicationVertex, ...]
    configuration: Configuration = field(default_factory=Configuration)
    lpg_edges: tuple[LpgEdge, ...] = ()
    system_vertices: tuple[MachineVertex, ...] = ()
    proxy: tuple[tuple[str, str, str], ...] = ()  # (kind, name, value), spalloc only

    def __post_init__(self) -> None:
        chips = {(c.x, c.y): c for c in self.machine.chips}
        if len(chips) != len(self.machine.chips):
            raise ConfigurationError("the machine lists a chip twice")
        app_labels = [v.label for v in self.vertices]
        if len(set(app_labels)) != len(app_labels):
            raise ConfigurationError(f"application vertex labels repeat: {app_labels}")
        cores: dict[Placement, MachineVertex] = {}
        for mv in self.all_machine_vertices():
            pl = mv.placement
            chip = chips.get((pl.x, pl.y))
            if chip is None or not 0 <= pl.p < chip.n_processors:
                raise ConfigurationError(
                    f"machine vertex {mv.label!r} is placed on ({pl.x},{pl.y},{pl.p}),"
                    " which the machine does not have")
            if pl in cores:
                raise ConfigurationError(
                    f"machine vertices {cores[pl].label!r} and {mv.label!r} share"
                    f" core ({pl.x},{pl.y},{pl.p})")
            cores[pl] = mv
        for mv in self.system_vertices:
            if mv.keys is not None:
                raise ConfigurationError(
                    f"system vertex {mv.label!r} has keys; events need an application vertex")
        for edge in self.lpg_edges:
            for end in (edge.pre, edge.post):
                if cores.get(end.placement) != end:
                    raise ConfigurationError(
                        f"an LPG edge names machine vertex {end.label!r}, which is not in the mapping")
        # Keys are a primary key of the database; KeyTable names any clash.
        self.key_table()

    def all_machine_vertices(self) -> Iterable[MachineVertex]:
        """Machine vertices in database id order: application cores first, then system ones."""
        for vertex in self.vertices:
            yield from vertex.machine_vertices
        yield from self.system_vertices

    def vertex(self, label: str) -> ApplicationVertex:
        found = next((v for v in self.vertices if v.label == label), None)
        if found is None:
            raise ConfigurationError(f"no application vertex labelled {label!r}")
        return found

    def key_table(self) -> KeyTable:
        """Key <-> atom for every application vertex (labels in vertex order)."""
        return KeyTable.from_arrays((v.label, *v.atoms_and_keys()) for v in self.vertices)
