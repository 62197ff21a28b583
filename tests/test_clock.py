"""spinnlive.clock: an awaitable against a deadline on an injected clock, and the rule that
nothing else in spinnlive reads the machine's clock."""

from __future__ import annotations

import ast
import asyncio
from pathlib import Path

import pytest

import spinnlive
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


#: Calls that read or wait on time by themselves, past any injected clock.
_TIME_CALLS = {("time", "monotonic"), ("time", "perf_counter"), ("time", "time"),
               ("time", "sleep"), ("asyncio", "sleep"), ("asyncio", "wait_for"),
               ("asyncio", "timeout")}


def _time_calls(path: Path) -> list[str]:
    """``time.*``/``asyncio.*`` calls in ``path`` that read the machine's clock; an
    ``asyncio.sleep(0)`` is a yield to the loop, not a wait, and is allowed."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name)):
            continue
        if (node.func.value.id, node.func.attr) not in _TIME_CALLS:
            continue
        if node.func.attr == "sleep" and node.func.value.id == "asyncio" and [
                getattr(a, "value", None) for a in node.args] == [0]:
            continue
        found.append(f"{path.name}:{node.lineno} {node.func.value.id}.{node.func.attr}")
    return found


def test_only_the_clock_module_reads_the_machine_clock() -> None:
    """Every wait in spinnlive (its adapters and kernels included) goes through an injected
    clock, so every timeout can be tested in virtual time (``spinnlive.clock``'s rule); the
    clock module is the one exception."""
    package = Path(spinnlive.__file__).parent
    folders = (package, package.parent / "adapters", package.parent / "kernels")
    assert all(folder.is_dir() for folder in folders)
    offenders = [call for folder in folders for path in sorted(folder.rglob("*.py"))
                 if path != package / "clock.py" for call in _time_calls(path)]
    assert offenders == []
    assert len(_time_calls(package / "clock.py")) >= 3  # the scan does see calls
