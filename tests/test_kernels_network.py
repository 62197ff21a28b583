"""Network core: reset determinism, connection handles, delays, recording, current binding."""

from __future__ import annotations

import numpy as np
import pytest

from spinnlive.errors import ConfigurationError
from spinnlive.kernels import (
    DCSource,
    IFCurrExp,
    InjectorGroup,
    Network,
    PoissonGroup,
    SpikeArrayGroup,
)


def build(seed: int) -> tuple[Network, list[int]]:
    dt = 0.1
    rng = np.random.default_rng(seed)
    net = Network(dt)
    pois = net.add_group(PoissonGroup(100, dt, rate=30.0, rng=rng))
    exc = net.add_group(IFCurrExp(80, dt, i_offset=0.5))
    inh = net.add_group(IFCurrExp(20, dt))
    for pre, post, w, rec in ((pois, exc, 0.3, "excitatory"), (pois, inh, 0.3, "excitatory"),
                              (exc, exc, 0.2, "excitatory"), (exc, inh, 0.3, "excitatory"),
                              (inh, exc, 0.6, "inhibitory")):
        n_pre, n_post = net.groups[pre].n, net.groups[post].n
        i, j = np.nonzero(rng.random((n_pre, n_post)) < 0.2)
        net.connect(pre, post, i, j, w, rng.integers(1, 60, i.size) * dt, rec)
    for g in (pois, exc, inh):
        net.record(g, "spikes")
    net.record(exc, "v", [0, 5, 7])
    return net, [pois, exc, inh]


def test_reset_then_rerun_is_identical() -> None:
    net, gids = build(1)
    net.run(1500)
    first = [net.spikes(g) for g in gids]
    _, v_first = net.signal(gids[1], "v")
    assert first[1][0].size > 50
    net.reset()
    assert net.tick == 0 and net.spikes(gids[1])[0].size == 0
    net.run(1500)
    for (ids_a, t_a), g in zip(first, gids, strict=True):
        ids_b, t_b = net.spikes(g)
        np.testing.assert_array_equal(ids_a, ids_b)
        np.testing.assert_array_equal(t_a, t_b)
    times, v = net.signal(gids[1], "v")
    np.testing.assert_array_equal(v, v_first)
    assert times.size == 1501 and v.shape == (1501, 3) and times[0] == 0.0
    other, _ = build(2)
    other.run(1500)
    assert not np.array_equal(other.spikes(gids[1])[0], first[1][0])


def _with_injector(seed: int) -> tuple[Network, int, list[int]]:
    """``build``'s network plus an injector (added last) into the excitatory group."""
    net, gids = build(seed)
    inj = net.add_group(InjectorGroup(10, net.dt))
    rng = np.random.default_rng(seed)
    pre = np.repeat(np.arange(10), 8)
    net.connect(inj, gids[1], pre, rng.integers(0, 80, pre.size), 2.0,
                rng.integers(1, 4, pre.size) * net.dt)
    net.record(inj, "spikes")
    return net, inj, [*gids, inj]


def test_spikes_that_arrived_during_a_tick_are_emitted_in_it() -> None:
    """inject_arrived(ids, t) after tick t ran == inject(ids) before it: same spikes and state,
    bit for bit, ever after; the injector's spikes are counted and recorded at t."""
    plan = {30: [1, 2, 2], 31: [0], 77: [9, 4]}
    early, inj, gids = _with_injector(3)
    late, _, _ = _with_injector(3)
    for t in range(150):
        if t in plan:
            early.inject(inj, np.array(plan[t]))
        early.step()
        assert late.inject_arrived(inj, np.array(plan.get(t - 1, [])), t - 1) is True
        late.step()
    late.inject_arrived(inj, np.array(plan.get(149, [])), 149)
    for g in gids:
        for a, b in zip(early.spikes(g), late.spikes(g), strict=True):
            np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(early.signal(gids[1], "v")[1], late.signal(gids[1], "v")[1])
    np.testing.assert_array_equal(early.spike_counts(), late.spike_counts())
    ids, times = late.spikes(inj)
    assert sorted(zip(np.round(times / late.dt).astype(int) - 1, ids)) == \
        [(30, 1), (30, 2), (30, 2), (31, 0), (77, 4), (77, 9)]


def test_arrivals_before_a_tick_runs_wait_for_it_and_others_are_refused() -> None:
    net, inj, gids = _with_injector(4)
    assert net.inject_arrived(inj, np.array([3]), 0) is False  # no tick ran: tick 0 emits it
    net.step()
    assert net.spikes(inj)[0].tolist() == [3] and net.spike_counts()[inj] == 1
    with pytest.raises(ConfigurationError, match="arrived in tick 5"):
        net.inject_arrived(inj, np.array([3]), 5)
    with pytest.raises(ConfigurationError, match="not a spike source"):
        net.inject_arrived(gids[1], np.array([3]), 0)
    with pytest.raises(ConfigurationError, match="out of range"):
        net.inject_arrived(inj, np.array([10]), 0)


def test_delay_and_weight_handles() -> None:
    """A spike at 1 ms with delay d lifts isyn at 1 + d ms; handles change weights/delays live."""
    dt = 0.1
    net = Network(dt)
    src = net.add_group(SpikeArrayGroup(1, dt, [np.array([1.0, 20.0])]))
    g = net.add_group(IFCurrExp(2, dt))
    conn = net.connect(src, g, [0, 0], [0, 1], [0.5, 0.25], [1.0, 2.55], "inhibitory")
    np.testing.assert_allclose(conn.delays, [1.0, 2.6])  # as NEST rounds 2.55 ms at dt 0.1
    net.record(g, "isyn_inh")
    net.run(150)
    times, isyn = net.signal(g, "isyn_inh")
    onset = [times[np.flatnonzero(isyn[:, k])[0]] for k in range(2)]
    np.testing.assert_allclose(onset, [2.0, 3.6])
    assert isyn[np.flatnonzero(isyn[:, 0])[0], 0] == pytest.approx(-0.5)
    conn.weights = [1.0, 0.0]
    conn.delays = 12.0  # longer than the buffer was built for
    np.testing.assert_array_equal(conn.weights, [1.0, 0.0])
    before = net.signal(g, "isyn_inh")[1][-1].copy()
    net.run(200)  # spike at 20 ms arrives at 32 ms
    times, isyn = net.signal(g, "isyn_inh")
    k = np.flatnonzero(np.isclose(times, 32.0))[0]
    assert isyn[k, 0] - isyn[k - 1, 0] * np.exp(-dt / 5.0) == pytest.approx(-1.0)
    assert np.all(np.abs(isyn[times > 20.0, 1]) <= abs(before[1]) + 1e-12)
    with pytest.raises(ConfigurationError):
        net.connect(src, g, [0], [0], 1.0, 0.04)  # below one tick
    with pytest.raises(ConfigurationError):
        net.connect(src, g, [0], [0], -1.0, 1.0)  # weights are magnitudes


def test_current_binding_subset_and_recording_subset() -> None:
    dt = 1.0
    net = Network(dt)
    g = net.add_group(IFCurrExp(4, dt))
    net.add_current(g, DCSource(dt, amplitude=2.0, start=0.0), [1, 3])
    net.record(g, "spikes", [3])
    net.record(g, "v")
    net.run(100)
    _, v = net.signal(g, "v")
    assert np.all(v[:, [0, 2]] == -65.0) and np.all(v[:3, 1] == -65.0) and v[3, 1] > -65.0
    ids, times = net.spikes(g)
    assert ids.size > 0 and set(ids.tolist()) == {3}
    np.testing.assert_allclose(times, np.round(times / dt) * dt)
    with pytest.raises(ConfigurationError):
        net.record(g, "gsyn_exc")
