"""Counted drops with a log that cannot flood: the one drop policy of every receive side.

Theory of operation
-------------------
The board endpoint, the live-output emulation, the notification listener and the bridge throw
away what they cannot use (bad bytes, unknown cores, a full queue, a packet cap, a refused
notification, a rejected input message) and must never raise or stall for it. Each drop is
counted by reason in a :class:`DropCounter`; the log gets one WARNING for the 1st, 10th, 100th,
1000th ... drop of each reason, so a flood of a million bad datagrams writes six lines per reason,
and :meth:`DropCounter.snapshot` gives an immutable copy for the owners' frozen statistics.

Rules: counting is a dict update (safe from one writer thread while others read snapshots);
no clock is read here, so the policy is the same under any clock and in tests.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from types import MappingProxyType

__all__ = ["DropCounter", "warn_at_powers_of_ten"]


def warn_at_powers_of_ten(logger: logging.Logger, name: str, reason: str, before: int,
                          after: int, detail: object = "") -> None:
    """One WARNING when a count of ``reason`` goes from ``before`` past 1, 10, 100, ...: the
    log policy for counters kept elsewhere (a socket's drops, a stream's rejections)."""
    if after >= (10 ** len(str(before)) if before else 1):
        logger.warning("%s: dropped %d for %r (%d so far) %s", name, after - before, reason,
                       after, detail)


class DropCounter:
    """Drops by reason, logged at counts 1, 10, 100, ... per reason on ``logger``."""

    __slots__ = ("_counts", "_logger", "_name")

    def __init__(self, logger: logging.Logger, name: str) -> None:
        self._counts: Counter[str] = Counter()
        self._logger = logger
        self._name = name

    def add(self, reason: str, n: int = 1, detail: object = "") -> None:
        """Count ``n`` drops for ``reason``; ``detail`` (formatted lazily) goes to the log."""
        if n <= 0:
            return
        before = self._counts[reason]
        self._counts[reason] = before + n
        warn_at_powers_of_ten(self._logger, self._name, reason, before, before + n, detail)

    def __getitem__(self, reason: str) -> int:
        return self._counts[reason]

    @property
    def total(self) -> int:
        return sum(self._counts.values())

    def snapshot(self) -> Mapping[str, int]:
        """A read-only copy of the counts (only reasons that occurred)."""
        return MappingProxyType(dict(self._counts))
