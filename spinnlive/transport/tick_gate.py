"""The tick gate: I/O threads of the process step aside while a real-time tick needs Python.

Theory of operation
-------------------
The engine's tick thread, the board endpoint's and state service's event loop, and (under
``spinnlive run``) the bridge's event loop share one interpreter lock. A flood of datagrams
or ZeroMQ messages keeps an I/O loop running Python without pause, and the tick thread, woken
for its deadline, waits for the lock. Worse, CPython makes a thread that was asked to give the
lock up wait until the asking thread has taken it: the tick thread (SCHED_FIFO) then waits
until an ordinary I/O thread is scheduled, which on a loaded machine takes milliseconds. The
campaign (bench/fault_campaign.py) saw 30-66 % of ticks late that way under client faults.

So the tick thread publishes when it needs the interpreter and the I/O loops keep out of it:

* A real-time :class:`~spinnlive.engine.scheduler.TickScheduler` run holds a
  :class:`TickWindow` in the process-wide :data:`GATE`. Before it sleeps towards tick ``k`` it
  stores ``busy_from`` (its wake-up time minus a guard: from then until the step has ended it
  wants the lock to itself) and ``reopen`` (its estimate of the step's end, with slack). The
  window always leaves part of each period open, so I/O goes on (more slowly) even when the
  loop is behind or the period is shorter than the spin margin.
* An event loop made by :func:`gated_event_loop` waits in ``select`` only until the next busy
  stretch begins; while one is busy it naps (``time.sleep``, which releases the lock and which
  no datagram can cut short) until the estimated reopening. So callbacks run while the tick
  thread sleeps, and no I/O event wakes a thread that would take the lock from a tick. A task
  that works through a queue without returning to the loop (a flood read from a full queue)
  calls :meth:`TickGate.wait_open` per item, which naps the same way (in any event loop);
  so does a thread that takes the lock between blocking calls (the state service's sender
  between the slices of a large reply), with :class:`IoPriority` for its priority.
* While a real-time run whose tick thread got SCHED_FIFO is in progress, a gated loop's thread
  runs at SCHED_FIFO one priority below it (where allowed), and at its old policy again after
  the run: so an I/O thread is never preempted by another process while it holds the lock,
  and the gate, not the machine's load, decides when it runs. The cost: during a flood the I/O
  thread takes the open part of each period ahead of ordinary processes (the kernel's
  real-time throttling still bounds it).
* Bounded: one wait never lasts beyond :data:`MAX_WAIT_S`, so a stalled or endless step
  cannot stop I/O; it only slows it. Work that the gate defers stays queued in the kernel's
  socket buffers and ZeroMQ's queues, whose overflows are counted where they happen
  (:mod:`spinnlive.transport.kernel_buffer`, the bridge's and board's drop counters).

Rules: the tick thread only stores floats here (no lock, no allocation); readers take no
lock either (a window tuple is replaced whole). With no real-time run in progress the checks
are one length test. Lock-step runs publish nothing (there is no deadline to protect).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import selectors
import threading
from collections.abc import Iterator
from typing import Any

from spinnlive.clock import PerfCounterClock, ThreadClock

__all__ = ["GATE", "MAX_WAIT_S", "IoPriority", "TickGate", "TickWindow", "fifo_priority",
           "gated_event_loop"]

logger = logging.getLogger(__name__)

#: The longest one wait for the gate lasts, whatever the tick thread does.
MAX_WAIT_S = 5e-3
#: The shortest nap (a shorter sleep costs more wake-ups than it saves).
_MIN_NAP_S = 30e-6
#: How long a loop waits in ``select`` while a step runs past its estimated end.
_STALE_S = 100e-6


class TickWindow:
    """When one real-time tick loop needs the interpreter; written only by its tick thread."""

    __slots__ = ("busy_from", "priority", "reopen")

    def __init__(self, priority: int | None = None) -> None:
        self.priority = priority  #: the tick thread's SCHED_FIFO priority, None: normal
        self.busy_from = float("inf")  #: from this time (the gate's clock) until ``reopen``: busy
        self.reopen = float("-inf")  #: when the step is expected to be over

    def publish(self, busy_from: float, reopen: float) -> None:
        """The next busy stretch: the tick thread calls this before it sleeps towards a tick."""
        self.reopen = reopen
        self.busy_from = busy_from


class TickGate:
    """The real-time windows of this process; see the module docstring."""

    def __init__(self, clock: ThreadClock | None = None) -> None:
        """``clock``: the tick threads' clock (their windows are on its scale); a test gives a
        :class:`~spinnlive.clock.VirtualThreadClock` and asserts the naps exactly."""
        self._clock: ThreadClock = clock or PerfCounterClock()
        self._windows: tuple[TickWindow, ...] = ()
        self._lock = threading.Lock()  # orders open/close only; readers never take it
        self.waits = 0  #: how many times an I/O thread waited for a tick
        self.waited_s = 0.0  #: for how long in all

    def open(self, priority: int | None = None) -> TickWindow:
        """A window for a real-time run that starts now (close it when the run ends)."""
        window = TickWindow(priority)
        with self._lock:
            self._windows = (*self._windows, window)
        return window

    def close(self, window: TickWindow) -> None:
        with self._lock:
            self._windows = tuple(w for w in self._windows if w is not window)

    def io_priority(self) -> int | None:
        """The SCHED_FIFO priority for gated I/O threads now: one below the highest tick
        thread's, None when no tick thread runs under SCHED_FIFO."""
        priorities = [w.priority for w in self._windows if w.priority is not None]
        return max(1, max(priorities) - 1) if priorities else None

    def busy(self, now: float | None = None) -> float:
        """0.0 when no tick needs the interpreter now, else how long until one expects to be done."""
        windows = self._windows
        if not windows:
            return 0.0
        now = self._clock.now() if now is None else now
        wait = 0.0
        for w in windows:
            if w.busy_from <= now < w.reopen:
                wait = max(wait, w.reopen - now, _MIN_NAP_S)
        return wait

    def open_for(self, now: float | None = None) -> float:
        """How long the gate stays open from now (inf: no real-time run; 0: busy now).

        A window past its estimated reopening whose next stretch is not yet published (the
        step runs long) counts as open for ``_STALE_S`` only, so a waiting loop looks again
        soon instead of sleeping into the next tick."""
        windows = self._windows
        if not windows:
            return math.inf
        now = self._clock.now() if now is None else now
        left = math.inf
        for w in windows:
            if w.busy_from > now:
                left = min(left, w.busy_from - now)
            elif w.reopen > now:
                return 0.0
            else:
                left = min(left, _STALE_S)
        return left

    def wait_open(self) -> None:
        """Nap (releasing the interpreter) until no window is busy, at most ``MAX_WAIT_S``."""
        if not self._windows:
            return
        clock = self._clock
        start = now = clock.now()
        end = start + MAX_WAIT_S
        while (wait := self.busy(now)) and now < end:
            clock.sleep(min(wait, end - now))
            now = clock.now()
        if now > start:
            self.waits += 1
            self.waited_s += now - start


#: The process's gate: every tick scheduler and every gated loop of the process meet here.
GATE = TickGate()


class IoPriority:
    """Keeps the calling thread at :meth:`TickGate.io_priority` (SCHED_FIFO one below the
    tick thread during a real-time run, its own policy otherwise), for a thread that takes
    the interpreter while ticks run: a gated loop, a sender thread. Call :meth:`follow` from
    that thread only (it sets the calling thread's policy)."""

    __slots__ = ("_policy", "_raised")

    def __init__(self) -> None:
        self._policy: tuple[int, Any] | None = None  # the thread's own, while raised
        self._raised: int | None = None

    def follow(self) -> None:
        """Raise or restore the calling thread if the gate's I/O priority changed."""
        want = GATE.io_priority()
        if want == self._raised:
            return
        setter = getattr(os, "sched_setscheduler", None)
        if setter is None:
            self._raised = want
            return
        if self._policy is None:
            self._policy = (os.sched_getscheduler(0), os.sched_getparam(0))
        try:
            if want is None:
                setter(0, *self._policy)
            else:
                setter(0, os.SCHED_FIFO, os.sched_param(want))
        except OSError as error:  # not allowed here: the gate alone keeps the thread out
            logger.debug("gated thread stays at its priority: %s", error)
        self._raised = want


class _GatedSelector(selectors.DefaultSelector):
    """The platform selector, waiting for events only while the gate is open and returning
    them only once it is open again: an event that arrives during a tick wakes nobody (a
    thread woken then would take the interpreter from the tick thread)."""

    def __init__(self) -> None:
        super().__init__()
        self._priority = IoPriority()

    def select(self, timeout: float | None = None) -> list[Any]:
        self._priority.follow()
        GATE.wait_open()
        left = GATE.open_for()
        if left != math.inf:
            timeout = left if timeout is None else min(timeout, left)
        events: list[Any] = super().select(timeout)
        GATE.wait_open()
        return events


def gated_event_loop() -> asyncio.AbstractEventLoop:
    """A new event loop whose callbacks keep out of real-time ticks (module docstring)."""
    return asyncio.SelectorEventLoop(_GatedSelector())


_refused_for: set[str] = set()


@contextlib.contextmanager
def fifo_priority(priority: int | None, who: str) -> Iterator[int | None]:
    """SCHED_FIFO ``priority`` for the calling thread while the block runs, where the OS allows.

    For a thread with deadlines: the engine's tick thread, a closed loop's controller. On a
    loaded machine a normal-priority thread that sleeps until just before its deadline may be
    woken milliseconds late; a FIFO thread preempts normal ones at once. The kernel's real-time
    throttling (sched_rt_runtime_us) keeps an overloaded loop from starving the machine.
    Without the permission (not root, no CAP_SYS_NICE) or on another OS the thread runs at
    normal priority, which the log says once per ``who``. Yields the priority it got or None.
    """
    setter = getattr(os, "sched_setscheduler", None)
    if priority is None or setter is None:
        yield None
        return
    old_policy, old_param = os.sched_getscheduler(0), os.sched_getparam(0)
    try:
        setter(0, os.SCHED_FIFO, os.sched_param(priority))
    except OSError as error:
        if who not in _refused_for:
            _refused_for.add(who)
            logger.info("%s runs at normal priority (SCHED_FIFO refused: %s)", who, error)
        yield None
        return
    try:
        yield priority
    finally:
        setter(0, old_policy, old_param)
