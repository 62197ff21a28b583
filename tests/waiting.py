"""Bounded waits on a condition: the one place where the tests poll.

A test waits for something another thread, process or event loop will make true (a counter
reaching a value, a state changing) by polling it every ``POLL_S`` until a deadline, then fails
naming what it waited for. Never a fixed sleep: a fixed sleep is either too long (slow tests) or
too short on a loaded 2-core machine (flaky tests).

:class:`TickHold` is the same idea for a real-time engine in closed loop with a client: a
real-time engine never waits for a client, so a test that asserts the exact tick at which a
client's answer lands would depend on the machine being fast. The gate, installed as the
engine's thread clock, holds a tick until the client's answer has reached the engine: the run is
then in lock-step with the client, and the ticks it asserts are exact on any machine.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any

from spinnlive.clock import PerfCounterClock

POLL_S = 0.01


def wait_until(condition: Callable[[], object], what: str, timeout: float = 20.0) -> None:
    """Block until ``condition()`` is truthy; AssertionError naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(POLL_S)


async def loop_turns(turns: int = 50) -> None:
    """Let the event loop run ``turns`` times: what a virtual clock's advance woke has done
    what it would, so a test may assert that something has *not* happened yet (no wall-clock
    sleep, which a loaded machine may outlast or a fast one waste)."""
    for _ in range(turns):
        await asyncio.sleep(0)


async def until(condition: Callable[[], object | Awaitable[object]], what: str,
                timeout: float = 20.0, poll_s: float = POLL_S) -> Any:
    """The same in a coroutine, returning the truthy value; ``condition`` may be a coroutine
    function (e.g. a describe; ``poll_s`` spaces out one that costs a round trip)."""
    async def value() -> object:
        got = condition()
        return await got if inspect.isawaitable(got) else got

    try:
        async with asyncio.timeout(timeout):
            while not (got := await value()):
                await asyncio.sleep(poll_s)
            return got
    except TimeoutError:
        raise AssertionError(f"timed out after {timeout:g} s waiting for {what}") from None


class TickHold:
    """A real-time engine's thread clock that holds the ``k``-th tick of a run (from 0) until
    ``may_start(k)``: real time otherwise (the engine's own :class:`PerfCounterClock`).

    The scheduler asks ``spin_until`` once before each real-time tick; a held tick starts late
    (the engine counts it) and the ticks after it catch up, each one gated again. A gate that
    stays shut for ``timeout`` s raises in the tick thread, which stops the run with the error.
    """

    def __init__(self, may_start: Callable[[int], bool], what: str,
                 timeout: float = 60.0) -> None:
        self._clock = PerfCounterClock()
        self._may_start, self._what, self._timeout = may_start, what, timeout
        self._next = 0
        self.held = 0  #: ticks that had to wait for the gate

    @classmethod
    def install(cls, sim: Any, may_start: Callable[[int], bool], what: str,
                timeout: float = 60.0) -> TickHold:
        """The gate as the thread clock of ``sim`` (spinnlive.pynn, after ``setup``)."""
        gate = cls(may_start, what, timeout)
        sim.simulator.state.engine.thread_clock = gate
        return gate

    def now(self) -> float:
        return self._clock.now()

    def sleep(self, seconds: float) -> None:
        self._clock.sleep(seconds)

    def spin_until(self, deadline: float) -> None:
        k, self._next = self._next, self._next + 1
        if not self._may_start(k):
            self.held += 1
            wait_until(lambda: self._may_start(k), f"{self._what} (holding tick {k})",
                       self._timeout)
        self._clock.spin_until(deadline)


def injected_before(sim: Any, holds: dict[int, int]) -> Callable[[int], bool]:
    """A :class:`TickHold` condition: tick ``k`` of ``holds`` starts once the engine's board has
    received ``holds[k]`` injected events in all (``sim``: spinnlive.pynn, running)."""
    def may_start(k: int) -> bool:
        need = holds.get(k)
        if need is None:
            return True
        board = sim.simulator.state.engine.live.board
        return bool(board.statistics().injected_events >= need)
    return may_start
