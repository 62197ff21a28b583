"""Must-show 2: live state changes through the bridge, tick for tick equal to ``Projection.set``
and ``Population.set`` between run steps, across processes, in lock-step.

A bridge holds the engine's confirmation; meanwhile the client (this test) queues a weight read
stamped T_READ, a weight write of a subset of pairs stamped T_WEIGHTS (and a read at the same
tick, which sees it), an ``i_offset`` write stamped T_PARAM, then releases the engine. The
network's spikes must be exactly those of a reference process that made the same changes with
``Projection.set`` / ``Population.set`` between ``run()`` steps, and differ from a run without
them (so the comparison could fail).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pytest
from bridge_helpers import start_bridge_process
from state_scenarios import I_OFFSET, I_OFFSET_IDS, T_PARAM, T_READ, T_WEIGHTS, subset
from subprocesses import run_python
from waiting import until

from spinnlive.cli.launch import stop
from spinnlive.client import connect

T = TypeVar("T")
SCENARIOS = Path(__file__).resolve().parent / "state_scenarios.py"


def _result(out: str) -> dict[str, list]:  # type: ignore[type-arg]
    line = [x for x in out.splitlines() if x.startswith("RESULT ")][-1]
    return dict(json.loads(line[len("RESULT "):]))


async def _scenario(mode: str, cwd: Path, *args: object) -> dict[str, list]:  # type: ignore[type-arg]
    code, out, err = await run_python(SCENARIOS.read_text(), [mode, *args], cwd, timeout=300)
    assert code == 0, err[-3000:]
    return _result(out)


@pytest.fixture
def bridge():
    proc, where = start_bridge_process("--hold-confirmation", "--hold-timeout", "180")
    yield where
    stop(proc)


async def test_live_weight_and_parameter_changes_equal_set_between_runs(tmp_path, bridge):
    (tmp_path / "ref").mkdir()
    (tmp_path / "base").mkdir()
    (tmp_path / "live").mkdir()
    baseline = asyncio.ensure_future(_scenario("baseline", tmp_path / "base"))
    ref = await _scenario("reference", tmp_path / "ref")
    connections = np.array(ref["weights"])  # the same seeds: the live network's connections
    sub_pre, sub_post, values = subset(connections[:, 0].astype(int),
                                       connections[:, 1].astype(int))
    live = asyncio.ensure_future(_scenario("live", tmp_path / "live", bridge["notify"][1]))
    async with connect(str(bridge["discovery"]), timeout=180) as client:
        await until(lambda: _held(client), "the bridge holding the engine's confirmation", 240)
        epoch = (await client.describe())["epoch"]
        state = await client.describe_state()
        assert state["tick"] == 0
        drive = next(p for p in state["projections"] if p["label"] == "drive")
        assert (drive["pre"], drive["post"], drive["pre_size"]) == ("src", "pop", 30)
        # each sent at once, in this order (a set, then a read of the same tick, sees it)
        first = await _sent(client.weights("drive", tick=T_READ))
        applied = await _sent(client.set_weights("drive", values, sub_pre, sub_post,
                                                 tick=T_WEIGHTS))
        after = await _sent(client.weights("drive", sub_pre, tick=T_WEIGHTS))
        param = await _sent(client.set("pop", "i_offset", I_OFFSET, I_OFFSET_IDS, tick=T_PARAM))
        offsets = await _sent(client.get("pop", "i_offset", tick=T_PARAM))
        # a describe answered after them: everything above is queued at the engine
        assert (await client.describe_state())["statistics"]["queued"] == 5
        await client.ready(epoch)
        read = await first
        assert await applied == T_WEIGHTS and await param == T_PARAM
        changed = await after
        got = await offsets
    live_result, base = await live, await baseline
    # the read at T_READ is the reference's Projection.get after run(T_READ)
    expected = connections
    assert read.tick == T_READ
    np.testing.assert_array_equal(read.pre, expected[:, 0])
    np.testing.assert_array_equal(read.post, expected[:, 1])
    np.testing.assert_array_equal(read.values, expected[:, 2])
    # the read at T_WEIGHTS, queued after the set of that tick, sees the new weights
    assert changed.tick == T_WEIGHTS
    new = dict(zip(zip(sub_pre.tolist(), sub_post.tolist()), values.tolist()))
    for i, j, w in zip(changed.pre.tolist(), changed.post.tolist(), changed.values.tolist()):
        assert w == new.get((i, j), w)
    assert got.tick == T_PARAM and got.values[I_OFFSET_IDS].tolist() == [I_OFFSET] * 4
    assert np.count_nonzero(got.values) == 4
    # the spikes, every one of them, are the reference's; and the changes mattered
    assert live_result["spikes"] == ref["spikes"]
    late = [s for s in base["spikes"] if s[0] >= T_WEIGHTS]
    assert [s for s in ref["spikes"] if s[0] < T_WEIGHTS] == [
        s for s in base["spikes"] if s[0] < T_WEIGHTS]
    assert [s for s in ref["spikes"] if s[0] >= T_WEIGHTS] != late


async def _held(client) -> bool:  # type: ignore[no-untyped-def]
    return bool((await client.describe())["awaiting_ready"])


async def _sent(request: Coroutine[Any, Any, T]) -> asyncio.Future[T]:
    """Start ``request``: it is sent before this returns (the channel sends without waiting)."""
    task = asyncio.ensure_future(request)
    await asyncio.sleep(0)
    return task
