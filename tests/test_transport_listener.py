"""spinnlive's Listener against a raw toolchain socket (connect()ed, as the reference's is)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncio_dgram
import pytest

from spinnlive.clock import VirtualClock
from spinnlive.errors import HandshakeTimeout, TransportError
from spinnlive.protocol.commands import (
    Database,
    EventStop,
    StartResumeNotification,
    StopPauseNotification,
    encode_command,
)
from spinnlive.protocol.handshake import DatabaseReady, Event, Paused, Started, State
from spinnlive.transport import Listener

DB = encode_command(Database(path="/tmp/run_1/input_output_database.sqlite3"))
START = encode_command(StartResumeNotification())
STOP = encode_command(StopPauseNotification())
CONFIRM = encode_command(Database(path=None))


async def toolchain_for(listener: Listener) -> asyncio_dgram.aio.DatagramClient:
    """A toolchain socket connected to the listener: it hears only the listener's address."""
    return await asyncio_dgram.connect(listener.address)


async def recv(stream: asyncio_dgram.aio.DatagramStream) -> bytes:
    async with asyncio.timeout(5):
        data, _ = await stream.recv()
    return bytes(data)


async def next_event(events: AsyncIterator[Event]) -> Event:
    async with asyncio.timeout(5):
        return await anext(events)


async def test_confirmation_is_sent_only_after_the_hook_returns() -> None:
    hook_entered, hook_may_return = asyncio.Event(), asyncio.Event()
    seen: list[str | None] = []

    async def on_database(path: str | None) -> None:
        seen.append(path)
        hook_entered.set()
        await hook_may_return.wait()

    async with Listener(port=0, on_database=on_database) as listener:
        toolchain = await toolchain_for(listener)
        events = listener.events()
        first = asyncio.create_task(next_event(events))
        await toolchain.send(DB)
        async with asyncio.timeout(5):
            await hook_entered.wait()
        assert listener.state is State.DB_RECEIVED
        with pytest.raises(TimeoutError):  # nothing may come back while the app is reading
            async with asyncio.timeout(0.1):
                await toolchain.recv()
        hook_may_return.set()
        assert await recv(toolchain) == CONFIRM  # from the address the toolchain notified
        assert await first == DatabaseReady(path="/tmp/run_1/input_output_database.sqlite3")
        assert seen == ["/tmp/run_1/input_output_database.sqlite3"]
        toolchain.close()


async def test_start_stop_and_a_new_database_at_any_time() -> None:
    async with Listener(port=0) as listener:
        events = listener.events()
        first = await toolchain_for(listener)
        await first.send(DB)
        assert isinstance(await next_event(events), DatabaseReady)
        assert await recv(first) == CONFIRM
        await first.send(START)
        assert await next_event(events) == Started()
        # a remap mid-run, from a new toolchain socket: accepted and confirmed to the new one
        second = await toolchain_for(listener)
        await second.send(encode_command(Database(path=None)))
        assert await next_event(events) == DatabaseReady(path=None)
        assert await recv(second) == CONFIRM
        assert listener.statistics().toolchain == second.sockname
        await second.send(START)
        await second.send(STOP)
        assert [await next_event(events), await next_event(events)] == [Started(), Paused()]
        stats = listener.statistics()
        assert (stats.steps, stats.confirmed, stats.state) == (2, 2, State.PAUSED)
        for s in (first, second):
            s.close()


async def test_bad_datagrams_are_counted_and_logged_never_fatal(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with Listener(port=0) as listener:
        toolchain = await toolchain_for(listener)
        events = listener.events()
        for junk in (b"\xff", encode_command(EventStop()), START, b"\x01\x40\xff\xfe"):
            await toolchain.send(junk)
        await toolchain.send(DB)
        assert isinstance(await next_event(events), DatabaseReady)
        stats = listener.statistics()
        assert stats.endpoint.dropped == {"rejected": 4}
        assert stats.endpoint.received == 5 and stats.steps == 1
        toolchain.close()
    # rate-limited: a line at the 1st, 10th, 100th ... drop of a reason, the count in stats
    rejected = [r.getMessage() for r in caplog.records if "'rejected'" in r.getMessage()]
    assert len(rejected) == 1 and "(1 so far)" in rejected[0], rejected


async def test_a_failing_hook_propagates_and_confirms_nothing() -> None:
    async def on_database(path: str | None) -> None:
        raise RuntimeError("cannot read " + str(path))

    async with Listener(port=0, on_database=on_database) as listener:
        toolchain = await toolchain_for(listener)
        await toolchain.send(DB)
        with pytest.raises(RuntimeError, match="cannot read"):
            await next_event(listener.events())
        assert listener.statistics().confirmed == 0
        toolchain.close()


async def test_a_stage_timeout_names_the_listener_and_what_it_waited_for() -> None:
    clock = VirtualClock()
    async with Listener(port=0, clock=clock) as listener:
        toolchain = await toolchain_for(listener)
        events = listener.events(timeout=3.0)
        await toolchain.send(DB)
        assert isinstance(await next_event(events), DatabaseReady)
        waiting = asyncio.create_task(next_event(events))
        await clock.wait_for_sleepers(1)
        clock.advance(3.0)
        with pytest.raises(HandshakeTimeout) as info:
            await waiting
        message = str(info.value)
        assert f"127.0.0.1:{listener.address[1]}" in message
        assert "DB_CONFIRMED" in message and "Started" in message
        toolchain.close()


async def test_close_ends_the_iteration() -> None:
    listener = await Listener(port=0).open()
    collected: list[Event] = []

    async def consume() -> None:
        async for event in listener.events():
            collected.append(event)

    task = asyncio.create_task(consume())
    await asyncio.sleep(0)
    listener.close()
    async with asyncio.timeout(5):
        await task
    assert collected == []
    with pytest.raises(TransportError):
        _ = Listener(port=0).address
