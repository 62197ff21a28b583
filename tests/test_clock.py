"""spinnlive.clock.wait_until: an awaitable against a deadline on an injected clock."""

from __future__ import annotations

import asyncio

import pytest

from spinnlive.clock import VirtualClock, wait_until


async def _parked(clock: VirtualClock) -> None:
    await asyncio.wait_for(clock.wait_for_sleepers(), 10)  # bounded: a bug fails, not hangs


async def test_the_result_comes_back_when_it_beats_the_deadline() -> None:
    clock = VirtualClock()
    answer: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    waiting = asyncio.ensure_future(wait_until(answer, clock, 5.0))
    await _parked(clock)
    clock.advance(4.0)
    answer.set_result(7)
    assert await waiting == 7 and clock.pending() == 0  # the sleeper went with it


async def test_the_deadline_on_the_clock_raises_and_cancels_the_awaitable() -> None:
    clock = VirtualClock(start=100.0)
    never: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    waiting = asyncio.ensure_future(wait_until(never, clock, 102.0))
    await _parked(clock)
    clock.advance(1.999)
    await asyncio.sleep(0)
    assert not waiting.done()
    clock.advance(0.001)
    with pytest.raises(TimeoutError):
        await waiting
    assert never.cancelled()


async def test_a_done_awaitable_needs_no_clock_and_a_cancelled_caller_cancels_it() -> None:
    clock = VirtualClock(start=10.0)
    done: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    done.set_result("sent")
    assert await wait_until(done, clock, 0.0) == "sent"  # past deadline, but already done
    inner: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    waiting = asyncio.ensure_future(wait_until(inner, clock, 20.0))
    await _parked(clock)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert inner.cancelled() and clock.pending() == 0
