"""``spinnlive run`` as a real subprocess with the bridge on: the script and the process helper
shared by the end-to-end and JS-client tests."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

#: SpikeInjector 'stim' -> one-to-one, 5 nA, 1 ms -> IF_curr_exp 'out'; optionally a busy
#: Poisson population 'noise' (argv[2] neurons at 500 Hz) that fills the output streams, and
#: with argv[3] == "hold" the script waits for a line on stdin after printing its recordings
#: (the run is over, the bridge still up: clients can ask it for totals).
SCRIPT = """\
import json, sys
import pyNN.spiNNaker as sim
run_ms = float(sys.argv[1])
noise_n = int(sys.argv[2]) if len(sys.argv) > 2 else 0
hold = len(sys.argv) > 3 and sys.argv[3] == "hold"
sim.setup(timestep=1.0)
stim = sim.Population(8, sim.external_devices.SpikeInjector(notify=False), label="stim")
out = sim.Population(8, sim.IF_curr_exp(), label="out")
sim.Projection(stim, out, sim.OneToOneConnector(), sim.StaticSynapse(weight=5.0, delay=1.0))
if noise_n:
    sim.Population(noise_n, sim.SpikeSourcePoisson(rate=500.0), label="noise")
stim.record("spikes")
out.record("spikes")
sim.run(run_ms)

def events(pop):
    res = []
    for train in pop.get_data("spikes").segments[0].spiketrains:
        i = int(train.annotations["source_index"])
        res += [[int(round(float(t))) - 1, i] for t in train.magnitude]  # LPG stamps tick t
    return sorted(res)

print("RECORDED " + json.dumps({"stim": events(stim), "out": events(out)}), flush=True)
if hold:
    sys.stdin.readline()
sim.end()
"""


class LiveRun:
    """``spinnlive run`` in a subprocess; stdout lines are read by a thread into a queue."""

    def __init__(self, tmp_path: Path, *script_args: str, cli_args: tuple[str, ...] = ()) -> None:
        script = tmp_path / "net.py"
        script.write_text(SCRIPT)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "spinnlive.cli", "--log-level", "WARNING", "run",
             str(script), "--discovery", "tcp://127.0.0.1:0", "--no-plot", *cli_args, "--",
             *script_args], cwd=tmp_path, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)
        self.recorded: dict[str, Any] | None = None
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def wait_line(self, prefix: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            line = self.lines.get(timeout=max(deadline - time.monotonic(), 0.01))
            if line is None:
                raise AssertionError(f"spinnlive run ended before {prefix!r}: {self.seen}\n"
                                     f"{self.proc.stderr.read() if self.proc.stderr else ''}")
            self.seen.append(line)
            if line.startswith(prefix):
                return line

    def discovery(self) -> str:
        return self.wait_line("bridge: discovery").split()[2]

    def wait_recorded(self, timeout: float = 30.0) -> dict[str, Any]:
        """The script's recorded spikes, once its run is over (a ``hold`` script waits then)."""
        if self.recorded is None:
            self.recorded = json.loads(self.wait_line("RECORDED", timeout).split(" ", 1)[1])
        return self.recorded

    def finish(self, timeout: float = 30.0) -> tuple[dict[str, Any], list[str]]:
        """Let a holding script go on, wait for the end; the recorded spikes and every stdout
        line."""
        recorded = self.wait_recorded(timeout)
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            self.proc.stdin.write("\n")
            self.proc.stdin.close()
        assert self.proc.wait(timeout) == 0, self.proc.stderr.read() if self.proc.stderr else ""
        while (line := self.lines.get(timeout=5)) is not None:
            self.seen.append(line)
        return recorded, self.seen

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
