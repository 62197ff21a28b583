"""Plastic synapses: the per-synapse state beside the static CSR rows, and the compiled updates.

Why this shape
--------------
A plastic projection's synapses stay in the network's merged ``ConnectionTable``: delivery is
the static path (``ticks.deliver`` adds ``table.weights[syn]``), unchanged. What plasticity
adds is, per projection, an index of its synapses by presynaptic neuron (``slot``: positions
in the merged table, ``post``: local target index, ``dms``: the delay in ms) and the state of
its rule, all numpy arrays handed to the compiled tick loop as one tuple per projection in a
typed list (:func:`kernel_tuple`). The update runs when a presynaptic spike is emitted, right
before its delivery, so the spike carries the weight *after* its own update, as NEST sends it.

Rules (NEST 3.10 semantics, the way pyNN.nest maps PyNN's synapse types):

* ``SpikePair`` = ``stdp_synapse`` (all-to-all pairing): at a presynaptic spike at ``t``
  through a synapse of delay ``d`` (NEST takes all of it as dendritic), facilitate once per
  postsynaptic spike ``t_post`` with ``t_last - d < t_post <= t - d`` using the presynaptic
  trace, then depress with the postsynaptic trace just before ``t - d``. Additive and
  multiplicative weight dependences are its ``mu_plus``/``mu_minus`` of 0 and 1.
* ``NearestPair`` = ``stdp_nn_symm_synapse``: the same window, each of its postsynaptic spikes
  facilitates with ``exp(-(t_post + d - t_last) / tau_plus)`` (a unit presynaptic trace reset
  at ``t_last``), depression by the nearest earlier postsynaptic spike alone.
* ``Vogels`` = ``vogels_sprekeler_synapse``: facilitation for every pairing, both ways, and a
  constant depression ``alpha * eta`` per presynaptic spike.
* ``Triplet`` = ``stdp_triplet_synapse`` (Pfister & Gerstner 2006, all-to-all).
* ``Tsodyks`` = ``tsodyks_synapse``: the delivered amount is ``weight * u * x`` of the
  synapse's resources; the weight itself does not change. ``U``, ``tau_rec`` and ``tau_fac``
  are per synapse, as NEST keeps them (columns ``S_BIG_U`` on of ``syn_s``, beside the
  synapse's x, y, u and last spike: one row read per delivered spike); ``tau_psc`` is the
  target's, one per connection.
* ``Bernoulli`` = ``bernoulli_synapse`` (PyNN's SimpleStochasticSynapse): at each spike, each
  synapse's weight crosses with its probability ``p`` (per synapse, ``syn_s``), else nothing;
  the draw is a hash of the connection's seed, the synapse and the spike time.
* ``Quantal`` = ``quantal_stp_synapse`` (PyNN's MultiQuantalSynapse): ``n`` release sites
  that recover and release stochastically (the rule's docstring), the same draws.
* ``StochasticTsodyks`` = pyNN.nest's ``stochastic_stp_synapse`` extension (one release site
  with the Tsodyks-Markram u and Poisson recovery), the same draws.
* ``Reward`` (sPyNNaker's ``Neuromodulation``, reward-modulated STDP in the form of NEST's
  ``stdp_dopamine_synapse`` with ``b = 0``): a reward connection's spike adds ``±weight`` to
  its targets' dopamine trace D one delay later (``dopa``/``dc``: a ring per target, in each
  modulated connection, time and D after the arrival). A SpikePair connection into targets
  that a reward connection reaches runs as ``DOPAMINE``: at a presynaptic spike it walks, in
  time order, the postsynaptic spikes (as seen at the synapse, ``t_post + d``) and dopamine
  arrivals since its last spike, integrating dw/dt = c·D exactly between events
  (``Δw = c·D·τs·(1 - e^(-Δ/τs))``, 1/τs = 1/τc + 1/τd, then clipped to [w_min, w_max]), adding
  ``a_plus·w_max·K+`` to c at each postsynaptic spike and subtracting ``a_minus·w_max·K-`` at
  its own spike (the amplitudes relative to w_max, as in the unmodulated additive rule). Like NEST (without a volume transmitter's periodic update) the weight is brought up
  to date at presynaptic spikes only.

The presynaptic traces (``pre_s``: K+, t_last, K+ triplet) are kept per presynaptic neuron:
NEST keeps them per synapse, but they only depend on the presynaptic spike train and the
projection's time constants, so all synapses of one neuron in one projection hold equal
values. Postsynaptic spikes are archived per target neuron in a ring (``hist[k, i]`` = time in
ms, K- and K- triplet after the spike, one entry's 24 bytes together, so a pairing reads one
or two cache lines; ``hc[k]`` spikes so far). An entry may be overwritten
only once it is older than ``window`` ms (the largest delay plus 50 of the largest time
constant): every pairing it could still take part in is weighted by less than ``e**-50``.
When a spike would overwrite a younger entry the ring doubles (:func:`_grow`), so nothing a
pairing can see is ever lost.

Beside each ring, ``last[k]`` is a compact copy of what a presynaptic spike needs in the
common case: target ``k``'s two newest archived spikes (time, K-, K- triplet each, the newest
first) and the time of the one before them (``-inf`` where there is none). Sixty-four bytes
per target, one cache line (the array is line-aligned), where the ring is one to three lines
at another random place: a spike whose window and trace need only those two spikes is updated
from ``last`` alone (:func:`_from_records`), with the very values, comparisons and arithmetic,
in the same order, the archive walk would use; any other case walks the archive. A window
holds three or more postsynaptic spikes about one time in eight when both sides fire as
Poisson trains at one rate (the previous record, the newest spike alone, served about half
the windows; the walk's cache misses on the rings were the largest cost of a plastic tick).

Times are in ms computed from integer ticks as NEST computes them from tics
(``(tick + 1) * tics_per_step * 0.001``), so the windows' comparisons (with NEST's
``stdp_eps``) and the exponentials take the same arguments as NEST's.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np

from spinnlive.errors import ConfigurationError

from .plasticity_rules import (
    BERNOULLI,
    DOPAMINE,
    I_KIND,
    I_POST,
    I_PRE,
    N_PARAMS,
    NEAREST,
    P_A3_MINUS,
    P_A3_PLUS,
    P_ALPHA,
    P_LAMBDA,
    P_MU_MINUS,
    P_MU_PLUS,
    P_SEED,
    P_SIGN,
    P_TAU_C,
    P_TAU_D,
    P_TAU_MINUS,
    P_TAU_PLUS,
    P_TAU_X,
    P_TAU_Y,
    P_WINDOW,
    P_WMAX,
    P_WMIN,
    Q_A,
    Q_BIG_U,
    Q_N,
    Q_T,
    Q_TAU_FAC,
    Q_TAU_REC,
    Q_U,
    QUANTAL,
    R_BIG_U,
    R_R,
    R_T,
    R_T_SURV,
    R_TAU_FAC,
    R_TAU_REC,
    R_U,
    REWARD,
    S_BIG_U,
    S_P,
    S_TAU_FAC,
    S_TAU_PSC,
    S_TAU_REC,
    STOCHASTIC_TM,
    TRIPLET,
    TSODYKS,
    VOGELS,
    Rule,
)
from .prefetch import prefetch

STDP_EPS = 1.0e-6  # NEST's connection_manager stdp_eps (ms)
#: archived spikes per target kept in ``PlasticState.last`` beside the ring (newest first;
#: ``_from_records`` reads exactly two)
NEWEST = 2
# columns of ``PlasticState.last``: spike ``m`` (0 the newest) at ``3 * m + LAST_T`` (time),
# ``+ LAST_KM`` (K- after it), ``+ LAST_KY`` (K- triplet); then the time of the spike before them
LAST_T, LAST_KM, LAST_KY = range(3)
LAST_T_BEFORE = 3 * NEWEST
LAST_WIDTH = 8  # 64 bytes: one cache line per target
HISTORY = 8  # initial ring entries per postsynaptic neuron (a power of two; rings double)
_WINDOW_TAUS = 50.0


class PlasticState:
    """The state of one plastic connection (``Network.connect(..., rule=...)``).

    Arrays are in the connection's own order (``k``: its ``k``-th synapse) except the CSR index,
    rebuilt with the merged table (``index``). ``reset()`` returns traces and resources to
    their initial values (the weights are the network's business).
    """

    def __init__(self, rule: Rule, n_pre: int, n_post: int, n_syn: int) -> None:
        rule.check()
        self.rule = rule
        self.n_pre, self.n_post, self.n_syn = int(n_pre), int(n_post), int(n_syn)
        self.params = rule.vector()
        self.pre_s = np.zeros((self.n_pre, 3))
        # per synapse: the rule's state, then its parameters (Tsodyks: x, y, u, last spike,
        # U, tau_rec, tau_fac; Bernoulli: p); a modulated SpikePair's eligibility (modulate)
        per_synapse = rule.per_synapse(self.n_syn)
        width = rule.SYNAPSE_STATE + per_synapse.shape[1]
        self.syn_s = np.zeros((self.n_syn, width) if width else (0, 4))
        if width:
            self.syn_s[:, rule.SYNAPSE_STATE:] = per_synapse
        self.dopa = np.zeros((0, 1, 2))  # a modulated connection's dopamine rings
        self.dc = np.zeros(0, dtype=np.int64)
        self.hist = np.zeros((self.n_post, HISTORY, 3))
        self.hc = np.zeros(self.n_post, dtype=np.int64)
        self.last = _line_aligned(self.n_post, LAST_WIDTH)
        #: rings the kernel grew so far (it counts them, so ``Network`` takes the new arrays
        #: back only after a run that grew one, not after every tick)
        self.grown = np.zeros(1, dtype=np.int64)
        self.adopted = 0  #: ``grown`` when the rings were last taken back
        #: state column -> per-synapse initial values a script set (they outlive resets)
        self.initial: dict[int, np.ndarray] = {}
        self.reset()

    def reset(self) -> None:
        self.pre_s[:] = 0.0
        n_state = self.rule.SYNAPSE_STATE  # the state restarts; the parameters stay
        self.syn_s[:, :n_state] = self.rule.initial_state(self.syn_s[:, n_state:])
        for column, values in self.initial.items():  # what Projection.initialize set
            self.syn_s[:, column] = values
        self.hc[:] = 0
        self.hist[:] = 0.0
        self.last[:] = 0.0
        for m in range(NEWEST):
            self.last[:, 3 * m + LAST_T] = -np.inf
        self.last[:, LAST_T_BEFORE] = -np.inf
        self.dopa[:] = 0.0
        self.dc[:] = 0
        if self.dc.size:
            self.syn_s[:] = 0.0  # a modulated connection's eligibility

    def initialize(self, column: int, values: np.ndarray) -> None:
        """Set a state column of every synapse now and at every reset (``initialize``)."""
        self.initial[column] = np.broadcast_to(np.asarray(values, dtype=float), (self.n_syn,))
        self.syn_s[:, column] = self.initial[column]

    def retune(self, rule: Rule) -> None:
        """New per-synapse parameters of the same rule (``Projection.set`` between runs),
        written into ``syn_s``, the array the kernel holds; traces and resources go on from
        where they are. The shared params row is copied into the kernel's tuple when the
        network is built, so it may not change here."""
        if rule.KIND != self.rule.KIND or not np.array_equal(rule.vector(), self.params):
            raise ConfigurationError(
                f"a {type(self.rule).__name__} connection takes new per-synapse parameters "
                f"between runs, not {type(rule).__name__} with other shared ones")
        rule.check()
        self.rule = rule
        per_synapse = rule.per_synapse(self.n_syn)
        if per_synapse.shape[1]:
            self.syn_s[:, rule.SYNAPSE_STATE:] = per_synapse

    @property
    def stale(self) -> bool:
        """Whether the kernel grew a ring since :meth:`adopt` (the arrays here are old)."""
        return int(self.grown[0]) != self.adopted

    def adopt(self, rings: tuple[np.ndarray, np.ndarray]) -> None:
        """Take back the arrays the kernel replaced (grown rings, see :func:`rings`)."""
        self.hist, self.dopa = rings
        self.adopted = int(self.grown[0])

    def modulate(self) -> None:
        """Give a SpikePair connection the state of reward modulation (eligibility, dopamine)."""
        if self.dc.size != self.n_post:
            self.syn_s = np.zeros((self.n_syn, 4))
            self.dopa = np.zeros((self.n_post, HISTORY, 2))
            self.dc = np.zeros(self.n_post, dtype=np.int64)


def _line_aligned(rows: int, width: int) -> np.ndarray:
    """Zeros ``(rows, width)`` float64 starting on a 64-byte boundary (a ``width`` of 8: one
    row per cache line, never two)."""
    raw = np.zeros(rows * width + 8)
    skip = (-raw.ctypes.data % 64) // 8
    return raw[skip:skip + rows * width].reshape(rows, width)


def index(pre_idx: np.ndarray, post_idx: np.ndarray, slots: np.ndarray, delay_ticks: np.ndarray,
          n_pre: int, dt_ms: float) -> tuple[np.ndarray, ...]:
    """CSR over presynaptic neurons of one connection: ``(indptr, slot, post, syn, dms)``.

    ``syn`` is each entry's position in the connection; within a presynaptic neuron entries keep
    the connection's order (NEST meets a neuron's synapses in creation order).
    """
    order = np.argsort(pre_idx, kind="stable")
    indptr = np.zeros(n_pre + 1, dtype=np.int64)
    np.cumsum(np.bincount(pre_idx, minlength=n_pre), out=indptr[1:])
    return (indptr, np.ascontiguousarray(slots[order], dtype=np.int64),
            np.ascontiguousarray(post_idx[order], dtype=np.int64), order.astype(np.int64),
            np.ascontiguousarray(delay_ticks[order] * dt_ms, dtype=np.float64))


def kernel_tuple(state: PlasticState, pre_gid: int, post_gid: int, csr: tuple[np.ndarray, ...],
                 base_w: np.ndarray, max_delay_ms: float, reward: Any = None,
                 partners: tuple[int, ...] = ()) -> tuple[Any, ...]:
    """The tuple the compiled loop takes for one plastic connection.

    ``reward`` (a ``Reward`` rule) runs a SpikePair connection reward-modulated; a reward
    connection's ``partners`` are the list positions of the connections it modulates.
    """
    kind = DOPAMINE if reward is not None else state.rule.KIND
    ints = np.array([kind, pre_gid, post_gid, *partners], dtype=np.int64)
    params = state.params.copy()
    taus = state.rule.taus()
    if reward is not None:
        params[P_TAU_C], params[P_TAU_D] = reward.tau_c, reward.tau_d
        taus = (*taus, reward.tau_c, reward.tau_d)
    params[P_WINDOW] = max_delay_ms + _WINDOW_TAUS * max(taus, default=0.0)
    indptr, slot, post, syn, dms = csr
    return (ints, indptr, slot, post, syn, dms, params, state.pre_s, state.syn_s, base_w,
            state.hist, state.hc, state.dopa, state.dc, state.last, state.grown)


def empty_tuple() -> tuple[Any, ...]:
    """A placeholder entry (matching no group) so the typed list is never empty."""
    z, zf = np.zeros(0, dtype=np.int64), np.zeros(0)
    return (np.array([0, -1, -1], dtype=np.int64), np.zeros(1, dtype=np.int64), z, z, z, zf,
            np.zeros(N_PARAMS), np.zeros((0, 3)), np.zeros((0, 4)), zf, np.zeros((0, 1, 3)), z,
            np.zeros((0, 1, 2)), z, np.zeros((0, LAST_WIDTH)), np.zeros(1, dtype=np.int64))


# -- compiled ----------------------------------------------------------------------------------
@numba.njit(cache=True)
def rings(plastic, p):  # pragma: no cover - compiled
    """Connection ``p``'s current spike and dopamine rings. Compiled and cached: reading a
    typed list's items from Python would compile its item access anew in every process
    (~3 s for these tuples)."""
    item = plastic[p]
    return item[10], item[12]


@numba.njit(cache=True)
def _grow(hist, hc):  # pragma: no cover - compiled
    """Double the history rings, keeping each neuron's entries at ``count % new_size``."""
    n, h = hist.shape[0], hist.shape[1]
    h2 = 2 * h
    new = np.zeros((n, h2, hist.shape[2]))
    for j in range(n):
        c = hc[j]
        for i in range(max(0, c - h), c):
            new[j, i % h2, :] = hist[j, i % h, :]
    return new


@numba.njit(cache=True)
def record_post(plastic, g, fired, nf, t_ms):  # pragma: no cover - compiled
    """Archive the spikes ``fired[:nf]`` of group ``g`` (at ``t_ms``) for its plastic inputs."""
    for p in range(len(plastic)):
        item = plastic[p]
        ints, params = item[0], item[6]
        if ints[I_POST] != g or nf == 0:
            continue
        if ints[I_KIND] in (TSODYKS, REWARD, BERNOULLI, QUANTAL, STOCHASTIC_TM):
            continue
        hist, hc, last = item[10], item[11], item[14]
        inv_m = 1.0 / params[P_TAU_MINUS]
        inv_y = 1.0 / params[P_TAU_Y] if ints[I_KIND] == TRIPLET else 0.0
        window = params[P_WINDOW]
        for q in range(nf):
            j = fired[q]
            c = hc[j]
            h = hist.shape[1]
            if c >= h and hist[j, c % h, 0] > t_ms - window:
                hist = _grow(hist, hc)
                plastic[p] = (ints, item[1], item[2], item[3], item[4], item[5], params, item[7],
                              item[8], item[9], hist, hc, item[12], item[13], item[14],
                              item[15])
                item[15][0] += 1
                h = hist.shape[1]
            rec = last[j]  # hist[j, (c - 1 - m) % h] at 3 * m, where c > m
            if c > 0:
                km = rec[LAST_KM] * np.exp((rec[LAST_T] - t_ms) * inv_m) + 1.0
                ky = rec[LAST_KY] * np.exp((rec[LAST_T] - t_ms) * inv_y) + 1.0
            else:
                km = 1.0
                ky = 1.0
            entry = hist[j, c % h]
            entry[0] = t_ms
            entry[1] = km
            entry[2] = ky
            hc[j] = c + 1
            rec[LAST_T_BEFORE] = rec[3 * (NEWEST - 1) + LAST_T]
            for m in range(NEWEST - 1, 0, -1):
                rec[3 * m + LAST_T] = rec[3 * (m - 1) + LAST_T]
                rec[3 * m + LAST_KM] = rec[3 * (m - 1) + LAST_KM]
                rec[3 * m + LAST_KY] = rec[3 * (m - 1) + LAST_KY]
            rec[LAST_T], rec[LAST_KM], rec[LAST_KY] = t_ms, km, ky


# ``_rule_scalars``' positions: the rule's parameters that the per-synapse helpers read
R_WMAX, R_WMIN, R_LAMBDA, R_ALPHA, R_MU_PLUS, R_MU_MINUS, R_A3_PLUS, R_A3_MINUS = range(8)


@numba.njit(cache=True, inline="always")
def _rule_scalars(pr):  # pragma: no cover - compiled
    """The parameters the per-synapse helpers read, as a tuple of floats: passing the ``pr``
    array to them cost two reference counts (atomic) per synapse and call."""
    return (pr[P_WMAX], pr[P_WMIN], pr[P_LAMBDA], pr[P_ALPHA], pr[P_MU_PLUS], pr[P_MU_MINUS],
            pr[P_A3_PLUS], pr[P_A3_MINUS])


@numba.njit(cache=True, inline="always")
def _facilitate(kind, w, k, ky, rp):  # pragma: no cover - compiled
    wmax = rp[R_WMAX]
    if kind == VOGELS:
        return min(w + rp[R_LAMBDA] * k, wmax)
    if kind == TRIPLET:
        new_w = w + k * (rp[R_LAMBDA] + rp[R_A3_PLUS] * ky)
        return new_w if new_w < wmax else wmax
    mu = rp[R_MU_PLUS]  # pow(x, 0) is 1 exactly: skip the call for additive rules
    norm_w = w / wmax + rp[R_LAMBDA] * (1.0 if mu == 0.0 else (1.0 - w / wmax) ** mu) * k
    return norm_w * wmax if norm_w < 1.0 else wmax


@numba.njit(cache=True, inline="always")
def _depress(kind, w, k, kx, rp):  # pragma: no cover - compiled
    wmax, wmin = rp[R_WMAX], rp[R_WMIN]
    if kind == VOGELS:
        return max(w - rp[R_ALPHA], wmin)
    if kind == TRIPLET:
        new_w = w - k * (rp[R_ALPHA] + rp[R_A3_MINUS] * kx)
        return new_w if new_w > wmin else wmin
    mu = rp[R_MU_MINUS]
    norm_w = w / wmax - rp[R_ALPHA] * (1.0 if mu == 0.0 else (w / wmax - wmin / wmax) ** mu) * k
    low = wmin / wmax
    return norm_w * wmax if norm_w > low else wmin


@numba.njit(cache=True, inline="always")
def _pair(kind, w, kplus, minus_dt, ky, tau_p, rp):  # pragma: no cover - compiled
    """One pairing's facilitation: ``minus_dt`` = t_last - (t_post + d)."""
    if kind == NEAREST:  # a unit trace per pairing, no presynaptic sum
        return _facilitate(kind, w, np.exp(minus_dt / tau_p), 0.0, rp)
    return _facilitate(kind, w, kplus * np.exp(minus_dt / tau_p), ky - 1.0, rp)


@numba.njit(cache=True, inline="always")
def _trace(kind, t_post, km_post, t_hi, inv_m):  # pragma: no cover - compiled
    """The postsynaptic trace at ``t_hi`` from the spike at ``t_post`` (K- ``km_post`` after it)."""
    if kind == NEAREST:
        return np.exp((t_post - t_hi) * inv_m)
    return km_post * np.exp((t_post - t_hi) * inv_m)


@numba.njit(cache=True, inline="always")
def _walk(kind, hist, c, k, w, kplus, t_hi, t_lo, t_last, d, tau_p, inv_m,
          rp):  # pragma: no cover - compiled
    """``w`` after the pairings of target ``k``'s archived spikes in ``(t_lo, t_hi]``, and the
    postsynaptic trace strictly before ``t_hi``: the archive walk, for any window."""
    h = hist.shape[1]
    mask = h - 1  # rings are a power of two long: i & mask without a division
    lowest = max(0, c - h)
    i = c - 1
    while i >= lowest and hist[k, i & mask, 0] >= t_hi + STDP_EPS:
        i -= 1
    last_in = i  # newest archived spike at or before t_hi
    while i >= lowest and hist[k, i & mask, 0] >= t_lo + STDP_EPS:
        i -= 1
    for m in range(i + 1, last_in + 1):
        w = _pair(kind, w, kplus, t_last - (hist[k, m & mask, 0] + d), hist[k, m & mask, 2],
                  tau_p, rp)
    i = last_in
    while i >= lowest and not (t_hi - hist[k, i & mask, 0] > STDP_EPS):
        i -= 1
    km = 0.0
    if i >= lowest:
        km = _trace(kind, hist[k, i & mask, 0], hist[k, i & mask, 1], t_hi, inv_m)
    return w, km


@numba.njit(cache=True, inline="always")
def _from_records(kind, t0, km0, ky0, t1, km1, ky1, before, w, kplus, t_hi, t_lo, t_last, d,
                  tau_p, inv_m, rp):  # pragma: no cover - compiled
    """:func:`_walk` over a target's ``last`` record (its two newest spikes ``t0 > t1`` with
    their K- and K- triplet, ``before`` the time of the one before): ``(True, w, K-)`` when it
    holds every spike the walk would read, else ``(False, w, 0)`` (the caller walks the
    archive). Each step is the walk's on the same values: the same comparisons, the same
    pairings in the same (ascending) order. Scalars, not the array: an array argument costs
    two reference counts per synapse."""
    if t1 >= t_hi + STDP_EPS:  # the newest spike at or before t_hi is older than the two
        return False, w, 0.0
    newest_in = not (t0 >= t_hi + STDP_EPS)  # else t1 is the newest at or before t_hi
    if before >= t_lo + STDP_EPS and t1 >= t_lo + STDP_EPS and (
            t0 >= t_lo + STDP_EPS or not newest_in):
        return False, w, 0.0  # the window reaches past the two
    # the trace's spike: the newest strictly before t_hi, from the newest at or before it
    km = 0.0
    if newest_in and t_hi - t0 > STDP_EPS:
        if t0 != -np.inf:  # (-inf: no spike archived yet)
            km = _trace(kind, t0, km0, t_hi, inv_m)
    elif t_hi - t1 > STDP_EPS:
        if t1 != -np.inf:
            km = _trace(kind, t1, km1, t_hi, inv_m)
    elif before != -np.inf:  # an older spike than the record holds
        return False, w, 0.0
    # the window's spikes, oldest first: t1 (if in it), then t0 (if in it)
    if t1 >= t_lo + STDP_EPS:
        w = _pair(kind, w, kplus, t_last - (t1 + d), ky1, tau_p, rp)
    if newest_in and t0 >= t_lo + STDP_EPS:
        w = _pair(kind, w, kplus, t_last - (t0 + d), ky0, tau_p, rp)
    return True, w, km


@numba.njit(cache=True)
def _stdp_spike(item, j, t_spike, weights):  # pragma: no cover - compiled
    """NEST's ``send`` of every synapse of presynaptic neuron ``j`` of one STDP connection.

    A target whose window ``(t_last - d, t_spike - d]`` and trace need only the spikes its
    ``last`` record holds is updated from there (:func:`_from_records`); the others walk the
    archive (:func:`_walk`). Both read the same values and do the same arithmetic.
    """
    ints, indptr, slot, post, dms, pr, pre_s = (item[0], item[1], item[2], item[3], item[5],
                                                item[6], item[7])
    hist, hc, last = item[10], item[11], item[14]
    kind = ints[I_KIND]
    tau_p, inv_m = pr[P_TAU_PLUS], 1.0 / pr[P_TAU_MINUS]
    rp = _rule_scalars(pr)
    kplus, t_last, kx = pre_s[j, 0], pre_s[j, 1], pre_s[j, 2]
    if kind == TRIPLET:
        kx *= np.exp((t_last - t_spike) / pr[P_TAU_X])
    lo, hi = indptr[j], indptr[j + 1]
    flat = last.reshape(last.size)
    for e in range(lo, hi):  # ask for the targets' records (a line each) before reading any
        prefetch(flat, post[e] * LAST_WIDTH)
    for e in range(lo, hi):
        s, k, d = slot[e], post[e], dms[e]
        t_hi, t_lo = t_spike - d, t_last - d
        # (last indexed, not sliced: a view per synapse costs refcounts)
        served, w, km = _from_records(
            kind, last[k, LAST_T], last[k, LAST_KM], last[k, LAST_KY], last[k, 3 + LAST_T],
            last[k, 3 + LAST_KM], last[k, 3 + LAST_KY], last[k, LAST_T_BEFORE], weights[s],
            kplus, t_hi, t_lo, t_last, d, tau_p, inv_m, rp)
        if not served:
            w, km = _walk(kind, hist, hc[k], k, weights[s], kplus, t_hi, t_lo, t_last, d,
                          tau_p, inv_m, rp)
        if kind == VOGELS:
            w = _facilitate(kind, w, km, 0.0, rp)
            w = _depress(kind, w, 0.0, 0.0, rp)
        else:
            w = _depress(kind, w, km, kx, rp)
        weights[s] = w
    if kind == TRIPLET:
        pre_s[j, 2] = kx + 1.0
    pre_s[j, 0] = kplus * np.exp((t_last - t_spike) / tau_p) + 1.0
    pre_s[j, 1] = t_spike


@numba.njit(cache=True)
def _tsodyks_spike(item, j, t_spike, weights):  # pragma: no cover - compiled
    """NEST ``tsodyks_synapse::send`` for every synapse of presynaptic neuron ``j``."""
    indptr, slot, syn, st, base = item[1], item[2], item[4], item[8], item[9]
    for e in range(indptr[j], indptr[j + 1]):
        k = syn[e]
        x, y, u = st[k, 0], st[k, 1], st[k, 2]
        big_u, tau_rec, tau_fac = st[k, S_BIG_U], st[k, S_TAU_REC], st[k, S_TAU_FAC]
        tau_psc = st[k, S_TAU_PSC]
        h = t_spike - st[k, 3]
        puu = 0.0 if tau_fac == 0.0 else np.exp(-h / tau_fac)
        pyy = np.exp(-h / tau_psc)
        pzz = np.exp(-h / tau_rec)
        pxy = ((pzz - 1.0) * tau_rec - (pyy - 1.0) * tau_psc) / (tau_psc - tau_rec)
        pxz = 1.0 - pzz
        z = 1.0 - x - y
        u *= puu
        x += pxy * y + pxz * z
        y *= pyy
        u += big_u * (1.0 - u)
        delta = u * x
        x -= delta
        y += delta
        st[k, 0], st[k, 1], st[k, 2], st[k, 3] = x, y, u, t_spike
        weights[slot[e]] = delta * base[k]


@numba.njit(cache=True)
def _mix(z):  # pragma: no cover - compiled
    """splitmix64's finaliser: a uint64 to a well-mixed uint64."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


@numba.njit(cache=True)
def _spike_stream(pr, t_spike):  # pragma: no cover - compiled
    """The key of one spike's draws: the connection's seed and the spike time (in us)."""
    return _mix(np.uint64(np.int64(pr[P_SEED])) * _GOLDEN
                + np.uint64(np.int64(t_spike * 1000.0 + 0.5)))


@numba.njit(cache=True)
def _uniform(stream, k, i):  # pragma: no cover - compiled
    """Draw ``i`` of synapse ``k`` at the spike keyed ``stream``: uniform in [0, 1)."""
    z = _mix((stream ^ (np.uint64(k) * _GOLDEN)) + np.uint64(i) * np.uint64(0xD1B54A32D192ED03))
    return float(z >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@numba.njit(cache=True)
def _stochastic_spike(kind, item, j, t_spike, weights):  # pragma: no cover - compiled
    """A stochastic synapse's ``send`` for every synapse of presynaptic neuron ``j``: the
    table entry this spike delivers is what crossed (0 where nothing did)."""
    indptr, slot, syn, pr, st, base = item[1], item[2], item[4], item[6], item[8], item[9]
    stream = _spike_stream(pr, t_spike)
    for e in range(indptr[j], indptr[j + 1]):
        k = syn[e]
        if kind == BERNOULLI:  # NEST bernoulli_synapse: the weight with probability p
            crossed = 1.0 if _uniform(stream, k, 0) < st[k, S_P] else 0.0
        elif kind == QUANTAL:
            crossed = _quantal_release(st, k, stream, t_spike)
        else:
            crossed = _stochastic_tsodyks_release(st, k, stream, t_spike)
        weights[slot[e]] = crossed * base[k]


@numba.njit(cache=True)
def _quantal_release(st, k, stream, t_spike):  # pragma: no cover - compiled
    """NEST ``quantal_stp_synapse::send`` for synapse ``k``: the sites it releases."""
    u, a, n = st[k, Q_U], int(st[k, Q_A]), int(st[k, Q_N])
    draw = 0
    if st[k, Q_T] >= 0.0:  # from the second spike on: facilitation, then recovery
        h = t_spike - st[k, Q_T]
        p_decay = np.exp(-h / st[k, Q_TAU_REC])
        tau_fac = st[k, Q_TAU_FAC]
        u_decay = 0.0 if tau_fac < 1.0e-10 else np.exp(-h / tau_fac)
        big_u = st[k, Q_BIG_U]
        u = big_u + u * (1.0 - big_u) * u_decay
        for _ in range(n - a):
            if _uniform(stream, k, draw) < 1.0 - p_decay:
                a += 1
            draw += 1
    released = 0
    for _ in range(a):
        if _uniform(stream, k, draw) < u:
            released += 1
        draw += 1
    st[k, Q_U], st[k, Q_A], st[k, Q_T] = u, float(a - released), t_spike
    return float(released)


@numba.njit(cache=True)
def _stochastic_tsodyks_release(st, k, stream, t_spike):  # pragma: no cover - compiled
    """pyNN.nest's ``stochastic_stp_synapse::send`` for synapse ``k``: 1.0 if it releases."""
    big_u, tau_fac = st[k, R_BIG_U], st[k, R_TAU_FAC]
    u = st[k, R_U]
    if tau_fac > 1.0e-10:
        u *= np.exp(-(t_spike - st[k, R_T]) / tau_fac)
        u += big_u * (1.0 - u)
    else:
        u = big_u
    if st[k, R_R] == 0.0:  # unrecovered: recovery as a Poisson event at rate 1/tau_rec
        if _uniform(stream, k, 0) > np.exp(-(t_spike - st[k, R_T_SURV]) / st[k, R_TAU_REC]):
            st[k, R_R] = 1.0
        else:
            st[k, R_T_SURV] = t_spike
    released = 0.0
    if st[k, R_R] == 1.0 and _uniform(stream, k, 1) < u:
        released = 1.0
        st[k, R_R], st[k, R_T_SURV] = 0.0, t_spike
    st[k, R_U], st[k, R_T] = u, t_spike
    return released


@numba.njit(cache=True)
def _add_dopamine(plastic, p, k, t_arr, amount):  # pragma: no cover - compiled
    """Archive ``amount`` of dopamine arriving at target ``k`` of connection ``p`` at ``t_arr``."""
    item = plastic[p]
    pr, dopa, dc = item[6], item[12], item[13]
    c = dc[k]
    h = dopa.shape[1]
    value = amount
    if c > 0:
        prev = dopa[k, (c - 1) % h]
        if abs(prev[0] - t_arr) < STDP_EPS:  # arrivals at one time are one entry
            prev[1] += amount
            return
        value = prev[1] * np.exp((prev[0] - t_arr) / pr[P_TAU_D]) + amount
    if c >= h and dopa[k, c % h, 0] > t_arr - pr[P_WINDOW]:
        dopa = _grow(dopa, dc)
        plastic[p] = (item[0], item[1], item[2], item[3], item[4], item[5], pr, item[7],
                      item[8], item[9], item[10], item[11], dopa, dc, item[14], item[15])
        item[15][0] += 1
        h = dopa.shape[1]
    dopa[k, c % h, 0] = t_arr
    dopa[k, c % h, 1] = value
    dc[k] = c + 1


@numba.njit(cache=True)
def _reward_spike(plastic, item, j, t_spike):  # pragma: no cover - compiled
    """A reward connection's spike of neuron ``j``: dopamine for each of its targets, in every
    connection it modulates, arriving one delay later."""
    ints, indptr, post, syn, dms, pr, base = (item[0], item[1], item[3], item[4], item[5],
                                              item[6], item[9])
    for e in range(indptr[j], indptr[j + 1]):
        amount = pr[P_SIGN] * base[syn[e]]
        for q in range(3, ints.shape[0]):
            _add_dopamine(plastic, ints[q], post[e], t_spike + dms[e], amount)


@numba.njit(cache=True)
def _integrate(w, c, dop, span, tau_c, tau_d, tau_s, wmin, wmax):  # pragma: no cover
    """``w``, ``c``, ``D`` after ``span`` ms of dw/dt = c·D (c, D decaying exponentially)."""
    if span > 0.0:
        w += c * dop * tau_s * -np.expm1(-span / tau_s)
        w = min(max(w, wmin), wmax)
        c *= np.exp(-span / tau_c)
        dop *= np.exp(-span / tau_d)
    return w, c, dop


@numba.njit(cache=True)
def _dopamine_spike(item, j, t_spike, weights):  # pragma: no cover - compiled
    """A presynaptic spike of a reward-modulated SpikePair connection (module docstring)."""
    indptr, slot, post, syn, dms, pr, pre_s = (item[1], item[2], item[3], item[4], item[5],
                                               item[6], item[7])
    elig, hist, hc, dopa, dc = item[8], item[10], item[11], item[12], item[13]
    h, hd = hist.shape[1], dopa.shape[1]
    tau_p, inv_m = pr[P_TAU_PLUS], 1.0 / pr[P_TAU_MINUS]
    tau_c, tau_d = pr[P_TAU_C], pr[P_TAU_D]
    tau_s = tau_c * tau_d / (tau_c + tau_d)
    wmin, wmax = pr[P_WMIN], pr[P_WMAX]
    kplus, t_last = pre_s[j, 0], pre_s[j, 1]
    for e in range(indptr[j], indptr[j + 1]):
        s, k, d, n = slot[e], post[e], dms[e], syn[e]
        w, c = weights[s], elig[n, 0]
        # dopamine at t_last: the newest arrival at or before it, decayed
        cd = dc[k]
        low_d = max(0, cd - hd)
        nd = cd - 1
        while nd >= low_d and dopa[k, nd % hd, 0] > t_last + STDP_EPS:
            nd -= 1
        dop = 0.0
        if nd >= low_d:
            dop = dopa[k, nd % hd, 1] * np.exp((dopa[k, nd % hd, 0] - t_last) / tau_d)
        nd += 1  # the first arrival after t_last
        # the postsynaptic spikes seen at the synapse in (t_last, t_spike]
        c_post = hc[k]
        lowest = max(0, c_post - h)
        t_hi, t_lo = t_spike - d, t_last - d
        i = c_post - 1
        while i >= lowest and hist[k, i % h, 0] >= t_hi + STDP_EPS:
            i -= 1
        last_in = i
        while i >= lowest and hist[k, i % h, 0] >= t_lo + STDP_EPS:
            i -= 1
        t0 = t_last
        for m in range(i + 1, last_in + 2):  # the last step is the presynaptic spike itself
            t_ev = hist[k, m % h, 0] + d if m <= last_in else t_spike
            while nd < cd and dopa[k, nd % hd, 0] <= t_ev + STDP_EPS:
                t_d = dopa[k, nd % hd, 0]
                w, c, dop = _integrate(w, c, dop, t_d - t0, tau_c, tau_d, tau_s, wmin, wmax)
                dop = dopa[k, nd % hd, 1]
                t0 = max(t0, t_d)
                nd += 1
            w, c, dop = _integrate(w, c, dop, t_ev - t0, tau_c, tau_d, tau_s, wmin, wmax)
            t0 = max(t0, t_ev)
            if m <= last_in:
                c += pr[P_LAMBDA] * wmax * kplus * np.exp((t_last - t_ev) / tau_p)
        i = last_in
        while i >= lowest and not (t_hi - hist[k, i % h, 0] > STDP_EPS):
            i -= 1
        if i >= lowest:
            c -= (pr[P_ALPHA] * wmax * hist[k, i % h, 1]
                  * np.exp((hist[k, i % h, 0] - t_hi) * inv_m))
        weights[s] = w
        elig[n, 0] = c
    pre_s[j, 0] = kplus * np.exp((t_last - t_spike) / tau_p) + 1.0
    pre_s[j, 1] = t_spike


@numba.njit(cache=True)
def pre_spikes(plastic, g, fired, nf, t_spike, weights):  # pragma: no cover - compiled
    """Update the synapses of spikes ``fired[:nf]`` of group ``g`` before they are delivered."""
    if nf == 0:
        return
    for p in range(len(plastic)):
        item = plastic[p]
        if item[0][I_PRE] != g:
            continue
        kind = item[0][I_KIND]
        for q in range(nf):
            if kind == TSODYKS:
                _tsodyks_spike(item, fired[q], t_spike, weights)
            elif kind == BERNOULLI or kind == QUANTAL or kind == STOCHASTIC_TM:
                _stochastic_spike(kind, item, fired[q], t_spike, weights)
            elif kind == REWARD:
                _reward_spike(plastic, item, fired[q], t_spike)
            elif kind == DOPAMINE:
                _dopamine_spike(item, fired[q], t_spike, weights)
            else:
                _stdp_spike(item, fired[q], t_spike, weights)
