"""pyNN.spiNNaker scripts on spinnlive: the seed document's script, run unchanged."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

# The user's script, copied verbatim from the script part of the seed document (the project carries
# what its tests read: nothing beside the checkout is needed).
SEED = Path(__file__).resolve().parent / "data" / "programming_spinnaker_seed.py"


def seed_script(simtime: int) -> str:
    """The seed script up to ``sim.end()`` (no plotting window), with a shorter run for the test."""
    doc = SEED.read_text()
    code = doc[doc.index("import matplotlib"):doc.index("sim.end()") + len("sim.end()")]
    assert "simtime=5000" in code
    return code.replace("simtime=5000", f"simtime={simtime}")


def test_seed_script_runs_unchanged_through_spinnaker_compat(tmp_path: Path) -> None:
    script = tmp_path / "seed.py"
    script.write_text(seed_script(1000))
    driver = textwrap.dedent(f"""
        import json, sys
        import matplotlib
        matplotlib.use("Agg")
        from spinnlive.pynn.spinnaker_compat import run_script
        from spinnlive.analysis import spike_arrays, summarize
        g = run_script({str(script)!r})
        import pyNN.spiNNaker
        out = {{"module": pyNN.spiNNaker.__name__}}
        for key, n in (("exc_data", 500), ("inh_data", 125)):
            seg = g[key].segments[0]
            out[key] = summarize(*spike_arrays(seg.spiketrains), n, 0.0, 1000.0).rate_hz
            out[key + "_trains"] = len(seg.spiketrains)
        print(json.dumps(out))
    """)
    done = subprocess.run([sys.executable, "-c", driver], capture_output=True, text=True,
                          timeout=100, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["module"] == "spinnlive.pynn.spinnaker"
    assert out["exc_data_trains"] == 500 and out["inh_data_trains"] == 125
    assert 4.0 < out["exc_data"] < 20.0  # NEST: about 8.5 Hz
    assert 4.0 < out["inh_data"] < 20.0  # NEST: about 9.5 Hz


def test_install_maps_the_spinnaker_module_names() -> None:
    from spinnlive.pynn import external_devices, spinnaker_compat

    saved = {k: sys.modules.get(k) for k in ("pyNN.spiNNaker",
                                              "pyNN.spiNNaker.external_devices")}
    try:
        spinnaker_compat.install()
        import pyNN.spiNNaker as sim
        from pyNN.spiNNaker import external_devices as devices

        import spinnlive.pynn
        from spinnlive.pynn.standardmodels.spynnaker_cells import IzkCurrExpBase

        assert sim is spinnlive.pynn.spinnaker and devices is external_devices
        assert sim.Population is spinnlive.pynn.Population and sim.setup is spinnlive.pynn.setup
        # the one name whose meaning differs: sPyNNaker's Izhikevich
        assert sim.Izhikevich is IzkCurrExpBase
        assert spinnlive.pynn.Izhikevich is not IzkCurrExpBase
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v
