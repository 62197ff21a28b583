"""The connection table split by target neuron, for delivery on several threads.

``ticks.run_ticks_parallel`` hands part ``p`` of every spike's synapses to thread ``p``. The
parts must be disjoint in their target *cells* (a cell written by one thread only, so no atomics
and no races) and keep each row's synapses in their CSR order (so each cell receives its
additions in the order the one-thread loop adds them: the same floating-point sums). Splitting
by target neuron does both: part ``p`` holds the synapses onto neurons ``bounds[p] ..
bounds[p + 1] - 1``, both receptor halves, and the bounds are chosen so the parts hold about the
same number of synapses (the delivery work), not the same number of neurons.

The table stays the authority (weights and delays are set there); a ``Split`` is a copy, made
again when the table changed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .synapses import ConnectionTable


@dataclass(frozen=True)
class Split:
    """``indptr[p, c]:indptr[p, c + 1]`` are cell ``c``'s synapses of part ``p`` in
    ``target``/``weights`` (the parts one after the other)."""

    indptr: np.ndarray
    target: np.ndarray
    weights: np.ndarray
    bounds: np.ndarray  #: first neuron of each part, then the number of neurons


def split_table(table: ConnectionTable, n_neurons: int, parts: int) -> Split:
    """``table`` (``pack``ed) in ``parts`` parts by target neuron, balanced by synapse count."""
    neuron = table.cols % max(n_neurons, 1)
    cum = np.cumsum(np.bincount(neuron, minlength=n_neurons))
    total = int(cum[-1]) if cum.size else 0
    inner = np.searchsorted(cum, [total * p / parts for p in range(1, parts)], side="right")
    bounds = np.concatenate([[0], inner, [n_neurons]]).astype(np.int64)
    n_cells = table.indptr.size - 1
    row = np.repeat(np.arange(n_cells), np.diff(table.indptr))
    part = np.searchsorted(bounds[1:-1], neuron, side="right")
    indptr = np.zeros((parts, n_cells + 1), dtype=np.int64)
    picks = []
    offset = 0
    for p in range(parts):
        keep = np.flatnonzero(part == p)  # ascending: CSR order kept
        np.cumsum(np.bincount(row[keep], minlength=n_cells), out=indptr[p, 1:])
        indptr[p] += offset
        offset += keep.size
        picks.append(keep)
    order = np.concatenate(picks) if picks else np.zeros(0, dtype=np.int64)
    return Split(indptr, np.ascontiguousarray(table.target[order]),
                 np.ascontiguousarray(table.weights[order]), bounds)
