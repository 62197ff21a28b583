"""The writer: the reference's exact schema and quirks, atomic replacement, readable by FEC."""

from __future__ import annotations

import dataclasses
import sqlite3
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
from database_helpers import (
    BOARD_A,
    BOARD_B,
    assert_same_answers_as_reference,
    expected_live_output,
    sample_machine,
    sample_mapping,
)
from spinn_front_end_common.utilities.database import DatabaseReader

from spinnlive.database import (
    DATABASE_FILENAME,
    ApplicationVertex,
    IODatabase,
    LpgEdge,
    MachineVertex,
    Mapping,
    Placement,
    write_database,
)
from spinnlive.errors import ConfigurationError, DatabaseError
from spinnlive.protocol.keys import core_keys

SCHEMA_QUERY = "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name"


def reference_schema(tmp_path: Path) -> list[tuple[str, str, str, str]]:
    """sqlite_master of a database made by running the reference's own db.sql."""
    ddl = resources.files("spinn_front_end_common.utilities.database").joinpath("db.sql")
    db = sqlite3.connect(tmp_path / "reference.sqlite3")
    db.executescript(ddl.read_text("utf-8"))
    rows = db.execute(SCHEMA_QUERY).fetchall()
    db.close()
    return rows


def test_schema_is_the_reference_ddl_statement_for_statement(tmp_path: Path) -> None:
    path = write_database(sample_mapping(), tmp_path / "ours.sqlite3")
    db = sqlite3.connect(path)
    ours = db.execute(SCHEMA_QUERY).fetchall()
    assert ours == reference_schema(tmp_path)
    names = {name for kind, name, _, _ in ours if kind in ("table", "view")}
    assert {"label_event_atom_view", "app_output_tag_view", "application_vertex_placements",
            "chip_eth_info", "proxy_configuration"} <= names
    assert db.execute("PRAGMA user_version").fetchone() == (0,)


def test_reference_reader_reads_every_query(tmp_path: Path) -> None:
    mapping = sample_mapping(runtime_ms=250.0)
    path = write_database(mapping, tmp_path)
    assert path == tmp_path / DATABASE_FILENAME
    with DatabaseReader(str(path)) as ref:
        for vertex in mapping.vertices:
            atoms, keys = vertex.atoms_and_keys()
            assert ref.get_key_to_atom_id_mapping(vertex.label) == dict(
                zip(keys.tolist(), atoms.tolist()))
            assert ref.get_atom_id_to_key_mapping(vertex.label) == dict(
                zip(atoms.tolist(), keys.tolist()))
            assert sorted(ref.get_placements(vertex.label)) == sorted(
                (mv.placement.x, mv.placement.y, mv.placement.p) for mv in vertex.machine_vertices)
        assert ref.get_live_output_details("pop", "LiveSpikeReceiver") == (
            "0.0.0.0", 17895, 1, BOARD_A, 7, 0, 0)
        assert ref.get_live_output_details("poisson", "LiveSpikeReceiver") == (
            "192.168.7.9", 20000, 0, BOARD_B, 3, 1, 2)
        assert ref.get_configuration_parameter_value("machine_time_step") == 1000.0
        assert ref.get_configuration_parameter_value("time_scale_factor") == 2.0
        assert ref.get_configuration_parameter_value("runtime") == 250.0
        assert ref.get_configuration_parameter_value("app_id") == 17.0
        assert ref.get_ip_address(1, 2) == BOARD_B
        assert ref.get_ip_address(1, 0) == BOARD_A
        assert ref.get_job() is None
    assert assert_same_answers_as_reference(path) == len(mapping.vertices)


def test_infinite_run_and_type_quirks(tmp_path: Path) -> None:
    path = write_database(sample_mapping(runtime_ms=None), tmp_path / "inf.sqlite3")
    db = sqlite3.connect(path)
    params = dict(db.execute(
        "SELECT parameter_id, typeof(value) || ':' || value FROM configuration_parameters"))
    assert params == {"machine_time_step": "real:1000.0", "time_scale_factor": "real:2.0",
                      "infinite_run": "text:True", "runtime": "real:-1.0", "app_id": "real:17.0"}
    ips = db.execute("SELECT chip_x, chip_y, typeof(ip_address), ip_address FROM Machine_chip"
                     " WHERE ip_address IS NOT NULL ORDER BY chip_x").fetchall()
    assert ips == [(0, 0, "text", BOARD_A), (1, 2, "text", BOARD_B)]
    tags = db.execute("SELECT tag, typeof(strip_sdp), strip_sdp FROM IP_tags ORDER BY tag").fetchall()
    assert tags == [(3, "integer", 0), (6, "integer", 1), (7, "integer", 1)]
    assert db.execute("SELECT count(*) FROM Machine_chip WHERE machine_id = 1").fetchone() == (6,)
    db.close()
    assert_same_answers_as_reference(path)


def test_rewrite_replaces_atomically_and_open_readers_keep_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / DATABASE_FILENAME
    write_database(sample_mapping(runtime_ms=10.0), path)
    old_reader = IODatabase(path)
    bigger = dataclasses.replace(sample_mapping(runtime_ms=20.0), proxy=(("SPALLOC", "k", "v"),))
    write_database(bigger, path)
    try:
        assert old_reader.configuration().runtime_ms == 10.0
        assert old_reader.read_mapping().proxy == ()
    finally:
        old_reader.close()
    with IODatabase(path) as new_reader:
        assert new_reader.configuration().runtime_ms == 20.0
        assert new_reader.read_mapping().proxy == (("SPALLOC", "k", "v"),)
    assert sorted(p.name for p in tmp_path.iterdir()) == [DATABASE_FILENAME]


def test_unwritable_target_raises_database_error_naming_it(tmp_path: Path) -> None:
    blocker = tmp_path / "not_a_dir"
    blocker.write_text("x")
    with pytest.raises(DatabaseError, match="not_a_dir"):
        write_database(sample_mapping(), blocker / "db.sqlite3")


def test_live_output_expectation_matches_records() -> None:
    mapping = sample_mapping()
    assert expected_live_output(mapping, "pop") is not None
    assert expected_live_output(mapping, "inj") is None


# -- records refuse what the database could not hold ------------------------------------------


def core(label: str, p: int, keys: np.ndarray | None = None, lo: int = 0) -> MachineVertex:
    n = 10 if keys is None else keys.size
    return MachineVertex.for_slice(label, lo, lo + n - 1, Placement(0, 0, p), keys)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: [ApplicationVertex("a", (core("a", 1),)), ApplicationVertex("b", (core("b", 1),))],
         r"share core \(0,0,1\)"),
        (lambda: [ApplicationVertex("a", (core("a", 18),))], r"\(0,0,18\), which the machine"),
        (lambda: [ApplicationVertex("a", (core("a", 1, core_keys(5, 3)),)),
                  ApplicationVertex("b", (core("b", 2, core_keys(7, 3)),))],
         "key 0x7 is given to atom 2 of 'a'"),
        (lambda: [ApplicationVertex("a", (core("a", 1),)), ApplicationVertex("a", (core("a", 2),))],
         "labels repeat"),
    ],
)
def test_inconsistent_mappings_are_refused(build, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Mapping(sample_machine(), tuple(build()))


def test_edges_and_cores_are_checked() -> None:
    inside, outside = core("a", 1), core("z", 2)
    with pytest.raises(ConfigurationError, match="'z.*not in the mapping"):
        Mapping(sample_machine(), (ApplicationVertex("a", (inside,)),),
                lpg_edges=(LpgEdge(inside, outside),))
    with pytest.raises(ConfigurationError, match="10 atoms but 3 keys"):
        MachineVertex("a(0:9)", Placement(0, 0, 1), 0, 9, core_keys(0, 3))
    with pytest.raises(ConfigurationError, match="bad atom range"):
        MachineVertex("a", Placement(0, 0, 1), 5, 2)
    with pytest.raises(ConfigurationError, match="system vertex 'sys' has keys"):
        Mapping(sample_machine(), (), system_vertices=(
            MachineVertex("sys", Placement(0, 0, 1), 0, 0, core_keys(0, 1)),))
