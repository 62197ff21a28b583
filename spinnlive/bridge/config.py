"""The bridge's settings, one frozen record (the wire's own constants live in spinnlive.wire).

Rules
-----
* Every ZeroMQ endpoint binds on 127.0.0.1 by default; another interface only when the caller
  names it. Port 0 (``tcp://127.0.0.1:0``) or ``*`` means "any free port": the bound endpoint is
  read back from the socket and published in the discovery reply.
* The UDP side keeps the SpiNNaker defaults (19999 notify, 17893 board) and accepts port 0.
* Every wait has a deadline here (tag handshake, flush), every queue a bound.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from spinnlive.errors import ConfigurationError
from spinnlive.protocol.commands import NOTIFY_PORT
from spinnlive.protocol.sdp import SCAMP_PORT
from spinnlive.wire.topics import DEFAULT_DISCOVERY, DEFAULT_INPUT, DEFAULT_PUBLISH

__all__ = ["BridgeConfig", "OverflowPolicy", "bind_endpoint"]


class OverflowPolicy(Enum):
    """What a full per-topic queue throws away."""

    DROP_OLDEST = "drop-oldest"
    DROP_NEWEST = "drop-newest"


@dataclass(frozen=True, slots=True, kw_only=True)
class BridgeConfig:
    """Everything a :class:`~spinnlive.bridge.Bridge` can be told."""

    #: Where the toolchain's DATABASE / START / STOP notifications arrive.
    notify_host: str = "127.0.0.1"
    notify_port: int = NOTIFY_PORT
    #: The live-output receive socket; None picks 127.0.0.1 when every board is on loopback
    #: (the embedded engine, a virtual board) and 0.0.0.0 otherwise (a real board must reach it).
    live_host: str | None = None
    live_port: int = 0
    #: SCAMP's UDP port on the board: IP-tag requests and SDP-wrapped injection go there.
    board_port: int = SCAMP_PORT
    discovery: str = DEFAULT_DISCOVERY
    publish: str = DEFAULT_PUBLISH
    input: str = DEFAULT_INPUT
    #: The state plane's ROUTER (wire-format.md, State plane); any free port unless named, as
    #: clients find it in the discovery reply.
    state: str = "tcp://127.0.0.1:0"
    #: The LPG label prefix, as ``LiveEventConnection(live_packet_gather_label=...)``.
    lpg_label: str = "LiveSpikeReceiver"
    #: Labels that accept ``inject/``; None infers them (labels with keys that are neither live
    #: output sources nor ``*_control`` vertices).
    inject_labels: tuple[str, ...] | None = None
    #: A tick whose last packet was full is published this long after its first packet at the
    #: latest (a partial packet or a later timestamp closes it at once).
    tick_flush_s: float = 0.002
    #: Per output topic: at most this many messages wait for ZeroMQ, then ``overflow`` applies.
    topic_queue: int = 64
    overflow: OverflowPolicy = OverflowPolicy.DROP_OLDEST
    #: ZeroMQ send high-water mark per subscriber (messages).
    sndhwm: int = 10_000
    #: XPUB_NODROP: make a full subscriber pipe visible (EAGAIN -> the topic queue) instead of
    #: libzmq dropping silently for that subscriber. It then holds back every subscriber.
    lossless: bool = False
    #: Kernel receive buffer for the live-output socket (bytes), and datagrams read per wakeup.
    rcvbuf: int = 8 << 20
    max_batch: int = 512
    #: IP-tag handshake: resend every ``tag_resend_s`` until ``tag_timeout_s``, then confirm
    #: anyway with a warning; while running, refresh every ``tag_refresh_s`` (the reference: 10 s).
    tag_resend_s: float = 0.25
    tag_timeout_s: float = 2.0
    tag_refresh_s: float = 10.0
    stats_interval_s: float = 1.0
    #: Hold the confirmation of each DATABASE until a client sends ``ready`` for its epoch
    #: (wire-format.md §4), at most ``hold_timeout_s``: lets a client load timestamped inputs
    #: before the simulation starts (spinnlive/bridge/confirmation.py).
    hold_confirmation: bool = False
    hold_timeout_s: float = 5.0
    #: Who may notify: a DATABASE outside this folder is refused unconfirmed (the folder the
    #: toolchain writes its run databases in). Whatever the folder, a DATABASE that cannot be
    #: read never replaces a working session (service.py, "Who may notify").
    database_root: str | None = None
    #: Reading one database (off the event loop) may take this long, then it is unreadable.
    database_deadline_s: float = 10.0
    #: CURVE keys folder (``spinnlive keys DIR``): every ZeroMQ socket authenticates its peers.
    #: Without it a ZeroMQ endpoint beyond loopback is refused unless ``insecure`` (curve.py).
    curve: str | None = None
    insecure: bool = False

    def __post_init__(self) -> None:
        for name in ("tick_flush_s", "tag_resend_s", "tag_timeout_s", "tag_refresh_s",
                     "stats_interval_s", "hold_timeout_s", "database_deadline_s"):
            if not getattr(self, name) > 0:
                raise ConfigurationError(f"bridge {name} must be positive")
        for name in ("topic_queue", "sndhwm", "rcvbuf", "max_batch"):
            if getattr(self, name) < 1:
                raise ConfigurationError(f"bridge {name} must be at least 1")
        for name in ("notify_port", "live_port", "board_port"):
            if not 0 <= getattr(self, name) < 65536:
                raise ConfigurationError(f"bridge {name} must be a UDP port or 0")
        object.__setattr__(self, "overflow", OverflowPolicy(self.overflow))
        if self.inject_labels is not None:
            object.__setattr__(self, "inject_labels", tuple(self.inject_labels))


def bind_endpoint(endpoint: str) -> str:
    """The string to give ``bind``: a TCP port 0 becomes ZeroMQ's ``*`` (any free port)."""
    if endpoint.startswith("tcp://") and endpoint.endswith(":0"):
        return endpoint[:-2] + ":*"
    return endpoint
