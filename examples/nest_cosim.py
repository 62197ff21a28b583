"""NEST <-> spinnlive co-simulation: spikes cross both ways through the bridge.

Run a bridge that may inject into ``inj`` while it also streams it, then this script, which
starts the spinnlive network (tests/closed_loop_helpers.py's: a pacer firing every tick, a
SpikeSourceArray ``src``, an injector ``inj`` driving ``pop``) and couples NEST to it:

    spinnlive src --> NEST parrots (mirror) --> NEST spike_recorder --> spinnlive inj --> pop

    python examples/nest_cosim.py [--ticks 200] [--plot cosim.png]

It prints the spike counts each way and the measured delays (see adapters/nest_cosim.py).
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

import nest
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from closed_loop_helpers import (  # noqa: E402
    network_result,
    start_bridge,
    start_network,
    stop,
)

from spinnlive.adapters.nest_cosim import NestCoSimulation  # noqa: E402
from spinnlive.client import SyncClient  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ticks", type=int, default=200)
    parser.add_argument("--plot", default=None, help="write a raster to this file")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    bridge, where = start_bridge()
    net = start_network(where["notify"][1], args.ticks, Path(tempfile.mkdtemp()))
    try:
        with SyncClient(str(where["discovery"])) as client:
            while client.describe()["state"] not in ("ready", "running"):
                time.sleep(0.05)
        nest.ResetKernel()
        nest.resolution = 1.0
        cosim = NestCoSimulation(str(where["discovery"]))
        parrots = cosim.mirror("src")
        recorder = nest.Create("spike_recorder")
        nest.Connect(parrots, recorder)
        cosim.drive("inj", parrots)
        cosim.run(until_tick=args.ticks - 1, idle_timeout=3.0)
        result = network_result(net)
        cosim.close()
    finally:
        stop(net)
        stop(bridge)
    events = recorder.get("events")
    t0 = cosim.anchor[0]
    print(f"spinnlive -> NEST: {cosim.stats.spikes_to_nest} spikes, parrot spike times (ms, "
          f"NEST) {events['times'].tolist()}; src ticks {[t for t, _ in result['src']]}, "
          f"anchor tick {t0}")
    print(f"NEST -> spinnlive: {cosim.stats.spikes_from_nest} spikes injected; inj fired at "
          f"ticks {[t for t, _ in result['inj']]}; pop answered {len(result['pop'])} times")
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(8, 3))
        for row, (name, spikes) in enumerate((("src", result["src"]),
                                              ("inj", result["inj"]), ("pop", result["pop"]))):
            data = np.array(spikes).reshape(-1, 2)
            ax.scatter(data[:, 0], data[:, 1] + 12 * row, s=8, label=name)
        nest_ticks = events["times"] - 1.0 + t0 - 1
        ax.scatter(nest_ticks, events["senders"] - min(events["senders"], default=0) + 36,
                   s=8, label="NEST parrots")
        ax.set_xlabel("spinnlive tick")
        ax.legend()
        fig.savefig(args.plot)
        print(f"raster written to {args.plot}")


if __name__ == "__main__":
    main()
