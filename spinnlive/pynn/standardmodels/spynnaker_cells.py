"""sPyNNaker's extra cell types (``sim.extra_models``) that spinnlive has kernels for.

Each is a PyNN standard cell type like the ones in :mod:`.cells` (a ``kernel_model`` and a
``variable_map``), with sPyNNaker's constructor signature; ``spinnlive.pynn.extra_models``
exports them under sPyNNaker's names.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pyNN.parameters import Sequence
from pyNN.standardmodels import StandardCellType, build_translations

__all__ = ["SpikeSourcePoissonVariable"]


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
    translations = build_translations(("rates", "rates"), ("starts", "starts"),
                                      ("durations", "durations"))
    kernel_model = "SpikeSourcePoissonVariable"
    variable_map: ClassVar[dict[str, str]] = {}

    def __init__(self, rates: Any = None, starts: Any = None, durations: Any = None,
                 **parameters: Any) -> None:
        given = {"rates": rates, "starts": starts, "durations": durations}
        super().__init__(**{k: _per_neuron(v) for k, v in given.items() if v is not None},
                         **parameters)
