"""Live-I/O scenarios of a PyNN script on the embedded engine, for any pair of client classes.

Each scenario builds the network with ``import spinnlive.pynn as sim`` exactly as a user script
would (SpikeInjector ``inj`` -> one-to-one, strong weight, delay 1 ms -> IF_curr_exp ``pop`` with
``activate_live_output_for``; or a SpikeSourcePoisson with live rate control), drives it with the
connection class it is given, and checks what the client saw against what the engine itself
recorded (``pop.get_data()``), never against numbers worked out by hand. The same functions run
in the pytest process with sPyNNaker's own classes and in a subprocess with spinnlive's classes
and sPyNNaker's packages blocked from importing (``python live_scenarios.py <scenario>``).

Time stamps: the engine records a spike of tick ``t`` at ``(t + 1) * dt`` (NEST's convention)
and its live packet gatherer stamps it ``t`` (the tick the spike happened in), so a live event
``(label, time, id)`` must equal ``(label, round(ms / dt) - 1, id)`` of a recorded spike.
"""

from __future__ import annotations

import json
import sys
import threading
from typing import Any

import numpy as np
from waiting import wait_until

DT = 1.0
WEIGHT = 5.0  # nA into IF_curr_exp: one spike makes the target fire
N = 10
FOREIGN = ("spynnaker", "spinnman", "spinn_front_end_common", "spinn_utilities", "pacman",
           "spinn_machine")


def build_injector_network(sim: Any, port: int) -> tuple[Any, Any]:
    ext = sim.external_devices
    inj = sim.Population(N, ext.SpikeInjector(database_notify_port_num=port), label="inj")
    pop = sim.Population(N, sim.IF_curr_exp(), label="pop")
    sim.Projection(inj, pop, sim.OneToOneConnector(),
                   sim.StaticSynapse(weight=WEIGHT, delay=1.0))
    inj.record("spikes")
    pop.record("spikes")
    ext.activate_live_output_for(pop, database_notify_port_num=port)
    return inj, pop


def recorded_events(population: Any, label: str) -> list[tuple[str, int, int]]:
    """(label, tick, id) of every spike the population recorded in this segment."""
    out = []
    for train in population.get_data("spikes").segments[0].spiketrains:
        i = int(train.annotations["source_index"])
        out += [(label, int(round(float(t) / DT)) - 1, i) for t in train.magnitude]
    return sorted(out)


def _flat(received: list[tuple[str, int, list[int]]]) -> list[tuple[str, int, int]]:
    return sorted((label, int(t), int(i)) for label, t, ids in received for i in ids)


def _spike_client(conn_class: type) -> tuple[Any, list[Any], list[str]]:
    conn = conn_class(receive_labels=["pop"], send_labels=["inj"], local_port=0)
    received: list[tuple[str, int, list[int]]] = []
    seen: list[str] = []
    conn.add_receive_callback("pop", lambda label, t, ids: received.append(
        (label, int(t), [int(i) for i in ids])))
    conn.add_pause_stop_callback("inj", lambda label, c: seen.append(f"stop {label}"))
    return conn, received, seen


def two_runs(sim: Any, conn_class: type) -> dict[str, Any]:
    """Inject in each of two sim.run() calls; receive the evoked spikes of 'pop' live."""
    sends = [[0, 3, 7], [1, 2, 9, 3]]
    conn, received, seen = _spike_client(conn_class)
    step = [0]

    def on_start(label: str, connection: Any) -> None:
        seen.append(f"start {label}")
        connection.send_spikes("inj", sends[step[0]])
        step[0] += 1

    conn.add_start_resume_callback("inj", on_start)
    try:
        sim.setup(timestep=DT)
        inj, pop = build_injector_network(sim, conn.local_port)
        for run in range(2):
            sim.run(500)
            expected = recorded_events(pop, "pop")
            n_expected = len(expected)
            wait_until(lambda n=n_expected: len(_flat(received)) >= n, "the live spikes")
            assert _flat(received) == expected, (run, received, expected)
            fired = {i for _, t, i in expected if t >= run * 500}
            assert fired == set(sends[run]), (fired, sends[run])
        injected = recorded_events(inj, "inj")
        assert len(injected) == sum(map(len, sends))  # each sent spike emitted once
        lags = {t - max(ti for _, ti, j in injected if j == i and ti < t)
                for _, t, i in expected}
        assert len(lags) == 1 and lags.pop() >= 1  # evoked through the 1 ms delay, always alike
        report = sim.simulator.state.engine.report()
        assert report.live_io.board.injected_events == sum(map(len, sends))
        wait_until(lambda: seen.count("stop inj") == 2, "two stop callbacks")
        sim.end()
        final = sim.simulator.state.last_report
        assert final.population("pop").spikes == len(expected)
        assert final.clock.value == "realtime"
        return {"events": len(expected), "callbacks": seen, "late": final.timing.late_ticks}
    finally:
        conn.close()


def forever(sim: Any, conn_class: type) -> dict[str, Any]:
    """run_forever() until the receive callback asks for request_stop()."""
    sent = [2, 4, 5]
    conn, received, seen = _spike_client(conn_class)
    conn.add_start_resume_callback("inj", lambda label, c: c.send_spikes("inj", sent))

    def on_receive(label: str, t: int, ids: list[int]) -> None:
        if {i for _, _, i in _flat(received)} >= set(sent):
            sim.external_devices.request_stop()

    conn.add_receive_callback("pop", on_receive)
    guard = threading.Timer(30.0, sim.external_devices.request_stop)  # a failure, not a hang
    try:
        sim.setup(timestep=DT)
        _, pop = build_injector_network(sim, conn.local_port)
        guard.start()
        sim.external_devices.run_forever()
        stopped_at = sim.get_current_time()
        expected = recorded_events(pop, "pop")
        wait_until(lambda: len(_flat(received)) >= len(expected), "the live spikes")
        assert {i for _, _, i in expected} == set(sent)
        assert _flat(received) == expected
        sim.run(20)  # a normal run after run_forever: a new handshake, START and STOP
        wait_until(lambda: seen.count("stop inj") == 2, "two stop callbacks")
        sim.end()
        return {"stopped_at_ms": stopped_at, "events": len(expected)}
    finally:
        guard.cancel()
        conn.close()


def poisson_rates(sim: Any, conn_class: type) -> dict[str, Any]:
    """Rates set live at START; the measured rates follow (0 Hz before, 0 Hz where unset)."""
    n, on, rate, length = 40, 20, 200.0, 1000
    conn = conn_class(poisson_labels=["poisson"], local_port=0)
    conn.add_start_resume_callback(
        "poisson", lambda label, c: c.set_rates("poisson", [(i, rate) for i in range(on)]))
    try:
        sim.setup(timestep=DT)
        poisson = sim.Population(n, sim.SpikeSourcePoisson(rate=0.0), label="poisson")
        sim.external_devices.add_poisson_live_rate_control(
            poisson, database_notify_port_num=conn.local_port)
        poisson.record("spikes")
        sim.run(length)
        events = recorded_events(poisson, "poisson")
        ticks = np.array([t for _, t, _ in events])
        ids = np.array([i for _, _, i in events])
        assert ids.size and ids.max() < on  # the neurons left at 0 Hz stay silent
        window = length - int(ticks.min())
        expected = on * rate * window * DT / 1000.0
        assert abs(ids.size - expected) < 5 * np.sqrt(expected), (ids.size, expected)
        sim.end()
        return {"count": int(ids.size), "expected": expected, "first_tick": int(ticks.min())}
    finally:
        conn.close()


SCENARIOS = {"two_runs": two_runs, "forever": forever, "poisson_rates": poisson_rates}


class _Blocker:
    """A meta-path finder that refuses sPyNNaker's packages (spinnlive must not need them)."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name.split(".")[0] in FOREIGN:
            raise ImportError(f"{name} is blocked: this run must not use sPyNNaker")


if __name__ == "__main__":  # python live_scenarios.py <scenario>: spinnlive's own classes
    sys.meta_path.insert(0, _Blocker())  # type: ignore[arg-type]
    import spinnlive.pynn as sim_module
    from spinnlive import connections

    conn_cls = (connections.SpynnakerPoissonControlConnection if sys.argv[1] == "poisson_rates"
                else connections.SpynnakerLiveSpikesConnection)
    result = SCENARIOS[sys.argv[1]](sim_module, conn_cls)
    result["foreign_modules"] = sorted(m for m in sys.modules if m.split(".")[0] in FOREIGN)
    print("RESULT " + json.dumps(result))
