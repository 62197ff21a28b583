"""What a script pays before and after its network runs: imports it does not use, the exit.

Run in fresh interpreters (the suite's own process has imported everything already).
"""

from __future__ import annotations

import subprocess
import sys


def _python(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_a_script_imports_the_live_connections_only_when_it_uses_them() -> None:
    out = _python(
        "import sys\n"
        "import spinnlive.pynn as sim\n"
        "print(sorted(m for m in ('spinnlive.connections',\n"
        "      'spinnlive.pynn.external_devices') if m in sys.modules))\n"
        "print(sim.external_devices.SpynnakerLiveSpikesConnection.__name__)\n"
        "print('spinnlive.pynn.external_devices' in sys.modules)\n")
    assert out.split("\n")[:3] == ["[]", "SpynnakerLiveSpikesConnection", "True"]


def test_external_devices_imports_as_a_submodule_too() -> None:
    out = _python("from spinnlive.pynn import external_devices\n"
                  "import spinnlive.pynn.external_devices as again\n"
                  "print(external_devices is again)\n")
    assert out.strip() == "True"


def test_the_heap_is_frozen_when_a_process_that_built_a_simulation_exits() -> None:
    # atexit runs handlers last-registered first: this one, registered before the engine's,
    # runs after it and sees what the final collections will see
    out = _python(
        "import atexit, gc\n"
        "atexit.register(lambda: print('frozen at exit', gc.get_freeze_count() > 0))\n"
        "from spinnlive.engine.simulation import Simulation\n"
        "print('frozen before', gc.get_freeze_count() > 0)\n"
        "Simulation(1.0)\n")
    assert out.split("\n")[:2] == ["frozen before False", "frozen at exit True"]
