"""Population, PopulationView and Assembly for spinnlive: the underscore hooks of pyNN.common.

Rules:

* Every cell belongs to one root :class:`Population`, which owns the native parameter and
  initial-value arrays. They are the engine's own arrays (shared by reference with its
  population record), so a view writes into its root's arrays through an index and then tells the
  engine which names changed.
* ``_get_parameters`` and friends live once, in :class:`_RootArrays`, shared by Population and
  PopulationView (PyNN's backends copy them per class).
* IDs are consecutive per population; :func:`locate` turns any set of IDs into
  ``(population, local indices)`` groups with one ``searchsorted``.
* sPyNNaker habit: ``set()`` with a state variable (``v``) acts like ``initialize()``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np
from pyNN import common, errors
from pyNN.parameters import LazyArray, ParameterSpace, Sequence, simplify
from pyNN.standardmodels import StandardCellType

from ..engine.description import VERTEX_PARAMETERS
from ..errors import ConfigurationError
from . import simulator
from .recording import Recorder

logger = logging.getLogger(__name__)


def locate(ids: np.ndarray) -> list[tuple[Population, np.ndarray, np.ndarray]]:
    """Group cell IDs by root population: ``(population, local indices, positions in ids)``."""
    ids = np.asarray(ids, dtype=np.int64)
    pops = simulator.state.populations
    firsts = np.array([int(p.first_id) for p in pops], dtype=np.int64)
    which = np.searchsorted(firsts, ids, side="right") - 1
    groups = []
    for k in np.unique(which):
        where = np.flatnonzero(which == k)
        groups.append((pops[k], ids[where] - firsts[k], where))
    return groups


def native_array(value: Any, size: int) -> np.ndarray:
    """An evaluated parameter as a length-``size`` array (object dtype for spike-time lists)."""
    if isinstance(value, np.ndarray) and value.shape == (size,):
        return value
    out = np.empty(size, dtype=object if isinstance(value, Sequence) else float)
    for i in range(size):
        out[i] = value
    return out


def round_size(size: Any, label: str | None) -> Any:
    """sPyNNaker's rule for a float size: within 0.001 of an integer it is rounded (logged),
    otherwise refused."""
    if isinstance(size, (bool, np.bool_)) or not isinstance(size, (float, np.floating)):
        return size
    whole = int(round(float(size)))
    if abs(whole - float(size)) >= 0.001:
        raise ConfigurationError(f"population {label!r}: size must be an int, got {size}")
    logger.warning("Size of the population %s rounded from %s to %d. Please use int values "
                   "for size", label, size, whole)
    return whole


def atoms_per_core(value: Any) -> int:
    """An int, or the product of sPyNNaker's per-dimension tuple."""
    dims = value if isinstance(value, (tuple, list)) else (value,)
    total = int(np.prod([int(d) for d in dims]))
    if total < 1:
        raise ConfigurationError(f"max_atoms_per_core must be >= 1, got {value!r}")
    return total


def check_spike_times(label: str | None, values: np.ndarray) -> None:
    """Refuse spike-time sequences that go backwards (PyNN's InvalidParameterValueError)."""
    for i, seq in enumerate(values):
        times = np.asarray(getattr(seq, "value", seq), dtype=float)
        if times.size > 1 and np.any(np.diff(times) < 0):
            raise errors.InvalidParameterValueError(
                f"population {label!r}, cell {i}: spike times must be in increasing order, "
                f"got {times.tolist()}")


class _RootArrays:
    """Parameter and initial-value access through the root population's arrays."""

    celltype: Any
    size: int
    initialize: Callable[..., None]  # pyNN.common's, or the view's own

    def _root(self) -> tuple[Population, np.ndarray | slice]:
        raise NotImplementedError

    def _get_parameters(self, *names: str) -> ParameterSpace:
        celltype = self.celltype
        if any(name in celltype.computed_parameters() for name in names):
            native_names = celltype.get_native_names()  # computed ones need all parameters
        else:
            native_names = celltype.get_native_names(*names)
        return celltype.reverse_translate(self._get_native_parameters(*native_names))

    def _get_native_parameters(self, *names: str) -> ParameterSpace:
        root, index = self._root()
        values = {name: simplify(root._parameters[name][index]) for name in names}
        return ParameterSpace(values, shape=(self.size,))

    def _set_parameters(self, parameter_space: ParameterSpace) -> None:
        root, index = self._root()
        parameter_space.evaluate(simplify=False)
        for name, value in parameter_space.items():
            if name == "spike_times":
                check_spike_times(root.label, native_array(value, self.size))
            root._parameters[name][index] = value
        simulator.state.engine.parameters_changed(root._key, list(parameter_space.keys()))

    def _set_initial_value_array(self, variable: str, initial_values: LazyArray) -> None:
        root, index = self._root()
        native = self.celltype.variable_map.get(variable, variable)
        if native not in root._initial:
            raise ConfigurationError(
                f"population {root.label!r} ({type(root.celltype).__name__}) has no state "
                f"variable {variable!r}; it has {sorted(self.celltype.default_initial_values)}")
        initial_values.shape = (self.size,)
        root._initial[native][index] = initial_values.evaluate(simplify=False)
        simulator.state.engine.initial_changed(root._key, [native])

    def set(self, **parameters: Any) -> None:
        # Overridden for an sPyNNaker habit: set(v=...) initialises a state variable.
        state_names = set(self.celltype.default_initial_values) - set(
            self.celltype.get_parameter_names())
        initial = {k: parameters.pop(k) for k in list(parameters) if k in state_names}
        if initial:
            logger.debug("set(%s) on %s treated as initialize()", sorted(initial), self)
            self.initialize(**initial)
        if parameters:
            super().set(**parameters)  # type: ignore[misc]

    # -- sPyNNaker's extras -------------------------------------------------------------------
    def set_state(self, **initial_values: Any) -> None:
        """sPyNNaker's name for initialize()."""
        self.initialize(**initial_values)

    def spinnaker_get_data(self, variable: Any, as_matrix: bool = False,
                           view_indexes: Any = None) -> np.ndarray:
        """sPyNNaker's numpy form of the recorded data of one variable: spikes as
        ``(id, time)`` rows sorted by id then time; a signal as ``(id, time, value)`` rows
        (id-major) or, with ``as_matrix``, a (samples, cells) matrix. ``id`` is the index in
        the root population, as sPyNNaker gives it."""
        if not isinstance(variable, str):
            if len(variable) != 1:
                raise ConfigurationError("spinnaker_get_data: one variable at a time")
            variable = variable[0]
        root, index = self._root()
        local = np.arange(root.size)[index]
        if view_indexes is not None:
            local = local[np.asarray(view_indexes, dtype=np.int64)]
        segment = root.get_data(variable, gather=True, clear=False).segments[-1]
        if variable == "spikes":
            wanted = set(local.tolist())
            rows = [(int(st.annotations["source_index"]), t) for st in segment.spiketrains
                    if st.annotations["source_index"] in wanted
                    for t in np.asarray(st.magnitude)]
            out = np.array(rows, dtype=float).reshape(-1, 2)
            return out[np.lexsort((out[:, 1], out[:, 0]))] if out.size else out
        signals = segment.filter(name=variable)
        if not signals:
            return np.empty((0, 0))
        signal = signals[0]
        channels = list(np.asarray(signal.array_annotations["channel_index"]))
        columns = [channels.index(i) for i in local if i in channels]
        data = np.asarray(signal.magnitude)[:, columns]
        if as_matrix:
            return data
        times = np.asarray(signal.times.rescale("ms").magnitude)
        n_t, n_c = data.shape
        return np.column_stack((np.repeat(local[np.isin(local, channels)], n_t),
                                np.tile(times, n_c), data.T.reshape(-1)))

    def _get_view(self, selector: Any, label: str | None = None) -> PopulationView:
        return PopulationView(self, selector, label)


class Assembly(common.Assembly):
    __doc__ = common.Assembly.__doc__
    _simulator = simulator


class PopulationView(_RootArrays, common.PopulationView):
    __doc__ = common.PopulationView.__doc__
    _assembly_class = Assembly
    _simulator = simulator

    def _root(self) -> tuple[Population, np.ndarray | slice]:
        return self.grandparent, self.index_in_grandparent(np.arange(self.size))

    def initialize(self, **initial_values: Any) -> None:
        # Overridden because pyNN.common's view has no initial_values store: write to the root.
        for variable, value in initial_values.items():
            self._set_initial_value_array(
                variable, LazyArray(value, shape=(self.size,), dtype=float))


class Population(_RootArrays, common.Population):
    __doc__ = common.Population.__doc__
    label: str
    _simulator = simulator
    _recorder_class = Recorder
    _assembly_class = Assembly

    def __init__(self, size: Any, cellclass: Any, cellparams: Any = None, structure: Any = None,
                 initial_values: dict[str, Any] | None = None, label: str | None = None,
                 additional_parameters: dict[str, Any] | None = None,
                 **additional_kwargs: Any) -> None:
        # Overridden for sPyNNaker's signature: additional_parameters (virtual_key,
        # max_atoms_per_core, n_colour_bits change the mapping; the rest has no meaning here).
        extra = {**(additional_parameters or {}), **additional_kwargs}
        self._vertex_parameters = {k: extra.pop(k) for k in VERTEX_PARAMETERS if k in extra}
        if "max_atoms_per_core" in self._vertex_parameters:
            self._vertex_parameters["max_atoms_per_core"] = atoms_per_core(
                self._vertex_parameters["max_atoms_per_core"])
        if extra:
            logger.info("population %r: additional parameters %s have no effect on the "
                        "embedded engine", label, sorted(extra))
        if isinstance(cellclass, type) and cellparams is None:
            cellparams = {}  # PyNN 0.13 calls cellclass(**None) (sPyNNaker accepts it)
        if isinstance(cellclass, type) and not issubclass(cellclass, StandardCellType):
            raise ConfigurationError(
                f"population {label!r}: {cellclass.__name__} is not a cell type")
        super().__init__(round_size(size, label), cellclass, cellparams, structure,
                         initial_values or {}, label)

    def _root(self) -> tuple[Population, np.ndarray | slice]:
        return self, slice(None)

    def set_max_atoms_per_core(self, max_atoms_per_core: Any) -> None:
        """sPyNNaker's per-population ceiling of atoms per core (the engine's mapping uses it:
        cores, keys and the database look as sPyNNaker's would)."""
        simulator.state.engine.set_vertex_parameter(
            self._key, "max_atoms_per_core", atoms_per_core(max_atoms_per_core))

    def add_placement_constraint(self, x: int, y: int, p: int | None = None) -> None:
        """sPyNNaker pins a population to chip (x, y); the engine has no chips (accepted)."""
        logger.info("population %r: placement constraint (%s, %s, %s) has no effect on the "
                    "embedded engine", self.label, x, y, p)

    def _create_cells(self) -> None:
        celltype = self.celltype
        if not isinstance(celltype, StandardCellType) or not hasattr(celltype, "kernel_model"):
            raise ConfigurationError(
                f"population {self.label!r}: {type(celltype).__name__} is not a spinnlive cell "
                "type; use the classes exported by spinnlive.pynn")
        state = simulator.state
        first = state.id_counter
        self.all_cells = np.array([simulator.ID(i) for i in range(first, first + self.size)],
                                  dtype=simulator.ID)
        for cell in self.all_cells:
            cell.parent = self
        self._mask_local = np.ones(self.size, dtype=bool)
        space = celltype.native_parameters
        space.shape = (self.size,)
        space.evaluate(simplify=False)
        self._parameters = {name: native_array(value, self.size)
                            for name, value in space.items()}
        if "spike_times" in self._parameters:
            check_spike_times(self.label, self._parameters["spike_times"])
        self._initial = {native: np.zeros(self.size)
                         for variable, native in celltype.variable_map.items()
                         if variable in celltype.default_initial_values}
        state.id_counter += self.size
        state.populations.append(self)
        # the engine makes a duplicate label unique (PACMAN's rule); the population takes it
        self._key, self.label = state.engine.add_population(
            label=self.label, model=celltype.kernel_model, size=self.size,
            parameters=self._parameters, initial=self._initial,
            vertex=getattr(self, "_vertex_parameters", None))
