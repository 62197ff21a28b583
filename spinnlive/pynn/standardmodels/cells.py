"""Standard cell types, declared as tables over PyNN's own cell classes.

Rules: every class names its kernel model (``kernel_model``, a key of
``spinnlive.kernels.neurons.MODELS`` or a source kind) and maps PyNN recordables to kernel state
variables (``variable_map``). Translations are the identity because the kernels take PyNN names
and units. Current-based cells also record ``gsyn_exc``/``gsyn_inh`` (the synaptic input current,
in nA) because sPyNNaker scripts ask for them. PyNN cell types spinnlive has no kernel for are
exported as classes that raise :class:`~spinnlive.errors.ConfigurationError` when instantiated,
so a script fails at the line that names them, never later and never silently.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pyNN.standardmodels import cells

from ...errors import ConfigurationError
from .spynnaker_args import SpynnakerArgs
from .translations import identity

__all__ = [
    "IF_curr_exp", "IF_curr_alpha", "IF_curr_delta", "IF_cond_exp", "Izhikevich",
    "SpikeSourcePoisson", "SpikeSourceArray", "SUPPORTED_CELL_TYPES",
    "IF_cond_alpha", "HH_cond_exp", "EIF_cond_alpha_isfa_ista", "EIF_cond_exp_isfa_ista",
    "IF_cond_exp_gsfa_grr", "IF_facets_hardware1", "SpikeSourceGamma",
    "SpikeSourcePoissonRefractory", "GIF_cond_exp",
]


_CURRENT_INPUTS = {"gsyn_exc": "isyn_exc", "gsyn_inh": "isyn_inh"}


class _CurrentBased:
    """sPyNNaker habit: ``gsyn_exc``/``gsyn_inh`` on a current-based cell is the input current."""

    recordable: ClassVar[list[str]]
    units: ClassVar[dict[str, str]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.recordable = list(cls.recordable) + list(_CURRENT_INPUTS)
        cls.units = {**cls.units, "gsyn_exc": "nA", "gsyn_inh": "nA"}


class IF_curr_exp(SpynnakerArgs, _CurrentBased, cells.IF_curr_exp):
    __doc__ = cells.IF_curr_exp.__doc__
    kernel_model = "IF_curr_exp"
    translations = identity(*cells.IF_curr_exp.default_parameters)
    variable_map = {"v": "v", "isyn_exc": "isyn_exc", "isyn_inh": "isyn_inh", **_CURRENT_INPUTS}


class IF_curr_alpha(SpynnakerArgs, _CurrentBased, cells.IF_curr_alpha):
    __doc__ = cells.IF_curr_alpha.__doc__
    kernel_model = "IF_curr_alpha"
    translations = identity(*cells.IF_curr_alpha.default_parameters)
    variable_map = {"v": "v", "isyn_exc": "isyn_exc", "isyn_inh": "isyn_inh", **_CURRENT_INPUTS}


class IF_curr_delta(SpynnakerArgs, cells.IF_curr_delta):
    __doc__ = cells.IF_curr_delta.__doc__
    kernel_model = "IF_curr_delta"
    translations = identity(*cells.IF_curr_delta.default_parameters)
    variable_map = {"v": "v"}


class IF_cond_exp(SpynnakerArgs, cells.IF_cond_exp):
    __doc__ = cells.IF_cond_exp.__doc__
    kernel_model = "IF_cond_exp"
    translations = identity(*cells.IF_cond_exp.default_parameters)
    variable_map = {"v": "v", "gsyn_exc": "gsyn_exc", "gsyn_inh": "gsyn_inh"}


class IF_cond_alpha(SpynnakerArgs, cells.IF_cond_alpha):
    __doc__ = cells.IF_cond_alpha.__doc__
    kernel_model = "IF_cond_alpha"
    translations = identity(*cells.IF_cond_alpha.default_parameters)
    variable_map = {"v": "v", "gsyn_exc": "gsyn_exc", "gsyn_inh": "gsyn_inh"}


class EIF_cond_exp_isfa_ista(SpynnakerArgs, cells.EIF_cond_exp_isfa_ista):
    __doc__ = cells.EIF_cond_exp_isfa_ista.__doc__
    kernel_model = "EIF_cond_exp_isfa_ista"
    translations = identity(*cells.EIF_cond_exp_isfa_ista.default_parameters)
    variable_map = {"v": "v", "w": "w", "gsyn_exc": "gsyn_exc", "gsyn_inh": "gsyn_inh"}


class EIF_cond_alpha_isfa_ista(SpynnakerArgs, cells.EIF_cond_alpha_isfa_ista):
    __doc__ = cells.EIF_cond_alpha_isfa_ista.__doc__
    kernel_model = "EIF_cond_alpha_isfa_ista"
    translations = identity(*cells.EIF_cond_alpha_isfa_ista.default_parameters)
    variable_map = {"v": "v", "w": "w", "gsyn_exc": "gsyn_exc", "gsyn_inh": "gsyn_inh"}


class HH_cond_exp(SpynnakerArgs, cells.HH_cond_exp):
    __doc__ = cells.HH_cond_exp.__doc__
    kernel_model = "HH_cond_exp"
    translations = identity(*cells.HH_cond_exp.default_parameters)
    recordable = [*cells.HH_cond_exp.recordable, "m", "h", "n"]
    units = {**cells.HH_cond_exp.units, "m": "", "h": "", "n": ""}
    receptor_types = ("excitatory", "inhibitory")
    variable_map = {"v": "v", "gsyn_exc": "gsyn_exc", "gsyn_inh": "gsyn_inh", "m": "m",
                    "h": "h", "n": "n"}


class Izhikevich(SpynnakerArgs, cells.Izhikevich):
    __doc__ = (f"{cells.Izhikevich.__doc__}\n\n    Given ``tau_syn_E`` or ``tau_syn_I`` "
               "(sPyNNaker's parameters), it is sPyNNaker's Izhikevich: see "
               "``spynnaker_cells.IzkCurrExpBase``.")
    kernel_model = "Izhikevich"

    def __new__(cls, *args: Any, **parameters: Any) -> Any:
        if cls is Izhikevich and ("tau_syn_E" in parameters or "tau_syn_I" in parameters):
            from .spynnaker_cells import IzkCurrExpBase

            return IzkCurrExpBase(*args, **parameters)  # not an Izhikevich: no second __init__
        return super().__new__(cls)
    translations = identity(*cells.Izhikevich.default_parameters)
    variable_map = {"v": "v", "u": "u"}


class SpikeSourcePoisson(SpynnakerArgs, cells.SpikeSourcePoisson):
    __doc__ = cells.SpikeSourcePoisson.__doc__
    kernel_model = "SpikeSourcePoisson"
    positional = ("rate", "start", "duration")
    translations = identity(*cells.SpikeSourcePoisson.default_parameters)
    variable_map: ClassVar[dict[str, str]] = {}


class SpikeSourceGamma(SpynnakerArgs, cells.SpikeSourceGamma):
    __doc__ = cells.SpikeSourceGamma.__doc__
    kernel_model = "SpikeSourceGamma"
    # a float schema: PyNN's int default would truncate alpha=1.5 to 1 without a word; the
    # kernel refuses an order that is not whole
    default_parameters = {**cells.SpikeSourceGamma.default_parameters, "alpha": 2.0}
    translations = identity(*cells.SpikeSourceGamma.default_parameters)
    variable_map: ClassVar[dict[str, str]] = {}


class SpikeSourcePoissonRefractory(SpynnakerArgs, cells.SpikeSourcePoissonRefractory):
    __doc__ = cells.SpikeSourcePoissonRefractory.__doc__
    kernel_model = "SpikeSourcePoissonRefractory"
    translations = identity(*cells.SpikeSourcePoissonRefractory.default_parameters)
    variable_map: ClassVar[dict[str, str]] = {}


class SpikeSourceArray(SpynnakerArgs, cells.SpikeSourceArray):
    __doc__ = cells.SpikeSourceArray.__doc__
    kernel_model = "SpikeSourceArray"
    positional = ("spike_times",)
    translations = identity(*cells.SpikeSourceArray.default_parameters)
    variable_map: ClassVar[dict[str, str]] = {}


SUPPORTED_CELL_TYPES: tuple[type, ...] = (
    IF_curr_exp, IF_curr_alpha, IF_curr_delta, IF_cond_exp, IF_cond_alpha,
    EIF_cond_exp_isfa_ista, EIF_cond_alpha_isfa_ista, HH_cond_exp, Izhikevich,
    SpikeSourcePoisson, SpikeSourceArray, SpikeSourceGamma, SpikeSourcePoissonRefractory,
)


def _unsupported(name: str) -> type:
    """A stand-in for a PyNN cell type that has no kernel: it refuses to be instantiated."""
    supported = ", ".join(c.__name__ for c in SUPPORTED_CELL_TYPES)

    def __init__(self: object, *args: Any, **kwargs: Any) -> None:
        raise ConfigurationError(
            f"cell type {name} is not supported by spinnlive; supported: {supported}")

    return type(name, (getattr(cells, name),), {"__init__": __init__, "__doc__": __init__.__doc__})


IF_cond_exp_gsfa_grr = _unsupported("IF_cond_exp_gsfa_grr")
IF_facets_hardware1 = _unsupported("IF_facets_hardware1")
GIF_cond_exp = _unsupported("GIF_cond_exp")
