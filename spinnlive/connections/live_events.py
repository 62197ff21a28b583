"""sPyNNaker's live connections, for programs that do not have sPyNNaker installed.

:class:`SpynnakerLiveSpikesConnection` and :class:`SpynnakerPoissonControlConnection` take the
same constructor arguments and offer the same callbacks and methods as sPyNNaker 7.4.1's, and
speak the same bytes (protocol sheet §3 and §5), so a script can swap the import. They work
against a SpiNNaker board run by sPyNNaker as well as against spinnlive's embedded engine.

Theory of operation
-------------------
* A connection owns one asyncio loop in a daemon thread (:class:`LoopThread`, a compatibility
  shim: the reference API is synchronous and callback driven). On it, a
  :class:`~spinnlive.transport.listener.Listener` waits for the toolchain on
  ``local_host:local_port``; its database hook reads the database (:class:`IODatabase`), opens
  the sender socket and a fresh receive socket, reprograms each live-output IP tag to that socket
  (SCP IP-tag set with use_sender, resent every 2 s until the board's 18-byte reply, under one
  deadline: the bridge's :class:`~spinnlive.transport.iptags.TagPointer`, so a board that does
  not answer is logged and counted, not waited on) and runs the init callbacks; only then does
  the listener confirm the database.
* START runs the start callbacks and refreshes the tags every 10 s until STOP, as the reference.
* Received live output and the tag replies are handled by
  :class:`~spinnlive.connections.receiver.LiveReceiver` (one per run step): ``cb(label, time, [ids])``
  for timestamped packets, ``cb(label, id, payload_or_None)`` for the rest, as the reference.
* Every user callback runs on its label's worker thread (:class:`LabelWorkers`): callbacks of
  one label run in order, one at a time, and never block the loop or other labels.
* Sending (any thread) wraps EIEIO in SDP for ``<board>:17893`` on a plain UDP socket, with the
  reference's packet sizes (127 ids, 63 keys, 31 key+payload pairs) and its 0.1 s pause after
  every 6 packets of one call.

Differences from the reference, all on purpose: waits have deadlines (``tag_timeout``, read
from the injected ``clock``; a silent board does not hang the toolchain); a
failed database read is logged and the next notification is still served; database callbacks
(:meth:`LiveEventConnection.add_database_callback`) receive an :class:`IODatabase`.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

import numpy as np

from spinnlive.clock import Clock, MonotonicClock, PerfCounterClock
from spinnlive.closing import Closing
from spinnlive.connections.receiver import LiveReceiver
from spinnlive.database import DEFAULT_LPG_LABEL, IODatabase
from spinnlive.errors import ConfigurationError, HandshakeTimeout, TransportError
from spinnlive.protocol.commands import NOTIFY_PORT
from spinnlive.protocol.eieio import EIEIOType, encode_events
from spinnlive.protocol.handshake import Paused, Started
from spinnlive.protocol.keys import KeyTable
from spinnlive.protocol.sdp import SCAMP_PORT, injection_datagram
from spinnlive.transport.iptags import OutputTag
from spinnlive.transport.listener import Listener
from spinnlive.transport.loop_thread import CLIENT_PRIORITY, LabelWorkers, LoopThread

__all__ = ["LiveEventConnection", "SpynnakerLiveSpikesConnection",
           "SpynnakerPoissonControlConnection"]

logger = logging.getLogger(__name__)

_PAUSE_EVERY, _PAUSE_S = 6, 0.1
_U1616_MAX = Decimal("65535.9999847")
Callback = Callable[..., Any]


class LiveEventConnection(Closing):
    """Receive and send live events from and to the populations named in a run's database."""

    def __init__(self, live_packet_gather_label: str | None,
                 receive_labels: Iterable[str] | None = None,
                 send_labels: Iterable[str] | None = None, local_host: str | None = None,
                 local_port: int | None = NOTIFY_PORT, *, tag_timeout: float = 30.0,
                 clock: Clock | None = None) -> None:
        if live_packet_gather_label is None and receive_labels is not None:
            raise ConfigurationError("receive labels need a live packet gather label")
        self._lpg_label = live_packet_gather_label
        self._receive_labels: list[str] = []
        self._send_labels: list[str] = []
        self._time_cbs: dict[str, list[tuple[Callback, bool]]] = {}
        self._no_time_cbs: dict[str, list[tuple[Callback, bool]]] = {}
        self._start_cbs: dict[str, list[Callback]] = {}
        self._stop_cbs: dict[str, list[Callback]] = {}
        self._init_cbs: dict[str, list[Callback]] = {}
        self._db_cbs: list[Callback] = []
        for label in receive_labels or ():
            self.add_receive_label(label)
        for label in send_labels or ():
            self.add_send_label(label)
        self._tag_timeout = tag_timeout
        self._clock: Clock = clock or MonotonicClock()
        self._sleep = PerfCounterClock().sleep
        self._send_details: dict[str, tuple[int, int, int, str]] = {}
        self._send_tables: dict[str, KeyTable] = {}
        self._receiver: LiveReceiver | None = None
        self._error_keys: set[int] = set()
        self._sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        # both at CLIENT_PRIORITY: a CPU hog beside the client cannot hold a received spike
        self._workers = LabelWorkers(type(self).__name__, CLIENT_PRIORITY)
        self._loop = LoopThread(f"{type(self).__name__} loop", CLIENT_PRIORITY)
        self._refresh: asyncio.Task[None] | None = None
        self._listener = Listener(local_host or "0.0.0.0", local_port or 0,
                                  on_database=self._on_database)
        try:
            self._loop.run(self._listener.open(), 10.0, "binding the notification socket")
        except BaseException:
            self._loop.close()
            self._sender.close()
            raise
        self._main = self._loop.submit(self._follow())

    # ------------------------------------------------------------------ registration
    def add_send_label(self, label: str) -> None:
        if label not in self._send_labels:
            self._send_labels.append(label)
        self._label_lists(label)

    def add_receive_label(self, label: str) -> None:
        if self._lpg_label is None:
            raise ConfigurationError("no live packet gather label given; no receive labels")
        if label not in self._receive_labels:
            self._receive_labels.append(label)
            self._time_cbs[label], self._no_time_cbs[label] = [], []
        self._label_lists(label)

    def _label_lists(self, label: str) -> None:
        for table in (self._start_cbs, self._stop_cbs, self._init_cbs):
            table.setdefault(label, [])

    def add_init_callback(self, label: str, init_callback: Callback) -> None:
        """``init_callback(label, n_atoms, run_time_ms, machine_timestep_ms)`` per database."""
        self._init_cbs[label].append(init_callback)

    def add_receive_callback(self, label: str, live_event_callback: Callback,
                             translate_key: bool = True) -> None:
        """``cb(label, time, ids)`` for timestamped events (ids are keys if not translated)."""
        self._require_receive(label)
        self._time_cbs[label].append((live_event_callback, translate_key))

    def add_receive_no_time_callback(self, label: str, live_event_callback: Callback,
                                     translate_key: bool = True) -> None:
        """``cb(label, id, payload_or_None)`` per event of packets without timestamps."""
        self._require_receive(label)
        self._no_time_cbs[label].append((live_event_callback, translate_key))

    def _require_receive(self, label: str) -> None:
        if label not in self._receive_labels:
            raise ConfigurationError(f"{label!r} is not a receive label of this connection")

    def add_start_callback(self, label: str, start_callback: Callback) -> None:
        self.add_start_resume_callback(label, start_callback)

    def add_start_resume_callback(self, label: str, start_resume_callback: Callback) -> None:
        """``cb(label, connection)`` when the simulation starts or resumes."""
        self._start_cbs[label].append(start_resume_callback)

    def add_pause_stop_callback(self, label: str, pause_stop_callback: Callback) -> None:
        """``cb(label, connection)`` when the simulation pauses or stops."""
        self._stop_cbs[label].append(pause_stop_callback)

    def add_database_callback(self, database_callback_function: Callback) -> None:
        """``cb(database)`` with the open :class:`IODatabase`, before the read is confirmed."""
        self._db_cbs.append(database_callback_function)

    @property
    def local_ip_address(self) -> str:
        return self._listener.address[0]

    @property
    def local_port(self) -> int:
        return self._listener.address[1]

    # ------------------------------------------------------------------ the run cycle
    async def _follow(self) -> None:
        while True:
            try:
                async for event in self._listener.events():
                    if isinstance(event, Started):
                        self._dispatch_all(self._start_cbs)
                        if self._receiver is not None and self._refresh is None:
                            self._refresh = asyncio.get_running_loop().create_task(
                                self._receiver.refresh_tags())
                    elif isinstance(event, Paused):
                        if self._refresh is not None:
                            self._refresh.cancel()
                            self._refresh = None
                        self._dispatch_all(self._stop_cbs)
                return  # the listener closed
            except Exception:  # the database could not be used; wait for the next one
                logger.exception("live connection %s: database notification failed",
                                 self._listener.name)

    def _dispatch_all(self, table: dict[str, list[Callback]]) -> None:
        for label, callbacks in list(table.items()):
            for callback in list(callbacks):
                self._workers.submit(label, callback, label, self)

    async def _on_database(self, path: str | None) -> None:
        self._close_receiver()
        if path is None:
            logger.warning("Database path was empty - assuming no database")
            return
        sizes: dict[str, int] = {}
        with IODatabase(path) as db:
            for callback in self._db_cbs:
                await asyncio.wrap_future(self._workers.submit("<database>", callback, db))
            cfg = db.configuration()
            run_time = -1.0 if cfg.runtime_ms is None else cfg.runtime_ms
            step_ms = cfg.machine_time_step_us / 1000.0
            for label in list(self._send_labels):
                x, y, p = (int(v) for v in db.placements(label)[0])
                ip = db.ip_address(x, y)
                if ip is None:
                    raise ConfigurationError(f"no Ethernet IP address for chip {x},{y}")
                self._send_details[label] = (x, y, p, ip)
                self._send_tables[label] = table = db.key_table([label])
                sizes[label] = table.n_keys
            if self._receive_labels:
                await self._init_receivers(db, sizes)
        futures = [self._workers.submit(label, cb, label, size, run_time, step_ms)
                   for label, size in sizes.items() for cb in list(self._init_cbs[label])]
        await asyncio.gather(*map(asyncio.wrap_future, futures), return_exceptions=True)

    async def _init_receivers(self, db: IODatabase, sizes: dict[str, int]) -> None:
        assert self._lpg_label is not None
        labels = list(self._receive_labels)
        table = db.key_table(labels)
        routes: dict[tuple[str, int, int], OutputTag] = {}
        for label in labels:
            out = db.live_output(label, self._lpg_label)
            if not out.strip_sdp:
                raise ConfigurationError("only IP tags that strip the SDP header are supported")
            routes.setdefault((out.board_address, out.port, out.tag),
                              OutputTag(board=out.board_address, tag=out.tag, x=out.chip_x,
                                        y=out.chip_y))
            sizes[label] = int(np.count_nonzero(table.dense_keys(label) >= 0))
        self._receiver = LiveReceiver(
            table, list(routes.values()), time_callbacks=self._time_cbs,
            no_time_callbacks=self._no_time_cbs, workers=self._workers,
            error_keys=self._error_keys, clock=self._clock, tag_timeout=self._tag_timeout)
        await self._receiver.program_tags()

    def _close_receiver(self) -> None:
        if self._refresh is not None:
            self._refresh.cancel()
            self._refresh = None
        if self._receiver is not None:
            self._receiver.close()
            self._receiver = None

    # ------------------------------------------------------------------ sending
    def _target(self, label: str) -> tuple[int, int, int, str]:
        details = self._send_details.get(label)
        if details is None:
            raise ConfigurationError(
                f"cannot send to {label!r}: it is not a send label, or no database was read")
        return details

    def _send_packets(self, label: str, packets: list[bytes]) -> None:
        x, y, p, ip = self._target(label)
        for n, packet in enumerate(packets, start=1):
            self._sender.sendto(injection_datagram(x, y, p, packet), (ip, SCAMP_PORT))
            if n % _PAUSE_EVERY == 0 and n < len(packets):
                self._sleep(_PAUSE_S)  # the reference's pacing, so a board's buffers keep up

    def send_event(self, label: str, atom_id: int, send_full_keys: bool = False) -> None:
        self.send_events(label, [atom_id], send_full_keys)

    def send_events(self, label: str, atom_ids: Iterable[int],
                    send_full_keys: bool = False) -> None:
        """Inject spikes: 16-bit atom ids (the core adds its base key), or full 32-bit keys."""
        self._target(label)
        ids = np.fromiter(atom_ids, dtype=np.int64)
        if send_full_keys:
            keys = self._send_tables[label].keys_of(label, ids)
            packets = encode_events(keys, eieio_type=EIEIOType.KEY_32_BIT)
        else:
            packets = encode_events(ids, eieio_type=EIEIOType.KEY_16_BIT)
        self._send_packets(label, packets)

    def send_event_with_payload(self, label: str, atom_id: int, payload: int) -> None:
        self.send_events_with_payloads(label, [(atom_id, payload)])

    def send_events_with_payloads(self, label: str,
                                  atom_ids_and_payloads: Iterable[tuple[int, int]]) -> None:
        """Send (atom, payload) events with the atoms' full keys (KEY_PAYLOAD_32_BIT)."""
        self._target(label)
        pairs = np.array(list(atom_ids_and_payloads), dtype=np.int64).reshape(-1, 2)
        keys = self._send_tables[label].keys_of(label, pairs[:, 0])
        self._send_packets(label, encode_events(keys, pairs[:, 1],
                                                eieio_type=EIEIOType.KEY_PAYLOAD_32_BIT))

    def send_eieio_message(self, message: Any, label: str) -> None:
        """Send one EIEIO packet (bytes, or an object with ``bytestring``) to ``label``."""
        data = message if isinstance(message, (bytes, bytearray)) else message.bytestring
        self._send_packets(label, [bytes(data)])

    # ------------------------------------------------------------------ closing
    def close(self) -> None:
        """Stop listening, close every socket and end the threads."""
        def stop() -> None:
            self._listener.close()
            self._close_receiver()
        try:
            self._loop.call(stop, timeout=5.0)
        except (HandshakeTimeout, TransportError):
            pass
        self._loop.close()
        self._workers.close()
        self._sender.close()



class SpynnakerLiveSpikesConnection(LiveEventConnection):
    """Send spikes to SpikeInjectors and receive the spikes of live-output populations."""

    def __init__(self, receive_labels: Iterable[str] | None = None,
                 send_labels: Iterable[str] | None = None, local_host: str | None = None,
                 local_port: int | None = NOTIFY_PORT,
                 live_packet_gather_label: str = DEFAULT_LPG_LABEL, **kwargs: Any) -> None:
        super().__init__(live_packet_gather_label, receive_labels, send_labels, local_host,
                         local_port, **kwargs)

    def send_spike(self, label: str, neuron_id: int, send_full_keys: bool = False) -> None:
        self.send_events(label, [neuron_id], send_full_keys)

    def send_spikes(self, label: str, neuron_ids: Iterable[int],
                    send_full_keys: bool = False) -> None:
        self.send_events(label, neuron_ids, send_full_keys)


class SpynnakerPoissonControlConnection(LiveEventConnection):
    """Set the rates of Poisson sources that have live rate control (``<label>_control``)."""

    def __init__(self, poisson_labels: Iterable[str] | None = None,
                 local_host: str | None = None, local_port: int | None = NOTIFY_PORT,
                 control_label_extension: str = "_control", **kwargs: Any) -> None:
        self._extension = control_label_extension
        self._to_control: dict[str, str] = {}
        self._to_label: dict[str, str] = {}
        labels = list(poisson_labels or ())
        for label in labels:
            self._remember(label)
        super().__init__(None, None, [self._to_control[x] for x in labels] or None,
                         local_host, local_port, **kwargs)

    def _remember(self, label: str) -> str:
        control = f"{label}{self._extension}"
        self._to_control[label], self._to_label[control] = control, label
        return control

    def add_poisson_label(self, label: str) -> None:
        self.add_send_label(self._remember(label))

    def _control(self, label: str) -> str:
        return self._to_control.get(label, label)

    def _wrap(self, callback: Callback) -> Callback:
        return lambda label, *args: callback(self._to_label.get(label, label), *args)

    def add_start_resume_callback(self, label: str, start_resume_callback: Callback) -> None:
        super().add_start_resume_callback(self._control(label), self._wrap(start_resume_callback))

    def add_pause_stop_callback(self, label: str, pause_stop_callback: Callback) -> None:
        super().add_pause_stop_callback(self._control(label), self._wrap(pause_stop_callback))

    def add_init_callback(self, label: str, init_callback: Callback) -> None:
        super().add_init_callback(self._control(label), self._wrap(init_callback))

    def add_receive_callback(self, label: str, live_event_callback: Callback,
                             translate_key: bool = True) -> None:
        raise ConfigurationError("SpynnakerPoissonControlPopulation can't receive data")

    def add_receive_no_time_callback(self, label: str, live_event_callback: Callback,
                                     translate_key: bool = True) -> None:
        raise ConfigurationError("SpynnakerPoissonControlPopulation can't receive data")

    def set_rate(self, label: str, neuron_id: int, rate: float) -> None:
        self.set_rates(label, [(neuron_id, rate)])

    def set_rates(self, label: str, neuron_id_rates: Iterable[tuple[int, float]]) -> None:
        """Rates in Hz, sent as unsigned 16.16 fixed point (0 to 65535.9999847)."""
        pairs = []
        for neuron_id, rate in neuron_id_rates:
            value = Decimal(str(rate))
            if not 0 <= value <= _U1616_MAX:
                raise ValueError(f"rate {rate} Hz is outside 0 .. {_U1616_MAX} (16.16)")
            pairs.append((neuron_id, int(round(value * 65536))))
        self.send_events_with_payloads(self._control(label), pairs)
