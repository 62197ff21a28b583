"""The injectable clock: every deadline in spinnlive is read from one of these.

Theory of operation
-------------------
Code that waits takes a :class:`Clock` (trio's ``Clock`` ABC is the model): ``now()`` gives seconds
on a monotonic scale with an arbitrary origin, and ``sleep_until(deadline)`` returns once ``now()``
has reached ``deadline``. Deadlines are absolute (``clock.now() + seconds``, see
:func:`deadline_after`), so one budget can be shared by several waits, as the handshake's single
confirmation budget for all listeners is.

Rules
-----
* :class:`MonotonicClock` is the only place in spinnlive where ``time.monotonic`` and
  ``asyncio.sleep`` appear (``asyncio.sleep(0)``, a yield to the loop, is no wait), and
  :class:`PerfCounterClock` the only one for ``time.perf_counter``/``time.sleep``. Everything
  else asks its clock: the bridge, the monitor, the tick gate and the launch helpers take one,
  and ``tests/test_clock.py`` fails on any other call that reads the machine's time.
* :class:`VirtualClock` never moves by itself: a test calls :meth:`VirtualClock.advance` (after
  :meth:`VirtualClock.wait_for_sleepers` tells it the code under test is parked on a deadline),
  so a 10 s timeout is tested in microseconds of wall time.
* :func:`wait_event_until` is the one primitive the transports need: "this event, or the
  deadline, whichever comes first". Racing the two keeps the clock injectable where
  ``asyncio.timeout`` would read the event loop's own clock. :func:`wait_until` is the same
  for any awaitable (the client's socket reads and sends).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
import threading
import time
from collections.abc import Awaitable
from typing import Protocol, TypeVar, runtime_checkable

__all__ = [
    "Clock",
    "MonotonicClock",
    "VirtualClock",
    "deadline_after",
    "remaining",
    "sleep_for",
    "wait_event_until",
    "wait_until",
]

T = TypeVar("T")


@runtime_checkable
class Clock(Protocol):
    """A source of monotonic seconds that can also put a task to sleep until a deadline."""

    def now(self) -> float:
        """Seconds on a monotonic scale; only differences mean anything."""
        ...

    async def sleep_until(self, deadline: float) -> None:
        """Return once ``now() >= deadline`` (at once if it already is)."""
        ...


class MonotonicClock:
    """Wall-clock time from ``time.monotonic``, the same scale asyncio's default loop uses."""

    def now(self) -> float:
        return time.monotonic()

    async def sleep_until(self, deadline: float) -> None:
        await asyncio.sleep(max(0.0, deadline - time.monotonic()))


class VirtualClock:
    """Time that moves only when a test says so; sleepers wake in deadline order."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._order = itertools.count()  # ties wake in the order they went to sleep
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._changed: asyncio.Event | None = None

    def now(self) -> float:
        return self._now

    async def sleep_until(self, deadline: float) -> None:
        if deadline <= self._now:
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (deadline, next(self._order), fut))
        self._poke()
        await fut

    def advance(self, seconds: float) -> None:
        """Move time forward and wake every sleeper whose deadline has come."""
        if seconds < 0:
            raise ValueError("a monotonic clock cannot go backwards")
        self._now += seconds
        while self._sleepers and self._sleepers[0][0] <= self._now:
            _, _, fut = heapq.heappop(self._sleepers)
            if not fut.done():
                fut.set_result(None)

    def pending(self) -> int:
        """How many tasks are parked on a deadline that has not come yet."""
        return sum(1 for _, _, fut in self._sleepers if not fut.done())

    async def wait_for_sleepers(self, count: int = 1) -> None:
        """Return once ``count`` tasks are parked on this clock (so advancing will wake them)."""
        while self.pending() < count:
            if self._changed is None:
                self._changed = asyncio.Event()
            self._changed.clear()
            await self._changed.wait()

    def _poke(self) -> None:
        if self._changed is not None:
            self._changed.set()


def deadline_after(clock: Clock, seconds: float) -> float:
    """The absolute deadline ``seconds`` from now on ``clock``."""
    return clock.now() + seconds


def remaining(clock: Clock, deadline: float) -> float:
    """Seconds left before ``deadline`` (never negative)."""
    return max(0.0, deadline - clock.now())


async def sleep_for(clock: Clock, seconds: float) -> None:
    """A relative sleep on ``clock`` (a period, a retry's pause, a backoff)."""
    await clock.sleep_until(deadline_after(clock, seconds))


async def wait_event_until(event: asyncio.Event, clock: Clock, deadline: float) -> bool:
    """Wait for ``event`` or ``deadline`` (``math.inf``: no deadline); True if the event was set.

    Costs two short-lived tasks only when the event is not already set, which is the slow path
    of a receive (the queue was empty), never the per-datagram fast path.
    """
    if event.is_set():
        return True
    if deadline == math.inf:
        await event.wait()
        return True
    if clock.now() >= deadline:
        return False
    waiter = asyncio.ensure_future(event.wait())
    sleeper = asyncio.ensure_future(clock.sleep_until(deadline))
    try:
        await asyncio.wait((waiter, sleeper), return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
        sleeper.cancel()
    return event.is_set()


async def wait_until(awaitable: Awaitable[T], clock: Clock, deadline: float) -> T:
    """``awaitable``'s result, or :class:`TimeoutError` once ``deadline`` passes on ``clock``
    first (the awaitable is then cancelled).

    ``asyncio.wait_for`` would read the event loop's own clock, which a test cannot move; this
    races the awaitable against ``clock.sleep_until`` instead, and costs nothing more than the
    awaitable when it is already done (a ZeroMQ send that the socket took at once).
    """
    task = asyncio.ensure_future(awaitable)
    if task.done() or deadline == math.inf:
        return await task
    sleeper = asyncio.ensure_future(clock.sleep_until(deadline))
    try:
        await asyncio.wait((task, sleeper), return_when=asyncio.FIRST_COMPLETED)
    except BaseException:  # the caller was cancelled: so is what it waited for
        task.cancel()
        raise
    finally:
        sleeper.cancel()
    if task.done():
        return task.result()
    task.cancel()
    raise TimeoutError


# --------------------------------------------------------------------------------------------
# Thread clocks, for the engine's real-time tick thread (spinnlive.engine.scheduler).
#
# The tick loop cannot use the asyncio clock above: the epoll selector rounds timeouts up to
# whole milliseconds, so ``asyncio.sleep`` wakes ~0.6 ms late at the median. The tick thread
# instead blocks in ``sleep`` until shortly before a deadline and then ``spin_until``s it.
# :class:`PerfCounterClock` is the only place in spinnlive where ``time.perf_counter`` and
# ``time.sleep`` appear; :class:`VirtualThreadClock` is its deterministic stand-in for tests.
# --------------------------------------------------------------------------------------------

__all__ += ["PerfCounterClock", "ThreadClock", "VirtualThreadClock"]


class ThreadClock(Protocol):
    """Blocking time source for a dedicated thread (seconds, monotonic, arbitrary origin)."""

    def now(self) -> float:
        """Current time."""
        ...

    def sleep(self, seconds: float) -> None:
        """Give the CPU away for about ``seconds`` (may wake late, never much early)."""
        ...

    def spin_until(self, deadline: float) -> None:
        """Return as soon after ``deadline`` as possible, without giving the CPU away."""
        ...


class PerfCounterClock:
    """The real thread clock: ``time.perf_counter``, ``time.sleep`` and a busy-wait spin."""

    def now(self) -> float:
        return time.perf_counter()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    def spin_until(self, deadline: float) -> None:
        perf_counter = time.perf_counter
        while perf_counter() < deadline:
            pass


class VirtualThreadClock:
    """Thread clock for tests: time moves only by ``sleep``, ``spin_until`` or ``advance``.

    A test's tick step calls :meth:`advance` to "take" time, so lateness, overruns and late-tick
    counts are asserted exactly, in microseconds of wall time.
    """

    def __init__(self, start: float = 0.0) -> None:
        self._t = float(start)
        self._lock = threading.Lock()

    def now(self) -> float:
        return self._t

    def sleep(self, seconds: float) -> None:
        self.advance(max(0.0, seconds))

    def spin_until(self, deadline: float) -> None:
        with self._lock:
            self._t = max(self._t, deadline)

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` of virtual time pass (never backwards)."""
        if seconds < 0:
            raise ValueError("a monotonic clock cannot go backwards")
        with self._lock:
            self._t += seconds
