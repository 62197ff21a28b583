"""``spinnlive run --backend spinnaker``: the script runs through sPyNNaker itself (here on its
virtual board) with spinnlive's bridge registered as its notification listener."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("spynnaker")

from spynnaker_virtual import SPYNNAKER_CFG  # noqa: E402

SCRIPT = textwrap.dedent("""
    import pyNN.spiNNaker as sim
    sim.setup(timestep=1.0)
    ext = sim.external_devices
    stim = sim.Population(10, ext.SpikeInjector(notify=False), label="stim")
    out = sim.Population(300, sim.IF_curr_exp(), label="out")
    ext.activate_live_output_for(out, notify=False)
    sim.Projection(stim, out, sim.OneToOneConnector(), sim.StaticSynapse(weight=5.0))
    sim.run(10)
    sim.run(10)
    sim.end()
""")


def test_spynnaker_backend_notifies_the_bridge_every_run(tmp_path: Path) -> None:
    (tmp_path / ".spynnaker.cfg").write_text(SPYNNAKER_CFG)
    (tmp_path / "net.py").write_text(SCRIPT)
    env = {k: v for k, v in os.environ.items() if not k.startswith("XDG_CONFIG")}
    env.update(HOME=str(tmp_path), MPLBACKEND="Agg", PYTHONUNBUFFERED="1")
    done = subprocess.run(
        [sys.executable, "-m", "spinnlive.cli", "run", "net.py", "--backend", "spinnaker",
         "--no-plot", "--discovery", "tcp://127.0.0.1:0"], cwd=tmp_path, env=env,
        capture_output=True, text=True, timeout=120)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    # sPyNNaker's own log: the bridge confirmed each of the two run steps' notifications
    assert output.count("Confirmation from") == 2, output[-3000:]
    assert "bridge ready (epoch 1)" in output and "bridge ready (epoch 2)" in output
    assert "spikes/out" in output  # the discovery description names the output topic
    for line in output.splitlines():
        assert not ("WARNING" in line and "notif" in line.lower()), line
