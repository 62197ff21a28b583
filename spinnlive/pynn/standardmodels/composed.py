"""PyNN's composed neuron models, ``PointNeuron(neuron, **receptors)``, on spinnlive's kernels.

A composed model with two post-synaptic receptors of one kind is one of PyNN's monolithic
standard cells, receptor names aside, and spinnlive runs it as that cell:

================  ============================  ===========================
neuron            receptors (two of)            runs as
================  ============================  ===========================
``LIF``           ``CurrExpPostSynapticResponse``  ``IF_curr_exp``
``LIF``           ``CondExpPostSynapticResponse``  ``IF_cond_exp``
``LIF``           ``CondAlphaPostSynapticResponse`` ``IF_cond_alpha``
``AdExp``         ``CondExpPostSynapticResponse``  ``EIF_cond_exp_isfa_ista``
``AdExp``         ``CondAlphaPostSynapticResponse`` ``EIF_cond_alpha_isfa_ista``
``LIF``           three ``CurrExpPostSynapticResponse``, one of them inhibitory
                                                ``IF_curr_dual_exp`` (the two excitatory ones,
                                                sorted, are its ``excitatory`` and
                                                ``excitatory2``)
================  ============================  ===========================

(NEST runs them as its ``*_multisynapse`` models, whose equations these are.) The receptor
named ``inhibitory`` (or another of PyNN's inhibitory names, GABA, GABAA, GABAB), else the
second in PyNN's sorted order, is the monolith's inhibitory input and the other its excitatory
one: its ``tau_syn`` and ``e_syn`` become ``tau_syn_I`` and ``e_rev_I``. A conductance is a
conductance on either input, so any weights (>= 0) work. A current on the inhibitory input is
subtracted, so a composed current receptor there takes negative weights only (a positive one
would add current under PyNN's composed semantics and is refused naming the receptor).
``NAME.isyn`` / ``NAME.gsyn`` record that input's current or conductance, and parameters are
read and set by the monolith's names (``tau_syn_E``...). Anything else (other counts of
receptors, mixed kinds, beta-shaped conductances) is refused naming what spinnlive runs.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pyNN.standardmodels import StandardCellType
from pyNN.standardmodels import cells as pynn_cells
from pyNN.standardmodels import receptors as pynn_receptors
from pyNN.standardmodels.base import inhibitory_receptor_types

from ...errors import ConfigurationError
from . import cells, spynnaker_cells

__all__ = ["AdExp", "AlphaPSR", "CondAlphaPostSynapticResponse", "CondExpPostSynapticResponse",
           "CurrExpPostSynapticResponse", "ExpPSR", "LIF", "PointNeuron"]


class LIF(pynn_cells.LIF):
    __doc__ = pynn_cells.LIF.__doc__


class AdExp(pynn_cells.AdExp):
    __doc__ = pynn_cells.AdExp.__doc__


class CurrExpPostSynapticResponse(pynn_receptors.CurrExpPostSynapticResponse):
    __doc__ = pynn_receptors.CurrExpPostSynapticResponse.__doc__


class CondExpPostSynapticResponse(pynn_receptors.CondExpPostSynapticResponse):
    __doc__ = pynn_receptors.CondExpPostSynapticResponse.__doc__


class CondAlphaPostSynapticResponse(pynn_receptors.CondAlphaPostSynapticResponse):
    __doc__ = pynn_receptors.CondAlphaPostSynapticResponse.__doc__


ExpPSR = CondExpPostSynapticResponse
AlphaPSR = CondAlphaPostSynapticResponse

_MONOLITHS: dict[tuple[type, type], Any] = {
    (LIF, CurrExpPostSynapticResponse): cells.IF_curr_exp,
    (LIF, CondExpPostSynapticResponse): cells.IF_cond_exp,
    (LIF, CondAlphaPostSynapticResponse): cells.IF_cond_alpha,
    (AdExp, CondExpPostSynapticResponse): cells.EIF_cond_exp_isfa_ista,
    (AdExp, CondAlphaPostSynapticResponse): cells.EIF_cond_alpha_isfa_ista,
}
#: three receptors of one kind, two of them excitatory: the monolith with a second excitatory
#: input (NEST's multisynapse model with three receptors, whose numbers it reproduces)
_MONOLITHS_3: dict[tuple[type, type], Any] = {
    (LIF, CurrExpPostSynapticResponse): spynnaker_cells.IF_curr_dual_exp,
}
_SUPPORTED = ", ".join([*(f"{n.__name__} + 2 x {r.__name__}" for n, r in _MONOLITHS),
                        *(f"{n.__name__} + 3 x {r.__name__} (one inhibitory)"
                          for n, r in _MONOLITHS_3)])
#: each input of a monolith: its parameters' suffix and its recorded variable's
_LANES = {"excitatory": ("E", "exc"), "excitatory2": ("E2", "exc2"),
          "inhibitory": ("I", "inh")}


def _values(component: Any) -> dict[str, Any]:
    """A component's parameters as given (a value, an array or a RandomDistribution each)."""
    return {name: larr.base_value for name, larr in component.parameter_space.items()
            if name != "locations"}


class _Composed:
    """Mixin of the monolith subclass a PointNeuron becomes: its receptors by PyNN's names."""

    #: PyNN receptor name -> the monolith's ("excitatory" / "inhibitory")
    receptor_lanes: ClassVar[dict[str, str]]
    conductance_based: ClassVar[bool]

    def receptor_lane(self, name: str) -> str:
        return self.receptor_lanes[name]

    def check_receptor_weights(self, weights: Any, receptor: str, label: str) -> None:
        """A current receptor on the inhibitory input takes negative weights only."""
        import numpy as np

        if (not self.conductance_based and self.receptor_lanes.get(receptor) == "inhibitory"
                and np.any(np.asarray(weights, dtype=float) > 0)):
            raise ConfigurationError(
                f"projection {label!r}: composed current receptor {receptor!r} is spinnlive's "
                "inhibitory input (IF_curr_exp's), which subtracts; give it negative weights")


class PointNeuron(StandardCellType):
    """PyNN's ``PointNeuron(neuron, **receptors)``: see the module docstring for the
    compositions spinnlive runs (it returns the equivalent monolithic cell type)."""

    def __new__(cls, neuron: Any = None, **receptors: Any) -> Any:
        kinds = {type(r) for r in receptors.values()}
        names = sorted(receptors)
        inhibitory_names = [n for n in names if n in inhibitory_receptor_types]
        table = {2: _MONOLITHS, 3: _MONOLITHS_3}.get(len(names), {})
        monolith: Any = table.get((type(neuron), next(iter(kinds)))) if len(kinds) == 1 else None
        if monolith is not None and len(names) == 3 and len(inhibitory_names) != 1:
            monolith = None  # which two are excitatory would be a guess
        if monolith is None:
            raise ConfigurationError(
                "PointNeuron: spinnlive runs a composed model with two receptors of one kind, "
                f"or three with one inhibitory ({_SUPPORTED}); got {type(neuron).__name__} "
                f"with { {name: type(r).__name__ for name, r in receptors.items()} }")
        inhibitory = inhibitory_names[0] if inhibitory_names else names[1]
        excitatory = [n for n in names if n != inhibitory]  # sorted: E, then E2
        lanes = {**dict(zip(excitatory, ("excitatory", "excitatory2"))),
                 inhibitory: "inhibitory"}
        params = _values(neuron)
        for name, lane in lanes.items():
            suffix = _LANES[lane][0]
            for key, value in _values(receptors[name]).items():
                params[{"tau_syn": f"tau_syn_{suffix}", "e_syn": f"e_rev_{suffix}"}[key]] = value
        conductance = monolith.conductance_based
        variable = "gsyn" if conductance else "isyn"
        native = {name: f"{variable}_{_LANES[lane][1]}" for name, lane in lanes.items()}
        composed: Any = type(f"PointNeuron[{monolith.__name__}]", (_Composed, monolith), {
            "__module__": __name__,
            "__doc__": f"A PointNeuron run as {monolith.__name__} (receptors {names}).",
            "receptor_types": names,
            "receptor_lanes": lanes,
            "recordable": [*monolith.recordable, *(f"{n}.{variable}" for n in names)],
            "units": {**monolith.units,
                      **{f"{n}.{variable}": "uS" if conductance else "nA" for n in names}},
            "variable_map": {**monolith.variable_map,
                             **{f"{n}.{variable}": native[n] for n in names}},
        })
        composed.recordable = list(dict.fromkeys(composed.recordable))  # gsyn_* once
        return composed(**params)
