"""The lock-step core: groups, delayed connections, current sources and recorders, one tick at a time.

``Network.step()`` runs tick ``t`` in this order, which is NEST's within one time slice:

1. each current source gives the current flowing into its targets during ``t``;
2. every group steps in the order it was added: sources emit, neurons read row ``t`` of the
   delay buffer (input that arrives in ``t``) and integrate;
3. row ``t`` is cleared, then each group's spikes are delivered through its ``ConnectionTable``
   into rows ``t + d`` (``d >= 1``), so the order of groups never matters;
4. spikes are recorded with time ``(t + 1) * dt`` and state samples taken at ``(t + 1) * dt``.

All neuron groups share one ``DelayBuffer``: group ``g`` owns columns ``offset[g] ..`` of each
receptor half. Connections are kept per call to ``connect`` (the handle) and merged per
presynaptic group into one CSR table, rebuilt lazily after a structural change; setting a
handle's weights or delays writes through to the merged table without a rebuild.
``reset()`` puts the tick back to 0, every state to its initial value, clears the buffer and
the recorded data (recorders stay configured: read the data before resetting).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from spinnlive.errors import ConfigurationError

from .currents import CurrentSource
from .grid import delay_ticks, tics_per_step
from .recording import SignalRecord, SpikeRecord
from .synapses import ConnectionTable, DelayBuffer

Receptor = Literal["excitatory", "inhibitory"]


class Connection:
    """Handle to the synapses made by one ``Network.connect`` call."""

    def __init__(self, net: Network, pre_gid: int, post_gid: int, pre_idx: np.ndarray,
                 post_idx: np.ndarray, weights: np.ndarray, delays: np.ndarray,
                 receptor: Receptor) -> None:
        self._net = net
        self.pre_gid, self.post_gid, self.receptor = pre_gid, post_gid, receptor
        self.pre_idx, self.post_idx = pre_idx, post_idx
        self._weights, self._delays = weights, delays
        self._slots: np.ndarray | None = None  # positions in the merged table, once built

    def __len__(self) -> int:
        return int(self.pre_idx.size)

    @property
    def weights(self) -> np.ndarray:
        """Weights (positive magnitudes, the unit of the target model), a copy."""
        return self._weights.copy()

    @weights.setter
    def weights(self, values: np.ndarray | float) -> None:
        w = np.broadcast_to(np.asarray(values, dtype=np.float64), self._weights.shape)
        if np.any(w < 0):
            raise ConfigurationError("weights are magnitudes >= 0; the receptor gives the sign")
        self._weights[:] = w
        table = self._net._tables.get(self.pre_gid)
        if self._slots is not None and table is not None:
            table.weights[self._slots] = w

    @property
    def delays(self) -> np.ndarray:
        """Delays in ms (whole ticks, as NEST rounds them)."""
        return self._delays * self._net.dt

    @delays.setter
    def delays(self, values_ms: np.ndarray | float) -> None:
        d = self._net._delay_ticks(np.broadcast_to(values_ms, self._delays.shape))
        self._delays[:] = d
        table = self._net._tables.get(self.pre_gid)
        if self._slots is not None and table is not None:
            table.delays[self._slots] = d
            if int(d.max(initial=1)) > self._net._buffer.max_delay:
                self._net._buffer.resize(self._net._buffer.n_post, int(d.max()),
                                         self._net.tick)


@dataclass(frozen=True)
class _CurrentBinding:
    gid: int
    source: CurrentSource
    targets: slice
    indices: np.ndarray


class Network:
    """A simulation at a fixed ``dt`` (ms) over integer ticks."""

    def __init__(self, dt: float) -> None:
        tics_per_step(dt)  # validates dt
        self.dt = float(dt)
        self.tick = 0
        self.groups: list[Any] = []
        self._offsets: list[int] = []
        self._n_neurons = 0
        self._connections: list[Connection] = []
        self._tables: dict[int, ConnectionTable] = {}
        self._buffer = DelayBuffer(0, 1)
        self._currents: list[_CurrentBinding] = []
        self._iext: dict[int, np.ndarray] = {}
        self._spike_recs: dict[int, SpikeRecord] = {}
        self._signal_recs: dict[tuple[int, str], SignalRecord] = {}
        self._initial_sample_due = True
        self._dirty = False

    # -- building ---------------------------------------------------------------------------
    def add_group(self, group: Any) -> int:
        """Add a neuron group or a spike source; returns its group id."""
        if abs(group.dt - self.dt) > 1e-12:
            raise ConfigurationError(f"group dt {group.dt} differs from network dt {self.dt}")
        self.groups.append(group)
        self._offsets.append(self._n_neurons)
        if not group.is_source:
            self._n_neurons += group.n
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
                receptor: Receptor = "excitatory") -> Connection:
        """Add synapses ``pre_idx[k] -> post_idx[k]``; weights are magnitudes >= 0."""
        pre_g, post_g = self._group(pre_gid), self._group(post_gid)
        if post_g.is_source:
            raise ConfigurationError(f"group {post_gid} is a spike source; it takes no input")
        if receptor not in ("excitatory", "inhibitory"):
            raise ConfigurationError(f"unknown receptor {receptor!r}")
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
        conn = Connection(self, pre_gid, post_gid, pre, post, w, d, receptor)
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
        self._iext.setdefault(gid, np.zeros(g.n))

    def record(self, gid: int, variable: str, indices: np.ndarray | None = None) -> None:
        """Record ``'spikes'`` or a state variable of group ``gid`` (all neurons if no indices)."""
        g = self._group(gid)
        idx = None if indices is None else np.asarray(indices, dtype=np.int64)
        if variable == "spikes":
            self._spike_recs[gid] = SpikeRecord(g.n, idx)
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

    def _build(self) -> None:
        """Merge the connections per presynaptic group and size the delay buffer."""
        n, max_d = self._n_neurons, 1
        self._tables = {}
        for pre_gid in {c.pre_gid for c in self._connections}:
            conns = [c for c in self._connections if c.pre_gid == pre_gid]
            cols = [c.post_idx + self._offsets[c.post_gid]
                    + (n if c.receptor == "inhibitory" else 0) for c in conns]
            table = ConnectionTable(
                self.groups[pre_gid].n, np.concatenate([c.pre_idx for c in conns]),
                np.concatenate(cols), np.concatenate([c._weights for c in conns]),
                np.concatenate([c._delays for c in conns]))
            start = 0
            for c in conns:
                c._slots = table.order[start:start + len(c)]
                start += len(c)
            self._tables[pre_gid] = table
            max_d = max(max_d, table.max_delay)
        self._buffer.resize(n, max_d, self.tick)
        self._dirty = False

    # -- running ----------------------------------------------------------------------------
    def step(self) -> list[np.ndarray]:
        """Run one tick; returns each group's spiking indices in it."""
        if self._dirty:
            self._build()
        t, n_all = self.tick, self._n_neurons
        if self._initial_sample_due:
            if t == 0:
                for rec in self._signal_recs.values():
                    rec.sample(0)
            self._initial_sample_due = False
        for iext in self._iext.values():
            iext[:] = 0.0
        done: dict[int, np.ndarray] = {}
        for b in self._currents:
            vals = done.get(id(b.source))
            if vals is None:
                vals = done[id(b.source)] = b.source.step(t)
            self._iext[b.gid][b.indices] += vals[b.targets]
        row = self._buffer.row(t)
        fired: list[np.ndarray] = []
        for gid, g in enumerate(self.groups):
            if g.is_source:
                fired.append(g.step(t))
            else:
                a = self._offsets[gid]
                fired.append(g.step(row[a:a + g.n], row[n_all + a:n_all + a + g.n],
                                    self._iext.get(gid)))
        self._buffer.clear_row(t)
        tables, recs = self._tables, self._spike_recs
        for gid, spikes in enumerate(fired):
            if spikes.size:
                table = tables.get(gid)
                if table is not None:
                    table.deliver(spikes, self._buffer, t)
                rec = recs.get(gid)
                if rec is not None:
                    rec.add(t, spikes)
        self.tick = t + 1
        for rec in self._signal_recs.values():
            rec.sample(t + 1)
        return fired

    def run(self, n_ticks: int) -> None:
        for _ in range(int(n_ticks)):
            self.step()

    def inject(self, gid: int, indices: np.ndarray) -> None:
        """Extra spikes of source group ``gid``, emitted by the next step."""
        g = self._group(gid)
        if not g.is_source:
            raise ConfigurationError(f"group {gid} is not a spike source; cannot inject")
        g.inject(indices)

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
