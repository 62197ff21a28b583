"""spinnlive's reader on spinnlive-written files: the records come back; bad files fail clearly."""

from __future__ import annotations

import sqlite3
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
from database_helpers import BOARD_A, BOARD_B, expected_live_output, sample_mapping

from spinnlive.database import IODatabase, Mapping, required_schema, write_database
from spinnlive.errors import DatabaseError, UnknownLabelError


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[Mapping, Path]:
    mapping = sample_mapping(runtime_ms=1000.0)
    return mapping, write_database(mapping, tmp_path_factory.mktemp("db") / "io.sqlite3")


def test_read_mapping_gives_the_records_back(written: tuple[Mapping, Path]) -> None:
    mapping, path = written
    with IODatabase(path) as db:
        assert db.read_mapping() == mapping
        assert db.machine() == mapping.machine
        assert db.configuration() == mapping.configuration
        assert not db.configuration().infinite_run


def test_labels_keys_and_placements_match_the_records(written: tuple[Mapping, Path]) -> None:
    mapping, path = written
    with IODatabase(path) as db:
        assert db.labels() == {v.label: v.n_atoms for v in mapping.vertices}
        assert db.labels()["pop"] == 300 and db.labels()["LiveSpikeReceiver"] == 0
        for vertex in mapping.vertices:
            atoms, keys = vertex.atoms_and_keys()
            got_atoms, got_keys = db.atom_keys(vertex.label)
            assert got_keys.dtype == np.uint32 and got_atoms.dtype == np.int64
            order = np.argsort(keys)
            assert np.array_equal(got_keys, keys[order])
            assert np.array_equal(got_atoms, atoms[order])
            dense = db.atom_to_key(vertex.label)
            assert np.array_equal(dense[atoms], keys)
            assert sorted(map(tuple, db.placements(vertex.label).tolist())) == sorted(
                (mv.placement.x, mv.placement.y, mv.placement.p) for mv in vertex.machine_vertices)
        table = db.key_table()
        assert table.labels == ("inj", "pop", "poisson", "poisson_control", "inj_fixed")
        probe = np.array([0x1000 + 16 * 3, 0x70001, 0x6009, 0x4000 + 16, 12345], dtype=np.uint32)
        got = table.lookup(probe)
        assert [table.labels[i] if i >= 0 else None for i in got.label_index] == [
            "pop", "inj_fixed", "inj", "poisson", None]
        assert got.atom.tolist() == [259, 1, 9, 1, -1]
        reference = mapping.key_table().lookup(probe)
        assert np.array_equal(reference.atom, got.atom)


def test_live_output_and_ip_quirk(written: tuple[Mapping, Path]) -> None:
    mapping, path = written
    with IODatabase(path) as db:
        assert db.live_output("pop") == expected_live_output(mapping, "pop")
        assert db.live_output("poisson") == expected_live_output(mapping, "poisson")
        assert db.live_output("poisson").strip_sdp is False
        with pytest.raises(DatabaseError, match=r"'inj' has no live output to an LPG labelled"):
            db.live_output("inj")
        with pytest.raises(DatabaseError, match="'Other'"):
            db.live_output("pop", "Other")
        assert db.ip_address(1, 1) == BOARD_A
        assert db.ip_address(1, 2) == BOARD_B
        # The reference's quirk: an unknown chip answers chip (0, 0)'s board.
        assert db.ip_address(50, 50) == BOARD_A


def test_infinite_run_reads_back_as_none(tmp_path: Path) -> None:
    path = write_database(sample_mapping(runtime_ms=None), tmp_path / "inf.sqlite3")
    with IODatabase(path) as db:
        cfg = db.configuration()
    assert cfg.runtime_ms is None and cfg.infinite_run


def test_reader_is_read_only(written: tuple[Mapping, Path]) -> None:
    _, path = written
    before = path.read_bytes()
    with IODatabase(path) as db, pytest.raises(sqlite3.OperationalError, match="readonly"):
        db._db.execute("DELETE FROM configuration_parameters")
    assert path.read_bytes() == before


# -- errors name the file and what is missing --------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.sqlite3"
    with pytest.raises(DatabaseError, match=r"nowhere\.sqlite3 does not exist"):
        IODatabase(missing)
    assert not missing.exists()


def test_not_a_database(tmp_path: Path) -> None:
    junk = tmp_path / "junk.sqlite3"
    junk.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(DatabaseError, match=r"junk\.sqlite3 is not an SQLite database"):
        IODatabase(junk)


def test_empty_sqlite_file_lacks_every_table(tmp_path: Path) -> None:
    empty = tmp_path / "empty.sqlite3"
    sqlite3.connect(empty).execute("CREATE TABLE unrelated(x)").connection.close()
    with pytest.raises(DatabaseError, match=r"empty\.sqlite3 is not a SpiNNaker") as info:
        IODatabase(empty)
    for name, kind in required_schema().items():
        assert f"{kind} {name}" in str(info.value)


def test_wrong_schema_names_the_missing_view_and_table(tmp_path: Path) -> None:
    path = write_database(sample_mapping(), tmp_path / "cut.sqlite3")
    db = sqlite3.connect(path)
    db.executescript("DROP VIEW chip_eth_info; DROP TABLE proxy_configuration;")
    db.close()
    with pytest.raises(DatabaseError) as info:
        IODatabase(path)
    message = str(info.value)
    assert "cut.sqlite3" in message
    assert "missing table proxy_configuration, view chip_eth_info" in message


def test_unknown_label_everywhere(written: tuple[Mapping, Path]) -> None:
    _, path = written
    with IODatabase(path) as db:
        for ask in (db.atom_keys, db.atom_to_key, db.key_to_atom, db.placements, db.live_output,
                    lambda label: db.key_table([label])):
            with pytest.raises(UnknownLabelError) as info:
                ask("ghost")
            assert "'ghost'" in str(info.value) and str(path) in str(info.value)
            assert "pop" in str(info.value)  # the message lists the labels it does have
            assert isinstance(info.value, KeyError)


def test_required_schema_is_what_the_reference_ddl_creates() -> None:
    ddl = resources.files("spinn_front_end_common.utilities.database").joinpath("db.sql")
    db = sqlite3.connect(":memory:")
    db.executescript(ddl.read_text("utf-8"))
    made = dict(db.execute("SELECT name, type FROM sqlite_master WHERE type IN ('table', 'view')"
                           " AND name NOT LIKE 'sqlite_%'"))
    assert required_schema() == made
    assert required_schema()["label_event_atom_view"] == "view"


def test_the_query_deadline_runs_on_the_injected_clock(tmp_path: Path) -> None:
    """``deadline_s`` is read from the reader's clock, not the wall: a slow view (a bounded
    recursive CTE, ~100k steps, so SQLite's progress handler runs) answers while the virtual
    clock stands still, and the same query is interrupted once the clock passes the deadline."""
    from spinnlive.clock import VirtualClock

    path = write_database(sample_mapping(runtime_ms=1000.0), tmp_path / "io.sqlite3")
    with sqlite3.connect(path) as db:
        db.execute("DROP VIEW application_vertex_placements")
        db.execute("CREATE VIEW application_vertex_placements AS WITH RECURSIVE n(i) AS "
                   "(SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 100000) "
                   "SELECT 0 AS x, 0 AS y, 1 AS p, a.vertex_label AS vertex_label "
                   "FROM (SELECT MAX(i) FROM n), Application_vertices AS a")
    db.close()
    clock = VirtualClock(start=50.0)
    with IODatabase(path, deadline_s=3.0, clock=clock) as reader:
        assert reader.placements("pop").tolist() == [[0, 0, 1]]
        clock.advance(2.9)
        assert reader.placements("pop").tolist() == [[0, 0, 1]]  # 2.9 s: still inside
        clock.advance(0.2)
        with pytest.raises(DatabaseError, match="interrupted"):
            reader.placements("pop")
