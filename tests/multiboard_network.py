"""A network process for the multi-board tests: ``python multiboard_network.py NOTIFY TICKS
BOARDS PER_CORE`` runs it in lock-step on the embedded engine with the bridge at NOTIFY.

    noise (SpikeSourcePoisson, 20 at 60 Hz) --all-to-all, 0.1 nA--> big (IF_curr_exp, 1000)
    big --a fixed sparse list, 1 nA, 1 ms--> big
    inj (SpikeInjector, 1000) --one-to-one, 20 nA, 1 ms--> big --live-->

With BOARDS = 3 and PER_CORE = 1 the machine is a triad of three board endpoints: big's 1000
cores start on board 0 and run onto board 1, where noise and inj sit, so injection goes through
board 1 and big's live output leaves through board 0's LPG. With BOARDS = 1 and PER_CORE = 256
it is the same network on one board. It prints ``RESULT {json}``: big's recorded spikes as
(tick, id), and each board endpoint's address and counters as the engine saw them.
"""

from __future__ import annotations

import json
import sys


def main(notify: int, ticks: int, boards: int, per_core: int) -> None:
    import spinnlive.pynn as sim
    from spinnlive.pynn import simulator

    sim.setup(timestep=1.0, realtime=False, n_boards_required=boards, seed=7)
    sim.set_number_of_neurons_per_core(sim.IF_curr_exp, per_core)
    ext = sim.external_devices
    big = sim.Population(1000, sim.IF_curr_exp(), label="big")
    noise = sim.Population(20, sim.SpikeSourcePoisson(rate=60.0), label="noise")
    inj = sim.Population(1000, ext.SpikeInjector(database_notify_port_num=notify), label="inj")
    pairs = [(i, (7 * i + 3) % 1000, 1.0, 1.0) for i in range(0, 1000, 2)]
    sim.Projection(big, big, sim.FromListConnector(pairs), sim.StaticSynapse())
    sim.Projection(noise, big, sim.AllToAllConnector(), sim.StaticSynapse(weight=0.1))
    sim.Projection(inj, big, sim.OneToOneConnector(), sim.StaticSynapse(weight=20.0, delay=1.0))
    ext.activate_live_output_for(big, database_notify_port_num=notify)
    big.record("spikes")
    sim.run(ticks)
    engine = simulator.state.engine
    mapping = engine.mapping
    boards_seen = [{"address": b.address[0], "injected_events": b.injected_events,
                    "dropped": b.datagrams_dropped}
                   for b in engine.live.summary().boards]
    result = {
        "n_boards": mapping.n_boards,
        "big_boards": sorted({mapping.board_of(c.placement).address
                              for c in mapping.vertex("big").cores}),
        "inj_board": mapping.board_of(mapping.vertex("inj").cores[0].placement).address,
        "lpg_board": mapping.boards[mapping.lpg_for("big").board].address,
        "boards": boards_seen,
        "big": sorted((round(float(t)) - 1, int(train.annotations["source_index"]))
                      for train in big.get_data("spikes").segments[0].spiketrains
                      for t in train.magnitude),
    }
    sim.end()
    print("RESULT", json.dumps(result), flush=True)


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:5]))
