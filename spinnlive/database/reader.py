"""Read SpiNNFrontEndCommon's input/output database into numpy tables and frozen records.

Theory of operation
-------------------
:class:`IODatabase` opens the file read-only (SQLite URI ``mode=ro``, so a reader can never
create or change it) and checks at once that every table and view of ``schema.sql`` is there,
so a wrong file fails on open with a message naming the file and what it lacks, not later with
an SQL error.

The queries are the reference ``DatabaseReader``'s (protocol sheet §4.3), word for word where
row order or tie-breaking matters (placements, Ethernet IP, live-output details), so both
readers give the same answer on the same file; the tests check that on a database written by
sPyNNaker itself. The answers differ only in shape: keys and atoms come back as numpy arrays and
:class:`~spinnlive.protocol.keys.KeyTable` objects, never as rows per event, and a missing
answer is a :class:`~spinnlive.errors.DatabaseError` instead of a ``TypeError`` on ``None``.

:meth:`IODatabase.read_mapping` rebuilds the whole :class:`~spinnlive.database.records.Mapping`,
so ``write_database(read_mapping(f))`` reproduces the rows of ``f``.
"""

from __future__ import annotations

import os
import re
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from spinnlive.clock import Clock, MonotonicClock, deadline_after
from spinnlive.closing import Closing
from spinnlive.database.records import (
    DEFAULT_LPG_LABEL,
    ApplicationVertex,
    Chip,
    Configuration,
    IPTag,
    LiveOutputDetails,
    LpgEdge,
    Machine,
    MachineVertex,
    Mapping,
    Placement,
)
from spinnlive.database.writer import schema_sql
from spinnlive.errors import DatabaseError, UnknownLabelError
from spinnlive.protocol.keys import KeyTable

__all__ = ["IODatabase", "required_schema"]

_SLICE = re.compile(r"\((\d+):(\d+)\)$")


def required_schema() -> dict[str, str]:
    """Name -> kind ('table' or 'view') of everything ``schema.sql`` creates."""
    found = re.findall(r"CREATE (TABLE|VIEW) IF NOT EXISTS (\w+)", schema_sql())
    return {name: kind.lower() for kind, name in found}


class IODatabase(Closing):
    """A read-only view of one input/output database file."""

    def __init__(self, path: str | os.PathLike[str], *, deadline_s: float | None = None,
                 clock: Clock | None = None):
        """``deadline_s``: every query after that many seconds (on ``clock``, monotonic time
        by default) fails with DatabaseError (a file from anyone, e.g. a view with a recursive
        CTE, must not hold its reader forever); a virtual clock tests that without waiting."""
        self.path = Path(path)
        if not self.path.is_file():
            raise DatabaseError(f"I/O database {self.path} does not exist (or is not a file)")
        uri = f"{self.path.resolve().as_uri()}?mode=ro"
        try:
            self._db = sqlite3.connect(uri, uri=True)
        except sqlite3.Error as error:
            raise DatabaseError(f"{self.path} could not be opened read-only ({error})") from error
        if deadline_s is not None:
            ticking = clock or MonotonicClock()
            expires = deadline_after(ticking, deadline_s)
            # SQLite calls this every 10k VM instructions; non-zero aborts the statement
            self._db.set_progress_handler(lambda: int(ticking.now() > expires), 10_000)
        try:
            present = dict(self._db.execute(
                "SELECT name, type FROM sqlite_master WHERE type IN ('table', 'view')"))
        except sqlite3.DatabaseError as error:
            self._db.close()
            raise DatabaseError(f"{self.path} is not an SQLite database ({error})") from error
        missing = [f"{kind} {name}" for name, kind in required_schema().items()
                   if present.get(name) != kind]
        if missing:
            self._db.close()
            raise DatabaseError(
                f"{self.path} is not a SpiNNaker input/output database: missing "
                + ", ".join(missing))

    # -- lifetime ---------------------------------------------------------------------------

    def close(self) -> None:
        self._db.close()

    def _query(self, sql: str, *args: object) -> list[Any]:
        try:
            return self._db.execute(sql, args).fetchall()
        except sqlite3.Error as error:
            raise DatabaseError(f"{self.path}: query failed ({error})") from error

    # -- labels and keys --------------------------------------------------------------------

    def labels(self) -> dict[str, int]:
        """Application-vertex label -> number of atoms, in database order.

        The database stores no atom counts, so a label's count is one past the highest atom
        named by a core label ``label(lo:hi)`` or by an event row; 0 for an LPG.
        """
        counts: dict[str, int] = {}
        for label, m_label in self._query(
                "SELECT a.vertex_label, m.label FROM Application_vertices AS a"
                " LEFT JOIN graph_mapper_vertex AS g ON g.application_vertex_id = a.vertex_id"
                " LEFT JOIN Machine_vertices AS m ON m.vertex_id = g.machine_vertex_id"
                " ORDER BY a.vertex_id, m.vertex_id"):
            span = _slice_of(str(label), m_label)
            counts[str(label)] = max(counts.get(str(label), 0), 0 if span is None else span[1] + 1)
        for label, top in self._query(
                "SELECT label, MAX(atom) FROM label_event_atom_view GROUP BY label"):
            counts[str(label)] = max(counts.get(str(label), 0), int(top) + 1)
        return counts

    def _require_label(self, label: str) -> None:
        if not self._query("SELECT 1 FROM Application_vertices WHERE vertex_label = ?", label):
            known = [r[0] for r in self._query("SELECT vertex_label FROM Application_vertices")]
            raise UnknownLabelError(
                f"{self.path} has no population labelled {label!r} (it has {known})")

    def atom_keys(self, label: str) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.uint32]]:
        """Every (atom, key) event row of ``label``: two aligned arrays sorted by key.

        Empty arrays for a label that exists but has no events (neither injected nor output).
        """
        self._require_label(label)
        rows = self._query(
            "SELECT atom, event FROM label_event_atom_view WHERE label = ? ORDER BY event", label)
        table = np.array(rows, dtype=np.int64).reshape(-1, 2)
        return table[:, 0].copy(), table[:, 1].astype(np.uint32)

    def key_table(self, labels: list[str] | tuple[str, ...] | None = None) -> KeyTable:
        """A :class:`KeyTable` for ``labels`` (default: every label that has events)."""
        if labels is None:
            labels = [str(r[0]) for r in self._query(
                "SELECT vertex_label FROM Application_vertices WHERE vertex_label IN"
                " (SELECT DISTINCT label FROM label_event_atom_view) ORDER BY vertex_id")]
        return KeyTable.from_arrays((label, *self.atom_keys(label)) for label in labels)

    def atom_to_key(self, label: str) -> npt.NDArray[np.int64]:
        """Key of each atom of ``label``, indexed by atom id (-1 where an atom has none)."""
        return self.key_table([label]).dense_keys(0)

    def key_to_atom(self, label: str) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.int64]]:
        """Sorted keys of ``label`` and the atom of each, ready for :func:`numpy.searchsorted`."""
        atoms, keys = self.atom_keys(label)
        return keys, atoms

    # -- where things are -------------------------------------------------------------------

    def live_output(self, label: str, lpg_label: str = DEFAULT_LPG_LABEL) -> LiveOutputDetails:
        """The IP tag and LPG chip that carry ``label``'s live output (first match, as FEC).

        :raises DatabaseError: ``label`` exists but does not feed an LPG named ``lpg_label*``.
        """
        self._require_label(label)
        rows = self._query(
            "SELECT ip_address, port, strip_sdp, board_address, tag, chip_x, chip_y"
            " FROM app_output_tag_view WHERE pre_vertex_label = ? AND post_vertex_label LIKE ?"
            " LIMIT 1", label, f"{lpg_label}%")
        if not rows:
            raise DatabaseError(
                f"{self.path}: population {label!r} has no live output to an LPG labelled"
                f" {lpg_label!r}* (was activate_live_output_for called for it?)")
        ip, port, strip, board, tag, x, y = rows[0]
        return LiveOutputDetails(str(ip), int(port), bool(strip), str(board), int(tag),
                                 int(x), int(y))

    def live_output_tags(self, label: str,
                         lpg_label: str = DEFAULT_LPG_LABEL) -> list[LiveOutputDetails]:
        """Every distinct IP tag and LPG chip carrying some core of ``label``'s live output.

        sPyNNaker sends all of a population's cores to one LPG (on its first core's board), so
        this is :meth:`live_output`'s one row there; a database that splits a population over
        several boards' LPGs gives each of them. Empty when ``label`` has no live output."""
        self._require_label(label)
        rows = self._query(
            "SELECT DISTINCT ip_address, port, strip_sdp, board_address, tag, chip_x, chip_y"
            " FROM app_output_tag_view WHERE pre_vertex_label = ? AND post_vertex_label LIKE ?",
            label, f"{lpg_label}%")
        return [LiveOutputDetails(str(ip), int(port), bool(strip), str(board), int(tag), int(x),
                                  int(y)) for ip, port, strip, board, tag, x, y in rows]

    def board_addresses(self) -> list[str]:
        """The IP of every Ethernet chip of the machine, in chip row order (every board)."""
        return [str(ip) for (ip,) in self._query(
            "SELECT ip_address FROM Machine_chip WHERE ip_address IS NOT NULL")]

    def placements(self, label: str) -> npt.NDArray[np.int64]:
        """(x, y, p) of each core of ``label``, shape (n, 3), in the reference reader's order.

        The order is SQLite's for the reference query (no ORDER BY); live injection targets
        row 0 only, so keeping the reference's query keeps the same target core.
        """
        self._require_label(label)
        rows = self._query(
            "SELECT x, y, p FROM application_vertex_placements WHERE vertex_label = ?", label)
        return np.array(rows, dtype=np.int64).reshape(-1, 3)

    def ip_address(self, x: int, y: int) -> str | None:
        """The Ethernet IP to reach chip (x, y), exactly as ``DatabaseReader.get_ip_address``.

        Quirk kept for compatibility (sheet §7.10): the query matches the chip *or* chip (0, 0)
        and prefers the larger x, so a chip (0, y > 0) on another board answers board (0, 0)'s
        IP, and an unknown chip answers (0, 0)'s. None only when neither chip exists.
        """
        rows = self._query(
            "SELECT eth_ip_address FROM chip_eth_info WHERE x = ? AND y = ? OR x = 0 AND y = 0"
            " ORDER BY x DESC LIMIT 1", x, y)
        return None if not rows or rows[0][0] is None else str(rows[0][0])

    def configuration(self) -> Configuration:
        """The run parameters; ``runtime_ms`` is None when ``infinite_run`` is 'True'."""
        values = dict(self._query("SELECT parameter_id, value FROM configuration_parameters"))
        missing = {"machine_time_step", "time_scale_factor", "infinite_run", "runtime",
                   "app_id"} - values.keys()
        if missing:
            raise DatabaseError(f"{self.path}: configuration_parameters lacks {sorted(missing)}")
        infinite = str(values["infinite_run"]) == "True"
        return Configuration(
            machine_time_step_us=float(values["machine_time_step"]),
            time_scale_factor=float(values["time_scale_factor"]),
            runtime_ms=None if infinite else float(values["runtime"]),
            app_id=int(values["app_id"]))

    def machine(self) -> Machine:
        layout = self._query("SELECT x_dimension, y_dimension FROM Machine_layout LIMIT 1")
        if not layout:
            raise DatabaseError(f"{self.path}: Machine_layout is empty")
        chips = tuple(
            Chip(int(x), int(y), int(n), None if ip is None else str(ip), (int(ex), int(ey)))
            for n, x, y, ip, ex, ey in self._query(
                "SELECT no_processors, chip_x, chip_y, ip_address, nearest_ethernet_x,"
                " nearest_ethernet_y FROM Machine_chip ORDER BY rowid"))
        return Machine(int(layout[0][0]), int(layout[0][1]), chips)

    # -- the whole mapping ------------------------------------------------------------------

    def read_mapping(self) -> Mapping:
        """Every row as records. Cores without a placement, or whose events do not cover
        their ``label(lo:hi)`` range, cannot be records and raise :class:`DatabaseError`."""
        placed = {int(v): Placement(int(x), int(y), int(p))
                  for v, x, y, p in self._query("SELECT vertex_id, chip_x, chip_y, chip_p"
                                                " FROM Placements")}
        tags: dict[int, list[IPTag]] = {}
        for v, tag, board, ip, port, strip in self._query(
                "SELECT vertex_id, tag, board_address, ip_address, port, strip_sdp FROM IP_tags"
                " ORDER BY rowid"):
            tags.setdefault(int(v), []).append(
                IPTag(int(tag), str(board), str(ip), int(port), bool(strip)))
        events: dict[int, list[tuple[int, int]]] = {}
        for v, atom, key in self._query(
                "SELECT vertex_id, atom_id, event_id FROM event_to_atom_mapping ORDER BY atom_id"):
            events.setdefault(int(v), []).append((int(atom), int(key)))
        owner = {int(m): int(a) for a, m in self._query(
            "SELECT application_vertex_id, machine_vertex_id FROM graph_mapper_vertex")}
        app_labels = dict(self._query(
            "SELECT vertex_id, vertex_label FROM Application_vertices ORDER BY vertex_id"))
        cores: dict[int, list[MachineVertex]] = {int(a): [] for a in app_labels}
        system: list[MachineVertex] = []
        by_id: dict[int, MachineVertex] = {}
        for v, label in self._query("SELECT vertex_id, label FROM Machine_vertices"
                                    " ORDER BY vertex_id"):
            vid, name = int(v), str(label)
            if vid not in placed:
                raise DatabaseError(f"{self.path}: machine vertex {name!r} has no placement")
            app = owner.get(vid)
            span = None if app is None else _slice_of(str(app_labels[app]), name)
            keys = _keys_for(self.path, name, span, events.get(vid))
            lo, hi = span or (None, None)
            mv = MachineVertex(name, placed[vid], lo, hi, keys=keys,
                               ip_tags=tuple(tags.get(vid, ())))
            by_id[vid] = mv
            (system if app is None else cores[app]).append(mv)
        edges = tuple(LpgEdge(by_id[int(pre)], by_id[int(post)], str(part))
                      for pre, part, post in self._query(
                          "SELECT pre_vertex_id, partition_id, post_vertex_id"
                          " FROM m_vertex_to_lpg_vertex ORDER BY rowid"))
        proxy = tuple((str(k), str(n), str(v)) for k, n, v in self._query(
            "SELECT kind, name, value FROM proxy_configuration ORDER BY rowid"))
        vertices = tuple(ApplicationVertex(str(label), tuple(cores[int(a)]))
                         for a, label in app_labels.items())
        return Mapping(self.machine(), vertices, self.configuration(), edges, tuple(system), proxy)


def _slice_of(app_label: str, machine_label: object) -> tuple[int, int] | None:
    """(lo, hi) from a core label ``app_label(lo:hi)``; None for other labels."""
    if not isinstance(machine_label, str) or not machine_label.startswith(app_label):
        return None
    match = _SLICE.fullmatch(machine_label[len(app_label):])
    return None if match is None else (int(match[1]), int(match[2]))


def _keys_for(path: Path, name: str, span: tuple[int, int] | None,
              rows: list[tuple[int, int]] | None) -> npt.NDArray[np.uint32] | None:
    if rows is None:
        return None
    atoms = [atom for atom, _ in rows]
    if span is None or atoms != list(range(span[0], span[1] + 1)):
        raise DatabaseError(
            f"{path}: the events of machine vertex {name!r} do not cover its atom range"
            f" {span} exactly, so it cannot be described as records")
    return np.array([key for _, key in rows], dtype=np.uint32)
