"""Synapse types: StaticSynapse only; every plastic or unknown synapse type refuses to be built.

Weight rule (sPyNNaker's, so scripts written for SpiNNaker run unchanged): weights are magnitudes
and the receptor decides the sign. On an inhibitory receptor a weight of either sign is accepted
(PyNN's negative current-based convention and sPyNNaker's positive one); the kernel receives its
absolute value. A negative weight on any other receptor is an error. Delays are whole time steps
(rounded by the projection) within [min_delay, max_delay].
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pyNN import errors
from pyNN.standardmodels import build_translations, synapses
from pyNN.standardmodels.base import inhibitory_receptor_types

from ...errors import ConfigurationError

__all__ = [
    "StaticSynapse", "STDPMechanism", "TsodyksMarkramSynapse", "ElectricalSynapse",
    "AdditiveWeightDependence", "MultiplicativeWeightDependence",
    "AdditivePotentiationMultiplicativeDepression", "GutigWeightDependence",
    "SpikePairRule", "Vogels2011Rule", "check_weights", "check_delays",
]


def check_weights(weights: Any, projection: Any) -> None:
    """Refuse negative weights except on an inhibitory receptor (see the module rule)."""
    if projection.receptor_type in inhibitory_receptor_types:
        return
    if np.any(np.asarray(weights, dtype=float) < 0):
        raise errors.ConnectionError(
            f"projection {projection.label!r}: negative weights on receptor "
            f"{projection.receptor_type!r}; use receptor_type='inhibitory' for inhibition")


def check_delays(delays: Any, projection: Any) -> None:
    """Refuse delays outside [min_delay, max_delay] (half a step of tolerance for rounding)."""
    state = projection._simulator.state
    d = np.asarray(delays, dtype=float)
    if d.size == 0:
        return
    low = state.dt if state.min_delay == "auto" else float(state.min_delay)
    if d.min() < low - state.dt / 2:
        raise errors.ConnectionError(
            f"projection {projection.label!r}: delay {d.min():g} ms is below the minimum "
            f"delay {low:g} ms")
    if state.max_delay != "auto" and d.max() > float(state.max_delay) + state.dt / 2:
        raise errors.ConnectionError(
            f"projection {projection.label!r}: delay {d.max():g} ms exceeds max_delay "
            f"{state.max_delay:g} ms given to setup()")


class StaticSynapse(synapses.StaticSynapse):
    __doc__ = synapses.StaticSynapse.__doc__
    translations = build_translations(("weight", "weight"), ("delay", "delay"))
    parameter_checks = {"weight": check_weights, "delay": check_delays}

    def _get_minimum_delay(self) -> float:
        from ..simulator import state

        return state.dt if state.min_delay == "auto" else float(state.min_delay)


def _unsupported(name: str, base: type) -> type:
    """A stand-in for a synapse model spinnlive cannot simulate: it refuses construction."""

    def __init__(self: object, *args: Any, **kwargs: Any) -> None:
        raise ConfigurationError(
            f"{name} is not supported by spinnlive: synaptic plasticity and dynamic synapses "
            "are not implemented; only StaticSynapse is (remove the plasticity or run on "
            "sPyNNaker)")

    return type(name, (base,), {"__init__": __init__})


STDPMechanism = _unsupported("STDPMechanism", synapses.STDPMechanism)
TsodyksMarkramSynapse = _unsupported("TsodyksMarkramSynapse", synapses.TsodyksMarkramSynapse)
ElectricalSynapse = _unsupported("ElectricalSynapse", synapses.ElectricalSynapse)
AdditiveWeightDependence = _unsupported(
    "AdditiveWeightDependence", synapses.AdditiveWeightDependence)
MultiplicativeWeightDependence = _unsupported(
    "MultiplicativeWeightDependence", synapses.MultiplicativeWeightDependence)
AdditivePotentiationMultiplicativeDepression = _unsupported(
    "AdditivePotentiationMultiplicativeDepression",
    synapses.AdditivePotentiationMultiplicativeDepression)
GutigWeightDependence = _unsupported("GutigWeightDependence", synapses.GutigWeightDependence)
SpikePairRule = _unsupported("SpikePairRule", synapses.SpikePairRule)
Vogels2011Rule = _unsupported("Vogels2011Rule", synapses.Vogels2011Rule)
