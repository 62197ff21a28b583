"""Reward-modulated STDP (sPyNNaker's Neuromodulation) against its documented equations.

The kernels integrate dw/dt = c·D exactly between events; the reference here evaluates the
same equations independently: the traces as sums of exponentials over the spike lists and w
by Gauss-Legendre quadrature between consecutive events. The rule's bounds are not reached in these runs, so no
clipping enters either side.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from spinnlive.errors import ConfigurationError
from spinnlive.kernels import IFCurrExp, InjectorGroup, Network, SpikeArrayGroup
from spinnlive.kernels.plasticity_rules import Reward, SpikePair

STDP = SpikePair(tau_plus=20.0, tau_minus=20.0, a_plus=0.02, a_minus=0.024, w_max=5.0)
REWARD = Reward(sign=1.0, tau_c=100.0, tau_d=20.0)
PRE = [5.0, 30.0, 52.0, 80.0, 110.0, 131.0, 160.0, 200.0, 241.0, 270.0]
REWARDS = [40.0, 41.0, 120.0, 205.0]


def network(reward_sign: float = 1.0, with_reward: bool = True) -> tuple[Network, Any, int]:
    net = Network(1.0)
    pre = net.add_group(SpikeArrayGroup(1, 1.0, [np.array(PRE)]))
    dopa = net.add_group(SpikeArrayGroup(1, 1.0, [np.array(REWARDS)]))
    post = net.add_group(IFCurrExp(1, 1.0, i_offset=0.8, tau_refrac=2.0))
    conn = net.connect(pre, post, np.array([0]), np.array([0]), 1.0, 3.0, rule=STDP)
    if with_reward:
        rule = Reward(sign=reward_sign, tau_c=REWARD.tau_c, tau_d=REWARD.tau_d)
        net.connect(dopa, post, np.array([0]), np.array([0]), 0.5, 1.0,
                    "reward" if reward_sign > 0 else "punishment", rule=rule)
    net.record(post, "spikes")
    return net, conn, post


def reference(post_times: np.ndarray, d: float, d_reward: float, amount: float) -> float:
    """w at the last presynaptic spike from the rule's equations (all-to-all pairing at the
    synapse: a postsynaptic spike is seen there ``d`` later; equal times: dopamine, then the
    postsynaptic spike, then the presynaptic one)."""
    pre = np.array(PRE)
    seen = post_times + d
    jumps_t, jumps = [], []
    for t in seen:  # facilitation with the presynaptic trace just before t
        k = np.exp(-(t - pre[pre < t]) / STDP.tau_plus).sum()
        jumps_t.append(t)
        jumps.append(STDP.a_plus * STDP.w_max * k)
    for t in pre:  # depression with the postsynaptic trace strictly before t - d
        k = np.exp(-(t - d - post_times[post_times < t - d]) / STDP.tau_minus).sum()
        jumps_t.append(t)
        jumps.append(-STDP.a_minus * STDP.w_max * k)
    jt, jv = np.array(jumps_t), np.array(jumps)
    arrivals = np.array(REWARDS) + d_reward
    # c·D is smooth between events: Gauss-Legendre on each segment between event times
    edges = np.unique(np.concatenate([[0.0], jt, arrivals, [pre[-1]]]))
    edges = edges[edges <= pre[-1]]
    nodes, node_w = np.polynomial.legendre.leggauss(12)
    total = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        x = lo + (hi - lo) * (nodes + 1.0) / 2.0
        c = (jv[None, :] * np.exp(-(x[:, None] - jt[None, :]) / REWARD.tau_c)
             * (jt[None, :] < x[:, None])).sum(axis=1)
        dop = (amount * np.exp(-(x[:, None] - arrivals[None, :]) / REWARD.tau_d)
               * (arrivals[None, :] < x[:, None])).sum(axis=1)
        total += (hi - lo) / 2.0 * float(np.sum(node_w * c * dop))
    return 1.0 + total


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_reward_modulated_stdp_follows_its_equations(sign: float) -> None:
    net, conn, post = network(sign)
    net.run(300)
    post_times = net.spikes(post)[1]
    assert post_times.size > 5
    want = reference(post_times, 3.0, 1.0, sign * 0.5)
    assert abs(want - 1.0) > 0.01  # the reward moved the weight
    np.testing.assert_allclose(conn.weights, [want], rtol=1e-6)


def test_without_dopamine_the_weight_stays_and_a_reward_connection_delivers_no_current() -> None:
    net = Network(1.0)
    pre = net.add_group(SpikeArrayGroup(1, 1.0, [np.array(PRE)]))
    silent = net.add_group(SpikeArrayGroup(1, 1.0, [np.zeros(0)]))
    dopa = net.add_group(SpikeArrayGroup(1, 1.0, [np.array(REWARDS)]))
    post = net.add_group(IFCurrExp(1, 1.0, i_offset=0.8, tau_refrac=2.0))
    probe = net.add_group(IFCurrExp(1, 1.0))
    conn = net.connect(pre, post, np.array([0]), np.array([0]), 1.0, 3.0, rule=STDP)
    net.connect(silent, post, np.array([0]), np.array([0]), 0.5, 1.0, "reward", rule=REWARD)
    net.connect(dopa, probe, np.array([0]), np.array([0]), 0.5, 1.0, "reward", rule=REWARD)
    net.record(post, "spikes")
    net.record(probe, "isyn_exc")
    net.run(300)
    assert net.spikes(post)[1].size > 5  # pairings happened, but no dopamine came
    np.testing.assert_array_equal(conn.weights, [1.0])
    _, isyn = net.signal(probe, "isyn_exc")
    assert np.all(isyn == 0.0)  # four reward spikes reached the probe: no current


def test_reward_injected_live_acts_as_the_same_spikes_of_an_array() -> None:
    ref, conn_ref, _ = network()
    ref.run(300)
    net = Network(1.0)
    pre = net.add_group(SpikeArrayGroup(1, 1.0, [np.array(PRE)]))
    dopa = net.add_group(InjectorGroup(1, 1.0))
    post = net.add_group(IFCurrExp(1, 1.0, i_offset=0.8, tau_refrac=2.0))
    conn = net.connect(pre, post, np.array([0]), np.array([0]), 1.0, 3.0, rule=STDP)
    net.connect(dopa, post, np.array([0]), np.array([0]), 0.5, 1.0, "reward", rule=REWARD)
    for tick in range(300):
        net.step()
        if tick + 1.0 in REWARDS:
            assert net.inject_arrived(dopa, np.array([0]), tick)
    np.testing.assert_allclose(conn.weights, conn_ref.weights, rtol=1e-12)


def test_neuromodulation_connections_into_one_group_must_agree() -> None:
    net, _, post = network()
    other = net.add_group(SpikeArrayGroup(1, 1.0, [np.array([3.0])]))
    net.connect(other, post, np.array([0]), np.array([0]), 0.5, 2.0, "reward", rule=REWARD)
    with pytest.raises(ConfigurationError, match="tau_c, tau_d or delay"):
        net.run(1)


def test_pynn_neuromodulation_projection_as_spynnaker_scripts_write_it() -> None:
    """sim.extra_models.Neuromodulation on receptor 'reward' modulates the SpikePairRule
    projection into the same population: the kernels' result for the same spikes."""
    import spinnlive.pynn as sim

    sim.setup(timestep=1.0)
    pre = sim.Population(1, sim.SpikeSourceArray(spike_times=PRE))
    dopa = sim.Population(1, sim.SpikeSourceArray(spike_times=REWARDS))
    post = sim.Population(1, sim.IF_curr_exp(i_offset=0.8, tau_refrac=2.0))
    post.record("spikes")
    stdp = sim.STDPMechanism(
        timing_dependence=sim.SpikePairRule(tau_plus=20.0, tau_minus=20.0, A_plus=0.02,
                                            A_minus=0.024),
        weight_dependence=sim.AdditiveWeightDependence(w_min=0.0, w_max=5.0), weight=1.0,
        delay=3.0)
    prj = sim.Projection(pre, post, sim.OneToOneConnector(), stdp, receptor_type="excitatory")
    sim.Projection(dopa, post, sim.AllToAllConnector(),
                   sim.extra_models.Neuromodulation(weight=0.5, tau_c=100.0, tau_d=20.0),
                   receptor_type="reward")
    with pytest.raises(ConfigurationError, match="'reward' or 'punishment'"):
        sim.Projection(dopa, post, sim.AllToAllConnector(),
                       sim.extra_models.Neuromodulation(weight=0.5), receptor_type="excitatory")
    sim.run(300)
    times = np.asarray(post.get_data("spikes").segments[0].spiketrains[0].magnitude)
    (_, _, w), = prj.get("weight", format="list")
    sim.end()
    np.testing.assert_allclose(w, reference(times, 3.0, 1.0, 0.5), rtol=1e-6)
