"""Threaded delivery (Network.threads = 2) gives the one-thread results bit for bit."""

from __future__ import annotations

import os

import numpy as np
import pytest

from spinnlive.engine.simulation import Simulation
from spinnlive.errors import ConfigurationError
from spinnlive.kernels import IFCondExp, IFCurrExp, Network, PoissonGroup, SpikeArrayGroup
from spinnlive.kernels.partition import split_table
from spinnlive.kernels.plasticity_rules import (
    NearestPair,
    Reward,
    SpikePair,
    Triplet,
    Tsodyks,
    Vogels,
)


def build(threads: int) -> tuple[Network, list[int], list]:
    rng = np.random.default_rng(7)
    net = Network(1.0, threads=threads)
    poisson = net.add_group(PoissonGroup(40, 1.0, rate=80.0, rng=np.random.default_rng(3)))
    array = net.add_group(SpikeArrayGroup(5, 1.0, [np.array([2.0, 9.0])] * 5))
    exc = net.add_group(IFCurrExp(120, 1.0, i_offset=0.3, tau_refrac=2.0))
    cond = net.add_group(IFCondExp(60, 1.0, i_offset=0.4))
    net.groups[exc].set_initial_values(v=rng.uniform(-65.0, -50.0, 120))
    handles = []
    for pre, n_pre in ((poisson, 40), (array, 5), (exc, 120), (cond, 60)):
        for post, n_post, w in ((exc, 120, 0.4), (cond, 60, 0.01)):
            m = 6 * n_post
            for receptor in ("excitatory", "inhibitory"):
                handles.append(net.connect(
                    pre, post, rng.integers(0, n_pre, m), rng.integers(0, n_post, m),
                    rng.uniform(0.2, 1.0, m) * w, rng.integers(1, 6, m).astype(float),
                    receptor))
    for gid in (poisson, exc, cond):
        net.record(gid, "spikes")
    return net, [poisson, exc, cond], handles


def run(threads: int) -> tuple[list, np.ndarray, list[np.ndarray], np.ndarray]:
    net, recorded, handles = build(threads)
    net.run(60)
    handles[4].weights = handles[4].weights * 1.5  # the split copy must follow the table
    handles[5].delays = 2.0
    net.run(60)
    for _ in range(20):  # one call per tick, as a real-time run makes them
        net.step()
    return ([net.spikes(g) for g in recorded], net._buffer.data.copy(),
            [g._s.copy() for g in net.groups if not g.is_source], net.spike_counts())


def test_two_threads_give_the_one_thread_sums_bit_for_bit() -> None:
    one, two = run(1), run(2)
    assert one[3].sum() > 100  # the network is active
    assert np.array_equal(one[3], two[3])
    for (ids_a, t_a), (ids_b, t_b) in zip(one[0], two[0], strict=True):
        assert np.array_equal(ids_a, ids_b) and np.array_equal(t_a, t_b)
    assert np.array_equal(one[1], two[1])  # every pending input, to the last bit
    for a, b in zip(one[2], two[2], strict=True):
        assert np.array_equal(a, b)


def test_the_split_reorders_the_table_in_its_rows_balanced_and_in_each_rows_order() -> None:
    net, _, handles = build(2)
    net.prepare()
    table = net._table
    assert table is not None
    before = table.target.copy(), table.weights.copy(), table.indptr.copy()
    weights = [h.weights.copy() for h in handles]
    split = split_table(table, net._n_neurons, 2)
    ptr, width = split.ptr, table.width
    sizes = (ptr[:, 2] - ptr[:, 1]).sum(), (ptr[:, 1] - ptr[:, 0]).sum()
    assert sum(sizes) == table.target.size and abs(int(sizes[0] - sizes[1])) < 0.1 * sum(sizes)
    assert np.array_equal(ptr[:, 0], before[2][:-1]) and np.array_equal(ptr[:, 2], before[2][1:])
    for cell in range(table.indptr.size - 1):
        row = before[0][before[2][cell]:before[2][cell + 1]]
        parts = [table.target[ptr[cell, p]:ptr[cell, p + 1]] for p in (0, 1)]
        neuron = [(part % width) % net._n_neurons for part in parts]
        assert np.all(neuron[0] < split.bounds[1]) and np.all(neuron[1] >= split.bounds[1])
        keep = (row % width) % net._n_neurons < split.bounds[1]
        assert np.array_equal(parts[0], row[keep]) and np.array_equal(parts[1], row[~keep])
    assert sorted(table.weights.tolist()) == sorted(before[1].tolist())
    for h, w in zip(handles, weights, strict=True):  # the slots followed their synapses
        assert np.array_equal(table.weights[h._slots], w)


def plastic_run(threads: int) -> tuple[list, list[np.ndarray], np.ndarray]:
    """A recurrent network with every kind of plastic connection, reward modulation too."""
    rng = np.random.default_rng(11)
    net = Network(1.0, threads=threads)
    poisson = net.add_group(PoissonGroup(50, 1.0, rate=60.0, rng=np.random.default_rng(5)))
    dopa = net.add_group(SpikeArrayGroup(1, 1.0, [np.arange(20.0, 400.0, 37.0)]))
    exc = net.add_group(IFCurrExp(150, 1.0, i_offset=0.45, tau_refrac=2.0))
    inh = net.add_group(IFCurrExp(40, 1.0, i_offset=0.2, tau_refrac=2.0))
    mod = net.add_group(IFCurrExp(30, 1.0, i_offset=0.3, tau_refrac=2.0))
    pair = SpikePair(tau_plus=15.0, tau_minus=25.0, a_plus=0.02, a_minus=0.024, w_max=1.0)
    rules = [(poisson, 50, exc, 150, Tsodyks(U=0.5, tau_rec=200.0, tau_fac=0.0, tau_psc=5.0),
              1.2, "excitatory"),
             (exc, 150, exc, 150, pair, 0.3, "excitatory"),
             (exc, 150, inh, 40, Triplet(a_plus=0.01, a_minus=0.012, w_max=1.0, a3_plus=0.005,
                                         a3_minus=0.002), 0.4, "excitatory"),
             (inh, 40, exc, 150, Vogels(a_plus=0.01, a_minus=0.02, w_max=2.0), 0.6,
              "inhibitory"),
             (exc, 150, mod, 30, pair, 0.4, "excitatory"),
             (poisson, 50, mod, 30, NearestPair(a_plus=0.01, a_minus=0.012, w_max=1.0), 0.8,
              "excitatory"),
             (poisson, 50, inh, 40, None, 0.5, "excitatory")]
    handles = []
    for pre, n_pre, post, n_post, rule, w, receptor in rules:
        m = 8 * n_post
        handles.append(net.connect(pre, post, rng.integers(0, n_pre, m),
                                   rng.integers(0, n_post, m), rng.uniform(0.3, 1.0, m) * w,
                                   rng.integers(1, 8, m).astype(float), receptor, rule=rule))
    net.connect(dopa, mod, np.zeros(30, dtype=np.int64), np.arange(30), 0.5, 1.0, "reward",
                rule=Reward(sign=1.0, tau_c=100.0, tau_d=20.0))
    for gid in (exc, inh, mod):
        net.record(gid, "spikes")
    start = [h.weights.copy() for h in handles]
    net.run(150)
    handles[1].weights = handles[1].weights * 0.9  # a write between runs, on the shared table
    net.run(150)
    for _ in range(20):
        net.step()
    net.run(80)
    learned = [h.weights for h in handles]
    assert all(np.any(w != s) for w, s in zip(learned[2:4] + learned[4:6], start[2:6],
                                               strict=True))  # they learned something
    return [net.spikes(g) for g in (exc, inh, mod)], learned, net.spike_counts()


def test_plastic_connections_learn_on_two_threads_as_on_one_bit_for_bit() -> None:
    one, two = plastic_run(1), plastic_run(2)
    assert one[2][2:].min() > 100  # every population is active
    assert np.array_equal(one[2], two[2])
    for (ids_a, t_a), (ids_b, t_b) in zip(one[0], two[0], strict=True):
        assert np.array_equal(ids_a, ids_b) and np.array_equal(t_a, t_b)
    for a, b in zip(one[1], two[1], strict=True):
        assert np.array_equal(a, b)  # learned weights, to the last bit


def test_threads_must_be_positive() -> None:
    with pytest.raises(ConfigurationError, match="threads"):
        Network(1.0, threads=0)


def test_live_io_leaves_one_core_to_the_sockets(tmp_path) -> None:
    live = Simulation(1.0, threads=2, base_dir=tmp_path)
    live.add_population("stim", "SpikeInjector", 2, {}, {})
    assert live.kernel_threads == max(1, min(2, (os.cpu_count() or 1) - 1))
    offline = Simulation(1.0, threads=2, base_dir=tmp_path)
    offline.add_population("pop", "IF_curr_exp", 2, {}, {})
    assert offline.kernel_threads == 2


def test_the_seed_network_on_two_threads_spikes_as_on_one() -> None:
    from pynn_scenarios import build_seed_network, spikes_of

    import spinnlive.pynn as sim

    trains = []
    for threads in (1, 2):
        sim.setup(timestep=1.0, min_delay=1.0, threads=threads)
        exc, inh, _ = build_seed_network(sim, simtime=1000.0)
        sim.run(1000.0)
        assert sim.simulator.state.engine.net.threads == threads
        trains.append([spikes_of(p.get_data("spikes")) for p in (exc, inh)])
        sim.end()
    assert trains[0][0][0].size > 1000  # the network is active
    for (ids_a, t_a), (ids_b, t_b) in zip(trains[0], trains[1], strict=True):
        assert np.array_equal(ids_a, ids_b) and np.array_equal(t_a, t_b)


def test_a_large_network_chooses_two_threads_unless_told(tmp_path, monkeypatch) -> None:
    from spinnlive.engine import simulation

    monkeypatch.setattr(simulation, "AUTO_THREADS_SYNAPSES", 100)
    for threads, synapses, expected in ((None, 99, 1), (None, 100, 2), (1, 100, 1)):
        sim = Simulation(1.0, threads=threads, base_dir=tmp_path)
        sim.add_population("pop", "IF_curr_exp", 10, {}, {})
        idx = np.arange(synapses) % 10
        sim.add_projection(0, 0, idx, idx, np.ones(synapses), np.ones(synapses), "excitatory")
        cores = os.cpu_count() or 1
        assert sim.kernel_threads == (1 if cores < 2 and threads is None else expected)
