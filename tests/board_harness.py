"""A minimal engine for the board tests, and the live-I/O scenarios both clients must pass.

:class:`MiniEngine` is everything "behave like a board" needs, without the PyNN front end, all
real: a mapping (``spinnlive.engine.mapping``) of an injector ``inj``, a population ``pop`` with
live output, a Poisson source ``poisson`` with live rate control; the database written from it;
the board endpoint on its own 127.0.0.x:17893; the kernels' ``Network`` (``inj`` one-to-one onto
an IF_curr_exp ``pop``, delay 1 ms; the ``PoissonGroup``); live output; the real-time tick
scheduler; and spinnlive's ``Notifier`` for DATABASE / START / STOP.

The scenarios take the connection classes as arguments, so the same code checks sPyNNaker's own
classes (in the pytest process) and spinnlive's (in a subprocess without sPyNNaker). They assert
against what the engine itself recorded, never against numbers worked out by hand. This module
imports nothing from sPyNNaker (:func:`u1616` uses its encoder only if it is there).
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
from waiting import until

from spinnlive.database.records import Configuration
from spinnlive.database.writer import write_database
from spinnlive.engine.board import SCAMP_PORT, BoardEndpoint
from spinnlive.engine.live_output import LiveOutput
from spinnlive.engine.mapping import map_network
from spinnlive.engine.run_control import GIL_SWITCH_S, SPIN_MARGIN_S
from spinnlive.engine.scheduler import TickMode, TickScheduler
from spinnlive.engine.vertices import AppVertex, LiveOutputParameters, LiveOutputRequest
from spinnlive.kernels import MODELS, InjectorGroup, Network, PoissonGroup
from spinnlive.protocol.eieio import EIEIOType, encode_events
from spinnlive.protocol.sdp import injection_datagram
from spinnlive.transport import Notifier

DT = 1.0
#: Rates the Poisson scenario sends: fractional values exercise the 16.16 encoding.
#: rates a SpynnakerPoissonControlConnection packs into one packet (live_event_connection.py)
RATES_PER_PACKET = 31
POISSON_RATES = [50.0 + 3.217 * i for i in range(40)] + [0.5, 123.456, 0.0, 1000.0]


def u1616(rates: list[float]) -> list[int]:
    """16.16 of each rate: sPyNNaker's own encoder when installed, else its formula (§5.5)."""
    try:
        from spinn_front_end_common.interface.ds import DataType
    except ImportError:
        return [int(round(Decimal(str(r)) * 65536)) for r in rates]
    return [DataType.U1616.encode_as_int(r) for r in rates]


def _network(n_inj: int, n_poisson: int, weight: float, rate: float, seed: int
             ) -> tuple[Network, dict[str, int], PoissonGroup]:
    net = Network(DT)
    poisson = PoissonGroup(n_poisson, DT, rate=rate, rng=np.random.default_rng(seed))
    gids = {"inj": net.add_group(InjectorGroup(n_inj, DT)),
            "pop": net.add_group(MODELS["IF_curr_exp"](n_inj, DT)),
            "poisson": net.add_group(poisson)}
    ids = np.arange(n_inj)
    net.connect(gids["inj"], gids["pop"], ids, ids, weight, 1.0)
    for gid in gids.values():
        net.record(gid, "spikes")
    return net, gids, poisson


class MiniEngine:
    """The engine side of a board, with a real kernel network (see the module docstring)."""

    def __init__(self, tmp_path: Path, *, n_inj: int = 10, n_poisson: int = 100,
                 poisson_rate: float = 0.0, weight: float = 5.0, seed: int = 1,
                 live: LiveOutputParameters | None = None, port: int = SCAMP_PORT) -> None:
        self.tmp_path, self.port = Path(tmp_path), port
        self.n_inj, self.n_poisson = n_inj, n_poisson
        self.net, self.gids, self.poisson = _network(n_inj, n_poisson, weight, poisson_rate, seed)
        warm, gids, _ = _network(2, 2, weight, 1000.0, seed)  # compile every kernel path now,
        warm.inject(gids["inj"], np.arange(2))  # not in the tick loop: spikes, delivery too
        warm.run(5)
        self.live_parameters = live or LiveOutputParameters()
        self.spikes_applied: list[tuple[int, str, np.ndarray]] = []  # (tick, label, atoms)
        self.rates_applied: list[tuple[int, str, np.ndarray, np.ndarray]] = []

    async def start(self, listeners: list[tuple[str, int]]) -> None:
        self.board = await BoardEndpoint.open(port=self.port)
        self.mapping = map_network(
            [AppVertex("inj", self.n_inj, "injector"), AppVertex("pop", self.n_inj, "neuron"),
             AppVertex("poisson", self.n_poisson, "poisson"),
             AppVertex("poisson_control", self.n_poisson, "poisson_control")],
            board_address=self.board.address[0],
            live_outputs=[LiveOutputRequest("pop", self.live_parameters)],
            configuration=Configuration(runtime_ms=None))
        self.board.load(self.mapping)
        self.database = write_database(self.mapping.to_database_records(), self.tmp_path)
        self.live = LiveOutput(self.mapping, self.board.tags)
        self.scheduler = TickScheduler(self.step, DT / 1000.0, TickMode.REALTIME,
                                       spin_margin_s=SPIN_MARGIN_S,
                                       gil_switch_interval_s=GIL_SWITCH_S)
        self.board.tick_source = lambda: self.scheduler.tick
        self.notifier = Notifier(listeners, timeout=30.0)

    async def inject_all(self, n: int, interval_s: float) -> None:
        """``n`` injections of every neuron of 'inj' straight into the board, ``interval_s``
        apart (each makes 'pop' fire once, a tick later)."""
        (packet,) = encode_events(np.arange(self.n_inj), eieio_type=EIEIOType.KEY_16_BIT)
        core = self.mapping.vertex("inj").cores[0].placement
        datagram = injection_datagram(core.x, core.y, core.p, packet)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for _ in range(n):
                sock.sendto(datagram, self.board.address)
                await asyncio.sleep(interval_s)

    def step(self, tick: int) -> None:
        """One tick: injected input first, then the network, then live output."""
        assert tick == self.net.tick
        injected = self.board.drain()
        for label, atoms in injected.spikes.items():
            self.net.inject(self.gids[label], atoms)
            self.spikes_applied.append((tick, label, atoms))
        for label, (atoms, rates) in injected.rates.items():
            assert label == "poisson"
            self.poisson.set_rates(atoms, rates)
            self.rates_applied.append((tick, label, atoms, rates))
        fired = self.net.step()
        self.live.emit(tick, {label: fired[self.gids[label]] for label in self.live.sources})

    async def run_step(self, during: Callable[[], Awaitable[None]], timeout: float = 60.0
                       ) -> tuple[int, int]:
        """DATABASE -> START -> ticks while ``during()`` runs -> STOP; the step's tick range."""
        await self.notifier.notify_database(str(self.database))
        first = self.scheduler.tick
        await self.notifier.start()
        ticks = asyncio.ensure_future(self.scheduler.run_async(None))
        try:
            async with asyncio.timeout(timeout):
                await during()
        finally:
            ticks.cancel()
            await asyncio.to_thread(self.scheduler.join, 10.0)
        await self.notifier.stop()
        return first, self.scheduler.tick

    def recorded(self, label: str) -> tuple[np.ndarray, np.ndarray]:
        """(ticks, ids) of the spikes the network recorded for ``label`` (ticks stopped)."""
        ids, times = self.net.spikes(self.gids[label])
        return np.rint(times / DT).astype(np.int64) - 1, ids

    async def close(self) -> None:
        self.notifier.close()
        if hasattr(self, "board"):
            await self.board.aclose()
            self.live.close()


def _events(records: list[tuple[str, int, list[int]]]) -> list[tuple[str, int, int]]:
    return sorted((label, time, i) for label, time, ids in records for i in ids)


#: The default run steps: (ids sent to 'inj', send_full_keys); the second repeats neuron 3.
TWO_STEPS = (([0, 3, 7], False), ([1, 2, 9, 3], True))


async def live_spikes_scenario(connection_class: type, tmp_path: Path, *, n_inj: int = 10,
                               steps_sent: tuple[tuple[list[int], bool], ...] = TWO_STEPS
                               ) -> dict[str, Any]:
    """One run step per ``steps_sent``: inject into 'inj', receive 'pop' live; each checked
    against what the engine recorded."""
    engine = MiniEngine(tmp_path, n_inj=n_inj)
    received: list[tuple[str, int, list[int]]] = []
    inits: list[tuple[Any, ...]] = []
    started, stopped = threading.Event(), threading.Event()
    conn = connection_class(receive_labels=["pop"], send_labels=["inj"], local_port=0)
    conn.add_receive_callback("pop", lambda label, time, ids: received.append(
        (label, int(time), [int(i) for i in ids])))
    conn.add_init_callback("pop", lambda *args: inits.append(args))
    conn.add_start_resume_callback("inj", lambda label, c: started.set())
    conn.add_pause_stop_callback("inj", lambda label, c: stopped.set())
    steps = []
    try:
        await engine.start([("127.0.0.1", conn.local_port)])
        for sent, full_keys in steps_sent:
            started.clear()
            stopped.clear()
            before = len(received)

            async def during(sent: list[int] = sent, full: bool = full_keys,
                             before: int = before) -> None:
                assert await asyncio.to_thread(started.wait, 20.0), "no start callback"
                await asyncio.to_thread(conn.send_spikes, "inj", sent, full)
                await until(lambda: {i for _, _, ids in received[before:] for i in ids}
                               >= set(sent), "evoked spikes of every injected neuron")

            first, last = await engine.run_step(during)
            ticks, ids = engine.recorded("pop")
            in_step = (ticks >= first) & (ticks < last)
            expected = sorted(("pop", int(t), int(i)) for t, i in zip(ticks[in_step], ids[in_step]))
            n_expected = len(expected)
            await until(lambda before=before, n=n_expected:
                           len(_events(received[before:])) >= n, "all live spikes")
            assert await asyncio.to_thread(stopped.wait, 20.0), "no stop callback"
            assert _events(received[before:]) == expected  # labels, neuron ids, tick times
            applied: dict[int, int] = {}  # neuron -> first tick its injection was applied
            for t, label, atoms in engine.spikes_applied:
                if first <= t < last and label == "inj":
                    for a in atoms.tolist():
                        applied.setdefault(a, t)
            assert sorted(applied) == sorted(set(sent))
            assert {i for _, _, i in expected} == set(sent)  # only injected neurons fire
            for _, t, i in expected:
                assert t > applied[i]  # evoked after the injection, through the 1 ms delay
            per_tick = np.bincount(ticks[in_step] - first) if in_step.any() else np.zeros(1)
            steps.append({"sent": sent, "first": first, "last": last, "events": len(expected),
                          "max_per_tick": int(per_tick.max())})
        for earlier, later in zip(steps, steps[1:]):
            assert later["first"] >= earlier["last"]  # ticks continue across run steps
        stats = engine.board.statistics()
        assert stats.dropped == {} and stats.tag_sets >= len(steps)
        assert len(inits) == len(steps) and all(a[:2] == ("pop", n_inj) for a in inits)
        assert all(a[2] == -1.0 and a[3] == DT for a in inits)
        assert engine.live.statistics().dropped_packets == {}
        return {"steps": steps, "board": stats}
    finally:
        conn.close()
        await engine.close()


async def poisson_control_scenario(connection_class: type, tmp_path: Path,
                                   rates: list[float], encoded: list[int]) -> dict[str, Any]:
    """Set every rate of 'poisson' live; ``encoded`` is the reference's 16.16 of ``rates``."""
    engine = MiniEngine(tmp_path, n_poisson=len(rates), poisson_rate=0.0)
    started = threading.Event()
    labels: list[str] = []
    conn = connection_class(poisson_labels=["poisson"], local_port=0)
    conn.add_start_resume_callback("poisson", lambda label, c: (labels.append(label),
                                                                started.set()))
    window = 500  # ticks measured after the change
    try:
        await engine.start([("127.0.0.1", conn.local_port)])

        async def during() -> None:
            assert await asyncio.to_thread(started.wait, 20.0), "no start callback"
            await asyncio.to_thread(conn.set_rates, "poisson", list(enumerate(rates)))
            await until(lambda: sum(r[2].size for r in engine.rates_applied) >= len(rates),
                           "every rate change")  # in one tick, or two if packets straddle one
            at = engine.rates_applied[-1][0]
            await until(lambda: engine.scheduler.tick > at + window, "the window", 30.0)

        first, last = await engine.run_step(during)
        assert labels == ["poisson"]
        start, at = engine.rates_applied[0][0], engine.rates_applied[-1][0]
        atoms = np.concatenate([r[2] for r in engine.rates_applied])
        applied = np.concatenate([r[3] for r in engine.rates_applied])
        np.testing.assert_array_equal(atoms, np.arange(len(rates)))
        np.testing.assert_array_equal(applied * 65536, np.array(encoded, dtype=np.float64))
        ticks, _ = engine.recorded("poisson")
        assert first <= start <= at < last
        # The client sends 31 rates a packet; each packet applies whole in the tick it arrived
        # (how many ticks apart the packets arrive is the sending machine's business).
        per_tick: dict[int, int] = {}
        for tick, _, tick_atoms, _ in engine.rates_applied:
            per_tick[tick] = per_tick.get(tick, 0) + tick_atoms.size
        boundaries = np.cumsum(list(per_tick.values()))[:-1]
        assert np.all(boundaries % RATES_PER_PACKET == 0), per_tick
        assert not np.any(ticks < start)  # nothing before the first change (all rates were 0)
        count = int(np.count_nonzero((ticks >= at) & (ticks < at + window)))
        expected = float(np.sum(applied)) * window * DT / 1000.0
        assert abs(count - expected) < 5 * np.sqrt(expected), (count, expected)
        return {"applied_at": at, "count": count, "expected": expected}
    finally:
        conn.close()
        await engine.close()
