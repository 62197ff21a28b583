"""Handshake latency: spinnlive's Listener against FEC's DatabaseConnection, same Notifier.

spinnlive's Notifier runs ``steps`` run steps (DATABASE -> confirmation -> START -> STOP) against
each listener in turn, in this process, on 127.0.0.1. Both listeners open the same tiny SQLite
database read-only before confirming, so the work per step is alike. Reported: median and 95th
percentile of the DATABASE round trip (send to confirmation) and of the whole step, and the ratio
FEC / spinnlive; then how long ``Notifier.close()`` takes while a silent listener is awaited.
Absolute numbers depend on the machine and its load; the ratios are the figure of merit.

    .venv/bin/python bench/bench_handshake.py [--steps 50]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from spinnlive.errors import HandshakeError
from spinnlive.transport import Listener, Notifier


async def run_steps(
    port: int, db: str, steps: int, wait_stop: Callable[[], Awaitable[object]]
) -> tuple[list[float], list[float]]:
    confirm, whole = [], []
    async with Notifier([("127.0.0.1", port, None)], timeout=10.0) as notifier:
        for _ in range(steps):
            t0 = time.perf_counter()
            await notifier.notify_database(db)
            t1 = time.perf_counter()
            await notifier.start()
            await notifier.stop()
            await wait_stop()
            confirm.append(t1 - t0)
            whole.append(time.perf_counter() - t0)
    return confirm, whole


async def with_spinnlive(db: str, steps: int) -> tuple[list[float], list[float]]:
    async def on_database(path: str | None) -> None:
        sqlite3.connect(f"file:{path}?mode=ro", uri=True).close()

    stopped: asyncio.Queue[None] = asyncio.Queue(maxsize=steps)
    async with Listener(port=0, on_database=on_database) as listener:

        async def consume() -> None:
            async for event in listener.events():
                if type(event).__name__ == "Paused":
                    stopped.put_nowait(None)

        task = asyncio.create_task(consume())
        result = await run_steps(listener.address[1], db, steps, stopped.get)
    await task
    return result


async def with_fec(db: str, steps: int) -> tuple[list[float], list[float]]:
    from spinn_front_end_common.utilities.database import DatabaseConnection

    loop = asyncio.get_running_loop()
    stopped: asyncio.Queue[None] = asyncio.Queue(maxsize=steps)
    fec = DatabaseConnection(
        lambda: None, lambda: loop.call_soon_threadsafe(stopped.put_nowait, None),
        local_host="127.0.0.1", local_port=0,
    )
    fec.add_database_callback(lambda reader: None)  # DatabaseReader already opened the file
    try:
        return await run_steps(fec.local_port, db, steps, stopped.get)
    finally:
        fec.close()


async def close_latency() -> float:
    silent = await asyncio.get_running_loop().create_datagram_endpoint(
        asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0)
    )
    port = silent[0].get_extra_info("sockname")[1]
    notifier = Notifier([("127.0.0.1", port)], timeout=10.0)
    waiting = asyncio.create_task(notifier.notify_database(None))
    await asyncio.sleep(0.05)
    t0 = time.perf_counter()
    notifier.close()
    try:
        await waiting
    except HandshakeError:  # the expected outcome: closed while waiting
        pass
    elapsed = time.perf_counter() - t0
    silent[0].close()
    return elapsed


def summary(name: str, values: list[float]) -> tuple[float, float]:
    med = statistics.median(values)
    p95 = statistics.quantiles(values, n=20)[-1]
    print(f"  {name:<34} median {med * 1e3:7.3f} ms   p95 {p95 * 1e3:7.3f} ms")
    return med, p95


async def main(steps: int) -> None:
    logging.disable(logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "tiny.sqlite3")
        with sqlite3.connect(db) as conn:
            conn.execute("CREATE TABLE t (x)")
        conn.close()
        ours = await with_spinnlive(db, steps)
        theirs = await with_fec(db, steps)
    print(f"{steps} run steps, spinnlive Notifier on 127.0.0.1")
    our_c, _ = summary("spinnlive Listener: DB round trip", ours[0])
    fec_c, _ = summary("FEC DatabaseConnection: DB round trip", theirs[0])
    our_w, _ = summary("spinnlive Listener: whole step", ours[1])
    fec_w, _ = summary("FEC DatabaseConnection: whole step", theirs[1])
    print(f"  ratio FEC/spinnlive: DB round trip {fec_c / our_c:.2f}x, step {fec_w / our_w:.2f}x")
    print(f"  Notifier.close() with a silent listener pending: {await close_latency() * 1e3:.3f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=50)
    asyncio.run(main(parser.parse_args().steps))
