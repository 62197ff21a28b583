"""Turning the engine's network description into kernel objects: groups and current sources.

Rules: one function per kind of kernel object, each a pure translation of a description record
into the kernel it names (no Network bookkeeping here, that is the Simulation's). Random streams
are seeded from ``(run seed, key)`` so the same seed gives the same run and a reset run repeats
the first one exactly.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from typing import Any

import numpy as np

from ..clock import PerfCounterClock
from ..errors import ConfigurationError

#: kernel models that are spike sources (take no synaptic input, have no state variables)
SOURCE_MODELS = ("SpikeSourcePoisson", "SpikeSourceArray", "SpikeInjector",
                 "SpikeSourcePoissonVariable", "SpikeSourceGamma", "SpikeSourcePoissonRefractory")
#: renewal sources whose parameters are the kernel group's keyword arguments
_RENEWAL = {"SpikeSourcePoisson": "PoissonGroup", "SpikeSourceGamma": "GammaGroup",
            "SpikeSourcePoissonRefractory": "PoissonRefractoryGroup"}
_CURRENT_NAMES = {"NoisyCurrentSource": {"dt": "noise_dt"}}

logger = logging.getLogger(__name__)


def make_group(model: str, size: int, dt: float, parameters: dict[str, np.ndarray],
               initial: dict[str, np.ndarray], seed: list[int]) -> Any:
    """The kernel group simulating ``size`` cells of ``model``."""
    from spinnlive.kernels import sources
    from spinnlive.kernels.neurons import MODELS

    p = parameters
    if model in _RENEWAL:
        return getattr(sources, _RENEWAL[model])(size, dt, rng=np.random.default_rng(seed), **p)
    if model == "SpikeSourceArray":
        return sources.SpikeArrayGroup(size, dt, spike_lists(p["spike_times"]))
    if model == "SpikeSourcePoissonVariable":
        return sources.VariablePoissonGroup(size, dt, *variable_schedule(p),
                                            rng=np.random.default_rng(seed))
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


def variable_schedule(p: dict[str, np.ndarray]
                      ) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray] | None]:
    """SpikeSourcePoissonVariable's per-neuron rates, starts and durations (None: forever)."""
    rates, starts = spike_lists(p["rates"]), spike_lists(p["starts"])
    durations = spike_lists(p["durations"])
    if all(d.size == 0 for d in durations):
        return rates, starts, None
    return rates, starts, durations


def current_kwargs(kind: str, parameters: dict[str, Any]) -> dict[str, Any]:
    """PyNN parameter names and values -> the kernel current's keyword arguments."""
    names = _CURRENT_NAMES.get(kind, {})
    return {names.get(k, k): _plain(v) for k, v in parameters.items()}


def _plain(value: Any) -> Any:
    value = getattr(value, "value", value)  # pyNN Sequence -> ndarray
    arr = np.asarray(value, dtype=float)
    return float(arr) if arr.ndim == 0 else arr


class WarmUp:
    """Loading (or, on a cold cache, compiling) the kernels of a set of models, in a thread.

    Started when a run step begins preparing, so compiling overlaps mapping, building the
    kernel groups and writing the database (LLVM's optimisation runs in C, off the GIL);
    :meth:`join` waits for it before the first tick and re-raises what it raised.
    """

    def __init__(self, models: tuple[str, ...], dt: float, threads: int,
                 plastic: bool = False) -> None:
        # Import every kernel module here, in the caller's thread, before the warm-up thread
        # starts: two threads importing the same package at once can each see the other's
        # module half-initialised (``ImportError: cannot import name ... from partially
        # initialized module 'spinnlive.kernels.network'``), because the package's
        # ``__init__`` and its submodules import one another.
        from spinnlive.kernels import loops, network, neurons, sources, ticks  # noqa: F401

        self.models, self.dt, self.threads, self.plastic = models, dt, threads, plastic
        self.compiled: bool | None = None  #: True: compiled (cold cache); None: not known
        self.seconds = 0.0
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="spinnlive-kernels",
                                        daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._load()
        except BaseException as error:  # noqa: BLE001 - handed to join()'s caller
            self._error = error

    def _load(self) -> None:
        from spinnlive.kernels import loops, sources, ticks

        clock = PerfCounterClock()
        started = clock.now()
        net = tiny_network(self.models, self.dt, self.threads, self.plastic)
        net.prepare()
        needed = (net._loop, ticks.deliver, ticks._new_list, ticks._append,
                  sources.redraw_poisson)
        states = [loops.is_cached(f) for f in needed]
        cold = False in states
        if cold:
            logger.warning("Compiling the engine's kernels for %s, once per install (about 10 s"
                           " on 2 cores; cached for later runs)", ", ".join(self.models))
        net.run(3)
        net.inject_arrived(1, np.arange(2), net.tick - 1)  # live input's delivery kernel
        net.step()
        self.seconds = clock.now() - started
        self.compiled = True if cold else (None if None in states else False)
        if cold:
            logger.warning("Compiled the engine's kernels in %.1f s", self.seconds)
        else:
            logger.debug("kernels loaded in %.3f s", self.seconds)

    def join(self) -> None:
        self._thread.join()
        if self._error is not None:
            raise self._error


_WARM: dict[tuple[tuple[str, ...], float, int, bool], WarmUp] = {}
_WARM_LOCK = threading.Lock()


def start_warm_up(models: Iterable[str], dt: float, threads: int = 1,
                  plastic: bool = False) -> WarmUp:
    """Begin loading the kernels ``models`` need on ``threads`` (once per process and set),
    with the plasticity updates if the network has ``plastic`` synapses."""
    neurons = tuple(sorted(set(models) - set(SOURCE_MODELS)))
    key = (neurons, float(dt), int(threads), bool(plastic))
    with _WARM_LOCK:
        handle = _WARM.get(key)
        if handle is None:
            handle = _WARM[key] = WarmUp(neurons, float(dt), int(threads), bool(plastic))
    return handle


def warm_up(models: Iterable[str], dt: float, threads: int = 1,
            plastic: bool = False) -> WarmUp:
    """Step a tiny network of ``models`` once per process, so a real-time run's first ticks do
    not pay for loading and dispatching the compiled kernels (about 20 ms, measured), and a
    cold cache is compiled with a notice instead of silently."""
    handle = start_warm_up(models, dt, threads, plastic)
    handle.join()
    return handle


def tiny_network(models: Iterable[str], dt: float, threads: int = 1,
                 plastic: bool = False) -> Any:
    """Two cells of each neuron model, driven by a Poisson source (gid 0) and an injector
    (gid 1), spikes and one state variable recorded: every kernel a network of ``models``
    runs; ``plastic``: the Poisson drive's synapses are plastic (``SpikePair``), so the
    loop with the plasticity updates is the one loaded."""
    from spinnlive.kernels.network import Network
    from spinnlive.kernels.neurons import MODELS
    from spinnlive.kernels.plasticity_rules import SpikePair

    net = Network(dt, threads=threads)
    drive = net.add_group(make_group("SpikeSourcePoisson", 2, dt, {
        "rate": np.full(2, 1000.0), "start": np.zeros(2), "duration": np.full(2, 1e9)}, {},
        [0]))
    inject = net.add_group(make_group("SpikeInjector", 2, dt, {}, {}, [0]))
    for model in models:
        if model not in MODELS:
            continue  # a ConfigurationError comes from building the real group
        gid = net.add_group(MODELS[model](2, dt))
        for pre in (drive, inject):
            rule = SpikePair() if plastic and pre == drive else None
            net.connect(pre, gid, np.arange(2), np.arange(2), 1.0, dt, rule=rule)
        net.record(gid, "spikes")
        net.record(gid, next(iter(net.groups[gid].state)))
    return net
