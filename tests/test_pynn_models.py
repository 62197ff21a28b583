"""The conductance and AdEx cell types through PyNN: recorded state, lock-step equals real time.

Their numerics are checked against NEST in ``test_kernels_neurons.py``; here the front end: the
cell class maps to its kernel, its state variables record, and a real-time run gives exactly
the lock-step run's spikes and traces (the Poisson drive is seeded by the setup seed).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import spinnlive.pynn as sim

CELLS = ("IF_cond_alpha", "EIF_cond_exp_isfa_ista", "EIF_cond_alpha_isfa_ista")


def run(realtime: bool) -> dict[str, Any]:
    sim.setup(timestep=1.0, realtime=realtime, seed=4)
    src = sim.Population(5, sim.SpikeSourcePoisson(rate=200.0), label="drive")
    out: dict[str, Any] = {}
    pops = []
    for name in CELLS:
        pop = sim.Population(3, getattr(sim, name)(), label=name)
        sim.Projection(src, pop, sim.AllToAllConnector(),
                       sim.StaticSynapse(weight=0.02, delay=1.0))
        pop.record(["spikes", *pop.celltype.recordable[1:]])
        pops.append(pop)
    sim.run(300.0)
    for pop in pops:
        seg = pop.get_data().segments[0]
        out[pop.label] = {"spikes": [np.asarray(s.magnitude) for s in seg.spiketrains],
                          **{a.name: np.asarray(a.magnitude) for a in seg.analogsignals}}
    sim.end()
    return out


@pytest.fixture(scope="module")
def lockstep() -> dict[str, Any]:
    return run(False)


@pytest.mark.parametrize("name", CELLS)
def test_cell_records_its_state(lockstep: dict[str, Any], name: str) -> None:
    data = lockstep[name]
    expected = {"v", "gsyn_exc", "gsyn_inh"} | ({"w"} if name.startswith("EIF") else set())
    assert expected <= set(data)
    assert all(data[var].shape == (301, 3) for var in expected)
    assert sum(s.size for s in data["spikes"]) > 3  # the drive makes them fire
    assert data["gsyn_exc"].max() > 0.0
    if name.startswith("EIF"):
        assert data["w"].max() > 0.0  # spike-triggered adaptation (b > 0)


def test_real_time_run_equals_lockstep(lockstep: dict[str, Any]) -> None:
    realtime = run(True)
    for name in CELLS:
        for a, b in zip(lockstep[name]["spikes"], realtime[name]["spikes"], strict=True):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(lockstep[name]["v"], realtime[name]["v"])
