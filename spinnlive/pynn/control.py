"""setup/run/reset/end and the state queries, built from pyNN.common's factories.

sPyNNaker compatibility: ``timestep`` defaults to 1 ms (sPyNNaker's default, "biological real
time"); ``time_scale_factor``, ``realtime``, ``database_socket_addresses``,
``n_chips_required``/``n_boards_required`` are accepted and stored; the random seed of the
engine's sources is ``seed=`` (or pyNN.nest's ``rng_seed=``). The embedded engine runs lock-step
here; real time is the scheduler's business.
"""

from __future__ import annotations

import logging
from typing import Any

from pyNN import common
from pyNN.common.control import DEFAULT_MIN_DELAY
from pyNN.recording import get_io

from ..errors import ConfigurationError
from . import simulator

logger = logging.getLogger(__name__)

DEFAULT_TIMESTEP = 1.0
_STORED = ("database_socket_addresses", "n_chips_required", "n_boards_required")


def setup(timestep: float | None = DEFAULT_TIMESTEP, min_delay: float | str | None =
          DEFAULT_MIN_DELAY, max_delay: float | str | None = "auto",
          time_scale_factor: float | None = None, **extra_params: Any) -> int:
    """Start a new simulation (any existing network is forgotten); returns the MPI rank, 0."""
    timestep = DEFAULT_TIMESTEP if timestep in (None, "auto") else float(timestep)
    min_delay = "auto" if min_delay is None else min_delay
    max_delay = "auto" if max_delay is None else max_delay
    seed = extra_params.pop("seed", None)
    rng_seed = extra_params.pop("rng_seed", None)
    if seed is not None and rng_seed is not None and seed != rng_seed:
        raise ConfigurationError(f"setup(): seed={seed} and rng_seed={rng_seed} disagree")
    realtime = bool(extra_params.pop("realtime", False))
    common.setup(timestep, min_delay, max_delay=max_delay, **extra_params)
    unknown = sorted(set(extra_params) - set(_STORED))
    if unknown:
        logger.warning("setup(): ignoring options %s", unknown)
    simulator.state.configure(timestep, min_delay, max_delay,
                              seed if seed is not None else rng_seed, realtime,
                              time_scale_factor, extra_params)
    if realtime:
        logger.info("realtime=True stored for the real-time scheduler; this engine is lock-step")
    return rank()


def end(compatible_output: bool = True) -> None:
    """Write what record(to_file=...) asked for and drop the network."""
    state = simulator.state
    for population, variables, filename in state.write_on_end:
        population.write_data(get_io(filename), variables)
    state.write_on_end = []
    logger.info("simulation ended at t = %g ms; phases: %s", state.t,
                ", ".join(f"{p.name} {p.seconds:.3f} s" for p in state.engine.phases))


def set_number_of_neurons_per_core(neuron_type: Any, max_permitted: Any) -> None:
    """sPyNNaker's per-model ceiling on neurons per core, used by the engine's mapping."""
    model = getattr(neuron_type, "kernel_model", None)
    if model is None:
        raise ConfigurationError(
            f"set_number_of_neurons_per_core expects a spinnlive cell type class, got "
            f"{neuron_type!r}")
    if max_permitted is None:
        simulator.state.neurons_per_core.pop(model, None)
        return
    dims = max_permitted if isinstance(max_permitted, (tuple, list)) else (max_permitted,)
    total = 1
    for d in dims:
        total *= int(d)
    if total < 1:
        raise ConfigurationError(f"neurons per core must be >= 1, got {max_permitted!r}")
    simulator.state.neurons_per_core[model] = total


def name() -> str:
    return simulator.name


run, run_until = common.build_run(simulator)
run_for = run
reset = common.build_reset(simulator)
initialize = common.initialize
get_current_time, get_time_step, get_min_delay, get_max_delay, num_processes, rank = (
    common.build_state_queries(simulator))
