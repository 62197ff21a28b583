"""Projection: whole-array connection building and weight/delay access.

Rules:

* A projection is four arrays (``_pre``, ``_post`` local indices into ``pre``/``post``, and one
  array per native synapse parameter), filled once: by :func:`connectors.wire` where a fast path
  exists, otherwise by PyNN's generic path through ``_convergent_connect``, which only appends
  chunks. Parameter values are evaluated for all connections at once (a RandomDistribution draws
  them in post-major order, as PyNN's generic path does).
* Weights are stored as the user gave them (``get`` returns PyNN's signs); the engine receives
  magnitudes, the receptor gives the sign. Delays are rounded to whole time steps when stored.
* Pre or post may be views or assemblies: the engine gets one synapse block per pair of root
  populations.
* Every projection has a label, unique among the projections (populations' labels are another
  namespace, as in PyNN): the script's, or PyNN's default ``"<pre>→<post>"``, with PACMAN's
  counter when taken (``"exc→exc1"``; a WARNING only when the script chose the label). The
  live state plane names projections by it.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

import numpy as np
from pyNN import common
from pyNN.core import IndexBasedExpression
from pyNN.parameters import LazyArray, ParameterSpace
from pyNN.space import Space

from ..engine.description import ProjectionRecord
from ..errors import ConfigurationError
from . import simulator
from .connectors import wire
from .populations import locate
from .standardmodels.synapses import (
    KERNEL_TYPES,
    SUPPORTED,
    Neuromodulation,
    StaticSynapse,
    TsodyksMarkramSynapse,
    homogeneous,
)

logger = logging.getLogger(__name__)

_BLOCK = 1 << 22  #: entries of a (pre, post) block evaluated at once


class Connection(common.Connection):
    """One connection, a window on the projection's arrays: reading an attribute reads them,
    setting one (``prj.connections[2].weight = 0.1``) writes them and the engine's copy."""

    def __init__(self, projection: Projection, i: int) -> None:
        object.__setattr__(self, "_projection", projection)
        object.__setattr__(self, "_i", i)
        self.presynaptic_index = int(projection._pre[i])
        self.postsynaptic_index = int(projection._post[i])

    def __getattr__(self, name: str) -> Any:
        values = self.__dict__["_projection"]._values if "_projection" in self.__dict__ else {}
        if name in values:
            return float(values[name][self.__dict__["_i"]])
        raise AttributeError(f"a connection has no attribute {name!r}; it has "
                             f"{sorted(values)}")

    def __setattr__(self, name: str, value: Any) -> None:
        projection = self.__dict__["_projection"]
        if name not in projection._values:
            object.__setattr__(self, name, value)
            return
        projection._set_connection_value(self.__dict__["_i"], name, float(value))

    def as_tuple(self, *attribute_names: str) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in attribute_names)


def values_at(larr: LazyArray, pre: np.ndarray, post: np.ndarray) -> np.ndarray:
    """Evaluate a (pre, post)-shaped lazy parameter at the given connections, all at once."""
    n = pre.size
    if larr.is_homogeneous:
        return np.full(n, float(larr.evaluate(simplify=True)))
    if n == 0:
        return np.zeros(0)
    base = larr.base_value
    if not callable(base) or hasattr(base, "next") or isinstance(base, IndexBasedExpression):
        # arrays and index expressions go element-wise; random draws one per connection
        return np.asarray(larr[pre, post], dtype=float).reshape(n)
    # A function of position (a distance expression, a lambda of d) evaluates on the outer
    # product of its index arrays, so evaluate blocks of whole post columns and pick from them.
    n_pre = larr.shape[0]
    step = max(1, _BLOCK // max(1, n_pre))
    out = np.empty(n)
    lo_all, hi_all = int(post.min()), int(post.max()) + 1
    for lo in range(lo_all, hi_all, step):
        hi = min(hi_all, lo + step)
        where = np.flatnonzero((post >= lo) & (post < hi))
        if where.size:
            block = np.broadcast_to(np.asarray(larr[:, lo:hi], dtype=float), (n_pre, hi - lo))
            out[where] = block[pre[where], post[where] - lo]
    return out


class Projection(common.Projection):
    __doc__ = common.Projection.__doc__
    label: str
    receptor_type: str  # pyNN.common's check sets it from the post cell type's receptors
    _pre: np.ndarray
    _post: np.ndarray
    _simulator = simulator
    _static_synapse_class = StaticSynapse

    def __init__(self, presynaptic_population: Any, postsynaptic_population: Any,
                 connector: Any, synapse_type: Any = None, source: str | None = None,
                 receptor_type: str | None = None, space: Space = Space(),  # noqa: B008
                 label: str | None = None) -> None:
        if synapse_type is not None and not isinstance(synapse_type, KERNEL_TYPES):
            raise ConfigurationError(
                f"synapse type {type(synapse_type).__name__} is not supported by spinnlive "
                f"(no kernel); supported: {SUPPORTED}")
        modulation = isinstance(synapse_type, Neuromodulation)
        if modulation and receptor_type not in ("reward", "punishment"):
            raise ConfigurationError(
                f"a Neuromodulation projection targets receptor_type 'reward' or 'punishment' "
                f"(sPyNNaker's), not {receptor_type!r}")
        if not modulation and receptor_type in ("reward", "punishment"):
            raise ConfigurationError(
                f"receptor_type {receptor_type!r} takes a Neuromodulation synapse type")
        # the cell types list no neuromodulation receptor (sPyNNaker adds it to plastic
        # targets): PyNN's check sees 'excitatory', the projection keeps its own
        common.Projection.__init__(self, presynaptic_population, postsynaptic_population,
                                   connector, synapse_type, source,
                                   "excitatory" if modulation else receptor_type, space, label)
        if modulation and receptor_type is not None:  # 'reward' or 'punishment', checked above
            self.receptor_type = receptor_type
        if source is not None:
            raise ConfigurationError("spinnlive cells have a single spike source; omit source=")
        self._chunks: list[tuple[np.ndarray, np.ndarray, dict[str, Any]]] = []
        state = simulator.state
        started = state.engine.clock()
        wiring = wire(connector, self)
        #: each connection's receptor where the connector chooses it by sign, else None
        self._receptors: np.ndarray | None = None
        #: the weights' signs chose receptors (signed connectors, composed receptors): a set
        #: may not flip one
        self._sign_locked = False
        if wiring is None:
            try:
                connector.connect(self)
            except NotImplementedError as err:
                raise ConfigurationError(
                    f"{type(connector).__name__} cannot connect {self.label!r}: {err}") from err
            self._pre, self._post, self._values = self._gather_chunks()
        else:
            self._pre, self._post = wiring.pre, wiring.post
            self._values = self._evaluate(connector, wiring.overrides)
            if wiring.signed_receptors is not None:
                self._receptors = self._signed_receptors(wiring.signed_receptors)
                self._sign_locked = True
            if connector.safe:
                for name, check in self.synapse_type.parameter_checks.items():
                    if name != "weight" or self._receptors is None:  # signs chose receptors
                        check(self._values[name], self)
            if connector.callback is not None:
                connector.callback(1.0)
        self._values["delay"] = self._round_delays(self._values["delay"])
        rule = self._plasticity_rule()
        if rule is not None and self._receptors is not None:
            raise ConfigurationError(
                f"{type(connector).__name__} takes a static synapse (sPyNNaker's local-only "
                f"synapses); projection {self.label!r} has {type(synapse_type).__name__}")
        self._rule = rule
        if rule is not None:  # the values kept per connection (the rest are the projection's)
            self._values = {n: self._values[n] for n in self._value_names()}
        self._keys = [
            (state.engine.add_projection(pre_pop._key, post_pop._key, pre_idx, post_idx,
                                         np.abs(self._values["weight"][where]),
                                         self._values["delay"][where], receptor,
                                         rule=None if rule is None else rule.take(where)), where)
            for pre_pop, post_pop, pre_idx, post_idx, where, receptor in self._blocks()]
        self._learns = rule is not None and rule.LEARNS
        self.label = state.engine.name_projection(ProjectionRecord(
            self.label, self.pre.label, self.post.label, self.pre.size, self.post.size,
            self.receptor_type, self._pre, self._post, self._keys,
            -1.0 if np.any(self._values["weight"] < 0) else 1.0), chosen=label is not None)
        logger.debug("projection %s: %d connections in %.3f s", self.label, len(self),
                     state.engine.clock() - started)

    def _guess_receptor_type(self) -> None:
        # Overridden: PyNN takes "the first receptor type" for positive weights, but an
        # Assembly's receptor types are an unordered set, so that guess can be 'inhibitory'.
        # sPyNNaker's rule instead: 'excitatory' unless the weights are negative.
        weights = self.synapse_type.parameter_space["weight"]
        value = weights.base_value
        negative = (isinstance(value, (int, float, np.number)) and not weights.operations
                    and value < 0)
        wanted = "inhibitory" if negative else "excitatory"
        types = list(self.post.receptor_types)
        self.receptor_type = wanted if wanted in types else types[0]

    # -- plasticity ---------------------------------------------------------------------------
    def _value_names(self) -> tuple[str, ...]:
        """The parameters held per connection: weight, delay and a rule's ``PER_CONNECTION``."""
        return ("weight", "delay", *getattr(self.synapse_type, "PER_CONNECTION", ()))

    def _plasticity_rule(self, values: dict[str, np.ndarray] | None = None) -> Any:
        """The kernel rule of a plastic synapse type (None for StaticSynapse), checked; its
        per-connection parameters from ``values`` (default: the projection's)."""
        st = self.synapse_type
        if isinstance(st, StaticSynapse):
            return None
        what = f"projection {self.label!r} ({type(st).__name__})"
        per_connection = getattr(st, "PER_CONNECTION", ())
        values = values if values is not None else self._values
        rule_values: dict[str, Any] = homogeneous(
            st.native_parameters, [n for n in st.RULE_NAMES if n not in per_connection], what)
        rule_values.update({n: values[n] for n in per_connection})
        tau_psc: Any = 0.0
        if isinstance(st, Neuromodulation):
            tau_psc = self.receptor_type  # the sign of its dopamine
        elif isinstance(st, TsodyksMarkramSynapse):
            name = "tau_syn_I" if self.receptor_type == "inhibitory" else "tau_syn_E"
            if not self.post.celltype.has_parameter(name):
                raise ConfigurationError(
                    f"{what}: TsodyksMarkramSynapse takes the target's {name} as its tau_psc "
                    f"(as pyNN.nest does); {type(self.post.celltype).__name__} has none")
            taus = np.broadcast_to(np.asarray(self.post.get(name), dtype=float),
                                   (self.post.size,))
            # each synapse's tau_psc is its target's (one value where they all agree)
            tau_psc = float(taus[0]) if np.all(taus == taus[0]) else taus[self._post]
        try:
            rule = st.kernel_rule(rule_values, tau_psc)
            rule.check()
        except ConfigurationError as error:
            raise ConfigurationError(f"{what}: {error}") from None
        return rule

    def _sync_learned(self) -> None:
        """Read what the engine learned into ``_values['weight']`` (PyNN's signs kept)."""
        if not getattr(self, "_learns", False):
            return
        weights = self._values["weight"]
        sign = np.where(weights < 0, -1.0, 1.0)
        for key, where in self._keys:
            weights[where] = sign[where] * simulator.state.engine.synapse_weights(key)

    # -- building ---------------------------------------------------------------------------
    def _evaluate(self, connector: Any, overrides: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        space = connector._parameters_from_synapse_type(self, distance_map=None)
        return {name: overrides[name] if name in overrides
                else values_at(larr, self._pre, self._post)
                for name, larr in space.items()}

    def _convergent_connect(self, presynaptic_indices: Any, postsynaptic_index: int,
                            location_selector: Any = None, **connection_parameters: Any) -> None:
        if location_selector is not None:
            raise ConfigurationError("spinnlive cells are single-compartment: no locations")
        pre = np.asarray(presynaptic_indices, dtype=np.int64).reshape(-1)
        self._chunks.append((pre, np.full(pre.size, int(postsynaptic_index)),
                             connection_parameters))

    def _gather_chunks(self) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        names = self.synapse_type.get_native_names(*self._value_names())
        chunks, self._chunks = self._chunks, []
        if not chunks:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), {n: np.zeros(0) for n in names}
        pre = np.concatenate([c[0] for c in chunks])
        post = np.concatenate([c[1] for c in chunks])
        values = {n: np.concatenate([np.broadcast_to(np.asarray(c[2][n], float), c[0].shape)
                                     for c in chunks]) for n in names}
        return pre, post, values

    def _round_delays(self, delays: np.ndarray) -> np.ndarray:
        """Whole time steps; under min_delay='auto' at least one step (sPyNNaker's clip)."""
        state = simulator.state
        dt = state.dt
        steps = np.floor(np.asarray(delays, dtype=float) / dt + 0.5)
        short = steps < 1
        if np.any(short):
            logger.warning("projection %s: %d delays shorter than the time step %g ms were "
                           "clipped to one step (as sPyNNaker does)", self.label,
                           int(short.sum()), dt)
            steps[short] = 1
        rounded = steps * dt
        state.note_delays(rounded)
        return rounded

    def _signed_receptors(self, receptors: tuple[str, str]) -> np.ndarray:
        """Each connection's receptor by its weight's sign: (positive, negative)."""
        for receptor in receptors:
            if receptor not in self.post.receptor_types:
                raise ConfigurationError(
                    f"projection {self.label!r}: the post population has no receptor type "
                    f"{receptor!r}; it has {sorted(self.post.receptor_types)}")
        return np.where(self._values["weight"] < 0, receptors[1], receptors[0])

    def _lane(self, post_pop: Any, receptor: str, where: np.ndarray) -> str:
        """The engine's receptor for PyNN's ``receptor`` on ``post_pop`` (a composed model's
        names are its monolith's inputs; see ``standardmodels.composed``)."""
        celltype = post_pop.celltype
        if self._receptors is not None:
            self._sign_locked = True
        if not hasattr(celltype, "receptor_lane"):
            return receptor
        self._sign_locked = True
        celltype.check_receptor_weights(self._values["weight"][where], receptor, self.label)
        return str(celltype.receptor_lane(receptor))

    def _blocks(self) -> list[tuple[Any, Any, np.ndarray, np.ndarray, np.ndarray, str]]:
        """Split connections by (root pre population, root post population, receptor)."""
        pre_ids = np.asarray(self.pre.all_cells, dtype=np.int64)[self._pre]
        post_ids = np.asarray(self.post.all_cells, dtype=np.int64)[self._post]
        blocks = []
        for post_pop, post_idx, post_where in locate(post_ids):
            for pre_pop, pre_idx, pre_where in locate(pre_ids[post_where]):
                where = post_where[pre_where]
                if self._receptors is None:
                    blocks.append((pre_pop, post_pop, pre_idx, post_idx[pre_where], where,
                                   self._lane(post_pop, str(self.receptor_type), where)))
                    continue
                for receptor in np.unique(self._receptors[where]):
                    mine = self._receptors[where] == receptor
                    blocks.append((pre_pop, post_pop, pre_idx[mine], post_idx[pre_where][mine],
                                   where[mine], str(receptor)))
        return blocks

    # -- PyNN hooks ---------------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self._pre.size)

    def __getitem__(self, i: int) -> Connection:
        self._sync_learned()
        return Connection(self, range(len(self))[i])

    @property
    def connections(self) -> list[Connection]:
        self._sync_learned()
        return [Connection(self, i) for i in range(len(self))]

    def _get_attributes_as_list(self, names: Any) -> list[tuple[Any, ...]]:
        # Overridden to read the arrays column-wise instead of one Connection at a time.
        self._sync_learned()
        return list(zip(*(self._column(n).tolist() for n in names)))

    def _column(self, name: str) -> np.ndarray:
        """One value per connection of ``name``: an index, a per-connection value, or a
        parameter the synapse type holds once per projection (a plasticity rule's)."""
        if name == "presynaptic_index":
            return self._pre
        if name == "postsynaptic_index":
            return self._post
        if name in self._values:
            return self._values[name]
        if name in self.synapse_type.get_parameter_names():
            value = copy.copy(self.synapse_type.parameter_space[name])
            if value.is_homogeneous:
                value.shape = (1,)
                return np.full(len(self), float(value.evaluate(simplify=True)))
        raise ConfigurationError(
            f"projection {self.label!r}: no per-connection attribute {name!r}; it has "
            f"{sorted(['presynaptic_index', 'postsynaptic_index', *self._values])}")

    def _get_attributes_as_arrays(self, names: Any, multiple_synapses: str = "sum"
                                  ) -> list[np.ndarray]:
        # Overridden to fill the (pre, post) matrices with one scatter each, not a Python loop.
        self._sync_learned()
        result = []
        for name in names:
            name = name[:-1] if name.endswith("s") and name[:-1] in self._values else name
            values = self._column(name)
            out = np.full(self.shape, np.nan)
            if multiple_synapses == "sum":
                out[self._pre, self._post] = 0.0
                np.add.at(out, (self._pre, self._post), values)
            elif multiple_synapses in ("min", "max"):
                ufunc = np.fmin if multiple_synapses == "min" else np.fmax
                ufunc.at(out, (self._pre, self._post), values)
            elif multiple_synapses == "first":
                out[self._pre[::-1], self._post[::-1]] = values[::-1]
            else:
                out[self._pre, self._post] = values
            result.append(out)
        return result

    def _set_attributes(self, parameter_space: ParameterSpace) -> None:
        self._sync_learned()
        new = {}
        for name, larr in parameter_space.items():
            if name not in self._values:
                raise ConfigurationError(
                    f"projection {self.label!r}: {name!r} cannot be set per connection "
                    f"({type(self.synapse_type).__name__} has {sorted(self._values)} settable)")
            if isinstance(larr.base_value, IndexBasedExpression):
                larr.base_value.projection = self
            new[name] = values_at(larr, self._pre, self._post)
            self._check_set(name, new[name], slice(None))
        self._update(new)

    def _set_connection_value(self, i: int, name: str, value: float) -> None:
        """One connection's value, checked like a whole-projection ``set``."""
        self._check_set(name, np.array([value]), slice(i, i + 1))
        values = self._values[name].copy()
        values[i] = value
        self._update({name: values})

    def _update(self, new: dict[str, np.ndarray]) -> None:
        """Take checked per-connection values: a rule's are checked as a rule first, so a
        refused set changes nothing; the engine gets them from the next run."""
        if "delay" in new:
            new["delay"] = self._round_delays(new["delay"])
        rule = self._rule
        if rule is not None and set(new) - {"weight", "delay"}:
            rule = self._plasticity_rule({**self._values, **new})
        self._values.update(new)
        self._rule = rule
        self._push_synapses()

    def _check_set(self, name: str, values: np.ndarray, where: slice) -> None:
        """The synapse type's check of new values; a sign-locked projection's weights keep
        their signs (they chose the receptors when it was made)."""
        if name == "weight" and self._sign_locked:
            if np.any(np.sign(values) * np.sign(self._values["weight"][where]) < 0):
                raise ConfigurationError(
                    f"projection {self.label!r}: a weight's sign chose its receptor when the "
                    "projection was made; a set may change magnitudes, not signs")
            if self._receptors is not None:
                return  # negative weights are the negative receptor's, not an error
        check = self.synapse_type.parameter_checks.get(name)
        if check is not None:  # a rule's parameters are checked as a rule (_update)
            check(values, self)

    def _push_synapses(self) -> None:
        engine = simulator.state.engine
        per_connection = self._rule is not None and hasattr(self.synapse_type, "PER_CONNECTION")
        for key, where in self._keys:
            engine.set_synapses(key, weights=np.abs(self._values["weight"][where]),
                                delays=self._values["delay"][where])
            if per_connection:
                engine.set_synapse_rule(key, self._rule.take(where))

    def initialize(self, **initial_values: Any) -> None:
        # Overridden: PyNN 0.13 shapes each value by ``Projection.size``, a method there, so a
        # (pre, post) array value fails before it reaches the backend.
        for variable, value in initial_values.items():
            self._set_initial_value_array(variable, value)
            self.initial_values[variable] = value

    def _set_initial_value_array(self, variable: str, value: Any) -> None:
        """``Projection.initialize``: a rule's state variable per connection, now and at every
        reset (the rules that allow it: MultiQuantalSynapse u and a,
        StochasticTsodyksMarkramSynapse u)."""
        initial = {} if self._rule is None else self._rule.INITIAL
        if variable not in initial:
            raise ConfigurationError(
                f"{type(self.synapse_type).__name__}: initial values of synaptic state variable "
                f"{variable!r} cannot be set in spinnlive (its state starts as its model "
                f"defines it); settable: {sorted(initial) or 'none'}")
        # evaluated at the connections as (pre, post), like any synaptic parameter
        base = value
        while isinstance(base, LazyArray) and base.is_homogeneous:  # a parameter_space entry
            base = copy.copy(base)
            base.shape = (1,)  # (a synapse type's entries have none; one value needs none)
            base = base.evaluate(simplify=True)
        values = values_at(LazyArray(base, shape=tuple(self.shape), dtype=float), self._pre,
                           self._post)
        self._rule.check_initial(variable, values)
        for key, where in self._keys:
            simulator.state.engine.initialize_synapses(key, initial[variable], values[where])
