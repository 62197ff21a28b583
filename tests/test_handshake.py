"""The sans-IO handshake: the table, the events, both roles wired back to back."""

from __future__ import annotations

import ast
import collections
import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

import spinnlive.protocol.handshake as hs
from spinnlive.errors import LocalProtocolError, RemoteProtocolError
from spinnlive.protocol.commands import (
    Database,
    EventStop,
    StartResumeNotification,
    StopPauseNotification,
    encode_command,
)
from spinnlive.protocol.handshake import (
    SENDER,
    TRANSITIONS,
    DatabaseConfirmed,
    DatabaseReady,
    ListenerConnection,
    NotifierConnection,
    Paused,
    Role,
    Started,
    State,
)

REPO = Path(__file__).resolve().parents[1]
CONNECTIONS = {Role.NOTIFIER: NotifierConnection, Role.LISTENER: ListenerConnection}
PATH = "/tmp/reports/run_1/input_output_database.sqlite3"


def sample(event_type: type) -> hs.Event:
    return event_type(path=PATH) if event_type is DatabaseReady else event_type()


def test_each_event_travels_as_its_spinnaker_command() -> None:
    """The one event -> datagram mapping both sides use (the walks below rely on it)."""
    commands = {DatabaseReady(path=PATH): Database(path=PATH),
                DatabaseConfirmed(): Database(path=None),
                Started(): StartResumeNotification(), Paused(): StopPauseNotification()}
    for event, command in commands.items():
        assert hs.encode_event(event) == encode_command(command), event


def apply(conn: hs._Connection, event: hs.Event) -> None:
    if SENDER[type(event)] is conn.role:
        conn.send(event)
    else:
        conn.receive_datagram(hs.encode_event(event))  # as the peer would send it


def paths_to_states(role: Role) -> dict[State, list[type]]:
    """Breadth-first over the table: the shortest event sequence reaching each state."""
    paths: dict[State, list[type]] = {State.IDLE: []}
    todo = collections.deque([State.IDLE])
    while todo:
        state = todo.popleft()
        for event_type, target in TRANSITIONS.get((role, state), {}).items():
            if target not in paths:
                paths[target] = [*paths[state], event_type]
                todo.append(target)
    return paths


def test_every_event_is_a_frozen_slotted_keyword_only_dataclass() -> None:
    for event_type in SENDER:
        assert dataclasses.is_dataclass(event_type)
        assert event_type.__dataclass_params__.frozen
        assert "__slots__" in event_type.__dict__
    with pytest.raises(dataclasses.FrozenInstanceError):
        DatabaseReady(path=PATH).path = "/elsewhere"  # type: ignore[misc]
    with pytest.raises(TypeError):
        DatabaseReady(PATH)  # type: ignore[misc]  # keyword-only


@pytest.mark.parametrize("bad", ["", 42, b"/tmp/db", "x" * (hs.MAX_DATABASE_PATH_LENGTH + 1)])
def test_database_ready_validates_its_path(bad: object) -> None:
    with pytest.raises(LocalProtocolError):
        DatabaseReady(path=bad)  # type: ignore[arg-type]


def test_every_state_of_each_role_is_reachable_through_the_table() -> None:
    for role in Role:
        states = {s for (r, s) in TRANSITIONS if r is role}
        assert set(paths_to_states(role)) == states


def test_every_pair_outside_the_table_raises_and_leaves_the_state_alone() -> None:
    checked = 0
    for role in Role:
        for state, path in paths_to_states(role).items():
            allowed = TRANSITIONS[(role, state)]
            for event_type in SENDER:
                conn = CONNECTIONS[role]()
                for step in path:
                    apply(conn, sample(step))
                assert conn.state is state
                event = sample(event_type)
                if event_type in allowed:
                    apply(conn, event)
                    assert conn.state is allowed[event_type]
                    continue
                checked += 1
                sending = SENDER[event_type] is role
                with pytest.raises(
                    LocalProtocolError if sending else RemoteProtocolError
                ) as info:
                    apply(conn, event)
                assert conn.state is state
                message = str(info.value)
                assert role.value in message and state.name in message
                assert event_type.__name__ in message
    assert checked > 0


def test_sending_the_peers_event_is_a_local_error_naming_the_sender() -> None:
    notifier = NotifierConnection()
    notifier.send(DatabaseReady(path=PATH))
    with pytest.raises(LocalProtocolError, match="only the listener sends it"):
        notifier.send(DatabaseConfirmed())
    with pytest.raises(LocalProtocolError, match="not a handshake event"):
        notifier.send(EventStop())  # type: ignore[arg-type]


def test_wire_bytes_are_the_references() -> None:
    messages = pytest.importorskip("spinnman.messages.eieio.command_messages")
    constants = pytest.importorskip("spinnman.constants")
    notifier, listener = NotifierConnection(), ListenerConnection()
    assert notifier.send(DatabaseReady(path=PATH)) == (
        messages.NotificationProtocolDatabaseLocation(PATH).bytestring
    )
    assert listener.receive_datagram(
        messages.NotificationProtocolDatabaseLocation(PATH).bytestring
    ) == [DatabaseReady(path=PATH)]
    assert listener.send(DatabaseConfirmed()) == (
        messages.EIEIOCommandHeader(constants.EIEIO_COMMAND_IDS.DATABASE.value).bytestring
    )
    assert notifier.send(Started()) == messages.NotificationProtocolStartResume().bytestring
    assert notifier.send(Paused()) == messages.NotificationProtocolPauseStop().bytestring
    # the reference's "no database" notification is the bare header
    assert NotifierConnection().send(DatabaseReady(path=None)) == (
        messages.NotificationProtocolDatabaseLocation(None).bytestring
    )


def run_step(notifier: NotifierConnection, listener: ListenerConnection, path: str | None) -> None:
    assert listener.receive_datagram(notifier.send(DatabaseReady(path=path))) == [
        DatabaseReady(path=path)
    ]
    assert listener.state is State.DB_RECEIVED and notifier.state is State.DB_SENT
    assert notifier.receive_datagram(listener.send(DatabaseConfirmed())) == [DatabaseConfirmed()]
    assert listener.state is notifier.state is State.DB_CONFIRMED
    assert listener.receive_datagram(notifier.send(Started())) == [Started()]
    assert listener.state is notifier.state is State.RUNNING
    assert listener.receive_datagram(notifier.send(Paused())) == [Paused()]
    assert listener.state is notifier.state is State.PAUSED


def test_back_to_back_two_run_steps_then_a_new_database_mid_run() -> None:
    notifier, listener = NotifierConnection(), ListenerConnection()
    run_step(notifier, listener, PATH)
    run_step(notifier, listener, None)
    assert notifier.steps == listener.steps == 2
    # third step, and while it runs a fresh toolchain (new sockets, new protocol) remaps
    listener.receive_datagram(notifier.send(DatabaseReady(path=PATH)))
    notifier.receive_datagram(listener.send(DatabaseConfirmed()))
    listener.receive_datagram(notifier.send(Started()))
    assert listener.state is State.RUNNING
    remap = NotifierConnection()
    assert listener.receive_datagram(remap.send(DatabaseReady(path=PATH + ".2"))) == [
        DatabaseReady(path=PATH + ".2")
    ]
    assert listener.state is State.DB_RECEIVED
    remap.receive_datagram(listener.send(DatabaseConfirmed()))
    assert remap.state is State.DB_CONFIRMED
    # the notifier itself may not announce a database while its run is going on
    with pytest.raises(LocalProtocolError, match="RUNNING"):
        notifier.send(DatabaseReady(path=PATH))


def test_virtual_board_steps_without_start_or_stop_are_accepted_by_the_listener() -> None:
    listener = ListenerConnection()
    for _ in range(2):  # quirk 7.1: DATABASE, confirm, DATABASE, confirm...
        notifier = NotifierConnection()
        listener.receive_datagram(notifier.send(DatabaseReady(path=PATH)))
        notifier.receive_datagram(listener.send(DatabaseConfirmed()))
    assert listener.steps == 2 and listener.state is State.DB_CONFIRMED


def test_notifier_takes_any_eieio_datagram_as_confirmation() -> None:
    data_messages = pytest.importorskip("spinnman.messages.eieio.data_messages")
    eieio_type = pytest.importorskip("spinnman.messages.eieio").EIEIOType
    packet = data_messages.EIEIODataMessage.create(eieio_type.KEY_32_BIT)
    packet.add_key(0x1234)
    replies = [
        packet.bytestring,  # a data packet
        encode_command(Database(path="/somewhere/else")),  # spinnman cannot even parse this
        encode_command(StartResumeNotification()),
    ]
    for reply in replies:
        notifier = NotifierConnection()
        notifier.send(DatabaseReady(path=PATH))
        assert notifier.receive_datagram(reply) == [DatabaseConfirmed()]
        assert notifier.state is State.DB_CONFIRMED


@pytest.mark.parametrize("reply", [b"", b"\x01", (0x4000 | 999).to_bytes(2, "little")])
def test_notifier_rejects_what_is_not_eieio(reply: bytes) -> None:
    notifier = NotifierConnection()
    notifier.send(DatabaseReady(path=PATH))
    with pytest.raises(RemoteProtocolError):
        notifier.receive_datagram(reply)
    assert notifier.state is State.DB_SENT


@pytest.mark.parametrize(
    "datagram",
    [encode_command(EventStop()), b"\x0b\x40\x00", b"\x01\x40\xff\xfe", b"\x00\x00\x01\x00"],
)
def test_listener_rejects_what_does_not_belong_on_the_notification_channel(
    datagram: bytes,
) -> None:
    listener = ListenerConnection()
    with pytest.raises(RemoteProtocolError):
        listener.receive_datagram(datagram)
    assert listener.state is State.IDLE and listener.steps == 0


def test_committed_diagram_is_generated_from_the_table() -> None:
    committed = (REPO / "docs" / "handshake.md").read_text(encoding="utf-8")
    assert committed == hs.render_markdown()
    script = subprocess.run(
        [sys.executable, "-m", "spinnlive.protocol.handshake"], capture_output=True, text=True, check=True
    )
    assert script.stdout == committed
    for (_role, state), moves in TRANSITIONS.items():
        for event_type, target in moves.items():
            assert f"{state.name} --> {target.name}:" in committed
            assert event_type.__name__ in committed


def test_handshake_module_is_sans_io() -> None:
    tree = ast.parse(Path(hs.__file__).read_text(encoding="utf-8"))
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {
        node.module.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module
    }
    assert not imported & {"socket", "asyncio", "zmq", "threading", "time", "logging"}
