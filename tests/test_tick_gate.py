"""The tick gate: I/O loops of the process keep out of a real-time tick (spinnlive.transport.tick_gate).

The window arithmetic is checked on explicit times; the rest against real parts: a real-time
tick scheduler, the engine's gated loop thread with a board endpoint on it, and a flood of
datagrams from another process, every one of which must be used or counted.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys

import numpy as np
import pytest
from waiting import wait_until

from spinnlive.clock import VirtualThreadClock
from spinnlive.engine.board import BoardEndpoint
from spinnlive.engine.scheduler import TickMode, TickScheduler
from spinnlive.protocol.eieio import EIEIOType, encode_events
from spinnlive.protocol.sdp import injection_datagram
from spinnlive.transport.loop_thread import CLIENT_PRIORITY, LabelWorkers, LoopThread
from spinnlive.transport.tick_gate import GATE, MAX_WAIT_S, TickGate


def test_a_window_is_busy_from_its_start_until_its_reopening() -> None:
    gate = TickGate()
    assert gate.busy(5.0) == 0.0 and gate.open_for(5.0) == math.inf
    window = gate.open(priority=10)
    window.publish(busy_from=10.0, reopen=10.5)
    assert gate.busy(9.9) == 0.0
    assert gate.open_for(9.0) == pytest.approx(1.0)  # a loop may wait in select until 10.0
    assert gate.busy(10.0) == pytest.approx(0.5) and gate.open_for(10.2) == 0.0
    assert gate.busy(10.6) == 0.0
    assert 0.0 < gate.open_for(10.6) < 1e-3  # the step runs long: look again soon
    assert gate.io_priority() == 9  # one below the tick thread
    gate.close(window)
    assert gate.open_for(10.2) == math.inf and gate.io_priority() is None


def test_waiting_for_the_gate_lasts_until_the_reopening_and_is_bounded() -> None:
    clock = VirtualThreadClock(100.0)  # naps move it: each wait is measured exactly
    gate = TickGate(clock)
    window = gate.open()
    window.publish(busy_from=100.0, reopen=100.002)
    gate.wait_open()
    assert clock.now() == pytest.approx(100.002) and gate.waits == 1
    assert gate.waited_s == pytest.approx(2e-3)
    window.publish(busy_from=101.0, reopen=101.5)
    gate.wait_open()  # not busy yet: no nap, not counted
    assert clock.now() == pytest.approx(100.002) and gate.waits == 1
    clock.advance(1.0)
    window.publish(busy_from=clock.now(), reopen=clock.now() + 60.0)  # a stalled step ...
    start = clock.now()
    gate.wait_open()  # ... cannot stop I/O: one wait lasts MAX_WAIT_S at the most
    assert clock.now() - start == pytest.approx(MAX_WAIT_S) and gate.waits == 2
    assert gate.waited_s == pytest.approx(2e-3 + MAX_WAIT_S)
    gate.close(window)
    gate.wait_open()
    assert gate.waits == 2  # nothing to wait for


def _trivial_scheduler() -> TickScheduler:
    return TickScheduler(lambda tick: None, 1e-3, TickMode.REALTIME)


def test_a_realtime_run_publishes_its_window_and_lockstep_does_not() -> None:
    sched = TickScheduler(lambda tick: None, 1e-3, TickMode.LOCKSTEP)
    seen: list[int] = []
    sched.call_at_next_tick(lambda tick: seen.append(len(GATE._windows)))
    sched.run(3)
    assert seen == [0]
    sched = _trivial_scheduler()
    sched.start(None)
    try:
        wait_until(lambda: sched.tick > 5, "real-time ticks")
        (window,) = GATE._windows
        assert window.busy_from < math.inf and window.reopen > window.busy_from
    finally:
        sched.request_stop()
        sched.join(10.0)
    assert GATE._windows == ()


def _fifo_allowed() -> bool:
    try:
        policy, param = os.sched_getscheduler(0), os.sched_getparam(0)
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))
        os.sched_setscheduler(0, policy, param)
        return True
    except (AttributeError, OSError):
        return False


@pytest.mark.skipif(not _fifo_allowed(), reason="SCHED_FIFO not permitted on this platform")
def test_the_gated_loop_thread_runs_below_the_tick_thread_only_during_a_run() -> None:
    loop = LoopThread("gate-priority")
    try:
        def policy() -> tuple[int, int]:
            loop.call(lambda: None)  # one loop round: the selector follows the gate
            return loop.call(lambda: (os.sched_getscheduler(0), os.sched_getparam(0)
                                      .sched_priority))

        before = policy()
        assert before[0] != os.SCHED_FIFO
        sched = _trivial_scheduler()
        sched.start(None)
        try:
            wait_until(lambda: sched.tick > 5, "real-time ticks")
            assert policy() == (os.SCHED_FIFO, 9)  # the tick thread runs at 10
        finally:
            sched.request_stop()
            sched.join(10.0)
        wait_until(lambda: policy() == before, "the loop thread's own policy back")
    finally:
        loop.close()


@pytest.mark.skipif(not _fifo_allowed(), reason="SCHED_FIFO not permitted on this platform")
def test_a_client_loop_and_its_workers_run_at_client_priority_and_below_the_tick_thread() -> None:
    loop = LoopThread("client-priority", CLIENT_PRIORITY)
    workers = LabelWorkers("client-priority", CLIENT_PRIORITY)
    try:
        def policy() -> tuple[int, int]:
            loop.call(lambda: None)  # one loop round: the selector follows the gate
            return loop.call(lambda: (os.sched_getscheduler(0), os.sched_getparam(0)
                                      .sched_priority))

        def worker_policy() -> object:
            return workers.submit("out", lambda: (os.sched_getscheduler(0),
                                                  os.sched_getparam(0).sched_priority)).result(5)

        assert policy() == (os.SCHED_FIFO, CLIENT_PRIORITY)
        assert worker_policy() == (os.SCHED_FIFO, CLIENT_PRIORITY)
        sched = _trivial_scheduler()
        sched.start(None)
        try:
            wait_until(lambda: sched.tick > 5, "real-time ticks")
            assert policy() == (os.SCHED_FIFO, 9)  # raised under a run, below its tick thread
        finally:
            sched.request_stop()
            sched.join(10.0)
        wait_until(lambda: policy() == (os.SCHED_FIFO, CLIENT_PRIORITY), "client priority back")
    finally:
        workers.close()
        loop.close()


_FLOODER = """
import socket, sys
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
datagram = bytes.fromhex(sys.argv[4])
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(n):
    sock.sendto(datagram, (host, port))
"""


def test_a_flood_meets_the_gate_and_every_datagram_is_used_or_counted() -> None:
    n = 5000
    loop = LoopThread("gate-flood")
    board = loop.run(BoardEndpoint.open(port=0), 10.0)
    (packet,) = encode_events(np.arange(3), eieio_type=EIEIOType.KEY_16_BIT)
    datagram = injection_datagram(0, 0, 1, packet)  # no injector there: counted unknown_core
    sched = _trivial_scheduler()
    waits = GATE.waits
    sched.start(None)
    try:
        wait_until(lambda: sched.tick > 5, "real-time ticks")
        host, port = board.address
        subprocess.run([sys.executable, "-c", _FLOODER, host, str(port), str(n),
                        datagram.hex()], check=True, timeout=120)

        def accounted() -> int:
            s = board.statistics()
            return (s.received + sum(s.endpoint.dropped.values())
                    + (s.endpoint.kernel_dropped or 0))

        wait_until(lambda: accounted() >= n, "every datagram read or counted by the kernel")
        stats = board.statistics()
        assert accounted() == n
        assert stats.dropped.get("unknown_core", 0) == stats.received
        assert GATE.waits > waits  # the loop stepped aside for ticks
    finally:
        sched.request_stop()
        sched.join(10.0)
        loop.run(board.aclose(), 10.0)
        loop.close()
