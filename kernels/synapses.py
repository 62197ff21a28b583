"""Connections stored CSR by presynaptic neuron, and the ring buffer that holds delayed input.

``DelayBuffer`` has ``max_delay + 1`` rows (one per tick of the ring) and ``2 * n_post`` columns:
column ``c < n_post`` is excitatory input to neuron ``c``, column ``n_post + c`` inhibitory.
A spike emitted in tick ``t`` with delay ``d >= 1`` ticks is added to row ``(t + d) % rows`` and is
read by the target in tick ``t + d``: NEST adds it to the synaptic state at the end of that
update, so it first moves the membrane in tick ``t + d + 1`` -- the same on both sides.
Delivery is event driven: only the rows of the spiking presynaptic neurons are touched, in one
compiled loop (``ticks.deliver``); a presynaptic index that spiked twice in a tick is delivered
twice.
"""

from __future__ import annotations

import numpy as np

from spinnlive.errors import ConfigurationError


class DelayBuffer:
    """Ring buffer of summed synaptic input, ``[tick % rows, receptor * n_post + post]``."""

    def __init__(self, n_post: int, max_delay: int) -> None:
        self.n_post = int(n_post)
        self.data = np.zeros((int(max_delay) + 1, 2 * self.n_post), dtype=np.float64)

    @property
    def max_delay(self) -> int:
        return self.data.shape[0] - 1

    def row(self, tick: int) -> np.ndarray:
        """The input arriving in ``tick`` (excitatory half then inhibitory half), a view."""
        return self.data[tick % self.data.shape[0]]

    def clear_row(self, tick: int) -> None:
        self.data[tick % self.data.shape[0]] = 0.0

    def clear(self) -> None:
        self.data[:] = 0.0

    def resize(self, n_post: int, max_delay: int, tick: int) -> None:
        """Grow to ``n_post`` neurons / ``max_delay`` ticks keeping pending input in place.

        New neurons are appended, so old column ``c`` of each half keeps its neuron.
        """
        n_post, rows = int(n_post), max(int(max_delay) + 1, self.data.shape[0])
        if n_post < self.n_post:
            raise ConfigurationError("a DelayBuffer cannot shrink")
        new = np.zeros((rows, 2 * n_post), dtype=np.float64)
        old_rows, m = self.data.shape[0], self.n_post
        for j in range(old_rows):  # pending input for tick + j keeps its tick
            src = self.data[(tick + j) % old_rows]
            dst = new[(tick + j) % rows]
            dst[:m] = src[:m]
            dst[n_post:n_post + m] = src[m:]
        self.data, self.n_post = new, n_post


class ConnectionTable:
    """Synapses of one presynaptic group in CSR form: row ``i`` lists the targets of neuron ``i``.

    ``cols`` index the columns of a ``DelayBuffer`` (receptor half included); ``order`` maps a
    synapse's position in the arrays given to the constructor to its CSR slot, so callers can
    update weights and delays in place. ``target`` is the packed form the network's tick loop
    reads (one load instead of two, no multiply): ``delays * width + cols``, the synapse's
    cell in the flattened ring counted from the current row, for a buffer ``width`` columns
    wide; ``set_delays`` keeps it in step.
    """

    def __init__(self, n_pre: int, pre_idx: np.ndarray, cols: np.ndarray, weights: np.ndarray,
                 delays: np.ndarray) -> None:
        pre_idx = np.asarray(pre_idx, dtype=np.int64)
        if pre_idx.size and (pre_idx.min() < 0 or pre_idx.max() >= n_pre):
            raise ConfigurationError(f"presynaptic index out of range 0..{n_pre - 1}")
        delays = np.asarray(delays, dtype=np.int64)
        if delays.size and delays.min() < 1:
            raise ConfigurationError("synaptic delays must be at least one tick")
        perm = np.argsort(pre_idx, kind="stable")
        self.order = np.empty_like(perm)
        self.order[perm] = np.arange(perm.size)
        self.indptr = np.zeros(n_pre + 1, dtype=np.int64)
        np.cumsum(np.bincount(pre_idx, minlength=n_pre), out=self.indptr[1:])
        self.cols = np.ascontiguousarray(np.asarray(cols, dtype=np.int64)[perm])
        self.weights = np.ascontiguousarray(np.asarray(weights, dtype=np.float64)[perm])
        self.delays = np.ascontiguousarray(delays[perm])
        self.width = 0
        self.target = np.zeros(0, dtype=np.int64)

    def pack(self, width: int) -> None:
        """Compute ``target`` for a delay buffer ``width`` columns wide."""
        self.width = int(width)
        self.target = self.delays * self.width + self.cols

    def permute(self, perm: np.ndarray) -> None:
        """Move the synapse at slot ``perm[i]`` to slot ``i``; ``perm`` must keep every synapse
        in its row. ``order`` is updated in place, so views of it (a connection's slots)
        follow; so are the arrays (whoever holds ``weights``, as the state plane does, reads the
        new order)."""
        inverse = np.empty_like(perm)
        inverse[perm] = np.arange(perm.size)
        self.order[:] = inverse[self.order]
        for array in (self.cols, self.weights, self.delays, self.target):
            if array.size:
                array[:] = array[perm]

    def set_delays(self, slots: np.ndarray, delays: np.ndarray) -> None:
        """New delays (ticks) for the synapses at CSR ``slots``."""
        self.delays[slots] = delays
        if self.target.size:
            self.target[slots] = self.delays[slots] * self.width + self.cols[slots]

    @property
    def max_delay(self) -> int:
        return int(self.delays.max()) if self.delays.size else 1
