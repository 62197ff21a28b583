"""Against sPyNNaker itself: a database its toolchain wrote on a virtual board.

spinnlive's reader must answer every query exactly as SpiNNFrontEndCommon's DatabaseReader does,
and spinnlive's writer, given the records read back from that file, must reproduce it row for
row (same ids, same values, same SQLite value types, same schema text).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest
from database_helpers import assert_same_answers_as_reference
from spynnaker_virtual import REFERENCE_SCRIPT, spynnaker_virtual_run

from spinnlive.database import IODatabase, write_database


@pytest.fixture(scope="module")
def spynnaker_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return spynnaker_virtual_run(tmp_path_factory.mktemp("spynnaker"), REFERENCE_SCRIPT)


def typed_rows(db: sqlite3.Connection, name: str) -> list[tuple[tuple[str, object], ...]]:
    rows = db.execute(f"SELECT * FROM [{name}]").fetchall()
    return sorted((tuple((type(v).__name__, v) for v in row) for row in rows), key=repr)


def test_reader_agrees_with_database_reader_for_every_label(spynnaker_db: Path) -> None:
    assert assert_same_answers_as_reference(spynnaker_db) == 7


def test_what_sPyNNaker_wrote_reads_as_expected(spynnaker_db: Path) -> None:
    with IODatabase(spynnaker_db) as db:
        labels = db.labels()
        assert labels == {"inj": 10, "pop": 300, "LiveSpikeReceiver": 0, "poisson": 20,
                          "poisson_control": 20, "LiveSpikeReceiver1": 0, "inj_fixed": 3}
        pop = db.atom_to_key("pop")
        steps = np.diff(pop)
        assert set(steps[:255].tolist()) == {16} and set(steps[256:].tolist()) == {16}
        assert len(db.placements("pop")) == 2  # two cores, each with its own base key
        assert np.all(np.diff(db.atom_to_key("inj")) == 1)
        assert db.atom_to_key("inj_fixed").tolist() == [0x70000, 0x70001, 0x70002]
        assert np.all(np.diff(db.atom_to_key("poisson_control")) == 1)
        assert db.live_output("poisson").port == 17896
        assert db.configuration().runtime_ms == 10.0
        table = db.key_table()
        assert set(table.labels) == {"inj", "pop", "poisson", "poisson_control", "inj_fixed"}
        for label in table.labels:
            atoms = np.arange(labels[label])
            back = table.lookup(table.keys_of(label, atoms))
            assert back.known.all() and np.array_equal(back.atom, atoms)


def test_writer_reproduces_the_sPyNNaker_file_row_for_row(
        spynnaker_db: Path, tmp_path: Path) -> None:
    with IODatabase(spynnaker_db) as db:
        mapping = db.read_mapping()
    ours = write_database(mapping, tmp_path / "ours.sqlite3")
    ref_db, our_db = sqlite3.connect(spynnaker_db), sqlite3.connect(ours)
    schema = "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name"
    assert our_db.execute(schema).fetchall() == ref_db.execute(schema).fetchall()
    names = [n for (n,) in ref_db.execute(
        "SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")]
    assert len(names) == 16  # 11 tables, sqlite_sequence, 4 views
    for name in names:
        assert typed_rows(our_db, name) == typed_rows(ref_db, name), name
    assert our_db.execute("SELECT count(*) FROM Machine_vertices").fetchone()[0] > 50
    ref_db.close()
    our_db.close()
    assert_same_answers_as_reference(ours)
