"""NEST co-simulation through a real bridge process and a real-time spinnlive network process.

The loop under test: spinnlive ``src`` -> bridge -> NEST parrots (mirror) -> NEST spike_recorder
-> bridge -> spinnlive injector ``inj``. The expected ticks come from what the engine recorded
(``src``'s spikes) and the delays documented in adapters/nest_cosim.py, never typed in.
"""

from __future__ import annotations

import logging
import threading

import numpy as np
import pytest
from closed_loop_helpers import (
    SRC_TICKS,
    network_result,
    release,
    start_bridge,
    start_network,
    stop,
    stop_on_failure,
)

nest = pytest.importorskip("nest")

from spinnlive.adapters.nest_cosim import NestCoSimulation  # noqa: E402

TICKS = 100
#: lock-step with the adapter: the answer to src's spike of tick t is due in tick t + 2, so
#: tick t + 3 waits until it has reached the engine (i + 1 injected events by then)
HOLDS = {t + 3: i + 1 for i, t in enumerate(SRC_TICKS)}


def _cosim(discovery: str) -> tuple[NestCoSimulation, object]:
    nest.ResetKernel()
    nest.verbosity = nest.VerbosityLevel.ERROR
    nest.resolution = 1.0
    cosim = NestCoSimulation(discovery, idle_log_s=0.5)
    parrots = cosim.mirror("src")
    recorder = nest.Create("spike_recorder")
    nest.Connect(parrots, recorder)
    cosim.drive("inj", parrots)
    return cosim, recorder


def _follow(cosim: NestCoSimulation, net) -> None:
    """The adapter follows the whole run: no deadline of its own (the run's start-up takes
    what the machine makes it take); a network that fails stops it."""
    stop_on_failure(net, cosim.stop)
    cosim.run(until_tick=TICKS - 1)


def _one_run(tmp_path, where) -> tuple[NestCoSimulation, object, dict]:
    net = start_network(where["notify"][1], TICKS, tmp_path, holds=HOLDS)
    try:
        # the bridge holds the start until the adapter is subscribed: it sees src's first tick
        cosim, recorder = release(str(where["discovery"]), net,
                                  lambda: _cosim(str(where["discovery"])))
        _follow(cosim, net)
        return cosim, recorder, network_result(net)
    finally:
        stop(net)


def _check_both_ways(cosim: NestCoSimulation, recorder, result: dict) -> None:
    t0 = cosim.anchor[0]
    assert t0 < 40, "the adapter joined after src began firing"
    src = np.array(result["src"])
    assert len(src) == 5
    # spinnlive -> NEST: src atom i at tick t => parrot i spikes at (t - t0 + 1) dt + d
    events = recorder.get("events")
    first = min(events["senders"])
    got = sorted(zip((events["times"] - 1.0 - 1.0 + t0).astype(int).tolist(),
                     (events["senders"] - first).tolist(), strict=True))
    assert got == sorted(map(tuple, src.tolist()))
    # NEST -> spinnlive: parrot spike in NEST step t + 1 => injector atom i fires at tick t + 2
    assert sorted(map(tuple, result["inj"])) == sorted((t + 2, i) for t, i in src.tolist())
    assert cosim.stats.spikes_to_nest == 5 and cosim.stats.spikes_from_nest == 5
    assert cosim.stats.late_spikes == 0
    # and pop, one-to-one from inj with a 1 ms delay, answers each injected spike
    assert {i for _, i in result["pop"]} == {i for _, i in result["inj"]}


def test_spikes_cross_both_ways_with_the_stated_delays(tmp_path):
    bridge, where = start_bridge(hold=True)
    try:
        cosim, recorder, result = _one_run(tmp_path, where)
        try:
            _check_both_ways(cosim, recorder, result)
        finally:
            cosim.close()
    finally:
        stop(bridge)


def test_survives_the_bridge_going_away_and_coming_back(tmp_path, caplog):
    """One adapter, two bridge processes on the same endpoints, two network runs."""
    from closed_loop_helpers import free_port

    ports = (free_port(), free_port(), free_port(), free_port())
    caplog.set_level(logging.INFO, logger="spinnlive.adapters.nest_cosim")
    bridge, where = start_bridge(ports=ports, hold=True)
    try:
        (tmp_path / "a").mkdir()
        cosim, recorder, first = _one_run(tmp_path / "a", where)
    finally:
        stop(bridge)
    try:
        _check_both_ways(cosim, recorder, first)
        # a new bridge: epochs count from 1 again; the adapter's sockets reconnect by
        # themselves while the new network starts (the bridge holds its start meanwhile)
        bridge, where = start_bridge(ports=ports, hold=True)
        try:
            (tmp_path / "b").mkdir()
            net = start_network(where["notify"][1], TICKS, tmp_path / "b", holds=HOLDS)
            try:
                releaser = threading.Thread(target=release, args=(str(where["discovery"]), net),
                                            daemon=True)
                releaser.start()
                _follow(cosim, net)
                second = network_result(net)
                releaser.join()
            finally:
                stop(net)
        finally:
            stop(bridge)
        assert cosim.stats.epochs >= 2
        assert "no restart needed" in caplog.text
        # the second run's src spikes crossed too, re-anchored at the new run's ticks
        t0 = cosim.anchor[0]
        assert t0 < 40
        assert sorted(map(tuple, second["inj"])) == sorted((t + 2, i) for t, i in second["src"])
        assert cosim.stats.spikes_from_nest == 10 and cosim.stats.late_spikes == 0
    finally:
        cosim.close()
