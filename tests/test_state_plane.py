"""The engine side of the state plane without sockets: jobs resolved against a real network's
catalogue, applied by hand between ticks, their replies finished afterwards, as the loop thread
would."""

from __future__ import annotations

import numpy as np
import pytest

import spinnlive.pynn as sim
from spinnlive.engine.state_plane import StatePlane, resolve
from spinnlive.protocol.state import Code, Op, StateError, StateRequest


@pytest.fixture
def catalogue():
    sim.setup(timestep=1.0, realtime=False)
    a = sim.Population(100, sim.SpikeSourcePoisson(rate=10.0), label="a")
    b = sim.Population(80, sim.IF_curr_exp(), label="b")
    sim.Projection(a, b, sim.AllToAllConnector(), sim.StaticSynapse(weight=0.25), label="ab")
    sim.run(5)
    yield sim.simulator.state.engine._catalogue()
    sim.end()


def _plane():  # type: ignore[no-untyped-def]
    done = []
    return StatePlane(lambda job, finish: done.append((job, finish))), done


def test_a_static_read_pending_when_a_write_lands_keeps_its_ticks_values(catalogue):
    plane, done = _plane()
    plane.submit(resolve(StateRequest(op=Op.WEIGHTS, projection="ab"), catalogue))
    plane.apply(5)
    (_, read), = done
    plane.submit(resolve(StateRequest(op=Op.SET_WEIGHTS, projection="ab",
                                      values=np.array([0.5])), catalogue))
    plane.apply(6)  # the write lands while the read's gather has not run
    before = read()
    assert before.tick == 5 and before.values.size == 8000
    assert np.all(before.values == 0.25)
    after = done[1][1]()
    assert after.ok and after.tick == 6
    plane.submit(resolve(StateRequest(op=Op.WEIGHTS, projection="ab"), catalogue))
    plane.apply(7)
    assert np.all(done[2][1]().values == 0.5)


def test_a_learning_read_is_its_ticks_copy_and_reuses_the_copys_buffer():
    """A learning projection's read copies its part of the table on the tick thread: its
    gather, run after the network has learned on, still gives the weights of its tick (what
    Projection.get returned then), and a later read reuses the buffer (no fresh pages)."""
    sim.setup(timestep=1.0, realtime=False)
    a = sim.Population(100, sim.SpikeSourcePoisson(rate=50.0), label="a")
    b = sim.Population(80, sim.IF_curr_exp(i_offset=1.0), label="b")
    other = sim.Population(30, sim.SpikeSourcePoisson(rate=5.0), label="other")
    sim.Projection(other, b, sim.AllToAllConnector(), sim.StaticSynapse(weight=0.1))
    stdp = sim.STDPMechanism(
        timing_dependence=sim.SpikePairRule(tau_plus=20.0, tau_minus=20.0, A_plus=0.05,
                                            A_minus=0.06),
        weight_dependence=sim.AdditiveWeightDependence(w_min=0.0, w_max=1.0), weight=0.5)
    ab = sim.Projection(a, b, sim.AllToAllConnector(), stdp, label="ab")
    try:
        sim.run(20)
        catalogue = sim.simulator.state.engine._catalogue()
        at_20 = np.array(ab.get("weight", format="list", with_address=False))
        plane, done = _plane()
        plane.submit(resolve(StateRequest(op=Op.WEIGHTS, projection="ab"), catalogue))
        plane.apply(20)
        sim.run(30)  # learns on before the read's gather runs
        at_50 = np.array(ab.get("weight", format="list", with_address=False))
        assert np.any(at_50 != at_20)
        first = done[0][1]()
        assert first.tick == 20 and first.values.size == 8000
        np.testing.assert_array_equal(first.values, at_20)
        entry = catalogue.projection("ab")
        (spare,) = entry.spares
        plane.submit(resolve(StateRequest(op=Op.WEIGHTS, projection="ab"), catalogue))
        plane.apply(50)
        assert not entry.spares  # the next read took the buffer back
        second = done[1][1]()
        np.testing.assert_array_equal(second.values, at_50)
        assert entry.spares[0] is spare
    finally:
        sim.end()


def test_stamped_jobs_wait_for_their_tick_and_late_ones_are_refused(catalogue):
    plane, done = _plane()
    ids = np.array([3], np.uint32)
    plane.submit(resolve(StateRequest(op=Op.SET, population="b", name="i_offset", ids=ids,
                                      values=np.array([0.4]), tick=9), catalogue))
    plane.submit(resolve(StateRequest(op=Op.GET, population="b", name="i_offset", ids=ids,
                                      tick=4), catalogue))
    plane.apply(8)
    assert len(done) == 1 and done[0][1]().code is Code.LATE  # tick 4 had begun
    assert plane.statistics().held == 1
    plane.apply(9)
    assert done[1][1]().tick == 9
    assert catalogue.populations["b"].group.params["i_offset"][3] == 0.4
    assert plane.statistics().late == 1 and plane.statistics().held == 0


def test_the_queue_is_bounded(catalogue):
    plane = StatePlane(lambda job, finish: None, max_queued=2)
    request = StateRequest(op=Op.GET, population="b", name="v")
    for _ in range(2):
        plane.submit(resolve(request, catalogue))
    with pytest.raises(StateError) as caught:
        plane.submit(resolve(request, catalogue))
    assert caught.value.code is Code.QUEUE_FULL and plane.statistics().refused == 1


@pytest.mark.parametrize("synapse", ["tsodyks", "bernoulli"])
def test_a_read_of_a_synapse_that_scales_its_weight_gives_the_weights(synapse: str) -> None:
    """Tsodyks-Markram and stochastic synapses put what each spike delivers into the weight
    table (u·x·w, or w or 0): a live read must still give the weights (Projection.get's),
    small reads and large ones, and a live write changes what it reads."""
    sim.setup(timestep=1.0, realtime=False)
    a = sim.Population(100, sim.SpikeSourcePoisson(rate=50.0), label="a")
    b = sim.Population(80, sim.IF_curr_exp(), label="b")
    kind = (sim.TsodyksMarkramSynapse(U=0.5, tau_rec=200.0, weight=0.25)
            if synapse == "tsodyks" else sim.SimpleStochasticSynapse(p=0.5, weight=0.25))
    sim.Projection(a, b, sim.AllToAllConnector(), kind, label="ab")
    try:
        sim.run(30)  # the table now holds what the last spikes delivered
        catalogue = sim.simulator.state.engine._catalogue()
        table = catalogue.net.weight_table()[catalogue.projection("ab").slots()]
        assert np.any(table != 0.25)
        plane, done = _plane()
        plane.submit(resolve(StateRequest(op=Op.WEIGHTS, projection="ab"), catalogue))
        plane.submit(resolve(StateRequest(op=Op.WEIGHTS, projection="ab",
                                          pre=np.array([3], np.uint32),
                                          post=np.array([7], np.uint32)), catalogue))
        plane.apply(30)
        whole, one = (finish() for _, finish in done)
        assert whole.values.size == 8000 and np.all(whole.values == 0.25)
        assert one.values.tolist() == [0.25]
        plane.submit(resolve(StateRequest(op=Op.SET_WEIGHTS, projection="ab",
                                          values=np.array([0.5])), catalogue))
        plane.submit(resolve(StateRequest(op=Op.WEIGHTS, projection="ab"), catalogue))
        plane.apply(31)
        assert np.all(done[3][1]().values == 0.5)
    finally:
        sim.end()
