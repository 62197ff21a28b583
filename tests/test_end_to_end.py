"""Across OS processes: ``spinnlive run`` (engine + bridge) in one, ``spinnlive.connect()``
clients in this one, only real sockets between them.

What the engine guarantees, and so what is asserted: every spike a client receives on
``spikes/out`` is one the engine recorded, with the LPG's tick (the tick it happened in); each
injected spike is emitted once by 'stim' and evokes 'out' through the 1 ms delay with one and
the same lag for every spike (never less than the delay).
"""

from __future__ import annotations

import asyncio

import numpy as np
import zmq
import zmq.asyncio
from cli_live_helpers import LiveRun

from spinnlive.bridge.config import HEADER
from spinnlive.client import connect


async def _collect(stream, into: list[tuple[int, int]]) -> None:
    async for tick, ids in stream:
        into += [(tick, int(i)) for i in ids]


async def test_inject_and_receive_through_spinnlive_run(tmp_path):
    run = LiveRun(tmp_path, "4000", "2000", cli_args=("--sndhwm", "200"))
    try:
        discovery = run.discovery()
        async with connect(discovery, timeout=15) as client:
            await client.started(timeout=20)
            description = await client.describe()
            directions = {p["label"]: p["direction"] for p in description["populations"]}
            assert directions == {"stim": "in", "out": "out", "noise": "out"}
            a, b = client.spikes("out"), client.spikes("out")
            await a.ready()
            await b.ready()
            # the slow subscriber: tiny buffers, subscribed, never read until the end
            ctx = zmq.asyncio.Context()
            slow = ctx.socket(zmq.SUB)
            slow.setsockopt(zmq.RCVHWM, 1)
            slow.setsockopt(zmq.RCVBUF, 4096)
            slow.connect(client.endpoints["publish"])
            slow.setsockopt(zmq.SUBSCRIBE, b"spikes/noise")
            got_a: list[tuple[int, int]] = []
            got_b: list[tuple[int, int]] = []
            tasks = [asyncio.ensure_future(_collect(s, got)) for s, got in ((a, got_a),
                                                                            (b, got_b))]
            sends = [[0, 3], [1, 2, 5], [7], [4, 6]]
            for ids in sends:
                await client.inject("stim", ids)
                await asyncio.sleep(0.3)
            recorded, lines = await asyncio.to_thread(run.finish)
            await asyncio.sleep(0.5)  # the last ticks in flight
            for t in tasks:
                t.cancel()
            seqs = []
            while True:
                try:
                    frames = await asyncio.wait_for(slow.recv_multipart(), 1.0)
                except TimeoutError:
                    break
                seqs.append(HEADER.unpack(frames[1])[5])
            ctx.destroy(linger=0)
    finally:
        run.kill()

    expected = sorted(tuple(e) for e in recorded["out"])
    assert sorted(got_a) == expected and got_a == got_b  # both subscribers: the same stream
    assert a.gaps == b.gaps == 0
    fired = sorted(i for _, i in expected)
    assert fired == sorted(i for ids in sends for i in ids)  # each injected spike evoked once
    stim = {i: t for t, i in recorded["stim"]}
    assert len(recorded["stim"]) == sum(map(len, sends))
    lags = {t - stim[i] for t, i in expected}
    assert len(lags) == 1 and lags.pop() >= 1
    # the subscriber that did not read during the run held back neither the others (above:
    # complete, identical, gap-free) nor the bridge: it never dropped a message on any stream,
    # and whatever the slow one lost shows only as gaps in its own sequence numbers
    summary = {line.split()[0]: line for line in lines if line.startswith("  spikes/")}
    for topic in ("spikes/out", "spikes/noise"):  # only before anyone subscribed: no_subscriber
        assert "queue_full" not in summary[topic] and "send_error" not in summary[topic]
    noise_messages = int(summary["spikes/noise"].split()[1])
    assert seqs and np.all(np.diff(seqs) >= 1)
    assert len(seqs) < noise_messages - 50  # libzmq dropped for the slow one, and only for it
    print(f"slow subscriber: {len(seqs)} of {noise_messages} noise messages, "
          f"gaps {seqs[-1] - seqs[0] + 1 - len(seqs)}")
    assert "bridge epoch 1" in "\n".join(lines)
