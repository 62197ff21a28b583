"""docs/wire-format.md read by an outsider: the points where spec and bridge had parted, each
held to the spec here (defaults, epochs in headers, stats after lifecycle, a topic's own totals,
the held state)."""

from __future__ import annotations

import argparse
import asyncio

import zmq
import zmq.asyncio
from bridge_helpers import FakeBoard, announce, quick_config, write_bridge_database

from spinnlive.bridge import Bridge
from spinnlive.bridge.options import add_bridge_options, bridge_config
from spinnlive.cli.commands import _parser
from spinnlive.client import connect
from spinnlive.wire import LIFECYCLE, STATS, Notice, decode_output, new_sync_token
from spinnlive.wire.topics import DEFAULT_DISCOVERY, DEFAULT_INPUT, DEFAULT_PUBLISH


def _config(parser: argparse.ArgumentParser, *argv: str):  # type: ignore[no-untyped-def]
    return bridge_config(parser.parse_args(list(argv)))


def test_every_way_to_start_a_bridge_has_the_specs_defaults():
    module = argparse.ArgumentParser()
    add_bridge_options(module)  # python -m spinnlive.bridge
    command = _config(_parser(), "bridge")
    run = _config(_parser(), "run", "x.py")
    assert _config(module) == command  # one set of flags, one set of defaults
    assert (command.discovery, command.publish, command.input, command.notify_port) == (
        "tcp://127.0.0.1:5570", "tcp://127.0.0.1:0", "tcp://127.0.0.1:0", 19999)
    assert (DEFAULT_DISCOVERY, DEFAULT_PUBLISH, DEFAULT_INPUT) == (
        command.discovery, command.publish, command.input)
    # spinnlive run registers its own bridge: only the notify port differs
    assert run.notify_port == 0 and run == bridge_config(argparse.Namespace(
        **{**vars(_parser().parse_args(["bridge"])), "notify_port": 0}))
    held = _config(_parser(), "run", "x.py", "--hold-confirmation", "--hold-timeout", "3")
    assert held.hold_confirmation and held.hold_timeout_s == 3.0


async def test_lifecycle_then_stats_and_epochs_in_every_header(tmp_path):
    board = FakeBoard()
    try:
        path = write_bridge_database(tmp_path, board.ip)
        config = quick_config(stats_interval_s=60.0, hold_confirmation=True,
                              hold_timeout_s=30.0)
        async with Bridge(config) as bridge, connect(bridge.endpoints["discovery"]) as client:
            sub = client.subscribe(LIFECYCLE, STATS)
            await sub.ready()
            confirmed = asyncio.ensure_future(announce(bridge, path, board))
            seen: list[tuple[bytes, str | None]] = []
            while (LIFECYCLE, "database-ready") not in seen or seen[-1][0] != STATS:
                message = await sub.receive(10)
                assert isinstance(message, Notice), "no lifecycle message within 10 s"
                seen.append((message.topic, message.event))
                assert message.header.epoch == 1
                if message.topic == STATS:  # a topic's own totals count the message itself
                    own = message.body["streams"]["stats"]
                    assert own["sequence"] == own["messages"]
            # every lifecycle message is followed by its own stats message
            lifecycle = [i for i, (topic, _) in enumerate(seen) if topic == LIFECYCLE]
            assert all(seen[i + 1][0] == STATS for i in lifecycle)
            assert [seen[i][1] for i in lifecycle] == ["new-epoch", "database-ready"]
            description = await client.describe()
            assert (description["state"], description["awaiting_ready"]) == ("held", True)
            # the sync answer of a new subscription carries the current epoch
            sock = zmq.asyncio.Context.instance().socket(zmq.SUB)
            try:
                sock.connect(bridge.endpoints["publish"])
                token = new_sync_token("spec")
                sock.setsockopt(zmq.SUBSCRIBE, token)
                answer = decode_output(await asyncio.wait_for(sock.recv_multipart(), 10))
            finally:
                sock.close(linger=0)
            assert answer.topic == token and answer.header.epoch == 1
            await client.ready(1)
            notifier, _ = await asyncio.wait_for(confirmed, 10)
            while (message := await sub.receive(10)) is not None:
                if isinstance(message, Notice) and message.event == "confirmed":
                    break
            assert message is not None and message.body["state"] == "ready"
            assert (await client.describe())["state"] == "ready"
            notifier.close()
    finally:
        board.close()
