"""A live event camera into a running network: AEStream / SPIF UDP datagrams -> ``inject/``.

Theory of operation
-------------------
:class:`EventStreamInput` stands where SPIF would: a camera driver (AEStream's ``output udp``,
spiffer) sends it UDP datagrams of SPIF event words (:mod:`.event_camera`), and it injects the
events into a 2-D ``SpikeInjector`` population through the bridge, as an ordinary ZeroMQ client
(:func:`spinnlive.connect`) that could run in another process or on another host.

* **Receive.** The UDP protocol callback only appends the datagram's bytes to a bounded list
  (``max_pending`` datagrams; beyond it a datagram is dropped as ``queue_full``) and wakes the
  flusher: nothing is parsed on the socket's path.
* **Flush.** The flusher waits for a first datagram, lets ``flush_s`` pass (one network tick by
  default) so the rest of that tick's datagrams join it, then decodes every pending datagram
  (:func:`~.event_camera.decode_datagram_untrusted`; a malformed one is counted as
  ``bad_datagram``, logged, and skipped), maps the events to neuron ids with the
  :class:`~.event_camera.EventCameraMap` (events off the sensor: ``out_of_range``) and sends all
  of them as **one** ``inject/<label>`` message: one numpy array per flush, never an object per
  event. The events' own timestamps are not used: they are injected when they arrive, which is
  what "live" means; the sender paces them.
* **No bridge.** Events that arrive while no run is being followed, or whose message the
  bridge's input does not take within ``send_timeout_s``, are dropped as ``no_bridge``: a late
  burst of stale events would be worse than a gap. A send that times out also ends the session.
* **Sessions.** :class:`~.reconnecting.Reconnecting` connects, waits for a running network, checks
  that ``label`` takes ``inject/`` and has room for the map's ids, and follows the run with a
  :class:`~.reconnecting.BridgeWatch` (lifecycle + stats heartbeat). A new run epoch, a restarted or
  silent bridge ends the session; the adapter logs it, waits for the next running bridge and
  goes on injecting, its UDP port unchanged.

:meth:`EventStreamInput.statistics` returns an :class:`EventStreamStatistics` snapshot.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType, TracebackType
from typing import Any

import numpy as np
import zmq

from spinnlive.client import Client, connect
from spinnlive.clock import Clock, MonotonicClock, deadline_after, sleep_for, wait_until
from spinnlive.errors import ConfigurationError, RemoteProtocolError, TransportError

from .event_camera import EventCameraMap, decode_datagram_untrusted
from .reconnecting import BridgeWatch, Reconnecting

__all__ = ["EventStreamConfig", "EventStreamInput", "EventStreamStatistics"]

logger = logging.getLogger(__name__)

#: Reasons a whole datagram is dropped, and reasons single events are.
DATAGRAM_DROPS = ("bad_datagram", "queue_full")
EVENT_DROPS = ("out_of_range", "no_bridge")


@dataclass(frozen=True, slots=True, kw_only=True)
class EventStreamConfig:
    """Where events come from, where they go, and how long to wait for what."""

    #: the SpikeInjector population's label
    label: str
    camera: EventCameraMap
    host: str = "127.0.0.1"
    #: UDP port for the camera driver (0: any free one, see :attr:`EventStreamInput.address`)
    port: int = 0
    #: events are gathered this long after the first of a batch, then injected together
    flush_s: float = 0.001
    #: datagrams waiting for the flusher at most
    max_pending: int = 4096
    #: the bridge's input must take a batch within this, else it is dropped (no_bridge)
    send_timeout_s: float = 0.25
    #: silence from the bridge that ends a session, and how long to look for the next one
    timeout_s: float = 2.5
    recovery_s: float = 30.0

    def __post_init__(self) -> None:
        if not (self.flush_s >= 0 and self.send_timeout_s > 0 and self.max_pending >= 1):
            raise ConfigurationError("flush_s >= 0, send_timeout_s > 0 and max_pending >= 1")
        if not 0 <= self.port <= 0xFFFF:
            raise ConfigurationError(f"UDP port must be 0..65535, got {self.port}")


@dataclass(frozen=True, slots=True)
class EventStreamStatistics:
    """Counts since the adapter opened (events and datagrams as received)."""

    datagrams: int
    events: int
    #: events sent to the bridge (inject/<label> ids)
    injected: int
    #: inject messages sent (one per flush with events)
    batches: int
    dropped_datagrams: Mapping[str, int]
    dropped_events: Mapping[str, int]
    pending_peak: int
    #: run epochs injected into, in order, and how many times the adapter reconnected
    epochs: tuple[int, ...]
    recoveries: int


class _Receiver(asyncio.DatagramProtocol):
    """The UDP callback: keeps bytes, bounded, and wakes the flusher."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.pending: list[bytes] = []
        self.arrived = asyncio.Event()
        self.datagrams = 0
        self.overflow = 0
        self.peak = 0

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        self.datagrams += 1
        if len(self.pending) >= self.limit:
            self.overflow += 1
            return
        self.pending.append(data)
        self.peak = max(self.peak, len(self.pending))
        self.arrived.set()

    def take(self) -> list[bytes]:
        batch, self.pending = self.pending, []
        self.arrived.clear()
        return batch


@dataclass(slots=True)
class _Live:
    """The session being followed: where the flusher injects, and why it stopped if it did."""

    client: Client
    epoch: int
    failure: str | None = None


class EventStreamInput:
    """``async with EventStreamInput(endpoint, config) as adapter: ... adapter.address ...``

    Entering binds the UDP socket and starts following the bridge at ``endpoint`` (its discovery
    address); leaving stops both. :meth:`injecting` waits until a run is being injected into.
    """

    def __init__(self, endpoint: str, config: EventStreamConfig,
                 clock: Clock | None = None) -> None:
        """``clock``: what the flush pause and every timeout are measured on."""
        self.endpoint = endpoint
        self.config = config
        self._clock: Clock = clock or MonotonicClock()
        self._receiver = _Receiver(config.max_pending)
        self._transport: asyncio.DatagramTransport | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._live: _Live | None = None
        self._live_changed = asyncio.Event()
        self._recon = Reconnecting(endpoint, name="event stream", log=logger,
                                   timeout_s=config.timeout_s, recovery_s=config.recovery_s,
                                   consequence=": events are dropped until it is back",
                                   clock=self._clock)
        self._events = 0
        self._injected = 0
        self._batches = 0
        self._drops: Counter[str] = Counter()
        self._epochs: list[int] = []
        self._closing = False

    @property
    def address(self) -> tuple[str, int]:
        """The bound UDP address the camera driver sends to."""
        if self._transport is None:
            raise ConfigurationError("the adapter is not open: use 'async with'")
        host, port = self._transport.get_extra_info("sockname")[:2]
        return str(host), int(port)

    @property
    def epoch(self) -> int | None:
        """The run epoch being injected into, or None between runs."""
        return self._live.epoch if self._live else None

    async def __aenter__(self) -> EventStreamInput:
        loop = asyncio.get_running_loop()
        self._transport, _ = await loop.create_datagram_endpoint(
            lambda: self._receiver, local_addr=(self.config.host, self.config.port))
        self._tasks = [asyncio.ensure_future(self._flush_forever()),
                       asyncio.ensure_future(self._follow())]
        logger.info("event stream for %r listening on udp %s:%d, bridge %s", self.config.label,
                    *self.address, self.endpoint)
        return self

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()

    async def close(self) -> None:
        self._closing = True
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._transport is not None:
            self._transport.close()

    async def injecting(self, timeout: float) -> int:
        """Wait until a run is being injected into (the sessions' failures pass through)."""
        return await wait_until(self._until_live(), self._clock,
                                deadline_after(self._clock, timeout))

    async def _until_live(self) -> int:
        while self._live is None:
            follow = self._tasks[1]
            if follow.done():
                follow.result()
            self._live_changed.clear()
            waiter = asyncio.ensure_future(self._live_changed.wait())
            await asyncio.wait({waiter, follow}, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
        return self._live.epoch

    def statistics(self) -> EventStreamStatistics:
        r = self._receiver
        dropped = dict(self._drops)
        dropped["queue_full"] = r.overflow
        return EventStreamStatistics(
            datagrams=r.datagrams, events=self._events, injected=self._injected,
            batches=self._batches,
            dropped_datagrams=MappingProxyType({k: dropped.get(k, 0) for k in DATAGRAM_DROPS}),
            dropped_events=MappingProxyType({k: dropped.get(k, 0) for k in EVENT_DROPS}),
            pending_peak=r.peak, epochs=tuple(self._epochs), recoveries=self._recon.recoveries)

    # -- the bridge side ----------------------------------------------------------------------

    async def _follow(self) -> None:
        await self._recon.run(self._session, done=lambda: self._closing)

    async def _session(self) -> None:
        cfg = self.config
        async with connect(self.endpoint, timeout=cfg.timeout_s, clock=self._clock) as client:
            await client.started(cfg.timeout_s)
            description = await client.describe()
            epoch = int(description["epoch"])
            self._check(description)
            async with BridgeWatch(client, epoch, cfg.timeout_s) as watch:
                live = _Live(client, epoch)
                self._set_live(live)
                self._epochs.append(epoch)
                logger.info("event stream injecting into %r on run epoch %d", cfg.label, epoch)
                try:
                    await watch.until_over(lambda: live.failure)
                finally:
                    self._set_live(None)

    def _set_live(self, live: _Live | None) -> None:
        self._live = live
        self._live_changed.set()

    def _check(self, description: Mapping[str, Any]) -> None:
        inputs = {p["label"]: int(p["size"]) for p in description["populations"]
                  if p["direction"] == "in"}
        size = inputs.get(self.config.label)
        if size is None or size < self.config.camera.n_neurons:
            raise ConfigurationError(
                f"the network behind {self.endpoint} has no SpikeInjector {self.config.label!r} "
                f"of at least {self.config.camera.n_neurons} neurons (injectors: {inputs})")

    # -- the data path --------------------------------------------------------------------------

    async def _flush_forever(self) -> None:
        while True:
            await self._receiver.arrived.wait()
            if self.config.flush_s:
                await sleep_for(self._clock, self.config.flush_s)
            await self._flush(self._receiver.take())

    async def _flush(self, datagrams: list[bytes]) -> None:
        ids = self._ids(datagrams)
        if ids.size == 0:
            return
        live = self._live
        if live is None or live.failure is not None:
            self._drops["no_bridge"] += int(ids.size)
            return
        try:
            await wait_until(live.client.inject(self.config.label, ids), self._clock,
                             deadline_after(self._clock, self.config.send_timeout_s))
        except (TimeoutError, TransportError, zmq.ZMQError) as exc:  # the session ends
            self._drops["no_bridge"] += int(ids.size)
            live.failure = (f"the bridge's input did not take {ids.size} events within "
                            f"{self.config.send_timeout_s:g} s ({type(exc).__name__})")
            return
        self._injected += int(ids.size)
        self._batches += 1

    def _ids(self, datagrams: list[bytes]) -> np.ndarray:
        """Neuron ids of every well-formed datagram's on-sensor events, in arrival order."""
        camera = self.config.camera
        parts: list[np.ndarray] = []
        for data in datagrams:
            try:
                events = decode_datagram_untrusted(data)
            except RemoteProtocolError as exc:
                self._drops["bad_datagram"] += 1
                bad = self._drops["bad_datagram"]
                if bad & (bad - 1) == 0:  # the 1st, 2nd, 4th, 8th, ... one
                    logger.warning("event stream: malformed datagram #%d dropped: %s", bad, exc)
                continue
            ids = camera.ids(events)
            self._events += len(events)
            self._drops["out_of_range"] += len(events) - int(ids.size)
            parts.append(ids)
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
