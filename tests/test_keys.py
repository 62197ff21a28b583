"""KeyTable: vectorised key <-> (label, atom) for every key layout sPyNNaker produces."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spinnlive.errors import ConfigurationError, LocalProtocolError, UnknownLabelError
from spinnlive.protocol.keys import KeyTable, core_keys

# The layouts of the protocol sheet §4.4: a 2-core population with 4 colour bits and its own
# base per core, an injector stepping by 1, a fixed virtual key range.
POP = (np.arange(300), np.concatenate([core_keys(16384, 256, 4), core_keys(20480, 44, 4)]))
INJ = (np.arange(10), core_keys(8192, 10))
FIXED = (np.arange(3), core_keys(0x70000, 3))


def seed_table() -> KeyTable:
    return KeyTable.from_arrays([("pop", *POP), ("inj", *INJ), ("inj_fixed", *FIXED)])


def test_core_keys_layouts() -> None:
    keys = core_keys(16384, 256, 4)
    assert keys.dtype == np.uint32
    assert np.all(np.diff(keys.astype(np.int64)) == 16)
    assert core_keys(20480, 1, 4)[0] == 20480
    assert np.array_equal(core_keys(8192, 10), np.arange(8192, 8202))
    with pytest.raises(ConfigurationError, match="32 bits"):
        core_keys(0xFFFF_FFF0, 2, 4)


def test_labels_sizes_and_index() -> None:
    table = seed_table()
    assert table.labels == ("pop", "inj", "inj_fixed")
    assert table.sizes.tolist() == [300, 10, 3]
    assert table.n_keys == 313
    assert table.index("inj") == 1
    with pytest.raises(UnknownLabelError, match="'nope'"):
        table.index("nope")


def test_lookup_translates_every_layout_and_masks_unknown_keys() -> None:
    table = seed_table()
    keys = np.array([16384, 16400, 20464, 20480, 20496, 8192, 8201, 0x70002,
                     16385, 8202, 0, 0xFFFF_FFFF], dtype=np.uint32)
    got = table.lookup(keys)
    assert got.label_index.tolist() == [0, 0, 0, 0, 0, 1, 1, 2, -1, -1, -1, -1]
    assert got.atom.tolist() == [0, 1, 255, 256, 257, 0, 9, 2, -1, -1, -1, -1]
    assert got.known.tolist() == [True] * 8 + [False] * 4


def test_lookup_accepts_python_ints_and_rejects_out_of_range_as_unknown() -> None:
    got = seed_table().lookup([8193, -1, 2**32 + 8193, 1 << 40])
    assert got.known.tolist() == [True, False, False, False]
    assert got.atom.tolist() == [1, -1, -1, -1]


def test_lookup_keeps_shape_and_handles_empty_input() -> None:
    table = seed_table()
    got = table.lookup(np.array([[8192, 1], [16384, 8193]], dtype=np.uint32))
    assert got.atom.shape == (2, 2)
    assert got.atom.tolist() == [[0, -1], [0, 1]]
    empty = table.lookup(np.zeros(0, dtype=np.uint32))
    assert empty.known.size == 0 and empty.atom.dtype == np.int64
    with pytest.raises(LocalProtocolError, match="integers"):
        table.lookup(np.array([1.5]))


def test_empty_table_knows_no_key() -> None:
    table = KeyTable.from_arrays([])
    assert table.labels == () and table.n_keys == 0
    assert not seed_table().lookup([1]).known.any()
    assert table.lookup([1, 2]).label_index.tolist() == [-1, -1]


def test_keys_of_and_dense_keys() -> None:
    table = seed_table()
    assert table.keys_of("pop", [0, 255, 256, 299]).tolist() == [16384, 20464, 20480, 21168]
    assert table.keys_of(1, np.array([3, 3])).tolist() == [8195, 8195]
    assert table.keys_of("inj", []).dtype == np.uint32
    dense = table.dense_keys("inj_fixed")
    assert dense.tolist() == [0x70000, 0x70001, 0x70002]
    assert not dense.flags.writeable
    with pytest.raises(LocalProtocolError, match=r"'inj' has no key for neuron id 10"):
        table.keys_of("inj", [0, 10])
    with pytest.raises(LocalProtocolError, match="neuron id -1"):
        table.keys_of("inj", [-1])
    with pytest.raises(UnknownLabelError):
        table.keys_of(7, [0])


def test_sparse_atoms_leave_holes() -> None:
    table = KeyTable.from_arrays([("sparse", [0, 5], [100, 105])])
    assert table.sizes.tolist() == [6]
    assert table.dense_keys("sparse").tolist() == [100, -1, -1, -1, -1, 105]
    with pytest.raises(LocalProtocolError, match="neuron id 2"):
        table.keys_of("sparse", [2])


def test_two_keys_for_one_atom_translate_both_and_send_the_lowest() -> None:
    table = KeyTable.from_arrays([("both", [0, 1, 0], [50, 51, 7])])
    assert table.lookup([50, 7]).atom.tolist() == [0, 0]
    assert table.keys_of("both", [0, 1]).tolist() == [7, 51]


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([("a", [0, 1], [5, 6]), ("b", [0], [6])], r"key 0x6 is given to atom 1 of 'a' and to atom 0 of 'b'"),
        ([("a", [0], [1]), ("a", [1], [2])], "given twice"),
        ([("a", [0, 1], [1])], "2 atom ids but 1 keys"),
        ([("a", [-1], [1])], "negative atom"),
        ([("a", [0], [2**32])], "32 bits"),
    ],
)
def test_ambiguous_tables_are_refused(entries: list, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        KeyTable.from_arrays(entries)


@st.composite
def layouts(draw: st.DrawFn) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Labels of 1-3 cores each; every core gets its own non-overlapping key block."""
    n_labels = draw(st.integers(1, 4))
    next_base = draw(st.integers(0, 1 << 20))
    entries = []
    for index in range(n_labels):
        atoms, keys = [], []
        lo = 0
        for _ in range(draw(st.integers(1, 3))):
            n = draw(st.integers(1, 300))
            bits = draw(st.sampled_from([0, 4]))
            keys.append(core_keys(next_base, n, bits))
            atoms.append(np.arange(lo, lo + n))
            lo += n
            next_base += (n << bits) + draw(st.integers(0, 5000))
        entries.append((f"label{index}", np.concatenate(atoms), np.concatenate(keys)))
    return entries


@settings(max_examples=60, deadline=None)
@given(layouts(), st.data())
def test_round_trip_atoms_keys_atoms(entries: list, data: st.DataObject) -> None:
    table = KeyTable.from_arrays(entries)
    for index, (label, atoms, keys) in enumerate(entries):
        assert table.sizes[index] == atoms.size
        picked = data.draw(st.lists(st.integers(0, atoms.size - 1), max_size=50))
        sent = table.keys_of(label, picked)
        assert np.array_equal(sent, keys[picked])
        back = table.lookup(sent)
        assert back.known.all()
        assert np.array_equal(back.atom, picked)
        assert np.all(back.label_index == index)


@settings(max_examples=60, deadline=None)
@given(layouts(), st.lists(st.integers(0, 2**32 - 1), max_size=100), st.data())
def test_unknown_keys_are_masked_never_raised(entries: list, noise: list[int],
                                              data: st.DataObject) -> None:
    table = KeyTable.from_arrays(entries)
    owned = {int(k): (i, int(a)) for i, (_, atoms, keys) in enumerate(entries)
             for a, k in zip(atoms, keys)}
    near = [k + d for k in data.draw(st.lists(st.sampled_from(sorted(owned)), max_size=50))
            for d in (-1, 0, 1) if 0 <= k + d < 2**32]
    probe = data.draw(st.permutations(noise + near))
    got = table.lookup(np.array(probe, dtype=np.uint32))
    for key, known, label, atom in zip(probe, got.known, got.label_index, got.atom):
        assert known == (key in owned)
        assert (label, atom) == owned.get(key, (-1, -1))
