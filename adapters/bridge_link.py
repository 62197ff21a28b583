"""A blocking link to one bridge for closed-loop adapters that own their own loop (NEST, replay).

Theory of operation
-------------------
:mod:`spinnlive.client` gives one SUB socket per population, which suits consumers of one
stream. A co-simulator or a recorder needs the opposite: **one** SUB socket for every topic it
follows, because messages from the one XPUB publisher reach one socket in publish order, so a
message stamped tick ``t`` proves every earlier tick's messages (of every population) have
already arrived. That order is what lets NEST and the replayer be paced by the network's ticks.

:class:`BridgeLink` asks the discovery endpoint for the description (docs/wire-format.md §5),
subscribes the given prefixes plus a private ``sync/<token>`` (the slow-joiner handshake, §2),
and hands out :class:`Message` records via :meth:`BridgeLink.receive` with a deadline (``None``
after it, never an exception, so a loop can log "bridge silent" and go on waiting). Inputs go
out on a PUSH socket to the described input endpoint. ZeroMQ reconnects both sockets by itself
when a bridge comes back on the same endpoints; what a caller must notice is the new run epoch
in the headers (or the ``lifecycle`` topic), which each :class:`Message` carries.

Rules: blocking calls only with a timeout; no Python object per spike (payloads stay numpy).
"""

from __future__ import annotations

import itertools
import json
import logging
import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import zmq

from spinnlive.errors import TransportError
from spinnlive.wire.header import FLAG_JSON, HEADER

__all__ = ["BridgeLink", "Message", "describe"]

logger = logging.getLogger(__name__)
_tokens = itertools.count()


@dataclass(frozen=True, slots=True)
class Message:
    """One output message: topic, header fields and the raw payload (ids or JSON bytes)."""

    topic: str
    flags: int
    epoch: int
    tick: int
    sequence: int
    header: bytes
    payload: bytes

    @property
    def is_json(self) -> bool:
        return bool(self.flags & FLAG_JSON)

    def ids(self) -> npt.NDArray[np.uint32]:
        return np.frombuffer(self.payload, dtype="<u4")

    def json(self) -> dict[str, Any]:
        body: dict[str, Any] = json.loads(self.payload)
        return body


def describe(context: zmq.Context[zmq.Socket[bytes]], discovery: str,
             timeout: float) -> dict[str, Any]:
    """One discovery request; :class:`TransportError` naming the endpoint after ``timeout``."""
    req = context.socket(zmq.REQ)
    req.setsockopt(zmq.LINGER, 0)
    try:
        req.connect(discovery)
        req.send(b"describe")
        if not req.poll(int(timeout * 1000)):
            raise TransportError(f"no bridge answered at {discovery} within {timeout:g} s")
        description: dict[str, Any] = json.loads(req.recv())
        return description
    finally:
        req.close(linger=0)


class BridgeLink:
    """Subscribed to ``prefixes`` on one SUB socket, with a PUSH socket for inputs."""

    def __init__(self, discovery: str, prefixes: tuple[str, ...] = ("spikes/", "lifecycle"),
                 *, timeout: float = 5.0) -> None:
        self.discovery = discovery
        self.timeout = timeout
        self.context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        try:
            self.description = describe(self.context, discovery, timeout)
            endpoints = self.description["endpoints"]
            self.sub = self.context.socket(zmq.SUB)
            self.sub.setsockopt(zmq.LINGER, 0)
            self.sub.connect(endpoints["publish"])
            for prefix in prefixes:
                self.sub.setsockopt(zmq.SUBSCRIBE, prefix.encode())
            self.push = self.context.socket(zmq.PUSH)
            self.push.setsockopt(zmq.LINGER, 0)
            self.push.setsockopt(zmq.SNDTIMEO, int(timeout * 1000))
            self.push.connect(endpoints["input"])
            self._early: list[list[bytes]] = []
            self._sync()
        except BaseException:
            self.context.destroy(linger=0)
            raise

    def _sync(self) -> None:
        token = f"sync/{os.getpid()}-{id(self)}-{next(_tokens)}".encode()
        self.sub.setsockopt(zmq.SUBSCRIBE, token)
        while True:
            if not self.sub.poll(int(self.timeout * 1000)):
                raise TransportError(f"bridge {self.description['endpoints']['publish']} did "
                                     f"not confirm the subscription within {self.timeout:g} s")
            frames = self.sub.recv_multipart()
            if frames[0] == token:
                self.sub.setsockopt(zmq.UNSUBSCRIBE, token)
                return
            self._early.append(frames)

    def receive(self, timeout: float) -> Message | None:
        """The next message, or None when none came within ``timeout`` seconds."""
        while True:
            if self._early:
                frames = self._early.pop(0)
            elif self.sub.poll(int(timeout * 1000)):
                frames = self.sub.recv_multipart()
            else:
                return None
            if len(frames) != 3 or frames[0].startswith(b"sync/") or len(frames[1]) != HEADER.size:
                continue  # other clients' sync echoes (a "" subscriber sees them) or junk
            _, flags, _, epoch, tick, seq, _ = HEADER.unpack(frames[1])
            return Message(frames[0].decode("utf-8", "replace"), flags, epoch, tick, seq,
                           frames[1], frames[2])

    def send(self, frames: list[bytes]) -> None:
        """One input message (``inject/<label>`` or ``rates/<label>`` with its frames)."""
        try:
            self.push.send_multipart(frames)
        except zmq.Again:
            raise TransportError(f"bridge input {self.description['endpoints']['input']} did "
                                 f"not take a message within {self.timeout:g} s") from None

    def inject(self, label: str, ids: npt.NDArray[np.uint32]) -> None:
        self.send([f"inject/{label}".encode(), np.ascontiguousarray(ids, "<u4").tobytes()])

    def refresh(self) -> dict[str, Any]:
        """A new description (after a new epoch: sizes or labels may have changed)."""
        self.description = describe(self.context, self.discovery, self.timeout)
        return self.description

    def close(self) -> None:
        self.context.destroy(linger=0)

    def __enter__(self) -> BridgeLink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
