"""Current sources against pyNN.nest's DCSource/StepCurrentSource/ACSource (NEST generators).

Each source drives one IF_curr_exp neuron in pyNN.nest and in ``Network``; the membrane traces
must agree to 1e-6 mV (so the current reaches the membrane in the same ticks, including the
ticks before which NEST's generator path cannot deliver), and the recorded current trace must
equal pyNN.nest's. The noisy source is checked statistically.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from spinnlive.kernels import (
    ACSource,
    DCSource,
    IFCurrExp,
    Network,
    NoisyCurrentSource,
    StepCurrentSource,
)

CASES = [
    ("DCSource", {"amplitude": 0.6, "start": 0.0, "stop": 7.0}),
    ("DCSource", {"amplitude": 0.6, "start": 3.0, "stop": 12.0}),
    ("StepCurrentSource", {"times": [0.0, 0.1, 4.0, 9.3, 15.0],
                           "amplitudes": [0.2, 0.5, -0.3, 1.0, 0.0]}),
    ("StepCurrentSource", {"times": [2.5, 8.0], "amplitudes": [0.7, 0.1]}),
    ("ACSource", {"amplitude": 0.5, "offset": 0.2, "frequency": 100.0, "phase": 30.0,
                  "start": 2.0, "stop": 17.0}),
    ("ACSource", {"amplitude": 0.5, "offset": 0.0, "frequency": 37.0, "phase": 0.0,
                  "start": 0.0, "stop": 1e9}),
]
OURS = {"DCSource": DCSource, "StepCurrentSource": StepCurrentSource, "ACSource": ACSource}


def run_pynn_nest(kind: str, params: dict, dt: float, t_stop: float
                  ) -> tuple[np.ndarray, np.ndarray]:
    os.environ.setdefault("PYNEST_QUIET", "1")
    pytest.importorskip("nest")
    sim = pytest.importorskip("pyNN.nest")
    sim.setup(timestep=dt, min_delay=dt, spike_precision="on_grid")
    pop = sim.Population(1, sim.IF_curr_exp(tau_m=10.0))
    source = getattr(sim, kind)(**params)
    source.inject_into(pop)
    source.record()
    pop.record("v")
    sim.run(t_stop)
    v = np.asarray(pop.get_data().segments[0].analogsignals[0])[:, 0]
    _, current = source._get_data()
    sim.end()
    return v, np.asarray(current)


@pytest.mark.parametrize("dt", [0.1, 1.0])
@pytest.mark.parametrize(("kind", "params"), CASES)
def test_current_source_matches_pynn_nest(kind: str, params: dict, dt: float) -> None:
    t_stop = 20.0
    n_ticks = int(round(t_stop / dt))
    v_ref, i_ref = run_pynn_nest(kind, params, dt, t_stop)
    net = Network(dt)
    gid = net.add_group(IFCurrExp(1, dt, tau_m=10.0))
    source = OURS[kind](dt, **params)
    source.record()
    net.add_current(gid, source, [0])
    net.record(gid, "v")
    net.run(n_ticks)
    _, v = net.signal(gid, "v")
    assert np.ptp(v_ref) > 0.5  # the current did move the membrane
    np.testing.assert_allclose(v[:, 0], v_ref[:v.shape[0]], rtol=0, atol=1e-6)
    times, current = source.recorded()
    np.testing.assert_allclose(times, np.arange(n_ticks) * dt)
    np.testing.assert_allclose(current, i_ref[:n_ticks], rtol=0, atol=1e-12)


def test_noisy_current_statistics_and_hold() -> None:
    """Mean/stdev over many targets, a new independent value every noise dt, none outside
    [start, stop), and reset replays the same noise."""
    dt, n = 0.1, 2000
    source = NoisyCurrentSource(dt, mean=0.3, stdev=0.8, noise_dt=1.0, start=5.0, stop=30.0,
                                rng=np.random.default_rng(3))
    source.attach(n)
    values = np.array([source.step(k).copy() for k in range(400)])
    assert np.all(values[:50] == 0.0) and np.all(values[300:] == 0.0)
    active = values[50:300]
    blocks = active.reshape(25, 10, n)
    assert np.all(blocks == blocks[:, :1, :])  # held for noise_dt = 10 ticks
    draws = blocks[:, 0, :].ravel()
    sigma_mean = 0.8 / np.sqrt(draws.size)
    assert abs(draws.mean() - 0.3) < 5 * sigma_mean
    assert abs(draws.std() - 0.8) < 0.02
    assert abs(np.corrcoef(blocks[:-1, 0, :].ravel(), blocks[1:, 0, :].ravel())[0, 1]) < 0.02
    source.reset_state()
    again = np.array([source.step(k).copy() for k in range(400)])
    np.testing.assert_array_equal(again, values)
