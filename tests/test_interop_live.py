"""sPyNNaker's own live clients, unmodified, against spinnlive's board side.

The engine side (tests/board_harness.py) is a real kernel network behind the board endpoint on
its own 127.0.0.x:17893, with its database and spinnlive's Notifier; the clients are
``SpynnakerLiveSpikesConnection`` and ``SpynnakerPoissonControlConnection`` from the installed
spynnaker package, exactly as a user script would use them.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from board_harness import POISSON_RATES, live_spikes_scenario, poisson_control_scenario, u1616

pytest.importorskip("spynnaker")


async def test_spynnaker_live_spikes_connection_injects_and_receives(tmp_path: Path) -> None:
    from spynnaker.pyNN.connections import SpynnakerLiveSpikesConnection

    result = await live_spikes_scenario(SpynnakerLiveSpikesConnection, tmp_path)
    assert [s["events"] > 0 for s in result["steps"]] == [True, True]


async def test_spynnaker_poisson_control_connection_sets_rates(tmp_path: Path) -> None:
    from spynnaker.pyNN.connections import SpynnakerPoissonControlConnection

    result = await poisson_control_scenario(SpynnakerPoissonControlConnection, tmp_path,
                                            POISSON_RATES, u1616(POISSON_RATES))
    assert result["count"] > 0


async def test_full_262_byte_live_packets_reach_the_reference_receiver(tmp_path: Path) -> None:
    """150 neurons in one tick: 64-key packets of 262 bytes, over spinnman's 256 budget (§7.5)."""
    from spynnaker.pyNN.connections import SpynnakerLiveSpikesConnection

    result = await live_spikes_scenario(SpynnakerLiveSpikesConnection, tmp_path, n_inj=150,
                                        steps_sent=((list(range(150)), False),))
    (step,) = result["steps"]
    assert step["max_per_tick"] >= 64  # so at least one full packet was sent and received
