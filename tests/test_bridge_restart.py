"""A bridge killed and restarted mid-run: a new identity the client sees, books that go on, and
the engine's output to the dead bridge counted (issue: reliability, point 12).

Real parts: a bridge process (``python -m spinnlive.bridge``) on fixed endpoints, SIGKILLed and
started again on the same ones; the board-like engine of tests/board_harness ticking in real
time with live output of ``pop``; spinnlive's asyncio client subscribed throughout; input
straight into the board's UDP socket, so it does not depend on the bridge under test.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
from board_harness import MiniEngine
from closed_loop_helpers import fixed_bridge_ports
from waiting import until

from spinnlive.cli import launch
from spinnlive.client import connect


async def _evoke(engine: MiniEngine, got: list[tuple[int, np.ndarray]], n: int,
                 what: str) -> None:
    """``n`` injections, each seen evoked (every 'pop' neuron once) before the next is sent:
    two sent a tick or two apart, as a loaded machine's stalls make, would evoke one spike
    per neuron, not two."""
    for _ in range(n):
        seen = sum(len(i) for _, i in got)
        await engine.inject_all(1, 0.0)
        await until(lambda seen=seen: sum(len(i) for _, i in got) >= seen + engine.n_inj, what)


async def test_a_restarted_bridge_is_a_new_identity_and_the_books_go_on(tmp_path: Path) -> None:
    ports = fixed_bridge_ports()
    first, where = launch.start_bridge(**ports)  # type: ignore[arg-type]
    procs = [first]
    engine = MiniEngine(tmp_path, n_inj=10, n_poisson=4)
    await engine.start([("127.0.0.1", int(ports["notify_port"]))])  # type: ignore[call-overload]
    got: list[tuple[int, np.ndarray]] = []
    try:
        async with connect(str(where["discovery"])) as client:
            old = (await client.describe())["bridge"]
            stream = client.spikes("pop")
            await stream.ready()
            ledger = stream.subscription.book.ledgers[stream.topic]

            async def read() -> None:
                async for tick, ids in stream:
                    got.append((tick, ids.copy()))

            readers = [asyncio.ensure_future(read())]

            async def killed_midway() -> None:
                await _evoke(engine, got, 20, "the first bridge's spikes")
                first.kill()  # SIGKILL: no closing message, no last totals
                first.wait(10)
                await engine.inject_all(20, 0.01)  # to a port where nothing listens now

            await engine.run_step(killed_midway, timeout=120)
            engine.live.collect_refusals()
            refused = engine.live.statistics().dropped_events.get("refused", 0)
            assert refused > 0  # the engine knows what the dead bridge never took
            assert ledger.bridge == old

            second, _ = launch.start_bridge(**ports)  # type: ignore[arg-type]
            procs.append(second)
            readers[0].cancel()
            await asyncio.gather(*readers, return_exceptions=True)
            n_before = len(got)
            # the SUB socket reconnects by itself; a sync answer says it reached the new bridge
            # (what a bridge publishes before a subscriber comes is its 'no_subscriber' drop)
            await stream.checkpoint(20.0)
            assert stream.statistics().bridge_restarts == 1
            readers = [asyncio.ensure_future(read())]

            async def resumed() -> None:  # the second bridge has confirmed: its tag is set
                await _evoke(engine, got, 20, "the second bridge's spikes")

            start, end = await engine.run_step(resumed, timeout=120)
            ticks, ids = engine.recorded("pop")
            expected = sorted(zip(ticks[(ticks >= start) & (ticks < end)].tolist(),
                                  ids[(ticks >= start) & (ticks < end)].tolist(), strict=True))
            assert len(expected) == 20 * engine.n_inj  # every injection made pop fire
            await until(lambda: sum(len(i) for _, i in got[n_before:]) >= len(expected),
                        "the second bridge's spikes")
            readers[0].cancel()
            await asyncio.gather(*readers, return_exceptions=True)
            stats = await stream.checkpoint(20.0)
            new = (await client.describe())["bridge"]
    finally:
        await engine.close()
        for proc in procs:
            launch.stop(proc)
    assert new != old and new != 0 and ledger.bridge == new  # a new identity, seen in headers
    delivered = sorted((tick, int(i)) for tick, batch in got[n_before:] for i in batch)
    assert delivered == expected  # the resumed stream lost nothing
    assert stats.bridge_restarts == 1 and stats.accounted
    assert stats.received_events + stats.missed_events == stats.announced_events
