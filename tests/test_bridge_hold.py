"""``hold_confirmation``: the bridge confirms a DATABASE only after a client's ``ready`` for its
epoch (or at the deadline), so a client can load its inputs before the simulation starts."""

from __future__ import annotations

import asyncio

from bridge_helpers import announce, quick_config, write_bridge_database
from waiting import loop_turns, until

from spinnlive.bridge import Bridge
from spinnlive.client import connect
from spinnlive.clock import VirtualClock


async def test_the_confirmation_waits_for_ready_of_the_held_epoch(tmp_path, board):
    path = write_bridge_database(tmp_path, board.ip)
    async with Bridge(quick_config(hold_confirmation=True, hold_timeout_s=30.0)) as bridge:
        async with connect(bridge.endpoints["discovery"]) as client:
            confirmed = asyncio.ensure_future(announce(bridge, path, board))
            await until(lambda: _awaiting_ready(client), "the held confirmation", 10)
            description = await client.describe()
            assert description["epoch"] == 1 and description["state"] == "held"
            await client.inject("stim", [1], tick=5)  # loaded while the toolchain waits
            await client.ready(2)  # not the held epoch: ignored
            await client.inject("stim", [2], tick=6)
            assert len(await board.recv_all()) == 2 and not confirmed.done()
            await client.ready(1)
            async with asyncio.timeout(10):
                notifier, _ = await confirmed
            hold = (await client.describe())["hold"]
            assert hold == {"enabled": True, "released": 1, "timeouts": 0, "ignored": 1}
            assert not (await client.describe())["awaiting_ready"]
            assert bridge.statistics().streams["ready"].dropped == {"not_held": 1}
            notifier.close()


async def test_without_ready_the_bridge_confirms_at_the_deadline_and_counts_it(tmp_path, board):
    """In virtual time: the hold lasts exactly ``hold_timeout_s`` on the bridge's clock."""
    path = write_bridge_database(tmp_path, board.ip)
    clock = VirtualClock()
    config = quick_config(hold_confirmation=True, hold_timeout_s=30.0)
    async with Bridge(config, clock=clock) as bridge:
        confirmed = asyncio.ensure_future(announce(bridge, path, board))
        await until(lambda: bridge.describe()["awaiting_ready"], "the held confirmation", 10)
        await clock.wait_for_sleepers()
        clock.advance(29.9)  # the stats period and the tag timers fire; the hold does not
        await loop_turns()  # enough for a woken hold to have counted its timeout
        assert bridge.describe()["hold"]["timeouts"] == 0 and bridge.describe()["awaiting_ready"]
        assert not confirmed.done()
        clock.advance(0.2)
        async with asyncio.timeout(10):
            notifier, _ = await confirmed
        description = bridge.describe()
        assert description["hold"]["timeouts"] == 1 and not description["awaiting_ready"]
        notifier.close()


async def _awaiting_ready(client) -> bool:  # type: ignore[no-untyped-def]
    return bool((await client.describe())["awaiting_ready"])
