"""sPyNNaker's extra cell types (``sim.extra_models``) that spinnlive has kernels for.

Each is a PyNN standard cell type like the ones in :mod:`.cells` (a ``kernel_model`` and a
``variable_map``), with sPyNNaker's constructor signature; ``spinnlive.pynn.extra_models``
exports them under sPyNNaker's names.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pyNN.parameters import Sequence
from pyNN.standardmodels import StandardCellType, cells

from .spynnaker_args import SpynnakerArgs
from .translations import identity

__all__ = ["IFCurrExpCa2Adaptive", "IF_curr_dual_exp", "Izhikevich_cond", "IzkCurrExpBase",
           "SpikeSourcePoissonVariable"]


def _per_neuron(value: Any) -> Any:
    """A schedule given once (a flat list: every neuron) or per neuron (a list of lists)."""
    if value is None:
        return Sequence([])
    items = list(value) if not isinstance(value, Sequence) else [value]
    if items and all(isinstance(v, (list, tuple, Sequence)) or hasattr(v, "__len__")
                     for v in items):
        return [v if isinstance(v, Sequence) else Sequence(list(v)) for v in items]
    return Sequence(items)


class SpikeSourcePoissonVariable(StandardCellType):
    """Poisson spike source whose rate follows a schedule: ``rates[i]`` (Hz) from
    ``starts[i]`` (ms) for ``durations[i]`` (ms; default until the next start, the last one
    forever), silent outside; one schedule for all neurons or one per neuron (lists of lists),
    as sPyNNaker's ``extra_models.SpikeSourcePoissonVariable``."""

    default_parameters: ClassVar[dict[str, Any]] = {
        "rates": Sequence([]), "starts": Sequence([]), "durations": Sequence([])}
    recordable: ClassVar[list[str]] = ["spikes"]
    injectable: ClassVar[bool] = False
    receptor_types: ClassVar[tuple[str, ...]] = ()
    units: ClassVar[dict[str, str]] = {}
    translations = identity("rates", "starts", "durations")
    kernel_model = "SpikeSourcePoissonVariable"
    variable_map: ClassVar[dict[str, str]] = {}

    def __init__(self, rates: Any = None, starts: Any = None, durations: Any = None,
                 **parameters: Any) -> None:
        given = {"rates": rates, "starts": starts, "durations": durations}
        super().__init__(**{k: _per_neuron(v) for k, v in given.items() if v is not None},
                         **parameters)


class _ExtraCell(SpynnakerArgs, StandardCellType):
    """What the extra cells share, beyond a standard cell type: sPyNNaker's constructor
    arguments, an excitatory and an inhibitory receptor (a class with more names them), and the
    identity translation of the class's own ``default_parameters`` (the kernels take PyNN's
    names and units), built here so that no class can forget a parameter it adds."""

    receptor_types: ClassVar[tuple[str, ...]] = ("excitatory", "inhibitory")

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.translations = identity(*cls.default_parameters)


class IFCurrExpCa2Adaptive(_ExtraCell):
    """IF_curr_exp with a calcium-activated adaptation current (Liu & Wang 2001), as
    sPyNNaker's ``extra_models.IFCurrExpCa2Adaptive``: ``i_ca2`` (nA) decays with ``tau_ca2``
    (ms), grows by ``i_alpha`` (nA) at each spike and flows outward."""

    default_parameters: ClassVar[dict[str, Any]] = {
        **cells.IF_curr_exp.default_parameters, "tau_ca2": 50.0, "i_alpha": 0.1}
    default_initial_values: dict[str, Any] = {  # per instance once SpynnakerArgs sets v=...
        **cells.IF_curr_exp.default_initial_values, "i_ca2": 0.0}
    recordable: ClassVar[list[str]] = [*cells.IF_curr_exp.recordable, "i_ca2"]
    units: ClassVar[dict[str, str]] = {**cells.IF_curr_exp.units, "i_ca2": "nA"}
    conductance_based = False
    kernel_model = "IFCurrExpCa2Adaptive"
    variable_map: ClassVar[dict[str, str]] = {
        "v": "v", "isyn_exc": "isyn_exc", "isyn_inh": "isyn_inh", "i_ca2": "i_ca2"}


class Izhikevich_cond(_ExtraCell):  # noqa: N801 - sPyNNaker's name
    """The Izhikevich neuron with exponential conductance synapses, as sPyNNaker's
    ``extra_models.Izhikevich_cond`` (weights in uS; 1 nA of input is 1 mV/ms, sPyNNaker's
    units)."""

    default_parameters: ClassVar[dict[str, Any]] = {
        "a": 0.02, "b": 0.2, "c": -65.0, "d": 2.0, "i_offset": 0.0, "tau_syn_E": 5.0,
        "tau_syn_I": 5.0, "e_rev_E": 0.0, "e_rev_I": -70.0}
    default_initial_values: dict[str, Any] = {  # per instance once SpynnakerArgs sets v=...
        "v": -70.0, "u": -14.0, "gsyn_exc": 0.0, "gsyn_inh": 0.0}
    recordable: ClassVar[list[str]] = ["spikes", "v", "u", "gsyn_exc", "gsyn_inh"]
    units: ClassVar[dict[str, str]] = {"v": "mV", "u": "mV/ms", "gsyn_exc": "uS",
                                       "gsyn_inh": "uS"}
    conductance_based = True
    kernel_model = "Izhikevich_cond"
    variable_map: ClassVar[dict[str, str]] = {
        "v": "v", "u": "u", "gsyn_exc": "gsyn_exc", "gsyn_inh": "gsyn_inh"}


class IzkCurrExpBase(_ExtraCell):
    """sPyNNaker's ``Izhikevich`` (its class ``IzkCurrExpBase``): the Izhikevich neuron with
    exponential current synapses (``tau_syn_E``/``tau_syn_I``) in sPyNNaker's units, where 1 nA
    of ``i_offset`` or synaptic current moves ``v`` by 1 mV/ms (PyNN's standard Izhikevich, as
    NEST runs it, takes ``i_offset`` in nA as 1000 pA and delta synapses). ``pyNN.spiNNaker``
    scripts get it as ``sim.Izhikevich``; ``spinnlive.pynn.Izhikevich`` becomes it when given
    ``tau_syn_E`` or ``tau_syn_I``."""

    default_parameters: ClassVar[dict[str, Any]] = {
        "a": 0.02, "b": 0.2, "c": -65.0, "d": 2.0, "i_offset": 0.0, "tau_syn_E": 5.0,
        "tau_syn_I": 5.0}
    default_initial_values: dict[str, Any] = {  # per instance once SpynnakerArgs sets v=...
        "v": -70.0, "u": -14.0, "isyn_exc": 0.0, "isyn_inh": 0.0}
    recordable: ClassVar[list[str]] = ["spikes", "v", "u", "gsyn_exc", "gsyn_inh"]
    units: ClassVar[dict[str, str]] = {"v": "mV", "u": "mV/ms", "gsyn_exc": "nA",
                                       "gsyn_inh": "nA", "isyn_exc": "nA", "isyn_inh": "nA"}
    conductance_based = False
    kernel_model = "Izhikevich_curr_exp"
    variable_map: ClassVar[dict[str, str]] = {
        "v": "v", "u": "u", "gsyn_exc": "isyn_exc", "gsyn_inh": "isyn_inh",
        "isyn_exc": "isyn_exc", "isyn_inh": "isyn_inh"}


class IF_curr_dual_exp(_ExtraCell):  # noqa: N801 - sPyNNaker's name
    """sPyNNaker's ``extra_models.IF_curr_dual_exp``: IF_curr_exp with a second excitatory
    receptor ``'excitatory2'`` of time constant ``tau_syn_E2`` (NEST's
    iaf_psc_exp_multisynapse with three receptors, whose numbers it reproduces)."""

    default_parameters: ClassVar[dict[str, Any]] = {
        **cells.IF_curr_exp.default_parameters, "tau_syn_E2": 5.0}
    default_initial_values: dict[str, Any] = {  # per instance once SpynnakerArgs sets v=...
        **cells.IF_curr_exp.default_initial_values, "isyn_exc2": 0.0}
    recordable: ClassVar[list[str]] = [*cells.IF_curr_exp.recordable, "isyn_exc2", "gsyn_exc",
                                       "gsyn_inh"]
    units: ClassVar[dict[str, str]] = {**cells.IF_curr_exp.units, "isyn_exc2": "nA",
                                       "gsyn_exc": "nA", "gsyn_inh": "nA"}
    receptor_types: ClassVar[tuple[str, ...]] = ("excitatory", "excitatory2", "inhibitory")
    conductance_based = False
    kernel_model = "IF_curr_dual_exp"
    variable_map: ClassVar[dict[str, str]] = {
        "v": "v", "isyn_exc": "isyn_exc", "isyn_inh": "isyn_inh", "isyn_exc2": "isyn_exc2",
        "gsyn_exc": "isyn_exc", "gsyn_inh": "isyn_inh"}
