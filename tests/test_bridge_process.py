"""Across OS processes: ``python -m spinnlive.bridge`` in one, the toolchain, the board and a
``spinnlive.connect()`` client in this one."""

from __future__ import annotations

import asyncio

import numpy as np
from bridge_helpers import (
    FakeBoard,
    bridge_mapping,
    lpg_packets,
    start_bridge_process,
    write_bridge_database,
)

from spinnlive.client import connect
from spinnlive.transport.notifier import Notifier


async def test_client_and_bridge_in_separate_processes(tmp_path):
    board = FakeBoard()
    proc, where = start_bridge_process("--tag-timeout", "5")
    try:
        path = write_bridge_database(tmp_path, board.ip)
        table = bridge_mapping(board.ip).key_table()
        notifier = Notifier([("127.0.0.1", where["notify"][1])])
        async with connect(str(where["discovery"])) as client:
            assert (await client.describe())["state"] == "waiting"
            notify = asyncio.ensure_future(notifier.notify_database(str(path)))
            _, live = await board.answer_tag()
            await notify
            await notifier.start()
            await client.started()
            stream = client.spikes("exc")
            await stream.ready()
            for tick in (10, 11):
                for packet in lpg_packets(tick, table.keys_of("exc", np.arange(tick))):
                    board.send(packet, live)
            assert [(t, ids.tolist()) for t, ids in [await stream.next(), await stream.next()]] \
                == [(10, list(range(10))), (11, list(range(11)))]
            await client.inject("stim", [0, 1, 2])
            data, _ = await board.recv()
            assert data == bytes.fromhex("000007002400000000000300000001000200")
            await notifier.stop()
        notifier.close()
    finally:
        proc.terminate()
        assert proc.wait(10) == 0
        board.close()
