"""The one IP-tag programmer (bridge and connections), in virtual time over real UDP sockets.

A board is a real socket on 127.0.0.1 that answers SCAMP's 18-byte OK (or says nothing); the
programmer's resends, its one deadline and its refresh read a VirtualClock, so the counts below
are exact however loaded the machine is.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest
from waiting import until

from spinnlive.clock import VirtualClock
from spinnlive.protocol.sdp import IPTagSetRequest, encode_iptag_set, iptag_set_reply
from spinnlive.transport.iptags import ANSWERING, SILENT, UNANSWERED, OutputTag, TagPointer
from spinnlive.transport.live_socket import Datagram, LiveSocket

TAG = OutputTag(board="127.0.0.1", tag=3, x=0, y=0)
REQUEST = encode_iptag_set(IPTagSetRequest(x=0, y=0, tag=3))


class Board:
    """A UDP socket in SCAMP's place: answers every IP-tag set while ``answering``."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]
        self.answering = True
        self.requests: list[bytes] = []
        asyncio.get_running_loop().add_reader(self.sock.fileno(), self._readable)

    def _readable(self) -> None:
        data, source = self.sock.recvfrom(2048)
        self.requests.append(data)
        if self.answering:
            self.sock.sendto(iptag_set_reply(data), source)

    def close(self) -> None:
        asyncio.get_running_loop().remove_reader(self.sock.fileno())
        self.sock.close()


@pytest.fixture
async def board() -> AsyncIterator[Board]:
    b = Board()
    yield b
    b.close()


async def _pointer(board: Board, clock: VirtualClock, states: list[tuple[str, str]]
                   ) -> tuple[TagPointer, LiveSocket]:
    holder: list[TagPointer] = []

    def on_batch(batch: list[Datagram]) -> None:
        for item in batch:
            holder[0].offer(*item)

    sock = LiveSocket("127.0.0.1", 0, on_batch)
    pointer = TagPointer(sock, [TAG], board.port, resend_s=2.0, timeout_s=5.0, refresh_s=10.0,
                         on_board=lambda b, s: states.append((b, s)), clock=clock)
    holder.append(pointer)
    return pointer, sock


async def _advance_while_waiting(clock: VirtualClock, steps: list[float]) -> None:
    for step in steps:
        await clock.wait_for_sleepers()
        clock.advance(step)


async def test_a_silent_board_is_asked_every_resend_until_the_one_deadline(board) -> None:
    states: list[tuple[str, str]] = []
    board.answering = False
    clock = VirtualClock()
    pointer, sock = await _pointer(board, clock, states)
    try:
        task = asyncio.ensure_future(pointer.point_all())
        await _advance_while_waiting(clock, [2.0, 2.0, 1.0])  # resends at 0, 2, 4; gives up at 5
        assert await task == 0
        await until(lambda: len(board.requests) == 3, "the three requests arrived")
        assert board.requests == [REQUEST] * 3
        assert (pointer.requests, pointer.replies, pointer.timeouts) == (3, 0, 1)
        assert pointer.boards == {"127.0.0.1": UNANSWERED} and states == []
        assert pointer.pointed == {("127.0.0.1", 3): False}
    finally:
        sock.close()


async def test_an_answering_board_then_silent_then_back_on_the_refresh(board) -> None:
    states: list[tuple[str, str]] = []
    clock = VirtualClock()
    pointer, sock = await _pointer(board, clock, states)
    try:
        assert await pointer.point_all() == 1  # answered in real time: no virtual time passes
        assert (pointer.requests, pointer.replies, pointer.timeouts) == (1, 1, 0)
        assert states == [("127.0.0.1", ANSWERING)]
        refresh = asyncio.ensure_future(pointer.refresh_forever())
        board.answering = False
        await _advance_while_waiting(clock, [10.0, 2.0, 2.0, 1.0])  # refresh at 10, gives up at 15
        await until(lambda: states[-1] == ("127.0.0.1", SILENT), "the board is reported silent")
        assert (pointer.requests, pointer.timeouts) == (4, 1)
        board.answering = True
        await _advance_while_waiting(clock, [10.0])  # the next refresh, at 25
        await until(lambda: states[-1] == ("127.0.0.1", ANSWERING), "the board is back")
        assert states == [("127.0.0.1", ANSWERING), ("127.0.0.1", SILENT),
                          ("127.0.0.1", ANSWERING)]
        assert clock.now() == 25.0 and pointer.replies == 2
        refresh.cancel()
    finally:
        sock.close()
