"""Point the LPGs' IP tags at a live-output receive socket, with a deadline: the one tag programmer
of the bridge and of sPyNNaker's connections (``spinnlive.connections``).

Theory of operation
-------------------
``LiveEventConnection`` sends SCP "IP-tag set" (``use_sender``, ``strip``) for each (board, tag)
from its receive socket to ``board:17893`` and blocks until an 18-byte reply with byte 2 = 0x07
and byte 4 = 0xFF comes back, resending every 2 s, for ever (protocol sheet §5.4). The bridge
sends the same 26 bytes, but the whole set of tags shares ONE deadline (``timeout_s``): a tag
whose reply has not come by then is counted in ``timeouts``, logged with its board and tag, and
the owner (the bridge, or a connection) confirms the database anyway, because a virtual board
never answers and a hung listener would hang the toolchain (quirk 7.2). Requests go one tag at a time, as in the
reference: replies all carry sequence 0, so only order tells them apart. On a multi-board
machine each board is asked in parallel (its replies come from its own address), so a board that
does not answer delays only its own tags.

While the simulation runs, :meth:`TagPointer.refresh_forever` repeats the requests every
``refresh_s`` (the reference: 10 s), so a board that rebooted or a tag another tool took is
pointed back. The refresh is also how the owner knows a board is alive: each board's
:attr:`TagPointer.boards` state is ``answering`` once it answered, ``silent`` when a board that
answered stops answering (``on_board`` is called with the new state, and again with
``answering`` when it comes back), and ``unanswered`` while it never has (a virtual board).

Every wait reads the injected :class:`~spinnlive.clock.Clock` (``clock``), so the resends, the
deadline and the refresh are tested in virtual time (tests/test_transport_iptags.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from spinnlive.clock import Clock, MonotonicClock, deadline_after, wait_event_until
from spinnlive.protocol.sdp import IPTagSetRequest, encode_iptag_set, is_iptag_set_ok

__all__ = ["ANSWERING", "SILENT", "UNANSWERED", "OutputTag", "TagPointer", "TagSocket"]

logger = logging.getLogger(__name__)

Address = tuple[str, int]
ANSWERING, SILENT, UNANSWERED = "answering", "silent", "unanswered"


@dataclass(frozen=True, slots=True)
class OutputTag:
    """An LPG IP tag to point at a receive socket: the SCP request goes to ``board``:17893."""

    board: str
    tag: int
    x: int
    y: int


class TagSocket(Protocol):
    """What the requests leave from: the receive socket itself (``use_sender``)."""

    local_address: Address

    def send(self, data: bytes, address: Address) -> None: ...


class TagPointer:
    """Sends the IP-tag requests for one epoch's tags and recognises the replies."""

    def __init__(self, sock: TagSocket, tags: Sequence[OutputTag], board_port: int, *,
                 resend_s: float, timeout_s: float, refresh_s: float,
                 on_board: Callable[[str, str], None] | None = None,
                 clock: Clock | None = None) -> None:
        self._sock = sock
        self._tags = tuple(tags)
        self._board_port = board_port
        self._resend_s = resend_s
        self._timeout_s = timeout_s
        self._refresh_s = refresh_s
        self._on_board = on_board
        self._clock: Clock = clock or MonotonicClock()
        self._waiters: dict[str, asyncio.Event] = {}
        self.requests = 0
        self.replies = 0
        self.timeouts = 0
        #: board -> ANSWERING / SILENT / UNANSWERED (see the module docstring)
        self.boards: dict[str, str] = {t.board: UNANSWERED for t in self._tags}
        #: (board, tag) -> whether the last request for it was answered
        self.pointed: dict[tuple[str, int], bool] = {(t.board, t.tag): False for t in self._tags}

    @property
    def waiting(self) -> bool:
        """A request is out and its reply has not come yet."""
        return any(not w.is_set() for w in self._waiters.values())

    def offer(self, data: bytes, source: Address) -> bool:
        """True if ``data`` is a reply being waited for (then it is consumed)."""
        if not is_iptag_set_ok(data):
            return False
        waiter = self._waiters.get(source[0])
        if waiter is None and len(self._waiters) == 1:  # a board known by name, not by its IP
            waiter = next(iter(self._waiters.values()))
        if waiter is None or waiter.is_set():
            return False
        waiter.set()
        return True

    async def point_all(self) -> int:
        """Request every tag under one deadline, each board in parallel; returns how many were
        confirmed."""
        deadline = deadline_after(self._clock, self._timeout_s)
        by_board: dict[str, list[OutputTag]] = {}
        for tag in self._tags:
            by_board.setdefault(tag.board, []).append(tag)
        counts = await asyncio.gather(*(self._point_board(board, tags, deadline)
                                        for board, tags in by_board.items()))
        return sum(counts)

    async def refresh_forever(self) -> None:
        """Repeat :meth:`point_all` every ``refresh_s`` until cancelled (between START and STOP)."""
        while True:
            await self._clock.sleep_until(deadline_after(self._clock, self._refresh_s))
            await self.point_all()

    async def _point_board(self, board: str, tags: list[OutputTag], deadline: float) -> int:
        confirmed = 0
        for tag in tags:
            ok = await self._point(tag, deadline)
            self.pointed[(board, tag.tag)] = ok
            confirmed += ok
        before = self.boards.get(board, UNANSWERED)
        now = ANSWERING if confirmed else (SILENT if before != UNANSWERED else UNANSWERED)
        self.boards[board] = now
        if now != before and self._on_board is not None:
            self._on_board(board, now)
        return confirmed

    async def _point(self, tag: OutputTag, deadline: float) -> bool:
        clock = self._clock
        request = encode_iptag_set(IPTagSetRequest(x=tag.x, y=tag.y, tag=tag.tag))
        board = (tag.board, self._board_port)
        waiter = self._waiters[tag.board] = asyncio.Event()
        try:
            while True:
                self._sock.send(request, board)
                self.requests += 1
                resend = min(deadline, deadline_after(clock, self._resend_s))
                if await wait_event_until(waiter, clock, resend):
                    self.replies += 1
                    return True
                if clock.now() >= deadline:
                    break
        finally:
            self._waiters.pop(tag.board, None)
        self.timeouts += 1
        logger.warning(
            "board %s:%d did not answer the IP-tag request for tag %d (LPG chip %d,%d) within "
            "%.3g s; confirming anyway: live output reaches %s:%d only if that tag already "
            "points there", tag.board, self._board_port, tag.tag, tag.x, tag.y,
            self._timeout_s, *self._sock.local_address)
        return False
