"""Asking for a machine size: sPyNNaker's ``setup()`` arguments and ``spinnlive run``'s flag."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import spinnlive.pynn as sim
from spinnlive.errors import ConfigurationError
from spinnlive.pynn import simulator


@pytest.mark.parametrize(("kwargs", "boards"), [
    ({}, 1), ({"n_boards_required": 1}, 1), ({"n_boards_required": 2}, 3),
    ({"n_boards_required": 4}, 6), ({"n_chips_required": 100}, 3)])
def test_setup_machine_size_gives_spynnakers_board_count(kwargs: dict, boards: int) -> None:
    sim.setup(timestep=1.0, realtime=False, **kwargs)
    sim.Population(5, sim.IF_curr_exp(), label="p")
    sim.run(2)
    mapping = simulator.state.engine.mapping
    assert mapping.n_boards == boards
    assert len({c.nearest_ethernet for c in mapping.machine.chips}) == boards
    sim.end()


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"n_boards_required": 2, "n_chips_required": 96}, "not both"),
    ({"n_boards_required": 0}, "positive integer"),
    ({"n_chips_required": "many"}, "positive integer")])
def test_bad_machine_sizes_are_refused(kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        sim.setup(timestep=1.0, realtime=False, **kwargs)


SCRIPT = """\
import pyNN.spiNNaker as sim
from spinnlive.pynn import simulator
sim.setup(timestep=1.0)
inj = sim.Population(4, sim.external_devices.SpikeInjector(notify=False), label="inj")
sim.run(3)
live = simulator.state.engine.live
print("BOARDS", simulator.state.engine.mapping.n_boards, len({b.address[0] for b in live.boards}))
sim.end()
"""


@pytest.mark.timeout(400)
def test_cli_flag_maps_an_unchanged_script_on_three_board_endpoints(tmp_path: Path) -> None:
    (tmp_path / "net.py").write_text(SCRIPT)
    done = subprocess.run(
        [sys.executable, "-m", "spinnlive.cli", "--log-level", "WARNING", "run", "net.py",
         "--no-bridge", "--fast", "--no-plot", "--n-boards-required", "3"],
        cwd=tmp_path, capture_output=True, text=True, timeout=350)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    assert "BOARDS 3 3" in done.stdout
    refused = subprocess.run(
        [sys.executable, "-m", "spinnlive.cli", "run", "net.py", "--backend", "spinnaker",
         "--no-bridge", "--n-boards-required", "3"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "sPyNNaker's own" in refused.stderr
