"""Turning the engine's network description into kernel objects: groups and current sources.

Rules: one function per kind of kernel object, each a pure translation of a description record
into the kernel it names (no Network bookkeeping here, that is the Simulation's). Random streams
are seeded from ``(run seed, key)`` so the same seed gives the same run and a reset run repeats
the first one exactly.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from ..errors import ConfigurationError

#: kernel models that are spike sources (take no synaptic input, have no state variables)
SOURCE_MODELS = ("SpikeSourcePoisson", "SpikeSourceArray", "SpikeInjector")
_CURRENT_NAMES = {"NoisyCurrentSource": {"dt": "noise_dt"}}


def make_group(model: str, size: int, dt: float, parameters: dict[str, np.ndarray],
               initial: dict[str, np.ndarray], seed: list[int]) -> Any:
    """The kernel group simulating ``size`` cells of ``model``."""
    from spinnlive.kernels import sources
    from spinnlive.kernels.neurons import MODELS

    p = parameters
    if model == "SpikeSourcePoisson":
        return sources.PoissonGroup(size, dt, rate=p["rate"], start=p["start"],
                                    duration=p["duration"], rng=np.random.default_rng(seed))
    if model == "SpikeSourceArray":
        return sources.SpikeArrayGroup(size, dt, spike_lists(p["spike_times"]))
    if model == "SpikeInjector":
        return sources.InjectorGroup(size, dt)
    if model in MODELS:
        group = MODELS[model](size, dt, **p)
        group.set_initial_values(**initial)
        return group
    raise ConfigurationError(f"no kernel for cell type {model}")


def make_current(kind: str, dt: float, parameters: dict[str, Any],
                 seed: int | list[int] | None) -> Any:
    """The kernel current source ``kind``; ``seed`` feeds the noisy ones."""
    from spinnlive.kernels import currents

    kwargs = current_kwargs(kind, parameters)
    if kind == "NoisyCurrentSource":
        kwargs["rng"] = np.random.default_rng(seed)
    return getattr(currents, kind)(dt, **kwargs)


def spike_lists(values: np.ndarray) -> list[np.ndarray]:
    """PyNN ``Sequence`` objects (or arrays) per cell -> float arrays of spike times."""
    return [np.asarray(getattr(v, "value", v), dtype=float).ravel() for v in values]


def current_kwargs(kind: str, parameters: dict[str, Any]) -> dict[str, Any]:
    """PyNN parameter names and values -> the kernel current's keyword arguments."""
    names = _CURRENT_NAMES.get(kind, {})
    return {names.get(k, k): _plain(v) for k, v in parameters.items()}


def _plain(value: Any) -> Any:
    value = getattr(value, "value", value)  # pyNN Sequence -> ndarray
    arr = np.asarray(value, dtype=float)
    return float(arr) if arr.ndim == 0 else arr


_WARM: set[tuple[tuple[str, ...], float]] = set()


def warm_up(models: Iterable[str], dt: float) -> None:
    """Step a tiny network of ``models`` once per process, so a real-time run's first ticks do
    not pay for loading and dispatching the compiled kernels (about 20 ms, measured)."""
    from spinnlive.kernels.network import Network

    key = (tuple(sorted(set(models))), float(dt))
    if key in _WARM:
        return
    net = Network(dt)
    drive = net.add_group(make_group("SpikeSourcePoisson", 2, dt, {
        "rate": np.full(2, 1000.0), "start": np.zeros(2), "duration": np.full(2, 1e9)}, {},
        [0]))
    inject = net.add_group(make_group("SpikeInjector", 2, dt, {}, {}, [0]))
    for model in key[0]:
        if model in SOURCE_MODELS:
            continue
        from spinnlive.kernels.neurons import MODELS

        gid = net.add_group(MODELS[model](2, dt))
        for pre in (drive, inject):
            net.connect(pre, gid, np.arange(2), np.arange(2), 1.0, dt)
        net.record(gid, "spikes")
        net.record(gid, next(iter(net.groups[gid].state)))
    net.run(3)
    net.inject_arrived(inject, np.arange(2), net.tick - 1)  # live input's delivery kernel
    net.step()
    _WARM.add(key)
