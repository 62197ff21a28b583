"""Vectorised connection generation for PyNN's connectors.

Theory of operation: PyNN's generic path (``MapConnector._standard_connect``) calls the
projection once per post-synaptic cell; for ~100k synapses that costs seconds. :func:`wire` gives
the common connectors a fast path that returns the whole ``(pre, post)`` index arrays at once and
returns ``None`` for anything else, which then takes PyNN's generic path.

Rules:

* Connections come out post-major (sorted by post, then pre; FromList keeps the list's order
  within a post cell), PyNN's own order.
* Random draws use the connector's ``rng`` in the order PyNN's generic path uses it where that is
  cheap to match (AllToAll, OneToOne, FixedProbability, DistanceDependentProbability, Array): a
  (post, pre) matrix of uniforms, one column of PyNN's at a time. For those the fast path and the
  generic path give identical projections (a test checks it). The FixedNumber* and
  FixedTotalNumber paths draw whole matrices instead: same distribution, different stream.
* Memory stays bounded: matrices are built for blocks of post cells, ``_BLOCK`` entries at most.
* Only exact connector classes take a fast path; a user's subclass keeps its own ``connect``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pyNN import connectors as pc
from pyNN import errors
from pyNN.random import RandomDistribution

_BLOCK = 1 << 22


@dataclass(frozen=True)
class Wiring:
    """Connections as index arrays, plus per-connection values that override the synapse type."""

    pre: np.ndarray
    post: np.ndarray
    overrides: dict[str, np.ndarray] = field(default_factory=dict)
    #: (positive, negative): each connection's receptor is chosen by its weight's sign, the
    #: engine gets magnitudes (sPyNNaker's image connectors); None: the projection's receptor
    signed_receptors: tuple[str, str] | None = None


def _blocks(projection: Any, mask_of: Callable[[np.ndarray], np.ndarray]) -> Wiring:
    """Concatenate ``nonzero`` of ``mask_of(post block)`` ((block, pre) booleans), post-major."""
    n_pre, n_post = projection.shape
    step = max(1, _BLOCK // max(1, n_pre))
    pres, posts = [], []
    for lo in range(0, n_post, step):
        cols = np.arange(lo, min(n_post, lo + step))
        rows, pre = np.nonzero(mask_of(cols))
        posts.append(cols[rows])
        pres.append(pre)
    if not pres:
        return Wiring(np.zeros(0, np.int64), np.zeros(0, np.int64))
    return Wiring(np.concatenate(pres).astype(np.int64), np.concatenate(posts).astype(np.int64))


def _self_mask(connector: Any, projection: Any) -> Callable[[np.ndarray], np.ndarray] | None:
    """Extra (block, pre) mask for allow_self_connections=False or 'NoMutual', else None."""
    rule = connector.allow_self_connections
    if rule is True:
        return None
    pre_ids = np.asarray(projection.pre.all_cells, dtype=np.int64)
    post_ids = np.asarray(projection.post.all_cells, dtype=np.int64)
    if rule == "NoMutual":
        if projection.pre is not projection.post:
            raise NotImplementedError("'NoMutual' needs the same population on both sides")
        return lambda cols: post_ids[cols][:, None] > pre_ids[None, :]
    return lambda cols: post_ids[cols][:, None] != pre_ids[None, :]


def _uniform(rng: Any, n: int) -> np.ndarray:
    return np.asarray(rng.next(n, "uniform", {"low": 0.0, "high": 1.0}), dtype=float).reshape(-1)


def _probability(connector: Any, projection: Any,
                 p_of: Callable[[np.ndarray], np.ndarray | float]) -> Wiring:
    n_pre = projection.shape[0]
    extra = _self_mask(connector, projection)

    def mask_of(cols: np.ndarray) -> np.ndarray:
        u = _uniform(connector.rng, cols.size * n_pre).reshape(cols.size, n_pre)
        mask = u < p_of(cols)
        return mask if extra is None else mask & extra(cols)

    return _blocks(projection, mask_of)


def _all_to_all(connector: Any, projection: Any) -> Wiring:
    extra = _self_mask(connector, projection)
    n_pre = projection.shape[0]
    if extra is None:
        return _blocks(projection, lambda cols: np.ones((cols.size, n_pre), dtype=bool))
    return _blocks(projection, extra)


def _fixed_probability(connector: Any, projection: Any) -> Wiring:
    return _probability(connector, projection, lambda cols: connector.p_connect)


def _distance_probability(connector: Any, projection: Any) -> Wiring:
    prob = connector.distance_function(connector._generate_distance_map(projection))
    return _probability(connector, projection, lambda cols: np.asarray(prob[:, cols]).T)


def _one_to_one(connector: Any, projection: Any) -> Wiring:
    n = min(projection.shape)
    idx = np.arange(n, dtype=np.int64)
    return Wiring(idx, idx.copy())


def _array(connector: Any, projection: Any) -> Wiring:
    matrix = np.asarray(connector.array, dtype=bool)
    if matrix.shape != projection.shape:
        raise errors.ConnectionError(
            f"ArrayConnector: array shape {matrix.shape} != projection shape {projection.shape}")
    return _blocks(projection, lambda cols: matrix[:, cols].T)


def _counts(connector: Any, size: int) -> np.ndarray:
    n = connector.n
    if isinstance(n, RandomDistribution):
        return np.asarray(n.next(size), dtype=np.int64).reshape(-1)
    return np.full(size, int(n), dtype=np.int64)


def _choose(connector: Any, counts: np.ndarray, n_from: int,
            allowed: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """For each row r pick counts[r] of n_from columns: (rows, columns), row-major.

    Without replacement, whole sets of the allowed columns come first and a random subset fills
    the remainder (PyNN's rule); with replacement, columns are drawn uniformly (allowed ones only).
    """
    rows_n = counts.size
    ok = np.ones((rows_n, n_from), dtype=bool) if allowed is None else allowed
    n_ok = ok.sum(axis=1)
    if np.any((n_ok == 0) & (counts > 0)):
        raise errors.ConnectionError("no allowed partner for a cell that needs connections")
    if connector.with_replacement:
        rows = np.repeat(np.arange(rows_n), counts)
        # draw an index among the allowed columns of each row, then map it to a column
        k = np.floor(_uniform(connector.rng, rows.size) * n_ok[rows]).astype(np.int64)
        order = np.argsort(~ok, axis=1, kind="stable")  # allowed columns first, ascending
        return rows, order[rows, k]
    full, rem = np.divmod(counts, np.maximum(n_ok, 1))
    keys = _uniform(connector.rng, rows_n * n_from).reshape(rows_n, n_from)
    keys[~ok] = np.inf
    ranked = np.argsort(keys, axis=1)  # a random order of each row's allowed columns
    rows_r, slot = np.nonzero(np.arange(n_from)[None, :] < rem[:, None])
    copies, cols_f = np.nonzero(np.repeat(ok, full, axis=0))  # `full` whole sets per row
    rows_f = np.repeat(np.arange(rows_n), full)[copies]
    return (np.concatenate([rows_f, rows_r]).astype(np.int64),
            np.concatenate([cols_f, ranked[rows_r, slot]]).astype(np.int64))


def _no_self(connector: Any, projection: Any, transpose: bool) -> np.ndarray | None:
    if connector.allow_self_connections is True:
        return None
    pre_ids = np.asarray(projection.pre.all_cells, dtype=np.int64)
    post_ids = np.asarray(projection.post.all_cells, dtype=np.int64)
    m: np.ndarray = post_ids[:, None] != pre_ids[None, :]
    return m.T if transpose else m


def _fixed_number_pre(connector: Any, projection: Any) -> Wiring:
    n_pre, n_post = projection.shape
    posts, pres = _choose(connector, _counts(connector, n_post), n_pre,
                          _no_self(connector, projection, transpose=False))
    return _post_major(pres, posts)


def _fixed_number_post(connector: Any, projection: Any) -> Wiring:
    n_pre, n_post = projection.shape
    pres, posts = _choose(connector, _counts(connector, n_pre), n_post,
                          _no_self(connector, projection, transpose=True))
    return _post_major(pres, posts)


def _fixed_total_number(connector: Any, projection: Any) -> Wiring:
    n_pre, n_post = projection.shape
    allowed = _no_self(connector, projection, transpose=False)
    flat_ok = np.ones(n_pre * n_post, bool) if allowed is None else allowed.reshape(-1)
    candidates = np.flatnonzero(flat_ok)  # index = post * n_pre + pre
    n = int(_counts(connector, 1)[0])
    if connector.with_replacement:
        pick = candidates[np.floor(_uniform(connector.rng, n) * candidates.size).astype(np.int64)]
    else:
        if n > candidates.size:
            raise errors.ConnectionError(
                f"FixedTotalNumberConnector: {n} connections without replacement, but only "
                f"{candidates.size} pairs exist")
        keys = _uniform(connector.rng, candidates.size)
        pick = candidates[np.argpartition(keys, n - 1)[:n]] if n else candidates[:0]
    post, pre = np.divmod(pick, n_pre)
    return _post_major(pre, post)


def _from_list(connector: Any, projection: Any) -> Wiring:
    names = projection.synapse_type.get_parameter_names()
    for name in connector.column_names:
        if name not in names:
            raise ValueError(f"{name} is not a valid parameter for "
                             f"{type(projection.synapse_type).__name__}")
    rows = np.asarray(connector.conn_list, dtype=float)
    if rows.size == 0:
        return Wiring(np.zeros(0, np.int64), np.zeros(0, np.int64))
    pre, post = rows[:, 0].astype(np.int64), rows[:, 1].astype(np.int64)
    n_pre, n_post = projection.shape
    if pre.min() < 0 or pre.max() >= n_pre or post.min() < 0 or post.max() >= n_post:
        raise errors.ConnectionError(f"FromListConnector: index out of range for {projection}")
    native = projection.synapse_type.translations
    overrides = {native[name]["translated_name"]: rows[:, col]
                 for col, name in enumerate(connector.column_names, 2)}
    order = np.argsort(post, kind="stable")  # post-major, list order within a post cell
    return Wiring(pre[order], post[order], {k: v[order] for k, v in overrides.items()})


def _clone(connector: Any, projection: Any) -> Wiring:
    ref = connector.reference_projection
    if projection.pre != ref.pre or projection.post != ref.post:
        raise errors.ConnectionError(
            "CloneConnector: pre and post populations must match the reference projection")
    return Wiring(ref._pre.copy(), ref._post.copy())


def _post_major(pre: np.ndarray, post: np.ndarray) -> Wiring:
    pre, post = np.asarray(pre, np.int64), np.asarray(post, np.int64)
    order = np.lexsort((pre, post))
    return Wiring(pre[order], post[order])


_FAST: dict[type, Callable[[Any, Any], Wiring]] = {
    pc.AllToAllConnector: _all_to_all,
    pc.FixedProbabilityConnector: _fixed_probability,
    pc.DistanceDependentProbabilityConnector: _distance_probability,
    pc.OneToOneConnector: _one_to_one,
    pc.ArrayConnector: _array,
    pc.FixedNumberPreConnector: _fixed_number_pre,
    pc.FixedNumberPostConnector: _fixed_number_post,
    pc.FixedTotalNumberConnector: _fixed_total_number,
    pc.FromListConnector: _from_list,
    pc.FromFileConnector: _from_list,
    pc.CloneConnector: _clone,
}


def add_fast_path(connector_class: type, build: Callable[[Any, Any], Wiring]) -> None:
    """Give a connector class (exactly that class) its whole-array builder."""
    _FAST[connector_class] = build


def wire(connector: Any, projection: Any) -> Wiring | None:
    """The projection's connections as whole arrays, or None where PyNN's generic path is needed."""
    fast = _FAST.get(type(connector))
    if fast is None:
        return None
    if isinstance(connector, pc.FromFileConnector):
        connector.column_names = list(
            connector.file.get_metadata().get("columns", ("weight", "delay")))
        for ignore in "ij":
            if ignore in connector.column_names:
                connector.column_names.remove(ignore)
        connector.conn_list = connector.file.read()
    return fast(connector, projection)


class _GroupConnector(pc.Connector):
    """sPyNNaker's group connectors: cells split into consecutive groups of
    ``n_neurons_per_group`` (default: the whole population), wired within each group only."""

    def __init__(self, n_neurons_per_group: int | None = None, safe: bool = True,
                 verbose: bool = False, callback: Any = None) -> None:
        super().__init__(safe=safe, callback=callback)
        if n_neurons_per_group is not None and int(n_neurons_per_group) < 1:
            raise errors.ConnectionError(
                f"{type(self).__name__}: n_neurons_per_group must be >= 1, got "
                f"{n_neurons_per_group}")
        self.n_neurons_per_group = n_neurons_per_group

    def _group(self, projection: Any) -> int:
        n_pre, n_post = projection.shape
        group = min(n_pre, n_post) if self.n_neurons_per_group is None else int(
            self.n_neurons_per_group)
        if n_pre != n_post or n_pre % group:
            raise errors.ConnectionError(
                f"{type(self).__name__}: needs pre and post of the same size, a multiple of "
                f"the group size {group} (got {n_pre} -> {n_post}), as sPyNNaker does")
        return group

    def connect(self, projection: Any) -> None:
        raise NotImplementedError(f"{type(self).__name__} connects through spinnlive's wire()")


class AllButMeConnector(_GroupConnector):
    """sPyNNaker's extra connector: every cell of a group to every other cell of the same group
    (winner-takes-all inhibition). ``weights`` (one group's ``g * (g - 1)`` values, post-major
    then pre, the order sPyNNaker generates) override the synapse type's weight."""

    def __init__(self, n_neurons_per_group: int | None = None, weights: Any = None,
                 safe: bool = True, verbose: bool = False, callback: Any = None) -> None:
        super().__init__(n_neurons_per_group, safe, verbose, callback)
        self.weights = None if weights is None else np.asarray(weights, dtype=float).ravel()
        if self.weights is not None and n_neurons_per_group is not None:
            g = int(n_neurons_per_group)
            if self.weights.size != g * (g - 1):
                raise ValueError(f"AllButMeConnector: {self.weights.size} weights given, a "
                                 f"group of {g} has {g * (g - 1)} connections")


class OneToOneOffsetConnector(_GroupConnector):
    """sPyNNaker's extra connector: post cell ``j`` from pre cell ``j - offset`` of the same
    group; out of the group it wraps round (``wrap=True``) or has no connection."""

    def __init__(self, offset: int, wrap: bool, n_neurons_per_group: int | None = None,
                 safe: bool = True, verbose: bool = False, callback: Any = None) -> None:
        super().__init__(n_neurons_per_group, safe, verbose, callback)
        self.offset, self.wrap = int(offset), bool(wrap)


def _all_but_me(connector: AllButMeConnector, projection: Any) -> Wiring:
    g = connector._group(projection)
    n = projection.shape[1]
    post = np.repeat(np.arange(n, dtype=np.int64), g)
    pre = (post // g) * g + np.tile(np.arange(g, dtype=np.int64), n)
    keep = pre != post
    pre, post = pre[keep], post[keep]
    overrides = {}
    if connector.weights is not None:
        if connector.weights.size != g * (g - 1):
            raise errors.ConnectionError(
                f"AllButMeConnector: {connector.weights.size} weights for groups of {g}")
        overrides["weight"] = np.tile(connector.weights, n // g)
    return Wiring(pre, post, overrides)


def _one_to_one_offset(connector: OneToOneOffsetConnector, projection: Any) -> Wiring:
    g = connector._group(projection)
    post = np.arange(projection.shape[1], dtype=np.int64)
    first = (post // g) * g
    local = post - first - connector.offset
    inside = (local >= 0) & (local < g)
    if connector.wrap:
        pre, keep = first + np.mod(local, g), np.ones(post.size, dtype=bool)
    else:
        pre, keep = first + local, inside
    return Wiring(pre[keep], post[keep])


add_fast_path(AllButMeConnector, _all_but_me)
add_fast_path(OneToOneOffsetConnector, _one_to_one_offset)
