"""Names on the wire: the topics, the sync tokens and the well-known endpoints (wire-format.md §1-2).

A topic is frame 0 of every message, both ways. ZeroMQ matches subscriptions by prefix, so a
subscription is only as exact as the names allow: every label topic ends in a label, and a
reader compares frame 0 with the whole topic it wants (:func:`label_of`), never just its
prefix, so ``spikes/motor`` is never taken for ``spikes/motor2``.
"""

from __future__ import annotations

import itertools
import os

from spinnlive.errors import LocalProtocolError

__all__ = [
    "DEFAULT_DISCOVERY", "DEFAULT_INPUT", "DEFAULT_PUBLISH", "INJECT", "LIFECYCLE", "RATES",
    "READY", "SPIKES", "STATS", "SYNC", "label_of", "label_topic", "new_sync_token",
]

#: The one endpoint a client must know: the discovery reply names the others (§1, §5).
DEFAULT_DISCOVERY = "tcp://127.0.0.1:5570"
#: Output and input bind any free port unless told; the discovery reply says which.
DEFAULT_PUBLISH = "tcp://127.0.0.1:0"
DEFAULT_INPUT = "tcp://127.0.0.1:0"

#: Label topic prefixes: output spikes, injected spikes, Poisson rates.
SPIKES = "spikes/"
INJECT = "inject/"
RATES = "rates/"
#: A state-plane stream's snapshots: ``state/<n>`` (docs/wire-format.md, State plane).
STATE = "state/"
#: Whole topics: run announcements, the statistics, the confirmation release (input).
LIFECYCLE = b"lifecycle"
STATS = b"stats"
READY = b"ready"
#: The prefix of slow-joiner tokens; the bridge answers a subscription to one at once.
SYNC = b"sync/"

_tokens = itertools.count()


def label_topic(prefix: str, label: str) -> bytes:
    """``spikes/<label>`` (or ``inject/``, ``rates/``) as frame 0 bytes."""
    if not label:
        raise LocalProtocolError(f"a {prefix}<label> topic needs a label")
    return (prefix + label).encode()


def label_of(topic: bytes, prefix: str) -> str | None:
    """The label of a whole ``<prefix><label>`` topic, or None when it is another topic."""
    head = prefix.encode()
    if not topic.startswith(head) or len(topic) == len(head):
        return None
    return topic[len(head):].decode("utf-8", "replace")


def new_sync_token(owner: str = "client") -> bytes:
    """A ``sync/...`` topic unique to this process and call; it ends in ``/``, so no token is
    a prefix of another (a prefix would also receive the other's answer)."""
    return SYNC + f"{owner}-{os.getpid()}-{next(_tokens)}/".encode()
