"""The database-notification handshake as a sans-IO state machine, for both roles.

Theory of operation
-------------------
The toolchain (role NOTIFIER) tells each external application (role LISTENER) where the
input/output database is, waits for the bare ``01 40`` that says "read", and then brackets the run
with START_RESUME (``0b 40``) and STOP_PAUSE (``0a 40``); every run step repeats this
(docs/spinnaker-side.md §2, docs/handshake.md). One :class:`NotifierConnection` or
:class:`ListenerConnection` models one side of one notifier-listener pair. It is fed whole
datagrams with :meth:`receive_datagram` and asked for the bytes of what it wants to say with
:meth:`send`; it never touches a socket, a clock or a logger (code-models items 1 and 2), so the
transports in ``spinnlive.transport`` and the tests drive the very same object.

Rules of the table (``TRANSITIONS``)
------------------------------------
1. ``TRANSITIONS[(role, state)][type(event)]`` is the state after ``event`` is sent *or* received
   by ``role`` in ``state``. A pair that is not in the table is illegal: sending it raises
   :class:`LocalProtocolError`, receiving it raises :class:`RemoteProtocolError`; both name the
   role, the state and the event, and neither changes the state (a stray datagram is dropped by
   the transport, never fatal).
2. Each event has exactly one sender role (``SENDER``): the notifier sends DatabaseReady, Started
   and Paused; the listener sends DatabaseConfirmed. Sending the peer's event is a local error.
3. The notifier is strict in what it sends: DATABASE only when no run is in progress, START after
   DATABASE (confirmed or not: the reference starts the run whether or not a listener answered,
   and a refused or silent listener is the transport's policy), STOP only after START, no resume
   without a new DATABASE (the reference listener would read a bare START as the next DATABASE).
4. The listener is liberal in what it accepts: a new DATABASE in any state (a new run step, a
   remap, a retry after the application failed to read the last one, or a virtual board that
   never sends START/STOP, quirk 7.1), and a START after STOP (a resume).
5. Decoding is per role, mirroring the reference's tolerance: a notifier waiting for a
   confirmation takes *any* datagram that is EIEIO (a command of any id, or a data-packet header)
   as DatabaseConfirmed, because the reference never checks the reply's content (quirk 7.3). A
   listener decodes commands with :func:`spinnlive.protocol.commands.decode_command` and accepts
   only DATABASE (with or without a path), START_RESUME and STOP_PAUSE.

``python -m spinnlive.protocol.handshake > docs/handshake.md`` renders this table as mermaid diagrams; a
test keeps the committed file equal to :func:`render_markdown`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import ClassVar, Union

from spinnlive.errors import LocalProtocolError, RemoteProtocolError
from spinnlive.protocol.commands import (
    Database,
    StartResumeNotification,
    StopPauseNotification,
    decode_command,
    encode_command,
    is_command_packet,
)

__all__ = [
    "SENDER",
    "TRANSITIONS",
    "DatabaseConfirmed",
    "DatabaseReady",
    "Event",
    "ListenerConnection",
    "NotifierConnection",
    "Paused",
    "Role",
    "Started",
    "State",
    "encode_event",
    "render_markdown",
]

#: ``MAX_DATABASE_PATH_LENGTH`` of spinn_front_end_common/utilities/constants.py (characters).
MAX_DATABASE_PATH_LENGTH = 50000


class Role(enum.Enum):
    """Which side of the handshake a connection plays."""

    #: The toolchain (or spinnlive's engine acting as the board): announces the DB, starts, stops.
    NOTIFIER = "notifier"
    #: The external application: reads the DB, confirms, follows START/STOP.
    LISTENER = "listener"


class State(enum.Enum):
    """Where one side of one notifier-listener pair stands in the current run step."""

    #: Nothing said yet.
    IDLE = "idle"
    #: Notifier only: DATABASE sent, no confirmation yet.
    DB_SENT = "db_sent"
    #: Listener only: DATABASE received, the application is reading it (no reply yet).
    DB_RECEIVED = "db_received"
    #: The confirmation has been received (notifier) or sent (listener).
    DB_CONFIRMED = "db_confirmed"
    #: START_RESUME sent or received.
    RUNNING = "running"
    #: STOP_PAUSE sent or received.
    PAUSED = "paused"


# ---- events ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class DatabaseReady:
    """DATABASE from the toolchain: the database is at ``path`` (``None``: no database made)."""

    path: str | None = None
    #: Parser-built events skip re-validation (h11's ``_parsed``): the bytes already fitted.
    _parsed: bool = field(default=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self._parsed:
            return
        if self.path is not None and not isinstance(self.path, str):
            raise LocalProtocolError(f"database path must be a str or None, not {self.path!r}")
        if self.path == "":
            raise LocalProtocolError("an empty database path is written path=None")
        if self.path is not None and len(self.path) > MAX_DATABASE_PATH_LENGTH:
            raise LocalProtocolError(
                f"database path of {len(self.path)} characters is longer than the reference "
                f"toolchain's limit of {MAX_DATABASE_PATH_LENGTH}"
            )


@dataclass(frozen=True, slots=True, kw_only=True)
class DatabaseConfirmed:
    """The listener's "database read, go ahead" (the bare ``01 40``)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Started:
    """START_RESUME_NOTIFICATION: the simulation started or resumed."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Paused:
    """STOP_PAUSE_NOTIFICATION: the simulation paused or stopped."""


Event = Union[DatabaseReady, DatabaseConfirmed, Started, Paused]
EVENT_TYPES: tuple[type[Event], ...] = (DatabaseReady, DatabaseConfirmed, Started, Paused)

#: Rule 2: the one role that may send each event.
SENDER: dict[type[Event], Role] = {
    DatabaseReady: Role.NOTIFIER,
    DatabaseConfirmed: Role.LISTENER,
    Started: Role.NOTIFIER,
    Paused: Role.NOTIFIER,
}

# ---- the table (rules 1, 3 and 4 in the module docstring) -----------------------------------

N, L = Role.NOTIFIER, Role.LISTENER
TRANSITIONS: dict[tuple[Role, State], dict[type[Event], State]] = {
    # -- notifier: strict in what it sends (rule 3) --
    (N, State.IDLE): {DatabaseReady: State.DB_SENT},
    (N, State.DB_SENT): {
        # any EIEIO reply from the listener's exact address (rule 5)
        DatabaseConfirmed: State.DB_CONFIRMED,
        # unconfirmed (refused, silent, or not waited for): the reference starts anyway
        Started: State.RUNNING,
        # the unconfirmed step is abandoned for a new one
        DatabaseReady: State.DB_SENT,
    },
    # a step may end without START/STOP: a virtual board never sends them (quirk 7.1)
    (N, State.DB_CONFIRMED): {Started: State.RUNNING, DatabaseReady: State.DB_SENT},
    # a running simulation must be stopped before the next DATABASE
    (N, State.RUNNING): {Paused: State.PAUSED},
    # no bare resume: a reference listener would read START as the next DATABASE
    (N, State.PAUSED): {DatabaseReady: State.DB_SENT},
    # -- listener: liberal in what it accepts (rule 4); DATABASE is legal everywhere --
    (L, State.IDLE): {DatabaseReady: State.DB_RECEIVED},
    (L, State.DB_RECEIVED): {
        # sent by the transport only once the application has read the database
        DatabaseConfirmed: State.DB_CONFIRMED,
        # the read failed or was overtaken: read the new one
        DatabaseReady: State.DB_RECEIVED,
    },
    (L, State.DB_CONFIRMED): {Started: State.RUNNING, DatabaseReady: State.DB_RECEIVED},
    # a DATABASE mid-run is a remap or a new toolchain process: start over with it
    (L, State.RUNNING): {Paused: State.PAUSED, DatabaseReady: State.DB_RECEIVED},
    # START after STOP is a resume; the reference toolchain never sends one, others may
    (L, State.PAUSED): {Started: State.RUNNING, DatabaseReady: State.DB_RECEIVED},
}
del N, L


# ---- connections ----------------------------------------------------------------------------


class _Connection:
    """One side of one notifier-listener pair; subclasses only say how datagrams decode."""

    role: ClassVar[Role]

    def __init__(self) -> None:
        self.state = State.IDLE
        #: How many DATABASE notifications this side has sent or received (run steps seen).
        self.steps = 0

    def send(self, event: Event) -> bytes:
        """Apply ``event`` as sent by this side and return the datagram that carries it."""
        sender = SENDER.get(type(event))
        if sender is None:
            raise LocalProtocolError(f"{event!r} is not a handshake event")
        if sender is not self.role:
            raise LocalProtocolError(
                f"{self.role.value} cannot send {type(event).__name__}: only the "
                f"{sender.value} sends it"
            )
        self._advance(event, LocalProtocolError)
        return encode_event(event)

    def receive_datagram(self, data: bytes) -> list[Event]:
        """The events one datagram from the peer carries (one at most), after applying them."""
        event = self._decode(bytes(data))
        self._advance(event, RemoteProtocolError)
        return [event]

    def _decode(self, data: bytes) -> Event:
        """The one event ``data`` means to this role (rule 5); RemoteProtocolError if none."""
        raise NotImplementedError

    def _advance(self, event: Event, error: type[LocalProtocolError | RemoteProtocolError]) -> None:
        """Move along the table, or raise ``error`` and stay put (rule 1).

        Staying put, instead of h11's ERROR state, is what lets a transport drop one stray
        datagram and carry on: UDP peers retry, restart and overlap run steps.
        """
        allowed = TRANSITIONS.get((self.role, self.state), {})
        try:
            new_state = allowed[type(event)]
        except KeyError:
            verb = "send" if error is LocalProtocolError else "receive"
            raise error(
                f"{self.role.value} in state {self.state.name} cannot {verb} "
                f"{type(event).__name__}; allowed here: "
                f"{', '.join(t.__name__ for t in allowed) or 'nothing'}"
            ) from None
        if isinstance(event, DatabaseReady):
            self.steps += 1  # every DATABASE opens a run step, confirmed or not
        self.state = new_state

    def __repr__(self) -> str:
        return f"<{type(self).__name__} state={self.state.name} steps={self.steps}>"


class NotifierConnection(_Connection):
    """The toolchain's view of one listener."""

    role = Role.NOTIFIER

    def _decode(self, data: bytes) -> Event:
        # Rule 5: any EIEIO datagram is a confirmation, as in the reference. Only the 2-byte
        # header is required; a command must still decode (its id must exist), a data packet's
        # content is not looked at (the reference does not use it either).
        if len(data) < 2:
            raise RemoteProtocolError(
                f"confirmation of {len(data)} byte(s) is not EIEIO: the header needs 2",
                field="header", offset=0,
            )
        if is_command_packet(data):
            decode_command(data)
        return DatabaseConfirmed()


class ListenerConnection(_Connection):
    """The external application's view of the toolchain."""

    role = Role.LISTENER

    def _decode(self, data: bytes) -> Event:
        # Unlike the reference listener, which takes *whatever* comes first as the DATABASE and
        # dies on anything but START/STOP afterwards, the command id is checked here, and the
        # transport drops what does not fit instead of dying.
        command = decode_command(data)
        if isinstance(command, Database):
            # the path came off the wire already checked for UTF-8; no re-validation (rule 5)
            return DatabaseReady(path=command.path, _parsed=True)
        if isinstance(command, StartResumeNotification):
            return Started()
        if isinstance(command, StopPauseNotification):
            return Paused()
        raise RemoteProtocolError(
            f"{command.command_id.name} does not belong on the notification channel",
            field="command_id", offset=0,
        )


def encode_event(event: Event) -> bytes:
    """The datagram for ``event``, whichever side sends it (the one mapping from handshake
    events to commands); the byte layouts live in :mod:`spinnlive.protocol.commands`."""
    if isinstance(event, DatabaseReady):
        return encode_command(Database(path=event.path))
    if isinstance(event, DatabaseConfirmed):
        return encode_command(Database(path=None))
    if isinstance(event, Started):
        return encode_command(StartResumeNotification())
    return encode_command(StopPauseNotification())


# ---- the diagram ----------------------------------------------------------------------------


def render_markdown() -> str:
    """docs/handshake.md: one mermaid state diagram per role, generated from ``TRANSITIONS``."""
    out = [
        "# The database-notification handshake",
        "",
        "Generated from `TRANSITIONS` in `spinnlive/protocol/handshake.py` by",
        "`python -m spinnlive.protocol.handshake > docs/handshake.md`; do not edit by hand.",
        "Arrows marked `send` are events this role sends, `recv` those it receives.",
        "",
    ]
    for role in Role:
        out += [f"## {role.value}", "", "```mermaid", "stateDiagram-v2"]
        out.append(f"    [*] --> {State.IDLE.name}")
        for (r, state), moves in TRANSITIONS.items():
            if r is not role:
                continue
            for event_type, target in moves.items():
                verb = "send" if SENDER[event_type] is role else "recv"
                out.append(f"    {state.name} --> {target.name}: {verb} {event_type.__name__}")
        out += ["```", ""]
    return "\n".join(out)


if __name__ == "__main__":
    print(render_markdown(), end="")
