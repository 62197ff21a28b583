"""An asyncio event loop in a daemon thread, for synchronous callers of asyncio parts.

Theory of operation
-------------------
The PyNN front end (``sim.run``) and sPyNNaker-style client objects are synchronous, while the
board endpoint, the notifier and the UDP endpoints are asyncio objects. A :class:`LoopThread`
runs one event loop in its own daemon thread; :meth:`LoopThread.run` submits a coroutine with
``asyncio.run_coroutine_threadsafe`` and waits for its result with a deadline, and
:meth:`LoopThread.call` runs a plain function in the loop's thread. This is a documented
compatibility shim (code-models item 15): library code underneath stays single-threaded asyncio.

:class:`LabelWorkers` runs user callbacks off the loop, one ordered worker thread per label.

Rules: every wait has a deadline (:class:`~spinnlive.errors.HandshakeTimeout` names the stage);
:meth:`LoopThread.close` cancels what is still running, stops the loop and joins the thread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import queue
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from spinnlive.errors import HandshakeTimeout, TransportError
from spinnlive.transport.tick_gate import fifo_priority, gated_event_loop

__all__ = ["CLIENT_PRIORITY", "LabelWorkers", "LoopThread"]

logger = logging.getLogger(__name__)

#: SCHED_FIFO priority (where the OS allows) of a live client's receive loop and callback
#: workers: above every ordinary process, so a CPU hog beside the client does not hold a
#: received spike for a scheduler slice at the loop -> worker hop. bench/bench_latency.py
#: --hog, paired runs on a 2-core VM at load 1.3-2.4: the worst latency of 800 trials fell
#: from 5.6-8.5 ms to 3.8-4.6 ms (three pairs); p50/p99 are within the run-to-run noise
#: (the receive-to-callback hop is 0.18 ms p50, 0.3 ms p99 under the hog). Below the engine's
#: tick thread (10) and its gated I/O (9), so a client in the engine's process or on its
#: machine never preempts a tick.
CLIENT_PRIORITY = 5

T = TypeVar("T")
_Job = tuple["concurrent.futures.Future[object]", Callable[..., object], tuple[object, ...]]


class LoopThread:
    """One event loop, running forever in a daemon thread until :meth:`close`."""

    def __init__(self, name: str = "spinnlive-loop", priority: int | None = None) -> None:
        self.loop = gated_event_loop()  # keeps out of the engine's real-time ticks
        self._name = name
        self._priority = priority  # SCHED_FIFO for the thread's life (None: normal)
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._thread.start()

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            with fifo_priority(self._priority, self._name):
                self.loop.run_forever()
        finally:
            pending = asyncio.all_tasks(self.loop)
            for task in pending:
                task.cancel()
            if pending:
                self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            self.loop.close()

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Start ``coro`` on the loop; the future completes with its result."""
        if not self._thread.is_alive():
            coro.close()
            raise TransportError(f"event loop thread {self._name!r} is closed")
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None, stage: str = "") -> T:
        """Run ``coro`` on the loop and wait for its result (``timeout`` None: no deadline)."""
        future = self.submit(coro)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            if future.done():  # the coroutine's own TimeoutError (HandshakeTimeout is one)
                return future.result()
            future.cancel()
            raise HandshakeTimeout(
                f"{stage or 'operation'} did not finish within {timeout:g} s") from None

    def call(self, fn: Callable[[], T], timeout: float | None = 10.0) -> T:
        """Run ``fn()`` in the loop's thread (where asyncio objects may be touched)."""
        async def wrapper() -> T:
            return fn()
        return self.run(wrapper(), timeout, getattr(fn, "__name__", "call"))

    @property
    def in_loop_thread(self) -> bool:
        return threading.current_thread() is self._thread

    def close(self, timeout: float = 5.0) -> None:
        """Stop the loop (cancelling its tasks) and join the thread; idempotent."""
        if self._thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            if not self.in_loop_thread:
                self._thread.join(timeout)


class LabelWorkers:
    """One worker thread per label, so the callbacks of one label run one at a time, in order.

    sPyNNaker runs each start/stop callback in a thread of its own and receive callbacks in a
    pool, so two callbacks of one population can overtake each other; here they cannot, and a
    slow callback delays only its own label, never the event loop. An exception in a callback
    is logged and set on its future; the worker carries on.
    """

    def __init__(self, name: str, priority: int | None = None) -> None:
        self._name = name
        self._priority = priority  # SCHED_FIFO of each worker (None: normal)
        self._queues: dict[str, queue.SimpleQueue[_Job | None]] = {}
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, label: str, fn: Callable[..., object], *args: object
               ) -> concurrent.futures.Future[object]:
        """Queue ``fn(*args)`` behind the earlier callbacks of ``label``."""
        future: concurrent.futures.Future[object] = concurrent.futures.Future()
        with self._lock:
            if self._closed:
                future.cancel()
                return future
            jobs = self._queues.get(label)
            if jobs is None:
                jobs = self._queues[label] = queue.SimpleQueue()
                thread = threading.Thread(target=self._work, args=(label, jobs, self._priority),
                                          daemon=True, name=f"{self._name} callbacks for {label!r}")
                self._threads.append(thread)
                thread.start()
        jobs.put((future, fn, args))
        return future

    @staticmethod
    def _work(label: str, jobs: queue.SimpleQueue[_Job | None], priority: int | None) -> None:
        with fifo_priority(priority, "live callback workers"):
            LabelWorkers._serve(label, jobs)

    @staticmethod
    def _serve(label: str, jobs: queue.SimpleQueue[_Job | None]) -> None:
        while (job := jobs.get()) is not None:
            future, fn, args = job
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(*args))
            except BaseException as error:  # a user callback failed: log it, keep the worker
                logger.exception("callback %r for %r raised", fn, label)
                future.set_exception(error)

    def close(self, timeout: float = 5.0) -> None:
        """Let queued callbacks finish (up to ``timeout`` in all), then end the workers."""
        with self._lock:
            self._closed = True
            queues = list(self._queues.values())
        for jobs in queues:
            jobs.put(None)
        current = threading.current_thread()
        for thread in self._threads:
            if thread is not current:
                thread.join(timeout)
