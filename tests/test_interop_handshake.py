"""spinnlive's handshake against sPyNNaker 7.4.1's own classes, both ways, over real UDP.

(a) FEC's listener (``DatabaseConnection``) against spinnlive's Notifier.
(b) FEC's toolchain side against spinnlive's Listener: ``NotificationProtocol`` itself, in a
    subprocess with a mocked ``FecDataView`` (it reads its addresses and path from there), and a
    whole ``pyNN.spiNNaker`` script on the virtual board, which writes a real database.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from subprocesses import run_python

from spinnlive.protocol.handshake import DatabaseReady, Event, Paused, Started
from spinnlive.transport import Listener, Notifier

pytest.importorskip("spinn_front_end_common")

FEC_NOTIFIER_SCRIPT = """
import logging, sys
logging.basicConfig(level=logging.INFO, stream=sys.stdout)
from spinn_front_end_common.data.fec_data_writer import FecDataWriter
from spinn_front_end_common.interface.config_setup import unittest_setup
from spinn_front_end_common.utilities.notification_protocol import NotificationProtocol
from spinn_utilities.socket_address import SocketAddress

unittest_setup()
writer = FecDataWriter.mock()
writer.add_database_socket_address(SocketAddress("localhost", int(sys.argv[1]), None))
for path in sys.argv[2:]:  # one run step per path, each with a new protocol, as the toolchain
    writer.set_database_file_path(path)
    protocol = NotificationProtocol()
    protocol.send_read_notification()
    protocol.wait_for_confirmation()  # raises after 10 s without a confirmation
    protocol.send_start_resume_notification()
    protocol.send_stop_pause_notification()
    protocol.close()
print("NOTIFIER DONE")
"""

PYNN_SCRIPT = """
import sys
import pyNN.spiNNaker as sim

port, runs = int(sys.argv[1]), int(sys.argv[2])
sim.setup(timestep=1.0)
sim.external_devices.add_database_socket_address("localhost", port, None)
sim.Population(
    2, sim.external_devices.SpikeInjector(database_notify_port_num=port), label="injector"
)
for _ in range(runs):
    sim.run(10)
sim.end()
print("TOOLCHAIN DONE")
"""

VIRTUAL_BOARD_CFG = (
    "[Machine]\nvirtual_board = True\nversion = 5\n"
    "[Reports]\nkeep_input_output_database = True\n"
)


def tiny_database(path: Path, marker: str) -> None:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE marker (value TEXT)")
        db.execute("INSERT INTO marker VALUES (?)", (marker,))
    db.close()


async def run_script(script: str, args: list[object], cwd: Path) -> str:
    """The script's output (stdout, then stderr); fails the test if it failed."""
    code, out, err = await run_python(script, args, cwd)
    text = out + err
    assert code == 0, text[-3000:]
    return text


async def collect(listener: Listener, count: int, sink: list[Event]) -> None:
    async for event in listener.events():
        sink.append(event)
        if len(sink) == count:
            return


async def test_fec_database_connection_follows_our_notifier(tmp_path: Path) -> None:
    from spinn_front_end_common.utilities.database import DatabaseConnection

    loop = asyncio.get_running_loop()
    seen: asyncio.Queue[object] = asyncio.Queue(maxsize=16)

    def report(item: object) -> None:  # called on FEC's listener thread
        loop.call_soon_threadsafe(seen.put_nowait, item)

    def on_database(reader: object) -> None:
        cursor = reader.cursor()  # type: ignore[attr-defined]
        files = [row[2] for row in cursor.execute("PRAGMA database_list")]
        (marker,) = cursor.execute("SELECT value FROM marker").fetchone()
        report(("database", files[0], marker))

    fec = DatabaseConnection(
        lambda: report("start"), lambda: report("stop"), local_host="127.0.0.1", local_port=0
    )
    fec.add_database_callback(on_database)
    notifier = Notifier([("127.0.0.1", fec.local_port, None)], timeout=10.0)
    try:
        for step in range(2):
            db = tmp_path / f"run_{step}.sqlite3"
            tiny_database(db, f"step {step}")
            await notifier.notify_database(str(db))  # returns once FEC's callbacks have run
            async with asyncio.timeout(10):
                assert await seen.get() == ("database", str(db), f"step {step}")
                await notifier.start()
                assert await seen.get() == "start"
                await notifier.stop()
                assert await seen.get() == "stop"
        (stats,) = notifier.statistics()
        assert (stats.steps, stats.confirmed, stats.refused, stats.silent) == (2, 2, 0, 0)
    finally:
        notifier.close()
        fec.close()


async def test_fec_notification_protocol_drives_our_listener(tmp_path: Path) -> None:
    paths = [str(tmp_path / "run_1.sqlite3"), str(tmp_path / "run_2.sqlite3")]
    hook_paths: list[str | None] = []

    async def on_database(path: str | None) -> None:
        hook_paths.append(path)

    events: list[Event] = []
    async with Listener(port=0, on_database=on_database) as listener:
        consumer = asyncio.create_task(collect(listener, 6, events))
        out = await run_script(FEC_NOTIFIER_SCRIPT, [listener.address[1], *paths], tmp_path)
        async with asyncio.timeout(10):
            await consumer
        stats = listener.statistics()
    assert events == [
        DatabaseReady(path=paths[0]), Started(), Paused(),
        DatabaseReady(path=paths[1]), Started(), Paused(),
    ]
    assert hook_paths == paths
    assert stats.confirmed == 2 and stats.endpoint.dropped == {}
    assert "NOTIFIER DONE" in out
    assert out.count("Confirmation from") == 2
    assert "WARNING" not in out, out


async def test_pynn_on_the_virtual_board_notifies_our_listener(tmp_path: Path) -> None:
    pytest.importorskip("spynnaker")
    (tmp_path / "spynnaker.cfg").write_text(VIRTUAL_BOARD_CFG, encoding="utf-8")
    (tmp_path / ".spynnaker.cfg").write_text(VIRTUAL_BOARD_CFG, encoding="utf-8")  # HOME
    tables: list[int] = []

    async def on_database(path: str | None) -> None:
        assert path is not None
        with open(path, "rb") as f:
            assert f.read(16) == b"SQLite format 3\x00"
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            tables.append(db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0])
        finally:
            db.close()

    events: list[Event] = []
    async with Listener(port=0, on_database=on_database) as listener:
        # two sim.run() calls: two DATABASE notifications and no START/STOP (quirk 7.1), which
        # the reference LiveEventConnection does not survive
        consumer = asyncio.create_task(collect(listener, 2, events))
        out = await run_script(PYNN_SCRIPT, [listener.address[1], 2], tmp_path)
        async with asyncio.timeout(10):
            await consumer
        stats = listener.statistics()
    assert [type(e) for e in events] == [DatabaseReady, DatabaseReady]
    path = events[0].path  # type: ignore[union-attr]
    assert path is not None and Path(path).is_file()
    assert Path(path).is_relative_to(tmp_path / "reports")
    assert events[1] == events[0]  # no remapping between the runs: the same database
    assert len(tables) == 2 and tables[0] > 0
    assert stats.confirmed == 2
    assert "TOOLCHAIN DONE" in out
    assert out.count("Confirmation from") == 2
    assert "Failed to receive notification" not in out
    assert "Failed to notify" not in out
