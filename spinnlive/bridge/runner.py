"""The one way to start a bridge, hosted: in this event loop, or on a thread of its own.

Every command builds its configuration from the same flags (:mod:`spinnlive.bridge.options`).
:func:`serve` runs a bridge on the current event loop until SIGINT/SIGTERM (the two
commands); :class:`BridgeThread` runs one on a background event-loop thread (``spinnlive run``,
which reads its final statistics for the summary and must know it is listening before the
script's first run step). Either way the first line said is one JSON object, the notification
address and the bound endpoints, for a parent process that started it with port 0; then one
line where to connect, and one line per epoch once its database is read.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import threading
from collections.abc import Callable
from typing import Any

from spinnlive.bridge.config import BridgeConfig
from spinnlive.bridge.service import Bridge
from spinnlive.bridge.stats import BridgeStatistics
from spinnlive.errors import TransportError
from spinnlive.transport.tick_gate import gated_event_loop

__all__ = ["BridgeThread", "describe_ready", "serve"]

_START_TIMEOUT_S = 10.0
_CALL_TIMEOUT_S = 5.0
Say = Callable[[str], None]


def describe_ready(body: dict[str, Any], discovery: str) -> str:
    """The lines said once a run's database is read: where to connect, which topics."""
    topics = " ".join(p["topic"] for p in body.get("populations", ()))
    return (f"bridge ready (epoch {body.get('epoch')}): discovery {discovery}\n"
            f"  topics: {topics or '(none)'} lifecycle stats")


def _announcer(say: Say) -> Callable[[Bridge, dict[str, Any]], None]:
    def on_lifecycle(bridge: Bridge, body: dict[str, Any]) -> None:
        if body.get("event") == "database-ready":
            say(describe_ready(body, bridge.endpoints["discovery"]))

    return on_lifecycle


def _bound(bridge: Bridge, say: Say) -> None:
    say(json.dumps({"notify": list(bridge.notify_address), **bridge.endpoints}))
    say(f"bridge: discovery {bridge.endpoints['discovery']} "
        f"notify {bridge.notify_address[0]}:{bridge.notify_address[1]}")


async def serve(config: BridgeConfig, say: Say = print) -> None:
    """Run one bridge until SIGINT/SIGTERM, saying where it is."""
    async with Bridge(config, on_lifecycle=_announcer(say)) as bridge:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, lambda: asyncio.ensure_future(bridge.close()))
        _bound(bridge, say)
        await bridge.wait_closed()


class BridgeThread:
    """One :class:`Bridge` on its own event-loop thread; ``say`` prints its lines."""

    def __init__(self, config: BridgeConfig, say: Say = print) -> None:
        self.config = config
        self._say = say
        self._loop = gated_event_loop()  # beside an engine: keeps out of its real-time ticks
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
        _bound(self._bridge, self._say)
        return self._bridge

    def _main(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._serve())
        self._loop.close()

    async def _serve(self) -> None:
        try:
            bridge = await Bridge(self.config, on_lifecycle=_announcer(self._say)).open()
        except BaseException as e:  # reported by start() in the calling thread
            self._error = e
            self._ready.set()
            return
        self._bridge = bridge
        self._ready.set()
        await bridge.wait_closed()

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
