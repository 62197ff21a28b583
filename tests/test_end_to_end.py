"""Across OS processes: ``spinnlive run`` (engine + bridge) in one, ``spinnlive.connect()``
clients in this one, only real sockets between them.

What the engine guarantees, and so what is asserted: every spike a client receives on
``spikes/out`` is one the engine recorded, with the LPG's tick (the tick it happened in); each
injected spike is emitted once by 'stim' and evokes 'out' through the 1 ms delay with one and
the same lag for every spike (never less than the delay). What the bridge guarantees: a
subscriber that stops reading delays neither the others nor the engine, and once it reads again
it can count exactly what it lost (docs/wire-format.md §8).
"""

from __future__ import annotations

import asyncio
import re

import numpy as np
import pytest
from cli_live_helpers import LiveRun
from waiting import until

from spinnlive.client import SpikeStream, connect
from spinnlive.errors import TransportError

RUN_MS, NOISE_N = 4000, 1000  # 0.5 M events/s of noise: what one board's Ethernet carries


def _keep(into: list[tuple[int, int]], tick: int, ids: np.ndarray, per_event: bool) -> None:
    """Every (tick, id), or for the busy noise stream one (tick, count) per message: a reader
    that built a Python tuple per noise event (0.5 M a second) could not keep up on a loaded
    machine, and libzmq then dropped for the subscriber the test calls fast."""
    if per_event:
        into += [(tick, int(i)) for i in ids]
    else:
        into.append((tick, int(ids.size)))


async def _collect(stream: SpikeStream, into: list[tuple[int, int]], per_event: bool) -> None:
    async for tick, ids in stream:
        _keep(into, tick, ids, per_event)


async def _drain(stream: SpikeStream, into: list[tuple[int, int]], per_event: bool) -> None:
    """What a checkpoint read past, for iteration."""
    for _ in range(stream.buffered):
        tick, ids = await stream.next()
        _keep(into, tick, ids, per_event)


@pytest.mark.timeout(300)  # a fresh clone compiles this network's kernels before it starts
async def test_inject_and_receive_through_spinnlive_run(tmp_path):
    run = LiveRun(tmp_path, str(RUN_MS), str(NOISE_N), "hold", cli_args=("--sndhwm", "200"))
    try:
        discovery = run.discovery()
        async with connect(discovery, timeout=15) as client:
            await client.started(timeout=180)
            description = await client.describe()
            directions = {p["label"]: p["direction"] for p in description["populations"]}
            assert directions == {"stim": "in", "out": "out", "noise": "out"}
            # the fast subscribers: no bound on their receive side, so what they get does not
            # depend on this process being scheduled (libzmq's I/O thread queues for them while
            # the test's event loop waits for a core); the bridge still bounds their send side
            a, b, fast = (client.spikes(label, rcvhwm=0) for label in ("out", "out", "noise"))
            # the slow subscriber: tiny buffers, live, never read until the run is over
            slow = client.spikes("noise", rcvhwm=1, rcvbuf=4096)
            for stream in (a, b, fast, slow):
                await stream.ready()
            got_a: list[tuple[int, int]] = []
            got_b: list[tuple[int, int]] = []
            got_noise: list[tuple[int, int]] = []
            readers = ((a, got_a, True), (b, got_b, True), (fast, got_noise, False))
            tasks = [asyncio.ensure_future(_collect(*reader)) for reader in readers]
            sends = [[0, 3], [1, 2, 5], [7], [4, 6]]
            for n, ids in enumerate(sends):  # each evoked before the next is sent
                await client.inject("stim", ids)
                await until(lambda n=n: len(got_a) == sum(map(len, sends[:n + 1])),
                            f"the spikes evoked by injection {n}")
            recorded = await asyncio.to_thread(run.wait_recorded)  # the script now holds
            # the last ticks in flight: every evoked spike, and noise (1000 cells at 500 Hz
            # fire every tick) up to the last tick
            await until(lambda: len(got_a) == len(recorded["out"])
                           and bool(got_noise) and got_noise[-1][0] == RUN_MS - 1,
                           "the last ticks")
            for t in tasks:
                t.cancel()
            # the slow one reads again: one checkpoint each, the bridge still up
            final = {name: await s.checkpoint(15) for name, s in
                     (("a", a), ("b", b), ("fast", fast), ("slow", slow))}
            for reader in readers:
                await _drain(*reader)
        _, lines = await asyncio.to_thread(run.finish)
    finally:
        run.kill()

    expected = sorted(tuple(e) for e in recorded["out"])
    assert sorted(got_a) == expected and got_a == got_b  # both subscribers: the same stream
    fired = sorted(i for _, i in expected)
    assert fired == sorted(i for ids in sends for i in ids)  # each injected spike evoked once
    stim = {i: t for t, i in recorded["stim"]}
    assert len(recorded["stim"]) == sum(map(len, sends))
    lags = {t - stim[i] for t, i in expected}
    assert len(lags) == 1 and lags.pop() >= 1

    # every subscriber's books balance against the totals the bridge announced
    for got in final.values():
        assert got.accounted and got.dropped == {}
        assert got.received_messages + got.missed_messages == got.announced_messages
        assert got.received_events + got.missed_events == got.announced_events
    # the fast ones lost nothing, mid-stream or at the end, though the slow one stalled
    for name in ("a", "b", "fast"):
        assert (final[name].missed_messages, final[name].gap_messages) == (0, 0)
    assert final["fast"].received_events == sum(n for _, n in got_noise)
    assert final["a"].received_events == len(got_a) == len(expected)
    # the stalled one: libzmq dropped for it alone, and it counted every message and event
    slow_stats = final["slow"]
    assert slow_stats.missed_messages > 0 and slow_stats.missed_events > 0
    # what it holds: every message its books counted, plus those that came before its books
    # opened (delivered, counted apart as early_messages by spinnlive.wire.ledger)
    assert slow_stats.received_messages + slow_stats.early_messages == slow.buffered
    assert slow_stats.received_messages < slow_stats.announced_messages
    assert slow_stats.sequence == final["fast"].sequence  # the same topic totals, read apart
    # ... which the bridge's own end-of-run counters confirm: messages handed to ZeroMQ plus
    # those nobody had subscribed to yet make up every sequence number of the topic
    summary = {line.split()[0]: line for line in lines if line.startswith("  spikes/")}
    for topic in ("spikes/out", "spikes/noise"):
        assert "queue_full" not in summary[topic] and "send_error" not in summary[topic]
    noise = summary["spikes/noise"].split()
    early = re.search(r"no_subscriber (\d+)", summary["spikes/noise"])
    assert int(noise[1]) + (int(early.group(1)) if early else 0) == slow_stats.sequence
    # ... and the engine was not held back: every tick asked for ran, no live output dropped
    report = "\n".join(lines)
    simulated = re.search(r"Simulated (\S+) ms \((\d+) ticks of 1 ms", report)
    assert simulated and float(simulated.group(1)) == RUN_MS and int(simulated.group(2)) == RUN_MS
    live_output = re.search(r"live output (\d+) events in \d+ packets, (\d+) events dropped",
                            report)
    assert live_output and int(live_output.group(2)) == 0
    assert "bridge epoch 1" in report
    print(f"slow subscriber: {slow_stats.received_messages} of "
          f"{slow_stats.announced_messages} noise messages received, "
          f"{slow_stats.missed_messages} missed ({slow_stats.missed_events} events), "
          f"gaps seen {slow_stats.gap_messages}")


async def test_a_network_refused_before_its_run_fails_started_instead_of_timing_out(tmp_path):
    """2000 cells at 500 Hz are 1 M events/s of live output, more than one board's Ethernet
    carries: the run is refused at mapping, the bridge closes, and a client waiting for
    ``started`` hears ``closing`` and says so (not a timeout minutes later)."""
    run = LiveRun(tmp_path, str(RUN_MS), "2000", "hold")
    try:
        async with connect(run.discovery(), timeout=15) as client:
            with pytest.raises(TransportError, match="closed before its run started"):
                await client.started(timeout=120)
        assert await asyncio.to_thread(run.proc.wait, 60) != 0
        assert run.proc.stderr is not None
        assert "more than the 0.7 M events/s" in run.proc.stderr.read()
    finally:
        run.kill()
