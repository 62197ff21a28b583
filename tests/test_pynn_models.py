"""The conductance, AdEx, HH cell types and the Gamma, dead-time and variable-rate Poisson
sources through PyNN: recorded state, lock-step equals real time.

Their numerics are checked against NEST in ``test_kernels_neurons.py``; here the front end: the
cell class maps to its kernel, its state variables record, and a real-time run gives exactly
the lock-step run's spikes and traces (the Poisson drive is seeded by the setup seed).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import spinnlive.pynn as sim
from spinnlive.errors import ConfigurationError

CELLS = ("IF_cond_alpha", "EIF_cond_exp_isfa_ista", "EIF_cond_alpha_isfa_ista", "HH_cond_exp")


def run(realtime: bool) -> dict[str, Any]:
    sim.setup(timestep=0.1, realtime=realtime, seed=4)  # HH's spike rule wants dt <= 0.1
    src = sim.Population(5, sim.SpikeSourcePoisson(rate=200.0), label="drive")
    varying = sim.Population(5, sim.SpikeSourcePoissonVariable(rates=[300, 50],
                                                               starts=[0, 150]), label="varying")
    varying.record("spikes")
    renewal = [sim.Population(20, sim.SpikeSourceGamma(alpha=3, beta=150.0), label="gamma"),
               sim.Population(20, sim.SpikeSourcePoissonRefractory(rate=80.0, tau_refrac=5.0),
                              label="refractory")]
    for source in renewal:
        source.record("spikes")
    out: dict[str, Any] = {}
    pops = []
    for name in CELLS:
        pop = sim.Population(3, getattr(sim, name)(), label=name)
        for pre in (src, varying, *renewal):
            sim.Projection(pre, pop, sim.AllToAllConnector(),
                           sim.StaticSynapse(weight=0.01, delay=1.0))
        pop.record(["spikes", *pop.celltype.recordable[1:]])
        pops.append(pop)
    sim.run(200.0)
    out["varying"] = {"spikes": [np.asarray(s.magnitude)
                                 for s in varying.get_data().segments[0].spiketrains]}
    for pop in renewal:
        out[pop.label] = {"spikes": [np.asarray(t.magnitude)
                                     for t in pop.get_data().segments[0].spiketrains]}
    for pop in pops:
        seg = pop.get_data().segments[0]
        out[pop.label] = {"spikes": [np.asarray(s.magnitude) for s in seg.spiketrains],
                          **{a.name: np.asarray(a.magnitude) for a in seg.analogsignals}}
    sim.end()
    return out


@pytest.fixture(scope="module")
def lockstep() -> dict[str, Any]:
    return run(False)


@pytest.mark.parametrize("name", CELLS)
def test_cell_records_its_state(lockstep: dict[str, Any], name: str) -> None:
    data = lockstep[name]
    expected = {"v", "gsyn_exc", "gsyn_inh"} | ({"w"} if name.startswith("EIF") else set()) | (
        {"m", "h", "n"} if name.startswith("HH") else set())
    assert expected <= set(data)
    assert all(data[var].shape == (2001, 3) for var in expected)
    assert sum(s.size for s in data["spikes"]) > 3  # the drive makes them fire
    assert data["gsyn_exc"].max() > 0.0
    if name.startswith("EIF"):
        assert data["w"].max() > 0.0  # spike-triggered adaptation (b > 0)


def test_real_time_run_equals_lockstep(lockstep: dict[str, Any]) -> None:
    realtime = run(True)
    for source, rate in (("varying", (300.0 * 0.15 + 50.0 * 0.05) / 0.2), ("gamma", 50.0),
                         ("refractory", 80.0)):
        count = sum(s.size for s in realtime[source]["spikes"]) / 0.2 / len(
            realtime[source]["spikes"])
        assert abs(count - rate) < 0.3 * rate, (source, count)
    for name in (*CELLS, "varying", "gamma", "refractory"):
        for a, b in zip(lockstep[name]["spikes"], realtime[name]["spikes"], strict=True):
            np.testing.assert_array_equal(a, b)
        if name in CELLS:
            np.testing.assert_array_equal(lockstep[name]["v"], realtime[name]["v"])


def test_spike_source_poisson_variable_through_pynn() -> None:
    """sPyNNaker's signature (one schedule for all, or one per neuron), recorded spikes follow
    the schedule, and a new schedule set between runs applies from the next run."""
    sim.setup(timestep=1.0, seed=9)
    shared = sim.Population(200, sim.SpikeSourcePoissonVariable(
        rates=[100, 0, 20], starts=[0, 100, 200], durations=[100, 100, 100]), label="shared")
    each = sim.Population(2, sim.SpikeSourcePoissonVariable(
        rates=[[500, 0], [0]], starts=[[0, 50], [0]]), label="each")
    shared.record("spikes")
    each.record("spikes")
    sim.run(400.0)

    def counts(pop: Any, edges: list[float]) -> np.ndarray:
        trains = pop.get_data().segments[0].spiketrains
        times = np.concatenate([np.asarray(s.magnitude) for s in trains])
        return np.histogram(times, bins=np.asarray(edges) + 0.5)[0]  # spikes stamp (k+1) dt

    c = counts(shared, [0, 100, 200, 300, 400])
    for got, rate in zip(c, (100.0, 0.0, 20.0, 0.0), strict=True):
        lam = rate * 0.1 * 200
        assert abs(got - lam) <= 4 * np.sqrt(lam) + 3, (c, rate)  # + a boundary tick's spikes
    per = [np.asarray(s.magnitude) for s in each.get_data().segments[0].spiketrains]
    assert 10 < per[0].size and per[0].max() <= 50.0 and per[1].size == 0
    shared.set(rates=[50], starts=[450], durations=[100])
    sim.run(200.0)
    c = counts(shared, [400, 450, 550, 600])
    assert c[0] == 0 and c[2] == 0
    assert abs(c[1] - 1000) < 4 * np.sqrt(1000) + 3
    sim.end()


def test_gamma_order_must_be_whole() -> None:
    sim.setup(timestep=1.0)
    sim.Population(2, sim.SpikeSourceGamma(alpha=1.5, beta=10.0), label="bad")
    with pytest.raises(ConfigurationError, match="population 'bad'.*whole number"):
        sim.run(10.0)
    sim.end()


def test_ca2_adaptive_through_extra_models_in_both_clocks() -> None:
    """sim.extra_models.IFCurrExpCa2Adaptive records i_ca2; real time equals lock-step."""
    def run(realtime: bool) -> tuple[list[np.ndarray], np.ndarray]:
        sim.setup(timestep=1.0, realtime=realtime)
        pop = sim.Population(2, sim.extra_models.IFCurrExpCa2Adaptive(
            i_offset=2.0, i_alpha=[0.0, 0.3], tau_refrac=2.0))
        pop.record(["spikes", "i_ca2"])
        sim.run(300.0)
        seg = pop.get_data().segments[0]
        sim.end()
        return ([np.asarray(s.magnitude) for s in seg.spiketrains],
                np.asarray(seg.filter(name="i_ca2")[0].magnitude))

    (spikes, ca), (spikes_rt, ca_rt) = run(False), run(True)
    isi_plain, isi_adapting = (np.diff(s) for s in spikes)
    assert np.all(isi_plain == isi_plain[0]) and isi_adapting[-1] > isi_plain[0] + 3
    assert np.all(ca[:, 0] == 0.0) and ca[:, 1].max() > 0.3
    for a, b in zip(spikes, spikes_rt, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ca, ca_rt)


def test_izhikevich_cond_through_extra_models_in_both_clocks() -> None:
    """sim.extra_models.Izhikevich_cond driven through conductances, state recorded; real time
    equals lock-step."""
    def run(realtime: bool) -> dict[str, np.ndarray]:
        sim.setup(timestep=1.0, realtime=realtime, seed=2)
        src = sim.Population(10, sim.SpikeSourcePoisson(rate=100.0))
        pop = sim.Population(3, sim.extra_models.Izhikevich_cond(i_offset=[0.0, 2.0, 5.0]))
        sim.Projection(src, pop, sim.AllToAllConnector(), sim.StaticSynapse(weight=0.02))
        pop.record(["spikes", "v", "u", "gsyn_exc"])
        sim.run(300.0)
        seg = pop.get_data().segments[0]
        sim.end()
        return {"spikes": np.concatenate([np.asarray(s.magnitude) for s in seg.spiketrains]),
                **{a.name: np.asarray(a.magnitude) for a in seg.analogsignals}}

    lock, rt = run(False), run(True)
    assert lock["spikes"].size > 10 and lock["gsyn_exc"].max() > 0.0
    for name in ("spikes", "v", "u", "gsyn_exc"):
        np.testing.assert_array_equal(lock[name], rt[name])


def test_spynnakers_izhikevich_is_pynn_spinnakers_and_takes_its_parameters() -> None:
    """pyNN.spiNNaker's Izhikevich is sPyNNaker's (exponential current synapses, 1 nA = 1
    mV/ms): an i_offset of 10 nA fires at a few tens of Hz there (it would saturate PyNN's
    standard Izhikevich, which reads it as 10000 pA), tau_syn_E/I shape the input current and
    v/u given as parameters are initial values; spinnlive.pynn.Izhikevich becomes it when given
    tau_syn_E or tau_syn_I."""
    from spinnlive.pynn import spinnaker
    from spinnlive.pynn.standardmodels.spynnaker_cells import IzkCurrExpBase

    assert isinstance(sim.Izhikevich(tau_syn_E=2.0), IzkCurrExpBase)
    assert not isinstance(sim.Izhikevich(), IzkCurrExpBase)
    spinnaker.setup(timestep=1.0)
    src = spinnaker.Population(1, spinnaker.SpikeSourceArray(spike_times=[[10.0]]))
    pop = spinnaker.Population(3, spinnaker.Izhikevich(i_offset=[0.0, 0.0, 10.0],
                                                       tau_syn_E=2.0, v=-65.0, u=-13.0))
    spinnaker.Projection(src, pop, spinnaker.OneToOneConnector(),
                         spinnaker.StaticSynapse(weight=3.0, delay=1.0))
    spinnaker.Projection(src, pop, spinnaker.AllToAllConnector(),
                         spinnaker.StaticSynapse(weight=1.0, delay=1.0),
                         receptor_type="inhibitory")
    pop.record(["spikes", "v", "u", "gsyn_exc", "gsyn_inh"])
    spinnaker.run(500.0)
    seg = pop.get_data().segments[0]
    spinnaker.end()
    v = np.asarray(seg.filter(name="v")[0].magnitude)
    u = np.asarray(seg.filter(name="u")[0].magnitude)
    exc = np.asarray(seg.filter(name="gsyn_exc")[0].magnitude)[:, 0]
    inh = np.asarray(seg.filter(name="gsyn_inh")[0].magnitude)[:, 0]
    assert v[0, 0] == -65.0 and u[0, 0] == -13.0  # the initial values given as parameters
    counts = [len(s) for s in seg.spiketrains]
    assert counts[0] == counts[1] == 0 and 5 < counts[2] < 30
    arrival = int(np.argmax(exc))
    assert exc[arrival] == pytest.approx(3.0) and inh[arrival] == pytest.approx(-1.0)
    assert exc[arrival + 2] == pytest.approx(3.0 * np.exp(-2.0 / 2.0))  # tau_syn_E = 2 ms
    assert inh[arrival + 5] == pytest.approx(-np.exp(-5.0 / 5.0))  # tau_syn_I's default


def test_if_curr_dual_exp_takes_a_second_excitatory_receptor() -> None:
    """extra_models.IF_curr_dual_exp: receptor 'excitatory2' has its own current and time
    constant (the kernel is compared with NEST's multisynapse model in
    test_kernels_dual_exp.py); a receptor the model lacks is refused by name."""
    sim.setup(timestep=0.1)
    src = sim.Population(1, sim.SpikeSourceArray(spike_times=[[1.0]]))
    pop = sim.Population(2, sim.extra_models.IF_curr_dual_exp(tau_syn_E2=10.0))
    sim.Projection(src, pop, sim.AllToAllConnector(), sim.StaticSynapse(weight=0.5, delay=1.0),
                   receptor_type="excitatory2")
    sim.Projection(src, pop, sim.AllToAllConnector(), sim.StaticSynapse(weight=0.2, delay=1.0))
    plain = sim.Population(1, sim.IF_curr_exp())
    with pytest.raises(Exception, match="excitatory2"):
        sim.Projection(src, plain, sim.AllToAllConnector(), receptor_type="excitatory2")
    pop.record(["gsyn_exc", "isyn_exc2"])
    sim.run(10.0)
    seg = pop.get_data().segments[0]
    sim.end()
    exc = np.asarray(seg.filter(name="gsyn_exc")[0].magnitude)[:, 0]
    exc2 = np.asarray(seg.filter(name="isyn_exc2")[0].magnitude)[:, 0]
    peak = int(np.argmax(exc2))
    assert exc2[peak] == pytest.approx(0.5) and exc[peak] == pytest.approx(0.2)
    assert exc2[peak + 10] == pytest.approx(0.5 * np.exp(-1.0 / 10.0))  # tau_syn_E2, 1 ms on
    assert exc[peak + 10] == pytest.approx(0.2 * np.exp(-1.0 / 5.0))  # tau_syn_E's default


@pytest.mark.parametrize(("neuron", "receptor", "monolith", "names"), [
    ("LIF", "CurrExpPostSynapticResponse", "IF_curr_exp", ("excitatory", "inhibitory")),
    ("LIF", "CondExpPostSynapticResponse", "IF_cond_exp", ("AMPA", "GABAA")),
    ("AdExp", "CondAlphaPostSynapticResponse", "EIF_cond_alpha_isfa_ista", ("NMDA", "AMPA")),
])
def test_a_composed_point_neuron_runs_as_its_monolith(neuron: str, receptor: str,
                                                      monolith: str,
                                                      names: tuple[str, str]) -> None:
    """PointNeuron(neuron, two receptors of one kind) gives the monolithic cell's numbers
    exactly, its receptors by their own names (the inhibitory name, else the second sorted,
    is the monolith's inhibitory input) and NAME.isyn / NAME.gsyn recorded."""
    sim.setup(timestep=0.1)
    conductance = receptor.startswith("Cond")
    psr = getattr(sim, receptor)
    extra = ({"e_syn": 0.0}, {"e_syn": -75.0}) if conductance else ({}, {})
    composed = sim.PointNeuron(getattr(sim, neuron)(tau_m=12.0, v_rest=-60.0),
                               **{names[0]: psr(tau_syn=1.5, **extra[0]),
                                  names[1]: psr(tau_syn=3.0, **extra[1])})
    first, second = sorted(names)
    inhibitory = "GABAA" if "GABAA" in names else second
    excitatory = next(n for n in names if n != inhibitory)
    tau = {names[0]: 1.5, names[1]: 3.0}
    rev = {names[0]: 0.0, names[1]: -75.0}
    mono_params = {"tau_m": 12.0, "v_rest": -60.0, "tau_syn_E": tau[excitatory],
                   "tau_syn_I": tau[inhibitory]}
    if conductance:
        mono_params.update(e_rev_E=rev[excitatory], e_rev_I=rev[inhibitory])
    mono = sim.Population(1, getattr(sim, monolith)(**mono_params), initial_values={"v": -60.0})
    comp = sim.Population(1, composed, initial_values={"v": -60.0})
    assert sorted(comp.celltype.receptor_types) == sorted(names)
    src = sim.Population(2, sim.SpikeSourceArray(spike_times=[[5.0, 40.0], [20.0, 60.0]]))
    w_exc, w_inh = (0.05, 0.08) if conductance else (0.6, -0.4)
    for pop, exc_name, inh_name in ((mono, "excitatory", "inhibitory"),
                                    (comp, excitatory, inhibitory)):
        sim.Projection(src[0:1], pop, sim.AllToAllConnector(),
                       sim.StaticSynapse(weight=w_exc, delay=1.0), receptor_type=exc_name)
        sim.Projection(src[1:2], pop, sim.AllToAllConnector(),
                       sim.StaticSynapse(weight=w_inh, delay=1.0), receptor_type=inh_name)
    variable = "gsyn" if conductance else "isyn"
    _same_traces(mono, comp, [(f"{excitatory}.{variable}", "gsyn_exc"),
                              (f"{inhibitory}.{variable}", "gsyn_inh")], 100.0)


def _same_traces(mono: Any, comp: Any, pairs: list[tuple[str, str]], ms: float) -> None:
    """Run ``ms``; the composed cell's v and each recorded (composed, monolith) pair equal the
    monolith's bit for bit, and each moved."""
    mono.record(["v", *(theirs for _, theirs in pairs)])
    comp.record(["v", *(mine for mine, _ in pairs)])
    sim.run(ms)
    m, c = (p.get_data().segments[0] for p in (mono, comp))
    sim.end()

    def trace(seg: Any, name: str) -> np.ndarray:
        return np.asarray(seg.filter(name=name)[0].magnitude)[:, 0]

    assert np.ptp(trace(m, "v")) > 1.0
    for mine, theirs in [("v", "v"), *pairs]:
        assert np.ptp(trace(m, theirs)) > 0
        np.testing.assert_array_equal(trace(c, mine), trace(m, theirs))


def test_three_current_receptors_run_as_if_curr_dual_exp() -> None:
    """PointNeuron(LIF, AMPA, NMDA, GABAA current receptors): the two excitatory ones (sorted)
    are IF_curr_dual_exp's excitatory and excitatory2 inputs, the inhibitory its inhibitory
    one: the same numbers, each receptor's current recorded by its own name."""
    sim.setup(timestep=0.1)
    psr = sim.CurrExpPostSynapticResponse
    composed = sim.PointNeuron(sim.LIF(tau_m=10.0, v_rest=-60.0), AMPA=psr(tau_syn=1.0),
                               NMDA=psr(tau_syn=20.0), GABAA=psr(tau_syn=1.5))
    mono = sim.Population(1, sim.extra_models.IF_curr_dual_exp(
        tau_m=10.0, v_rest=-60.0, tau_syn_E=1.0, tau_syn_E2=20.0, tau_syn_I=1.5),
        initial_values={"v": -60.0})
    comp = sim.Population(1, composed, initial_values={"v": -60.0})
    src = sim.Population(3, sim.SpikeSourceArray(spike_times=[[30.0], [60.0], [90.0]]))
    inputs = ((0, 0.6, "excitatory", "AMPA"), (1, -0.4, "inhibitory", "GABAA"),
              (2, 0.3, "excitatory2", "NMDA"))
    for i, w, mono_receptor, comp_receptor in inputs:
        for pop, receptor in ((mono, mono_receptor), (comp, comp_receptor)):
            sim.Projection(src[i:i + 1], pop, sim.AllToAllConnector(),
                           sim.StaticSynapse(weight=w, delay=1.5), receptor_type=receptor)
    _same_traces(mono, comp, [("AMPA.isyn", "gsyn_exc"), ("NMDA.isyn", "isyn_exc2"),
                              ("GABAA.isyn", "gsyn_inh")], 150.0)  # sPyNNaker's names


def test_point_neuron_refusals_name_what_runs() -> None:
    sim.setup(timestep=0.1)
    with pytest.raises(ConfigurationError, match="or three with one inhibitory"):
        sim.PointNeuron(sim.LIF(), AMPA=sim.AlphaPSR(), NMDA=sim.AlphaPSR(),
                        GABAA=sim.AlphaPSR())
    with pytest.raises(ConfigurationError, match="or three with one inhibitory"):
        sim.PointNeuron(sim.LIF(), a=sim.CurrExpPostSynapticResponse(),
                        b=sim.CurrExpPostSynapticResponse(), c=sim.CurrExpPostSynapticResponse())
    with pytest.raises(ConfigurationError, match="two receptors of one kind"):
        sim.PointNeuron(sim.LIF(), AMPA=sim.CondExpPostSynapticResponse(),
                        GABAA=sim.CurrExpPostSynapticResponse())
    pop = sim.Population(1, sim.PointNeuron(
        sim.LIF(), excitatory=sim.CurrExpPostSynapticResponse(),
        inhibitory=sim.CurrExpPostSynapticResponse()))
    src = sim.Population(1, sim.SpikeSourceArray(spike_times=[1.0]))
    with pytest.raises(ConfigurationError, match="give it negative weights"):
        sim.Projection(src, pop, sim.AllToAllConnector(), sim.StaticSynapse(weight=0.3),
                       receptor_type="inhibitory")
    sim.end()
