"""spinnlive's Notifier against spinnlive's Listener and raw UDP peers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncio_dgram
import pytest

from spinnlive.clock import VirtualClock
from spinnlive.errors import (
    ConfigurationError,
    HandshakeError,
    HandshakeTimeout,
    LocalProtocolError,
)
from spinnlive.protocol.handshake import DatabaseReady, Event, Paused, Started, State
from spinnlive.transport import Listener, ListenerAddress, Notifier

LOOPBACK = ("127.0.0.1", 0)


class Consumer:
    """A Listener whose events are iterated into a bounded queue, as an application would."""

    def __init__(self) -> None:
        self.listener = Listener(port=0, on_database=self._hook)
        self.events: asyncio.Queue[Event] = asyncio.Queue(maxsize=64)
        self.hook_paths: list[str | None] = []
        self.toolchains: list[tuple[str, int]] = []

    async def _hook(self, path: str | None) -> None:
        self.hook_paths.append(path)

    async def _run(self) -> None:
        async for event in self.listener.events():
            if isinstance(event, DatabaseReady):
                toolchain = self.listener.statistics().toolchain
                assert toolchain is not None
                self.toolchains.append(toolchain)
            self.events.put_nowait(event)

    async def next(self) -> Event:
        async with asyncio.timeout(5):
            return await self.events.get()


@asynccontextmanager
async def listeners(n: int) -> AsyncIterator[list[Consumer]]:
    consumers = [Consumer() for _ in range(n)]
    tasks = []
    try:
        for c in consumers:
            await c.listener.open()
            tasks.append(asyncio.create_task(c._run()))
        yield consumers
    finally:
        for c in consumers:
            c.listener.close()
    async with asyncio.timeout(5):
        await asyncio.gather(*tasks)  # close() ended every iteration cleanly


async def test_two_listeners_three_run_steps() -> None:
    async with listeners(2) as consumers:
        addresses = [("127.0.0.1", c.listener.address[1], None) for c in consumers]
        async with Notifier(addresses, timeout=5.0) as notifier:
            for step in range(3):
                path = f"/tmp/run_{step}/input_output_database.sqlite3"
                await notifier.notify_database(path)
                for c in consumers:
                    assert await c.next() == DatabaseReady(path=path)
                    assert c.hook_paths[-1] == path
                await notifier.start()
                for c in consumers:
                    assert await c.next() == Started()
                await notifier.stop()
                for c in consumers:
                    assert await c.next() == Paused()
            stats = notifier.statistics()
    assert [(s.steps, s.confirmed, s.refused, s.silent, s.state) for s in stats] == [
        (3, 3, 0, 0, State.PAUSED)
    ] * 2
    assert all(s.endpoint is not None and s.endpoint.received == 1 for s in stats)
    for c in consumers:
        assert c.listener.statistics().confirmed == 3
        # new toolchain sockets every run step (quirk 7.11), as the reference does
        assert len({port for _, port in c.toolchains}) == 3


async def test_duplicate_addresses_are_notified_once() -> None:
    async with listeners(1) as (consumer,):
        port = consumer.listener.address[1]
        notifier = Notifier([("127.0.0.1", port), ListenerAddress("127.0.0.1", port)])
        try:
            await notifier.notify_database(None)
            assert await consumer.next() == DatabaseReady(path=None)
            assert len(notifier.statistics()) == 1
        finally:
            notifier.close()
        assert consumer.listener.statistics().endpoint.received == 1


async def test_a_refused_port_is_skipped_with_a_warning(caplog: pytest.LogCaptureFixture,
                                                        closed_port: int) -> None:
    nobody = closed_port
    async with listeners(1) as (consumer,):
        notifier = Notifier(
            [("127.0.0.1", nobody, None), ("127.0.0.1", consumer.listener.address[1], None)]
        )
        try:
            with caplog.at_level(logging.WARNING, logger="spinnlive.transport.notifier"):
                await notifier.notify_database("/tmp/db.sqlite3")
            assert await consumer.next() == DatabaseReady(path="/tmp/db.sqlite3")
            await notifier.start()  # still sent to both; the refusal is not an error
            assert await consumer.next() == Started()
            refused, confirmed = notifier.statistics()
        finally:
            notifier.close()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and f"127.0.0.1:{nobody}" in warnings[0]
    assert (refused.refused, refused.confirmed) == (1, 0)
    assert (confirmed.refused, confirmed.confirmed) == (0, 1)


async def test_a_silent_listener_times_out_naming_peer_and_stage() -> None:
    clock = VirtualClock()
    silent = await asyncio_dgram.bind(LOOPBACK)
    port = silent.sockname[1]
    notifier = Notifier([("127.0.0.1", port, None)], timeout=10.0, clock=clock)
    try:
        waiting = asyncio.create_task(notifier.notify_database("/tmp/db.sqlite3"))
        async with asyncio.timeout(5):
            data, _ = await silent.recv()  # it did hear us
            await clock.wait_for_sleepers(1)
        assert data == b"\x01\x40/tmp/db.sqlite3"
        clock.advance(9.5)
        await asyncio.sleep(0)
        assert not waiting.done()
        clock.advance(0.5)
        with pytest.raises(HandshakeTimeout) as info:
            await waiting
        assert str(info.value).startswith(  # then who holds the port (this process)
            f"listener 127.0.0.1:{port} did not confirm DATABASE within 10 s: the port is held"
        )
        assert notifier.statistics()[0].silent == 1
    finally:
        notifier.close()
        silent.close()


async def test_without_wait_for_confirmation_a_silent_listener_is_only_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = VirtualClock()
    silent = await asyncio_dgram.bind(LOOPBACK)
    notifier = Notifier(
        [("127.0.0.1", silent.sockname[1])], timeout=2.0, clock=clock, wait_for_confirmation=False
    )
    try:
        waiting = asyncio.create_task(notifier.notify_database(None))
        await clock.wait_for_sleepers(1)
        with caplog.at_level(logging.WARNING, logger="spinnlive.transport.notifier"):
            clock.advance(2.0)
            await waiting
        await notifier.start()  # the run goes on
        async with asyncio.timeout(5):
            assert (await silent.recv())[0] == b"\x01\x40"
            assert (await silent.recv())[0] == b"\x0b\x40"
    finally:
        notifier.close()
        silent.close()
    assert any(f"127.0.0.1:{silent.sockname[1]}" in r.getMessage() for r in caplog.records)


async def test_close_wakes_a_pending_notification_at_once() -> None:
    silent = await asyncio_dgram.bind(LOOPBACK)
    notifier = Notifier([("127.0.0.1", silent.sockname[1])], timeout=3600.0)
    try:
        waiting = asyncio.create_task(notifier.notify_database(None))
        async with asyncio.timeout(5):
            await silent.recv()
        notifier.close()  # synchronous: nothing in it waits for the network
        with pytest.raises(HandshakeError, match=f"127.0.0.1:{silent.sockname[1]}"):
            async with asyncio.timeout(5):
                await waiting
        assert notifier.statistics()[0].endpoint.closed  # type: ignore[union-attr]
    finally:
        silent.close()


async def test_a_reply_from_the_wrong_source_port_is_not_a_confirmation() -> None:
    listener = await asyncio_dgram.bind(LOOPBACK)
    impostor = await asyncio_dgram.bind(LOOPBACK)
    notifier = Notifier([("127.0.0.1", listener.sockname[1])], timeout=5.0)
    try:
        waiting = asyncio.create_task(notifier.notify_database("/tmp/db.sqlite3"))
        async with asyncio.timeout(5):
            _, toolchain = await listener.recv()
            await impostor.send(b"\x01\x40", toolchain)  # dropped by the connected socket
            await listener.send(b"\x01", toolchain)  # right source, not EIEIO: rejected
            await listener.send(b"\x01\x40", toolchain)
            await waiting
        stats = notifier.statistics()[0]
        assert stats.confirmed == 1
        assert stats.endpoint is not None
        assert stats.endpoint.received == 2  # the impostor's datagram never arrived
        assert stats.endpoint.dropped == {"rejected": 1}
    finally:
        notifier.close()
        listener.close()
        impostor.close()


async def test_the_notifier_keeps_to_the_table() -> None:
    async with listeners(1) as (consumer,):
        notifier = Notifier([("127.0.0.1", consumer.listener.address[1])])
        try:
            with pytest.raises(LocalProtocolError, match="IDLE"):
                await notifier.start()
            await notifier.notify_database(None)
            await notifier.start()
            with pytest.raises(LocalProtocolError, match="RUNNING"):
                await notifier.notify_database(None)
        finally:
            notifier.close()


@pytest.mark.parametrize(
    "kwargs", [{"listeners": [("127.0.0.1", 0)]}, {"listeners": [], "timeout": 0.0}]
)
def test_bad_configuration_is_refused(kwargs: dict) -> None:  # type: ignore[type-arg]
    with pytest.raises(ConfigurationError):
        Notifier(**kwargs)


async def test_a_process_squatting_the_notify_port_is_named_in_the_timeout() -> None:
    """Point 3 of issue 14: a silent process on the port made every run end with a bare
    HandshakeTimeout; the message now names the process and the way out."""
    import subprocess
    import sys

    squatter = subprocess.Popen(
        [sys.executable, "-c", "import socket, sys, time\n"
         "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('127.0.0.1', 0))\n"
         "print(s.getsockname()[1], flush=True); time.sleep(120)"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert squatter.stdout is not None
        port = int(await asyncio.to_thread(squatter.stdout.readline))
        async with Notifier([("127.0.0.1", port)], timeout=0.5) as notifier:
            with pytest.raises(HandshakeTimeout) as info:
                await notifier.notify_database("/tmp/db.sqlite3")
        message = str(info.value)
        assert f"held by pid {squatter.pid}" in message and "does not answer" in message
        assert "spinnlive run picks a free one" in message
    finally:
        squatter.kill()
        squatter.wait()
