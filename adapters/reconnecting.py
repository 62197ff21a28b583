"""Following a bridge's run from a client: wait for a running network, notice when it ends.

Theory of operation
-------------------
An adapter is an ordinary bridge client (:func:`spinnlive.connect`) that outlives any one run:
the network may be restarted (a new DATABASE, so a new *run epoch* on the same bridge) and the
bridge itself may go away and come back (its epochs count from 1 again). Adapters share three
pieces for that:

* :class:`Reconnecting` runs an adapter's *session* (one connection, one epoch) again and again.
  A session ends by raising :class:`Interrupted` (or :class:`TransportError`, a deadline that
  passed); the loop logs it on the adapter's own logger, asks the discovery endpoint until a
  bridge answers in state ``running`` (``recovery_s`` in all, then it gives up with
  :class:`TransportError`), logs the recovery and starts the next session.
* :class:`BridgeWatch` is the heartbeat of a session that has no spike stream of its own to
  watch (an input-only adapter). It subscribes to ``lifecycle`` and ``stats`` on the publish
  endpoint (the bridge sends ``stats`` every second and after every state change) and raises
  :class:`Interrupted` on the first of: silence for ``timeout_s``; a message of another epoch;
  a lifecycle event other than ``started`` (``paused``, ``closing``, ``new-epoch``, ...); or a
  ``stats`` sequence number going back, which only a restarted bridge does (sequences never
  reset within one bridge, wire-format.md §2), so even a new bridge that again says "epoch 1" is
  told apart from the old one.
* Adapters that read spike streams watch those instead (see :mod:`.gym`): a message of another
  epoch or a tick going back ends the session the same way.

Rules: every wait has a deadline; nothing here touches the adapter's data path.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any

from spinnlive.client import Client, Subscription, connect
from spinnlive.clock import Clock, MonotonicClock, deadline_after, sleep_for
from spinnlive.errors import ConfigurationError, TransportError
from spinnlive.wire.output import Notice, OutputMessage
from spinnlive.wire.topics import LIFECYCLE, STATS

__all__ = ["BridgeWatch", "Interrupted", "Reconnecting", "wait_for_running"]

#: How often a :class:`BridgeWatch` looks at its session's own failure flag between messages.
_POLL_S = 0.1


class Interrupted(Exception):
    """The network's run ended or the bridge went away (the reason is the message)."""


async def wait_for_running(endpoint: str, *, timeout_s: float, recovery_s: float,
                           log: logging.Logger, clock: Clock | None = None) -> dict[str, Any]:
    """Ask the discovery endpoint until a bridge says its network runs; its description
    (every timeout on ``clock``)."""
    clock = clock or MonotonicClock()
    deadline = deadline_after(clock, recovery_s)
    while True:
        try:
            async with connect(endpoint, timeout=timeout_s, clock=clock) as client:
                await client.started(timeout_s)
                description = await client.describe()
            log.info("bridge at %s runs epoch %s", endpoint, description.get("epoch"))
            return description
        except TransportError as exc:
            if clock.now() > deadline:
                raise TransportError(f"no running bridge at {endpoint} within "
                                     f"{recovery_s:g} s: {exc}") from exc
            await sleep_for(clock, 0.1)


class Reconnecting:
    """Runs sessions against the bridge at ``endpoint`` until ``done()``, through interruptions.

    ``name`` and ``log`` are the adapter's: the messages read "<name> interrupted (<why>)
    <consequence>; waiting ..." and "<name> resumed after an interruption (<n> so far)".
    """

    def __init__(self, endpoint: str, *, name: str, log: logging.Logger, timeout_s: float = 2.0,
                 recovery_s: float = 30.0, consequence: str = "",
                 clock: Clock | None = None) -> None:
        if not (timeout_s > 0 and recovery_s > 0):
            raise ConfigurationError("timeout_s and recovery_s must be positive")
        self.endpoint = endpoint
        self.name = name
        self.log = log
        self.timeout_s = timeout_s
        self.recovery_s = recovery_s
        self.consequence = consequence
        self.clock: Clock = clock or MonotonicClock()  #: the sessions' clients' too
        self.interruptions = 0
        self.recoveries = 0

    async def wait_for_running(self) -> dict[str, Any]:
        return await wait_for_running(self.endpoint, timeout_s=self.timeout_s,
                                      recovery_s=self.recovery_s, log=self.log,
                                      clock=self.clock)

    async def run(self, session: Callable[[], Awaitable[None]], done: Callable[[], bool]) -> None:
        await self.wait_for_running()
        while not done():
            try:
                await session()
            except (Interrupted, TransportError) as why:
                self.interruptions += 1
                self.log.warning("%s interrupted (%s)%s; waiting up to %g s for a running bridge "
                                 "at %s", self.name, why, self.consequence, self.recovery_s,
                                 self.endpoint)
                await self.wait_for_running()
                self.recoveries += 1
                self.log.warning("%s resumed after an interruption (%d so far)", self.name,
                                 self.recoveries)


class BridgeWatch:
    """``async with BridgeWatch(client, epoch, timeout_s) as watch: await watch.until_over()``"""

    def __init__(self, client: Client, epoch: int, timeout_s: float) -> None:
        self.epoch = epoch
        self.timeout_s = timeout_s
        self._client = client
        self._sub: Subscription | None = None
        self._stats_seq: int | None = None

    async def __aenter__(self) -> BridgeWatch:
        self._sub = self._client.subscribe(LIFECYCLE, STATS)
        return self

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self._sub is not None:
            self._sub.close()
            self._sub = None

    async def until_over(self, failure: Callable[[], str | None] = lambda: None) -> None:
        """Raise :class:`Interrupted` once the run is over, or once ``failure()`` names a
        reason (the adapter's own evidence, e.g. the bridge's input stopped taking messages)."""
        assert self._sub is not None, "use 'async with BridgeWatch(...)'"
        clock = self._client.clock
        heard = clock.now()
        while True:
            reason = failure()
            if reason is not None:
                raise Interrupted(reason)
            try:
                message = await self._sub.receive(_POLL_S)
            except TransportError as exc:  # bytes that break the contract
                raise Interrupted(f"a malformed message from the bridge: {exc}") from None
            if message is not None:
                self._check(message)
                heard = clock.now()
            elif clock.now() - heard > self.timeout_s:
                raise Interrupted(f"no word from the bridge for {self.timeout_s:g} s")

    def _check(self, message: OutputMessage) -> None:
        epoch, seq = message.header.epoch, message.header.sequence
        if epoch != self.epoch:
            raise Interrupted(f"run epoch {epoch} replaced epoch {self.epoch}")
        if message.topic == STATS:
            if self._stats_seq is not None and seq < self._stats_seq:
                raise Interrupted("a new bridge (its stats sequence started again)")
            self._stats_seq = seq
        elif isinstance(message, Notice) and message.event != "started":
            raise Interrupted(f"the bridge announced {message.event!r}")
