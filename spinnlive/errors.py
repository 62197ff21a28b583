"""One exception family for the whole package.

Every error spinnlive raises on purpose derives from :class:`SpinnliveError`. A parser that
raises anything but :class:`RemoteProtocolError` on bad bytes has a bug.
"""

from __future__ import annotations


class SpinnliveError(Exception):
    """Root of every error spinnlive raises on purpose."""


class ProtocolError(SpinnliveError):
    """Bytes or values that break the SpiNNaker live-I/O wire protocol."""


class LocalProtocolError(ProtocolError):
    """We were asked to build something the protocol cannot carry (our caller's mistake)."""


class RemoteProtocolError(ProtocolError):
    """A peer sent bytes we cannot parse. The message names the field and byte offset."""

    def __init__(self, message: str, *, field: str | None = None, offset: int | None = None):
        where = []
        if field is not None:
            where.append(f"field {field!r}")
        if offset is not None:
            where.append(f"offset {offset}")
        full = f"{message} ({', '.join(where)})" if where else message
        super().__init__(full)
        self.field = field
        self.offset = offset


class DatabaseError(SpinnliveError):
    """The input/output database is missing, has the wrong schema, or lacks what was asked."""


class UnknownLabelError(DatabaseError, KeyError):
    """A population label that the database (or the running network) does not know."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class HandshakeError(SpinnliveError):
    """The database-notification handshake failed; the message names the peer and the stage."""


class HandshakeTimeout(HandshakeError, TimeoutError):
    """A peer did not answer a handshake stage within its deadline."""


class NotificationRefused(HandshakeError):
    """A listener's database hook will not take this DATABASE (unreadable, not allowed): the
    notification is dropped unconfirmed and the handshake stays where it was."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class ConfigurationError(SpinnliveError, ValueError):
    """A setting or a model/network description that spinnlive cannot honour."""


class TransportError(SpinnliveError):
    """A socket could not be opened or used."""
