"""Plastic synapses against NEST 3.10 on the grid (dt 1.0 and 0.1).

PyNN's standard plastic types run on spinnlive.pynn and on pyNN.nest with the same script
(``plasticity_scenarios.stdp_network``): the source spikes, the targets' spike ticks and the
learned weights (read between the two runs and after them) must agree, weights within 1e-6
relative. sPyNNaker's own rules have no pyNN.nest mapping: spinnlive's run is replayed in NEST
with the matching NEST model (``replay_in_nest``) and the final weights compared.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import plasticity_scenarios as ps
import pytest

import spinnlive.pynn as ours

nest_sim = pytest.importorskip("pyNN.nest")


def ticks(times: np.ndarray, dt: float) -> np.ndarray:
    return np.rint(np.asarray(times) / dt).astype(np.int64)


def assert_same_trains(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray],
                       dt: float) -> None:
    assert b[0].size > 0
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(ticks(a[1], dt), ticks(b[1], dt))


def assert_same_weights(a: list[tuple[Any, ...]], b: list[tuple[Any, ...]]) -> None:
    x, y = np.array(a, dtype=float), np.array(b, dtype=float)
    assert x.shape == y.shape
    np.testing.assert_array_equal(x[:, :2], y[:, :2])  # the same connections
    np.testing.assert_allclose(x[:, 3:], y[:, 3:], rtol=1e-12)  # delays
    np.testing.assert_allclose(x[:, 2], y[:, 2], rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("dt", [1.0, 0.1])
@pytest.mark.parametrize("kind", ["additive", "multiplicative", "tsodyks"])
def test_standard_plastic_synapses_match_pynn_nest(kind: str, dt: float) -> None:
    mine, ref = ps.stdp_network(ours, dt, kind), ps.stdp_network(nest_sim, dt, kind)
    assert_same_trains(mine["pre"], ref["pre"], dt)
    assert_same_trains(mine["post"], ref["post"], dt)
    assert_same_weights(mine["mid"], ref["mid"])
    assert_same_weights(mine["weights"], ref["weights"])
    w = np.array([c[2] for c in mine["weights"]])
    if kind == "tsodyks":  # depression scales what is delivered, not the weight
        assert np.all(w == 2.0)
    else:  # it learned: the weights spread from 0.8
        assert np.ptp(w) > 0.1
    np.testing.assert_allclose(mine["array"], ref["array"], rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("dt", [1.0, 0.1])
def test_tsodyks_markram_with_parameters_per_connection_matches_pynn_nest(dt: float) -> None:
    """U, tau_rec and tau_facil differ per connection and U changes between runs: the
    targets' membrane potential follows NEST's ``tsodyks_synapse`` step by step."""
    mine, ref = ps.tsodyks_per_connection(ours, dt), ps.tsodyks_per_connection(nest_sim, dt)
    np.testing.assert_allclose(np.array(mine["U"]), np.array(ref["U"]), rtol=1e-12)
    assert mine["v"].shape == ref["v"].shape
    assert np.ptp(mine["v"]) > 1.0  # the inputs moved the targets
    np.testing.assert_allclose(mine["v"], ref["v"], rtol=0, atol=1e-9)


def spynnaker_rule(kind: str) -> tuple[Any, str, dict[str, float], dict[str, float]]:
    """(spinnlive synapse type, NEST model, NEST synapse and target parameters)."""
    em = ours.extra_models
    if kind == "nearest":
        syn = ours.STDPMechanism(
            timing_dependence=em.SpikeNearestPairRule(tau_plus=15.0, tau_minus=25.0,
                                                      A_plus=0.05, A_minus=0.06),
            weight_dependence=ours.MultiplicativeWeightDependence(w_min=0.0, w_max=1.5),
            weight=0.8, delay=1.0)
        return syn, "stdp_nn_symm_synapse", {
            "tau_plus": 15.0, "lambda": 0.05, "alpha": 0.06 / 0.05, "mu_plus": 1.0,
            "mu_minus": 1.0, "Wmax": 1.5}, {"tau_minus": 25.0}
    if kind == "vogels":
        syn = ours.STDPMechanism(
            timing_dependence=em.Vogels2011Rule(alpha=1.2, tau=20.0, A_plus=0.004),
            weight_dependence=ours.AdditiveWeightDependence(w_min=0.0, w_max=1.5),
            weight=0.8, delay=1.0)
        return syn, "vogels_sprekeler_synapse", {
            "tau": 20.0, "eta": 0.004 * 1.5, "alpha": 1.2, "Wmax": 1.5}, {"tau_minus": 20.0}
    syn = ours.STDPMechanism(
        timing_dependence=em.PfisterSpikeTriplet(tau_plus=16.8, tau_minus=33.7, tau_x=101.0,
                                                 tau_y=125.0, A_plus=0.02, A_minus=0.03),
        weight_dependence=em.WeightDependenceAdditiveTriplet(w_min=0.0, w_max=1.5,
                                                             A3_plus=0.01, A3_minus=0.002),
        weight=0.8, delay=1.0)
    return syn, "stdp_triplet_synapse", {
        "tau_plus": 16.8, "tau_plus_triplet": 101.0, "Aplus": 0.02 * 1.5,
        "Aminus": 0.03 * 1.5, "Aplus_triplet": 0.01 * 1.5, "Aminus_triplet": 0.002 * 1.5,
        "Wmax": 1.5}, {"tau_minus": 33.7, "tau_minus_triplet": 125.0}


def run_spynnaker_rule(kind: str, dt: float, simtime: float) -> dict[str, Any]:
    syn, *_ = spynnaker_rule(kind)
    ps.setup(ours, dt, max_delay=10.0)
    pre = ours.Population(20, ours.SpikeSourceArray(spike_times=ps.trains(20, dt, simtime, 20,
                                                                             5)))
    post = ours.Population(5, ours.IF_curr_exp(tau_refrac=2.0, i_offset=0.4))
    pre.record("spikes")
    post.record("spikes")
    prj = ours.Projection(pre, post, ours.FixedProbabilityConnector(0.6, rng=ours.NumpyRNG(7)),
                          syn, receptor_type="excitatory")
    table = np.round(np.random.default_rng(8).uniform(dt, 6.0, (20, 5)), 0 if dt >= 1 else 1)
    prj.set(delay=table)
    ours.run(simtime)
    out = {"weights": sorted(prj.get(["weight", "delay"], format="list")),
           "pre": ps.spikes_of(pre.get_data("spikes")),
           "post": ps.spikes_of(post.get_data("spikes"))}
    ours.end()
    return out


@pytest.mark.parametrize("dt", [1.0, 0.1])
@pytest.mark.parametrize("kind", ["nearest", "vogels", "triplet"])
def test_spynnaker_rules_match_their_nest_models(kind: str, dt: float) -> None:
    simtime = 400.0
    mine = run_spynnaker_rule(kind, dt, simtime)
    assert mine["post"][0].size > 20
    _, model, params, post_params = spynnaker_rule(kind)
    synapses = [(int(i), int(j), float(d)) for i, j, _, d in mine["weights"]]
    ref = ps.replay_in_nest(model, params, post_params, dt, mine["pre"], mine["post"],
                            synapses, 0.8, simtime)
    w = np.array([c[2] for c in mine["weights"]])
    assert np.ptp(w) > 0.05, w  # it learned something
    np.testing.assert_allclose(w, ref, rtol=1e-6, atol=1e-12)
