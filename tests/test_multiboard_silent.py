"""A board that goes silent mid-run: the bridge reports it by name, keeps the other boards'
streams, and counts what was lost.

Three of the engine's own board endpoints (real UDP sockets at 127.0.0.x:17893, answering IP-tag
requests as SCAMP does) and its live packet gatherers (each board's LPG sending from that board's
address) play a 3-board machine: ``a`` fills board 0, ``b`` and the injector ``inj`` sit on board
1, ``c`` on board 2. The bridge refreshes its tags every 0.1 s (2 s for an answer). Board 1 then dies (its socket
closes, its LPG sends nothing more) while boards 0 and 2 go on ticking; then it comes back.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import zmq
import zmq.asyncio
from bridge_helpers import quick_config
from waiting import until

from spinnlive.bridge import Bridge
from spinnlive.client import connect
from spinnlive.database.writer import write_database
from spinnlive.engine.board import BoardEndpoint
from spinnlive.engine.live_output import LiveOutput
from spinnlive.engine.mapping import map_network
from spinnlive.engine.vertices import AppVertex, LiveOutputRequest
from spinnlive.transport.notifier import ListenerAddress, Notifier

VERTICES = [AppVertex("a", 807, "neuron", max_atoms_per_core=1),
            AppVertex("b", 806, "neuron", max_atoms_per_core=1),
            AppVertex("inj", 4, "injector"),
            AppVertex("c", 10, "neuron", max_atoms_per_core=1)]
OUTPUTS = [LiveOutputRequest(label) for label in ("a", "b", "c")]
BEFORE, AFTER = 20, 25  # ticks with all three boards, then with board 1 dead


def _spikes(tick: int, labels: tuple[str, ...]) -> dict[str, np.ndarray]:
    sizes = {"a": 807, "b": 806, "c": 10}
    return {label: np.array([tick % sizes[label], (3 * tick + 1) % sizes[label]])
            for label in labels}


async def _lifecycle(sub: zmq.asyncio.Socket, event: str) -> dict[str, Any]:
    while True:
        frames = await sub.recv_multipart()
        body = json.loads(frames[2])
        if body.get("event") == event:
            return dict(body)


async def test_a_silent_board_is_reported_and_the_others_go_on(tmp_path: Path) -> None:
    boards = [await BoardEndpoint.open() for _ in range(3)]
    live: LiveOutput | None = None
    try:
        addresses = [b.address[0] for b in boards]
        mapping = map_network(VERTICES, board_address=addresses, live_outputs=OUTPUTS,
                              n_boards_required=3)
        assert [mapping.board_of(mapping.vertex(v).cores[0].placement).index
                for v in ("a", "b", "inj", "c")] == [0, 1, 1, 2]
        for index, board in enumerate(boards):
            board.load(mapping, None, index)
        live = LiveOutput(mapping, [b.tags for b in boards])
        database = write_database(mapping.to_database_records(), tmp_path)
        config = quick_config(tag_timeout_s=2.0, tag_resend_s=0.1, tag_refresh_s=0.1)
        async with Bridge(config) as bridge, connect(bridge.endpoints["discovery"]) as client:
            streams = {label: client.spikes(label) for label in ("a", "b", "c")}
            for stream in streams.values():
                await stream.ready()
            ctx = zmq.asyncio.Context.instance()
            sub = ctx.socket(zmq.SUB)
            sub.connect(bridge.endpoints["publish"])
            sub.setsockopt(zmq.SUBSCRIBE, b"lifecycle")
            notifier = Notifier([ListenerAddress("127.0.0.1", bridge.notify_address[1])],
                                timeout=10.0)
            try:
                await notifier.notify_database(str(database))
                await notifier.start()
                stats = bridge.statistics()
                assert {b: s.state for b, s in stats.boards.items()} == dict.fromkeys(
                    addresses, "answering")
                assert stats.boards[addresses[1]].topics == ("spikes/b", "inject/inj")
                for tick in range(BEFORE):
                    live.emit(tick, _spikes(tick, ("a", "b", "c")))
                got: dict[str, list[tuple[int, list[int]]]] = {k: [] for k in streams}
                for label, stream in streams.items():
                    for _ in range(BEFORE):
                        tick, ids = await stream.next(timeout=20)
                        got[label].append((tick, ids.tolist()))

                await boards[1].aclose()  # board 1 dies: no answers, no more live output
                event = await _lifecycle(sub, "board-silent")
                assert event["board"] == addresses[1]
                assert event["topics"] == ["spikes/b", "inject/inj"]
                assert event["last_tick"] == BEFORE - 1
                await client.inject("inj", [0, 1, 2])  # for the dead board: counted, not sent

                for tick in range(BEFORE, BEFORE + AFTER):
                    live.emit(tick, _spikes(tick, ("a", "c")))
                for label in ("a", "c"):
                    for _ in range(AFTER):
                        tick, ids = await streams[label].next(timeout=20)
                        got[label].append((tick, ids.tolist()))
                await until(lambda: "inject/inj" in bridge.statistics().streams,
                            "the injection to be counted")
                stats = bridge.statistics()

                # board 1 comes back at its address: the refresh finds it, input flows again
                boards[1] = await BoardEndpoint.open(addresses[1])
                boards[1].load(mapping, None, 1)
                back = await _lifecycle(sub, "board-answering")
                assert back["board"] == addresses[1]
                await client.inject("inj", [3])
                await until(lambda: boards[1].statistics().injected_events == 1,
                            "the injection to reach board 1 again")
                after = bridge.statistics()
            finally:
                notifier.close()
                sub.close(linger=0)

        for label in ("a", "c"):  # the other boards' streams went on, complete and in order
            assert got[label] == [(t, _spikes(t, (label,))[label].tolist())
                                  for t in range(BEFORE + AFTER)]
        assert got["b"] == [(t, _spikes(t, ("b",))["b"].tolist()) for t in range(BEFORE)]
        dead, alive = stats.boards[addresses[1]], [stats.boards[addresses[i]] for i in (0, 2)]
        assert dead.state == "silent" and dead.silent_periods == 1
        assert dead.last_tick == BEFORE - 1
        assert dead.missed_ticks == AFTER  # the others went on AFTER ticks past its last one
        assert dead.dropped_input_events == 3 and dead.injected_packets == 0
        # (a late duplicate of a tag reply, resent under load, counts as a bad packet)
        assert dead.packets - dead.bad_packets == BEFORE and dead.events == 2 * BEFORE
        assert [b.state for b in alive] == ["answering", "answering"]
        assert [b.packets - b.bad_packets for b in alive] == [BEFORE + AFTER] * 2
        assert [b.events for b in alive] == [2 * (BEFORE + AFTER)] * 2
        assert all(b.missed_ticks == 0 and b.tags == {"7": True} for b in alive)
        assert dead.tags == {"7": False}
        inject = stats.streams["inject/inj"]
        assert inject.dropped == {"board_silent": 1} and inject.dropped_events == {
            "board_silent": 3}
        assert inject.forwarded_events == 0
        assert after.boards[addresses[1]].state == "answering"
        assert after.boards[addresses[1]].injected_packets == 1
        assert after.streams["inject/inj"].forwarded_events == 1
    finally:
        if live is not None:
            live.close()
        for board in boards:
            await board.aclose()
