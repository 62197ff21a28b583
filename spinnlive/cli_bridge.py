"""The bridge inside ``spinnlive run``: a background event-loop thread, and the run hooks.

Why a thread and not a subprocess: the command reads the bridge's final statistics for its
summary and must be sure the bridge is listening before the script's first run step notifies
it; in one process both are a function call (``statistics()``, an ``Event``), and a script run
is one command the user can Ctrl-C. The bridge's own rule still holds: its loop never waits on
the engine, and the engine's tick thread only enqueues; the bridge sees the engine exactly as it
sees a board (UDP notifications, EIEIO), so the same code serves ``--backend spinnaker``.

The run hooks (:func:`attach_embedded`) are the CLI's only contact with the engine: after every
``setup()`` the bridge is registered as a notification listener (what
``add_database_socket_address`` does), and before the first run step, when the script asked for
no live output itself, every population except the injectors gets one (``--stream``), so the
bridge has spikes to publish. Injectors stay inputs: a label with live output is an ``out``
population to the bridge (docs/wire-format.md §5).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import zmq
import zmq.asyncio

from .bridge.config import BridgeConfig
from .bridge.service import Bridge
from .bridge.stats import BridgeStatistics
from .errors import TransportError

__all__ = ["BridgeThread", "attach_embedded", "attach_spynnaker", "format_bridge_summary"]

logger = logging.getLogger(__name__)

_START_TIMEOUT_S = 10.0
_CALL_TIMEOUT_S = 5.0


class BridgeThread:
    """One :class:`Bridge` on its own event loop thread; ``announce`` prints lifecycle lines."""

    def __init__(self, config: BridgeConfig, announce: Callable[[str], None] = print) -> None:
        self.config = config
        self._announce = announce
        self._loop = asyncio.new_event_loop()
        self._bridge: Bridge | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="spinnlive-bridge", daemon=True)

    def start(self) -> Bridge:
        self._thread.start()
        if not self._ready.wait(_START_TIMEOUT_S):
            raise TransportError(f"the bridge did not open within {_START_TIMEOUT_S:g} s")
        if self._error is not None or self._bridge is None:
            raise TransportError(f"the bridge did not open: {self._error}")
        return self._bridge

    def _main(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._serve())
        self._loop.close()

    async def _serve(self) -> None:
        try:
            bridge = await Bridge(self.config).open()
            watcher = await _LifecycleWatcher.open(bridge, self._announce)
        except BaseException as e:  # reported by start() in the calling thread
            self._error = e
            self._ready.set()
            return
        self._bridge = bridge
        self._ready.set()
        try:
            await watcher.run()
        finally:
            watcher.close()
            await bridge.close()

    @property
    def notify(self) -> tuple[str, int]:
        """The UDP address to register as the run's notification listener."""
        if self._bridge is None:
            raise TransportError("the bridge is not open")
        return self._bridge.notify_address

    def statistics(self) -> BridgeStatistics | None:
        bridge = self._bridge
        if bridge is None or self._loop.is_closed():
            return None

        async def read() -> BridgeStatistics:
            return bridge.statistics()

        return asyncio.run_coroutine_threadsafe(read(), self._loop).result(_CALL_TIMEOUT_S)

    def stop(self) -> None:
        if self._bridge is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):
                asyncio.run_coroutine_threadsafe(self._bridge.close(), self._loop)
        self._thread.join(_CALL_TIMEOUT_S)


class _LifecycleWatcher:
    """A subscriber of the bridge's own ``lifecycle`` topic: prints where to connect, per epoch."""

    def __init__(self, bridge: Bridge, announce: Callable[[str], None],
                 ctx: zmq.asyncio.Context, sub: zmq.asyncio.Socket) -> None:
        self.bridge, self._announce, self._ctx, self._sub = bridge, announce, ctx, sub

    @classmethod
    async def open(cls, bridge: Bridge, announce: Callable[[str], None]) -> _LifecycleWatcher:
        ctx = zmq.asyncio.Context()
        sub = ctx.socket(zmq.SUB)
        sub.setsockopt(zmq.LINGER, 0)
        sub.connect(bridge.endpoints["publish"])
        sub.setsockopt(zmq.SUBSCRIBE, b"lifecycle")
        sub.setsockopt(zmq.SUBSCRIBE, b"sync/cli")
        try:  # slow joiner: no DATABASE can be announced before this subscription is live
            async with asyncio.timeout(_START_TIMEOUT_S):
                while (await sub.recv_multipart())[0] != b"sync/cli":
                    pass
        except BaseException:
            ctx.destroy(linger=0)
            raise
        sub.setsockopt(zmq.UNSUBSCRIBE, b"sync/cli")
        return cls(bridge, announce, ctx, sub)

    async def run(self) -> None:
        while True:
            frames = await self._sub.recv_multipart()
            body = json.loads(frames[2])
            event = body.get("event")
            if event == "database-ready":
                self._announce(describe_ready(body, self.bridge.endpoints["discovery"]))
            elif event in ("started", "paused"):
                logger.info("bridge: %s (epoch %s)", event, body.get("epoch"))
            elif event == "closing":
                return

    def close(self) -> None:
        self._ctx.destroy(linger=0)


def describe_ready(body: dict[str, Any], discovery: str) -> str:
    """The lines printed once a run's database is read: where to connect, which topics."""
    topics = " ".join(p["topic"] for p in body.get("populations", ()))
    return (f"bridge ready (epoch {body.get('epoch')}): discovery {discovery}\n"
            f"  topics: {topics or '(none)'} lifecycle stats")


def format_bridge_summary(stats: BridgeStatistics | None) -> str:
    """Stream counters for the end-of-run summary."""
    if stats is None:
        return "bridge: no statistics"
    udp = stats.udp
    lines = [f"bridge epoch {stats.epoch} ({stats.state}): {udp.received} datagrams in, "
             f"{udp.injected_packets} packets to the board, late ticks {udp.late_ticks}, "
             f"unknown keys {udp.unknown_keys}, kernel drops {udp.kernel_drops}"]
    for name, s in sorted(stats.streams.items()):
        dropped = ", ".join(f"{k} {v}" for k, v in sorted(s.dropped.items()) if v) or "none"
        lines.append(f"  {name:<24} {s.messages:>7} messages {s.events:>9} events "
                     f"{s.forwarded_events:>7} forwarded  dropped: {dropped}")
    return "\n".join(lines)


# -- run hooks ------------------------------------------------------------------------------

@contextlib.contextmanager
def attach_embedded(notify: tuple[str, int] | None, stream: Sequence[str],
                    n_boards_required: int | None = None) -> Iterator[None]:
    """While active, every ``setup()`` of spinnlive.pynn registers the bridge (``notify``; None:
    no bridge) as a listener, streams the ``--stream`` populations and maps on at least
    ``n_boards_required`` boards (:class:`spinnlive.pynn.simulator.HostHooks`)."""
    from .pynn import simulator
    from .pynn.simulator import HostHooks
    from .transport.notifier import ListenerAddress

    state = simulator.state
    saved = state.host_hooks
    listeners = () if notify is None else (ListenerAddress(notify[0], notify[1], None),)
    state.host_hooks = HostHooks(listeners=listeners, stream=tuple(stream),
                                 n_boards_required=n_boards_required)
    try:
        yield
    finally:
        state.host_hooks = saved


@contextlib.contextmanager
def attach_spynnaker(notify: tuple[str, int]) -> Iterator[None]:
    """While active, sPyNNaker's ``setup()`` also registers the bridge as a listener."""
    import pyNN.spiNNaker as sim

    setup = sim.setup

    def setup_with_bridge(*args: Any, **kwargs: Any) -> Any:
        rank = setup(*args, **kwargs)
        sim.external_devices.add_database_socket_address(notify[0], notify[1], None)
        return rank

    sim.setup = setup_with_bridge
    try:
        yield
    finally:
        sim.setup = setup
