"""Shared by the closed-loop adapter tests: a bridge process and a live network process.

The bridge is ``python -m spinnlive.bridge --inject-label inj``: an injector that also has live
output (so the test can see on which tick each injection landed) is an ``out`` population unless
the operator names it. The network is a PyNN script on the embedded engine, real time
with a time scale factor (a real-time engine never waits for a client; the factor is the margin
the closed loop gets; a factor of 0 runs it in lock-step instead), with a *pacer* that fires every tick so the adapters can follow the ticks:

    pacer (1, fires every tick) --live-->
    inj (SpikeInjector, 10) --one-to-one, 5 nA, 1 ms--> pop (IF_curr_exp, 10) --live-->
    src (SpikeSourceArray, 5: atom i at 40 + 3 i ms) --live-->
"""

from __future__ import annotations

import importlib.util
import json
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from spinnlive.cli import launch

HERE = Path(__file__).resolve()


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fixed_bridge_ports() -> dict[str, object]:
    """Free ports, as ``spinnlive.cli.launch.start_bridge`` keywords, for a bridge that is restarted
    on the same endpoints (the clients under test must find it again)."""
    return dict(notify_port=free_port(socket.SOCK_DGRAM),
                discovery=f"tcp://127.0.0.1:{free_port()}",
                publish=f"tcp://127.0.0.1:{free_port()}",
                input_endpoint=f"tcp://127.0.0.1:{free_port()}")


def load_example(name: str) -> Any:
    """``examples/<name>.py`` as a module, to reuse its network and its process helpers."""
    path = HERE.parent.parent / "examples" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while it executes
    spec.loader.exec_module(module)
    return module


def start_bridge(inject: str = "inj", ports: tuple[int, int, int, int] | None = None
                 ) -> tuple[subprocess.Popen[str], dict[str, object]]:
    """``python -m spinnlive.bridge --inject-label ...`` (:func:`spinnlive.cli.launch.start_bridge`);
    ``ports`` = (notify, discovery, publish, input), 0 for any free one."""
    notify, disc, pub, inp = ports or (0, 0, 0, 0)
    labels = tuple(arg for label in inject.split(",") for arg in ("--inject-label", label))
    return launch.start_bridge(notify, f"tcp://127.0.0.1:{disc}", f"tcp://127.0.0.1:{pub}",
                               f"tcp://127.0.0.1:{inp}", extra=labels)


stop = launch.stop


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
    _network(int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]))
