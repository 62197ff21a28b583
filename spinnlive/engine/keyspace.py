"""Routing-key allocation: pacman's flexible zoned allocator (the sPyNNaker 7.4.1 default).

Theory of operation
-------------------
A key is ``| AP | M | X |``: ``AP`` indexes the vertex (one outgoing partition each),
``M`` its core and ``X`` the core's keys. One zone width ``Z`` = max over vertices of
``bits(cores) + bits(keys of its biggest core)`` is shared by all, so vertex ``i`` owns
``[AP_i << Z, (AP_i + 1) << Z)``; within it core ``m`` has base ``(AP_i << Z) | (m << X_i)`` and
mask ``0xFFFFFFFF - (2**X_i - 1)``, ``X_i`` = bits of that vertex's biggest core. A core's atom
``a`` then has key ``base + ((a - lo) << colour_bits)``: a 256-atom neuron core with 4 colour
bits has a 4096-key space, which is why the seed database's cores are 4096 apart.
``bits(n)`` is ``ceil(log2(n))`` (pacman's ``allocator_bits_needed``).

A fixed ``virtual_key`` keeps its key and mask; like pacman, every ``AP`` index its key space
overlaps is skipped by the others, and the fixed vertex still uses up one ``AP`` index in order.
So allocated keys can never hit a fixed one; fixed keys that hit each other, or a network
that needs more than 32 key bits, raise :class:`~spinnlive.errors.ConfigurationError`.
:func:`check_disjoint` proves the result: no two cores' key spaces overlap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from spinnlive.engine.vertices import AppVertex
from spinnlive.errors import ConfigurationError

__all__ = ["CoreKeys", "allocate_keys", "bits_needed", "check_disjoint"]

FULL_MASK = 0xFFFF_FFFF
KEY_BITS = 32


@dataclass(frozen=True, slots=True)
class CoreKeys:
    """One core's key space: ``base_key`` and ``mask``; atoms step by ``1 << key_shift``."""

    base_key: int
    mask: int
    key_shift: int

    @property
    def last_key(self) -> int:
        """Highest key inside this core's space."""
        return self.base_key | (~self.mask & FULL_MASK)


def bits_needed(size: int) -> int:
    """Bits to number ``size`` things: ``ceil(log2(size))``, 0 for 0 or 1."""
    return max(0, size - 1).bit_length()


def allocate_keys(
    vertices: Sequence[tuple[AppVertex, Sequence[tuple[int, int]]]],
) -> list[list[CoreKeys]]:
    """Key spaces for every core of every ``(vertex, slices)``, in the order given."""
    atom_bits = [bits_needed(max((hi - lo + 1) << v.colour_bits for lo, hi in s))
                 for v, s in vertices]
    zone = max((bits_needed(len(s)) + a for (v, s), a in zip(vertices, atom_bits)
                if v.virtual_key is None), default=0)
    fixed = [(v.label, CoreKeys(v.virtual_key, v.virtual_mask, v.colour_bits))
             for v, _ in vertices if v.virtual_key is not None]
    check_disjoint(fixed)
    blocked = _merge([(ck.base_key >> zone, ck.last_key >> zone) for _, ck in fixed])
    n_indices = len(vertices) + sum(hi - lo + 1 for lo, hi in blocked)
    if bits_needed(n_indices) + zone > KEY_BITS:
        raise ConfigurationError(
            f"the network needs {bits_needed(n_indices)} + {zone} key bits: more than 32."
            f" Use fewer or smaller populations, or fewer atoms per core")

    result: list[list[CoreKeys]] = []
    index, pos = 0, 0
    for (vertex, slices), x_bits in zip(vertices, atom_bits):
        while pos < len(blocked) and blocked[pos][0] <= index:  # skip indices fixed keys use
            index = max(index, blocked[pos][1] + 1)
            pos += 1
        if vertex.virtual_key is not None:
            result.append([CoreKeys(vertex.virtual_key, vertex.virtual_mask, vertex.colour_bits)])
        else:
            mask = FULL_MASK - ((1 << x_bits) - 1)
            result.append([CoreKeys((index << zone) | (m << x_bits), mask, vertex.colour_bits)
                           for m in range(len(slices))])
        index += 1
    check_disjoint([(f"{v.label}[core {m}]", ck) for (v, _), cks in zip(vertices, result)
                    for m, ck in enumerate(cks)])
    return result


def _merge(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted, merged inclusive ranges."""
    merged: list[tuple[int, int]] = []
    for lo, hi in sorted(ranges):
        if merged and lo <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
        else:
            merged.append((lo, hi))
    return merged


def check_disjoint(spaces: Sequence[tuple[str, CoreKeys]]) -> None:
    """Raise :class:`ConfigurationError` naming two key spaces that overlap, if any do."""
    ordered = sorted(spaces, key=lambda s: s[1].base_key)
    for (name_a, a), (name_b, b) in zip(ordered, ordered[1:]):
        if b.base_key <= a.last_key:
            raise ConfigurationError(
                f"routing keys collide: {name_a} has {a.base_key:#x}..{a.last_key:#x} and"
                f" {name_b} has {b.base_key:#x}..{b.last_key:#x}; change a virtual_key")
