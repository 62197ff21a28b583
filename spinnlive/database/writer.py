"""Write a :class:`~spinnlive.database.records.Mapping` as SpiNNFrontEndCommon's I/O database.

Theory of operation
-------------------
The file must be indistinguishable from one written by the reference ``DatabaseWriter``
(1!7.4.1) for the same mapping: same DDL (``schema.sql``, compared statement by statement in
the tests), same row ids (application vertices in order, each followed by its machine vertices;
system vertices last, as the reference adds them while storing placements) and the same value
quirks (protocol sheet §4.2, §7.9):

- ``infinite_run`` is the text ``'True'``/``'False'`` in a REAL column and ``runtime`` is -1 when
  the run is infinite;
- ``Machine_chip.ip_address`` is a dotted string (INTEGER column), NULL off Ethernet chips;
- ``IP_tags.strip_sdp`` is 0/1 and a port of None is stored as 0; ``machine_id`` is 1.

Readers must never see a half-written file: rows go into a temporary file in the same
directory, which is committed, closed and then renamed over the target. The reference deletes
and rewrites the same name on every mapping; a rename gives readers the same view (the old file
until the new one is complete), and a reader that still has the old file open keeps reading it.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import tempfile
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

from spinnlive.database.records import MachineVertex, Mapping, Placement
from spinnlive.errors import DatabaseError

__all__ = ["DATABASE_FILENAME", "schema_sql", "write_database"]

logger = logging.getLogger(__name__)

#: The file name the reference toolchain uses (cfg ``[Reports] path_input_output_database``).
DATABASE_FILENAME = "input_output_database.sqlite3"
_MACHINE_ID = 1


def schema_sql() -> str:
    """The DDL text of ``schema.sql`` (the reference's ``db.sql`` statements)."""
    return resources.files("spinnlive.database").joinpath("schema.sql").read_text("utf-8")


def write_database(mapping: Mapping, path: str | os.PathLike[str]) -> Path:
    """Write ``mapping`` to ``path`` atomically, replacing any file there; return the path.

    A directory given as ``path`` gets :data:`DATABASE_FILENAME` inside it.

    :raises DatabaseError: the file could not be written (the message names it).
    """
    target = Path(path)
    if target.is_dir():
        target = target / DATABASE_FILENAME
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp",
                                        dir=target.parent)
    except OSError as error:
        raise DatabaseError(f"could not write the I/O database {target}: {error}") from error
    os.close(fd)
    try:
        connection = sqlite3.connect(tmp_name, isolation_level=None)
        try:
            connection.executescript(schema_sql())
            connection.execute("BEGIN")
            _insert_all(connection, mapping)
            connection.execute("COMMIT")
        finally:
            connection.close()
        os.replace(tmp_name, target)
    except BaseException as error:
        Path(tmp_name).unlink(missing_ok=True)
        if isinstance(error, (sqlite3.Error, OSError)):
            raise DatabaseError(f"could not write the I/O database {target}: {error}") from error
        raise
    logger.debug("wrote I/O database %s (%d application vertices)", target, len(mapping.vertices))
    return target


def _insert_all(db: sqlite3.Connection, mapping: Mapping) -> None:
    """Insert every row, parents before children (the schema turns foreign keys on)."""
    cfg = mapping.configuration
    db.executemany(
        "INSERT INTO configuration_parameters(parameter_id, value) VALUES (?, ?)",
        [("machine_time_step", cfg.machine_time_step_us),
         ("time_scale_factor", cfg.time_scale_factor),
         ("infinite_run", str(cfg.infinite_run)),
         ("runtime", -1 if cfg.runtime_ms is None else cfg.runtime_ms),
         ("app_id", cfg.app_id)])
    db.executemany("INSERT INTO proxy_configuration(kind, name, value) VALUES (?, ?, ?)",
                   mapping.proxy)
    machine = mapping.machine
    db.execute("INSERT INTO Machine_layout(machine_id, x_dimension, y_dimension) VALUES (?, ?, ?)",
               (_MACHINE_ID, machine.width, machine.height))
    db.executemany(
        "INSERT INTO Machine_chip(no_processors, chip_x, chip_y, machine_id, ip_address,"
        " nearest_ethernet_x, nearest_ethernet_y) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(c.n_processors, c.x, c.y, _MACHINE_ID, c.ip_address, *c.nearest_ethernet)
         for c in machine.chips])

    ids: dict[Placement, int] = {}  # a core -> its Machine_vertices.vertex_id
    for app_id, vertex in enumerate(mapping.vertices, start=1):
        db.execute("INSERT INTO Application_vertices(vertex_id, vertex_label) VALUES (?, ?)",
                   (app_id, vertex.label))
        for mv in vertex.machine_vertices:
            ids[mv.placement] = _insert_machine_vertex(db, mv, len(ids) + 1)
            db.execute("INSERT INTO graph_mapper_vertex(application_vertex_id, machine_vertex_id)"
                       " VALUES (?, ?)", (app_id, ids[mv.placement]))
    for mv in mapping.system_vertices:
        ids[mv.placement] = _insert_machine_vertex(db, mv, len(ids) + 1)

    every = list(mapping.all_machine_vertices())
    db.executemany(
        "INSERT INTO Placements(vertex_id, chip_x, chip_y, chip_p, machine_id)"
        " VALUES (?, ?, ?, ?, ?)",
        [(ids[mv.placement], mv.placement.x, mv.placement.y, mv.placement.p, _MACHINE_ID)
         for mv in every])
    db.executemany(
        "INSERT INTO IP_tags(vertex_id, tag, board_address, ip_address, port, strip_sdp)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        [(ids[mv.placement], t.tag, t.board_address, t.ip_address, t.port or 0, int(t.strip_sdp))
         for mv in every for t in mv.ip_tags])
    db.executemany(
        "INSERT INTO m_vertex_to_lpg_vertex(pre_vertex_id, partition_id, post_vertex_id)"
        " VALUES (?, ?, ?)",
        [(ids[e.pre.placement], e.partition, ids[e.post.placement]) for e in mapping.lpg_edges])
    for mv in every:
        if mv.keys is not None:
            db.executemany(
                "INSERT INTO event_to_atom_mapping(vertex_id, event_id, atom_id) VALUES (?, ?, ?)",
                _event_rows(ids[mv.placement], mv))


def _insert_machine_vertex(db: sqlite3.Connection, mv: MachineVertex, vertex_id: int) -> int:
    db.execute("INSERT INTO Machine_vertices(vertex_id, label) VALUES (?, ?)", (vertex_id, mv.label))
    return vertex_id


def _event_rows(vertex_id: int, mv: MachineVertex) -> Iterator[tuple[int, int, int]]:
    """(vertex, key, atom) rows; ``tolist`` turns the arrays into Python ints in one pass."""
    assert mv.keys is not None
    for key, atom in zip(mv.keys.tolist(), mv.atoms.tolist()):
        yield vertex_id, key, atom
