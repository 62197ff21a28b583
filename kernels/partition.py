"""The connection table split by target neuron, for delivery on several threads.

``ticks.run_ticks_parallel`` hands part ``p`` of every spike's synapses to thread ``p``. The
parts must be disjoint in their target *cells* (a cell written by one thread only, so no atomics
and no races) and keep each row's synapses in their CSR order (so each cell receives its
additions in the order the one-thread loop adds them: the same floating-point sums). Splitting
by target neuron does both: part ``p`` holds the synapses onto neurons ``bounds[p] ..
bounds[p + 1] - 1``, both receptor halves, and the bounds are chosen so the parts hold about the
same number of synapses (the delivery work), not the same number of neurons.

The split is not a copy: :func:`split_table` reorders the table itself, within each row, so
that a row holds part 0's synapses, then part 1's, and so on, each part in the row's order. A
cell's synapses are all in one part, so their order within the row, and with it every sum the
one-thread loop makes, is unchanged: both loops read the one table, and plasticity updates
its weights in place for both (its ``order`` is permuted in place, so the connections' slots,
views of it, follow). Weight and delay writes need no new split; a rebuilt table does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .synapses import ConnectionTable


@dataclass(frozen=True)
class Split:
    """Part ``p`` of cell ``c``'s synapses: ``ptr[c, p]:ptr[c, p + 1]`` of the table's
    ``target``/``weights`` (``ptr[c, 0]``, ``ptr[c, parts]``: the row's bounds)."""

    ptr: np.ndarray
    bounds: np.ndarray  #: first neuron of each part, then the number of neurons


def split_table(table: ConnectionTable, n_neurons: int, parts: int) -> Split:
    """Reorder ``table`` (``pack``ed) in place into ``parts`` parts by target neuron, balanced
    by synapse count, within each row (module docstring); returns where the parts lie."""
    neuron = table.cols % max(n_neurons, 1)
    cum = np.cumsum(np.bincount(neuron, minlength=n_neurons))
    total = int(cum[-1]) if cum.size else 0
    inner = np.searchsorted(cum, [total * p / parts for p in range(1, parts)], side="right")
    bounds = np.concatenate([[0], inner, [n_neurons]]).astype(np.int64)
    n_cells = table.indptr.size - 1
    row = np.repeat(np.arange(n_cells), np.diff(table.indptr))
    part = np.searchsorted(bounds[1:-1], neuron, side="right")
    key = row * parts + part
    table.permute(np.argsort(key, kind="stable"))  # stable: each part keeps the row's order
    ptr = np.empty((n_cells, parts + 1), dtype=np.int64)
    ptr[:, 0] = table.indptr[:-1]
    per_part = np.bincount(key, minlength=n_cells * parts).reshape(n_cells, parts)
    ptr[:, 1:] = table.indptr[:-1, None] + np.cumsum(per_part, axis=1)
    return Split(ptr, bounds)
