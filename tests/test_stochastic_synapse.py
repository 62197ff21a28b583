"""SimpleStochasticSynapse (NEST ``bernoulli_synapse``): each spike crosses each connection
with its own probability ``p``, independently per connection and spike, and the same seed gives
the same draws. Counted from the targets' spikes (a transmitted spike makes its target fire
once, in the next step; pyNN.nest cannot record an IF_curr_delta's v), on spinnlive and on
pyNN.nest."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from pynn_scenarios import setup, spikes_of

import spinnlive.pynn as ours

N_SPIKES = 2000
P = np.array([[0.0, 0.3, 0.3, 1.0]])


def transmissions(sim: Any, seed: int = 7, second_p: float | None = None,
                  **setup_kw: Any) -> np.ndarray:
    """``(steps, 4)``: 1 where each target fired in that step (once per transmitted spike).
    ``second_p``: every connection's p set to it for a second run of the same length."""
    setup(sim, 1.0, seed=seed, **setup_kw)
    runs = 1 if second_p is None else 2
    source = sim.Population(1, sim.SpikeSourceArray(  # (pyNN.nest refuses a spike at 1.0)
        spike_times=np.arange(2.0, 5.0 * N_SPIKES * runs, 5.0)))
    targets = sim.Population(4, sim.IF_curr_exp(tau_syn_E=1.0, tau_refrac=2.0))
    targets.record("spikes")
    prj = sim.Projection(source, targets, sim.AllToAllConnector(),
                         sim.SimpleStochasticSynapse(weight=20.0, delay=1.0, p=P),
                         receptor_type="excitatory")
    sim.run(5.0 * N_SPIKES)
    if second_p is not None:
        prj.set(p=second_p)
        sim.run(5.0 * N_SPIKES)
    ids, times = spikes_of(targets.get_data("spikes"))
    sim.end()
    fired = np.zeros((int(5 * N_SPIKES * runs) + 1, 4), dtype=int)
    np.add.at(fired, (np.rint(times).astype(int), ids), 1)
    return fired


def _binomial_band(n: int, p: float, sigmas: float = 5.0) -> tuple[float, float]:
    sd = np.sqrt(n * p * (1 - p))
    return n * p - sigmas * sd, n * p + sigmas * sd


def _check(jumps: np.ndarray) -> None:
    counts = jumps.sum(axis=0)
    assert set(np.unique(jumps)) <= {0, 1}  # one spike per transmission at the most
    assert counts[0] == 0 and counts[3] == N_SPIKES  # p = 0 never, p = 1 always
    lo, hi = _binomial_band(N_SPIKES, 0.3)
    assert lo < counts[1] < hi and lo < counts[2] < hi, counts
    # the two p = 0.3 connections draw apart: at the source's spikes (the steps where p = 1
    # transmits) they agree as often as independent draws do
    arrivals = jumps[:, 3] == 1
    agree = int(np.sum(jumps[arrivals, 1] == jumps[arrivals, 2]))
    lo, hi = _binomial_band(N_SPIKES, 0.3 ** 2 + 0.7 ** 2)
    assert lo < agree < hi, agree


def test_each_spike_crosses_with_its_connections_probability_independently() -> None:
    jumps = transmissions(ours)
    _check(jumps)
    np.testing.assert_array_equal(transmissions(ours), jumps)  # the same seed: the same draws
    assert not np.array_equal(transmissions(ours, seed=8), jumps)
    # the draws are a hash of (seed, synapse, spike time), not a stream: threads change nothing
    np.testing.assert_array_equal(transmissions(ours, threads=2), jumps)


def test_p_set_between_runs_applies_from_the_next_run() -> None:
    jumps = transmissions(ours, second_p=1.0)
    first, second = jumps[:5 * N_SPIKES + 1], jumps[5 * N_SPIKES + 1:]  # (run 2 from 10002)
    assert first[:, 0].sum() == 0 and first[:, 3].sum() == N_SPIKES
    assert second.sum(axis=0).tolist() == [N_SPIKES] * 4


def test_a_probability_outside_0_1_is_refused_naming_it() -> None:
    from spinnlive.errors import ConfigurationError

    setup(ours, 1.0)
    a, b = ours.Population(2, ours.SpikeSourceArray()), ours.Population(2, ours.IF_curr_exp())
    with pytest.raises(ConfigurationError, match=r"SimpleStochasticSynapse p must lie in"):
        ours.Projection(a, b, ours.AllToAllConnector(),
                        ours.SimpleStochasticSynapse(weight=0.1, p=1.2))
    ours.end()


def test_nest_bernoulli_synapse_gives_the_same_statistics() -> None:
    nest_sim = pytest.importorskip("pyNN.nest")
    ref, mine = transmissions(nest_sim), transmissions(ours)
    assert ref.shape == mine.shape
    _check(ref)  # the checks above hold for NEST's own draws
    # where the draws cannot differ (p = 0 and 1) the steps are NEST's, spike for spike
    np.testing.assert_array_equal(mine[:, [0, 3]], ref[:, [0, 3]])
