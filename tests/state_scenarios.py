"""Shared by the state-plane tests: one small network, run live (lock-step, through a bridge)
or as the reference (the same changes made with ``Projection.set`` / ``Population.set``
between ``run()`` steps).

    src (SpikeSourceArray, 30, seeded random trains) --FixedProbability(0.5), 'drive'--> pop
    pop (IF_curr_exp, 30) --live--> (the bridge)

Run as a script: ``python state_scenarios.py live NOTIFY_PORT`` (lock-step, live output to the
bridge at NOTIFY_PORT, no change made by the script) or ``reference`` (the changes of
:data:`CHANGES` made between run steps) or ``baseline`` (no change at all). Prints
``RESULT <json>``: every spike of pop as [tick, id], and the weights read at :data:`T_READ`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve()
TICKS = 200
T_READ = 50  #: the client reads the weights here
T_WEIGHTS = 100  #: ... sets a subset of them from here
T_PARAM = 150  #: ... and i_offset of a few neurons from here
N = 30
#: The subset: (pre, post) pairs that 'drive' connects, and their new weights (nA).
PAIRS_SEED = 7
I_OFFSET_IDS = [2, 5, 11, 17]
I_OFFSET = 1.2  #: nA: enough to make a resting IF_curr_exp fire


def build(sim):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(3)
    trains = [sorted({float(t) for t in rng.integers(1, TICKS, 12)}) for _ in range(N)]
    src = sim.Population(N, sim.SpikeSourceArray(spike_times=trains), label="src")
    pop = sim.Population(N, sim.IF_curr_exp(tau_refrac=2.0), label="pop")
    connector = sim.FixedProbabilityConnector(
        0.5, rng=sim.NumpyRNG(seed=11))
    weights = sim.RandomDistribution("uniform", (0.3, 1.2), rng=sim.NumpyRNG(seed=5))
    drive = sim.Projection(src, pop, connector, sim.StaticSynapse(weight=weights, delay=1.0),
                           label="drive")
    pop.record("spikes")
    return src, pop, drive


def subset(pre: np.ndarray, post: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The pairs the client changes: every fourth connection, made strong."""
    pick = np.arange(0, pre.size, 4)
    values = np.random.default_rng(PAIRS_SEED).uniform(2.0, 4.0, pick.size)
    return pre[pick], post[pick], values


def spikes(pop) -> list[list[int]]:  # type: ignore[no-untyped-def]
    return sorted([round(float(t)) - 1, int(train.annotations["source_index"])]
                  for train in pop.get_data("spikes").segments[0].spiketrains
                  for t in train.magnitude)


def main(mode: str, notify: int | None) -> None:
    import spinnlive.pynn as sim

    # lock-step: never waits for a client; a loaded machine may take a while to confirm
    sim.setup(timestep=1.0, realtime=False, wait_on_confirmation_timeout=200.0)
    _, pop, drive = build(sim)
    result: dict[str, object] = {}
    if mode == "live":
        sim.external_devices.activate_live_output_for(pop, database_notify_port_num=notify)
        sim.run(TICKS)
    elif mode == "baseline":
        sim.run(TICKS)
    else:
        sim.run(T_READ)
        read = np.array(drive.get(["weight"], format="list", with_address=True))
        result["weights"] = read.tolist()  # [pre, post, weight] per connection
        sim.run(T_WEIGHTS - T_READ)
        matrix = drive.get("weight", format="array")
        sub_pre, sub_post, values = subset(read[:, 0].astype(int), read[:, 1].astype(int))
        matrix[sub_pre, sub_post] = values
        drive.set(weight=matrix)
        sim.run(T_PARAM - T_WEIGHTS)
        pop[I_OFFSET_IDS].set(i_offset=I_OFFSET)
        sim.run(TICKS - T_PARAM)
    result["spikes"] = spikes(pop)
    sim.end()
    print("RESULT", json.dumps(result), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else None)
