"""The ``spinnlive`` command, run as a user runs it: a real subprocess on a real script."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

SCRIPT = textwrap.dedent("""
    import pyNN.spiNNaker as sim   # aliased to spinnlive.pynn by `spinnlive run`

    sim.setup(timestep=1.0)
    drive = sim.Population(20, sim.SpikeSourcePoisson(rate=100.0), label="drive")
    cells = sim.Population(10, sim.IF_curr_exp(), label="cells")
    sim.Projection(drive, cells, sim.AllToAllConnector(),
                   sim.StaticSynapse(weight=0.5, delay=1.0), receptor_type="excitatory")
    cells.record("spikes")
    sim.run(500)
    n = sum(len(st) for st in cells.get_data("spikes").segments[0].spiketrains)
    print("SCRIPT-SPIKES", n)
    sim.end()
""")


def _spinnlive(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "spinnlive.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def test_run_prints_summary_and_saves_raster(tmp_path: Path) -> None:
    script = tmp_path / "net.py"
    script.write_text(SCRIPT)
    done = _spinnlive("run", str(script), "--fast", "--discovery", "tcp://127.0.0.1:0",
                      cwd=tmp_path)  # a free port: other runs may hold the default
    assert done.returncode == 0, done.stderr
    spikes = int(done.stdout.split("SCRIPT-SPIKES")[1].split()[0])
    assert spikes > 0
    summary = [line for line in done.stdout.splitlines() if line.strip().startswith("cells")]
    assert summary, done.stdout
    rate = float(summary[0].split()[-2])
    assert abs(rate - spikes / 10 / 0.5) < 0.01  # the summary's rate is the script's own count
    png = tmp_path / "net_raster.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "|0%" in done.stderr  # progress bars are drawn


def test_missing_script_is_a_clear_error(tmp_path: Path) -> None:
    done = _spinnlive("run", str(tmp_path / "nope.py"), cwd=tmp_path)
    assert done.returncode == 2
    assert "no such script" in done.stderr
