"""Run a PyNN script under sPyNNaker's own toolchain on a virtual board; return its I/O database.

The reference writes ``reports/<timestamp>/run_<n>/input_output_database.sqlite3`` only when
``[Reports] keep_input_output_database`` is set. spinn_utilities insists on a user config in the
home directory (and writes a template there, then fails, when there is none), so the run gets
``HOME`` = the scratch directory holding ``.spynnaker.cfg``; nothing outside it is touched. A
virtual board needs no network. Scripts should pass ``notify=False`` to SpikeInjector,
``activate_live_output_for`` and ``add_poisson_live_rate_control`` unless they mean to test the
notification handshake: a stranger listening on 19999 that never answers would hang the run.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SPYNNAKER_CFG = """\
[Machine]
virtual_board = True
version = 5

[Reports]
keep_input_output_database = True

[Mode]
mode = Production
"""

#: The network most database tests use: a multi-core population with live output (colour-bit
#: keys, two cores), an injector (keys step 1), a Poisson source with live rate control, a
#: fixed-key injector and a second LPG with its own host/port.
REFERENCE_SCRIPT = """\
import pyNN.spiNNaker as sim
sim.setup(timestep=1.0)
ext = sim.external_devices
inj = sim.Population(10, ext.SpikeInjector(notify=False), label="inj")
pop = sim.Population(300, sim.IF_curr_exp(), label="pop")
ext.activate_live_output_for(pop, notify=False)
poisson = sim.Population(20, sim.SpikeSourcePoisson(rate=10.0), label="poisson")
ext.add_poisson_live_rate_control(poisson, notify=False)
ext.activate_live_output_for(poisson, host="127.0.0.1", port=17896, notify=False)
fixed = sim.Population(3, ext.SpikeInjector(notify=False), label="inj_fixed",
                       additional_parameters={"virtual_key": 0x70000})
sim.Projection(inj, pop, sim.OneToOneConnector(), sim.StaticSynapse(weight=5.0))
sim.Projection(poisson, pop, sim.AllToAllConnector(), sim.StaticSynapse(weight=0.1))
sim.Projection(fixed, pop, sim.OneToOneConnector(), sim.StaticSynapse(weight=5.0))
sim.run(10)
sim.end()
"""


def spynnaker_virtual_run(tmp_path: Path, script_text: str, timeout: float = 100.0) -> Path:
    """Run ``script_text`` with sPyNNaker on a virtual SpiNN-5 board in ``tmp_path``.

    Returns the newest ``input_output_database.sqlite3`` the run kept; raises
    ``AssertionError`` with the end of the run's output when the script fails or keeps none.
    """
    tmp_path = Path(tmp_path)
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / ".spynnaker.cfg").write_text(SPYNNAKER_CFG)
    (tmp_path / "script.py").write_text(script_text)
    env = {k: v for k, v in os.environ.items() if not k.startswith("XDG_CONFIG")}
    env.update(HOME=str(tmp_path), MPLBACKEND="Agg", PYTHONUNBUFFERED="1")
    proc = subprocess.run([sys.executable, "script.py"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)
    output = (proc.stdout + proc.stderr)[-4000:]
    if proc.returncode != 0:
        raise AssertionError(f"sPyNNaker script failed (rc {proc.returncode}):\n{output}")
    found = sorted(tmp_path.glob("reports/*/run_*/input_output_database.sqlite3"),
                   key=lambda p: p.stat().st_mtime)
    if not found:
        raise AssertionError(f"sPyNNaker kept no input_output_database.sqlite3:\n{output}")
    return found[-1]
