"""Point the LPGs' IP tags at the bridge's live-output socket, with a deadline.

Theory of operation
-------------------
``LiveEventConnection`` sends SCP "IP-tag set" (``use_sender``, ``strip``) for each (board, tag)
from its receive socket to ``board:17893`` and blocks until an 18-byte reply with byte 2 = 0x07
and byte 4 = 0xFF comes back, resending every 2 s, for ever (protocol sheet §5.4). The bridge
sends the same 26 bytes, but the whole set of tags shares ONE deadline (``timeout_s``): a tag
whose reply has not come by then is counted in ``timeouts``, logged with its board and tag, and
the bridge confirms the database anyway, because a virtual board never answers and a hung
listener would hang the toolchain (quirk 7.2). Requests go one tag at a time, as in the
reference: replies all carry sequence 0, so only order tells them apart. On a multi-board
machine each board is asked in parallel (its replies come from its own address), so a board that
does not answer delays only its own tags.

While the simulation runs, :meth:`TagPointer.refresh_forever` repeats the requests every
``refresh_s`` (the reference: 10 s), so a board that rebooted or a tag another tool took is
pointed back. The refresh is also how the bridge knows a board is alive: each board's
:attr:`TagPointer.boards` state is ``answering`` once it answered, ``silent`` when a board that
answered stops answering (``on_board`` is called with the new state, and again with
``answering`` when it comes back), and ``unanswered`` while it never has (a virtual board).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

from spinnlive.bridge.live_output import Address, LiveSocket
from spinnlive.bridge.session import OutputTag
from spinnlive.protocol.sdp import IPTagSetRequest, encode_iptag_set

__all__ = ["ANSWERING", "SILENT", "UNANSWERED", "TagPointer", "is_tag_reply"]

logger = logging.getLogger(__name__)

_REPLY_SIZE = 18
ANSWERING, SILENT, UNANSWERED = "answering", "silent", "unanswered"


def is_tag_reply(data: bytes) -> bool:
    """The reference's test for SCAMP's OK to an IP-tag request (18 bytes, 0x07, 0xFF)."""
    return len(data) == _REPLY_SIZE and data[2] == 0x07 and data[4] == 0xFF


class TagPointer:
    """Sends the IP-tag requests for one epoch's tags and recognises the replies."""

    def __init__(self, sock: LiveSocket, tags: Sequence[OutputTag], board_port: int, *,
                 resend_s: float, timeout_s: float, refresh_s: float,
                 on_board: Callable[[str, str], None] | None = None) -> None:
        self._sock = sock
        self._tags = tuple(tags)
        self._board_port = board_port
        self._resend_s = resend_s
        self._timeout_s = timeout_s
        self._refresh_s = refresh_s
        self._on_board = on_board
        self._waiters: dict[str, asyncio.Future[None]] = {}
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
        return any(not w.done() for w in self._waiters.values())

    def offer(self, data: bytes, source: Address) -> bool:
        """True if ``data`` is a reply being waited for (then it is consumed)."""
        if not is_tag_reply(data):
            return False
        waiter = self._waiters.get(source[0])
        if waiter is None and len(self._waiters) == 1:  # a board known by name, not by its IP
            waiter = next(iter(self._waiters.values()))
        if waiter is None or waiter.done():
            return False
        waiter.set_result(None)
        return True

    async def point_all(self) -> int:
        """Request every tag under one deadline, each board in parallel; returns how many were
        confirmed."""
        deadline = asyncio.get_running_loop().time() + self._timeout_s
        by_board: dict[str, list[OutputTag]] = {}
        for tag in self._tags:
            by_board.setdefault(tag.board, []).append(tag)
        counts = await asyncio.gather(*(self._point_board(board, tags, deadline)
                                        for board, tags in by_board.items()))
        return sum(counts)

    async def refresh_forever(self) -> None:
        """Repeat :meth:`point_all` every ``refresh_s`` until cancelled (between START and STOP)."""
        while True:
            await asyncio.sleep(self._refresh_s)
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
        loop = asyncio.get_running_loop()
        request = encode_iptag_set(IPTagSetRequest(x=tag.x, y=tag.y, tag=tag.tag))
        board = (tag.board, self._board_port)
        waiter = self._waiters[tag.board] = loop.create_future()
        try:
            while True:
                self._sock.send(request, board)
                self.requests += 1
                left = deadline - loop.time()
                await asyncio.wait((waiter,), timeout=max(0.0, min(self._resend_s, left)))
                if waiter.done():
                    self.replies += 1
                    return True
                if loop.time() >= deadline:
                    break
        finally:
            self._waiters.pop(tag.board, None)
        self.timeouts += 1
        logger.warning(
            "board %s:%d did not answer the IP-tag request for tag %d (LPG chip %d,%d) within "
            "%.3g s; confirming anyway: live output reaches the bridge only if that tag "
            "already points at %s:%d", tag.board, self._board_port, tag.tag, tag.x, tag.y,
            self._timeout_s, *self._sock.local_address)
        return False
