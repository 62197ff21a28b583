"""PyNN's own system test scenarios on spinnlive, with pyNN.nest in the same run as the oracle.

The scenarios come from the sdist of the installed PyNN release (:mod:`pynn_upstream`) and run in
a child pytest through PyNN's backend mechanism (:mod:`pynn_scenario_plugin`). Every scenario
that passes on pyNN.nest must pass on spinnlive, except those listed in
:data:`test_pynn_scenario_differences.DIFFERENCES`, each with its reason and a test of what
spinnlive does there. A difference listed as by design must still differ (a stale entry fails).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from pynn_upstream import RegistryUnreachable, pynn_tree
from test_pynn_scenario_differences import DESIGN, DIFFERENCES

logger = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent


def run_scenarios(tree: Path, out: Path) -> dict[str, dict[str, str]]:
    """``{scenario: {simulator: outcome}}`` (passed / failed / skipped) from a child pytest."""
    ini = out / "pytest.ini"
    ini.write_text("[pytest]\n")
    report = out / "scenarios.xml"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), str(tree / "test/system")]),
           "MPLBACKEND": "Agg", "SPINNLIVE_SCENARIO_SIMULATORS": "nest,spinnlive"}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-c", str(ini), "--rootdir", str(tree / "test/system"),
         "-p", "pynn_scenario_plugin", "-p", "no:cacheprovider", "--timeout", "600",
         f"--junitxml={report}", str(tree / "test/system/scenarios")],
        capture_output=True, text=True, timeout=2400, cwd=out, env=env)
    assert report.exists(), done.stdout[-3000:] + done.stderr[-3000:]
    outcomes: dict[str, dict[str, str]] = {}
    for case in ET.parse(report).iter("testcase"):
        name = case.get("name", "")
        if "[" not in name:
            continue
        base, sim = name[:-1].split("[", 1)
        module = case.get("classname", "").rsplit(".", 1)[-1]
        kind = "passed"
        for child in case:
            if child.tag in ("failure", "error"):
                kind = "failed"
            elif child.tag == "skipped":
                kind = "skipped"
        outcomes.setdefault(f"{module}::{base}", {})[sim] = kind
    return outcomes


@pytest.mark.timeout(2700)
def test_every_scenario_nest_passes_passes_on_spinnlive_or_is_a_listed_difference(
        tmp_path: Path) -> None:
    try:
        tree = pynn_tree()
    except RegistryUnreachable as err:
        pytest.skip(f"PyNN's scenarios need its sdist from the package registry: {err}")
    outcomes = run_scenarios(tree, tmp_path)
    on_nest = {name for name, sims in outcomes.items() if sims.get("nest") == "passed"}
    ours = {name for name, sims in outcomes.items() if sims.get("spinnlive") == "passed"}
    assert len(on_nest) >= 60, f"pyNN.nest passed only {len(on_nest)} scenarios: {outcomes}"
    unknown = set(DIFFERENCES) - set(outcomes)
    assert not unknown, f"DIFFERENCES names scenarios that do not exist: {sorted(unknown)}"
    missing = sorted(on_nest - ours - set(DIFFERENCES))
    assert not missing, f"pass on pyNN.nest but not on spinnlive, and not listed: {missing}"
    stale = sorted(name for name in DESIGN if name in ours)
    assert not stale, f"listed as differing by design but now pass: {stale}"
    logger.info("scenarios: NEST %d, spinnlive %d of them, %d listed differences (%s passing)",
                len(on_nest), len(ours & on_nest), len(DIFFERENCES),
                sorted(set(DIFFERENCES) & ours))
