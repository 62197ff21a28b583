"""Neuron models by PyNN name. Base class in ``neuron_base``; models in ``neurons_psc`` (exact
propagators) and ``neurons_ode`` (ODE models)."""

from __future__ import annotations

from .neuron_base import NeuronGroup
from .neurons_ode import IFCondExp, Izhikevich
from .neurons_psc import IFCurrAlpha, IFCurrDelta, IFCurrExp

MODELS: dict[str, type[NeuronGroup]] = {
    "IF_curr_exp": IFCurrExp,
    "IF_curr_alpha": IFCurrAlpha,
    "IF_curr_delta": IFCurrDelta,
    "IF_cond_exp": IFCondExp,
    "Izhikevich": Izhikevich,
}

__all__ = ["MODELS", "IFCondExp", "IFCurrAlpha", "IFCurrDelta", "IFCurrExp", "Izhikevich",
           "NeuronGroup"]
