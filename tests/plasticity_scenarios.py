"""Plastic-synapse scenarios run on spinnlive.pynn and on pyNN.nest (or replayed in NEST).

``stdp_network`` is the Must-show comparison: SpikeSourceArray trains into IF_curr_exp targets
through one plastic projection with heterogeneous delays, its learned weights listed per
connection. ``replay_in_nest`` runs NEST's own synapse model on given pre/post spike trains
(parrot neurons; the plastic connections end on the target parrots' receptor 1, which does not
repeat spikes), for the rules pyNN.nest does not map (sPyNNaker's).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pynn_scenarios import setup, signal_of, spikes_of


def trains(n: int, dt: float, simtime: float, per_train: int, seed: int) -> list[np.ndarray]:
    """Random spike trains on the grid, written as decimals (as a script writes them).

    pyNN.nest hands a SpikeSourceArray's times to NEST as ``t - min_delay``; where that
    difference is not the decimal it should be (66.9 - 0.1 = 66.80000000000001) NEST moves the
    spike a step later. Such times are left out, so both sides are given the same train (the
    tests also compare the recorded source spikes).
    """
    rng = np.random.default_rng(seed)
    decimals = 0 if dt >= 1.0 else 1
    out = []
    for _ in range(n):
        t = np.unique(np.round(rng.uniform(5.0, simtime - 20.0, per_train), decimals))
        out.append(t[np.round(t - dt, decimals) == t - dt])
    return out


def synapse_type(sim: Any, kind: str) -> Any:
    """The plastic synapse type named ``kind`` (weight 0.8 nA, delay overwritten later)."""
    if kind == "tsodyks":
        return sim.TsodyksMarkramSynapse(U=0.4, tau_rec=150.0, tau_facil=30.0, weight=2.0,
                                         delay=1.0)
    weights = {"additive": sim.AdditiveWeightDependence(w_min=0.0, w_max=1.5),
               "multiplicative": sim.MultiplicativeWeightDependence(w_min=0.0, w_max=1.5)}
    return sim.STDPMechanism(
        timing_dependence=sim.SpikePairRule(tau_plus=15.0, tau_minus=25.0, A_plus=0.05,
                                            A_minus=0.06),
        weight_dependence=weights[kind], weight=0.8, delay=1.0, dendritic_delay_fraction=1.0)


def stdp_network(sim: Any, dt: float, kind: str, simtime: float = 400.0,
                 seed: int = 3) -> dict[str, Any]:
    """20 spike arrays -> 5 IF_curr_exp (i_offset keeps them near threshold), p = 0.6,
    delays drawn per connection in [dt, 6] ms; weights listed after the run."""
    setup(sim, dt, max_delay=10.0)
    pre = sim.Population(20, sim.SpikeSourceArray(spike_times=trains(20, dt, simtime, 14, seed)),
                         label="pre")
    post = sim.Population(5, sim.IF_curr_exp(tau_refrac=2.0, i_offset=0.3), label="post")
    pre.record("spikes")
    post.record("spikes")
    prj = sim.Projection(pre, post, sim.FixedProbabilityConnector(0.6, rng=sim.NumpyRNG(seed)),
                         synapse_type(sim, kind), receptor_type="excitatory", label="plastic")
    # delays per (pre, post), so both backends' connection orders give the same ones
    table = np.round(np.random.default_rng(seed + 1).uniform(dt, 6.0, (20, 5)),
                     0 if dt >= 1.0 else 1)
    prj.set(delay=table)
    sim.run(simtime / 2)
    mid = sorted(prj.get(["weight"], format="list"))
    sim.run(simtime / 2)
    out = {"weights": sorted(prj.get(["weight", "delay"], format="list")), "mid": mid,
           "pre": spikes_of(pre.get_data("spikes")), "post": spikes_of(post.get_data("spikes")),
           "array": prj.get("weight", format="array")}
    sim.end()
    return out


def replay_in_nest(model: str, params: dict[str, float], post_params: dict[str, float],
                   dt: float, pre: tuple[np.ndarray, np.ndarray],
                   post: tuple[np.ndarray, np.ndarray], synapses: list[tuple[int, int, float]],
                   weight: float, simtime: float) -> np.ndarray:
    """Final NEST weights of ``synapses`` (pre, post, delay) of ``model`` driven by the given
    (ids, times) spike trains; weights and NEST's parameters in NEST's units as given."""
    import nest

    nest.set_verbosity("M_ERROR")
    nest.ResetKernel()
    nest.SetKernelStatus({"resolution": dt, "min_delay": dt, "max_delay": 10.0})
    decimals = 0 if dt >= 1.0 else 1
    n_pre = int(max(s[0] for s in synapses)) + 1
    n_post = int(max(s[1] for s in synapses)) + 1
    parrots = []
    for (ids, times), n, extra in ((pre, n_pre, {}), (post, n_post, post_params)):
        gens = nest.Create("spike_generator", n)
        for i in range(n):  # a parrot spikes one step after its generator
            t = np.round(times[ids == i] - dt, decimals)
            gens[i].set(spike_times=[float(x) for x in t if x > 0])
        par = nest.Create("parrot_neuron", n, params=extra)
        nest.Connect(gens, par, "one_to_one", {"delay": dt})
        parrots.append(par)
    for i, j, d in synapses:
        nest.Connect(parrots[0][i], parrots[1][j], syn_spec={
            "synapse_model": model, "weight": weight, "delay": d, "receptor_type": 1,
            **params})
    nest.Simulate(simtime + dt)
    conns = nest.GetConnections(parrots[0], parrots[1], synapse_model=model)
    got = conns.get(["source", "target", "weight", "delay"])
    base = (min(parrots[0].tolist()), min(parrots[1].tolist()))
    table = {(s - base[0], t - base[1], round(d, 6)): w for s, t, w, d in
             zip(got["source"], got["target"], got["weight"], got["delay"])}
    return np.array([table[(i, j, round(d, 6))] for i, j, d in synapses])


def tsodyks_per_connection(sim: Any, dt: float, simtime: float = 300.0,
                           seed: int = 5) -> dict[str, Any]:
    """Tsodyks-Markram with its U, tau_rec and tau_facil drawn per connection (tables by
    (pre, post), so both backends' connection orders get the same values), changed for the
    second half of the run, into targets whose tau_syn_E (each synapse's tau_psc) differ; the
    targets stay below threshold and their ``v`` is compared."""
    setup(sim, dt, max_delay=10.0)
    pre = sim.Population(12, sim.SpikeSourceArray(spike_times=trains(12, dt, simtime, 20, seed)),
                         label="pre")
    post = sim.Population(4, sim.IF_curr_exp(tau_syn_E=[3.0, 4.5, 2.5, 6.0], tau_refrac=2.0,
                                             v_thresh=0.0), label="post")
    post.record("v")
    syn = sim.TsodyksMarkramSynapse(U=0.5, tau_rec=100.0, tau_facil=0.0, weight=0.4, delay=1.0)
    prj = sim.Projection(pre, post, sim.FixedProbabilityConnector(0.7, rng=sim.NumpyRNG(seed)),
                         syn, receptor_type="excitatory", label="tm")
    rng = np.random.default_rng(seed + 1)
    shape = (pre.size, post.size)
    decimals = 0 if dt >= 1.0 else 1
    prj.set(U=rng.uniform(0.05, 0.9, shape), tau_rec=rng.uniform(20.0, 600.0, shape),
            tau_facil=np.where(rng.random(shape) < 0.5, 0.0, rng.uniform(10.0, 300.0, shape)),
            delay=np.round(rng.uniform(dt, 4.0, shape), decimals))
    sim.run(simtime / 2)
    prj.set(U=rng.uniform(0.05, 0.9, shape))  # from the next run on
    sim.run(simtime / 2)
    out = {"v": signal_of(post.get_data("v"), "v"),
           "U": sorted(prj.get(["U", "tau_rec", "tau_facil"], format="list"))}
    sim.end()
    return out
