"""Live I/O of a PyNN script on the embedded engine, driven by sPyNNaker's own clients (in this
process, unmodified) and by spinnlive's clients (in a subprocess where sPyNNaker cannot import).

The scenarios are in ``live_scenarios.py``; they assert against what the engine recorded.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from live_scenarios import SCENARIOS

import spinnlive.pynn as sim

HERE = Path(__file__).resolve().parent


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # the run folders (reports/...) go here
    monkeypatch.delenv("SPINNLIVE_CLOCK", raising=False)


def spynnaker_class(name: str) -> type:
    connections = pytest.importorskip("spynnaker.pyNN.connections")
    return getattr(connections, name)


def test_spynnaker_client_injects_and_receives_across_two_runs(tmp_path: Path) -> None:
    result = SCENARIOS["two_runs"](sim, spynnaker_class("SpynnakerLiveSpikesConnection"))
    assert result["callbacks"] == ["start inj", "stop inj"] * 2
    assert not (tmp_path / "reports").exists()  # the database went at end()


def test_spynnaker_client_stops_run_forever() -> None:
    result = SCENARIOS["forever"](sim, spynnaker_class("SpynnakerLiveSpikesConnection"))
    assert result["stopped_at_ms"] > 0


def test_spynnaker_poisson_control_sets_rates_live() -> None:
    result = SCENARIOS["poisson_rates"](
        sim, spynnaker_class("SpynnakerPoissonControlConnection"))
    assert result["first_tick"] > 0


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_spinnlive_clients_without_spynnaker(scenario: str, tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, str(HERE / "live_scenarios.py"), scenario],
                          cwd=tmp_path, capture_output=True, text=True, timeout=100)
    assert done.returncode == 0, done.stderr[-4000:]
    line = [x for x in done.stdout.splitlines() if x.startswith("RESULT ")][-1]
    result = json.loads(line[len("RESULT "):])
    assert result["foreign_modules"] == []
    assert not (tmp_path / "reports").exists()
