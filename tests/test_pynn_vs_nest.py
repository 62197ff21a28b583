"""spinnlive.pynn against pyNN.nest (spike_precision='on_grid'): the same PyNN scenarios on both.

Deterministic scenarios must agree spike for spike (and in v to rounding); the seed network,
whose Poisson inputs come from different generators, must agree in its statistics.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pynn_scenarios as sc
import pytest

import spinnlive.pynn as spinnlive_sim
from spinnlive.analysis import summarize

nest_sim = pytest.importorskip("pyNN.nest")


def both(scenario: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    return scenario(spinnlive_sim), scenario(nest_sim)


def assert_same_spikes(ours: tuple[np.ndarray, np.ndarray],
                       ref: tuple[np.ndarray, np.ndarray]) -> None:
    assert ref[0].size > 0
    np.testing.assert_array_equal(ours[0], ref[0])
    np.testing.assert_array_equal(ours[1], ref[1])


def test_parameter_change_between_runs() -> None:
    ours, ref = both(sc.parameter_change)
    assert_same_spikes(ours["spikes"], ref["spikes"])
    np.testing.assert_allclose(ours["v"], ref["v"], rtol=0, atol=1e-9)


def test_spike_driven_ei_network_spike_for_spike() -> None:
    ours, ref = both(sc.spike_driven_network)
    assert_same_spikes(ours["exc"], ref["exc"])
    assert_same_spikes(ours["inh"], ref["inh"])
    # row 0: pyNN.nest re-evaluates the RandomDistribution of v for its initial sample
    np.testing.assert_allclose(ours["v"][1:], ref["v"][1:], rtol=0, atol=1e-9)


def test_current_sources() -> None:
    ours, ref = both(sc.current_sources)
    assert_same_spikes(ours["spikes"], ref["spikes"])
    np.testing.assert_allclose(ours["v"], ref["v"], rtol=0, atol=1e-9)
    # the recorded DC trace: one sample per simulated step (pyNN.nest adds one at t_stop)
    assert ours["dc"].size == 800
    np.testing.assert_allclose(ours["dc"], ref["dc"][:800], rtol=0, atol=1e-12)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_seed_network_statistics(seed: int) -> None:
    ours, ref = both(lambda sim: sc.seed_network(sim, seed))
    for pop, n in (("exc", 500), ("inh", 125)):
        a = summarize(*ours[pop], n, 0.0, 5000.0)
        b = summarize(*ref[pop], n, 0.0, 5000.0)
        assert a.rate_hz == pytest.approx(b.rate_hz, rel=0.15), (pop, a, b)
        assert abs(a.cv_isi - b.cv_isi) <= 0.1, (pop, a, b)
        assert 10.0 <= a.peak_hz <= 13.0, (pop, a)
        assert 10.0 <= b.peak_hz <= 13.0, (pop, b)
