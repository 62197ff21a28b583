"""Vectorised translation between routing keys and (population, neuron id).

Theory of operation
-------------------
A SpiNNaker multicast key names one atom (neuron) of one population. The input/output
database lists every (label, atom, key) triple the live connections may see (protocol sheet
§4.2, §5.2); the layouts in practice are:

- neuron keys ``base + ((atom - lo_atom) << n_colour_bits)``: they step by 16 with the default
  4 colour bits, and every core (machine vertex) has its own ``base``;
- injector, Poisson-control and fixed ``virtual_key`` keys, which step by 1.

:class:`KeyTable` does not care which layout made a key: it keeps one sorted ``uint32`` array of
all keys with the label index and atom of each, so a batch of received keys is translated by a
single :func:`numpy.searchsorted`. Keys are matched exactly, with no masking, as sPyNNaker's
``LiveEventConnection`` does. Unknown keys come back as a ``False`` entry in a boolean mask with
label index and atom ``-1``; they are never an exception, because a stray key on the wire is
the peer's business, not a bug here. The other direction (atom -> key) is a dense array per
label, indexed by atom id.

Rules: numpy only, no I/O; never a Python object per event; a mistake by our own caller
(an atom the table does not know) raises :class:`~spinnlive.errors.LocalProtocolError`, and a
table that could not be unambiguous (one key for two atoms) raises
:class:`~spinnlive.errors.ConfigurationError` when it is built.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from spinnlive.errors import ConfigurationError, LocalProtocolError, UnknownLabelError

__all__ = ["KeyLookup", "KeyTable", "core_keys"]

_MAX_KEY = 0xFFFF_FFFF


def core_keys(base_key: int, n_atoms: int, n_colour_bits: int = 0) -> npt.NDArray[np.uint32]:
    """The keys of one core's atoms: ``base_key + (i << n_colour_bits)`` for ``i < n_atoms``.

    This is the layout of sPyNNaker's ``get_atom_key_map`` (colour bits > 0) and of pacman's
    ``get_keys`` (0 colour bits), so mapping code and tests build keys the way the toolchain does.
    """
    # Checked here rather than wrapped silently by uint32: a key past 32 bits would alias
    # another population's key on the wire.
    if n_atoms < 0 or n_colour_bits < 0:
        raise ConfigurationError(
            f"core_keys needs n_atoms >= 0 and n_colour_bits >= 0, got {n_atoms}, {n_colour_bits}")
    last = base_key + ((max(n_atoms, 1) - 1) << n_colour_bits)
    if base_key < 0 or last > _MAX_KEY:
        raise ConfigurationError(
            f"keys {base_key:#x}..{last:#x} of a {n_atoms}-atom core do not fit in 32 bits")
    offsets = np.arange(n_atoms, dtype=np.int64) << n_colour_bits
    return (offsets + base_key).astype(np.uint32)


@dataclass(frozen=True, slots=True)
class KeyLookup:
    """The answer for one batch of keys; arrays are aligned with the keys asked about."""

    label_index: npt.NDArray[np.int32]  # index into KeyTable.labels, -1 where unknown
    atom: npt.NDArray[np.int64]  # neuron id within that label, -1 where unknown
    known: npt.NDArray[np.bool_]  # False for keys no label owns


def _as_index_array(values: npt.ArrayLike, what: str) -> npt.NDArray[np.int64]:
    """Caller-supplied ids as int64, so range checks see negatives and values past 32 bits.

    An empty list has dtype float64 in numpy; it is accepted as "no ids".
    """
    array = np.asarray(values)
    if array.size == 0:
        return np.zeros(array.shape, dtype=np.int64)
    if not np.issubdtype(array.dtype, np.integer):
        raise LocalProtocolError(f"{what} must be integers, got dtype {array.dtype}")
    return array.astype(np.int64, copy=False)


class KeyTable:
    """Key <-> (label index, atom) tables for a fixed set of labels.

    Build it with :meth:`from_arrays`; it is immutable afterwards (its arrays are read-only),
    so one table can be shared by the receive path and the send path.
    """

    __slots__ = ("_labels", "_index", "_sizes", "_sorted_keys", "_key_label", "_key_atom",
                 "_dense")

    def __init__(self, labels: Sequence[str], sizes: npt.NDArray[np.int64],
                 sorted_keys: npt.NDArray[np.uint32], key_label: npt.NDArray[np.int32],
                 key_atom: npt.NDArray[np.int64], dense: Sequence[npt.NDArray[np.int64]]):
        """Private: use :meth:`from_arrays`, which checks the invariants this relies on."""
        self._labels = tuple(labels)
        self._index = {label: i for i, label in enumerate(self._labels)}
        self._sizes = sizes
        self._sorted_keys = sorted_keys
        self._key_label = key_label
        self._key_atom = key_atom
        self._dense = tuple(dense)
        arrays: tuple[np.ndarray, ...] = (sizes, sorted_keys, key_label, key_atom, *self._dense)
        for array in arrays:
            array.flags.writeable = False

    @classmethod
    def from_arrays(
        cls, entries: Iterable[tuple[str, npt.ArrayLike, npt.ArrayLike]]
    ) -> KeyTable:
        """Build a table from ``(label, atom ids, keys)`` per label (aligned arrays).

        A label's size is one past its highest atom id. When one atom has several keys (a
        vertex that is both injected and live-output through different partitions), every key
        translates to the atom and atom -> key answers the lowest of them.

        :raises ConfigurationError: a repeated label, arrays of different lengths, negative
            atoms, keys outside 32 bits, or one key given to two atoms.
        """
        # Flatten every label into three aligned columns (key, label index, atom), then sort
        # once by key: a lookup is then one searchsorted over one array, whatever the layout.
        labels: list[str] = []
        all_keys: list[npt.NDArray[np.int64]] = []
        all_labels: list[npt.NDArray[np.int32]] = []
        all_atoms: list[npt.NDArray[np.int64]] = []
        for label, atoms_in, keys_in in entries:
            if label in labels:
                raise ConfigurationError(f"label {label!r} given twice to KeyTable")
            atoms = np.asarray(atoms_in, dtype=np.int64).ravel()
            keys = np.asarray(keys_in, dtype=np.int64).ravel()
            if atoms.shape != keys.shape:
                raise ConfigurationError(
                    f"label {label!r}: {atoms.size} atom ids but {keys.size} keys")
            if atoms.size and atoms.min() < 0:
                raise ConfigurationError(f"label {label!r}: negative atom id {atoms.min()}")
            if keys.size and (keys.min() < 0 or keys.max() > _MAX_KEY):
                raise ConfigurationError(f"label {label!r}: a key does not fit in 32 bits")
            all_labels.append(np.full(atoms.size, len(labels), dtype=np.int32))
            labels.append(label)
            all_atoms.append(atoms)
            all_keys.append(keys)
        keys = np.concatenate(all_keys) if all_keys else np.zeros(0, np.int64)
        label_of = np.concatenate(all_labels) if all_labels else np.zeros(0, np.int32)
        atom_of = np.concatenate(all_atoms) if all_atoms else np.zeros(0, np.int64)
        # Stable sort keeps each label's given order among equal keys, so the clash report
        # below names the labels in the order the caller listed them.
        order = np.argsort(keys, kind="stable")
        keys, label_of, atom_of = keys[order], label_of[order], atom_of[order]
        repeated = np.flatnonzero(keys[1:] == keys[:-1])
        if repeated.size:
            i = repeated[0]
            raise ConfigurationError(
                f"key {int(keys[i]):#x} is given to atom {atom_of[i]} of {labels[label_of[i]]!r}"
                f" and to atom {atom_of[i + 1]} of {labels[label_of[i + 1]]!r}")
        # The reverse direction is dense: index = atom id, so sending is one fancy-index.
        sizes = np.array([a.max() + 1 if a.size else 0 for a in all_atoms], dtype=np.int64)
        dense = []
        for index, size in enumerate(sizes):
            table = np.full(size, -1, dtype=np.int64)
            mine = np.flatnonzero(label_of == index)[::-1]  # descending keys: lowest key wins
            table[atom_of[mine]] = keys[mine]
            dense.append(table)
        return cls(labels, sizes, keys.astype(np.uint32), label_of, atom_of, dense)

    @property
    def labels(self) -> tuple[str, ...]:
        """The labels, in the order their indices refer to."""
        return self._labels

    @property
    def sizes(self) -> npt.NDArray[np.int64]:
        """Per label, one past its highest atom id (its number of atoms when dense)."""
        return self._sizes

    @property
    def n_keys(self) -> int:
        return int(self._sorted_keys.size)

    def index(self, label: str) -> int:
        """The index of ``label`` in :attr:`labels`."""
        try:
            return self._index[label]
        except KeyError:
            raise UnknownLabelError(
                f"label {label!r} is not in this key table (it has {list(self._labels)})"
            ) from None

    def _label_index(self, label: str | int) -> int:
        if isinstance(label, str):
            return self.index(label)
        if not 0 <= label < len(self._labels):
            raise UnknownLabelError(
                f"label index {label} is out of range for {len(self._labels)} labels")
        return int(label)

    def lookup(self, keys: npt.ArrayLike) -> KeyLookup:
        """Translate a batch of keys; unknown keys are reported in ``known``, never raised."""
        asked = np.asarray(keys)
        # Fast path: decoded EIEIO keys are already uint32. Anything else is widened first so
        # that a negative or > 32-bit value becomes "unknown" instead of wrapping onto a key.
        if asked.dtype == np.uint32:
            probe, valid = asked, None
        else:
            wide = _as_index_array(asked, "keys")
            valid = (wide >= 0) & (wide <= _MAX_KEY)
            probe = np.where(valid, wide, 0).astype(np.uint32)
        if self._sorted_keys.size == 0:
            unknown = np.full(probe.shape, -1, dtype=np.int64)
            return KeyLookup(unknown.astype(np.int32), unknown, np.zeros(probe.shape, np.bool_))
        # searchsorted gives where each key would go; a key is known exactly when the entry
        # at that slot equals it. Keys above the largest one land past the end: clamp them
        # to the last slot, where the equality test fails as it should.
        slot = np.searchsorted(self._sorted_keys, probe)
        np.minimum(slot, self._sorted_keys.size - 1, out=slot)
        known = self._sorted_keys[slot] == probe
        if valid is not None:
            known &= valid
        label_index = np.where(known, self._key_label[slot], -1)
        atom = np.where(known, self._key_atom[slot], -1)
        return KeyLookup(label_index.astype(np.int32, copy=False),
                         atom.astype(np.int64, copy=False), known)

    def dense_keys(self, label: str | int) -> npt.NDArray[np.int64]:
        """Atom -> key for one label, indexed by atom id; -1 for atom ids without a key."""
        return self._dense[self._label_index(label)]

    def keys_of(self, label: str | int, atoms: npt.ArrayLike) -> npt.NDArray[np.uint32]:
        """The keys of ``atoms`` (neuron ids) of one label, ready for an EIEIO packet.

        :raises LocalProtocolError: an atom id this label has no key for.
        """
        index = self._label_index(label)
        ids = _as_index_array(atoms, "atom ids")
        table = self._dense[index]
        # Index with a clamped copy so an out-of-range id cannot raise IndexError (or wrap
        # around for negatives); those ids are marked -1 and reported together below.
        inside = (ids >= 0) & (ids < table.size)
        found = np.where(inside, table[np.where(inside, ids, 0)] if table.size else -1, -1)
        bad = np.flatnonzero(found < 0)
        if bad.size:
            raise LocalProtocolError(
                f"{self._labels[index]!r} has no key for neuron id {int(ids.flat[bad[0]])}"
                f" ({bad.size} bad ids; it has keys for ids 0..{table.size - 1})")
        return found.astype(np.uint32)

    def __repr__(self) -> str:
        parts = ", ".join(f"{lab}:{n}" for lab, n in zip(self._labels, self._sizes.tolist()))
        return f"KeyTable({parts}; {self.n_keys} keys)"
