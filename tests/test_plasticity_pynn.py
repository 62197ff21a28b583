"""The PyNN side of plasticity: what is refused (naming what is supported), and weights read
and set between runs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import spinnlive.pynn as sim
from spinnlive.errors import ConfigurationError


def stdp(**kwargs: Any) -> Any:
    return sim.STDPMechanism(
        timing_dependence=sim.SpikePairRule(tau_plus=kwargs.pop("tau_plus", 20.0)),
        weight_dependence=sim.AdditiveWeightDependence(w_max=2.0), weight=1.0, delay=1.0,
        **kwargs)


@pytest.mark.parametrize(("make", "match"), [
    (lambda: stdp(dendritic_delay_fraction=0.5), "dendritic_delay_fraction"),
    (lambda: sim.STDPMechanism(timing_dependence=sim.extra_models.PfisterSpikeTriplet(
        20, 20, 100, 100, 0.01, 0.01), weight_dependence=sim.AdditiveWeightDependence()),
     "WeightDependenceAdditiveTriplet"),
    (lambda: sim.extra_models.Neuromodulation(w_min=-1.0), "w_min"),
])
def test_synapse_types_without_a_kernel_are_refused(make: Callable[[], Any], match: str) -> None:
    sim.setup(timestep=1.0)
    try:
        with pytest.raises(ConfigurationError, match=match):
            make()
    finally:
        sim.end()


def test_plasticity_parameters_must_be_one_per_projection_and_tsodyks_needs_tau_syn() -> None:
    sim.setup(timestep=1.0)
    a = sim.Population(3, sim.SpikeSourceArray(spike_times=[5.0]))
    b = sim.Population(3, sim.IF_curr_exp())
    syn = stdp(tau_plus=sim.RandomDistribution("uniform", [10.0, 30.0]))
    with pytest.raises(ConfigurationError, match="'tau_plus' varies"):
        sim.Projection(a, b, sim.AllToAllConnector(), syn)
    delta = sim.Population(3, sim.IF_curr_delta())
    with pytest.raises(ConfigurationError, match="tau_syn_E"):
        sim.Projection(a, delta, sim.AllToAllConnector(), sim.TsodyksMarkramSynapse(weight=1.0))
    sim.end()


def test_tsodyks_markram_parameters_per_connection_are_read_set_and_checked() -> None:
    sim.setup(timestep=1.0)
    a = sim.Population(3, sim.SpikeSourceArray(spike_times=[5.0]))
    b = sim.Population(2, sim.IF_curr_exp())
    prj = sim.Projection(a, b, sim.AllToAllConnector(), sim.TsodyksMarkramSynapse(
        weight=0.5, U=sim.RandomDistribution("uniform", [0.1, 0.9], rng=sim.NumpyRNG(1))))
    u = prj.get("U", format="array")
    assert u.shape == (3, 2) and np.unique(u).size == 6 and np.all((u >= 0.1) & (u <= 0.9))
    prj[0].U = 0.25  # one connection, through PyNN's Connection
    assert prj.get("U", format="list")[0][2] == 0.25
    before = prj.get(["U", "tau_rec"], format="array")
    with pytest.raises(ConfigurationError, match=r"U must lie in \[0, 1\], got 1.5"):
        prj.set(U=np.where(np.arange(6).reshape(3, 2) == 4, 1.5, 0.5))
    with pytest.raises(ConfigurationError, match="equals the target's synaptic time constant"):
        prj.set(tau_rec=5.0)  # tau_syn_E of the target: NEST's propagator is singular
    np.testing.assert_array_equal(prj.get(["U", "tau_rec"], format="array"), before)
    sim.run(10.0)  # the engine takes them
    sim.end()


def test_learned_weights_read_and_set_between_runs() -> None:
    sim.setup(timestep=1.0)
    pre = sim.Population(4, sim.SpikeSourcePoisson(rate=40.0))
    post = sim.Population(2, sim.IF_curr_exp(i_offset=0.8, tau_refrac=2.0))
    prj = sim.Projection(pre, post, sim.AllToAllConnector(), stdp(), receptor_type="excitatory")
    sim.run(200.0)
    learned = prj.get("weight", format="array")
    assert learned.shape == (4, 2) and np.ptp(learned) > 0.01
    prj.set(weight=0.5)
    np.testing.assert_array_equal(prj.get("weight", format="array"), np.full((4, 2), 0.5))
    sim.run(200.0)
    after = np.array(prj.get("weight", format="list", with_address=False))
    assert np.all(after != 0.5) and np.all(np.abs(after - 0.5) < 0.5)  # learned on from 0.5
    sim.end()
