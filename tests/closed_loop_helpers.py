"""Shared by the closed-loop adapter tests: a bridge process and a live network process.

The bridge runs as ``python closed_loop_helpers.py bridge <inject labels> [ports]`` (older than
``python -m spinnlive.bridge --inject-label``, which the lock-step replay test uses): an injector
that also has live output (so the test can see on which tick each injection landed) is an
``out`` population unless the operator names it. The network is a PyNN script on the embedded engine, real time
with a time scale factor (a real-time engine never waits for a client; the factor is the margin
the closed loop gets; a factor of 0 runs it in lock-step instead), with a *pacer* that fires every tick so the adapters can follow the ticks:

    pacer (1, fires every tick) --live-->
    inj (SpikeInjector, 10) --one-to-one, 5 nA, 1 ms--> pop (IF_curr_exp, 10) --live-->
    src (SpikeSourceArray, 5: atom i at 40 + 3 i ms) --live-->
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_bridge(inject: str = "inj", ports: tuple[int, int, int, int] | None = None
                 ) -> tuple[subprocess.Popen[str], dict[str, object]]:
    """A bridge process; returns it and its endpoints line (notify, discovery, publish, input)."""
    notify, disc, pub, inp = ports or (0, 0, 0, 0)
    proc = subprocess.Popen([sys.executable, str(HERE), "bridge", inject, str(notify), str(disc),
                             str(pub), str(inp)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        proc.kill()
        raise AssertionError(f"bridge exited with {proc.wait()} before binding")
    return proc, json.loads(line)


def stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def start_network(notify_port: int, ticks: int, cwd: Path, tsf: float = 10.0
                  ) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, str(HERE), "network", str(notify_port), str(ticks),
                             str(tsf)], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def network_result(proc: subprocess.Popen[str], timeout: float = 60) -> dict[str, list]:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err[-3000:]
    line = [x for x in out.splitlines() if x.startswith("RESULT ")][-1]
    return json.loads(line[len("RESULT "):])


def _bridge(inject: str, notify: int, disc: int, pub: int, inp: int) -> None:
    import asyncio
    import signal

    from spinnlive.bridge import Bridge, BridgeConfig

    async def main() -> None:
        config = BridgeConfig(notify_port=notify, discovery=f"tcp://127.0.0.1:{disc}",
                              publish=f"tcp://127.0.0.1:{pub}", input=f"tcp://127.0.0.1:{inp}",
                              tag_timeout_s=2.0, tag_resend_s=0.2, stats_interval_s=0.5,
                              inject_labels=tuple(inject.split(",")))
        async with Bridge(config) as bridge:
            loop = asyncio.get_running_loop()
            loop.add_signal_handler(signal.SIGTERM, lambda: asyncio.ensure_future(bridge.close()))
            print(json.dumps({"notify": list(bridge.notify_address), **bridge.endpoints}),
                  flush=True)
            await bridge.wait_closed()

    asyncio.run(main())


def _network(notify: int, ticks: int, tsf: float) -> None:
    import spinnlive.pynn as sim

    if tsf > 0:
        sim.setup(timestep=1.0, time_scale_factor=tsf, realtime=True)
    else:  # lock-step: as fast as it can, never waiting for a client
        sim.setup(timestep=1.0, realtime=False)
    ext = sim.external_devices
    every = [float(t) for t in range(1, ticks + 1)]
    pacer = sim.Population(1, sim.SpikeSourceArray(spike_times=every), label="pacer")
    inj = sim.Population(10, ext.SpikeInjector(database_notify_port_num=notify), label="inj")
    pop = sim.Population(10, sim.IF_curr_exp(), label="pop")
    src = sim.Population(5, sim.SpikeSourceArray(spike_times=[[40.0 + 3 * i] for i in range(5)]),
                         label="src")
    sim.Projection(inj, pop, sim.OneToOneConnector(), sim.StaticSynapse(weight=5.0, delay=1.0))
    pops = (pacer, inj, pop, src)
    for p in pops:
        ext.activate_live_output_for(p, database_notify_port_num=notify)
        p.record("spikes")
    sim.run(ticks)
    result = {}
    for p in pops:  # (tick, atom) of every recorded spike: tick = round(ms / dt) - 1
        result[p.label] = sorted(
            (round(float(t)) - 1, int(train.annotations["source_index"]))
            for train in p.get_data("spikes").segments[0].spiketrains for t in train.magnitude)
    sim.end()
    print("RESULT", json.dumps(result), flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "bridge":
        _bridge(sys.argv[2], *map(int, sys.argv[3:7]))
    else:
        _network(int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]))
