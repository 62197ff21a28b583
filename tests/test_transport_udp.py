"""The bounded UDP endpoint, over real sockets on 127.0.0.1."""

from __future__ import annotations

import ast
import asyncio
import math
from pathlib import Path

import asyncio_dgram
import pytest
from waiting import until

import spinnlive
from spinnlive.clock import MonotonicClock, VirtualClock, deadline_after
from spinnlive.errors import TransportError
from spinnlive.transport.udp import open_endpoint

LOOPBACK = ("127.0.0.1", 0)


async def test_send_and_recv_between_two_endpoints_with_counters() -> None:
    a = await open_endpoint(LOOPBACK)
    b = await open_endpoint(LOOPBACK, a.local_address)
    try:
        b.send(b"hello")
        a.send(b"back", b.local_address)
        got = await a.recv(deadline_after(MonotonicClock(), 5))
        assert got == (b"hello", b.local_address)
        assert await b.recv(deadline_after(MonotonicClock(), 5)) == (b"back", a.local_address)
        sa, sb = a.statistics(), b.statistics()
        assert (sa.received, sa.sent, sb.received, sb.sent) == (1, 1, 1, 1)
        assert sb.remote == a.local_address and sa.remote is None
        assert sa.dropped == {} and sa.queue_peak == 1 and sa.queue_depth == 0
    finally:
        a.close()
        b.close()


async def test_a_full_queue_drops_and_counts_instead_of_blocking() -> None:
    receiver = await open_endpoint(LOOPBACK, max_queue=4)
    sender = await asyncio_dgram.connect(receiver.local_address)
    try:
        for i in range(20):
            await sender.send(bytes([i]))
        await until(lambda: receiver.statistics().received == 20, "20 datagrams")
        stats = receiver.statistics()
        assert stats.dropped == {"queue_full": 16}
        assert stats.queue_peak == stats.queue_depth == 4
        deadline = deadline_after(MonotonicClock(), 5)
        assert [(await receiver.recv(deadline))[0] for _ in range(4)] == [  # type: ignore[index]
            bytes([i]) for i in range(4)
        ]
        assert receiver.statistics().queue_depth == 0
    finally:
        sender.close()
        receiver.close()


async def test_recv_returns_none_at_its_deadline_in_virtual_time() -> None:
    clock = VirtualClock()
    ep = await open_endpoint(LOOPBACK, clock=clock)
    try:
        waiting = asyncio.create_task(ep.recv(clock.now() + 3.0))
        await clock.wait_for_sleepers(1)
        clock.advance(2.0)
        await asyncio.sleep(0)
        assert not waiting.done()
        clock.advance(1.0)
        assert await waiting is None
        assert await ep.recv(clock.now()) is None  # a deadline in the past does not wait
    finally:
        ep.close()


async def test_recv_with_the_default_clock_times_out() -> None:
    ep = await open_endpoint(LOOPBACK)
    try:
        assert await ep.recv(deadline_after(MonotonicClock(), 0.05)) is None
    finally:
        ep.close()


async def test_close_wakes_a_blocked_recv_and_later_calls_raise() -> None:
    ep = await open_endpoint(LOOPBACK)
    waiting = asyncio.create_task(ep.recv(math.inf))
    await asyncio.sleep(0)
    ep.close()
    with pytest.raises(TransportError, match="closed"):
        await waiting
    with pytest.raises(TransportError):
        ep.send(b"x", ("127.0.0.1", 9))
    assert ep.statistics().closed


async def test_connection_refused_surfaces_from_recv_and_is_counted(closed_port: int) -> None:
    ep = await open_endpoint(LOOPBACK, ("127.0.0.1", closed_port))
    try:
        ep.send(b"\x01\x40")
        with pytest.raises(ConnectionRefusedError):
            await ep.recv(deadline_after(MonotonicClock(), 5))
        assert ep.statistics().errors == {"ConnectionRefusedError": 1}
    finally:
        ep.close()


async def test_a_connected_endpoint_never_sees_other_sources() -> None:
    peer = await asyncio_dgram.bind(LOOPBACK)
    stranger = await asyncio_dgram.bind(LOOPBACK)
    ep = await open_endpoint(LOOPBACK, peer.sockname)
    try:
        await stranger.send(b"from elsewhere", ep.local_address)
        await peer.send(b"from the peer", ep.local_address)
        got = await ep.recv(deadline_after(MonotonicClock(), 5))
        assert got == (b"from the peer", peer.sockname)
        assert await ep.recv(deadline_after(MonotonicClock(), 0.05)) is None
        assert ep.statistics().received == 1
    finally:
        for s in (peer, stranger):
            s.close()
        ep.close()


async def test_opening_a_port_in_use_is_a_transport_error() -> None:
    first = await open_endpoint(LOOPBACK)
    try:
        with pytest.raises(TransportError, match=str(first.local_address[1])):
            await open_endpoint(first.local_address)
    finally:
        first.close()


def clock_calls(path: Path) -> list[tuple[str, str | None]]:
    """(``module.attr``, enclosing class) for every time.*/asyncio.sleep reference in ``path``."""
    found: list[tuple[str, str | None]] = []

    def visit(node: ast.AST, cls: str | None) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                visit(child, child.name)
                continue
            if (
                isinstance(child, ast.Attribute)
                and isinstance(child.value, ast.Name)
                and (child.value.id, child.attr) in TIME_READERS
            ):
                found.append((f"{child.value.id}.{child.attr}", cls))
            visit(child, cls)

    visit(ast.parse(path.read_text(encoding="utf-8")), None)
    return found


TIME_READERS = {("time", "monotonic"), ("asyncio", "sleep"), ("time", "time")}


def test_only_the_default_clock_reads_time_or_sleeps() -> None:
    package = Path(spinnlive.__file__).parent
    transport = sorted((package / "transport").glob("*.py"))
    for path in [package / "protocol" / "handshake.py", *transport]:
        assert clock_calls(path) == [], path.name
    in_clock = clock_calls(package / "clock.py")
    assert in_clock and {cls for _, cls in in_clock} == {"MonotonicClock"}
