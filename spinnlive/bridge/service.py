"""The bridge: a notification listener that streams a run's live I/O over ZeroMQ.

Theory of operation
-------------------
:class:`Bridge` owns one notification :class:`~spinnlive.transport.Listener` and three ZeroMQ
sockets that live as long as it does (XPUB output, PULL input, REP discovery), plus per-epoch
UDP state that every DATABASE notification rebuilds:

1. DATABASE(path): the epoch number goes up, the previous epoch's sockets close, a
   :class:`~spinnlive.bridge.session.Session` is read from the file, the live-output socket and
   the injection socket open, every LPG IP tag is pointed at the live-output socket
   (:class:`~spinnlive.transport.iptags.TagPointer`, one deadline for all), and only then does the
   listener send ``01 40``. With ``hold_confirmation`` it first waits (bounded) for a client's
   ``ready`` for the epoch (:mod:`spinnlive.bridge.confirmation`). The file is read off the
   event loop, within ``database_deadline_s``.
2. START_RESUME: state ``running``; the IP tags are refreshed every ``tag_refresh_s``, every
   board in parallel. A board that answered and stops answering is *silent*: a ``board-silent``
   lifecycle event names it and its topics, input for it is counted (``board_silent``) instead
   of sent, and every other board's streams go on; ``board-answering`` follows when it is back.
   ``stats`` carries per-board counters (``boards``: packets, events, drops, tags, state, the
   ticks missed while silent).
3. STOP_PAUSE: state ``paused``; open ticks are flushed, the refresh stops. A START may follow
   (resume) or a new DATABASE (next run step, ``reset``, a remap); a virtual board sends neither.

Every state change is published on ``lifecycle`` followed by a ``stats`` message; ``stats`` also
goes out every ``stats_interval_s``. ``paused``, ``closing``, every ``stats`` and every sync
answer carry the output topics' totals, rendered when handed to ZeroMQ, and the discovery reply
carries them too (it is never dropped): a subscriber counts its own HWM losses against them.
Everything runs on one event loop thread: the UDP receive callback, the tick assembler and the
publisher never await anything.

Who may notify, who may stream
------------------------------
The notify port and the live-output port take datagrams from any local process, so:

* a DATABASE that cannot be read (any error, or past ``database_deadline_s``) is *refused* while
  a session with a database is current: it is not confirmed, the working session and the
  handshake's state stay, and the refusal is counted (``udp.notifications_refused``) and logged.
  With no such session it is confirmed with an empty one, as before (the toolchain must not
  hang on the bridge because its first file is broken);
* with ``database_root`` (the toolchain's folder of run databases) a DATABASE naming a file
  outside that folder is refused in every state;
* live output is taken only from the IP addresses of the boards the database names; any other
  source is counted (``udp.foreign_packets``) and never published.

Each long-lived task (toolchain, input, discovery, stats) runs under a supervisor: a failure is
logged, counted in ``udp.task_restarts`` and the task restarted, so no peer can stop one.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import ipaddress
import json
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import numpy.typing as npt
import zmq
import zmq.asyncio

from spinnlive.bridge.config import BridgeConfig, bind_endpoint
from spinnlive.bridge.confirmation import ConfirmationHold
from spinnlive.bridge.injection import plan
from spinnlive.bridge.live_output import TickAssembler
from spinnlive.bridge.publisher import Publisher, make_xpub
from spinnlive.bridge.session import Direction, Session
from spinnlive.bridge.state_proxy import StateProxy
from spinnlive.bridge.stats import (
    BoardStatistics,
    BridgeStatistics,
    StreamCounters,
    UdpStatistics,
)
from spinnlive.clock import Clock, MonotonicClock, deadline_after, sleep_for, wait_until
from spinnlive.drops import warn_at_powers_of_ten
from spinnlive.errors import DatabaseError, NotificationRefused, SpinnliveError
from spinnlive.protocol.handshake import Paused, Started
from spinnlive.protocol.sdp import EVENTS_HEAD, datagram_events
from spinnlive.transport.curve import check_binding, load_server
from spinnlive.transport.iptags import ANSWERING, SILENT, TagPointer
from spinnlive.transport.listener import Listener
from spinnlive.transport.live_socket import Datagram, LiveSocket
from spinnlive.transport.sender import UdpSender
from spinnlive.transport.tick_gate import GATE
from spinnlive.wire.header import HEADER, HEADER_VERSION
from spinnlive.wire.input import NOT_HELD, InputRejected, Ready, decode_input
from spinnlive.wire.topics import LIFECYCLE, READY, SPIKES, STATS, label_topic

__all__ = ["Bridge"]

logger = logging.getLogger(__name__)

#: Input messages rejected before a population is known are counted on this stream.
_INPUT_OTHER = "input"
#: Lifecycle events that carry every output topic's totals (docs/wire-format.md §6, §8).
#: Input for a board that stopped answering is counted under this reason, not sent.
BOARD_SILENT = "board_silent"
#: Input the bridge sent to a board port where nothing listened (a killed engine): counted
#: under this reason, taken back out of ``forwarded_events``, from the ICMP refusals.
REFUSED = "refused"
#: Refusals read per input message (the rest at the next one or at ``statistics()``).
_REFUSALS_PER_MESSAGE = 64
_TOTALS_EVENTS = frozenset({"paused", "closing"})
#: A failed task waits this long before its restart, doubling per failure up to ``_MAX_BACKOFF_S``.
_BACKOFF_S, _MAX_BACKOFF_S = 0.01, 1.0
#: Unreadable databases remembered (by path and file stamp) so a repeat is refused at once.
_UNREADABLE_KEPT = 64


class _Epoch:
    """The UDP side of one run epoch."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.topics = [label_topic(SPIKES, label) for label in session.output_table.labels]
        #: live output is taken from these source addresses only (the database's boards)
        self.live_sources = frozenset(t.board for t in session.tags)
        self.foreign = 0
        self.live: LiveSocket | None = None
        self.assembler: TickAssembler | None = None
        self.tags: TagPointer | None = None
        self.sender: UdpSender | None = None
        self.board_topics = session.board_populations()
        #: (board, x, y, core) -> the input topic whose datagrams go there (to count refusals)
        self.core_topics = {(t.board, t.x, t.y, t.p): d.topic_prefix + t.label
                            for (d, _), t in reversed(session.targets.items())}
        self.injected: dict[str, int] = {}  #: board -> input datagrams sent to it
        #: board -> input events that did not reach it (board silent, or refused)
        self.refused: dict[str, int] = {}
        self.silent_periods: dict[str, int] = {}

    def close(self) -> None:
        if self.assembler is not None:
            self.assembler.close()
        for sock in (self.live, self.sender):
            if sock is not None:
                sock.close()


class Bridge:
    """``async with Bridge(config) as bridge: await bridge.wait_closed()``"""

    def __init__(self, config: BridgeConfig | None = None, *,
                 on_lifecycle: Callable[[Bridge, dict[str, Any]], None] | None = None,
                 clock: Clock | None = None) -> None:
        """``on_lifecycle(bridge, body)`` sees every lifecycle body as it is published (the
        commands print where to connect with it); ``clock`` times every wait of the bridge (the
        IP-tag requests, the live-output tick deadline, the held confirmation, the database read,
        the stats period, a failed task's backoff), so a test runs them in virtual time."""
        self.config = config or BridgeConfig()
        self._clock: Clock = clock or MonotonicClock()
        self._on_lifecycle = on_lifecycle
        self.state = "waiting"
        self.epoch = 0
        self.endpoints: dict[str, str] = {}
        self._ctx: zmq.asyncio.Context | None = None
        self._publisher: Publisher | None = None
        self._current: _Epoch | None = None
        self._listener = Listener(self.config.notify_host, self.config.notify_port,
                                  on_database=self._on_database)
        self._inputs: dict[str, StreamCounters] = {}
        self._tasks: list[asyncio.Task[Any]] = []
        self._refresh: asyncio.Task[None] | None = None
        self._closed = asyncio.Event()
        self._hold = ConfirmationHold(self.config.hold_timeout_s, self._clock)
        self._state: StateProxy | None = None
        self._totals = {"tag_requests": 0, "tag_replies": 0, "tag_timeouts": 0}
        self._refused: collections.Counter[str] = collections.Counter()
        #: path -> (inode, size, mtime) of databases refused as unreadable, re-read only changed
        self._unreadable: dict[str, tuple[int, int, int]] = {}
        self._auth: Any = None  # the ZAP authenticator with CURVE
        self._restarts: collections.Counter[str] = collections.Counter()
        self._foreign = 0  # foreign live-output datagrams of the epochs before this one

    # -- lifetime ---------------------------------------------------------------------------

    async def open(self) -> Bridge:
        cfg = self.config
        check_binding({"publish": cfg.publish, "input": cfg.input, "discovery": cfg.discovery,
                       "state": cfg.state}, curve=cfg.curve is not None, insecure=cfg.insecure)
        keys = load_server(cfg.curve) if cfg.curve is not None else None
        self._ctx = zmq.asyncio.Context()
        if keys is not None:
            self._auth = keys.authenticator(self._ctx)
        xpub = make_xpub(self._ctx, cfg)
        pull = self._ctx.socket(zmq.PULL)
        rep = self._ctx.socket(zmq.ROUTER)  # a REP socket is stuck by one malformed request
        router = self._ctx.socket(zmq.ROUTER)
        try:
            for name, sock, where in (("publish", xpub, cfg.publish), ("input", pull, cfg.input),
                                      ("discovery", rep, cfg.discovery),
                                      ("state", router, cfg.state)):
                sock.setsockopt(zmq.LINGER, 0)
                if keys is not None:
                    keys.apply(sock)
                sock.bind(bind_endpoint(where))
                self.endpoints[name] = sock.getsockopt_string(zmq.LAST_ENDPOINT)
            await self._listener.open()
        except (zmq.ZMQError, SpinnliveError):
            if self._auth is not None:
                self._auth.stop()
            self._ctx.destroy(linger=0)
            raise
        self._publisher = Publisher(xpub, cfg)
        self._publisher.start()
        self._state = StateProxy(router, self._publish_values, clock=self._clock)
        self._tasks = [self._supervised(name, run) for name, run in (
            ("toolchain", self._follow_toolchain), ("input", lambda: self._serve_input(pull)),
            ("discovery", lambda: self._serve_discovery(rep)),
            ("stats", self._publish_stats_forever), ("state", self._state.serve))]
        logger.info("bridge listening for notifications on %s:%d; %s", *self.notify_address,
                    self.endpoints)
        return self

    def _supervised(self, name: str, run: Callable[[], Awaitable[None]]) -> asyncio.Task[None]:
        """``run()`` as a task that is restarted (after a short backoff) whenever it fails."""
        async def supervise() -> None:
            while True:
                try:
                    await run()
                    return
                except asyncio.CancelledError:
                    raise
                except Exception:
                    self._restarts[name] += 1
                    failures = self._restarts[name]
                    logger.exception("bridge task %r failed (%d so far); restarting it", name,
                                     failures)
                    await sleep_for(self._clock,
                                    min(_MAX_BACKOFF_S, _BACKOFF_S * 2 ** min(failures, 7)))
        return asyncio.ensure_future(supervise())

    @property
    def notify_address(self) -> tuple[str, int]:
        """Give this port to the toolchain (``database_notify_port_num``)."""
        return self._listener.address

    @property
    def session(self) -> Session | None:
        """The current epoch's view of the database (None before the first DATABASE)."""
        return self._current.session if self._current else None

    async def wait_closed(self) -> None:
        await self._closed.wait()

    async def close(self) -> None:
        if self._closed.is_set():
            return
        self._set_state("closed", "closing")
        for task in [*self._tasks, self._refresh]:
            if task is not None:
                task.cancel()
        self._listener.close()
        if self._state is not None:
            self._state.close()
        if self._current is not None:
            self._current.close()
        if self._publisher is not None:
            self._publisher.close()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._auth is not None:
            self._auth.stop()
        if self._ctx is not None:
            self._ctx.destroy(linger=0)
        self._closed.set()

    async def __aenter__(self) -> Bridge:
        return await self.open()

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()

    # -- the handshake ----------------------------------------------------------------------

    async def _on_database(self, path: str | None) -> None:
        """Runs before the listener confirms: the whole epoch is ready when it returns.

        Raises :class:`NotificationRefused` for a DATABASE that may not replace the session
        (see "Who may notify" in the module docstring); nothing changes then.
        """
        session = await self._read_session(path)
        if self._current is not None:
            self._foreign += self._current.foreign
            self._count_refusals(self._current)
            self._current.close()
            self._current = None
        self._stop_refresh()
        self.epoch += 1
        if self._publisher is not None:
            self._publisher.epoch = self.epoch
        self._publish_lifecycle("new-epoch", database=path)
        epoch = self._current = _Epoch(session)
        if self._state is not None:  # the embedded engine's state service, beside SCAMP's port
            self._state.new_epoch(tuple((board, self.config.board_port)
                                        for board in session.boards))
        await self._open_udp(epoch)
        confirmed = await epoch.tags.point_all() if epoch.tags else 0
        held = self.config.hold_confirmation
        self._set_state("held" if held else "ready", "database-ready", tags_confirmed=confirmed,
                        tags_unanswered=len(session.tags) - confirmed, awaiting_ready=held)
        if held:  # wire-format.md §4: "held" until a client's ready (or the deadline)
            released = await self._hold.wait(self.epoch)
            self._set_state("ready", "confirmed", released=released)

    async def _read_session(self, path: str | None) -> Session:
        """The session of a DATABASE, read in a worker thread within the deadline."""
        cfg = self.config
        if path is None:
            return Session.empty(self.epoch + 1)
        if cfg.database_root is not None and not Path(path).resolve().is_relative_to(
                Path(cfg.database_root).resolve()):
            self._refuse("outside_root", f"database {path} is outside {cfg.database_root}")
        working = self._current is not None and self._current.session.database is not None
        stamp = _file_stamp(path)
        if working and stamp is not None and self._unreadable.get(path) == stamp:
            # a repeated spoof costs one stat, not a worker thread and an SQLite open each
            self._refuse("unreadable", f"database {path} cannot be used (unchanged since it "
                         "was refused)")
        try:
            return await wait_until(asyncio.to_thread(
                _between_ticks, Session.load, path, self.epoch + 1, lpg_label=cfg.lpg_label,
                inject_labels=cfg.inject_labels, deadline_s=cfg.database_deadline_s,
                clock=self._clock),
                self._clock, deadline_after(self._clock, cfg.database_deadline_s + 1.0))
        except (DatabaseError, TimeoutError) as exc:
            problem = str(exc) or f"not read within {cfg.database_deadline_s:g} s"
        if working:
            if stamp is not None:
                if len(self._unreadable) >= _UNREADABLE_KEPT:
                    self._unreadable.clear()
                self._unreadable[path] = stamp
            self._refuse("unreadable", f"database {path} cannot be used ({problem}); the "
                         f"session of {self._current.session.database} goes on")  # type: ignore[union-attr]
        logger.error("bridge cannot use database %s (%s); confirming with nothing to stream so "
                     "the toolchain goes on", path, problem)
        return Session.empty(self.epoch + 1)

    def _refuse(self, reason: str, message: str) -> None:
        self._refused[reason] += 1
        raise NotificationRefused(reason, message)

    async def _open_udp(self, epoch: _Epoch) -> None:
        cfg, session = self.config, epoch.session
        boards = [t.board for t in session.tags] + [t.board for t in session.targets.values()]
        host = cfg.live_host or ("127.0.0.1" if all(_loopback(b) for b in boards) else "0.0.0.0")
        epoch.sender = UdpSender(host)
        if not session.tags:
            return
        epoch.live = LiveSocket(host, cfg.live_port, lambda batch: self._on_udp(epoch, batch),
                                rcvbuf=cfg.rcvbuf, max_batch=cfg.max_batch)
        epoch.assembler = TickAssembler(session.output_table,
                                        lambda i, tick, ids, flags: self._emit(epoch, i, tick,
                                                                               ids, flags),
                                        cfg.tick_flush_s, clock=self._clock)
        epoch.tags = TagPointer(epoch.live, session.tags, cfg.board_port,
                                resend_s=cfg.tag_resend_s, timeout_s=cfg.tag_timeout_s,
                                refresh_s=cfg.tag_refresh_s,
                                on_board=lambda board, state: self._on_board(epoch, board, state),
                                clock=self._clock)

    def _on_board(self, epoch: _Epoch, board: str, state: str) -> None:
        """A board went silent or came back (the tag refresh says so): report it by name."""
        if epoch is not self._current or epoch.assembler is None:
            return
        host = epoch.assembler.hosts.get(board)
        last = None if host is None else host.last_tick
        topics = epoch.board_topics.get(board, [])
        if state == SILENT:
            epoch.silent_periods[board] = epoch.silent_periods.get(board, 0) + 1
            logger.warning("board %s stopped answering (last tick %s); its topics %s pause, "
                           "the other boards go on", board, last, topics)
        elif state == ANSWERING and epoch.silent_periods.get(board):
            logger.warning("board %s answers again", board)
        else:
            return
        self._publish_lifecycle(f"board-{state}", board=board, topics=topics, last_tick=last)

    async def _follow_toolchain(self) -> None:
        async for event in self._listener.events():
            if isinstance(event, Started):
                self._set_state("running", "started")
                current = self._current
                if current is not None and current.tags is not None and self._refresh is None:
                    self._refresh = asyncio.ensure_future(current.tags.refresh_forever())
            elif isinstance(event, Paused):
                self._stop_refresh()
                if self._current is not None and self._current.assembler is not None:
                    self._current.assembler.flush()
                self._set_state("paused", "paused")

    def _stop_refresh(self) -> None:
        if self._refresh is not None:
            logger.info("IP-tag refresh stopped")
            self._refresh.cancel()
            self._refresh = None

    # -- live output: UDP -> ZeroMQ ---------------------------------------------------------

    def _on_udp(self, epoch: _Epoch, batch: list[Datagram]) -> None:
        tags, assembler = epoch.tags, epoch.assembler
        assert assembler is not None
        boards = epoch.live_sources
        if not all(source[0] in boards for _, source in batch):
            kept = [item for item in batch if item[1][0] in boards]
            epoch.foreign += len(batch) - len(kept)
            batch = kept
        if tags is not None and tags.waiting:
            batch = [item for item in batch if not tags.offer(*item)]
        assembler.feed(batch)

    def _emit(self, epoch: _Epoch, index: int, tick: int, ids: npt.NDArray[np.uint32],
              flags: int) -> None:
        assert self._publisher is not None
        self._publisher.publish(epoch.topics[index], epoch.session.epoch, tick, ids, flags)

    def _publish_values(self, topic: bytes, tick: int, values: npt.NDArray[np.float64]) -> None:
        if self._publisher is not None:
            self._publisher.publish_values(topic, self.epoch, tick, values)

    # -- input: ZeroMQ -> UDP ---------------------------------------------------------------

    async def _serve_input(self, pull: zmq.asyncio.Socket) -> None:
        while True:
            frames = await pull.recv_multipart(copy=False)
            GATE.wait_open()  # a burst is served between ticks of an engine beside us
            try:
                self.handle_input([f.buffer for f in frames])
            except Exception:  # a bug: the message is counted, and the next one is served
                self._input_counters(_INPUT_OTHER).drop("internal_error", 0)
                logger.exception("bridge input: an input message could not be handled")

    def handle_input(self, frames: list[memoryview] | list[bytes]) -> None:
        """Validate, encode and send one input message; a rejection is counted, never raised."""
        counters = self._input_counters(self._input_stream(frames))
        counters.messages += 1
        current = self._current
        try:
            message = decode_input(frames)
            if isinstance(message, Ready):
                if not self._hold.ready(message.epoch):
                    raise InputRejected(NOT_HELD, f"'ready' for epoch {message.epoch}, which "
                                        "is not held")
                return
            accepted = plan(current.session if current else None, message)
        except InputRejected as exc:
            before = counters.dropped[exc.reason]
            counters.drop(exc.reason, exc.events)
            warn_at_powers_of_ten(logger, f"bridge input {counters.topic}", exc.reason, before,
                                  before + 1, exc)
            return
        counters.events += accepted.events
        assert current is not None and current.sender is not None
        host = accepted.target.board
        if current.tags is not None and current.tags.boards.get(host) == SILENT:
            counters.drop(BOARD_SILENT, accepted.events)
            current.refused[host] = current.refused.get(host, 0) + accepted.events
            return
        self._count_refusals(current, _REFUSALS_PER_MESSAGE)
        board = (host, self.config.board_port)
        sent = 0
        for n, piece in enumerate(accepted.pieces()):
            if n:  # a large message steps aside for an engine's ticks between its pieces
                GATE.wait_open()
            for datagram in piece:
                error = current.sender.send(datagram, board)
                if error is None:
                    sent += 1
                    continue
                _, events = datagram_events(datagram)
                counters.drop("would_block" if isinstance(error, BlockingIOError)
                              else "send_error", events)
                counters.forwarded_events -= events
                current.refused[host] = current.refused.get(host, 0) + events
        current.injected[host] = current.injected.get(host, 0) + sent
        counters.packets += sent
        counters.forwarded_events += accepted.events

    def _count_refusals(self, epoch: _Epoch, limit: int | None = None) -> None:
        """Count each input datagram the board's port refused (nothing listened: a killed
        engine) on the stream that sent it: ``refused``, no longer ``forwarded_events``."""
        sender = epoch.sender
        if sender is None:
            return
        for head, (host, _) in sender.refusals(limit, EVENTS_HEAD):
            try:
                sdp, events = datagram_events(head)
            except SpinnliveError:  # not ours: we send only SDP-wrapped EIEIO
                sdp, events = None, 0
            topic = (epoch.core_topics.get((host, sdp.dest_x, sdp.dest_y, sdp.dest_cpu))
                     if sdp is not None else None)
            counters = self._input_counters(topic or _INPUT_OTHER)
            before = counters.dropped[REFUSED]
            counters.drop(REFUSED, events)
            counters.forwarded_events -= events
            epoch.refused[host] = epoch.refused.get(host, 0) + events
            warn_at_powers_of_ten(logger, f"bridge input {counters.topic}", REFUSED, before,
                                  before + 1, f"{host}: nothing listens at the board port "
                                  "(ICMP port unreachable)")

    def _input_stream(self, frames: list[memoryview] | list[bytes]) -> str:
        """The input stream a message is counted on: its topic when that names a population
        (or is ``ready``), else ``input``."""
        topic = bytes(frames[0]) if frames else b""
        if topic == READY:
            return READY.decode()
        current = self._current
        name = topic.decode("utf-8", "replace")
        known = current is not None and any(  # an output topic is not an input stream
            p.topic == name and p.direction is not Direction.OUT
            for p in current.session.populations)
        return name if known else _INPUT_OTHER

    def _input_counters(self, topic: str) -> StreamCounters:
        counters = self._inputs.get(topic)
        if counters is None:
            counters = self._inputs[topic] = StreamCounters(topic)
        return counters

    # -- discovery, lifecycle, stats --------------------------------------------------------

    async def _serve_discovery(self, router: zmq.asyncio.Socket) -> None:
        """REQ semantics on a ROUTER: [peer, envelope..., b"", request] -> same envelope and
        the description; a request without the empty delimiter is counted and dropped."""
        while True:
            frames = await router.recv_multipart()
            GATE.wait_open()
            if b"" not in frames[1:]:
                counters = self._input_counters("discovery")
                before = counters.dropped["no_delimiter"]
                counters.drop("no_delimiter", 0)
                warn_at_powers_of_ten(logger, "bridge discovery", "no_delimiter", before,
                                      before + 1, "a request without the REQ envelope")
                continue
            envelope = frames[:frames.index(b"", 1) + 1]
            with contextlib.suppress(zmq.Again):  # a peer that is gone or not reading
                await router.send_multipart([*envelope, json.dumps(self.describe()).encode()],
                                            flags=zmq.NOBLOCK)

    def describe(self) -> dict[str, Any]:
        """The discovery reply (docs/wire-format.md §5)."""
        session = self._current.session if self._current else Session.empty(self.epoch)
        return {
            "service": "spinnlive-bridge", "version": 1, "state": self.state,
            "bridge": self._publisher.bridge if self._publisher else 0,
            **session.describe(), "epoch": self.epoch,
            "endpoints": dict(self.endpoints),
            "notify": list(self.notify_address),
            "topics": {"lifecycle": "lifecycle", "stats": "stats", "sync": "sync/<token>"},
            "header": {"struct": HEADER.format, "size": HEADER.size, "version": HEADER_VERSION},
            "policy": {"overflow": self.config.overflow.value,
                       "topic_queue": self.config.topic_queue, "sndhwm": self.config.sndhwm,
                       "lossless": self.config.lossless,
                       "tick_flush_ms": self.config.tick_flush_s * 1000.0},
            "streams": self._publisher.totals() if self._publisher else {},
            "state_plane": self._state.describe() if self._state else {"available": False},
            "awaiting_ready": self._hold.holding == self.epoch and self.epoch > 0,
            "hold": {"enabled": self.config.hold_confirmation, "released": self._hold.released,
                     "timeouts": self._hold.timeouts, "ignored": self._hold.ignored},
        }

    def statistics(self) -> BridgeStatistics:
        current = self._current
        live = current.live if current else None
        asm = current.assembler if current else None
        tags = current.tags if current else None
        sender = current.sender if current else None
        if current is not None:
            self._count_refusals(current)
        udp = UdpStatistics(
            local=live.local_address if live else None,
            received=live.received if live else 0,
            bad_packets=asm.bad_packets if asm else 0,
            unknown_keys=asm.unknown_keys if asm else 0,
            late_ticks=asm.late_ticks if asm else 0,
            ticks_by_deadline=asm.by_deadline if asm else 0,
            kernel_drops=live.kernel_drops() if live else 0,
            tag_requests=tags.requests if tags else 0,
            tag_replies=tags.replies if tags else 0,
            tag_timeouts=tags.timeouts if tags else 0,
            injected_packets=sender.sent if sender else 0,
            foreign_packets=self._foreign + (current.foreign if current else 0),
            notifications_refused=dict(self._refused), task_restarts=dict(self._restarts))
        streams = dict(self._publisher.statistics()) if self._publisher else {}
        streams.update((name, c.snapshot()) for name, c in self._inputs.items())
        boards = _board_statistics(current) if current else {}
        return BridgeStatistics(self.epoch, self.state, udp, streams, boards)

    def _set_state(self, state: str, event: str, **extra: Any) -> None:
        self.state = state
        self._publish_lifecycle(event, **extra)

    def _publish_lifecycle(self, event: str, **extra: Any) -> None:
        """One lifecycle message, then one stats message (wire-format.md §6-7)."""
        if self._publisher is not None:
            body = {"event": event, "epoch": self.epoch, "state": self.state, **extra}
            if event == "database-ready" and self._current is not None:
                body.update(self._current.session.describe())
            if self._on_lifecycle is not None:
                self._on_lifecycle(self, body)
            publisher = self._publisher
            if event in _TOTALS_EVENTS:
                publisher.publish_json(LIFECYCLE, self.epoch,
                                       lambda: {**body, "streams": publisher.totals()})
            else:
                publisher.publish_json(LIFECYCLE, self.epoch, body)
            self._publish_stats()

    def _publish_stats(self) -> None:
        if self._publisher is not None:
            self._publisher.publish_json(STATS, self.epoch,
                                         lambda: self.statistics().to_json())

    async def _publish_stats_forever(self) -> None:
        while True:
            await sleep_for(self._clock, self.config.stats_interval_s)
            self._publish_stats()


def _between_ticks(fn: Callable[..., Session], *args: Any, **kwargs: Any) -> Session:
    """``fn`` in a worker thread, started while no real-time tick of the process needs the
    interpreter (the worker is not an event loop the tick gate would hold back)."""
    GATE.wait_open()
    return fn(*args, **kwargs)


def _board_statistics(epoch: _Epoch) -> dict[str, BoardStatistics]:
    """Every board the epoch knows (the machine's, then any a tag or target names)."""
    hosts = epoch.assembler.hosts if epoch.assembler else {}
    tags = epoch.tags
    ticks = {h: c.last_tick for h, c in hosts.items() if c.last_tick is not None}
    boards: dict[str, BoardStatistics] = {}
    for board, topics in epoch.board_topics.items():
        host = hosts.get(board)
        state = tags.boards.get(board, "untracked") if tags else "untracked"
        last = None if host is None else host.last_tick
        others = [t for h, t in ticks.items() if h != board]
        missed = (max(others) - (last if last is not None else max(others))
                  if state == SILENT and others else 0)
        boards[board] = BoardStatistics(
            address=board, state=state, topics=tuple(topics),
            packets=host.packets if host else 0, events=host.events if host else 0,
            bad_packets=host.bad_packets if host else 0,
            unknown_keys=host.unknown_keys if host else 0, last_tick=last,
            tags={str(tag): ok for (b, tag), ok in tags.pointed.items() if b == board}
            if tags else {},
            injected_packets=epoch.injected.get(board, 0),
            dropped_input_events=epoch.refused.get(board, 0), missed_ticks=max(0, missed),
            silent_periods=epoch.silent_periods.get(board, 0))
    return boards


def _file_stamp(path: str) -> tuple[int, int, int] | None:
    """What tells a changed file from the one refused before; None where it cannot be read."""
    try:
        st = Path(path).stat()
    except (OSError, ValueError):
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def _loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return address == "localhost"
