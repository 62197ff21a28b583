"""Closed-loop latency through the embedded engine: send a spike, get the evoked spike back.

The engine runs a PyNN script in its own process (as a deployment would): SpikeInjector ``inj``
-> one-to-one, weight large enough to fire, delay 1 ms -> ``out`` with live output, real time
at 1 ms ticks. This process is the client: for each trial it calls ``send_spike("inj", i)`` and
times until the receive callback reports neuron ``i`` of ``out``. Trials rotate over the
neurons and start at a random phase of the tick, so the wait for the next tick is sampled
uniformly. The engine's own tick statistics come back from its run report.

    .venv/bin/python bench/bench_latency.py [--trials 1000] [--model IF_curr_exp|IF_curr_delta]
                                            [--client spinnlive|spynnaker|bridge|both|all] [--hog]

Where the time goes: the rest of the tick in progress when the spike arrives (the injector
emits it in that tick, as a board's injector core does, so a 1 ms delay reaches the target at
the next tick: between 0 and 1 ms, uniform over trials), the tick(s) the neuron model needs to
cross threshold (``IF_curr_delta`` fires in the tick its input arrives; ``IF_curr_exp``
integrates its synaptic current from the step after, so it needs a short ``tau_syn_E`` and a
large weight to fire one tick later), then the step, UDP and the client's receive and callback
threads. A spike that reaches the engine's tick thread just after a tick began (the board's
receive thread decodes it first) waits one more tick. With ``--client both`` sPyNNaker's own
``SpynnakerLiveSpikesConnection`` is measured as a peer against a fresh engine in the same run,
and the ratio printed. ``bridge`` (in ``all``) closes the loop through a spinnlive bridge process
instead: ``inject/inj`` on its ZeroMQ input, ``spikes/out`` from its publisher, so two more hops
(ZeroMQ -> UDP and UDP -> ZeroMQ) and two more processes than the direct clients.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from typing import Any

import numpy as np
from cpu_hog import cpu_hog

N = 16
#: weight (nA or mV) and cell parameters that make one input spike fire the target at once
MODELS = {"IF_curr_delta": (30.0, {}), "IF_curr_exp": (40.0, {"tau_syn_E": 0.5})}

ENGINE = """
import json, signal, sys
import spinnlive.pynn as sim
port, model, weight = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
cell, n = json.loads(sys.argv[4]), int(sys.argv[5])
ext = sim.external_devices
sim.setup(timestep=1.0)  # live I/O: real time by default
inj = sim.Population(n, ext.SpikeInjector(database_notify_port_num=port), label="inj")
out = sim.Population(n, getattr(sim, model)(**cell), label="out")
sim.Projection(inj, out, sim.OneToOneConnector(), sim.StaticSynapse(weight=weight, delay=1.0))
ext.activate_live_output_for(out, database_notify_port_num=port)
signal.signal(signal.SIGTERM, lambda *a: ext.request_stop())
ext.run_forever()
sim.end()
r = sim.simulator.state.last_report
t = r.timing
print("REPORT " + json.dumps(dict(
    ticks=r.ticks, late=t.late_ticks, overruns=t.overruns, p50_us=t.lateness_p50_s * 1e6,
    p99_us=t.lateness_p99_s * 1e6, max_us=t.lateness_max_s * 1e6,
    injected=r.live_io.board.injected_events, sent=r.live_io.live_output.events_sent)))
"""


class LiveConnectionClient:
    """A ``SpynnakerLiveSpikesConnection`` (sPyNNaker's or spinnlive's) straight to the engine."""

    def __init__(self, kind: str) -> None:
        if kind == "spynnaker":
            from spynnaker.pyNN.connections import SpynnakerLiveSpikesConnection
        else:
            from spinnlive.connections import SpynnakerLiveSpikesConnection
        self.conn = SpynnakerLiveSpikesConnection(receive_labels=["out"], send_labels=["inj"],
                                                  local_port=0)
        self.notify_port = self.conn.local_port
        self.arrived: dict[int, float] = {}
        self.signal = threading.Condition()
        self.started = threading.Event()
        self.conn.add_receive_callback("out", self._on_receive)
        self.conn.add_start_resume_callback("inj", lambda label, c: self.started.set())

    def _on_receive(self, label: str, time_: int, ids: list[int]) -> None:
        now = time.perf_counter()
        with self.signal:
            for i in ids:
                self.arrived.setdefault(int(i), now)
            self.signal.notify_all()

    def wait_started(self, timeout: float) -> bool:
        return self.started.wait(timeout)

    def send(self, i: int) -> None:
        with self.signal:
            self.arrived.pop(i, None)
        self.conn.send_spike("inj", i)

    def wait(self, i: int, timeout: float) -> float | None:
        with self.signal:
            self.signal.wait_for(lambda: i in self.arrived, timeout=timeout)
            return self.arrived.get(i)

    def close(self) -> None:
        self.conn.close()


class BridgeClient:
    """ZeroMQ through a spinnlive bridge process: ``inject/inj`` out, ``spikes/out`` in."""

    def __init__(self) -> None:
        from spinnlive.cli.launch import start_bridge
        from spinnlive.client import SyncClient

        self.bridge, where = start_bridge()
        self.notify_port = int(where["notify"][1])
        # subscribed (sync echo seen) before the engine exists: 'started' cannot be missed
        self.client = SyncClient(where["discovery"], timeout=10.0)
        self.link = self.client.subscribe("spikes/out", "lifecycle")

    def wait_started(self, timeout: float) -> bool:
        end = time.monotonic() + timeout
        while (left := end - time.monotonic()) > 0:
            message = self.link.receive(left)
            if message is not None and getattr(message, "event", None) == "started":
                return True
        return False

    def send(self, i: int) -> None:
        self.client.inject("inj", np.array([i], np.uint32))

    def wait(self, i: int, timeout: float) -> float | None:
        end = time.perf_counter() + timeout
        while (left := end - time.perf_counter()) > 0:
            message = self.link.receive(left)
            if message is not None and message.topic == b"spikes/out" and i in message.ids:
                return time.perf_counter()
        return None

    def close(self) -> None:
        from spinnlive.cli.launch import stop

        self.client.close()
        stop(self.bridge)


def measure(client: str, model: str, trials: int, warmup: int) -> dict[str, Any]:
    peer = BridgeClient() if client == "bridge" else LiveConnectionClient(client)
    engine = subprocess.Popen(
        [sys.executable, "-c", ENGINE, str(peer.notify_port), model, str(MODELS[model][0]),
         json.dumps(MODELS[model][1]), str(N)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    latencies, missed = [], 0
    rng = random.Random(1)
    try:
        if not peer.wait_started(60):
            raise SystemExit("the engine never started: " + engine.stderr.read()[-2000:])
        time.sleep(0.2)
        for trial in range(warmup + trials):
            i = trial % N
            time.sleep(0.003 + rng.random() * 0.001)  # settle, then a random tick phase
            t0 = time.perf_counter()
            peer.send(i)
            got = peer.wait(i, 0.2)
            if got is None:
                missed += 1
            elif trial >= warmup:
                latencies.append(got - t0)
    finally:
        engine.send_signal(signal.SIGTERM)
        out, err = engine.communicate(timeout=60)
        peer.close()
    lines = [x for x in out.splitlines() if x.startswith("REPORT ")]
    if engine.returncode != 0 or not lines:
        raise SystemExit(f"engine failed (rc {engine.returncode}):\n{err[-3000:]}")
    ms = np.array(latencies) * 1e3
    return {"client": client, "model": model, "n": ms.size, "missed": missed,
            "p50": float(np.percentile(ms, 50)), "p99": float(np.percentile(ms, 99)),
            "max": float(ms.max()), "engine": json.loads(lines[-1][len("REPORT "):])}


def show(row: dict[str, Any]) -> None:
    e = row["engine"]
    print(f"{row['client']:<10} {row['model']:<14} n={row['n']:<5} missed={row['missed']:<3}"
          f" latency p50 {row['p50']:6.3f} ms  p99 {row['p99']:6.3f} ms  max {row['max']:6.3f} ms"
          f" | engine: {e['late']} of {e['ticks']} ticks late, lateness p50 {e['p50_us']:.0f} us"
          f" p99 {e['p99_us']:.0f} us max {e['max_us']:.0f} us, overruns {e['overruns']}")


CLIENTS = {"spinnlive": ["spinnlive"], "spynnaker": ["spynnaker"], "bridge": ["bridge"],
           "both": ["spinnlive", "spynnaker"], "all": ["spinnlive", "spynnaker", "bridge"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--client", choices=sorted(CLIENTS), default="both")
    parser.add_argument("--model", choices=sorted(MODELS), default="IF_curr_delta")
    parser.add_argument("--hog", action="store_true",
                        help="one CPU-spinning process throughout (the loaded condition)")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} at start"
          f"{', plus one CPU hog' if args.hog else ''}")
    rows = {}
    with cpu_hog(args.hog):
        for client in CLIENTS[args.client]:
            try:
                rows[client] = measure(client, args.model, args.trials, args.warmup)
            except ImportError as error:
                print(f"{client}: not measured ({error})")
                continue
            show(rows[client])
    print("target: p99 <= 2.5 ms at 1 ms ticks")
    peer = rows.get("spynnaker")
    for client in ("spinnlive", "bridge"):
        if peer is not None and client in rows:
            for key in ("p50", "p99", "max"):
                print(f"ratio {client}/spynnaker latency {key}: "
                      f"{rows[client][key] / peer[key]:.2f}x")


if __name__ == "__main__":
    main()
