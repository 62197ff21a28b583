"""Bounded waits on a condition: the one place where the tests poll.

A test waits for something another thread, process or event loop will make true (a counter
reaching a value, a state changing) by polling it every ``POLL_S`` until a deadline, then fails
naming what it waited for. Never a fixed sleep: a fixed sleep is either too long (slow tests) or
too short on a loaded 2-core machine (flaky tests).
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable

POLL_S = 0.01


def wait_until(condition: Callable[[], object], what: str, timeout: float = 20.0) -> None:
    """Block until ``condition()`` is truthy; AssertionError naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(POLL_S)


async def until(condition: Callable[[], object | Awaitable[object]], what: str,
                timeout: float = 20.0) -> None:
    """The same in a coroutine; ``condition`` may be a coroutine function (e.g. a describe)."""
    async def holds() -> bool:
        value = condition()
        return bool(await value if inspect.isawaitable(value) else value)

    try:
        async with asyncio.timeout(timeout):
            while not await holds():
                await asyncio.sleep(POLL_S)
    except TimeoutError:
        raise AssertionError(f"timed out after {timeout:g} s waiting for {what}") from None
