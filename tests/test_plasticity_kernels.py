"""Plastic connections in the kernels: weights by (pre, post) between ticks, what survives a
table rebuild and a reset, live (arrived) input, the postsynaptic archive's growth, and its
newest-spike records updating exactly as the archive walk."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from spinnlive.errors import ConfigurationError
from spinnlive.kernels import IFCurrExp, InjectorGroup, Network, SpikeArrayGroup
from spinnlive.kernels.plasticity import HISTORY, LAST_T
from spinnlive.kernels.plasticity_rules import NearestPair, SpikePair, Triplet, Tsodyks, Vogels

RULE = SpikePair(tau_plus=15.0, tau_minus=25.0, a_plus=0.05, a_minus=0.06, mu_plus=1.0,
                 mu_minus=1.0, w_max=1.5)
PRE_TIMES = [np.arange(5.0, 200.0, 9.0), np.arange(8.0, 200.0, 13.0), np.arange(3.0, 200.0, 7.0)]


def network(source: str = "array") -> tuple[Network, int, int, object]:
    net = Network(1.0)
    if source == "array":
        pre = net.add_group(SpikeArrayGroup(3, 1.0, PRE_TIMES))
    else:
        pre = net.add_group(InjectorGroup(3, 1.0))
    post = net.add_group(IFCurrExp(2, 1.0, i_offset=0.5, tau_refrac=2.0))
    conn = net.connect(pre, post, np.array([0, 1, 2, 0, 2]), np.array([0, 0, 0, 1, 1]), 0.8,
                       np.array([1.0, 2.0, 3.0, 4.0, 1.0]), rule=RULE)
    net.record(post, "spikes")
    return net, pre, post, conn


def test_weights_by_pre_post_pairs_read_and_write_between_ticks() -> None:
    net, _, _, conn = network()
    net.run(100)
    learned = conn.weights
    assert np.ptp(learned) > 0.01
    at = conn.synapses(np.array([2, 0]), np.array([1, 0]))
    np.testing.assert_array_equal(at, [4, 0])
    np.testing.assert_array_equal(conn.read_weights(at), learned[[4, 0]])
    conn.write_weights(np.array([0.1, 0.2]), at=at)
    np.testing.assert_array_equal(conn.read_weights(at), [0.1, 0.2])
    np.testing.assert_array_equal(conn.weights[[1, 2, 3]], learned[[1, 2, 3]])
    with pytest.raises(ConfigurationError, match="no synapse 1 -> 1"):
        conn.synapses(np.array([1]), np.array([1]))
    with pytest.raises(ConfigurationError, match="magnitudes"):
        conn.write_weights(-1.0, at=at)


def test_a_written_weight_applies_from_the_next_tick() -> None:
    """Two identical networks; one gets its weights set at tick 100: the same spikes until
    then, and from then on the same as a network built with those weights learning on."""
    a, _, post_a, ca = network()
    b, _, post_b, cb = network()
    a.run(100)
    b.run(100)
    np.testing.assert_array_equal(ca.weights, cb.weights)
    cb.write_weights(1.4)
    a.run(100)
    b.run(100)
    ta, tb = a.spikes(post_a)[1], b.spikes(post_b)[1]
    np.testing.assert_array_equal(ta[ta <= 100], tb[tb <= 100])
    assert not np.array_equal(ta, tb)


def test_learned_weights_survive_a_rebuild_and_reset_restores_the_set_ones() -> None:
    net, pre, post, conn = network()
    net.run(150)
    learned = conn.weights
    net.connect(pre, post, np.array([1]), np.array([1]), 0.3, 1.0)  # rebuilds the table
    net.step()
    assert np.max(np.abs(conn.weights - learned)) < 0.2  # continued, not restarted from 0.8
    net.reset()
    np.testing.assert_array_equal(conn.weights, np.full(5, 0.8))
    first = network()
    first[0].connect(first[1], first[2], np.array([1]), np.array([1]), 0.3, 1.0)
    first[0].run(120)
    net.run(120)  # after reset: the same run as a fresh network's
    np.testing.assert_array_equal(conn.weights, first[3].weights)


def test_arrived_live_spikes_learn_as_emitted_ones() -> None:
    """Spikes injected live into a tick already run (``inject_arrived``) update the weights
    and reach the targets exactly as a spike array's spikes emitted in that tick."""
    ref, _, post_ref, cref = network()
    ref.run(200)
    live, inj, post_live, clive = network("injector")
    ticks = {int(t) - 1: [] for times in PRE_TIMES for t in times}
    for i, times in enumerate(PRE_TIMES):
        for t in times:
            ticks[int(t) - 1].append(i)
    for tick in range(200):
        live.step()
        if tick in ticks:
            assert live.inject_arrived(inj, np.array(ticks[tick]), tick)
    np.testing.assert_array_equal(live.spikes(post_live)[1], ref.spikes(post_ref)[1])
    np.testing.assert_allclose(clive.weights, cref.weights, rtol=1e-12)


def test_the_postsynaptic_archive_grows_instead_of_losing_spikes() -> None:
    net, _, post, conn = network()
    net.run(200)
    assert net.spike_counts()[post] > 2 * HISTORY  # more than the first ring holds
    assert conn.plastic is not None
    assert conn.plastic.hist.shape[1] > HISTORY
    counts = conn.plastic.hc
    np.testing.assert_array_equal(counts, np.bincount(net.spikes(post)[0], minlength=2))


def test_tsodyks_markram_keeps_its_weights_and_scales_what_it_delivers() -> None:
    net = Network(1.0)
    pre = net.add_group(SpikeArrayGroup(1, 1.0, [np.arange(10.0, 60.0, 5.0)]))
    post = net.add_group(IFCurrExp(1, 1.0, v_thresh=1e9))
    conn = net.connect(pre, post, np.array([0]), np.array([0]), 2.0, 1.0,
                       rule=Tsodyks(U=0.5, tau_rec=800.0, tau_fac=0.0, tau_psc=5.0))
    net.record(post, "isyn_exc")
    net.run(70)
    _, isyn = net.signal(post, "isyn_exc")
    jumps = np.diff(isyn[:, 0])
    jumps = jumps[jumps > 0]  # each arrival's step (the rest decays)
    assert jumps.size == 10
    assert np.all(np.diff(jumps) < 0)  # depression: each spike delivers less
    np.testing.assert_array_equal(conn.weights, [2.0])
    assert abs(jumps[0] - 2.0 * 0.5) < 1e-12  # the first spike: weight * U * (x = 1)


@pytest.mark.parametrize("rule", [RULE, NearestPair(a_plus=0.05, a_minus=0.06, w_max=1.5),
                                  Vogels(a_plus=0.05, a_minus=0.02, w_max=1.5),
                                  Triplet(a_plus=0.05, a_minus=0.06, w_max=1.5, a3_plus=0.03,
                                          a3_minus=0.01)],
                         ids=["pair", "nearest", "vogels", "triplet"])
def test_the_newest_spike_record_updates_as_the_archive_walk(rule: SpikePair) -> None:
    """Random trains, two identical networks; in one every presynaptic spike walks the
    postsynaptic archive (its ``last`` records made useless for that spike), in the other
    the records (the two newest spikes) serve whatever they can: the weights are equal bit for
    bit, the spikes too, and windows with no spike, one or two, and more did occur."""
    rng = np.random.default_rng(7)
    n_pre, n_post, ticks = 30, 12, 600
    pre_at = rng.random((ticks, n_pre)) < 0.03
    drive = [np.sort(rng.choice(np.arange(1.0, ticks), 40, replace=False)) for _ in range(n_post)]
    pre_idx = rng.integers(0, n_pre, 120)
    post_idx = rng.integers(0, n_post, 120)
    delays = rng.integers(1, 8, 120).astype(np.float64)

    def build() -> tuple[Network, int, int, Any]:
        net = Network(1.0)
        inj = net.add_group(InjectorGroup(n_pre, 1.0))
        src = net.add_group(SpikeArrayGroup(n_post, 1.0, drive))
        post = net.add_group(IFCurrExp(n_post, 1.0, i_offset=0.2, tau_refrac=2.0))
        net.connect(src, post, np.arange(n_post), np.arange(n_post), 3.0, 1.0)
        conn = net.connect(inj, post, pre_idx, post_idx, 0.5, delays, rule=rule)
        net.record(post, "spikes")
        return net, inj, post, conn

    fast, inj, post, c_fast = build()
    walk, _, _, c_walk = build()
    # windows holding no postsynaptic spike, one or two (the records serve), more (the walk)
    cases = np.zeros(3, dtype=np.int64)
    newest_two = [LAST_T, 3 + LAST_T]  # the records' spike times
    for tick in range(ticks):
        fast.step()
        walk.step()
        ids = np.flatnonzero(pre_at[tick])
        if not ids.size:
            continue
        plastic = c_walk.plastic
        t_hi = tick + 1.0 - delays
        t_lo = c_fast.plastic.pre_s[pre_idx, 1] - delays
        for e in np.flatnonzero(np.isin(pre_idx, ids)):
            k, c = post_idx[e], plastic.hc[post_idx[e]]
            h = plastic.hist.shape[1]
            times = plastic.hist[k, np.arange(max(0, c - h), c) % h, 0]
            n_in = np.sum((times >= t_lo[e] + 1e-6) & (times < t_hi[e] + 1e-6))
            cases[0 if n_in == 0 else 1 if n_in <= 2 else 2] += 1
        kept = plastic.last[:, newest_two].copy()
        plastic.last[:, newest_two] = np.inf  # no record serves: every target walks the archive
        assert walk.inject_arrived(inj, ids, tick)
        plastic.last[:, newest_two] = kept
        assert fast.inject_arrived(inj, ids, tick)
    assert np.all(cases > 0), cases
    assert np.ptp(c_fast.weights) > 0.01
    np.testing.assert_array_equal(c_fast.weights, c_walk.weights)
    np.testing.assert_array_equal(c_fast.plastic.last, c_walk.plastic.last)
    np.testing.assert_array_equal(fast.spikes(post)[1], walk.spikes(post)[1])
