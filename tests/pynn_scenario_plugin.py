"""pytest plugin that runs PyNN's system test scenarios on spinnlive beside pyNN.nest.

Loaded into a child pytest (``-p pynn_scenario_plugin``) whose rootdir holds PyNN's
``scenarios`` package. PyNN marks each scenario with ``run_with_simulators("nest", ...)`` and
imports the backend lazily as ``pyNN.<name>``; this plugin registers ``pyNN.spinnlive`` and
replaces ``run_with_simulators`` before any scenario module imports it, so every scenario written
for NEST is parametrized with the simulators in ``$SPINNLIVE_SCENARIO_SIMULATORS`` (default
``nest,spinnlive``) through PyNN's own ``LazySimulator``. Scenarios without NEST are skipped.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from spinnlive.pynn.spinnaker_compat import register

register("spinnlive")

import scenarios.fixtures as fixtures  # noqa: E402 - PyNN's, from the unpacked sdist

SIMULATORS = os.environ.get("SPINNLIVE_SCENARIO_SIMULATORS", "nest,spinnlive").split(",")


def run_with_simulators(*names: str) -> Any:
    if "nest" not in names:
        return pytest.mark.skip(reason="scenario not written for NEST")
    return pytest.mark.parametrize(
        "sim", [pytest.param(fixtures.LazySimulator(n), id=n) for n in SIMULATORS])


fixtures.run_with_simulators = run_with_simulators
