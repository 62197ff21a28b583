"""The lock-step core: groups, delayed connections, current sources and recorders, one tick at a time.

Tick ``t`` runs in NEST's order within one time slice:

1. each current source gives the current flowing into its targets during ``t``;
2. every group steps in the order it was added: sources emit, neurons read row ``t`` of the
   delay buffer (input that arrives in ``t``) and integrate;
3. row ``t`` is cleared and each group's spikes are delivered through the connection table
   into rows ``t + d`` (``d >= 1``), so the order of groups never matters;
4. spikes are recorded with time ``(t + 1) * dt`` and state samples taken at ``(t + 1) * dt``.

Steps 2-4 for all groups are one compiled call (``ticks.run_ticks``) that covers a whole
``run(n)`` when no current source or state recorder needs Python between ticks, else one tick
(``step()`` is always one tick). All neuron groups share one ``DelayBuffer``: group ``g`` owns
columns ``offset[g] ..`` of each receptor half. Connections are kept per call to ``connect``
(the handle) and merged into one CSR table over all cells (sources included), rebuilt lazily
after a structural change; setting a handle's weights or delays writes through to the merged
table without a rebuild. Group arrays are handed to the compiled loop as typed lists, re-bound
when a group replaced one (new spike times, constants that stopped being uniform). The loop
is ``ticks.run_ticks`` compiled for the network's neuron models only (``loops.tick_loop``).
``reset()`` puts the tick back to 0, every state to its initial value, clears the buffer and
the recorded data (recorders stay configured: read the data before resetting).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from spinnlive.errors import ConfigurationError

from . import layout, loops, partition, plasticity, plasticity_rules, ticks
from .currents import CurrentSource
from .grid import delay_ticks, tics_per_step
from .plasticity import PlasticState
from .plasticity_rules import Rule
from .recording import SignalRecord, SpikeRecord
from .synapses import ConnectionTable, DelayBuffer

Receptor = str  #: "excitatory", "inhibitory", or another of the model's RECEPTORS
_NO_SPIKES = np.zeros(0, dtype=np.int64)


class Connection:
    """Handle to the synapses made by one ``Network.connect`` call."""

    def __init__(self, net: Network, pre_gid: int, post_gid: int, pre_idx: np.ndarray,
                 post_idx: np.ndarray, weights: np.ndarray, delays: np.ndarray,
                 receptor: Receptor, plastic: PlasticState | None = None) -> None:
        self._net = net
        self.pre_gid, self.post_gid, self.receptor = pre_gid, post_gid, receptor
        self.pre_idx, self.post_idx = pre_idx, post_idx
        self._weights, self._delays = weights, delays
        self._slots: np.ndarray | None = None  # positions in the merged table, once built
        #: the rule's state (None: a static connection)
        self.plastic = plastic
        self._set_weights = weights.copy()  # what reset() returns a learning connection to

    def __len__(self) -> int:
        return int(self.pre_idx.size)

    @property
    def delivers(self) -> bool:
        """False for a neuromodulation (reward) connection: it adds dopamine, not current."""
        return self.plastic is None or self.plastic.rule.KIND != plasticity_rules.REWARD

    @property
    def learns(self) -> bool:
        """Whether the kernel changes these weights (STDP): then the table holds them."""
        return self.plastic is not None and self.plastic.rule.LEARNS

    @property
    def weights(self) -> np.ndarray:
        """Weights (positive magnitudes, the unit of the target model), a copy; a learning
        connection's as learned so far."""
        return self.read_weights()

    @weights.setter
    def weights(self, values: np.ndarray | float) -> None:
        self.write_weights(values)

    def synapses(self, pre: np.ndarray, post: np.ndarray) -> np.ndarray:
        """Positions of the synapses ``pre[i] -> post[i]`` (every synapse of each pair, in
        connection order); a pair without a synapse is an error naming it."""
        pre = np.asarray(pre, dtype=np.int64).ravel()
        post = np.asarray(post, dtype=np.int64).ravel()
        if pre.shape != post.shape:
            raise ConfigurationError("pre and post index arrays differ in length")
        n_post = int(self.post_idx.max(initial=0)) + 1
        keys = self.pre_idx * n_post + self.post_idx
        order = np.argsort(keys, kind="stable")
        want = pre * n_post + post
        valid = (pre >= 0) & (post >= 0) & (post < n_post)
        lo = np.searchsorted(keys[order], want, side="left")
        hi = np.searchsorted(keys[order], want, side="right")
        missing = ~valid | (hi == lo)
        if np.any(missing):
            i = int(np.flatnonzero(missing)[0])
            raise ConfigurationError(
                f"no synapse {int(pre[i])} -> {int(post[i])} in this connection "
                f"({int(missing.sum())} of {pre.size} pairs have none)")
        return np.concatenate([order[a:b] for a, b in zip(lo.tolist(), hi.tolist())]) \
            if pre.size else np.zeros(0, dtype=np.int64)

    def read_weights(self, at: np.ndarray | None = None) -> np.ndarray:
        """Weights of synapses ``at`` (positions, all if None), a copy; between ticks."""
        table = self._net._table
        if self.learns and self._slots is not None and table is not None:
            slots = self._slots if at is None else self._slots[at]
            return table.weights[slots].copy()
        return self._weights.copy() if at is None else self._weights[at]

    def write_weights(self, values: np.ndarray | float, at: np.ndarray | None = None) -> None:
        """Set the weights of synapses ``at`` (positions, all if None); applies from the next
        tick. A Tsodyks-Markram connection keeps them as the base it scales."""
        target = self._weights if at is None else self._weights[at]
        w = np.broadcast_to(np.asarray(values, dtype=np.float64), np.shape(target))
        if np.any(w < 0) or not np.all(np.isfinite(w)):
            raise ConfigurationError("weights are finite magnitudes >= 0; the receptor gives "
                                     "the sign")
        if at is None:
            self._weights[:] = w
        else:
            self._weights[at] = w
        if self.learns:
            if at is None:
                self._set_weights[:] = w
            else:
                self._set_weights[at] = w
        table = self._net._table
        if self._slots is not None and table is not None:
            if self.delivers:
                table.weights[self._slots if at is None else self._slots[at]] = w

    @property
    def delays(self) -> np.ndarray:
        """Delays in ms (whole ticks, as NEST rounds them)."""
        return self._delays * self._net.dt

    @delays.setter
    def delays(self, values_ms: np.ndarray | float) -> None:
        d = self._net._delay_ticks(np.broadcast_to(values_ms, self._delays.shape))
        self._delays[:] = d
        table = self._net._table
        if self._slots is not None and table is not None:
            table.set_delays(self._slots, d)
            if int(d.max(initial=1)) > self._net._buffer.max_delay:
                self._net._buffer.resize(self._net._buffer.n_post, int(d.max()),
                                         self._net.tick)
        if self.plastic is not None:
            self._net._plastic = None  # its index holds the delays


@dataclass(frozen=True)
class _CurrentBinding:
    gid: int
    source: CurrentSource
    targets: slice
    indices: np.ndarray


class Network:
    """A simulation at a fixed ``dt`` (ms) over integer ticks.

    ``threads > 1`` delivers spikes on that many threads (``ticks.run_ticks_parallel``: the
    same sums bit for bit, plastic connections included: the threads share the one table,
    reordered within its rows by ``partition.split_table``); it pays from about a million
    synapses on a machine with an idle core (``bench_seed.py``).
    """

    def __init__(self, dt: float, threads: int = 1) -> None:
        self._tps = tics_per_step(dt)  # validates dt (and costs ~5 us: once, not per tick)
        if int(threads) < 1:
            raise ConfigurationError(f"threads must be >= 1, got {threads}")
        self.dt = float(dt)
        self.threads = int(threads)
        self.tick = 0
        self.groups: list[Any] = []
        self._offsets: list[int] = []
        self._n_neurons = 0
        self._connections: list[Connection] = []
        self._table: ConnectionTable | None = None
        self._buffer = DelayBuffer(0, 1)
        self._currents: list[_CurrentBinding] = []
        self._iext = np.zeros(0)
        self._spike_recs: dict[int, SpikeRecord] = {}
        self._signal_recs: dict[tuple[int, str], SignalRecord] = {}
        self._initial_sample_due = True
        self._dirty = False
        self._meta = np.zeros((0, ticks.META_COLUMNS), dtype=np.int64)
        self._sources: list[tuple[int, Any]] = []
        self._keep_rec = np.zeros(0, dtype=np.int64)
        self._keep_all = np.zeros(0, dtype=np.int64)
        self._counts = np.zeros(0, dtype=np.int64)
        self._no_inj = (np.zeros(0, dtype=np.int64), np.zeros(1, dtype=np.int64))
        self._list: Any = None
        self._bound_at = -1
        self._plastic: Any = None  # typed list of plasticity.kernel_tuple, once built
        self._plastic_conns: list[Connection] = []
        self._fired = np.zeros(64, dtype=np.int64)
        self._log = np.zeros((3, 1024), dtype=np.int64)
        self._bounds = np.zeros(1, dtype=np.int64)
        self._loop: Any = None
        self._parallel_loop: Any = None
        self._split: partition.Split | None = None
        self._spikes = np.zeros(64, dtype=np.int64)  # a tick's spikes (threaded delivery)

    # -- building ---------------------------------------------------------------------------
    def add_group(self, group: Any) -> int:
        """Add a neuron group or a spike source; returns its group id."""
        if abs(group.dt - self.dt) > 1e-12:
            raise ConfigurationError(f"group dt {group.dt} differs from network dt {self.dt}")
        self.groups.append(group)
        self._offsets.append(self._n_neurons)
        if not group.is_source:
            self._n_neurons += group.n * group.lanes
        self._dirty = True
        return len(self.groups) - 1

    def _delay_ticks(self, delays_ms: np.ndarray | float) -> np.ndarray:
        d = delay_ticks(delays_ms, self.dt)
        if d.size and d.min() < 1:
            raise ConfigurationError(
                f"delays must be >= dt = {self.dt} ms (got {np.min(delays_ms)} ms)")
        return d

    def connect(self, pre_gid: int, post_gid: int, pre_idx: np.ndarray, post_idx: np.ndarray,
                weights: np.ndarray | float, delays_ms: np.ndarray | float,
                receptor: Receptor = "excitatory", rule: Rule | None = None) -> Connection:
        """Add synapses ``pre_idx[k] -> post_idx[k]``; weights are magnitudes >= 0.

        ``rule`` (a :class:`~.plasticity.Rule`) makes them plastic; see ``plasticity``.
        """
        pre_g, post_g = self._group(pre_gid), self._group(post_gid)
        if post_g.is_source:
            raise ConfigurationError(f"group {post_gid} is a spike source; it takes no input")
        reward = rule is not None and rule.KIND == plasticity_rules.REWARD
        if not (reward and receptor in ("reward", "punishment")):
            post_g.receptor_column(receptor)  # refuses a receptor the model does not have
            if rule is not None and receptor not in ("excitatory", "inhibitory"):
                raise ConfigurationError(
                    f"plastic synapses reach the excitatory and inhibitory receptors only, "
                    f"not {receptor!r}")
        pre = np.asarray(pre_idx, dtype=np.int64).ravel()
        post = np.asarray(post_idx, dtype=np.int64).ravel()
        if pre.shape != post.shape:
            raise ConfigurationError("pre_idx and post_idx differ in length")
        for idx, g, what in ((pre, pre_g, "pre"), (post, post_g, "post")):
            if idx.size and (idx.min() < 0 or idx.max() >= g.n):
                raise ConfigurationError(f"{what} index out of range 0..{g.n - 1}")
        w = np.array(np.broadcast_to(np.asarray(weights, dtype=np.float64), pre.shape))
        if np.any(w < 0):
            raise ConfigurationError("weights are magnitudes >= 0; the receptor gives the sign")
        d = np.array(self._delay_ticks(np.broadcast_to(delays_ms, pre.shape)))
        state = None if rule is None else PlasticState(rule, pre_g.n, post_g.n, pre.size)
        conn = Connection(self, pre_gid, post_gid, pre, post, w, d, receptor, state)
        self._connections.append(conn)
        self._dirty = True
        return conn

    def add_current(self, gid: int, source: CurrentSource, indices: np.ndarray) -> None:
        """Inject ``source``'s current into neurons ``indices`` of group ``gid``."""
        g = self._group(gid)
        if g.is_source:
            raise ConfigurationError(f"group {gid} is a spike source; it takes no current")
        idx = np.unique(np.asarray(indices, dtype=np.int64))
        if idx.size and (idx[0] < 0 or idx[-1] >= g.n):
            raise ConfigurationError(f"current target out of range 0..{g.n - 1}")
        self._currents.append(_CurrentBinding(gid, source, source.attach(idx.size), idx))
        self._dirty = True

    def record(self, gid: int, variable: str, indices: np.ndarray | None = None) -> None:
        """Record ``'spikes'`` or a state variable of group ``gid`` (all neurons if no indices)."""
        g = self._group(gid)
        idx = None if indices is None else np.asarray(indices, dtype=np.int64)
        if variable == "spikes":
            self._spike_recs[gid] = SpikeRecord(g.n, idx)
            self._dirty = True  # the keep flags
        elif variable in g.state:
            self._signal_recs[(gid, variable)] = SignalRecord(g.state[variable], idx)
        else:
            raise ConfigurationError(
                f"group {gid} ({type(g).__name__}) cannot record {variable!r}; "
                f"it has 'spikes' and {sorted(g.state)}")

    def _group(self, gid: int) -> Any:
        if not 0 <= gid < len(self.groups):
            raise ConfigurationError(f"no group {gid}; there are {len(self.groups)}")
        return self.groups[gid]

    def prepare(self) -> None:
        """Build what changed since the last step now, not in the next tick: a real-time run
        calls this before its clock starts (rebuilding the seed network's tables costs ~6 ms,
        which made its first ticks late)."""
        if self._dirty:
            self._build()

    def _column(self, conn: Connection) -> int:
        """The buffer column of post cell 0 of a connection's receptor lane."""
        g = self.groups[conn.post_gid]
        if conn.receptor in ("reward", "punishment"):  # delivers nothing (see Connection)
            return self._offsets[conn.post_gid]
        half, block = g.receptor_column(conn.receptor)
        return self._offsets[conn.post_gid] + block * g.n + half * self._n_neurons

    def _build(self) -> None:
        """Merge all connections into one table, size the buffer, lay out the group metadata."""
        n, max_d = self._n_neurons, 1
        sizes = np.array([g.n for g in self.groups], dtype=np.int64)
        cells = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        conns = self._connections
        for c in conns:  # what learning connections learned lives in the old table
            if c.learns and c._slots is not None and self._table is not None:
                c._weights[:] = self._table.weights[c._slots]
        if conns:
            pre = np.concatenate([c.pre_idx + cells[c.pre_gid] for c in conns])
            cols = np.concatenate([c.post_idx + self._column(c) for c in conns])
            table = ConnectionTable(int(cells[-1]), pre, cols,
                                    np.concatenate([c._weights if c.delivers else
                                                    np.zeros(len(c)) for c in conns]),
                                    np.concatenate([c._delays for c in conns]))
            start = 0
            for c in conns:
                c._slots = table.order[start:start + len(c)]
                start += len(c)
            max_d = table.max_delay
        else:
            table = ConnectionTable(int(cells[-1]), np.zeros(0, np.int64), np.zeros(0, np.int64),
                                    np.zeros(0), np.zeros(0, np.int64))
        self._table = table
        self._buffer.resize(n, max_d, self.tick)
        table.pack(self._buffer.data.shape[1])
        n_groups = len(self.groups)
        meta = np.zeros((n_groups, ticks.META_COLUMNS), dtype=np.int64)
        for gid, g in enumerate(self.groups):
            meta[gid, ticks.KIND] = g.KIND
            meta[gid, ticks.SIZE] = g.n
            meta[gid, ticks.COLUMN] = 0 if g.is_source else self._offsets[gid]
            meta[gid, ticks.CELL] = cells[gid]
            meta[gid, ticks.LANES] = 0 if g.is_source else g.lanes
        self._meta = meta
        self._sources = [(gid, g) for gid, g in enumerate(self.groups) if g.is_source]
        self._keep_all = np.ones(n_groups, dtype=np.int64)
        self._keep_rec = np.zeros(n_groups, dtype=np.int64)
        self._keep_rec[list(self._spike_recs)] = 1
        if self._counts.size < n_groups:
            self._counts = np.concatenate(
                [self._counts, np.zeros(n_groups - self._counts.size, dtype=np.int64)])
        self._no_inj = (np.zeros(0, dtype=np.int64), np.zeros(n_groups + 1, dtype=np.int64))
        self._bounds = np.zeros(n_groups + 1, dtype=np.int64)
        self._iext = np.zeros(n if self._currents else 0)
        biggest = int(sizes.max(initial=0))
        if self._fired.size < biggest:
            self._fired = np.zeros(biggest, dtype=np.int64)
        self._list = None
        self._plastic = None
        self._loop = loops.tick_loop(self._kernels(),
                                     plastic=any(c.plastic is not None for c in conns))
        self._parallel_loop = None
        self._split = None
        self._dirty = False

    def _bind_plastic(self) -> None:
        """The plastic connections' kernel tuples (a placeholder when there are none)."""
        table = self._table
        assert table is not None
        max_ms = table.max_delay * self.dt
        conns = [c for c in self._connections if c.plastic is not None]
        rewards = self._rewards(conns)
        modulated = [c.plastic.rule.KIND == plasticity_rules.PAIR  # type: ignore[union-attr]
                     and c.post_gid in rewards for c in conns]
        items = []
        for c, mod in zip(conns, modulated):
            if mod:
                c.plastic.modulate()  # type: ignore[union-attr]
            partners = () if c.delivers else tuple(
                p for p, (o, m) in enumerate(zip(conns, modulated))
                if m and o.post_gid == c.post_gid)
            items.append(plasticity.kernel_tuple(
                c.plastic, c.pre_gid, c.post_gid,  # type: ignore[arg-type]
                plasticity.index(c.pre_idx, c.post_idx, c._slots, c._delays,
                                 self.groups[c.pre_gid].n, self.dt),
                c._weights, max_ms, rewards[c.post_gid] if mod else None, partners))
        self._plastic = ticks.typed_list(items or [plasticity.empty_tuple()])
        self._plastic_conns = conns

    @staticmethod
    def _rewards(conns: list[Connection]) -> dict[int, Any]:
        """Per target group, the Reward rule of the neuromodulation connections into it."""
        rewards: dict[int, Any] = {}
        for c in conns:
            if c.delivers:
                continue
            rule = c.plastic.rule  # type: ignore[union-attr]
            if len(c) and np.ptp(c._delays) != 0:
                raise ConfigurationError("a neuromodulation connection needs one delay")
            key = (rule.tau_c, rule.tau_d, int(c._delays[0]) if len(c) else 0)
            first = rewards.setdefault(c.post_gid, (rule, key))
            if first[1] != key:
                raise ConfigurationError(
                    f"the neuromodulation connections into group {c.post_gid} differ in tau_c, "
                    "tau_d or delay; they must share them (their dopamine is one trace)")
        return {gid: rule for gid, (rule, _) in rewards.items()}

    def _adopt_plastic(self) -> None:
        """Take back history rings the kernel grew (it replaces them in the typed list); a
        run that grew none costs a counter read per connection (reading the list: ~2.5 us, a
        tenth of a small plastic network's tick)."""
        for p, c in enumerate(self._plastic_conns):
            if c.plastic.stale:  # type: ignore[union-attr]
                c.plastic.adopt(plasticity.rings(self._plastic, p))  # type: ignore[union-attr]

    def _kernels(self) -> dict[int, Any]:
        return {g.KIND: type(g).KERNEL for g in self.groups if not g.is_source}

    def _bind(self) -> None:
        """Hand the groups' arrays to the compiled loop as one typed list of tuples."""
        self._bound_at = layout.generation()
        self._list = ticks.typed_list([(g._s, g._k, g._i) for g in self.groups])

    def _injected(self) -> tuple[np.ndarray, np.ndarray]:
        """Spikes injected since the last call: ``(indices, per-group pointers)``."""
        per_group = [g.take_injected() if g.is_source else _NO_SPIKES for g in self.groups]
        ptr = np.zeros(len(per_group) + 1, dtype=np.int64)
        np.cumsum([a.size for a in per_group], out=ptr[1:])
        return np.concatenate(per_group), ptr

    # -- running ----------------------------------------------------------------------------
    def _advance(self, n_ticks: int, keep_all: bool) -> np.ndarray:
        """Run ``n_ticks`` compiled; returns the spike log ``[3, n]`` (group, index, tick)."""
        if self._dirty:
            self._build()
        if not self.groups:
            self.tick += n_ticks
            return self._log[:, :0]
        if self._list is None or self._bound_at != layout.generation():
            self._bind()
        meta, sources = self._meta, self._sources
        inj, inj_ptr = self._no_inj
        for gid, g in sources:
            meta[gid, ticks.CURSOR] = g.cursor()
            if g._injected:
                inj, inj_ptr = self._injected()
        table, t0 = self._table, self.tick
        assert table is not None
        split = self._split
        if self.threads > 1 and (split is None or split.ptr.shape[1] != self.threads + 1):
            split = self._split = partition.split_table(table, self._n_neurons, self.threads)
            self._plastic = None  # the plastic index holds slots, which the split moved
        if self._plastic is None:
            self._bind_plastic()
        args = (n_ticks, t0, self.dt, meta, self._keep_all if keep_all else self._keep_rec,
                self._list, self._iext)
        rest = (self._buffer.data, inj, inj_ptr, self._counts, self._bounds, self._fired,
                self._log)
        if self.threads > 1:
            assert split is not None
            if self._parallel_loop is None:
                loops.prefer_sleeping_workers()
                self._parallel_loop = loops.tick_loop(
                    self._kernels(), parallel=True,
                    plastic=any(c.plastic is not None for c in self._connections))
            self._fired, self._log, n_log, self._spikes = self._parallel_loop(
                *args, split.ptr, table.target, table.weights, *rest, self._spikes,
                self._plastic, self._tps)
        else:
            self._fired, self._log, n_log = self._loop(
                *args, table.indptr, table.target, table.weights, *rest, self._plastic,
                self._tps)
        self.tick = t0 + n_ticks
        if self._plastic_conns:
            self._adopt_plastic()
        for gid, g in sources:
            g.advanced(self.tick, int(meta[gid, ticks.CURSOR]))
        return self._log[:, :n_log]

    def _record_spikes(self, log: np.ndarray, bounds: np.ndarray | None) -> None:
        """File the logged spikes of recorded groups (``bounds``: log sorted by group)."""
        for gid, rec in self._spike_recs.items():
            if bounds is None:
                sel = log[0] == gid
                rec.add(log[1, sel], log[2, sel])
            else:
                lo, hi = int(bounds[gid]), int(bounds[gid + 1])
                if hi > lo:  # copies: the log is reused by the next call
                    part = log[1:, lo:hi].copy()
                    rec.add(part[0], part[1])

    def _sample_initial(self) -> None:
        if self._initial_sample_due:
            if self.tick == 0:
                for rec in self._signal_recs.values():
                    rec.sample(0)
            self._initial_sample_due = False

    def _tick_with_python(self) -> tuple[np.ndarray, np.ndarray]:
        """One tick with the currents computed before and the state sampled after.

        Returns the tick's spike log of all groups, sorted by group.
        """
        if self._initial_sample_due:
            self._sample_initial()
        if self._currents:
            if self._dirty:
                self._build()
            t, iext = self.tick, self._iext
            iext[:] = 0.0
            done: dict[int, np.ndarray] = {}
            for b in self._currents:
                vals = done.get(id(b.source))
                if vals is None:
                    vals = done[id(b.source)] = b.source.step(t)
                iext[self._offsets[b.gid] + b.indices] += vals[b.targets]
        log = self._advance(1, keep_all=True)
        bounds = self._bounds if self.groups else np.zeros(1, dtype=np.int64)
        self._record_spikes(log, bounds)
        for rec in self._signal_recs.values():
            rec.sample(self.tick)
        return log, bounds

    def step(self) -> list[np.ndarray]:
        """Run one tick; returns each group's spiking indices in it."""
        log, bounds = self._tick_with_python()
        ids = log[1]
        b = bounds.tolist()
        return [ids[b[g]:b[g + 1]].copy() for g in range(len(self.groups))]

    def run(self, n_ticks: int) -> None:
        """Run ``n_ticks`` ticks (one compiled call unless currents or state recorders)."""
        n_ticks = int(n_ticks)
        if n_ticks <= 0:
            return
        if self._currents or self._signal_recs:
            for _ in range(n_ticks):
                self._tick_with_python()
        else:
            self._sample_initial()
            self._record_spikes(self._advance(n_ticks, keep_all=False), None)

    def spike_counts(self) -> np.ndarray:
        """Spikes emitted per group since the last ``reset()`` (recorded or not), a copy."""
        if self._dirty:
            self._build()
        return self._counts[:len(self.groups)].copy()

    def inject(self, gid: int, indices: np.ndarray) -> None:
        """Extra spikes of source group ``gid``, emitted by the next step."""
        self._source(gid).inject(indices)

    def inject_arrived(self, gid: int, indices: np.ndarray, tick: int) -> bool:
        """Spikes of source group ``gid`` that arrived while ``tick`` was in progress.

        Live input: a SpiNNaker injector core sends a spike the moment it arrives, in the timer
        tick in progress. When that tick has run (``tick == self.tick - 1``) the spikes are
        emitted in it now: delivered into rows ``tick + d`` (never a row already read), counted
        and recorded with ``tick``, so a target ``d`` ticks away sees them in tick ``tick + d``,
        not one tick later; returns True. When no tick was in progress (``tick == self.tick``:
        before a run's first tick) the next step emits them, as ``inject`` does; returns False.
        """
        g = self._source(gid)
        if tick == self.tick:
            g.inject(indices)
            return False
        if tick != self.tick - 1:
            raise ConfigurationError(f"spikes that arrived in tick {tick} cannot be emitted now,"
                                     f" at tick {self.tick}")
        ids = np.array(indices, dtype=np.int64).ravel()  # a copy: the recorder keeps it
        if ids.size and (ids.min() < 0 or ids.max() >= g.n):
            raise ConfigurationError(f"injected index out of range 0..{g.n - 1}")
        if self._dirty:
            self._build()
        table, data, t = self._table, self._buffer.data, int(tick)
        assert table is not None
        if self._plastic is None:
            self._bind_plastic()
        if self._plastic_conns:  # else it matches no group: not compiled for static networks
            plasticity.pre_spikes(self._plastic, gid, ids, ids.size,
                                  (t + 1) * self._tps * 0.001, table.weights)
        ticks.deliver(ids, ids.size, self._meta[gid, ticks.CELL], (t % data.shape[0])
                       * data.shape[1], table.indptr[:-1], table.indptr[1:], table.target,
                       table.weights, data.reshape(-1))
        self._counts[gid] += ids.size
        rec = self._spike_recs.get(gid)
        if rec is not None:
            rec.add(ids, np.full(ids.size, t, dtype=np.int64))
        return True

    def _source(self, gid: int) -> Any:
        g = self._group(gid)
        if not g.is_source:
            raise ConfigurationError(f"group {gid} is not a spike source; cannot inject")
        return g

    def reset(self) -> None:
        """Tick 0, initial states, empty buffers, recorded data cleared (recorders kept)."""
        self.tick = 0
        for g in self.groups:
            g.reset_state()
        for b in self._currents:
            b.source.reset_state()
        self._buffer.clear()
        for rec in self._spike_recs.values():
            rec.clear()
        for srec in self._signal_recs.values():
            srec.clear()
        self._counts[:] = 0
        for c in self._connections:
            if c.plastic is not None:
                c.plastic.reset()
            if c.learns:  # PyNN: reset() returns weights to their initial values
                c.write_weights(c._set_weights.copy())
        self._initial_sample_due = True

    # -- reading ----------------------------------------------------------------------------
    def spikes(self, gid: int) -> tuple[np.ndarray, np.ndarray]:
        """Recorded ``(ids, times_ms)`` of group ``gid``, in time order."""
        rec = self._spike_recs.get(gid)
        if rec is None:
            raise ConfigurationError(f"spikes of group {gid} are not recorded")
        return rec.get(self.dt)

    def signal(self, gid: int, variable: str) -> tuple[np.ndarray, np.ndarray]:
        """Recorded ``(times_ms, values[n_samples, n_recorded])`` of a state variable."""
        rec = self._signal_recs.get((gid, variable))
        if rec is None:
            raise ConfigurationError(f"{variable!r} of group {gid} is not recorded")
        return rec.get(self.dt)

    def connections(self) -> list[Connection]:
        return list(self._connections)

    def weight_table(self) -> np.ndarray:
        """The merged table's weights, the array the tick loop reads (a live view: copy it
        between ticks); a handle's ``_slots`` index it."""
        if self._dirty or self._table is None:
            self._build()
        assert self._table is not None
        return self._table.weights
