"""Timestamped injected spikes held until their tick: a sorted store of numpy arrays.

Theory of operation
-------------------
A timestamped injection (EIEIO with T set, the tick in the payload prefix) names the tick at
which the injector population must spike. The board decodes it on the receive side and, like
any batch, hands it to the tick thread through the injection queue; at the start of each tick
the tick thread moves the newly arrived timestamped batches into this store and takes out what
is due at the arrival tick (the tick in which what arrives now is emitted: see
:mod:`spinnlive.engine.board`):

* events stamped with that tick are delivered (the injector spikes at that tick);
* events stamped with a tick already past (they arrived while their tick was being computed, or
  the store was created after it) are counted as *late* and dropped;
* everything else stays, sorted by stamp, arrival order kept among equal stamps.

The store is three parallel arrays (stamp, population index, atom), kept sorted: a batch is
merged in with one ``searchsorted`` + ``np.insert``, the due prefix is found with two
``searchsorted`` calls and sliced off. There is no Python object per event.

Rules: used by the tick thread only (no locks); the bound on held events is enforced by the
producer before it queues (see :class:`~spinnlive.engine.injection.InjectionQueue`), so this
store never refuses anything and never raises for its content.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["Due", "TimedHold"]


@dataclass(frozen=True, slots=True, eq=False)
class Due:
    """What one tick takes out of the store."""

    spikes: dict[str, npt.NDArray[np.int64]]  #: per population, atoms in arrival order
    late: int  #: events whose stamp was already past: dropped
    removed: int  #: every event that left the store (delivered + late)


_NOTHING = Due({}, 0, 0)


class TimedHold:
    """Timestamped spikes by stamp; see the module docstring."""

    def __init__(self) -> None:
        self._labels: list[str] = []
        self._index: dict[str, int] = {}
        self._stamps = np.zeros(0, np.int64)
        self._which = np.zeros(0, np.int32)
        self._atoms = np.zeros(0, np.int64)

    def __len__(self) -> int:
        return int(self._stamps.size)

    def add(self, stamps: Sequence[int], labels: Sequence[str],
            atoms: Sequence[npt.NDArray[np.int64]]) -> None:
        """Merge batches: ``atoms[i]`` of population ``labels[i]`` stamped ``stamps[i]``."""
        if not atoms:
            return
        sizes = np.fromiter((a.size for a in atoms), np.intp, len(atoms))
        which = np.fromiter((self._label(label) for label in labels), np.int32, len(labels))
        new_stamps = np.repeat(np.asarray(stamps, np.int64), sizes)
        new_which = np.repeat(which, sizes)
        new_atoms = np.concatenate(atoms).astype(np.int64, copy=False)
        order = np.argsort(new_stamps, kind="stable")
        new_stamps, new_which, new_atoms = new_stamps[order], new_which[order], new_atoms[order]
        at = np.searchsorted(self._stamps, new_stamps, side="right")  # after equal stamps
        self._stamps = np.insert(self._stamps, at, new_stamps)
        self._which = np.insert(self._which, at, new_which)
        self._atoms = np.insert(self._atoms, at, new_atoms)

    def take(self, tick: int) -> Due:
        """Remove everything stamped ``<= tick``: ``tick``'s spikes delivered, older ones late."""
        stamps = self._stamps
        if stamps.size == 0 or stamps[0] > tick:
            return _NOTHING
        lo = int(np.searchsorted(stamps, tick, side="left"))
        hi = int(np.searchsorted(stamps, tick, side="right"))
        which, atoms = self._which[lo:hi], self._atoms[lo:hi]
        spikes: dict[str, npt.NDArray[np.int64]] = {}
        for i in np.unique(which).tolist():
            spikes[self._labels[i]] = atoms[which == i].copy()
        self._stamps, self._which, self._atoms = stamps[hi:], self._which[hi:], self._atoms[hi:]
        return Due(spikes, lo, hi)

    def _label(self, label: str) -> int:
        index = self._index.get(label)
        if index is None:
            index = self._index[label] = len(self._labels)
            self._labels.append(label)
        return index
