"""One SUB socket's side of the contract, sans-IO: what to subscribe, what each message means.

A subscriber names the topics it wants: a whole topic (``spikes/exc``, ``lifecycle``) is matched
exactly, one ending in ``/`` (``spikes/``) or the empty string is a prefix. :class:`Subscriber`
says what to pass to ``SUBSCRIBE`` (:meth:`~Subscriber.subscriptions`: the topics, then
``lifecycle`` and ``stats`` when a spike topic's losses are to be counted, since they carry the
totals, and last a fresh ``sync/<token>``), and takes every message read off the socket, in
order (:meth:`~Subscriber.take`): it feeds the per-topic :class:`~.ledger.StreamLedger` of each
whole spike topic (and of each spike topic a prefix such as ``spikes/`` matches, opened when its
first message comes, with the books as of the first sync answer: a topic not yet in those
totals had published nothing), notices the answer to its own token (the socket is then live: §2's slow
joiner), and returns the message when the caller asked for its topic, or None (a sync answer,
a longer label sharing a prefix, a totals carrier nobody asked for).

Both client flavours are this class plus a socket; a client in another language follows the
same steps.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from spinnlive.wire.ledger import SpikeStreamStatistics, StreamLedger
from spinnlive.wire.output import Notice, OutputMessage, decode_output
from spinnlive.wire.topics import LIFECYCLE, SPIKES, STATS, label_of, new_sync_token

if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

__all__ = ["Subscriber"]

_TOTALS = (LIFECYCLE, STATS)


def _is_prefix(topic: bytes) -> bool:
    return topic == b"" or topic.endswith(b"/")


class Subscriber:
    """The books of one SUB socket subscribed to ``topics``."""

    def __init__(self, topics: Iterable[str | bytes], owner: str = "client") -> None:
        self.topics = tuple(t.encode() if isinstance(t, str) else t for t in topics)
        if not self.topics:
            raise ValueError("a subscriber needs at least one topic")
        self._exact = frozenset(t for t in self.topics if not _is_prefix(t))
        self._prefixes = tuple(t for t in self.topics if _is_prefix(t))
        self.ledgers = {t: StreamLedger(t.decode()) for t in self._exact
                        if label_of(t, SPIKES) is not None}
        #: spike topics a prefix matches get a ledger when they first appear
        self._spike_prefixes = tuple(p for p in self._prefixes
                                     if SPIKES.encode().startswith(p) or p.startswith(SPIKES.encode()))
        self._opened: Mapping[str, Any] | None = None  #: the first sync answer's body
        self._latest: Mapping[str, Any] | None = None  #: the latest totals read after it
        self._owner = owner
        self._token = new_sync_token(owner)
        self._mine = {self._token}
        #: sync answers to this subscriber's tokens read so far (a checkpoint waits on it)
        self.markers = 0

    @property
    def token(self) -> bytes:
        """The ``sync/<token>`` subscribed last; its answer marks the socket live."""
        return self._token

    @property
    def live(self) -> bool:
        """True once the first token's answer came: nothing published later is lost to a
        slow join."""
        return self.markers > 0

    def wants(self, topic: bytes) -> bool:
        return topic in self._exact or any(topic.startswith(p) for p in self._prefixes)

    def subscriptions(self) -> list[bytes]:
        """Every prefix to subscribe, in order; the sync token comes last."""
        counted = bool(self.ledgers or self._spike_prefixes)
        extra = [t for t in _TOTALS if counted and not self.wants(t)]
        return [*self.topics, *extra, self._token]

    def renew_token(self) -> tuple[bytes, bytes]:
        """(old, new): unsubscribe the old token, subscribe the new one; its answer carries
        the totals read in order (a checkpoint)."""
        old, self._token = self._token, new_sync_token(self._owner)
        self._mine.add(self._token)
        return old, self._token

    def take(self, frames: list[bytes]) -> OutputMessage | None:
        """One message as read; raises :class:`~spinnlive.errors.RemoteProtocolError` on bytes
        that break the contract."""
        message = decode_output(frames)
        topic = message.topic
        if isinstance(message, Notice):
            ours = topic in self._mine  # an older token's answer is as good: read in order
            if ours or topic in _TOTALS:
                if ours and self._opened is None:
                    self._opened = message.body
                if self._opened is not None:
                    self._latest = message.body
                for ledger in self.ledgers.values():
                    ledger.totals(message.body, sync=ours, bridge=message.header.bridge)
            if ours:
                self.markers += 1
            return None if message.is_sync or not self.wants(topic) else message
        spikes = self.ledgers.get(topic)
        if spikes is None and topic.startswith(self._spike_prefixes) and \
                label_of(topic, SPIKES) is not None:
            spikes = self._open_ledger(topic)
        if spikes is not None:
            header = message.header
            spikes.spike(header.epoch, header.sequence, header.count, header.bridge)
        return message if self.wants(topic) else None

    def _open_ledger(self, topic: bytes) -> StreamLedger:
        """A ledger for a topic seen first now, as if it had been kept from the first sync
        answer on (nothing of it was received before this message)."""
        ledger = self.ledgers[topic] = StreamLedger(topic.decode("utf-8", "replace"))
        if self._opened is not None:
            ledger.totals(self._opened, sync=True)
            if self._latest is not None and self._latest is not self._opened:
                ledger.totals(self._latest, sync=False)
        return ledger

    def statistics(self, topic: str | bytes) -> SpikeStreamStatistics:
        """The loss account of one spike topic (docs/wire-format.md §8): a whole topic
        subscribed, or one a prefix matched (all zero before its first message)."""
        key = topic.encode() if isinstance(topic, str) else topic
        ledger = self.ledgers.get(key)
        if ledger is None and key.startswith(self._spike_prefixes):
            return StreamLedger(key.decode("utf-8", "replace")).statistics()
        if ledger is None:
            raise KeyError(f"{key.decode('utf-8', 'replace')} is no spike topic of this "
                           f"subscriber ({', '.join(t.decode() for t in self.topics)})")
        return ledger.statistics()
