"""Neuron models by PyNN name. Base class in ``neuron_base``; models in ``neurons_psc`` (exact
propagators), ``neurons_ode``, ``neurons_cond`` and ``neurons_hh`` (ODE models)."""

from __future__ import annotations

from .neuron_base import NeuronGroup
from .neurons_cond import (
    EIFCondAlphaIsfaIsta,
    EIFCondExpIsfaIsta,
    IFCondAlpha,
    IzhikevichCond,
    IzhikevichCurrExp,
)
from .neurons_hh import HHCondExp
from .neurons_ode import IFCondExp, Izhikevich
from .neurons_psc import IFCurrAlpha, IFCurrDelta, IFCurrDualExp, IFCurrExp, IFCurrExpCa2Adaptive

MODELS: dict[str, type[NeuronGroup]] = {
    "IF_curr_exp": IFCurrExp,
    "IF_curr_alpha": IFCurrAlpha,
    "IF_curr_delta": IFCurrDelta,
    "IF_cond_exp": IFCondExp,
    "Izhikevich": Izhikevich,
    "IF_cond_alpha": IFCondAlpha,
    "EIF_cond_exp_isfa_ista": EIFCondExpIsfaIsta,
    "EIF_cond_alpha_isfa_ista": EIFCondAlphaIsfaIsta,
    "HH_cond_exp": HHCondExp,
    "IFCurrExpCa2Adaptive": IFCurrExpCa2Adaptive,
    "IF_curr_dual_exp": IFCurrDualExp,
    "Izhikevich_cond": IzhikevichCond,
    "Izhikevich_curr_exp": IzhikevichCurrExp,
}

__all__ = ["MODELS", "EIFCondAlphaIsfaIsta", "EIFCondExpIsfaIsta", "HHCondExp", "IFCondAlpha",
           "IFCondExp", "IFCurrDualExp", "IFCurrExpCa2Adaptive", "IFCurrAlpha", "IFCurrDelta", "IFCurrExp", "Izhikevich",
           "IzhikevichCond", "IzhikevichCurrExp",
           "NeuronGroup"]
