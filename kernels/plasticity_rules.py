"""Plasticity rules as the kernels take them: NEST's native parameters in PyNN's units.

Plain dataclasses (no numba), so the PyNN front end can build and check a rule without loading
the compiled kernels; :mod:`kernels.plasticity` holds the state and the compiled updates, and
its docstring the semantics.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import ClassVar

import numpy as np

from spinnlive.errors import ConfigurationError

# rule kinds (kernel dispatch)
PAIR, NEAREST, VOGELS, TRIPLET, TSODYKS, DOPAMINE, REWARD, BERNOULLI, QUANTAL, STOCHASTIC_TM = \
    range(1, 11)
# ints columns
I_KIND, I_PRE, I_POST = 0, 1, 2
# params columns (STDP): time constants, amplitudes, weight bounds, archive window
P_TAU_PLUS, P_TAU_MINUS, P_LAMBDA, P_ALPHA, P_MU_PLUS, P_MU_MINUS = range(6)
P_WMAX, P_WMIN, P_WINDOW, P_TAU_X, P_TAU_Y, P_A3_PLUS, P_A3_MINUS = range(6, 13)
# per-synapse columns of a Tsodyks connection's state: x, y, u, last spike, then its parameters
S_X, S_Y, S_U, S_T, S_BIG_U, S_TAU_REC, S_TAU_FAC, S_TAU_PSC = range(8)
# params column of a stochastic (Bernoulli, quantal) connection: the seed of its draws
P_SEED = 0
# per synapse, Bernoulli: p; quantal: u, available sites a, last spike (-1: none), then
# U, n, tau_rec, tau_fac
S_P = 0
Q_U, Q_A, Q_T, Q_BIG_U, Q_N, Q_TAU_REC, Q_TAU_FAC = range(7)
# stochastic Tsodyks-Markram: u, recovered (1/0), since when unrecovered, last spike, then
# U, tau_rec, tau_fac
R_U, R_R, R_T_SURV, R_T, R_BIG_U, R_TAU_REC, R_TAU_FAC = range(7)
# params columns (neuromodulation): eligibility and dopamine time constants; a reward's sign
P_TAU_C, P_TAU_D, P_SIGN = 13, 14, 15
N_PARAMS = 16


@dataclass(frozen=True)
class Rule:
    """A plasticity rule's parameters in NEST's native names and PyNN's units."""

    KIND: ClassVar[int] = 0
    #: whether the rule changes the stored weights (else it scales what it delivers)
    LEARNS: ClassVar[bool] = True
    #: the params column of each field the kernels read (every other column holds 0)
    COLUMNS: ClassVar[dict[str, int]] = {}

    def vector(self) -> np.ndarray:
        """The rule's params row: each field of :attr:`COLUMNS` in its column, so that a
        rule's layout is one table and the row is built in one place for every rule."""
        if not self.COLUMNS:
            raise NotImplementedError
        v = np.zeros(N_PARAMS)
        for name, column in self.COLUMNS.items():
            v[column] = getattr(self, name)
        return v

    def taus(self) -> tuple[float, ...]:
        return ()

    def check(self) -> None:
        for f in fields(self):
            value = np.asarray(getattr(self, f.name), dtype=float)
            what = f"{type(self).__name__}.{f.name}"
            _refuse(value, ~np.isfinite(value), f"{what} must be finite")
            if f.name.startswith("tau"):
                _refuse(value, value < 0, f"{what} must be >= 0")

    #: per-synapse state columns of ``PlasticState.syn_s`` (the rule's per-synapse parameters,
    #: :meth:`per_synapse`, follow them)
    SYNAPSE_STATE: ClassVar[int] = 0
    #: state variables a script may initialise (``Projection.initialize``) -> their column
    INITIAL: ClassVar[dict[str, int]] = {}

    def check_initial(self, variable: str, values: np.ndarray) -> None:
        """Refuse initial values of ``variable`` the rule's state cannot take."""
        if not np.all(np.isfinite(values)):
            raise ConfigurationError(f"{type(self).__name__} initial {variable} must be finite")

    def per_synapse(self, n_syn: int) -> np.ndarray:
        """``(n_syn, m)``: the parameters the rule keeps per synapse (none by default)."""
        return np.zeros((n_syn, 0))

    def initial_state(self, per_synapse: np.ndarray) -> np.ndarray:
        """``(n_syn, SYNAPSE_STATE)``: each synapse's state before its first spike, given its
        parameters (zeros by default)."""
        return np.zeros((per_synapse.shape[0], self.SYNAPSE_STATE))

    def take(self, where: np.ndarray) -> Rule:
        """The rule of the connections ``where`` of a projection: each parameter given one
        value per connection keeps those connections' values; a homogeneous rule is itself."""
        parts = {f.name: np.asarray(getattr(self, f.name), dtype=float)[where]
                 for f in fields(self) if np.ndim(getattr(self, f.name))}
        return replace(self, **parts) if parts else self

    def seeded(self, seed: int) -> Rule:
        """The rule with the seed of its random draws (a deterministic rule is itself)."""
        return self


@dataclass(frozen=True)
class SpikePair(Rule):
    """``stdp_synapse``: Δw = a_plus·Wmax·(1 - w/Wmax)^mu_plus·K+ at each pairing and
    -a_minus·Wmax·(w/Wmax)^mu_minus·K- per presynaptic spike (NEST's λ and α·λ)."""

    KIND: ClassVar[int] = PAIR
    COLUMNS: ClassVar[dict[str, int]] = {
        "tau_plus": P_TAU_PLUS, "tau_minus": P_TAU_MINUS, "a_plus": P_LAMBDA, "a_minus": P_ALPHA,
        "mu_plus": P_MU_PLUS, "mu_minus": P_MU_MINUS, "w_max": P_WMAX, "w_min": P_WMIN}
    tau_plus: float = 20.0
    tau_minus: float = 20.0
    a_plus: float = 0.01
    a_minus: float = 0.01
    mu_plus: float = 0.0
    mu_minus: float = 0.0
    w_max: float = 1.0
    w_min: float = 0.0

    def taus(self) -> tuple[float, ...]:
        return (self.tau_plus, self.tau_minus)

    def check(self) -> None:
        super().check()
        if self.w_max <= 0 or self.w_min < 0 or self.w_min > self.w_max:
            raise ConfigurationError(
                f"{type(self).__name__}: need 0 <= w_min <= w_max and w_max > 0 (weights are "
                f"magnitudes), got w_min={self.w_min}, w_max={self.w_max}")
        if min(self.taus()) <= 0:
            raise ConfigurationError(f"{type(self).__name__}: time constants must be > 0")


@dataclass(frozen=True)
class NearestPair(SpikePair):
    """``stdp_nn_symm_synapse``: nearest-neighbour pairing, same weight dependence."""

    KIND: ClassVar[int] = NEAREST


@dataclass(frozen=True)
class Vogels(SpikePair):
    """``vogels_sprekeler_synapse``: Δw = η·K (both ways), -α·η per presynaptic spike.

    ``a_plus`` is η, ``a_minus`` α·η (weight units) and ``tau_plus`` = ``tau_minus`` = τ.
    """

    KIND: ClassVar[int] = VOGELS


@dataclass(frozen=True)
class Triplet(SpikePair):
    """``stdp_triplet_synapse``: pair amplitudes ``a_plus`` (A2+), ``a_minus`` (A2-), triplet
    amplitudes ``a3_plus``/``a3_minus``, triplet time constants ``tau_x`` (pre), ``tau_y``
    (post); all in weight units (NEST's ``Aplus`` ... are absolute)."""

    KIND: ClassVar[int] = TRIPLET
    COLUMNS: ClassVar[dict[str, int]] = {
        **SpikePair.COLUMNS, "tau_x": P_TAU_X, "tau_y": P_TAU_Y, "a3_plus": P_A3_PLUS,
        "a3_minus": P_A3_MINUS}
    tau_x: float = 100.0
    tau_y: float = 100.0
    a3_plus: float = 0.0
    a3_minus: float = 0.0

    def taus(self) -> tuple[float, ...]:
        return (self.tau_plus, self.tau_minus, self.tau_x, self.tau_y)


@dataclass(frozen=True)
class Tsodyks(Rule):
    """``tsodyks_synapse``: resources x (recovered), y (active, decays with ``tau_psc``), u."""

    KIND: ClassVar[int] = TSODYKS
    LEARNS: ClassVar[bool] = False
    #: every parameter is one value for the connection or one per synapse (an array in the
    #: connection's order), as NEST keeps them per synapse; ``tau_psc`` is each target's
    SYNAPSE_STATE: ClassVar[int] = 4  # x, y, u, last spike
    U: float | np.ndarray = 0.5
    tau_rec: float | np.ndarray = 800.0
    tau_fac: float | np.ndarray = 0.0
    tau_psc: float | np.ndarray = 5.0

    def vector(self) -> np.ndarray:
        return np.zeros(N_PARAMS)  # all of it is per synapse

    def per_synapse(self, n_syn: int) -> np.ndarray:
        """``(n_syn, 4)``: each synapse's U, tau_rec, tau_fac, tau_psc (``S_BIG_U`` on)."""
        return _columns(n_syn, self.U, self.tau_rec, self.tau_fac, self.tau_psc)

    def initial_state(self, per_synapse: np.ndarray) -> np.ndarray:
        state = np.zeros((per_synapse.shape[0], self.SYNAPSE_STATE))
        state[:, S_X] = 1.0  # all resources recovered
        return state


    def check(self) -> None:
        super().check()
        _fraction("TsodyksMarkram U", self.U)
        tau_rec = _positive("TsodyksMarkram tau_rec", self.tau_rec)
        tau_psc = _positive("TsodyksMarkram tau_psc", self.tau_psc)
        tau_rec = np.broadcast_to(tau_rec, np.broadcast(tau_rec, tau_psc).shape)
        singular = np.abs(tau_psc - tau_rec) < 1e-12
        if np.any(singular):
            raise ConfigurationError(
                f"TsodyksMarkram tau_rec ({_first_bad(tau_rec, singular)} ms) equals the "
                "target's synaptic time constant; NEST's tsodyks_synapse propagator is "
                "singular there")


@dataclass(frozen=True)
class _Stochastic(Rule):
    """A rule with random draws: ``seed`` (set by the engine, one per synapse block) keys them."""

    COLUMNS: ClassVar[dict[str, int]] = {"seed": P_SEED}
    seed: int = 0

    def seeded(self, seed: int) -> Rule:
        return replace(self, seed=int(seed) % (1 << 52))  # exact in the float params row


@dataclass(frozen=True)
class Bernoulli(_Stochastic):
    """NEST's ``bernoulli_synapse`` (PyNN's SimpleStochasticSynapse): each spike crosses each
    synapse with probability ``p`` (one value or one per synapse), drawn independently per
    synapse and spike. The draws are a counter-based hash of (``seed``, synapse, spike time),
    not a stream: the same run gives the same draws on any number of threads."""

    KIND: ClassVar[int] = BERNOULLI
    LEARNS: ClassVar[bool] = False
    p: float | np.ndarray = 1.0

    def per_synapse(self, n_syn: int) -> np.ndarray:
        return _columns(n_syn, self.p)


    def check(self) -> None:
        super().check()
        _fraction("SimpleStochasticSynapse p", self.p)


@dataclass(frozen=True)
class Quantal(_Stochastic):
    """NEST's ``quantal_stp_synapse`` (PyNN's MultiQuantalSynapse; Fuhrmann et al. 2002,
    Loebel et al. 2009): ``n`` release sites; at a spike each depleted site has recovered with
    probability 1 - exp(-h / tau_rec) and u = U + u (1 - U) exp(-h / tau_fac) (from the second
    spike on, NEST's order), then each available site releases with probability u and the
    spike delivers ``weight`` per released site. Every value may be one per synapse.

    The state starts as the model defines it, u = U and all n sites available; pyNN.nest
    leaves NEST's defaults there (u = 0.5, a = 1, whatever U and n are), which differs from
    the published model whenever U != 0.5 or n > 1. Draws as :class:`Bernoulli`'s."""

    KIND: ClassVar[int] = QUANTAL
    LEARNS: ClassVar[bool] = False
    SYNAPSE_STATE: ClassVar[int] = 3  # u, a, last spike
    INITIAL: ClassVar[dict[str, int]] = {"u": Q_U, "a": Q_A}
    U: float | np.ndarray = 0.5
    n: float | np.ndarray = 1.0
    tau_rec: float | np.ndarray = 800.0
    tau_fac: float | np.ndarray = 0.0

    def per_synapse(self, n_syn: int) -> np.ndarray:
        return _columns(n_syn, self.U, self.n, self.tau_rec, self.tau_fac)

    def initial_state(self, per_synapse: np.ndarray) -> np.ndarray:
        big_u, n = per_synapse[:, Q_BIG_U - 3], per_synapse[:, Q_N - 3]
        return np.stack([big_u, n, np.full(n.shape, -1.0)], axis=1)

    def check_initial(self, variable: str, values: np.ndarray) -> None:
        super().check_initial(variable, values)
        if variable == "u":
            _fraction("MultiQuantalSynapse initial u", values)
        n = np.broadcast_to(np.asarray(self.n, dtype=float), values.shape)
        if variable == "a":
            _refuse(values, (values < 0) | (values > n) | (values != np.round(values)),
                    "MultiQuantalSynapse initial a (available sites) must be a whole number "
                    "in [0, n]")


    def check(self) -> None:
        super().check()
        _fraction("MultiQuantalSynapse U", self.U)
        n = np.asarray(self.n, dtype=float)
        _refuse(n, (n < 1) | (n != np.round(n)) | (n > 1_000_000),
                "MultiQuantalSynapse n (release sites) must be a whole number >= 1")
        _positive("MultiQuantalSynapse tau_rec", self.tau_rec)


@dataclass(frozen=True)
class StochasticTsodyks(_Stochastic):
    """PyNN's StochasticTsodyksMarkramSynapse as pyNN.nest's ``stochastic_stp_synapse``
    extension defines it (Fuhrmann et al. 2002, one release site): at each spike u decays
    with ``tau_fac`` and grows by U (1 - u) (u = U without facilitation); an unrecovered
    site recovers with probability 1 - exp(-(t - t_surv) / tau_rec) (t_surv: when it last
    failed to recover or released); a recovered site releases ``weight`` with probability u.
    The state starts at u = 0, recovered, times 0 (the extension's). Draws as Bernoulli's."""

    KIND: ClassVar[int] = STOCHASTIC_TM
    LEARNS: ClassVar[bool] = False
    SYNAPSE_STATE: ClassVar[int] = 4  # u, recovered, t_surv, last spike
    INITIAL: ClassVar[dict[str, int]] = {"u": R_U}
    U: float | np.ndarray = 0.5
    tau_rec: float | np.ndarray = 100.0
    tau_fac: float | np.ndarray = 0.0

    def per_synapse(self, n_syn: int) -> np.ndarray:
        return _columns(n_syn, self.U, self.tau_rec, self.tau_fac)

    def initial_state(self, per_synapse: np.ndarray) -> np.ndarray:
        state = np.zeros((per_synapse.shape[0], self.SYNAPSE_STATE))
        state[:, R_R] = 1.0
        return state


    def check(self) -> None:
        super().check()
        _fraction("StochasticTsodyksMarkramSynapse U", self.U)
        _positive("StochasticTsodyksMarkramSynapse tau_rec", self.tau_rec)


def _refuse(values: np.ndarray, bad: np.ndarray, message: str) -> None:
    """A ConfigurationError ``message``, naming the first bad value, where ``bad`` holds."""
    if np.any(bad):
        raise ConfigurationError(f"{message}, got {_first_bad(values, bad)}")


def _fraction(what: str, value: float | np.ndarray) -> np.ndarray:
    """``value`` (one, or one per synapse) as an array, refused outside [0, 1]."""
    v = np.asarray(value, dtype=float)
    _refuse(v, (v < 0.0) | (v > 1.0), f"{what} must lie in [0, 1]")
    return v


def _positive(what: str, value: float | np.ndarray) -> np.ndarray:
    """``value`` as an array, refused where it is not > 0."""
    v = np.asarray(value, dtype=float)
    _refuse(v, v <= 0.0, f"{what} must be > 0")
    return v


def _columns(n_syn: int, *values: float | np.ndarray) -> np.ndarray:
    """``(n_syn, len(values))``: each value (one, or one per synapse) as a column."""
    return np.stack([np.broadcast_to(np.asarray(v, dtype=float), (n_syn,)) for v in values],
                    axis=1)


def _first_bad(values: np.ndarray, bad: np.ndarray) -> str:
    """The offending value (of one per synapse: the first, and how many there are)."""
    if values.ndim == 0:
        return f"{float(values)}"
    where = np.flatnonzero(bad)
    return f"{float(values[where[0]])} (synapse {int(where[0])}, {where.size} of {values.size})"


@dataclass(frozen=True)
class Reward(Rule):
    """A neuromodulation (dopamine) connection, sPyNNaker's ``Neuromodulation``: each spike adds
    ``sign * weight`` to its target's dopamine trace D (decaying with ``tau_d``) one delay
    later, and every SpikePair connection into the same targets becomes reward-modulated: its
    pairings build an eligibility trace c per synapse (decaying with ``tau_c``) instead of
    changing the weight, and the weight follows dw/dt = c * D (see ``kernels.plasticity``).
    Its own weights deliver no current."""

    KIND: ClassVar[int] = REWARD
    LEARNS: ClassVar[bool] = False
    COLUMNS: ClassVar[dict[str, int]] = {"tau_c": P_TAU_C, "tau_d": P_TAU_D, "sign": P_SIGN}
    sign: float = 1.0
    tau_c: float = 1000.0
    tau_d: float = 200.0

    def taus(self) -> tuple[float, ...]:
        return (self.tau_c, self.tau_d)

    def check(self) -> None:
        super().check()
        _positive("Neuromodulation tau_c", self.tau_c)
        _positive("Neuromodulation tau_d", self.tau_d)
        if self.sign not in (1.0, -1.0):
            raise ConfigurationError(f"a reward's sign is +1 or -1, got {self.sign}")
