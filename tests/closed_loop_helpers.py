"""Shared by the closed-loop adapter tests: a bridge process and a live network process.

The bridge is ``python -m spinnlive.bridge --inject-label inj``: an injector that also has live
output (so the test can see on which tick each injection landed) is an ``out`` population unless
the operator names it. The network is a PyNN script on the embedded engine, real time
with a time scale factor (a real-time engine never waits for a client; the factor is the margin
the closed loop gets; a factor of 0 runs it in lock-step instead), with a *pacer* that fires every tick so the adapters can follow the ticks:

    pacer (1, fires every tick) --live-->
    inj (SpikeInjector, 10) --one-to-one, 5 nA, 1 ms--> pop (IF_curr_exp, 10) --live-->
    src (SpikeSourceArray, 5: atom i at 40 + 3 i ms, i.e. tick SRC_TICKS[i]) --live-->

``holds`` (``{tick: n}``) puts the real-time run in lock-step with the test's client: tick
``tick`` does not start before the board has received ``n`` injected events in all
(waiting.TickHold), so a client's answer lands on the tick the test asserts however slow the
machine is. A test holds the tick after the one an answer is due in.

``open_ended`` runs the network until the test ends it (:func:`end_run`, SIGUSR1: the engine's
``request_stop``), its pacer firing for up to ``ticks``: a test that waits on what a slow
observer does with the stream (a niced monitor under load) gets a stream for as long as that
takes, not for a fixed time.
"""

from __future__ import annotations

import importlib.util
import json
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from spinnlive.cli import launch

HERE = Path(__file__).resolve()
#: the ticks at which ``src`` atom i fires (spike times 40 + 3 i ms)
SRC_TICKS = tuple(39 + 3 * i for i in range(5))


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


#: a hang guard for a held confirmation (the test releases it): the bridge's hold and the
#: network's wait for the confirmation, which must outlast it
HOLD_GUARD_S = 120.0


def start_bridge(inject: str = "inj", ports: tuple[int, int, int, int] | None = None,
                 hold: bool = False) -> tuple[subprocess.Popen[str], dict[str, object]]:
    """``python -m spinnlive.bridge --inject-label ...`` (:func:`spinnlive.cli.launch.start_bridge`);
    ``ports`` = (notify, discovery, publish, input), 0 for any free one. ``hold``: the bridge
    holds each run's start until a client sends ``ready`` (see :func:`release`)."""
    notify, disc, pub, inp = ports or (0, 0, 0, 0)
    extra = tuple(arg for label in inject.split(",") for arg in ("--inject-label", label))
    if hold:
        extra += ("--hold-confirmation", "--hold-timeout", str(HOLD_GUARD_S))
    return launch.start_bridge(notify, f"tcp://127.0.0.1:{disc}", f"tcp://127.0.0.1:{pub}",
                               f"tcp://127.0.0.1:{inp}", extra=extra)


def release(discovery: str, network: subprocess.Popen[str],
            before_start: Callable[[], Any] = lambda: None) -> Any:
    """Wait (while ``network`` lives) until a holding bridge awaits ``ready``, call
    ``before_start`` (the database is read: a client can find the populations) and send
    ``ready``: the run starts only once the test's clients are in place, whatever its start-up
    took. Returns what ``before_start`` returned."""
    from waiting import wait_until

    from spinnlive.client import SyncClient

    with SyncClient(discovery) as client:
        def held() -> bool:
            assert network.poll() is None, f"the network exited ({network.returncode})"
            return bool(client.describe().get("awaiting_ready"))

        wait_until(held, "the bridge to hold the network's start", HOLD_GUARD_S)
        result = before_start()
        client.ready(int(client.description["epoch"]))
    return result


def stop_on_failure(network: subprocess.Popen[str], stop_follower: Callable[[], None]
                    ) -> threading.Thread:
    """Call ``stop_follower`` if ``network`` exits with an error: a client following its run
    without a deadline of its own then ends too (a clean exit leaves it to finish the run)."""
    def watch() -> None:
        if network.wait() != 0:
            stop_follower()

    thread = threading.Thread(target=watch, daemon=True, name="network-watch")
    thread.start()
    return thread


stop = launch.stop


def start_network(notify_port: int, ticks: int, cwd: Path, tsf: float = 10.0,
                  holds: dict[int, int] | None = None,
                  open_ended: bool = False) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, str(HERE), "network", str(notify_port), str(ticks),
                             str(tsf), json.dumps(holds or {}), str(int(open_ended))], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def end_run(proc: subprocess.Popen[str]) -> None:
    """End an ``open_ended`` network's run after the tick in progress (it then reports)."""
    proc.send_signal(signal.SIGUSR1)


def network_result(proc: subprocess.Popen[str], timeout: float = 60) -> dict[str, list]:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err[-3000:]
    line = [x for x in out.splitlines() if x.startswith("RESULT ")][-1]
    return json.loads(line[len("RESULT "):])


def _network(notify: int, ticks: int, tsf: float, holds: dict[int, int],
             open_ended: bool) -> None:
    from waiting import TickHold, injected_before

    import spinnlive.pynn as sim

    guard = {"wait_on_confirmation_timeout": HOLD_GUARD_S + 30.0}  # outlasts a held start
    if tsf > 0:
        sim.setup(timestep=1.0, time_scale_factor=tsf, realtime=True, **guard)
        if holds:
            TickHold.install(sim, injected_before(sim, holds), f"injected events {holds}")
    else:  # lock-step: as fast as it can, never waiting for a client
        sim.setup(timestep=1.0, realtime=False, **guard)
    ext = sim.external_devices
    every = [float(t) for t in range(1, ticks + 1)]
    pacer = sim.Population(1, sim.SpikeSourceArray(spike_times=every), label="pacer")
    inj = sim.Population(10, ext.SpikeInjector(database_notify_port_num=notify), label="inj")
    pop = sim.Population(10, sim.IF_curr_exp(), label="pop")
    src = sim.Population(5, sim.SpikeSourceArray(spike_times=[[t + 1.0] for t in SRC_TICKS]),
                         label="src")
    sim.Projection(inj, pop, sim.OneToOneConnector(), sim.StaticSynapse(weight=5.0, delay=1.0))
    pops = (pacer, inj, pop, src)
    for p in pops:
        ext.activate_live_output_for(p, database_notify_port_num=notify)
        p.record("spikes")
    if open_ended:
        signal.signal(signal.SIGUSR1, lambda *_: ext.request_stop())
        ext.run_forever()
    else:
        sim.run(ticks)
    result = {}
    for p in pops:  # (tick, atom) of every recorded spike: tick = round(ms / dt) - 1
        result[p.label] = sorted(
            (round(float(t)) - 1, int(train.annotations["source_index"]))
            for train in p.get_data("spikes").segments[0].spiketrains for t in train.magnitude)
    sim.end()
    print("RESULT", json.dumps(result), flush=True)


if __name__ == "__main__":
    _network(int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]),
             {int(k): int(v) for k, v in json.loads(sys.argv[5]).items()}, sys.argv[6] == "1")
