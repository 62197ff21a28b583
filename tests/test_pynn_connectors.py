"""Connection building: the vectorised fast paths against PyNN's own generic path."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import spinnlive.pynn as sim
from spinnlive.pynn import connectors


def project(pre: Any, post: Any, connector: Any, generic: bool = False) -> Any:
    delay = sim.RandomDistribution("uniform", [1, 10], rng=sim.NumpyRNG(seed=9))
    saved = dict(connectors._FAST)
    if generic:
        connectors._FAST.clear()
    try:
        return sim.Projection(pre, post, connector(), sim.StaticSynapse(weight=0.1, delay=delay))
    finally:
        connectors._FAST.update(saved)


@pytest.fixture
def pops() -> tuple[Any, Any]:
    sim.setup(timestep=1.0)
    yield sim.Population(60, sim.IF_curr_exp()), sim.Population(40, sim.IF_curr_exp())
    sim.end()


MATCHING = {
    "fixed_probability": lambda: sim.FixedProbabilityConnector(0.2, rng=sim.NumpyRNG(seed=3)),
    "no_self": lambda: sim.FixedProbabilityConnector(0.3, allow_self_connections=False,
                                                     rng=sim.NumpyRNG(seed=3)),
    "all_to_all": lambda: sim.AllToAllConnector(allow_self_connections=False),
    "one_to_one": lambda: sim.OneToOneConnector(),
    "distance": lambda: sim.DistanceDependentProbabilityConnector(
        "exp(-d/20)", rng=sim.NumpyRNG(seed=3)),
    "array": lambda: sim.ArrayConnector(np.random.RandomState(1).rand(40, 40) < 0.1),
    "from_list": lambda: sim.FromListConnector(
        [(5, 3, 0.2, 2.0), (1, 3, 0.3, 4.0), (7, 0, 0.4, 1.0)]),
}


@pytest.mark.parametrize("name", sorted(MATCHING))
@pytest.mark.parametrize("views", [False, True])
def test_fast_path_equals_pynn_generic_path(pops: tuple[Any, Any], name: str,
                                            views: bool) -> None:
    a, b = pops
    pre, post = (a[5:45], a[10:50]) if views else (a[:40], b)
    fast = project(pre, post, MATCHING[name])
    slow = project(pre, post, MATCHING[name], generic=True)
    assert len(fast) > 0
    assert fast.get(["weight", "delay"], format="list") == slow.get(["weight", "delay"],
                                                                    format="list")


@pytest.mark.parametrize("replace", [False, True])
def test_fixed_number_pre_and_post(pops: tuple[Any, Any], replace: bool) -> None:
    a, b = pops
    pre = project(a, a, lambda: sim.FixedNumberPreConnector(
        7, allow_self_connections=False, with_replacement=replace, rng=sim.NumpyRNG(seed=1)))
    post = project(a, b, lambda: sim.FixedNumberPostConnector(
        45, with_replacement=replace, rng=sim.NumpyRNG(seed=1)))
    assert np.all(np.bincount(pre._post, minlength=60) == 7)
    assert not np.any(pre._pre == pre._post)
    assert np.all(np.bincount(post._pre, minlength=60) == 45)
    if not replace:  # distinct partners, and every post cell used before any repeats
        assert len({(i, j) for i, j in zip(pre._pre, pre._post)}) == len(pre)
        assert np.all(np.bincount(post._post, minlength=40) >= 1)
    big = project(a, b, lambda: sim.FixedNumberPostConnector(
        90, with_replacement=False, rng=sim.NumpyRNG(seed=2)))  # two full sets + 10
    counts = np.zeros((60, 40), int)
    np.add.at(counts, (big._pre, big._post), 1)
    assert counts.min() == 2 and counts.max() == 3 and np.all(counts.sum(axis=1) == 90)


def test_fixed_total_number_and_distributed_counts(pops: tuple[Any, Any]) -> None:
    a, b = pops
    prj = project(a, b, lambda: sim.FixedTotalNumberConnector(
        500, with_replacement=False, rng=sim.NumpyRNG(seed=4)))
    assert len(prj) == 500 == len({(i, j) for i, j in zip(prj._pre, prj._post)})
    n = sim.RandomDistribution("binomial", (10, 0.5), rng=sim.NumpyRNG(seed=5))
    prj = project(a, b, lambda: sim.FixedNumberPreConnector(n, rng=sim.NumpyRNG(seed=6)))
    counts = np.bincount(prj._post, minlength=40)
    assert counts.min() >= 0 and counts.max() <= 10 and len(set(counts.tolist())) > 1


def test_connections_come_out_post_major(pops: tuple[Any, Any]) -> None:
    a, b = pops
    prj = project(a, b, lambda: sim.FixedNumberPostConnector(5, rng=sim.NumpyRNG(seed=1)))
    order = np.lexsort((prj._pre, prj._post))
    np.testing.assert_array_equal(order, np.arange(len(prj)))
