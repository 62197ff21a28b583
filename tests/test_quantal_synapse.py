"""MultiQuantalSynapse (NEST ``quantal_stp_synapse``): n release sites per connection that
recover and release stochastically. Deterministic limits are checked exactly; the released
sites per spike, averaged over many connections, against NEST's own synapse model (run with
the model's initial state, u = U and all sites available, see ``kernels.plasticity_rules.Quantal``)
within the sampling error."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from pynn_scenarios import setup, signal_of

import spinnlive.pynn as sim
from spinnlive.errors import ConfigurationError

SPIKES = np.array([10.0, 30.0, 40.0, 45.0, 80.0, 150.0, 155.0, 160.0, 300.0, 305.0])
N_TARGETS = 400


def _released(v: np.ndarray, weight: float, spikes: int = SPIKES.size) -> np.ndarray:
    """``(spikes, targets)``: sites released at each arrival, from the jumps of ``v``
    (``spikes``: how many arrivals release anything at some target)."""
    jumps = np.diff(v, axis=0) / weight
    arrivals = np.flatnonzero(np.any(np.abs(jumps) > 1e-6, axis=1))
    assert arrivals.size == spikes, arrivals
    released = jumps[arrivals]
    np.testing.assert_allclose(released, np.rint(released), atol=1e-6)  # whole sites
    return np.rint(released).astype(int)


def run_spinnlive(params: dict[str, Any], n_targets: int = N_TARGETS, seed: int = 3,
                  weight: float = 0.5, spikes: int = SPIKES.size,
                  synapse: str = "MultiQuantalSynapse") -> np.ndarray:
    """``(spikes, targets)`` released sites of one ``synapse`` connection from one source
    train into each target."""
    setup(sim, 1.0, seed=seed)
    source = sim.Population(1, sim.SpikeSourceArray(spike_times=SPIKES))
    targets = sim.Population(n_targets, sim.IF_curr_delta(
        tau_m=1e9, v_thresh=1e9, v_rest=0.0, v_reset=0.0, tau_refrac=0.0))
    targets.initialize(v=0.0)
    targets.record("v")
    sim.Projection(source, targets, sim.AllToAllConnector(),
                   getattr(sim, synapse)(weight=weight, delay=1.0, **params))
    sim.run(SPIKES[-1] + 10.0)
    v = signal_of(targets.get_data("v"), "v")
    sim.end()
    return _released(v, weight, spikes)


def run_nest(params: dict[str, Any], weight: float = 0.5) -> np.ndarray:
    nest = pytest.importorskip("nest")
    nest.ResetKernel()
    nest.set_verbosity("M_ERROR")
    nest.resolution = 1.0
    nest.rng_seed = 11
    generator = nest.Create("spike_generator", params={"spike_times": SPIKES})
    parrot = nest.Create("parrot_neuron")
    targets = nest.Create("iaf_psc_delta", N_TARGETS, params={
        "tau_m": 1e9, "V_th": 1e9, "E_L": 0.0, "V_m": 0.0, "V_reset": 0.0, "t_ref": 0.0})
    meter = nest.Create("multimeter", params={"record_from": ["V_m"], "interval": 1.0})
    nest.Connect(generator, parrot)
    nest.Connect(parrot, targets, "all_to_all", {
        "synapse_model": "quantal_stp_synapse", "weight": weight, "delay": 1.0,
        "U": params["U"], "u": params["U"], "n": params["n"], "a": params["n"],
        "tau_rec": params["tau_rec"], "tau_fac": params["tau_facil"]})
    nest.Connect(meter, targets)
    nest.Simulate(SPIKES[-1] + 12.0)
    events = meter.get("events")
    order = np.lexsort((events["senders"], events["times"]))
    v = events["V_m"][order].reshape(-1, N_TARGETS)
    return _released(np.vstack([np.zeros(N_TARGETS), v]), weight)


def test_all_sites_release_when_u_is_1_and_recover_only_as_tau_rec_allows() -> None:
    every = run_spinnlive({"U": 1.0, "n": 4, "tau_rec": 1e-6, "tau_facil": 0.0}, n_targets=3)
    assert np.all(every == 4)  # instant recovery: all four sites at every spike
    once = run_spinnlive({"U": 1.0, "n": 4, "tau_rec": 1e12, "tau_facil": 0.0}, n_targets=3,
                         spikes=1)
    assert np.all(once == 4)  # the first spike releases all; nothing recovers after it


def test_released_sites_per_spike_follow_nests_quantal_stp_synapse() -> None:
    params = {"U": 0.3, "n": 5, "tau_rec": 60.0, "tau_facil": 40.0}
    mine, ref = run_spinnlive(params), run_nest(params)
    assert mine.shape == ref.shape == (SPIKES.size, N_TARGETS)
    error = np.sqrt(mine.var(axis=1) / N_TARGETS + ref.var(axis=1) / N_TARGETS)
    assert np.all(np.abs(mine.mean(axis=1) - ref.mean(axis=1)) < 5 * error + 1e-9)
    # the first spike: Binomial(n, U) at every connection
    assert abs(mine[0].mean() - 5 * 0.3) < 5 * np.sqrt(5 * 0.3 * 0.7 / N_TARGETS)
    # depression shows: spikes 5 ms apart release fewer than the first
    assert mine[3].mean() < mine[0].mean() and ref[3].mean() < ref[0].mean()
    assert np.unique(mine, axis=1).shape[1] > N_TARGETS // 2  # connections draw apart


def test_initialize_sets_available_sites_and_u_per_connection() -> None:
    """``Projection.initialize(a=..., u=...)`` (PyNN's example does it for pyNN.nest's sake):
    U = 1 with no recovery releases exactly the initial available sites at the first spike."""
    setup(sim, 1.0, seed=3)
    source = sim.Population(1, sim.SpikeSourceArray(spike_times=SPIKES[:2]))
    targets = sim.Population(3, sim.IF_curr_delta(
        tau_m=1e9, v_thresh=1e9, v_rest=0.0, v_reset=0.0, tau_refrac=0.0))
    targets.initialize(v=0.0)
    targets.record("v")
    synapse = sim.MultiQuantalSynapse(weight=0.5, delay=1.0, U=1.0, n=6, tau_rec=1e12)
    prj = sim.Projection(source, targets, sim.AllToAllConnector(), synapse)
    prj.initialize(u=synapse.parameter_space["U"])  # as PyNN's multiquantal example does
    prj.initialize(a=np.array([[0.0, 2.0, 6.0]]))
    with pytest.raises(ConfigurationError, match=r"initial a \(available sites\) must be"):
        prj.initialize(a=7.0)  # more than n: refused, nothing changed
    with pytest.raises(ConfigurationError, match="settable: \\['a', 'u'\\]"):
        prj.initialize(x=1.0)
    sim.run(SPIKES[1] + 5.0)
    v = signal_of(targets.get_data("v"), "v")
    sim.end()
    np.testing.assert_allclose(v[-1], [0.0, 1.0, 3.0])  # 0, 2 and 6 sites of 0.5 mV


def test_bad_release_sites_are_refused_naming_them() -> None:
    setup(sim, 1.0)
    a, b = sim.Population(2, sim.SpikeSourceArray()), sim.Population(2, sim.IF_curr_exp())
    for n in (0, -3):
        with pytest.raises(ConfigurationError, match=r"n \(release sites\) must be a whole"):
            sim.Projection(a, b, sim.AllToAllConnector(),
                           sim.MultiQuantalSynapse(weight=0.1, n=n))
    sim.end()
