"""Holding the toolchain's confirmation until a client says ``ready`` (``--hold-confirmation``).

Theory of operation
-------------------
The notification handshake (docs/spinnaker-side.md §2) exists so that every listener can finish
its set-up before the simulation starts: the toolchain waits for each listener's confirmation
of the DATABASE notification before it sends START_RESUME. With ``hold_confirmation`` the bridge
lends that wait to its clients: after its own set-up it publishes ``database-ready`` (with
``awaiting_ready: true``) and confirms only when a client sends ``[b"ready", epoch u32 LE]`` on
the input socket for that epoch (wire-format.md §4), or when ``hold_timeout_s`` has passed
(logged and counted: the toolchain must never hang on a client that went away). A replayer
uses the pause to load every timestamped input of a lock-step run before its first tick.

A ``ready`` is only good for the epoch being held; one for another epoch, or one when nothing
is held, is counted and ignored. Nothing here waits without a deadline.
"""

from __future__ import annotations

import asyncio
import logging

from spinnlive.clock import Clock, MonotonicClock, deadline_after, wait_event_until

__all__ = ["ConfirmationHold"]

logger = logging.getLogger(__name__)


class ConfirmationHold:
    """One held confirmation at a time; :meth:`wait` in the DATABASE callback, :meth:`ready`
    from the input handler (both on the bridge's event loop)."""

    def __init__(self, timeout_s: float, clock: Clock | None = None) -> None:
        self.timeout_s = timeout_s
        self._clock: Clock = clock or MonotonicClock()
        self._epoch: int | None = None
        self._released: asyncio.Event | None = None
        self.released = 0  #: confirmations a client released
        self.timeouts = 0  #: confirmations sent at the deadline
        self.ignored = 0  #: ``ready`` messages for another epoch or with nothing held

    @property
    def holding(self) -> int | None:
        """The epoch whose confirmation is held now."""
        return self._epoch

    async def wait(self, epoch: int) -> bool:
        """Hold ``epoch``'s confirmation: True when a client released it, False at the deadline."""
        self._epoch, self._released = epoch, asyncio.Event()
        try:
            if await wait_event_until(self._released, self._clock,
                                      deadline_after(self._clock, self.timeout_s)):
                self.released += 1
                return True
            self.timeouts += 1
            logger.warning("no client sent 'ready' for epoch %d within %g s; confirming to the "
                           "toolchain anyway", epoch, self.timeout_s)
            return False
        finally:
            self._epoch, self._released = None, None

    def ready(self, epoch: int) -> bool:
        """A client's ``ready`` for ``epoch``; False (counted) when that epoch is not held."""
        if self._released is None or epoch != self._epoch:
            self.ignored += 1
            logger.warning("'ready' for epoch %d ignored (holding %s)", epoch, self._epoch)
            return False
        self._released.set()
        return True
