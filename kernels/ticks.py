"""The compiled tick loop: every group's update and spike delivery for a run of ticks in one call.

``Network`` calls ``run_ticks`` once per ``run`` (or once per tick when current sources or
state recorders need Python between ticks), so a tick costs no Python at all. Per tick ``t``
and per group ``g`` in the order they were added (NEST's order within a time slice):

1. a source emits (Poisson, spike array) / a neuron group reads its columns of ring row
   ``t`` (the input arriving in ``t``), integrates (``neuron_step`` dispatches on the model's
   ``KIND`` to the same kernel ``NeuronGroup.step`` runs) and clears those columns;
2. spikes injected since the last call are appended (first tick of the call only);
3. the group's spikes are delivered at once through the network's CSR table into rows
   ``t + d`` (``1 <= d <= max_delay < rows``, so never into row ``t``, which is why delivering
   group by group is the same as delivering after all groups: each buffer cell receives its
   additions in the same order, group by group, spike by spike, synapse by synapse). The
   table's packed ``target = d * width + column`` is added to row ``t``'s start in the
   flattened ring and wrapped once;
4. if ``meta[g, KEEP]`` is set, ``(g, index, t)`` is appended to the spike log.

Delivery is what a large network's tick costs (~2/3 of it at 100k neurons, 11M synapses), and
it waits on memory twice per spike: the spike's CSR row sits at a random place in the table
(tens of MB), and its targets at random places in the ring. The hardware prefetcher only
follows a row after its first misses, so ``deliver`` asks for the first ``PREFETCH_LINES``
cache lines of the *next* spike's row (targets and weights) before walking the current one:
~20 % less delivery time, ~11 % less per tick at 10k-100k neurons (bench_seed's scaling
table, A/B in one process), and nothing changed in what is added where or in which order.
Tried and dropped: a float32 ring (~35 % faster delivery, but its sums are not NEST's: the NEST
comparisons fail), rows sorted by target (<10 %), prefetching ring cells ahead, staging events
in per-row buckets or delivering at arrival instead of at emission (none faster than the
prefetch; buckets and arrival-time delivery trade the ring misses for more table misses).

Group data arrive as one typed list of ``(s, k, i)`` tuples (state rows, constants, integer
tables; see ``neuron_base`` and ``sources``; one list because unboxing a typed list costs ~0.6
us per call) and one ``meta`` row per group: kind, size, first buffer column (neurons), first
global cell id (row of the CSR table), cursor (spike arrays' read position, updated in place).
``meta[g, LANES]``: buffer columns per neuron in each half (2 for a model with a third
or fourth receptor, ``NeuronGroup.RECEPTORS``). ``keep[g]`` asks for group ``g``'s spikes in the log; ``counts[g]`` accumulates its spike count;
``bounds`` receives where each group's entries of the last tick start in the log (what
``Network.step`` splits by). Growable outputs (``fired`` scratch, ``log``) are returned,
possibly reallocated; nothing is rebound inside a per-neuron or per-synapse loop (see
``sources.grow``).

Compile time: copies and clears are written as loops, never as slice assignments
(``a[i:j] = b``): numba builds a slice assignment from its general broadcasting code, whose
shape-mismatch error messages pull in its string library, ~6 s of a cold compile of 13 s.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
from numba.typed import List

from .neurons_cond import _cond_kernel, _izh_cond_kernel
from .neurons_hh import _hh_kernel
from .neurons_ode import _cond_exp_kernel, _izhikevich_kernel
from .neurons_psc import _psc_alpha_kernel, _psc_delta_kernel, _psc_exp_kernel
from .plasticity import pre_spikes, record_post
from .prefetch import prefetch
from .sources import KIND_ARRAY, KIND_POISSON, emit_array, emit_poisson, grow

# meta columns (LANES: buffer columns per neuron in each receptor half, see neuron_base)
KIND, SIZE, COLUMN, CELL, CURSOR, LANES = range(6)
META_COLUMNS = 6
#: cache lines of the next spike's CSR row fetched ahead (8 int64/float64 synapses a line);
#: 2 and 8 did worse, as did looking two spikes ahead
PREFETCH_LINES = 4


@numba.njit(cache=True)
def neuron_step(kind, s, k, exc, inh, iext, has_iext, out):  # pragma: no cover - compiled
    """One tick of a neuron group of model ``kind`` (``NeuronGroup.KIND``)."""
    if kind == 10 or kind == 19 or kind == 22:  # IF_curr_exp, Ca2Adaptive, dual exp (rows in k)
        return _psc_exp_kernel(s, k, exc, inh, iext, has_iext, out)
    if kind == 11:
        return _psc_alpha_kernel(s, k, exc, inh, iext, has_iext, out)
    if kind == 12:
        return _psc_delta_kernel(s, k, exc, inh, iext, has_iext, out)
    if kind == 13:
        return _cond_exp_kernel(s, k, exc, inh, iext, has_iext, out)
    if kind == 14:
        return _izhikevich_kernel(s, k, exc, inh, iext, has_iext, out)
    if 15 <= kind <= 17:  # IF_cond_alpha, AdEx exp / alpha (flags in k)
        return _cond_kernel(s, k, exc, inh, iext, has_iext, out)
    if kind == 18:
        return _hh_kernel(s, k, exc, inh, iext, has_iext, out)
    if kind == 20 or kind == 21:  # Izhikevich_cond, sPyNNaker's Izhikevich (flag in k)
        return _izh_cond_kernel(s, k, exc, inh, iext, has_iext, out)
    return 0


@numba.njit(cache=True)
def _grow_log(log, need):  # pragma: no cover - compiled
    if need <= log.shape[1]:
        return log
    new = np.empty((log.shape[0], max(need, 2 * log.shape[1])), dtype=log.dtype)
    for r in range(log.shape[0]):
        for i in range(log.shape[1]):
            new[r, i] = log[r, i]
    return new


@numba.njit(cache=True)
def deliver(fired, nf, base, row0, lo, hi, target, weights, flat):  # pragma: no cover - compiled
    """Add the input of spikes ``fired[:nf]`` of the group whose first cell is ``base``, emitted
    in the tick whose ring row starts at ``row0`` of the flattened ring ``flat``: cell ``c``'s
    synapses are ``lo[c]:hi[c]`` of ``target``/``weights`` (the whole table's rows:
    ``indptr[:-1]``, ``indptr[1:]``; one thread's part of them: two columns of a
    ``partition.Split``)."""
    size = flat.shape[0]
    for q in range(nf):
        if q + 1 < nf:  # the next spike's row: see the module docstring
            ahead = lo[base + fired[q + 1]]
            for line in range(PREFETCH_LINES):
                prefetch(target, ahead + 8 * line)
                prefetch(weights, ahead + 8 * line)
        c = base + fired[q]
        for syn in range(lo[c], hi[c]):
            x = row0 + target[syn]
            if x >= size:
                x -= size
            flat[x] += weights[syn]


@numba.njit(cache=True)
def emit_group(g, first, t, dt, row, n_all, meta, groups, iext, inj, inj_ptr,
               fired):  # pragma: no cover - compiled
    """Group ``g``'s spikes of tick ``t`` into ``fired[:nf]``; returns ``(fired, nf)``.

    A source emits; a neuron group reads its columns of the tick's ring ``row``, integrates and
    clears them; on the ``first`` tick of a call the spikes injected since the last call are
    appended.
    """
    kind, n, col = meta[g, KIND], meta[g, SIZE], meta[g, COLUMN]
    gs, gk, gi = groups[g]
    has_iext = iext.shape[0] > 0
    nf = np.int64(0)  # not the literal 0: a callee would compile once more for Literal[int](0)
    if kind == KIND_POISSON:
        j = np.int64(0)
        t_end = (t + 1) * dt
        while True:
            nf, j = emit_poisson(gs, gk, gi, t_end, fired, nf, j)
            if j >= n:
                break
            fired = grow(fired, nf + 1)
    elif kind == KIND_ARRAY:
        while True:
            nf, meta[g, CURSOR], done = emit_array(gi, meta[g, CURSOR], t, fired, nf)
            if done:
                break
            fired = grow(fired, nf + 1)
    elif kind >= 10:
        m = n * meta[g, LANES]  # a model with more than two receptors reads lanes 2, 3 at n..
        exc = row[col:col + m]
        inh = row[n_all + col:n_all + col + m]
        ie = iext[col:col + n] if has_iext else iext
        nf = neuron_step(kind, gs, gk, exc, inh, ie, has_iext, fired)
        for j in range(m):
            exc[j] = 0.0
            inh[j] = 0.0
    if first and inj_ptr[g + 1] > inj_ptr[g]:
        m = inj_ptr[g + 1] - inj_ptr[g]
        if nf + m > fired.shape[0]:
            fired = grow(fired, nf + m)
        for q in range(m):
            fired[nf + q] = inj[inj_ptr[g] + q]
        nf += m
    return fired, nf


@numba.njit(cache=True)
def _log_spikes(log, n_log, g, fired, nf, t):  # pragma: no cover - compiled
    """Append ``(g, fired[q], t)`` for ``q < nf``; returns ``(log, n_log)``."""
    if n_log + nf > log.shape[1]:
        log = _grow_log(log, n_log + nf)
    for q in range(nf):
        log[0, n_log] = g
        log[1, n_log] = fired[q]
        log[2, n_log] = t
        n_log += 1
    return log, n_log


@numba.njit(cache=True)
def _plastic_spikes(plastic, g, meta, fired, nf, t, tps, weights):  # pragma: no cover
    """Group ``g``'s spikes of tick ``t``: archived for the plastic connections into it, and
    the synapses of the plastic connections out of it updated before their delivery."""
    if nf > 0:
        t_ms = (t + 1) * tps * 0.001
        if meta[g, KIND] >= 10:
            record_post(plastic, g, fired, nf, t_ms)
        pre_spikes(plastic, g, fired, nf, t_ms, weights)


@numba.njit(cache=True)
def run_ticks(n_ticks, t0, dt, meta, keep, groups, iext, indptr, target, weights, buf,
              inj, inj_ptr, counts, bounds, fired, log, plastic, tps):  # pragma: no cover
    """Advance ticks ``t0 .. t0 + n_ticks - 1``; returns ``(fired, log, n_log)``.

    ``bounds[g]:bounds[g + 1]`` are group ``g``'s entries of the last tick in the log.
    ``plastic``: the plastic connections (``plasticity.kernel_tuple``): a group's spikes are
    archived for the plastic connections into it and update those out of it before their
    delivery; ``tps``: tics per tick, for NEST's spike times in ms.
    """
    n_log = np.int64(0)  # not the literal 0 (see emit_group)
    rows, width = buf.shape[0], buf.shape[1]
    flat = buf.reshape(rows * width)
    lo, hi = indptr[:-1], indptr[1:]
    for step in range(n_ticks):
        t = t0 + step
        r0 = t % rows
        for g in range(meta.shape[0]):
            bounds[g] = n_log
            fired, nf = emit_group(g, step == 0, t, dt, buf[r0], width // 2, meta, groups, iext,
                                   inj, inj_ptr, fired)
            counts[g] += nf
            _plastic_spikes(plastic, g, meta, fired, nf, t, tps, weights)
            deliver(fired, nf, meta[g, CELL], r0 * width, lo, hi, target, weights, flat)
            if keep[g] != 0 and nf > 0:
                log, n_log = _log_spikes(log, n_log, g, fired, nf, t)
        bounds[meta.shape[0]] = n_log
    return fired, log, n_log


@numba.njit(cache=True, parallel=True)
def run_ticks_parallel(n_ticks, t0, dt, meta, keep, groups, iext, ptr, target, weights,
                       buf, inj, inj_ptr, counts, bounds, fired, log, spikes, plastic,
                       tps):  # pragma: no cover - compiled
    """``run_ticks`` with the delivery split over threads: part ``p`` of cell ``c``'s synapses
    is ``ptr[c, p]:ptr[c, p + 1]`` of the table's ``target``/``weights`` (a
    ``partition.Split``), the parts' target cells disjoint.

    Per tick every group emits first (one thread), in order, each right followed by its
    plasticity updates as in ``run_ticks`` (a connection's weights change only at its own
    presynaptic spikes, so deferring the delivery past later groups' updates reads the same
    weights), its spikes gathered in ``spikes``; then each part delivers all of them, group by
    group, spike by spike, into its own cells, so every cell receives its additions in the
    order ``run_ticks`` adds them: the same sums, bit for bit. Emitting all groups before
    delivering is ``run_ticks``' order too (a delivery never writes the row being read).
    Returns ``(fired, log, n_log, spikes)``.
    """
    n_log = np.int64(0)  # not the literal 0 (see emit_group)
    n_groups = meta.shape[0]
    rows, width = buf.shape[0], buf.shape[1]
    flat = buf.reshape(rows * width)
    ptr_g = np.zeros(n_groups + 1, dtype=np.int64)
    for step in range(n_ticks):
        t = t0 + step
        r0 = t % rows
        for g in range(n_groups):
            bounds[g] = n_log
            fired, nf = emit_group(g, step == 0, t, dt, buf[r0], width // 2, meta, groups, iext,
                                   inj, inj_ptr, fired)
            counts[g] += nf
            _plastic_spikes(plastic, g, meta, fired, nf, t, tps, weights)
            spikes = grow(spikes, ptr_g[g] + nf)
            for q in range(nf):
                spikes[ptr_g[g] + q] = fired[q]
            ptr_g[g + 1] = ptr_g[g] + nf
            if keep[g] != 0 and nf > 0:
                log, n_log = _log_spikes(log, n_log, g, fired, nf, t)
        bounds[n_groups] = n_log
        for p in numba.prange(ptr.shape[1] - 1):
            lo, hi = ptr[:, p], ptr[:, p + 1]
            for g in range(n_groups):
                deliver(spikes[ptr_g[g]:], ptr_g[g + 1] - ptr_g[g], meta[g, CELL], r0 * width,
                        lo, hi, target, weights, flat)
    return fired, log, n_log, spikes


@numba.njit(cache=True)
def _new_list(first):  # pragma: no cover - compiled
    out = List()
    out.append(first)
    return out


@numba.njit(cache=True)
def _append(lst, item):  # pragma: no cover - compiled
    lst.append(item)


def typed_list(items: list[Any]) -> List:
    """A numba typed list of ``items`` (all of one numba type; arrays are not copied).

    Built by compiled (cached) helpers: numba's Python-side ``List`` constructor compiles its
    methods in every new process.
    """
    out = _new_list(items[0])
    for item in items[1:]:
        _append(out, item)
    return out
