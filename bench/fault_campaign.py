"""Fault campaign: every fault a local process can cause, and where each input ended up.

Each fault runs against a fresh, real system in this process: the embedded engine's board
endpoint and kernel network ticking in real time (tests/board_harness.MiniEngine: injector 'inj'
-> 'pop' with live output, Poisson 'poisson' with live rate control), a bridge as its
notification listener, and real UDP / ZeroMQ sockets for the attacker, all on loopback. The
table says, per fault, how many inputs the attacker sent, how many the system *delivered*
(used as the network's: injected, published, confirmed), how many it *counted* as dropped or
refused (some counter, with a reason), and what was lost uncounted, which must be 0, plus the
share of late ticks of the engine while the fault ran (≤ 1 % is the bar for client-side faults).

The bridge, the board endpoint and the subscribers share this process's event loop,
made as ``spinnlive run`` makes the engine's and the bridge's (a gated loop, which keeps out of
the engine's real-time ticks: :mod:`spinnlive.transport.tick_gate`); the UDP floods come from
another process, and so do the malformed and flooding ZeroMQ peers and the 51 subscribers.

    .venv/bin/python bench/fault_campaign.py            # every fault
    .venv/bin/python bench/fault_campaign.py --only flood-board

``bridge-restart`` SIGKILLs a bridge process mid-run and starts it again on the same endpoints
(tests/test_bridge_restart.py asserts the same exactly). ``engine-restart`` kills an engine
mid-run (its board socket closes, no STOP) while a client goes on injecting through one bridge,
then starts a new engine that announces a new database: input sent to the dead engine is counted
``refused`` by the bridge (tests/test_bridge_refused_input.py asserts it across a killed
process). The engine is killed once its socket has handed on what reached it: datagrams still
in a dead process's kernel buffer die with it, and nothing outside can count them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import logging
import math
import os
import sys
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from board_harness import MiniEngine  # noqa: E402
from bridge_helpers import lpg_packets, quick_config  # noqa: E402
from closed_loop_helpers import fixed_bridge_ports  # noqa: E402
from cpu_hog import cpu_hog  # noqa: E402

from spinnlive.bridge import Bridge  # noqa: E402
from spinnlive.cli import launch  # noqa: E402
from spinnlive.client import connect  # noqa: E402
from spinnlive.protocol.commands import Database, encode_command  # noqa: E402
from spinnlive.protocol.eieio import EIEIOType, encode_events  # noqa: E402
from spinnlive.protocol.sdp import injection_datagram  # noqa: E402
from spinnlive.transport.tick_gate import gated_event_loop  # noqa: E402
from spinnlive.wire.input import MAX_IDS_PER_MESSAGE  # noqa: E402


@dataclass
class Row:
    fault: str
    inputs: int
    delivered: int
    counted: int
    late_pct: float = 0.0
    client_side: bool = True
    #: late ticks and ticks while the fault ran (a short window makes one late tick 1 %)
    late_ticks: tuple[int, int] | None = None

    @property
    def lost(self) -> int:
        return self.inputs - self.delivered - self.counted


@dataclass
class System:
    engine: MiniEngine
    bridge: Bridge

    @property
    def live(self) -> tuple[str, int]:
        local = self.bridge.statistics().udp.local
        assert local is not None
        return local


async def settle(what: Callable[[], bool], timeout: float = 30.0) -> None:
    """Wait until ``what()`` holds (the counters have caught up), at most ``timeout``."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not what() and loop.time() < end:
        await asyncio.sleep(0.02)


_FLOODER = """
import socket, sys
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
datagrams = [bytes.fromhex(h) for h in sys.stdin.read().split()]
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(n):
    sock.sendto(datagrams[i % len(datagrams)], (host, port))
"""


async def udp_flood(target: tuple[str, int], datagrams: list[bytes], n: int) -> None:
    """``n`` datagrams as fast as another process (the attacker) can send them."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _FLOODER, target[0], str(target[1]), str(n),
        stdin=asyncio.subprocess.PIPE)
    await proc.communicate(" ".join(d.hex() for d in datagrams).encode())


_ZMQ_PEER = """
import json, sys, zmq
kind, endpoint, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
messages = [[bytes(f["zeros"]) if isinstance(f, dict) else bytes.fromhex(f) for f in m]
            for m in json.load(sys.stdin)]
ctx = zmq.Context()
sock = ctx.socket(getattr(zmq, kind))
sock.setsockopt(zmq.SNDHWM, 0)
sock.connect(endpoint)
for i in range(n):
    sock.send_multipart(messages[i % len(messages)])
sock.close(linger=-1)  # every message handed over before the process ends
ctx.term()
"""


async def zmq_peer(kind: str, endpoint: str, messages: list[list[bytes | int]], n: int) -> None:
    """``n`` messages (cycling through ``messages``; an int frame is that many zero bytes) as
    fast as another process (the attacker) can send them on a ``kind`` socket."""
    body = json.dumps([[{"zeros": f} if isinstance(f, int) else f.hex() for f in m]
                       for m in messages])
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _ZMQ_PEER, kind, endpoint, str(n), stdin=asyncio.subprocess.PIPE)
    await proc.communicate(body.encode())


def board_totals(s: System) -> tuple[int, int, int]:
    b = s.engine.board.statistics()
    return b.endpoint.received + (b.endpoint.kernel_dropped or 0), b.injected_packets, \
        b.datagrams_dropped


async def flood_board(s: System, n: int = 20_000) -> Row:
    (packet,) = encode_events(np.arange(10), eieio_type=EIEIOType.KEY_16_BIT)
    core = s.engine.mapping.vertex("inj").cores[0].placement
    datagram = injection_datagram(core.x, core.y, core.p, packet)
    seen0, used0, dropped0 = board_totals(s)
    await udp_flood(s.engine.board.address, [datagram], n)
    await settle(lambda: board_totals(s)[0] - seen0 >= n
                 and s.engine.board.statistics().endpoint.queue_depth == 0)
    _, used, dropped = board_totals(s)
    return Row("UDP flood -> board endpoint (injections)", n, used - used0, dropped - dropped0)


def live_totals(s: System) -> tuple[int, int]:
    stats = s.bridge.statistics()
    published = stats.streams["spikes/pop"].messages if "spikes/pop" in stats.streams else 0
    return published, stats.udp.foreign_packets + stats.udp.kernel_drops


async def spoof_live(s: System, n: int, name: str) -> Row:
    keys = s.engine.mapping.keys("pop")[:10]
    packets = [q for tick in range(900_000, 900_050) for q in lpg_packets(tick, keys)]
    published0, counted0 = live_totals(s)
    await udp_flood(s.live, packets, n)
    await settle(lambda: live_totals(s)[1] - counted0 >= n)
    published, counted = live_totals(s)
    return Row(name, n, published - published0, counted - counted0)


async def flood_live(s: System) -> Row:
    return await spoof_live(s, 20_000, "UDP flood -> bridge live-output socket")


async def spoof_live_output(s: System) -> Row:
    return await spoof_live(s, 500, "live-output spoofing (ticks 900000+)")


def notify_totals(s: System) -> int:
    listener = s.bridge._listener.statistics()  # the bench reads the listener's own counters
    return sum(listener.endpoint.dropped.values()) + (listener.endpoint.kernel_dropped or 0)


async def flood_notify(s: System, n: int = 20_000) -> Row:
    port = s.bridge.notify_address
    counted0 = notify_totals(s)
    await udp_flood(port, [b"\xff\x00garbage", b"\x01"], n)
    await settle(lambda: notify_totals(s) - counted0 >= n)
    return Row("UDP flood -> bridge notify port (garbage)", n, 0, notify_totals(s) - counted0)


async def spoof_notification(s: System, n: int = 100) -> Row:
    port = s.bridge.notify_address
    epoch = s.bridge.epoch
    counted0 = notify_totals(s)
    await udp_flood(port, [encode_command(Database(path="/etc/passwd"))], n)
    await settle(lambda: notify_totals(s) - counted0 >= n)
    delivered = s.bridge.epoch - epoch  # a confirmed spoof would have opened an epoch
    return Row("notification spoofing (DATABASE /etc/passwd)", n, delivered,
               notify_totals(s) - counted0)


def input_totals(s: System) -> tuple[int, int, int]:
    streams = s.bridge.statistics().streams
    inputs = [c for name, c in streams.items()
              if name.startswith(("inject/", "rates/")) or name in ("input", "ready")]
    return (sum(c.messages for c in inputs), sum(c.packets for c in inputs),
            sum(sum(c.dropped.values()) for c in inputs))


async def malformed_push(s: System, n: int = 10_000) -> Row:
    bad = [[b"inject/inj", b"\x01\x02\x03"], [b"nonsense"], [b"inject/nobody", b"\0" * 4],
           [b"inject/inj", np.array([99], "<u4").tobytes()], [b"rates/poisson", b"\0" * 4],
           [b"spikes/pop", b"\0" * 4], []]
    messages0, _, dropped0 = input_totals(s)
    await zmq_peer("PUSH", s.bridge.endpoints["input"],
                   [list(frames) if frames else [b""] for frames in bad], n)
    await settle(lambda: input_totals(s)[0] - messages0 >= n)
    messages, _, dropped = input_totals(s)
    return Row("malformed messages -> input PULL", n, messages - messages0 - (dropped - dropped0),
               dropped - dropped0)


async def malformed_dealer(s: System, n: int = 1000) -> Row:
    def counted() -> int:
        d = s.bridge.statistics().streams.get("discovery")
        return d.dropped["no_delimiter"] if d else 0

    before = counted()
    await zmq_peer("DEALER", s.bridge.endpoints["discovery"], [[b"describe"]], n)
    await settle(lambda: counted() - before >= n)
    async with connect(s.bridge.endpoints["discovery"]) as client:  # discovery still answers
        answered = (await client.describe())["state"] in ("ready", "running")
    return Row("DEALER without delimiter -> discovery" + ("" if answered else " (DEAD)"), n, 0,
               counted() - before)


async def oversize_frame(s: System) -> Row:
    n = 13_100_000

    def refused() -> int:
        c = s.bridge.statistics().streams.get("inject/inj")
        return c.dropped_events.get("too_large", 0) if c else 0

    before = refused()
    await zmq_peer("PUSH", s.bridge.endpoints["input"], [[b"inject/inj", 4 * n]], 1)
    await settle(lambda: refused() - before >= n)
    return Row("50 MB inject frame (13.1M ids)", n, 0, refused() - before)


async def largest_frame(s: System) -> Row:
    """The largest inject frame the bridge takes (MAX_IDS_PER_MESSAGE ids, 4129 datagrams at
    once): delivered = events the board queued for the ticks; counted = the bridge's drops
    plus, per datagram the board lost (its queue, its kernel buffer), that datagram's events."""
    n = MAX_IDS_PER_MESSAGE
    seen0, used0, dropped0 = board_totals(s)
    events0 = s.engine.board.statistics().injected_events
    async with connect(s.bridge.endpoints["discovery"]) as client:
        await client.inject("inj", np.arange(n) % 10)
    datagrams = -(-n // 127)
    await settle(lambda: board_totals(s)[0] - seen0 >= datagrams
                 and s.engine.board.statistics().endpoint.queue_depth == 0)
    _, _, dropped = board_totals(s)
    events = s.engine.board.statistics().injected_events - events0
    c = s.bridge.statistics().streams["inject/inj"]
    lost = dropped - dropped0  # every datagram holds 127 events but the last
    return Row(f"largest inject frame ({n} ids)", n, events,
               sum(c.dropped_events.values()) + 127 * lost - (127 * datagrams - n if lost else 0))


async def inject_burst(s: System, n: int = 20_000) -> Row:
    frames: list[bytes | int] = [b"inject/inj", np.arange(10, dtype="<u4").tobytes()]
    messages0, packets0, dropped0 = input_totals(s)
    seen0, used0, board_dropped0 = board_totals(s)
    await zmq_peer("PUSH", s.bridge.endpoints["input"], [frames], n)
    await settle(lambda: input_totals(s)[0] - messages0 >= n)
    _, packets, dropped = input_totals(s)
    await settle(lambda: board_totals(s)[0] - seen0 >= packets - packets0
                 and s.engine.board.statistics().endpoint.queue_depth == 0)
    _, used, board_dropped = board_totals(s)
    return Row("burst of 20k inject messages (client -> bridge -> board)", n, used - used0,
               (dropped - dropped0) + (board_dropped - board_dropped0))


_SUBSCRIBERS = """
import asyncio, json, sys
from spinnlive.client import connect

async def main(endpoint, n_fast):
    async with connect(endpoint) as client:
        fast = [client.spikes("pop") for _ in range(n_fast)]
        stalled = client.spikes("pop", rcvhwm=1, rcvbuf=4096)
        for stream in [*fast, stalled]:
            await stream.ready()

        async def read(stream):
            async for _ in stream:
                pass

        readers = [asyncio.ensure_future(read(st)) for st in fast]
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        for task in readers:
            task.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
        books = [0, 0, 0]
        for stream in [*fast, stalled]:
            stats = await stream.checkpoint(20.0)
            books[0] += stats.announced_events
            books[1] += stats.received_events
            books[2] += stats.missed_events
    print(json.dumps(books), flush=True)

asyncio.run(main(sys.argv[1], int(sys.argv[2])))
"""


async def subscribers(s: System, n_fast: int = 50) -> Row:
    """50 subscribers read 'pop' while one more stalls (tiny buffers, never read until the
    end), all in another process as an application's would be (in the engine's process their
    50 decoding loops took the interpreter from the ticks); each one's books: received +
    missed (its own HWM losses) == announced."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _SUBSCRIBERS, s.bridge.endpoints["discovery"], str(n_fast),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None
    assert (await asyncio.wait_for(proc.stdout.readline(), 60)).strip() == b"ready"
    async with connect(s.bridge.endpoints["discovery"]) as client:
        for _ in range(300):  # 300 injections, each makes 'pop' fire: 300 messages
            await client.inject("inj", np.arange(10))
            await asyncio.sleep(0.003)
        await asyncio.sleep(0.5)
    proc.stdin.write(b"stop\n")
    await proc.stdin.drain()
    announced, received, missed = json.loads(await asyncio.wait_for(proc.stdout.readline(), 60))
    await proc.wait()
    return Row(f"{n_fast} subscribers + 1 stalled (events over all)", announced, received, missed)


async def baseline(s: System) -> Row:
    """No fault: the late ticks the machine's own load causes, to read the others against."""
    await asyncio.sleep(2.0)
    return Row("baseline (no fault, 2 s)", 0, 0, 0)


async def bridge_restart() -> Row:
    """A bridge process SIGKILLed mid-run and started again on the same endpoints, a client
    subscribed throughout: inputs = the events the engine's live output emitted for 'pop';
    delivered = what the client read; counted = the engine's 'refused' (sent to the dead
    bridge's port) and every other live-output drop, plus the client's own missed and
    bridge-dropped counts (its books span both bridges)."""
    ports = fixed_bridge_ports()
    procs = [launch.start_bridge(**ports)[0]]  # type: ignore[arg-type]
    with tempfile.TemporaryDirectory() as tmp:
        engine = MiniEngine(Path(tmp), n_inj=10, n_poisson=4)
        await engine.start([("127.0.0.1", int(ports["notify_port"]))])  # type: ignore[call-overload]
        got = [0]
        try:
            async with connect(str(ports["discovery"])) as client:
                stream = client.spikes("pop")
                await stream.ready()

                async def read() -> None:
                    async for _, ids in stream:
                        got[0] += len(ids)

                reader = asyncio.ensure_future(read())

                async def killed() -> None:
                    await engine.inject_all(200, 0.005)
                    procs[0].kill()
                    procs[0].wait(10)
                    await engine.inject_all(200, 0.005)

                await engine.run_step(killed, timeout=120)
                procs.append(launch.start_bridge(**ports)[0])  # type: ignore[arg-type]
                reader.cancel()
                await asyncio.gather(reader, return_exceptions=True)
                await stream.checkpoint(30.0)  # the SUB socket reached the new bridge
                reader = asyncio.ensure_future(read())
                await engine.run_step(lambda: engine.inject_all(200, 0.005), timeout=120)
                emitted = engine.live.statistics()
                await settle(lambda: got[0] >= emitted.events_sent
                             - emitted.dropped_events.get("refused", 0), 10)
                reader.cancel()
                await asyncio.gather(reader, return_exceptions=True)
                books = await stream.checkpoint(30.0)
        finally:
            await engine.close()
            for proc in procs:
                launch.stop(proc)
    engine.live.collect_refusals()
    out = engine.live.statistics()
    inputs = out.events_sent + sum(v for k, v in out.dropped_events.items() if k != "refused")
    counted = (sum(out.dropped_events.values()) + books.missed_events
               + sum(books.dropped_events.values()))
    return Row(f"bridge SIGKILL + restart mid-run ({books.bridge_restarts} restart seen)",
               inputs, got[0], counted, late_pct=math.nan, client_side=False)


async def engine_restart(n: int = 200) -> Row:
    """An engine killed mid-run and a new one started, one bridge and one client throughout:
    inputs = the events the client injected ('inj', 10 a message); delivered = what the two
    engines applied; counted = every input event the bridge dropped (``refused`` for the dead
    engine's port, ``no_session`` between the runs, ...) and the boards' dropped datagrams."""
    engines: list[MiniEngine] = []
    sent = 0
    async with Bridge(quick_config(tag_timeout_s=5.0, tag_refresh_s=3600.0)) as bridge, \
            connect(bridge.endpoints["discovery"]) as client:
        def input_counted() -> int:
            c = bridge.statistics().streams.get("inject/inj")
            return sum(c.dropped_events.values()) if c else 0

        def forwarded() -> int:
            c = bridge.statistics().streams.get("inject/inj")
            return c.messages if c else 0

        async def during(engine: MiniEngine, kill: bool) -> None:
            nonlocal sent
            await settle(lambda: bridge.state == "running", 20)
            for _ in range(n):
                await client.inject("inj", np.arange(10))
                sent += 10
                await asyncio.sleep(0.002)
            if kill:  # the board's socket closes, no STOP
                await settle(lambda: forwarded() >= sent // 10)
                await engine.board.settle()
                await engine.board.aclose()
                before = input_counted()
                for _ in range(n):  # sent to the dead engine
                    await client.inject("inj", np.arange(10))
                    sent += 10
                await settle(lambda: input_counted() - before >= 10 * n)

        for run in range(2):
            with tempfile.TemporaryDirectory() as tmp:
                engine = MiniEngine(Path(tmp), n_inj=10, n_poisson=4)
                engines.append(engine)
                await engine.start([("127.0.0.1", bridge.notify_address[1])])
                try:
                    await engine.run_step(functools.partial(during, engine, run == 0),
                                          timeout=120)
                    if run == 1:
                        await engine.board.settle()
                finally:
                    await engine.close()
        counted = input_counted()
    delivered = sum(len(atoms) for e in engines for _, label, atoms in e.spikes_applied
                    if label == "inj")
    dropped = sum(10 * e.board.statistics().datagrams_dropped for e in engines)
    return Row("engine kill + restart mid-run (client injecting)", sent, delivered,
               counted + dropped, late_pct=math.nan, client_side=False)


FAULTS: dict[str, Callable[[System], Awaitable[Row]]] = {
    "baseline": baseline, "flood-board": flood_board, "flood-live": flood_live, "spoof-live": spoof_live_output,
    "flood-notify": flood_notify, "spoof-notify": spoof_notification,
    "malformed-push": malformed_push, "malformed-dealer": malformed_dealer,
    "oversize": oversize_frame, "largest-frame": largest_frame, "inject-burst": inject_burst, "subscribers": subscribers,
}


#: faults that bring their own system (processes to kill)
STANDALONE: dict[str, Callable[[], Awaitable[Row]]] = {"bridge-restart": bridge_restart,
                                                       "engine-restart": engine_restart}


async def run_fault(name: str, fault: Callable[[System], Awaitable[Row]]) -> Row:
    with tempfile.TemporaryDirectory() as tmp:
        engine = MiniEngine(Path(tmp), n_inj=10, n_poisson=20)
        # no tag refresh during the fault: its datagrams would be counted with the attacker's
        async with Bridge(quick_config(tag_timeout_s=5.0, tag_refresh_s=3600.0)) as bridge:
            await engine.start([("127.0.0.1", bridge.notify_address[1])])
            system = System(engine, bridge)
            rows: list[Row] = []
            fault_ticks: list[int] = []

            async def during() -> None:
                await settle(lambda: bridge.state == "running", 20)
                fault_ticks.append(engine.scheduler.tick)
                rows.append(await fault(system))
                fault_ticks.append(engine.scheduler.tick)

            try:
                first, _ = await engine.run_step(during, timeout=300)
            finally:
                await engine.close()
            row = rows[0]
            threshold = engine.scheduler.statistics().late_threshold_s
            lateness = engine.scheduler.lateness_record()
            during_fault = lateness[fault_ticks[0] - first:fault_ticks[1] - first]
            row.late_pct = 100.0 * float(np.mean(during_fault > threshold)) \
                if during_fault.size else 0.0
            row.late_ticks = (int(np.sum(during_fault > threshold)), int(during_fault.size))
            return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", choices=sorted([*FAULTS, *STANDALONE]),
                        default=None)
    parser.add_argument("--hogs", type=int, default=0, metavar="N",
                        help="N processes spinning on a CPU for the whole campaign")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    names = args.only or [*FAULTS, *STANDALONE]
    print(f"load average {os.getloadavg()[0]:.1f} at start, {args.hogs} CPU hog(s)")
    with contextlib.ExitStack() as hogs:
        for _ in range(args.hogs):
            hogs.enter_context(cpu_hog())
        failed = _campaign(names)
    sys.exit(1 if failed else 0)


def _campaign(names: list[str]) -> bool:
    header = f"{'fault':<58} {'inputs':>10} {'delivered':>10} {'counted':>10} {'lost':>6} " \
             f"{'late %':>7} {'late/ticks':>12}"
    print(header)
    print("-" * len(header))
    failed = False
    for name in names:
        with asyncio.Runner(loop_factory=gated_event_loop) as runner:
            row = runner.run(STANDALONE[name]() if name in STANDALONE
                             else run_fault(name, FAULTS[name]))
        late_ok = row.late_pct <= 1.0 or not row.client_side
        ticks = f"{row.late_ticks[0]}/{row.late_ticks[1]}" if row.late_ticks else "-"
        failed |= row.lost != 0 or not late_ok
        print(f"{row.fault:<58} {row.inputs:>10} {row.delivered:>10} {row.counted:>10} "
              f"{row.lost:>6} {row.late_pct:>7.2f} {ticks:>12}{'' if late_ok else ' LATE'}",
              flush=True)
    print("\nlost = inputs - delivered - counted; must be 0. late % = ticks > the scheduler's "
          "late threshold while the fault ran (bar: 1 % for client-side faults).")
    return failed


if __name__ == "__main__":
    main()
