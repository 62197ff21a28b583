"""One run epoch's view of the input/output database: who streams which way, and where to.

Theory of operation
-------------------
Every DATABASE notification opens a new epoch (numbered from 1); :meth:`Session.load` reads the
file once, with :class:`~spinnlive.database.IODatabase`, into plain numpy tables, so nothing on
the hot paths ever touches SQLite. Directions are inferred the way a client of the reference
would choose its labels:

* ``out``: a label with a live-output row to an LPG labelled ``lpg_label*``
  (``get_live_output_details``); its keys go into one :class:`KeyTable` for the receive path and
  the (board, tag, LPG chip) of every LPG core its cores feed into the list of IP tags to point
  at the bridge (on a multi-board machine each board has its own LPG cores and tags);
* ``rates``: ``L`` when ``L_control`` is a label with keys (``add_poisson_live_rate_control``);
  the control vertex's keys and first core are the target, as ``SpynnakerPoissonControlConnection``;
* ``in``: any other label with keys (SpikeInjector), or exactly ``inject_labels`` when given.
  Ids up to 0xFFFF go out as raw 16-bit atom ids (the core ORs its base key in); a bigger
  population sends its 32-bit DB keys, as ``send_events(..., send_full_keys=True)`` does.

Rules: a label whose injection target has no Ethernet IP is left out with a warning, never
guessed; the session is immutable once built, so the receive and send paths share it freely.
The file may come from anyone (its path arrives in a UDP datagram): every value the bridge acts on
is checked here (cores, chips, tags, board addresses, types) and anything else that goes wrong
while reading it, up to a time bound, is one :class:`~spinnlive.errors.DatabaseError` naming the
file, so nothing wrongly typed or out of range reaches the send path.
"""

from __future__ import annotations

import ipaddress
import logging
import sqlite3
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from spinnlive.clock import Clock
from spinnlive.database import IODatabase
from spinnlive.errors import DatabaseError
from spinnlive.protocol.keys import KeyTable
from spinnlive.transport.iptags import OutputTag

__all__ = ["CONTROL_SUFFIX", "Direction", "OutputTag", "Population", "Session", "Target"]

logger = logging.getLogger(__name__)

#: sPyNNaker's ``control_label_extension`` default.
CONTROL_SUFFIX = "_control"
#: Atom ids above this cannot travel as 16-bit keys.
MAX_SHORT_ID = 0xFFFF
#: A SpiNNaker chip's cores are 0..17; chip coordinates are 8-bit in SDP; SCAMP has 8 IP tags.
_N_CORES, _N_CHIP_COORD, _N_TAGS = 18, 256, 8
#: How long reading one database may take (a real one takes milliseconds).
LOAD_DEADLINE_S = 10.0


class Direction(Enum):
    OUT = "out"
    IN = "in"
    RATES = "rates"

    @property
    def topic_prefix(self) -> str:
        return {"out": "spikes/", "in": "inject/", "rates": "rates/"}[self.value]


@dataclass(frozen=True, slots=True)
class Population:
    label: str
    size: int
    direction: Direction

    @property
    def topic(self) -> str:
        return self.direction.topic_prefix + self.label


@dataclass(frozen=True, slots=True, eq=False)
class Target:
    """Where ``inject/`` or ``rates/`` events for one label go (the first core, as the reference)."""

    label: str
    size: int
    board: str
    x: int
    y: int
    p: int
    #: Atom id -> DB key (of the control vertex for rates), -1 where none.
    keys: npt.NDArray[np.int64]
    #: True: send 32-bit DB keys; False: raw 16-bit atom ids.
    full_keys: bool


@dataclass(frozen=True, slots=True, eq=False)
class Session:
    """Immutable per-epoch state: populations, key table, IP tags, injection targets."""

    epoch: int
    database: str | None
    timestep_ms: float
    time_scale_factor: float
    runtime_ms: float | None
    populations: tuple[Population, ...]
    output_table: KeyTable
    tags: tuple[OutputTag, ...]
    targets: dict[tuple[Direction, str], Target]
    #: every board's Ethernet IP, as the machine lists them (one on a one-board machine)
    boards: tuple[str, ...] = ()
    #: output label -> the boards whose LPGs carry it
    output_boards: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def empty(cls, epoch: int) -> Session:
        """The toolchain made no database (bare DATABASE): nothing to stream this epoch."""
        return cls(epoch, None, 1.0, 1.0, None, (), KeyTable.from_arrays([]), (), {})

    def board_populations(self) -> dict[str, list[str]]:
        """Board IP -> the topics it carries (live output through its tags, input to its cores),
        every board of the machine listed."""
        topics: dict[str, list[str]] = {board: [] for board in self.boards}
        for label, boards in self.output_boards.items():
            for board in boards:
                topics.setdefault(board, []).append(f"spikes/{label}")
        for (direction, label), target in self.targets.items():
            topics.setdefault(target.board, []).append(direction.topic_prefix + label)
        return topics

    @classmethod
    def load(cls, path: str | Path, epoch: int, *, lpg_label: str = "LiveSpikeReceiver",
             inject_labels: tuple[str, ...] | None = None,
             deadline_s: float = LOAD_DEADLINE_S, clock: Clock | None = None) -> Session:
        """Read everything one epoch needs from the database at ``path`` (``deadline_s`` on
        ``clock``, the bridge's, so a test drives the reader's deadline in virtual time).

        :raises DatabaseError: for any file that is not a usable database, whatever is wrong.
        """
        try:
            return cls._load(path, epoch, lpg_label, inject_labels, deadline_s, clock)
        except DatabaseError:
            raise
        except (ValueError, TypeError, OverflowError, KeyError, IndexError, AttributeError,
                sqlite3.Error, OSError) as exc:  # a wrongly typed or broken value
            raise DatabaseError(f"{path}: not a usable database ({type(exc).__name__}: "
                                f"{exc})") from exc

    @classmethod
    def _load(cls, path: str | Path, epoch: int, lpg_label: str,
              inject_labels: tuple[str, ...] | None, deadline_s: float,
              clock: Clock | None) -> Session:
        with IODatabase(path, deadline_s=deadline_s, clock=clock) as db:
            sizes = db.labels()
            keyed = set(db.key_table().labels)
            config = db.configuration()
            out: list[str] = []
            tags: dict[tuple[str, int], OutputTag] = {}
            output_boards: dict[str, tuple[str, ...]] = {}
            for label in sizes:
                if label not in keyed:
                    continue
                every = db.live_output_tags(label, lpg_label)
                if not every:
                    continue
                if not all(details.strip_sdp for details in every):
                    logger.warning("live output of %r uses a tag that keeps SDP headers; the "
                                   "reference refuses it and so does the bridge", label)
                    continue
                for details in every:
                    where = f"live output of {label!r}"
                    _check_board(path, details.board_address, where)
                    _check_chip(path, details.chip_x, details.chip_y, where)
                    if not 0 <= details.tag < _N_TAGS:
                        raise DatabaseError(f"{path}: {where} uses IP tag {details.tag} (SCAMP "
                                            f"has 0..{_N_TAGS - 1})")
                out.append(label)
                output_boards[label] = tuple(dict.fromkeys(d.board_address for d in every))
                for details in every:
                    tags.setdefault((details.board_address, details.tag), OutputTag(
                        details.board_address, details.tag, details.chip_x, details.chip_y))
            boards = tuple(db.board_addresses())
            for board in boards:
                _check_board(path, board, "the machine")
            controls = {label[:-len(CONTROL_SUFFIX)]: label for label in keyed
                        if label.endswith(CONTROL_SUFFIX) and label[:-len(CONTROL_SUFFIX)] in sizes}
            if inject_labels is None:
                inject = [label for label in sizes if label in keyed and label not in out
                          and label not in controls.values()]
            else:
                missing = [label for label in inject_labels if label not in keyed]
                if missing:
                    raise DatabaseError(f"{path}: inject_labels {missing} have no keys")
                inject = list(inject_labels)
            populations = [Population(label, sizes[label], Direction.OUT) for label in out]
            targets: dict[tuple[Direction, str], Target] = {}
            for direction, label, source in (
                    [(Direction.IN, label, label) for label in inject]
                    + [(Direction.RATES, base, ctl) for base, ctl in controls.items()]):
                target = _target(db, label, source, sizes[source], direction)
                if target is not None:
                    targets[(direction, label)] = target
                    populations.append(Population(label, target.size, direction))
            table = db.key_table(out)
        runtime = config.runtime_ms
        return cls(epoch, str(path), config.machine_time_step_us / 1000.0,
                   config.time_scale_factor, runtime, tuple(populations), table,
                   tuple(tags.values()), targets, boards, output_boards)

    def population(self, direction: Direction, label: str) -> Population | None:
        for pop in self.populations:
            if pop.direction is direction and pop.label == label:
                return pop
        return None

    def describe(self) -> dict[str, Any]:
        """The per-epoch part of the discovery reply (docs/wire-format.md §5)."""
        return {
            "epoch": self.epoch,
            "database": self.database,
            "timestep_ms": self.timestep_ms,
            "time_scale_factor": self.time_scale_factor,
            "runtime_ms": self.runtime_ms,
            "populations": [{"label": p.label, "size": p.size, "direction": p.direction.value,
                             "topic": p.topic} for p in self.populations],
        }


def _target(db: IODatabase, label: str, source: str, size: int,
            direction: Direction) -> Target | None:
    placements = db.placements(source)
    if not len(placements):
        logger.warning("%s %r has no placement; it cannot take input", direction.value, source)
        return None
    x, y, p = (int(v) for v in placements[0])
    board = db.ip_address(x, y)
    if board is None:
        logger.warning("no Ethernet IP reaches chip (%d, %d) of %r; it cannot take input",
                       x, y, source)
        return None
    where = f"{direction.value} {source!r}"
    _check_chip(db.path, x, y, where)
    if not 0 <= p < _N_CORES:
        raise DatabaseError(f"{db.path}: {where} is placed on core {p} (a chip has 0..17)")
    _check_board(db.path, board, where)
    keys = db.atom_to_key(source)
    full = direction is Direction.RATES or size - 1 > MAX_SHORT_ID
    return Target(label, size, board, x, y, p, keys, full)


def _check_chip(path: object, x: int, y: int, where: str) -> None:
    if not (0 <= x < _N_CHIP_COORD and 0 <= y < _N_CHIP_COORD):
        raise DatabaseError(f"{path}: {where} is on chip ({x}, {y}), outside 0..255")


def _check_board(path: object, board: str, where: str) -> None:
    """A board is one unicast IPv4 address: never "any" (0.0.0.0), broadcast or multicast,
    which would make the bridge bind or send on every interface."""
    try:
        address = ipaddress.IPv4Address(board)
    except ValueError:
        raise DatabaseError(f"{path}: {where} names board {board!r}, not an IPv4 address") \
            from None
    if address.is_unspecified or address.is_multicast or address == ipaddress.IPv4Address(
            "255.255.255.255"):
        raise DatabaseError(f"{path}: {where} names board {board}, not one host")
