"""The monitor: a local web page that watches a bridge, as one more client of its topics.

Theory of operation
-------------------
Three asyncio tasks and an aiohttp application, all on one event loop:

* **reader**: one :class:`~spinnlive.client.Subscription` (a SUB socket on the bridge's output
  endpoint) to ``spikes/``, ``lifecycle`` and ``stats`` only (docs/wire-format.md §2, §6, §7),
  drained every 10 ms in batches of what the socket holds, with no await per message. Spike batches go into
  the :class:`~spinnlive.monitor.frames.FrameBuilder`; lifecycle and stats bodies go to every
  page at once as small JSON text messages. This task never waits for a page, so a slow browser
  cannot slow the bridge's subscriber, let alone the bridge.
* **falling behind**: the monitor is a best-effort observer. ``spinnlive monitor`` lowers its
  own scheduling priority (``--nice``), so where the CPUs are busy the bridge and its real
  subscribers run first; the monitor's socket then fills (``hwm`` messages) and libzmq drops
  for this one subscriber only. The subscription's books (:mod:`spinnlive.wire.ledger`) count
  what it missed, exactly, per topic, and every page shows it: the bridge's other subscribers
  lose nothing.
* **frames**: every ``frame_ms`` it takes one frame of spikes and offers it to each page. A page
  acknowledges each frame after drawing it; one with ``max_in_flight`` frames unacknowledged (or
  its socket's send queue full) skips this frame, which is counted for that page and shown on it.
* **describe**: asks the discovery endpoint (the only address the monitor is given) for the
  populations and endpoints, again after every ``new-epoch``; while no bridge answers, the pages
  say so and it keeps asking.

Pages send controls as JSON (``{"op": "inject", "label": L, "ids": [...]}``,
``{"op": "rates", "label": L, "ids": [...], "rates": [...]}``), which go to the bridge's input
topics through :class:`spinnlive.client.Client`, exactly as any client's would; a bad control
gets an ``error`` message naming what was wrong and sends nothing.

HTTP: ``/`` the page, ``/static/...`` its script and style (shipped in the package, nothing
fetched from the internet), ``/ws`` the WebSocket, ``/state.json`` the server's own counters.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import numpy as np
from aiohttp import WSMsgType, web

from spinnlive.client import Client, Subscription
from spinnlive.clock import Clock, MonotonicClock, sleep_for
from spinnlive.errors import SpinnliveError, TransportError
from spinnlive.monitor.frames import (
    FrameBuilder,
    frame_events,
    rows_for,
    stamp_dropped,
    ticks_per_bin,
)
from spinnlive.wire.output import Notice, SpikeBatch
from spinnlive.wire.topics import LIFECYCLE, SPIKES, STATS

__all__ = ["Monitor", "MonitorConfig", "PageCounts"]

logger = logging.getLogger(__name__)

#: How often the describe task asks again while no bridge answers.
_DESCRIBE_RETRY_S = 0.5
#: Messages the reader takes off its socket before it lets the page side run.
_BATCH = 2000
#: How long the reader sleeps once its socket is empty: far below a display frame, and the
#: socket holds that long's messages at any rate the bridge reaches (``hwm``).
_DRAIN_S = 0.01
#: Bounds of one control message from a page.
_MAX_CONTROL_IDS = 100_000


@dataclass(frozen=True)
class MonitorConfig:
    discovery: str  #: the bridge's discovery endpoint
    host: str = "127.0.0.1"
    port: int = 0  #: 0: any free port (the URL says which)
    frame_ms: float = 50.0  #: one display frame per period
    max_in_flight: int = 4  #: frames a page may have unacknowledged before it skips one
    window_s: float = 5.0  #: how much history the page's raster shows
    controls: bool = True  #: offer inject / rate controls on the page
    exact_max: int = 1024  #: events of one population per frame sent one by one; above: binned
    hwm: int = 10_000  #: messages the monitor's socket holds before libzmq drops for it


@dataclass
class PageCounts:
    """One page's frames: sent, acknowledged (drawn), dropped because it was behind."""

    sent: int = 0
    acked: int = 0
    dropped: int = 0
    dropped_events: int = 0


@dataclass
class _Page:
    ws: web.WebSocketResponse
    counts: PageCounts = field(default_factory=PageCounts)
    queue: asyncio.Queue[bytes | str] = field(default_factory=lambda: asyncio.Queue(64))


class Monitor:
    """``await monitor.start()`` serves the page and follows the bridge until :meth:`close`."""

    def __init__(self, config: MonitorConfig, clock: Clock | None = None) -> None:
        """``clock`` paces the display frames, the reader's naps and the retries (a test moves
        a virtual one to step frames exactly)."""
        self.config = config
        self._clock: Clock = clock or MonotonicClock()
        self.builder = FrameBuilder(exact_max=config.exact_max)
        self.description: dict[str, Any] | None = None
        self.lifecycle: list[dict[str, Any]] = []
        self.stats: dict[str, Any] | None = None
        self.bad_messages = 0
        self.controls_sent = 0
        self.controls_refused = 0
        self.url = ""
        self._pages: list[_Page] = []
        self._sub: Subscription | None = None
        self._client = Client(config.discovery, timeout=2.0, clock=self._clock)
        self._tasks: list[asyncio.Task[None]] = []
        self._runner: web.AppRunner | None = None
        self._described = asyncio.Event()
        self._redescribe = asyncio.Event()

    # -- life ---------------------------------------------------------------------------------

    async def start(self) -> str:
        """Bind the web server; returns the page's URL. Following the bridge starts at once."""
        app = web.Application()
        app.router.add_get("/", self._index)
        app.router.add_get("/ws", self._websocket)
        app.router.add_get("/state.json", self._state)
        app.router.add_static("/static", str(resources.files("spinnlive.monitor") / "static"))
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.host, self.config.port)
        await site.start()
        host, port = self._runner.addresses[0][:2]  # the bound address (port 0: the free one)
        self.url = f"http://{host}:{port}/"
        self._tasks = [asyncio.create_task(self._guard(name, job), name=f"monitor-{name}")
                       for name, job in (("describe", self._describe_loop),
                                         ("reader", self._reader), ("frames", self._frames))]
        return self.url

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for page in list(self._pages):
            await page.ws.close()
        if self._runner is not None:
            await self._runner.cleanup()
        if self._sub is not None:
            self._sub.close()
        await self._client.close()

    async def _guard(self, name: str, job: Any) -> None:
        """A task that fails is logged and started again: one bad message never ends it."""
        while True:
            try:
                await job()
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("monitor task %s failed; restarting it", name)
                await sleep_for(self._clock, _DESCRIBE_RETRY_S)

    # -- the bridge side ----------------------------------------------------------------------

    async def _describe_loop(self) -> None:
        while True:
            self._redescribe.clear()  # before asking: a notice during the round trip asks again
            try:
                description = await self._client.describe()
            except SpinnliveError as exc:
                self._broadcast_json({"type": "bridge", "state": "unreachable",
                                      "message": str(exc)})
                await sleep_for(self._clock, _DESCRIBE_RETRY_S)
                continue
            self.description = description
            self._layout(description)
            if not self._redescribe.is_set():  # the answer is at least as new as the run
                self.builder.describing = False
            if self._sub is None:
                await self._client.open()  # the input endpoint, for the page's controls
                self._sub = self._client.subscribe(SPIKES, LIFECYCLE, STATS,
                                                   rcvhwm=self.config.hwm)
                self._described.set()
            self._broadcast_json(self._describe_message())
            await self._redescribe.wait()

    def _layout(self, description: dict[str, Any]) -> None:
        """The raster's binning: each output population's size, the run's ticks per column."""
        for population in description.get("populations", []):
            if population.get("direction") == "out":
                label = str(population["label"])
                self.builder.index_of(label)
                self.builder.sizes[label] = int(population.get("size", 0)) or 1
        timestep = float(description.get("timestep_ms") or 1.0)
        self.builder.per_bin = ticks_per_bin(self.config.window_s, timestep)

    def _describe_message(self) -> dict[str, Any]:
        d = self.description or {}
        b = self.builder
        return {"type": "describe", "labels": list(b.labels),
                "rows": {label: rows_for(size) for label, size in b.sizes.items()},
                "ticks_per_bin": b.per_bin, "exact_max": b.exact_max,
                "populations": d.get("populations", []), "state": d.get("state"),
                "epoch": d.get("epoch"), "timestep_ms": d.get("timestep_ms"),
                "time_scale_factor": d.get("time_scale_factor"),
                "window_s": self.config.window_s, "frame_ms": self.config.frame_ms,
                "controls": self.config.controls, "discovery": self.config.discovery}

    async def _reader(self) -> None:
        await self._described.wait()
        sub = self._sub
        assert sub is not None
        add = self.builder.add
        while True:
            taken = 0
            while taken < _BATCH:  # what the socket holds, read without awaiting anything
                try:
                    message = await sub.receive(0)
                except TransportError as exc:  # a message that breaks the contract: counted
                    self.bad_messages += 1
                    logger.warning("monitor: bad message from the bridge (%s)", exc)
                    continue
                if message is None:
                    break
                taken += 1
                if isinstance(message, SpikeBatch):
                    add(message)
                elif isinstance(message, Notice):
                    self._on_notice(message)
            if taken < _BATCH:  # empty: come back in a while, not per message (a wake-up
                await sleep_for(self._clock, _DRAIN_S)  # costs more than the message it brings)
            else:
                await asyncio.sleep(0)  # still more: let the frames and pages run first

    def _on_notice(self, notice: Notice) -> None:
        if notice.topic == LIFECYCLE:
            self.lifecycle.append(notice.body)
            if notice.event == "new-epoch":
                self.builder.new_epoch(int(notice.body.get("epoch", 0)))
            if notice.event in ("new-epoch", "database-ready"):
                self.builder.describing = True  # until the answer: its sizes bin the run
                self._redescribe.set()
            self._broadcast_json({"type": "lifecycle", "body": notice.body})
        elif notice.topic == STATS:
            self.stats = notice.body
            self._broadcast_json({"type": "stats", "body": notice.body,
                                  "monitor": self._own_counts()})

    def _own_counts(self) -> dict[str, Any]:
        streams: dict[str, dict[str, Any]] = {}
        if self._sub is not None:
            for topic in list(self._sub.book.ledgers):
                st = self._sub.statistics(topic)
                streams[st.topic] = {
                    "messages": st.received_messages, "events": st.received_events,
                    "gap_messages": st.gap_messages, "accounted": st.accounted,
                    "missed_messages": st.missed_messages, "missed_events": st.missed_events}
        return {"streams": streams, "live": self._sub is not None and self._sub.book.live,
                "missed_events": sum(s["missed_events"] for s in streams.values()),
                "bad_messages": self.bad_messages, "frames": self.builder.frames,
                "controls_sent": self.controls_sent, "controls_refused": self.controls_refused}

    # -- the page side ------------------------------------------------------------------------

    async def _frames(self) -> None:
        period = self.config.frame_ms / 1000.0
        while True:
            await sleep_for(self._clock, period)
            if self.builder.take_labels_changed():
                self._broadcast_json(self._describe_message())
            frame = self.builder.take()
            events = frame_events(frame)
            for page in self._pages:
                c = page.counts
                if c.sent - c.acked >= self.config.max_in_flight or page.queue.full():
                    if events:  # an empty frame skipped loses nothing: not a drop
                        c.dropped += 1
                        c.dropped_events += events
                    continue
                c.sent += 1
                page.queue.put_nowait(stamp_dropped(frame, c.dropped, c.dropped_events))

    def _broadcast_json(self, body: dict[str, Any]) -> None:
        text = json.dumps(body, separators=(",", ":"))
        for page in self._pages:
            if page.queue.full():  # a page that stopped reading altogether: it is closed
                asyncio.ensure_future(page.ws.close())
                continue
            page.queue.put_nowait(text)

    async def _index(self, request: web.Request) -> web.StreamResponse:
        page = resources.files("spinnlive.monitor") / "static" / "index.html"
        return web.Response(text=page.read_text(), content_type="text/html")

    async def _state(self, request: web.Request) -> web.Response:
        return web.json_response({
            "description": self.description, "stats": self.stats, "lifecycle": self.lifecycle,
            "monitor": self._own_counts(),
            "pages": [vars(p.counts) for p in self._pages]})

    async def _websocket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=10.0, max_msg_size=4 * 1024 * 1024)
        await ws.prepare(request)
        page = _Page(ws)
        self._pages.append(page)
        page.queue.put_nowait(json.dumps(self._describe_message()))
        if self.stats is not None:
            page.queue.put_nowait(json.dumps({"type": "stats", "body": self.stats,
                                              "monitor": self._own_counts()}))
        for body in self.lifecycle[-20:]:
            page.queue.put_nowait(json.dumps({"type": "lifecycle", "body": body}))
        sender = asyncio.create_task(self._send_to(page))
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    await self._on_page_message(page, msg.data)
        finally:
            self._pages.remove(page)
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender
        return ws

    async def _send_to(self, page: _Page) -> None:
        while True:
            item = await page.queue.get()
            try:
                if isinstance(item, bytes):
                    await page.ws.send_bytes(item)
                else:
                    await page.ws.send_str(item)
            except (ConnectionError, RuntimeError):
                return  # the page went away; its handler removes it

    async def _on_page_message(self, page: _Page, text: str) -> None:
        try:
            body = json.loads(text)
            op = body["op"]
        except (ValueError, KeyError, TypeError):
            await self._refuse(page, "a control is a JSON object with an 'op'")
            return
        if op == "ack":
            page.counts.acked += 1
            return
        if op not in ("inject", "rates"):
            await self._refuse(page, f"unknown control {op!r} (inject, rates)")
            return
        try:
            label = str(body["label"])
            ids = np.asarray(body["ids"], dtype=np.int64).ravel()
            if ids.size > _MAX_CONTROL_IDS:
                raise ValueError(f"at most {_MAX_CONTROL_IDS} ids per control")
            self._check_target(op, label, ids)
            if op == "inject":
                await self._client.inject(label, ids)
            else:
                rates = np.broadcast_to(np.asarray(body["rates"], dtype=np.float64), ids.shape)
                await self._client.set_rates(label, ids, rates)
        except (KeyError, ValueError, TypeError, OverflowError, SpinnliveError) as exc:
            await self._refuse(page, f"{op}: {exc}")
            return
        self.controls_sent += 1
        await page.ws.send_str(json.dumps({"type": "ack", "op": op, "label": label,
                                           "ids": int(ids.size)}))

    def _check_target(self, op: str, label: str, ids: np.ndarray[Any, Any]) -> None:
        """Refuse what the bridge would only count as dropped: the page is told why."""
        direction = "in" if op == "inject" else "rates"
        sizes = {p["label"]: int(p["size"]) for p in (self.description or {}).get(
            "populations", []) if p.get("direction") == direction}
        if label not in sizes:
            raise ValueError(f"{label!r} takes no {op} (populations that do: "
                             f"{', '.join(sorted(sizes)) or 'none'})")
        if ids.size and (int(ids.min()) < 0 or int(ids.max()) >= sizes[label]):
            raise ValueError(f"{label!r} has {sizes[label]} neurons; ids must be in "
                             f"0..{sizes[label] - 1}")

    async def _refuse(self, page: _Page, message: str) -> None:
        self.controls_refused += 1
        logger.info("monitor: control refused: %s", message)
        await page.ws.send_str(json.dumps({"type": "error", "message": message}))
