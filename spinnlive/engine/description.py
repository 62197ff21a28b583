"""The records a Simulation keeps per population, synapse block and current source, and the
mapper's view of them (application vertices, in sPyNNaker's key-allocation order).

Rules
-----
* Records are mutable on purpose: the front end shares the parameter arrays and the build step
  fills in the kernel objects. They never hold PyNN objects.
* :func:`network_vertices` orders vertices the way sPyNNaker's zoned key allocator meets them
  (mapping.py's rule for equal keys). PACMAN keeps outgoing partitions in a ``defaultdict``
  keyed by pre-vertex, so a vertex's place is fixed the first time the script *touches* its
  partitions: a projection from it, ``add_poisson_live_rate_control`` (the control vertex) or
  ``activate_live_output_for`` (at call time, although the LPG edge is added at run time), as
  checked against sPyNNaker's own database for the same script. Vertices never touched get no
  keys from sPyNNaker; here they come last, after every other.
* :func:`unique_label` is PACMAN's rule for a duplicate label: append a counter.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ConfigurationError
from .vertices import AppVertex, VertexKind

__all__ = ["CurrentRecord", "PopulationRecord", "ProjectionRecord", "SynapseBlock", "network_vertices",
           "unique_label", "vertex_kind"]

logger = logging.getLogger(__name__)

_KINDS = {"SpikeSourcePoisson": VertexKind.POISSON,
          "SpikeSourcePoissonVariable": VertexKind.POISSON,
          "SpikeSourceGamma": VertexKind.POISSON,
          "SpikeSourcePoissonRefractory": VertexKind.POISSON,
          "SpikeSourceArray": VertexKind.SPIKE_ARRAY,
          "SpikeInjector": VertexKind.INJECTOR}
#: sPyNNaker ``additional_parameters`` that change the mapping (the rest are accepted and logged)
VERTEX_PARAMETERS = ("virtual_key", "max_atoms_per_core", "n_colour_bits")


@dataclass(eq=False)
class PopulationRecord:
    key: int
    label: str
    model: str
    size: int
    parameters: dict[str, np.ndarray]
    initial: dict[str, np.ndarray]
    vertex: dict[str, Any] = field(default_factory=dict)  #: VERTEX_PARAMETERS given
    gid: int | None = None
    group: Any = None
    cores: list[slice] = field(default_factory=list)


@dataclass(eq=False)
class SynapseBlock:
    pre: int
    post: int
    pre_idx: np.ndarray
    post_idx: np.ndarray
    weights: np.ndarray
    delays: np.ndarray
    receptor: str
    rule: Any = None  #: a kernels plasticity rule (None: static)
    handle: Any = None
    #: state column -> per-synapse initial values (``Projection.initialize``)
    initial: dict[int, np.ndarray] = field(default_factory=dict)


@dataclass(eq=False)
class ProjectionRecord:
    """A PyNN projection by label, for the live state plane: its connections in the
    projection's order (local pre/post indices) and the synapse blocks that hold them."""

    label: str
    pre_label: str
    post_label: str
    pre_size: int
    post_size: int
    receptor: str
    pre: np.ndarray
    post: np.ndarray
    blocks: list[tuple[int, np.ndarray]]  #: (synapse block key, projection positions in it)
    sign: float  #: -1.0 when the script gave negative weights (PyNN's sign on reads)


@dataclass(eq=False)
class CurrentRecord:
    kind: str
    parameters: dict[str, Any]
    targets: list[tuple[int, np.ndarray]]
    seed: int | None = None
    recording: bool = False
    source: Any = None


def vertex_kind(model: str) -> VertexKind:
    return _KINDS.get(model, VertexKind.NEURON)


def unique_label(label: str, taken: Collection[str], kind: str = "population",
                 chosen: bool = True) -> str:
    """``label``, or ``label<n>`` for the first free n when it is taken.

    ``taken`` is one namespace (populations and projections each have their own, as in
    PyNN); ``kind`` names it in the WARNING a renamed label gets. A label the script did not
    choose (``chosen=False``: PyNN's default ``"pre→post"`` of a projection, which two
    projections between the same populations share) is numbered without a warning.
    """
    if not label:
        raise ConfigurationError(f"a {kind} needs a non-empty label")
    if label not in taken:
        return label
    new = next(f"{label}{n}" for n in itertools.count(1) if f"{label}{n}" not in taken)
    logger.log(logging.WARNING if chosen else logging.DEBUG,
               "%s label %r is already used; this one is labelled %r (live clients must use "
               "that name)", kind, label, new)
    return new


def network_vertices(populations: Iterable[PopulationRecord], order: Iterable[str],
                     controls: Mapping[str, str],
                     neurons_per_core: Mapping[str, int]) -> list[AppVertex]:
    """The application vertices of the network, in key-allocation order (module docstring)."""
    vertices: dict[str, AppVertex] = {}
    sizes = {}
    for rec in populations:
        per_core = rec.vertex.get("max_atoms_per_core", neurons_per_core.get(rec.model))
        vertices[rec.label] = AppVertex(
            rec.label, rec.size, vertex_kind(rec.model), per_core,
            rec.vertex.get("virtual_key"), rec.vertex.get("n_colour_bits"))
        sizes[rec.label] = rec.size
    for control, poisson in controls.items():
        vertices[control] = AppVertex(control, sizes[poisson], VertexKind.POISSON_CONTROL)
    return [vertices[label] for label in dict.fromkeys([*order, *vertices])]
