"""Plastic networks run in real time exactly as in lock-step (the clock changes when ticks run,
never what they compute): STDP, Tsodyks-Markram and reward-modulated STDP together."""

from __future__ import annotations

from typing import Any

import numpy as np
import plasticity_scenarios as ps

import spinnlive.pynn as sim


def run(realtime: bool) -> dict[str, Any]:
    sim.setup(timestep=1.0, realtime=realtime)
    pre = sim.Population(20, sim.SpikeSourceArray(spike_times=ps.trains(20, 1.0, 300.0, 15, 4)))
    reward = sim.Population(2, sim.SpikeSourceArray(spike_times=[[50.0, 150.0], [90.0]]))
    learn = sim.Population(5, sim.IF_curr_exp(tau_refrac=2.0, i_offset=0.4), label="learn")
    short = sim.Population(5, sim.IF_curr_exp(tau_refrac=2.0, i_offset=0.3), label="short")
    for pop in (learn, short):
        pop.record("spikes")
    stdp = sim.Projection(pre, learn, sim.FixedProbabilityConnector(0.5, rng=sim.NumpyRNG(2)),
                          ps.synapse_type(sim, "additive"), receptor_type="excitatory")
    sim.Projection(reward, learn, sim.AllToAllConnector(),
                   sim.extra_models.Neuromodulation(weight=0.2, tau_c=50.0, tau_d=20.0),
                   receptor_type="reward")
    tm = sim.Projection(pre, short, sim.FixedProbabilityConnector(0.5, rng=sim.NumpyRNG(3)),
                        ps.synapse_type(sim, "tsodyks"), receptor_type="excitatory")
    sim.run(300.0)
    out = {"w": np.asarray(stdp.get("weight", format="list", with_address=False)),
           "tm": np.asarray(tm.get("weight", format="list", with_address=False)),
           **{p.label: [np.asarray(s.magnitude) for s in
                        p.get_data("spikes").segments[0].spiketrains] for p in (learn, short)}}
    sim.end()
    return out


def test_real_time_plastic_run_equals_lockstep() -> None:
    lockstep, realtime = run(False), run(True)
    assert np.ptp(lockstep["w"]) > 0.01  # the modulated weights moved
    np.testing.assert_array_equal(lockstep["w"], realtime["w"])
    np.testing.assert_array_equal(lockstep["tm"], realtime["tm"])
    for label in ("learn", "short"):
        assert sum(s.size for s in lockstep[label]) > 0
        for a, b in zip(lockstep[label], realtime[label], strict=True):
            np.testing.assert_array_equal(a, b)
