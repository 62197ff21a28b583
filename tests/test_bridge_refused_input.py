"""Input the bridge sends to a killed engine is counted ``refused``, not ``forwarded``.

Real parts: the bridge in this process; the "engine" is a child process that owns the board's
port (``<board ip>:17893``) and counts the input datagrams it reads, then is SIGKILLed. Every
input event after the kill is one the board's port refused (ICMP port unreachable, read with
Linux's ``IP_RECVERR``): the test waits on the bridge's counters, never on time.
"""

from __future__ import annotations

import asyncio
import sys
import textwrap

import numpy as np
import pytest
from bridge_helpers import BOARD_PORT, FakeBoard, announce, quick_config, write_bridge_database
from waiting import until

from spinnlive.bridge import Bridge
from spinnlive.client import connect

pytestmark = pytest.mark.skipif(sys.platform != "linux",
                                reason="refusals are read with Linux's IP_RECVERR")

#: The engine's board port in a child process: prints how many datagrams it has read.
ENGINE = textwrap.dedent("""
    import socket, sys
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((sys.argv[1], int(sys.argv[2])))
    print("ready", flush=True)
    n = 0
    while True:
        sock.recv(4096)
        n += 1
        print(n, flush=True)
""")


async def _engine(ip: str) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", ENGINE, ip, str(BOARD_PORT),
                                                stdout=asyncio.subprocess.PIPE)
    assert proc.stdout is not None
    assert (await asyncio.wait_for(proc.stdout.readline(), 60)).strip() == b"ready"
    return proc


async def _read_count(proc: asyncio.subprocess.Process, want: int) -> None:
    assert proc.stdout is not None
    while int(await asyncio.wait_for(proc.stdout.readline(), 60)) < want:
        pass


async def test_input_to_a_killed_engine_is_counted_refused_on_its_stream(tmp_path):
    board = FakeBoard()  # answers the tag request, then hands the port to the engine process
    path = write_bridge_database(tmp_path, board.ip)
    ids = np.arange(300) % 10  # 3 datagrams: 127 + 127 + 46 events
    async with Bridge(quick_config(tag_refresh_s=3600.0)) as bridge:
        notifier, _ = await announce(bridge, path, board)
        board.close()
        engine = await _engine(board.ip)
        try:
            async with connect(bridge.endpoints["discovery"]) as client:
                await client.inject("stim", ids)
                await _read_count(engine, 3)  # the live engine read all three
                engine.kill()
                await engine.wait()
                for _ in range(5):
                    await client.inject("stim", ids)

                def refused(topic: str) -> int:
                    stream = bridge.statistics().streams.get(topic)
                    return stream.dropped_events.get("refused", 0) if stream else 0

                await until(lambda: refused("inject/stim") == 5 * ids.size,
                            "every event sent after the kill counted refused")
                await client.set_rates("noise", [1], [5.0])  # another stream, same dead port
                await until(lambda: refused("rates/noise") == 1, "the rate counted refused")
            stats = bridge.statistics()
            stream = stats.streams["inject/stim"]
            assert stream.events == 6 * ids.size
            assert stream.forwarded_events == ids.size  # only what the live engine read
            assert stream.dropped == {"refused": 15}  # one per refused datagram
            assert stats.boards[board.ip].dropped_input_events == 5 * ids.size + 1
            assert stats.streams["rates/noise"].forwarded_events == 0
        finally:
            if engine.returncode is None:
                engine.kill()
                await engine.wait()
            notifier.close()
