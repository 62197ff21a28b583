"""setup/run/reset/end and the state queries, built from pyNN.common's factories.

sPyNNaker compatibility, as sPyNNaker 7.4.1's ``setup()`` does it: no ``timestep`` means PyNN's
0.1 ms (with sPyNNaker's warning that SpiNNaker is designed for 1 ms), ``timestep='auto'`` means
1 ms; ``min_delay='auto'`` accepts any delay of at least one step (``get_min_delay()`` then
reports the network's smallest, as pyNN.nest does); ``time_scale_factor`` defaults as
sPyNNaker's does (``max(1, ceil(step_us / 10000))``); ``database_socket_addresses`` registers
notification listeners; ``n_boards_required`` (or the deprecated ``n_chips_required``, 48 chips a
board) maps the network on at least that many boards, as on sPyNNaker's virtual board or spalloc:
1 board, or whole triads of 3; the random seed of the engine's sources is
``seed=`` (or pyNN.nest's ``rng_seed=``).

The clock: ``realtime=True`` runs each tick at its wall-clock deadline, ``realtime=False`` as
fast as possible (lock-step). Without it, the environment variable ``SPINNLIVE_CLOCK``
(``realtime`` or ``fast``, which the ``spinnlive`` command sets) decides, and without that the
engine runs in real time exactly when the network has live I/O.

Live-I/O options, given to ``setup()`` instead of sPyNNaker's config file (same names as its
``[Database]`` / ``[Reports]`` keys): ``wait_on_confirmation`` (True: a listener that does not
confirm the database within ``wait_on_confirmation_timeout`` seconds, default 10, fails the run;
False: it is logged and the run goes on) and ``keep_input_output_database`` (False: the database
is deleted at ``end()``).
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any

from pyNN import common
from pyNN.common.control import DEFAULT_MIN_DELAY
from pyNN.common.control import DEFAULT_TIMESTEP as PYNN_DEFAULT_TIMESTEP
from pyNN.recording import get_io

from ..errors import ConfigurationError
from . import simulator
from .populations import atoms_per_core
from .unavailable import HARDWARE, refuse

if TYPE_CHECKING:  # the transport (asyncio, the protocol) loads only for a listener
    from ..transport.notifier import ListenerAddress

logger = logging.getLogger(__name__)

DEFAULT_TIMESTEP = PYNN_DEFAULT_TIMESTEP  #: what sPyNNaker's setup() takes for timestep=None
AUTO_TIMESTEP = 1.0  #: sPyNNaker's SPYNNAKER_AUTO_TIMESTEP, for timestep='auto'
CLOCK_ENV = "SPINNLIVE_CLOCK"
_CLOCKS = {"realtime": True, "fast": False}
_IGNORED = ("n_chips_required", "n_boards_required")  # passed on, taken by the engine
_LIVE_OPTIONS = {"wait_on_confirmation": "wait_on_confirmation",
                 "wait_on_confirmation_timeout": "confirmation_timeout",
                 "keep_input_output_database": "keep_database",
                 "threads": "threads"}  # and pyNN.nest's threads=: the kernels' threads


def setup(timestep: float | str | None = None, min_delay: float | str | None =
          DEFAULT_MIN_DELAY, max_delay: float | str | None = "auto",
          time_scale_factor: float | None = None, **extra_params: Any) -> int:
    """Start a new simulation (any existing network is forgotten); returns the MPI rank, 0."""
    if timestep is None:
        logger.warning("The default PyNN timestep of %g is less than 1(ms) that SpyNNaker is "
                       "designed for. Consider including a timestep in your setup call.",
                       DEFAULT_TIMESTEP)
        timestep = DEFAULT_TIMESTEP
    timestep = AUTO_TIMESTEP if timestep == "auto" else float(timestep)
    if timestep <= 0:
        raise ConfigurationError(f"setup(): timestep must be > 0 ms, got {timestep:g}")
    min_delay = "auto" if min_delay is None else min_delay
    max_delay = "auto" if max_delay is None else max_delay
    _check_delay_bounds(timestep, min_delay, max_delay)
    precision = extra_params.pop("spike_precision", "on_grid")
    if precision not in ("on_grid", "off_grid"):
        raise ConfigurationError(
            f"setup(spike_precision={precision!r}): expected 'on_grid' or 'off_grid'")
    if precision == "off_grid":
        logger.warning("setup(spike_precision='off_grid'): spinnlive, like SpiNNaker, "
                       "simulates on the time grid; spike times are multiples of %g ms",
                       timestep)
    seed = extra_params.pop("seed", None)
    rng_seed = extra_params.pop("rng_seed", None)
    if seed is not None and rng_seed is not None and seed != rng_seed:
        raise ConfigurationError(f"setup(): seed={seed} and rng_seed={rng_seed} disagree")
    realtime = extra_params.pop("realtime", None)
    realtime = clock_from_environment() if realtime is None else bool(realtime)
    live = {ours: extra_params.pop(name) for name, ours in _LIVE_OPTIONS.items()
            if name in extra_params}
    listeners = extra_params.pop("database_socket_addresses", None) or ()
    common.setup(timestep, min_delay, max_delay=max_delay, **extra_params)
    unknown = sorted(set(extra_params) - set(_IGNORED))
    if unknown:
        logger.warning("setup(): ignoring options %s", unknown)
    simulator.state.configure(timestep, min_delay, max_delay,
                              seed if seed is not None else rng_seed, realtime,
                              time_scale_factor, extra_params, live)
    for address in listeners:
        simulator.state.engine.add_listener(listener_address(address))
    requested = boards_required(extra_params.get("n_boards_required"),
                                extra_params.get("n_chips_required"))
    hooked = simulator.state.host_hooks.n_boards_required
    if hooked is not None:
        requested = max(requested or 1, hooked)
    simulator.state.engine.n_boards_required = requested
    mpi_rank: int = rank()
    return mpi_rank


def boards_required(n_boards: Any, n_chips: Any) -> int | None:
    """sPyNNaker's machine-size arguments as a number of boards (None: as the network needs)."""
    if n_boards is not None and n_chips is not None:
        raise ConfigurationError("setup(): give n_boards_required or n_chips_required, not both")
    for name, value, per_board in (("n_boards_required", n_boards, 1),
                                   ("n_chips_required", n_chips, 48)):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigurationError(f"setup(): {name} must be a positive integer, got {value!r}")
        return -(-value // per_board)
    return None


def _check_delay_bounds(timestep: float, min_delay: float | str, max_delay: float | str) -> None:
    """PyNN's setup() rules, raised as ConfigurationError instead of a bare Exception."""
    if min_delay == "auto":
        return
    if float(min_delay) < timestep:
        raise ConfigurationError(
            f"setup(): min_delay ({float(min_delay):g} ms) must be at least the timestep "
            f"({timestep:g} ms)")
    if max_delay != "auto" and float(min_delay) > float(max_delay):
        raise ConfigurationError(
            f"setup(): min_delay ({float(min_delay):g} ms) exceeds max_delay "
            f"({float(max_delay):g} ms)")


def clock_from_environment() -> bool | None:
    """``SPINNLIVE_CLOCK``: True for realtime, False for fast, None when unset."""
    value = os.environ.get(CLOCK_ENV, "").strip().lower()
    if not value:
        return None
    if value not in _CLOCKS:
        raise ConfigurationError(
            f"{CLOCK_ENV}={value!r} is not a clock; use one of {sorted(_CLOCKS)}")
    return _CLOCKS[value]


def listener_address(address: Any) -> ListenerAddress:
    """A listener from an sPyNNaker ``SocketAddress``, a ``(host, port[, ack])`` tuple or ours."""
    from ..transport.notifier import ListenerAddress

    if isinstance(address, ListenerAddress):
        return address
    if hasattr(address, "notify_port_no"):
        return ListenerAddress(address.notify_host_name, address.notify_port_no,
                               address.listen_port)
    return ListenerAddress(*address)


def end(compatible_output: bool = True) -> None:
    """Write what record(to_file=...) asked for, close the live I/O, keep the run's report."""
    state = simulator.state
    for population, variables, filename in state.write_on_end:
        population.write_data(get_io(filename), variables)
    state.write_on_end = []
    report = state.end()
    logger.info("simulation ended at t = %g ms; phases: %s", state.t,
                ", ".join(f"{p.name} {p.seconds:.3f} s" for p in report.phases))


def set_number_of_neurons_per_core(neuron_type: Any, max_permitted: Any) -> None:
    """sPyNNaker's per-model ceiling on neurons per core, used by the engine's mapping."""
    model = _model_of(neuron_type, "set_number_of_neurons_per_core")
    if max_permitted is None:
        simulator.state.neurons_per_core.pop(model, None)
        return
    simulator.state.neurons_per_core[model] = atoms_per_core(max_permitted)


def set_number_of_synapse_cores(neuron_type: Any, n_synapse_cores: int | None) -> None:
    """sPyNNaker's split of synapse processing onto separate cores: the engine has no cores
    to split, so this only checks its arguments (accepted, as on a board it changes speed,
    never results)."""
    _model_of(neuron_type, "set_number_of_synapse_cores")
    if n_synapse_cores is not None and int(n_synapse_cores) < 0:
        raise ConfigurationError(f"n_synapse_cores must be >= 0 or None, got {n_synapse_cores}")
    logger.info("set_number_of_synapse_cores(%s, %s): no effect on the embedded engine",
                getattr(neuron_type, "__name__", neuron_type), n_synapse_cores)


def set_allow_delay_extensions(neuron_type: Any, allow_delay_extensions: bool) -> None:
    """sPyNNaker's delay-extension cores: the engine has any delay without them (accepted)."""
    _model_of(neuron_type, "set_allow_delay_extensions")
    logger.info("set_allow_delay_extensions(%s, %s): no effect on the embedded engine",
                getattr(neuron_type, "__name__", neuron_type), allow_delay_extensions)


def get_machine() -> Any:
    """sPyNNaker returns the SpiNNaker machine in use; the embedded engine has none."""
    refuse("get_machine()", HARDWARE)


def _model_of(neuron_type: Any, caller: str) -> str:
    model = getattr(neuron_type, "kernel_model", None)
    if model is None:
        raise ConfigurationError(
            f"{caller} expects a spinnlive cell type class, got {neuron_type!r}")
    return str(model)


def name() -> str:
    return simulator.name


run, run_until = common.build_run(simulator)
run_for = run
reset = common.build_reset(simulator)
initialize = common.initialize
get_current_time, get_time_step, get_min_delay, get_max_delay, num_processes, rank = (
    common.build_state_queries(simulator))
