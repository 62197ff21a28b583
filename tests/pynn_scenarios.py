"""Scenarios run on both spinnlive.pynn and pyNN.nest (the run_with_simulators idea of PyNN's
own test suite): each takes the backend module and returns plain arrays to compare."""

from __future__ import annotations

from typing import Any

import numpy as np
from pyNN.parameters import Sequence

from spinnlive.analysis import spike_arrays


def setup(sim: Any, dt: float, **kwargs: Any) -> None:
    """setup() with the options each backend needs for on-grid comparison."""
    if sim.__name__.startswith("pyNN.nest"):
        kwargs.setdefault("spike_precision", "on_grid")
        if "seed" in kwargs:
            kwargs["rng_seed"] = kwargs.pop("seed")
    sim.setup(timestep=dt, min_delay=dt, **kwargs)


def spikes_of(block: Any, segment: int = 0) -> tuple[np.ndarray, np.ndarray]:
    ids, times = spike_arrays(block.segments[segment].spiketrains)
    order = np.lexsort((times, ids))
    return ids[order], times[order]


def signal_of(block: Any, name: str, segment: int = 0) -> np.ndarray:
    sig = [s for s in block.segments[segment].analogsignals if s.name == name][0]
    return np.asarray(sig.magnitude)


def parameter_change(sim: Any) -> dict[str, Any]:
    """Three neurons driven by i_offset, changed between two runs; v and spikes recorded.

    pyNN.nest runs NEST one min_delay past the end of the first run (to flush its recorders), so
    a change made "at 40 ms" acts there from 40.1 ms; ending its first run one step early puts
    the change at the same instant as spinnlive's (which acts at exactly the run boundary).
    """
    lag = 0.1 if sim.__name__.startswith("pyNN.nest") else 0.0
    setup(sim, 0.1)
    pop = sim.Population(3, sim.IF_curr_exp(tau_refrac=2.0), label="cells")
    pop.set(i_offset=np.array([0.0, 0.6, 1.2]))
    pop.initialize(v=np.array([-65.0, -60.0, -55.0]))
    pop.record(["v", "spikes"])
    sim.run(40.0 - lag)
    pop.set(i_offset=np.array([1.5, 0.0, 1.2]), tau_m=np.array([10.0, 20.0, 30.0]))
    sim.run(60.0 + lag)
    block = pop.get_data()
    sim.end()
    return {"spikes": spikes_of(block), "v": signal_of(block, "v")}


def spike_driven_network(sim: Any) -> dict[str, Any]:
    """The seed's E/I structure, driven by fixed spike trains instead of Poisson sources, so
    both simulators see the same input, connectivity and delays (PyNN's NumpyRNG draws)."""
    setup(sim, 1.0)
    rng_times = np.random.default_rng(7)
    trains = [Sequence(np.unique(np.round(rng_times.uniform(2, 300, 15))))
              for _ in range(100)]
    source = sim.Population(100, sim.SpikeSourceArray(spike_times=trains), label="input")
    exc = sim.Population(80, sim.IF_curr_exp(tau_syn_I=15.0, tau_refrac=0.3), label="exc")
    inh = sim.Population(20, sim.IF_curr_exp(tau_refrac=0.3), label="inh")
    rng = sim.NumpyRNG(seed=98766987, parallel_safe=True)
    exc.initialize(v=sim.RandomDistribution("uniform", [-65.0, -50.0], rng=rng))
    delay = sim.RandomDistribution("uniform", [1, 10], rng=rng)

    def connect(pre: Any, post: Any, p: float, w: float, receptor: str) -> None:
        sim.Projection(pre, post, sim.FixedProbabilityConnector(p, rng=sim.NumpyRNG(seed=11)),
                       sim.StaticSynapse(weight=w, delay=delay), receptor_type=receptor)

    connect(source, exc, 0.2, 0.3, "excitatory")
    connect(source, inh, 0.2, 0.2, "excitatory")
    connect(exc, exc, 0.1, 0.05, "excitatory")
    connect(exc, inh, 0.2, 0.1, "excitatory")
    connect(inh, exc, 0.2, -0.1, "inhibitory")
    connect(inh, inh, 0.1, -0.05, "inhibitory")
    exc.record(["spikes", "v"])
    inh.record("spikes")
    sim.run(300.0)
    out = {"exc": spikes_of(exc.get_data()), "inh": spikes_of(inh.get_data()),
           "v": signal_of(exc.get_data(), "v")}
    sim.end()
    return out


def current_sources(sim: Any) -> dict[str, Any]:
    """DC, step and AC sources into three neurons, the DC source recorded."""
    setup(sim, 0.1)
    pop = sim.Population(3, sim.IF_curr_exp(), label="driven")
    dc = sim.DCSource(amplitude=0.8, start=5.0, stop=60.0)
    step = sim.StepCurrentSource(times=[10.0, 30.0, 50.0], amplitudes=[0.6, 1.2, 0.2])
    ac = sim.ACSource(amplitude=0.5, offset=0.7, frequency=20.0, phase=30.0, start=2.0,
                      stop=70.0)
    dc.inject_into(pop[0:1])
    pop[1:2].inject(step)
    ac.inject_into(pop[2:3])
    dc.record()
    pop.record(["v", "spikes"])
    sim.run(80.0)
    block = pop.get_data()
    trace = dc.get_data()
    sim.end()
    return {"spikes": spikes_of(block), "v": signal_of(block, "v"),
            "dc": np.asarray(trace.magnitude).ravel()}


def seed_network(sim: Any, seed: int, simtime: float = 5000.0) -> dict[str, Any]:
    """The seed document's E/I network run for ``simtime``: its exc and inh spikes."""
    setup(sim, 1.0, seed=seed)
    exc, inh, _ = build_seed_network(sim, seed, simtime)
    sim.run(simtime)
    out = {"exc": spikes_of(exc.get_data("spikes")), "inh": spikes_of(inh.get_data("spikes"))}
    sim.end()
    return out


def build_seed_network(sim: Any, seed: int = 0, simtime: float = 5000.0,
                       recurrent: Any = None) -> tuple[Any, Any, list[Any]]:
    """The seed document's E/I network (its SPINN=True form), built after ``setup``, with exc
    and inh spikes recorded: ``(exc, inh, projections)``. bench/bench_seed.py times this too.

    ``seed`` drives the NumpyRNG of the initial potentials and delays (the simulator's own
    streams, the Poisson sources, come from ``setup``); the connectors keep PyNN's default RNG
    as in the document. spinnlive initialises ``v`` with ``set(v=...)`` (the sPyNNaker habit the
    document relies on); pyNN.nest needs ``initialize``. ``recurrent(weight, delay)``, if given,
    makes the synapse type of the excitatory recurrent (FixedProbability) projection.
    """
    poisson = sim.Population(250, sim.SpikeSourcePoisson(rate=50, duration=simtime),
                             label="poisson_source")
    array = sim.Population(250, sim.SpikeSourceArray(spike_times=[1000]), label="spike_source")
    exc_params = {"tau_m": 20.0, "cm": 1.0, "v_rest": -65.0, "v_reset": -65.0,
                  "v_thresh": -50.0, "tau_syn_E": 5.0, "tau_syn_I": 15.0, "tau_refrac": 0.3,
                  "i_offset": 0}
    exc = sim.Population(500, sim.IF_curr_exp(**exc_params), label="excitatory_pop")
    inh = sim.Population(125, sim.IF_curr_exp(**{**exc_params, "tau_syn_I": 5.0}),
                         label="inhibitory_pop")
    rng = sim.NumpyRNG(seed=98766987 + seed, parallel_safe=True)
    v_init = sim.RandomDistribution("uniform", [-65.0, -50.0], rng=rng)
    if sim.__name__.startswith("pyNN.nest"):
        exc.initialize(v=v_init)
    else:
        exc.set(v=v_init)
    delay = sim.RandomDistribution("uniform", [1, 10], rng=rng)
    fp = sim.FixedProbabilityConnector
    projections = []
    for k, (pre, post, conn, w, receptor) in enumerate([
            (array, exc, fp(0.05), 0.1, "excitatory"),
            (poisson, exc, fp(0.2), 0.06, "excitatory"),
            (poisson, inh, fp(0.2), 0.03, "excitatory"),
            (exc, exc, fp(0.1), 0.03, "excitatory"),
            (exc, exc, sim.OneToOneConnector(), 0.03, "excitatory"),
            (inh, inh, fp(0.1), -0.03, "inhibitory"),
            (exc, inh, fp(0.2), 0.06, "excitatory"),
            (inh, exc, fp(0.2), -0.06, "inhibitory")]):
        synapse = (sim.StaticSynapse(weight=w, delay=delay) if recurrent is None or k != 3
                   else recurrent(w, delay))
        projections.append(sim.Projection(pre, post, conn, synapse, receptor_type=receptor))
    exc.record("spikes")
    inh.record("spikes")
    return exc, inh, projections


def decimal_trains_network(sim: Any, model: str, dt: float, seed: int) -> dict[str, Any]:
    """What the dt 0.1 issue reports: ``model`` cells with i_offset > 0, driven by
    SpikeSourceArray trains at 0.1 ms resolution (decimal literals) through excitatory and
    inhibitory synapses with random 1-3 ms delays (FromListConnector). Spikes and v."""
    setup(sim, dt)
    rng = np.random.default_rng(seed)
    trains = [Sequence(np.unique(np.round(rng.uniform(1.2, 180.0, 30), 1))) for _ in range(40)]
    source = sim.Population(40, sim.SpikeSourceArray(spike_times=trains), label="input")
    cells = sim.Population(20, getattr(sim, model)(i_offset=0.5, tau_refrac=2.0), label="cells")
    weight = {"IF_curr_exp": 1.0, "IF_curr_alpha": 1.0, "IF_curr_delta": 3.0}[model]
    pre, post = np.repeat(np.arange(40), 5), rng.integers(0, 20, 200)
    pairs = np.unique(np.stack([pre, post], axis=1), axis=0)
    delays = np.round(rng.uniform(1.0, 3.0, len(pairs)), 1)
    inhibitory = pairs[:, 0] % 3 == 0
    for sel, receptor, sign in ((~inhibitory, "excitatory", 1.0), (inhibitory, "inhibitory", -1.0)):
        rows = [(int(a), int(b), sign * weight, float(d))
                for (a, b), d in zip(pairs[sel], delays[sel], strict=True)]
        sim.Projection(source, cells, sim.FromListConnector(rows, column_names=["weight", "delay"]),
                       sim.StaticSynapse(), receptor_type=receptor)
    cells.record(["spikes", "v"])
    sim.run(200.0)
    block = cells.get_data()
    sim.end()
    return {"spikes": spikes_of(block), "v": signal_of(block, "v")}
