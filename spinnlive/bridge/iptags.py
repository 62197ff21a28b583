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
reference: replies all carry sequence 0, so only order tells them apart.

While the simulation runs, :meth:`TagPointer.refresh_forever` repeats the requests every
``refresh_s`` (the reference: 10 s), so a board that rebooted or a tag another tool took is
pointed back.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from spinnlive.bridge.live_output import Address, LiveSocket
from spinnlive.bridge.session import OutputTag
from spinnlive.protocol.sdp import IPTagSetRequest, encode_iptag_set

__all__ = ["TagPointer", "is_tag_reply"]

logger = logging.getLogger(__name__)

_REPLY_SIZE = 18


def is_tag_reply(data: bytes) -> bool:
    """The reference's test for SCAMP's OK to an IP-tag request (18 bytes, 0x07, 0xFF)."""
    return len(data) == _REPLY_SIZE and data[2] == 0x07 and data[4] == 0xFF


class TagPointer:
    """Sends the IP-tag requests for one epoch's tags and recognises the replies."""

    def __init__(self, sock: LiveSocket, tags: Sequence[OutputTag], board_port: int, *,
                 resend_s: float, timeout_s: float, refresh_s: float) -> None:
        self._sock = sock
        self._tags = tuple(tags)
        self._board_port = board_port
        self._resend_s = resend_s
        self._timeout_s = timeout_s
        self._refresh_s = refresh_s
        self._waiter: asyncio.Future[None] | None = None
        self.requests = 0
        self.replies = 0
        self.timeouts = 0

    @property
    def waiting(self) -> bool:
        """A request is out and its reply has not come yet."""
        return self._waiter is not None and not self._waiter.done()

    def offer(self, data: bytes, source: Address) -> bool:
        """True if ``data`` is the reply being waited for (then it is consumed)."""
        waiter = self._waiter
        if waiter is None or waiter.done() or not is_tag_reply(data):
            return False
        waiter.set_result(None)
        return True

    async def point_all(self) -> int:
        """Request every tag under one deadline; returns how many were confirmed."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._timeout_s
        confirmed = 0
        for tag in self._tags:
            if await self._point(tag, deadline):
                confirmed += 1
        return confirmed

    async def refresh_forever(self) -> None:
        """Repeat :meth:`point_all` every ``refresh_s`` until cancelled (between START and STOP)."""
        while True:
            await asyncio.sleep(self._refresh_s)
            await self.point_all()

    async def _point(self, tag: OutputTag, deadline: float) -> bool:
        loop = asyncio.get_running_loop()
        request = encode_iptag_set(IPTagSetRequest(x=tag.x, y=tag.y, tag=tag.tag))
        board = (tag.board, self._board_port)
        self._waiter = loop.create_future()
        try:
            while True:
                self._sock.send(request, board)
                self.requests += 1
                left = deadline - loop.time()
                await asyncio.wait((self._waiter,), timeout=max(0.0, min(self._resend_s, left)))
                if self._waiter.done():
                    self.replies += 1
                    return True
                if loop.time() >= deadline:
                    break
        finally:
            self._waiter = None
        self.timeouts += 1
        logger.warning(
            "board %s:%d did not answer the IP-tag request for tag %d (LPG chip %d,%d) within "
            "%.3g s; confirming anyway: live output reaches the bridge only if that tag "
            "already points at %s:%d", tag.board, self._board_port, tag.tag, tag.x, tag.y,
            self._timeout_s, *self._sock.local_address)
        return False
