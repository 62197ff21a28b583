"""The embedded engine as a 3-board machine, across processes: a bridge process, a network
process (tests/multiboard_network.py, lock-step) and this test as the ZeroMQ client.

The client subscribes to ``spikes/big``, stamps injections for chosen ticks while the bridge
holds the confirmation, then releases it. The same network runs once on three board endpoints
(big's cores spanning boards 0 and 1, the injector on board 1) and once on one board; the
spikes that arrive through ZeroMQ must be the same ids at the same ticks, in tick order, and
equal to what the network recorded; the injection must have reached board 1's endpoint only.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from waiting import until

from spinnlive.cli.launch import start_bridge, stop
from spinnlive.client import connect

HERE = Path(__file__).resolve().parent
TICKS = 120
#: tick -> injector ids stamped for it (each evokes a spike of big's same id a little later)
PLAN = {5: [0, 1, 2, 999], 17: list(range(100, 160)), 40: [500, 808, 809, 810],
        41: list(range(0, 1000, 7)), 90: [3, 4, 5]}


def _network(notify: int, boards: int, per_core: int, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(HERE / "multiboard_network.py"), str(notify), str(TICKS),
         str(boards), str(per_core)], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)


def _result(proc: subprocess.Popen[str]) -> dict[str, Any]:
    out, err = proc.communicate(timeout=400)
    assert proc.returncode == 0, err[-3000:]
    line = [x for x in out.splitlines() if x.startswith("RESULT ")][-1]
    return dict(json.loads(line[len("RESULT "):]))


async def _run(tmp_path: Path, boards: int, per_core: int
               ) -> tuple[dict[str, Any], list[tuple[int, list[int]]]]:
    folder = tmp_path / f"boards{boards}"
    folder.mkdir()
    bridge, where = start_bridge(extra=("--inject-label", "inj", "--hold-confirmation",
                                        "--hold-timeout", "60", "--tag-timeout", "2"))
    try:
        async with connect(str(where["discovery"]), timeout=20.0) as client:
            stream = client.spikes("big")
            await stream.ready()
            net = _network(where["notify"][1], boards, per_core, folder)
            try:
                await until(lambda: _awaiting(client), "the bridge to hold the database",
                            timeout=400)
                epoch = (await client.describe())["epoch"]
                for tick, ids in PLAN.items():
                    await client.inject("inj", ids, tick=tick)
                await client.ready(epoch)
                result = await asyncio.to_thread(_result, net)
            finally:
                if net.poll() is None:
                    net.kill()
            received: list[tuple[int, list[int]]] = []
            expected = len(result["big"])
            while sum(len(ids) for _, ids in received) < expected:
                tick, ids = await stream.next(timeout=30)
                received.append((tick, ids.tolist()))
            assert stream.gaps == 0
            return result, received
    finally:
        stop(bridge)


async def _awaiting(client: Any) -> bool:
    return bool((await client.describe())["awaiting_ready"])


def _by_tick(received: list[tuple[int, list[int]]]) -> list[tuple[int, list[int]]]:
    """Messages of one tick joined in arrival order (a deadline flush may split a tick)."""
    merged: list[tuple[int, list[int]]] = []
    for tick, ids in received:
        if merged and merged[-1][0] == tick:
            merged[-1][1].extend(ids)
        else:
            merged.append((tick, list(ids)))
    return merged


@pytest.mark.timeout(900)  # two runs of two processes each, compiling on a busy machine
async def test_three_board_engine_streams_what_one_board_streams(tmp_path: Path) -> None:
    three, three_stream = await _run(tmp_path, boards=3, per_core=1)
    one, one_stream = await _run(tmp_path, boards=1, per_core=256)

    assert three["n_boards"] == 3 and one["n_boards"] == 1
    addresses = [b["address"] for b in three["boards"]]
    assert len(set(addresses)) == 3  # three endpoints, three loopback addresses
    assert three["big_boards"] == addresses[:2]  # big spans boards 0 and 1
    assert three["inj_board"] == addresses[1] and three["lpg_board"] == addresses[0]
    injected = sum(map(len, PLAN.values()))
    assert [b["injected_events"] for b in three["boards"]] == [0, injected, 0]
    assert all(b["dropped"] == 0 for b in three["boards"])

    # every injected spike evoked its neuron within a few ticks of its stamp (1 ms delay)
    spikes = {tuple(s) for s in three["big"]}
    missing = [(tick, i) for tick, ids in PLAN.items() for i in ids
               if not any((tick + d, i) in spikes for d in range(1, 8))]
    assert not missing, (len(missing), missing[:10])
    # one ordered stream, the recorded spikes exactly, and bit-identical to the 1-board run
    ticks = [t for t, _ in _by_tick(three_stream)]
    assert ticks == sorted(set(ticks))
    assert sorted((t, i) for t, ids in three_stream for i in ids) == \
        [tuple(s) for s in three["big"]]
    assert three["big"] == one["big"]
    assert _by_tick(three_stream) == _by_tick(one_stream)
    assert len(three["big"]) > injected  # the noise and the recurrent list add spikes
    assert np.unique([t for t, _ in three["big"]]).size > 20
