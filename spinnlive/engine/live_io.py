"""The engine's live I/O: board endpoint, live output, I/O database and notification handshake.

Theory of operation
-------------------
The engine plays the board and the toolchain at once, so a live client (sPyNNaker's own
``SpynnakerLiveSpikesConnection`` included) sees what it would see on hardware:

1. :meth:`LiveIO.open_boards` binds one board endpoint per board of the machine, each on its
   own loopback address at port 17893 (:class:`~spinnlive.engine.board.BoardEndpoint`); those
   addresses are the Ethernet chips' IPs in the mapping and the database. The live state
   plane's service listens beside the first one, on TCP at the same address and port
   (:mod:`~spinnlive.engine.state_service`).
2. :meth:`LiveIO.load` takes a mapping: writes the I/O database into the run folder, gives each
   board the injection targets on its chips and its IP tags, and builds the live packet
   gatherers (:class:`~spinnlive.engine.live_output.LiveOutput`) that read those tags.
3. Every run step is bracketed by :meth:`begin_step` (DATABASE(path) to every listener, wait
   for the confirmations under one deadline, then START_RESUME) and :meth:`end_step`
   (STOP_PAUSE), as the hardware path of sPyNNaker does (protocol sheet §3.2, quirk 7.1).
4. In the tick thread, :meth:`drain` hands over what was injected before the tick began and
   :meth:`emit` sends the tick's spikes; neither waits on anything.

Threads: all asyncio objects (board, notifier, their sockets) live on ONE event loop in a
daemon thread owned by this object (:class:`~spinnlive.transport.loop_thread.LoopThread`), because
PyNN's ``run()`` is synchronous and must not hold an event loop of its own. The PyNN thread
submits coroutines with deadlines; the tick thread touches only the board's bounded queue and
the live output's non-blocking socket.

Rules
-----
* Listeners are a deduplicated, ordered set of :class:`~spinnlive.transport.ListenerAddress`.
  A refused port is skipped with a WARNING (the notifier's policy). A listener that stays silent
  for ``confirmation_timeout`` seconds fails the run step with
  :class:`~spinnlive.errors.HandshakeTimeout` when ``wait_on_confirmation`` (sPyNNaker's
  hardware behaviour and its default), else it is logged and the run goes on. Nothing here can
  hang ``end()``: :meth:`close` only closes sockets and joins the loop thread with a deadline.
* The database is written only when the network has live I/O (an injector, a rate control or a
  live output), as sPyNNaker does; otherwise listeners get DATABASE with no path. It is deleted
  at :meth:`close` unless ``keep_database`` (see :mod:`spinnlive.engine.run_folder`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import numpy as np

from spinnlive.database.writer import write_database
from spinnlive.engine.board import SCAMP_PORT, BoardEndpoint
from spinnlive.engine.injection import EMPTY_INJECTIONS, TickInjections
from spinnlive.engine.live_output import LiveOutput
from spinnlive.engine.mapping import Mapping as EngineMapping
from spinnlive.engine.run_folder import RunFolders
from spinnlive.engine.run_report import LiveIOSummary
from spinnlive.engine.state_plane import Catalogue
from spinnlive.engine.state_service import StateService
from spinnlive.errors import TransportError
from spinnlive.transport.loop_thread import LoopThread
from spinnlive.transport.notifier import ListenerAddress, Notifier

__all__ = ["LiveIO"]

logger = logging.getLogger(__name__)

_SETUP_TIMEOUT_S = 10.0  # opening or closing a socket on the loop thread


class LiveIO:
    """One engine's live-I/O side; see the module docstring."""

    def __init__(self, *, folders: RunFolders, wait_on_confirmation: bool = True,
                 confirmation_timeout: float = 10.0, keep_database: bool = False,
                 board_host: str | None = None, board_port: int = SCAMP_PORT) -> None:
        self._folders = folders
        self.wait_on_confirmation = wait_on_confirmation
        self.confirmation_timeout = float(confirmation_timeout)
        self.keep_database = keep_database
        self._board_host, self._board_port = board_host, board_port
        self._loop = LoopThread("spinnlive-live-io")
        self.boards: list[BoardEndpoint] = []
        self.state: StateService | None = None  #: TCP beside the first board's UDP port
        self.live_output: LiveOutput | None = None
        self.database: Path | None = None
        self._notifier: Notifier | None = None
        self._listeners: tuple[ListenerAddress, ...] = ()
        self._closed = False

    # ------------------------------------------------------------------ set-up (PyNN thread)
    @property
    def board(self) -> BoardEndpoint | None:
        """The first board (the only one of a one-board machine)."""
        return self.boards[0] if self.boards else None

    def open_boards(self, n_boards: int, tick_source: Callable[[], int]) -> list[str]:
        """Bind board endpoints until there are ``n_boards`` (a remap may need more; extra ones
        stay open, unused); returns the first ``n_boards`` IPs, the mapping's board addresses.

        A given ``board_host`` is the first board's; the others take free loopback addresses."""
        while len(self.boards) < n_boards:
            host = self._board_host if not self.boards else None
            self.boards.append(self._loop.run(
                BoardEndpoint.open(host, self._board_port, tick_source=tick_source),
                _SETUP_TIMEOUT_S, f"opening board endpoint {len(self.boards)}"))
            if len(self.boards) == 1:
                self._open_state_service(tick_source)
        return [board.address[0] for board in self.boards[:n_boards]]

    def _open_state_service(self, tick_source: Callable[[], int]) -> None:
        """The live state plane's TCP endpoint beside the first board's UDP port."""
        host, port = self.boards[0].address
        try:
            self.state = self._loop.run(StateService.open(host, port, tick_source),
                                        _SETUP_TIMEOUT_S, "opening the state service")
        except TransportError as error:  # live I/O goes on; the bridge will say why
            logger.warning("no live state plane for this run: %s", error)

    def set_catalogue(self, catalogue: Catalogue) -> None:
        """What the state service may read and write from this run step on."""
        if self.state is not None:
            self.state.catalogue = catalogue

    def load(self, mapping: EngineMapping, run_number: int,
             controls: Mapping[str, str] | None = None) -> Path:
        """Write ``mapping``'s database and load it into the boards and live output."""
        if len(self.boards) < mapping.n_boards:
            raise RuntimeError("open_boards() before load()")
        path = self._folders.database_path(run_number)
        old = self.database
        self.database = write_database(mapping.to_database_records(), path)
        if old is not None and old != self.database and not self.keep_database:
            self._folders.discard(old)
        boards = self.boards[:mapping.n_boards]

        def load_boards() -> None:
            for index, board in enumerate(boards):
                board.load(mapping, controls, index)

        self._loop.call(load_boards, _SETUP_TIMEOUT_S)
        if self.live_output is not None:
            self.live_output.close()
        self.live_output = (LiveOutput(mapping, [b.tags for b in boards]) if mapping.lpgs
                            else None)
        logger.info("I/O database written to %s; board%s %s", self.database,
                    "s" if len(boards) > 1 else "", ", ".join(b.name for b in boards))
        return self.database

    # ------------------------------------------------------------------ run steps (PyNN thread)
    def begin_step(self, listeners: Iterable[ListenerAddress]) -> None:
        """DATABASE to every listener, wait for their confirmations, then START_RESUME."""
        notifier = self._notifier_for(tuple(listeners))
        if notifier is None:
            return
        path = None if self.database is None else str(self.database)
        logger.info("** Notifying external sources that the database is ready for reading **")
        self._loop.run(notifier.notify_database(path), self.confirmation_timeout + 5.0,
                       "the database notification")
        for board in self.boards:  # what listeners injected before confirming is queued now
            self._loop.run(board.settle(), _SETUP_TIMEOUT_S, f"settling board {board.name}")
        logger.info("** Sending start / resume message to external sources **")
        self._loop.run(notifier.start(), _SETUP_TIMEOUT_S, "START_RESUME")

    def end_step(self) -> None:
        """STOP_PAUSE to every listener that was started."""
        if self.live_output is not None:  # the ticks have stopped: the last refusals now
            self.live_output.collect_refusals()
        notifier = self._notifier
        if notifier is not None and not self._closed:
            logger.info("** Sending pause / stop message to external sources **")
            self._loop.run(notifier.stop(), _SETUP_TIMEOUT_S, "STOP_PAUSE")

    def _notifier_for(self, listeners: tuple[ListenerAddress, ...]) -> Notifier | None:
        listeners = tuple(dict.fromkeys(listeners))
        if listeners != self._listeners or self._notifier is None:
            if self._notifier is not None:
                old = self._notifier
                self._loop.call(old.close, _SETUP_TIMEOUT_S)
            self._notifier = Notifier(
                listeners, timeout=self.confirmation_timeout,
                wait_for_confirmation=self.wait_on_confirmation) if listeners else None
            self._listeners = listeners
        return self._notifier

    # ------------------------------------------------------------------ tick thread
    def drain(self, tick: int | None = None) -> TickInjections:
        """What was injected untimed before ``tick`` began, or stamped ``tick``, on every board
        (never blocks). An injector sits on one board, so the boards' labels never meet."""
        boards = self.boards
        if len(boards) == 1:
            return boards[0].drain(tick)
        merged = EMPTY_INJECTIONS
        for board in boards:
            part = board.drain(tick)
            if part.empty:
                continue
            merged = part if merged.empty else TickInjections(
                {**merged.spikes, **part.spikes}, {**merged.rates, **part.rates})
        return merged

    def apply_state(self, tick: int) -> None:
        """The state plane's jobs due before ``tick`` is computed (never blocks)."""
        if self.state is not None:
            self.state.apply(tick)

    def emit(self, tick: int, spikes: Mapping[str, np.ndarray]) -> None:
        """Send ``tick``'s spikes through the live packet gatherers (never blocks)."""
        if self.live_output is not None:
            self.live_output.emit(tick, spikes)

    # ------------------------------------------------------------------ reporting, closing
    def summary(self) -> LiveIOSummary:
        notifier, board, output = self._notifier, self.board, self.live_output
        boards = () if self._closed else tuple(b.statistics() for b in self.boards)
        return LiveIOSummary(
            board_address=None if board is None else board.address,
            database=None if self.database is None else str(self.database),
            listeners=() if notifier is None else notifier.statistics(),
            board=boards[0] if boards else None,
            live_output=None if output is None else output.statistics(),
            boards=boards)

    def close(self) -> None:
        """Close every socket, stop the loop thread, delete the database unless kept."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._notifier is not None:
                self._loop.call(self._notifier.close, _SETUP_TIMEOUT_S)
            if self.state is not None:
                self._loop.run(self.state.aclose(), _SETUP_TIMEOUT_S, "closing the state service")
            for board in self.boards:
                self._loop.run(board.aclose(), _SETUP_TIMEOUT_S, f"closing board {board.name}")
        finally:
            if self.live_output is not None:
                self.live_output.close()
            self._loop.close()
            if self.database is not None and not self.keep_database:
                self._folders.discard(self.database)
                self.database = None
