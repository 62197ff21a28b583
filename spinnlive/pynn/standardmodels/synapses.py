"""Synapse types: StaticSynapse, STDPMechanism and TsodyksMarkramSynapse (kernels.plasticity).

Plastic types keep PyNN's (and sPyNNaker's) parameter names as their native names; each
timing dependence turns the evaluated values, with its weight dependence, into the kernel rule
pyNN.nest would pick (NEST 3.10 ``stdp_synapse``, ``stdp_nn_symm_synapse``,
``vogels_sprekeler_synapse``, ``stdp_triplet_synapse``, ``tsodyks_synapse``). The weight and
delay may vary per connection, and so may TsodyksMarkramSynapse's U, tau_rec and tau_facil
(``PER_CONNECTION``: NEST keeps them per synapse, and so does its kernel); an STDP rule's
parameters must be homogeneous within a projection (its traces are kept per presynaptic neuron).
Anything without a kernel (another rule, a voltage dependence, a dendritic delay fraction other
than 1, a pairing of rule and weight dependence with no NEST model) is refused when the
synapse type is made or connected, naming what is supported.

Weight rule (sPyNNaker's, so scripts written for SpiNNaker run unchanged): weights are magnitudes
and the receptor decides the sign. On an inhibitory receptor a weight of either sign is accepted
(PyNN's negative current-based convention and sPyNNaker's positive one); the kernel receives its
absolute value. A negative weight on any other receptor is an error. Delays are whole time steps
(rounded by the projection) within [min_delay, max_delay]; with ``min_delay='auto'`` a delay
shorter than one step becomes one step, as sPyNNaker clips it (and logs how many were).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from pyNN import errors
from pyNN.standardmodels import synapses
from pyNN.standardmodels.base import inhibitory_receptor_types

from ...errors import ConfigurationError
from .translations import identity

__all__ = [
    "StaticSynapse", "STDPMechanism", "TsodyksMarkramSynapse", "ElectricalSynapse",
    "AdditiveWeightDependence", "MultiplicativeWeightDependence",
    "AdditivePotentiationMultiplicativeDepression", "GutigWeightDependence",
    "SpikePairRule", "Vogels2011Rule", "check_weights", "check_delays",
    "SpikeNearestPairRule", "PfisterSpikeTriplet", "WeightDependenceAdditiveTriplet",
    "Neuromodulation", "SimpleStochasticSynapse", "MultiQuantalSynapse",
    "StochasticTsodyksMarkramSynapse",
]

#: what the engine has kernels for (named in every refusal)
SUPPORTED = ("StaticSynapse; TsodyksMarkramSynapse; SimpleStochasticSynapse; "
             "MultiQuantalSynapse; StochasticTsodyksMarkramSynapse; STDPMechanism with SpikePairRule or "
             "SpikeNearestPairRule and AdditiveWeightDependence, MultiplicativeWeightDependence, "
             "AdditivePotentiationMultiplicativeDepression or GutigWeightDependence; "
             "Vogels2011Rule with AdditiveWeightDependence; PfisterSpikeTriplet with "
             "WeightDependenceAdditiveTriplet; Neuromodulation (receptor 'reward' or "
             "'punishment') modulating SpikePairRule projections")


def check_weights(weights: Any, projection: Any) -> None:
    """Refuse negative weights except on an inhibitory receptor (see the module rule)."""
    if projection.receptor_type in inhibitory_receptor_types:
        return
    if np.any(np.asarray(weights, dtype=float) < 0):
        raise errors.ConnectionError(
            f"projection {projection.label!r}: negative weights on receptor "
            f"{projection.receptor_type!r}; use receptor_type='inhibitory' for inhibition")


def check_delays(delays: Any, projection: Any) -> None:
    """Refuse delays outside [min_delay, max_delay] (half a step of tolerance for rounding).

    With ``min_delay='auto'`` there is no lower bound to refuse: sPyNNaker's rule applies
    instead, and the projection clips delays shorter than one time step to one step (logged).
    """
    state = projection._simulator.state
    d = np.asarray(delays, dtype=float)
    if d.size == 0:
        return
    if not state.min_delay_is_auto and d.min() < float(state.min_delay) - state.dt / 2:
        raise errors.ConnectionError(
            f"projection {projection.label!r}: delay {d.min():g} ms is below the minimum "
            f"delay {float(state.min_delay):g} ms given to setup()")
    if state.max_delay != "auto" and d.max() > float(state.max_delay) + state.dt / 2:
        raise errors.ConnectionError(
            f"projection {projection.label!r}: delay {d.max():g} ms exceeds max_delay "
            f"{state.max_delay:g} ms given to setup()")


def _rules() -> Any:
    """The kernels' rule records, imported when first needed (they load the kernels package,
    numba included, which a script only pays for when it runs on the embedded engine)."""
    from ...kernels import plasticity_rules

    return plasticity_rules


class _MinimumDelay:
    def _get_minimum_delay(self) -> float:
        from ..simulator import state

        return state.dt if state.min_delay_is_auto else float(state.min_delay)


def homogeneous(space: Any, names: Any, what: str) -> dict[str, float]:
    """The values of ``names`` in a (lazy) parameter space, which must be one value each."""
    out = {}
    for name in names:
        larr = space[name]
        if not larr.is_homogeneous:
            raise ConfigurationError(
                f"{what}: parameter {name!r} varies between connections; spinnlive needs one "
                "value per projection for plasticity parameters (weight and delay may vary)")
        value = larr.base_value
        out[name] = float(value if isinstance(value, (int, float, np.number))
                          else larr.evaluate(simplify=True))
    return out


class StaticSynapse(_MinimumDelay, synapses.StaticSynapse):
    __doc__ = synapses.StaticSynapse.__doc__
    translations = identity("weight", "delay")
    parameter_checks = {"weight": check_weights, "delay": check_delays}


class PerConnectionRule(_MinimumDelay):
    """A synapse type whose parameters besides weight and delay all go, one value per
    connection (as NEST keeps them), to the kernel rule named ``RULE``: PyNN's names, but
    ``tau_facil`` is the rules' ``tau_fac``. A rule that takes the target's synaptic time
    constant (``TAKES_TAU_PSC``) gets it per connection too."""

    RULE: ClassVar[str]
    RULE_NAMES: ClassVar[tuple[str, ...]]
    TAKES_TAU_PSC: ClassVar[bool] = False
    PER_CONNECTION: ClassVar[tuple[str, ...]]
    translations: ClassVar[dict[str, Any]]
    parameter_checks = {"weight": check_weights, "delay": check_delays}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.translations = identity("weight", "delay", *cls.RULE_NAMES)
        cls.PER_CONNECTION = cls.RULE_NAMES

    def kernel_rule(self, values: dict[str, Any], tau_psc: Any) -> Any:
        fields = {("tau_fac" if n == "tau_facil" else n): values[n] for n in self.RULE_NAMES}
        if self.TAKES_TAU_PSC:
            fields["tau_psc"] = tau_psc
        return getattr(_rules(), self.RULE)(**fields)


class TsodyksMarkramSynapse(PerConnectionRule, synapses.TsodyksMarkramSynapse):
    """PyNN's TsodyksMarkramSynapse as pyNN.nest runs it: NEST ``tsodyks_synapse`` with
    ``tau_psc`` each target's ``tau_syn_E``/``tau_syn_I`` for the projection's receptor."""

    RULE, RULE_NAMES, TAKES_TAU_PSC = "Tsodyks", ("U", "tau_rec", "tau_facil"), True


class SimpleStochasticSynapse(PerConnectionRule, synapses.SimpleStochasticSynapse):
    """PyNN's SimpleStochasticSynapse as pyNN.nest runs it: NEST ``bernoulli_synapse``, each
    spike crossing each connection with probability ``p``."""

    RULE, RULE_NAMES = "Bernoulli", ("p",)


class MultiQuantalSynapse(PerConnectionRule, synapses.MultiQuantalSynapse):
    """PyNN's MultiQuantalSynapse as NEST's ``quantal_stp_synapse`` (kernels ``Quantal``): ``n``
    release sites per connection, each releasing ``weight`` with the Tsodyks-Markram u. Its
    state starts as the model defines it (u = U, all sites available), where pyNN.nest leaves
    NEST's u = 0.5, a = 1; ``Projection.initialize(u=..., a=...)`` sets it."""

    RULE, RULE_NAMES = "Quantal", ("U", "n", "tau_rec", "tau_facil")


class StochasticTsodyksMarkramSynapse(PerConnectionRule,
                                      synapses.StochasticTsodyksMarkramSynapse):
    """PyNN's StochasticTsodyksMarkramSynapse as pyNN.nest's ``stochastic_stp_synapse``
    extension defines it (kernels ``StochasticTsodyks``)."""

    RULE, RULE_NAMES = "StochasticTsodyks", ("U", "tau_rec", "tau_facil")


class Neuromodulation(_MinimumDelay, synapses.StaticSynapse):
    """sPyNNaker's reward/punishment synapse: a Projection with this type and receptor_type
    ``'reward'`` (or ``'punishment'``) into a population makes every STDPMechanism with a
    SpikePairRule into that population reward-modulated (kernels ``Reward``: eligibility
    decaying with ``tau_c``, dopamine with ``tau_d``, dw/dt = c·D; each spike of the source adds
    ±``weight`` to its targets' dopamine). Its source can be a SpikeInjector fed live.
    ``w_min``/``w_max`` are accepted for sPyNNaker's signature and checked (>= 0)."""

    default_parameters = {"weight": 0.0, "delay": None, "tau_c": 1000.0, "tau_d": 200.0,
                          "w_min": 0.0, "w_max": 1.0}
    translations = identity("weight", "delay", "tau_c", "tau_d", "w_min", "w_max")
    parameter_checks = {"weight": check_weights, "delay": check_delays}
    RULE_NAMES = ("tau_c", "tau_d", "w_min", "w_max")

    def __init__(self, weight: Any = 0.0, tau_c: float = 1000.0, tau_d: float = 200.0,
                 w_min: float = 0.0, w_max: float = 1.0, delay: Any = None) -> None:
        if w_min < 0 or w_max < 0:
            raise ConfigurationError("Neuromodulation: w_min and w_max must be >= 0")
        synapses.StaticSynapse.__init__(self, weight=weight, delay=delay)
        self.parameter_space.update(tau_c=tau_c, tau_d=tau_d, w_min=w_min, w_max=w_max)

    def kernel_rule(self, values: dict[str, float], receptor: Any) -> Any:
        return _rules().Reward(sign=-1.0 if receptor == "punishment" else 1.0,
                               tau_c=values["tau_c"], tau_d=values["tau_d"])


class _WeightDependence:
    """Bounds and exponents of NEST ``stdp_synapse``'s weight dependence."""

    MU: tuple[float, float] = (0.0, 0.0)

    def bounds(self, values: dict[str, float]) -> dict[str, float]:
        mu_plus, mu_minus = self.MU
        return {"w_min": values["w_min"], "w_max": values["w_max"],
                "mu_plus": values.get("mu_plus", mu_plus),
                "mu_minus": values.get("mu_minus", mu_minus)}


class AdditiveWeightDependence(_WeightDependence, synapses.AdditiveWeightDependence):
    __doc__ = synapses.AdditiveWeightDependence.__doc__
    translations = identity("w_max", "w_min")
    possible_models = {"stdp_synapse"}


class MultiplicativeWeightDependence(_WeightDependence, synapses.MultiplicativeWeightDependence):
    __doc__ = synapses.MultiplicativeWeightDependence.__doc__
    translations = identity("w_max", "w_min")
    possible_models = {"stdp_synapse"}
    MU = (1.0, 1.0)


class AdditivePotentiationMultiplicativeDepression(
        _WeightDependence, synapses.AdditivePotentiationMultiplicativeDepression):
    __doc__ = synapses.AdditivePotentiationMultiplicativeDepression.__doc__
    translations = identity("w_max", "w_min")
    possible_models = {"stdp_synapse"}
    MU = (0.0, 1.0)


class GutigWeightDependence(_WeightDependence, synapses.GutigWeightDependence):
    __doc__ = synapses.GutigWeightDependence.__doc__
    translations = identity("w_max", "w_min", "mu_plus", "mu_minus")
    possible_models = {"stdp_synapse"}


class WeightDependenceAdditiveTriplet(_WeightDependence, synapses.STDPWeightDependence):
    """sPyNNaker's additive weight dependence of the triplet rule: the triplet amplitudes
    ``A3_plus``/``A3_minus`` (times ``w_max``) beside the timing's pair amplitudes."""

    default_parameters = {"w_min": 0.0, "w_max": 1.0, "A3_plus": 0.01, "A3_minus": 0.01}
    translations = identity("w_min", "w_max", "A3_plus", "A3_minus")
    possible_models = {"stdp_triplet_synapse"}

    def __init__(self, w_min: float = 0.0, w_max: float = 1.0, A3_plus: float = 0.01,
                 A3_minus: float = 0.01) -> None:
        synapses.STDPWeightDependence.__init__(self, w_min=w_min, w_max=w_max,
                                               A3_plus=A3_plus, A3_minus=A3_minus)


class _PairTiming:
    """``tau_plus``/``tau_minus``/``A_plus``/``A_minus`` onto a NEST pair model."""

    RULE = "SpikePair"
    WEIGHTS: tuple[type, ...] = (AdditiveWeightDependence, MultiplicativeWeightDependence,
                                 AdditivePotentiationMultiplicativeDepression,
                                 GutigWeightDependence)

    def kernel_rule(self, values: dict[str, float], wd: Any) -> Any:
        a_plus, a_minus = values["A_plus"], values["A_minus"]
        # pyNN.nest: alpha = A_minus / A_plus, and NEST multiplies alpha * lambda
        a_minus = a_minus / a_plus * a_plus if a_plus != 0 else a_minus
        return getattr(_rules(), self.RULE)(tau_plus=values["tau_plus"], tau_minus=values["tau_minus"],
                         a_plus=a_plus, a_minus=a_minus, **wd.bounds(values))


class SpikePairRule(_PairTiming, synapses.SpikePairRule):
    __doc__ = synapses.SpikePairRule.__doc__
    translations = identity("tau_plus", "tau_minus", "A_plus", "A_minus")
    possible_models = {"stdp_synapse"}


class SpikeNearestPairRule(_PairTiming, synapses.STDPTimingDependence):
    """sPyNNaker's nearest-pair rule: NEST ``stdp_nn_symm_synapse`` (each presynaptic spike
    pairs with the nearest postsynaptic spike before it, and each postsynaptic spike with the
    nearest presynaptic spike before it)."""

    default_parameters = {"tau_plus": 20.0, "tau_minus": 20.0, "A_plus": 0.01, "A_minus": 0.01}
    translations = identity("tau_plus", "tau_minus", "A_plus", "A_minus")
    possible_models = {"stdp_synapse"}
    RULE = "NearestPair"

    def __init__(self, tau_plus: float = 20.0, tau_minus: float = 20.0, A_plus: float = 0.01,
                 A_minus: float = 0.01) -> None:
        synapses.STDPTimingDependence.__init__(self, tau_plus=tau_plus, tau_minus=tau_minus,
                                               A_plus=A_plus, A_minus=A_minus)


class Vogels2011Rule(synapses.STDPTimingDependence):
    """Vogels et al. 2011 inhibitory plasticity, NEST ``vogels_sprekeler_synapse``.

    sPyNNaker's signature ``Vogels2011Rule(alpha, tau=20.0, A_plus=0.01, A_minus=0.01)``
    (with an AdditiveWeightDependence: η = A_plus * w_max, depression α·η per presynaptic
    spike); PyNN's ``Vogels2011Rule(tau=20.0, eta=1e-10, rho=3.0)`` (η absolute, α = 2 ρ τ
    with ρ in Hz) is accepted too.
    """

    default_parameters = {"alpha": 0.12, "tau": 20.0, "A_plus": 0.01, "A_minus": 0.01}
    translations = identity("alpha", "tau", "A_plus", "A_minus")
    possible_models = {"stdp_synapse"}
    WEIGHTS = (AdditiveWeightDependence,)

    def __init__(self, alpha: float | None = None, tau: float = 20.0, A_plus: float = 0.01,
                 A_minus: float = 0.01, eta: float | None = None,
                 rho: float | None = None) -> None:
        self._eta = eta
        if alpha is None:
            if rho is None:
                raise ConfigurationError("Vogels2011Rule needs alpha (sPyNNaker) or rho (PyNN)")
            alpha = 2.0 * rho * tau / 1000.0
        synapses.STDPTimingDependence.__init__(self, alpha=alpha, tau=tau, A_plus=A_plus,
                                               A_minus=A_minus)

    def kernel_rule(self, values: dict[str, float], wd: Any) -> Any:
        bounds = wd.bounds(values)
        eta = self._eta if self._eta is not None else values["A_plus"] * bounds["w_max"]
        return _rules().Vogels(tau_plus=values["tau"], tau_minus=values["tau"], a_plus=eta,
                                 a_minus=values["alpha"] * eta, **bounds)


class PfisterSpikeTriplet(synapses.STDPTimingDependence):
    """sPyNNaker's triplet rule (Pfister & Gerstner 2006), NEST ``stdp_triplet_synapse``:
    pair amplitudes ``A_plus``/``A_minus`` here, triplet ones in the weight dependence, all
    times ``w_max``; ``tau_x``/``tau_y`` are the slow pre/post traces."""

    default_parameters = {"tau_plus": 16.8, "tau_minus": 33.7, "tau_x": 101.0, "tau_y": 125.0,
                          "A_plus": 0.005, "A_minus": 0.007}
    translations = identity("tau_plus", "tau_minus", "tau_x", "tau_y", "A_plus", "A_minus")
    possible_models = {"stdp_triplet_synapse"}
    WEIGHTS = (WeightDependenceAdditiveTriplet,)

    def __init__(self, tau_plus: float, tau_minus: float, tau_x: float, tau_y: float,
                 A_plus: float, A_minus: float) -> None:
        synapses.STDPTimingDependence.__init__(
            self, tau_plus=tau_plus, tau_minus=tau_minus, tau_x=tau_x, tau_y=tau_y,
            A_plus=A_plus, A_minus=A_minus)

    def kernel_rule(self, values: dict[str, float], wd: Any) -> Any:
        w_max = values["w_max"]
        return _rules().Triplet(
            tau_plus=values["tau_plus"], tau_minus=values["tau_minus"],
            a_plus=values["A_plus"] * w_max, a_minus=values["A_minus"] * w_max,
            w_max=w_max, w_min=values["w_min"], tau_x=values["tau_x"], tau_y=values["tau_y"],
            a3_plus=values["A3_plus"] * w_max, a3_minus=values["A3_minus"] * w_max)


class STDPMechanism(_MinimumDelay, synapses.STDPMechanism):
    __doc__ = synapses.STDPMechanism.__doc__
    base_translations = identity("weight", "delay", "dendritic_delay_fraction")
    parameter_checks = {"weight": check_weights, "delay": check_delays}

    def __init__(self, timing_dependence: Any = None, weight_dependence: Any = None,
                 voltage_dependence: Any = None, dendritic_delay_fraction: float = 1.0,
                 weight: Any = 0.0, delay: Any = None, **spynnaker_extras: Any) -> None:
        td, wd = timing_dependence, weight_dependence
        if not isinstance(td, (_PairTiming, Vogels2011Rule, PfisterSpikeTriplet)):
            raise ConfigurationError(
                f"STDPMechanism timing dependence {type(td).__name__} has no kernel in "
                f"spinnlive; supported: {SUPPORTED}")
        allowed = getattr(td, "WEIGHTS", ())
        if not isinstance(wd, allowed):
            raise ConfigurationError(
                f"STDPMechanism: {type(td).__name__} with weight dependence "
                f"{type(wd).__name__} has no kernel in spinnlive; it takes "
                f"{' or '.join(c.__name__ for c in allowed)} (supported: {SUPPORTED})")
        if voltage_dependence is not None:
            raise ConfigurationError("STDPMechanism: voltage dependence has no kernel in "
                                     f"spinnlive; supported: {SUPPORTED}")
        if dendritic_delay_fraction != 1.0:
            raise ConfigurationError(
                f"STDPMechanism: dendritic_delay_fraction={dendritic_delay_fraction}: the "
                "kernels take the whole delay as dendritic, as NEST does (1.0 only)")
        ignored = set(spynnaker_extras) - {"pad_to_length", "backprop_delay"}
        if ignored:
            raise ConfigurationError(f"STDPMechanism got unknown arguments {sorted(ignored)}")
        synapses.STDPMechanism.__init__(self, td, wd, None, dendritic_delay_fraction,
                                        weight, delay)

    def _build_translations(self) -> None:
        # a copy: PyNN's version updates the class's own dict
        self.translations = dict(self.__class__.base_translations)
        for component in (self.timing_dependence, self.weight_dependence):
            self.translations.update(component.translations)

    @property
    def RULE_NAMES(self) -> list[str]:  # noqa: N802 - read like TsodyksMarkramSynapse's
        return [n for n in self.get_parameter_names()
                if n not in ("weight", "delay", "dendritic_delay_fraction")]

    def kernel_rule(self, values: dict[str, float], tau_psc: float) -> Any:
        return self.timing_dependence.kernel_rule(values, self.weight_dependence)


def _unsupported(name: str, base: type) -> type:
    """A stand-in for a synapse model spinnlive cannot simulate: it refuses construction."""

    def __init__(self: object, *args: Any, **kwargs: Any) -> None:
        raise ConfigurationError(
            f"{name} is not supported by spinnlive (no kernel); supported: {SUPPORTED}")

    return type(name, (base,), {"__init__": __init__})


ElectricalSynapse = _unsupported("ElectricalSynapse", synapses.ElectricalSynapse)


#: every synapse type the engine has a kernel for (the projection refuses any other, naming
#: :data:`SUPPORTED`)
KERNEL_TYPES = (StaticSynapse, STDPMechanism, PerConnectionRule, Neuromodulation)
