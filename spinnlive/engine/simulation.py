"""The network a PyNN script builds, mapped like sPyNNaker maps it and run on a tick scheduler.

Theory of operation
-------------------
The front end describes populations, synapse blocks, current sources, recordings and live-I/O
devices here, as plain arrays (no PyNN objects cross this boundary). Nothing is simulated until
the first run step (``run_until``, ``run_forever``, ``run_sync``), which

1. maps the network with :func:`spinnlive.engine.mapping.map_network` (cores of at most 256
   atoms or ``neurons_per_core``, keys, placements, IP tags), the vertices given in the order
   sPyNNaker's key allocator meets them, so the keys equal the toolchain's
   (:func:`~spinnlive.engine.description.network_vertices`);
2. builds one kernel group per population, one ``Network.connect`` per synapse block and one
   kernel current per source;
3. with live I/O, opens one board endpoint per board and writes the I/O database
   (:class:`~spinnlive.engine.live_io.LiveIO`);

each phase timed and logged the way sPyNNaker's toolchain logs its algorithms. Anything added
later goes to the live ``Network`` at once; a change to the graph is remapped at the next step.

Every run step (:class:`~spinnlive.engine.run_control.RunControl`) then notifies the listeners
(DATABASE, confirmations, START_RESUME), runs its ticks through a
:class:`~spinnlive.engine.scheduler.TickScheduler`, sends STOP_PAUSE, and logs
:meth:`Simulation.report`'s summary. The clock is real time (each tick at its wall-clock
deadline, period = timestep x time scale factor) when ``realtime`` is True, or when it is None
and the network has live I/O; lock-step otherwise.

Rules
-----
* The tick (``RunControl._step``, in the scheduler's thread) does numpy and kernel work
  only: take what the board queued, step the network, add the spike counts, hand the spikes of
  live-output populations to the live packet gatherers. It never waits on a client.
* Population parameter/initial arrays are shared with the front end: it writes them in place and
  calls :meth:`parameters_changed` / :meth:`initial_changed` with the names it touched.
* Labels are unique: a duplicate is renamed ``label<n>`` (PACMAN's rule) with a WARNING, and the
  front end takes the new label.
"""

from __future__ import annotations

import atexit
import gc
import logging
import os
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..clock import PerfCounterClock, ThreadClock
from ..database.records import Configuration
from ..errors import ConfigurationError
from . import kernel_build
from .description import (
    CurrentRecord,
    PopulationRecord,
    ProjectionRecord,
    SynapseBlock,
    network_vertices,
    unique_label,
)
from .recordings import SegmentRecordings
from .run_control import RunControl, StepProgress
from .run_report import (
    PhaseTiming,
    PopulationSummary,
    RunReport,
    TimingLog,
    default_time_scale_factor,
)
from .scheduler import TickMode
from .vertices import LiveOutputParameters, LiveOutputRequest

if TYPE_CHECKING:  # the notifier is imported where a run has listeners
    from ..transport.notifier import ListenerAddress

__all__ = ["PhaseTiming", "Simulation"]

logger = logging.getLogger(__name__)
_EXIT_HOOK: list[bool] = []


def freeze_heap_at_exit() -> None:
    """Once per process: at interpreter exit, freeze the heap so the final garbage collections
    do not walk it.

    A process that ran a network holds numpy, SciPy, neo, PyNN, numba and LLVM's objects; the
    collections Python runs while it shuts down walk all of them: about 0.5 of the 1.25 CPU s
    the seed script cost above its imports (bench/bench_startup.py, loaded 2-core VM). Nothing is lost: the memory goes back to the system with the process, and
    ``weakref.finalize`` callbacks (temporary folders) run from their own exit hook, not from
    a collection.
    """
    if not _EXIT_HOOK:
        _EXIT_HOOK.append(True)
        atexit.register(gc.freeze)

#: synapses from which a network runs on two kernel threads unless told otherwise: measured
#: (bench_seed.py's scaling, 1 vs 2 threads on the same network, a loaded 2-core VM) 0.39x at
#: 1.1M synapses, 1.11x at 5.5M, 1.46x at 11M
AUTO_THREADS_SYNAPSES = 5_000_000


class Simulation(SegmentRecordings, RunControl):
    """A network description plus, once run, the kernels ``Network`` that simulates it."""

    def __init__(self, dt: float, *, seed: int = 0, realtime: bool | None = None,
                 time_scale_factor: float | None = None,
                 clock: Callable[[], float] | None = None,
                 thread_clock: ThreadClock | None = None,
                 wait_on_confirmation: bool = True, confirmation_timeout: float = 10.0,
                 keep_database: bool = False, base_dir: Path | None = None,
                 threads: int | None = None) -> None:
        SegmentRecordings.__init__(self)
        RunControl.__init__(self)
        freeze_heap_at_exit()
        self.dt = float(dt)
        self.seed = int(seed)
        self.realtime = realtime
        self.time_scale_factor = (default_time_scale_factor(self.dt) if time_scale_factor is None
                                  else float(time_scale_factor))
        if self.time_scale_factor <= 0:
            raise ConfigurationError(f"time_scale_factor must be > 0, got {time_scale_factor}")
        self.clock = clock or PerfCounterClock().now
        self.thread_clock = thread_clock
        self._wait_on_confirmation = bool(wait_on_confirmation)
        self._confirmation_timeout = float(confirmation_timeout)
        self._keep_database = bool(keep_database)
        self.base_dir = (base_dir or Path.cwd()).resolve()
        #: kernel threads asked for (``Network.threads``; None: chosen by the network's size);
        #: see :meth:`kernel_threads`
        self.threads = None if threads is None else int(threads)
        self.neurons_per_core: dict[str, int] = {}
        #: the least number of boards to map on (sPyNNaker's ``n_boards_required``)
        self.n_boards_required: int | None = None
        self.populations: list[PopulationRecord] = []
        self.synapses: list[SynapseBlock] = []
        self.projections: dict[str, ProjectionRecord] = {}  #: by label (the state plane's)
        self.currents: list[CurrentRecord] = []
        self.live_outputs: list[LiveOutputRequest] = []
        #: populations to stream when the script activates no live output itself: ("none",),
        #: ("all",) (every population but injectors) or labels; set by a host such as the CLI
        self.default_streams: tuple[str, ...] = ("none",)
        self.controls: dict[str, str] = {}  #: rate-control label -> Poisson population label
        self.listeners: dict[ListenerAddress, None] = {}  #: ordered set
        self.phases: list[PhaseTiming] = []
        self.progress: Callable[[int, int], None] | None = None
        self.net: Any = None
        self.mapping: Any = None
        self.live: Any = None  #: LiveIO, made at the first step that needs it
        self._order: dict[str, None] = {}  # labels in order of their first outgoing partition
        self._stale = True  # the graph changed since it was mapped
        self._run_number = 0
        self._timing = TimingLog()
        self._by_label: dict[str, PopulationRecord] = {}
        self._live_sources: tuple[tuple[str, int], ...] = ()
        self._closed = False

    @property
    def period_s(self) -> float:
        return self.dt * self.time_scale_factor / 1000.0

    @property
    def has_live_io(self) -> bool:
        """An injector, a live output or a Poisson rate control: the network talks live."""
        return bool(self.live_outputs or self.controls or any(
            r.model == "SpikeInjector" for r in self.populations))

    @property
    def kernel_threads(self) -> int:
        """The threads the kernels use: those asked for, or (None) two on a machine with two
        cores or more once the network has ``AUTO_THREADS_SYNAPSES`` synapses, where threaded
        delivery pays; but with live I/O one core is left to the board's sockets, the loop
        thread and the clients (a late receive is a late spike), so at most ``cores - 1``."""
        cores = os.cpu_count() or 1
        wanted = self.threads
        if wanted is None:
            n_syn = sum(int(b.pre_idx.size) for b in self.synapses)
            wanted = 2 if cores >= 2 and n_syn >= AUTO_THREADS_SYNAPSES else 1
        if self.has_live_io:
            return max(1, min(wanted, cores - 1))
        return wanted

    @property
    def clock_mode(self) -> TickMode:
        realtime = self.has_live_io if self.realtime is None else self.realtime
        return TickMode.REALTIME if realtime else TickMode.LOCKSTEP

    # -- description ------------------------------------------------------------------------
    def add_population(self, label: str, model: str, size: int,
                       parameters: dict[str, np.ndarray], initial: dict[str, np.ndarray],
                       vertex: dict[str, Any] | None = None) -> tuple[int, str]:
        """Add a population; returns its key and its (unique) label."""
        label = unique_label(label, self._by_label.keys() | self.controls.keys())
        rec = PopulationRecord(len(self.populations), label, model, int(size), parameters,
                               initial, dict(vertex or {}))
        self.populations.append(rec)
        self._by_label[label] = rec
        self._stale = True
        if self.net is not None:
            self._build_population(rec)
        return rec.key, label

    def set_vertex_parameter(self, key: int, name: str, value: Any) -> None:
        """Change a mapping parameter (``max_atoms_per_core`` ...) of population ``key``."""
        self.populations[key].vertex[name] = value
        self._stale = True

    def add_projection(self, pre: int, post: int, pre_idx: np.ndarray, post_idx: np.ndarray,
                       weights: np.ndarray, delays: np.ndarray, receptor: str,
                       rule: Any = None) -> int:
        """A synapse block; ``rule`` (a kernels plasticity rule) makes it plastic."""
        block = SynapseBlock(pre, post, np.asarray(pre_idx, np.int64),
                             np.asarray(post_idx, np.int64), np.asarray(weights, float),
                             np.asarray(delays, float), receptor, rule)
        self.synapses.append(block)
        self._partition(self.populations[pre].label)
        if self.net is not None:
            self._build_synapses(len(self.synapses) - 1)
        return len(self.synapses) - 1

    def name_projection(self, record: ProjectionRecord, chosen: bool = True) -> str:
        """Register a projection's label for the live state plane; returns it made unique
        among the projections' labels (a taken label gets PACMAN's counter, as a population's
        does; ``chosen=False``, PyNN's default label, without a warning). Populations are
        another namespace: a projection may share a population's label."""
        record.label = unique_label(record.label, self.projections.keys(), "projection", chosen)
        self.projections[record.label] = record
        return record.label

    def add_current(self, kind: str, parameters: dict[str, Any],
                    targets: list[tuple[int, np.ndarray]], seed: int | None = None) -> int:
        """A current source; ``seed`` (noisy sources) defaults to one derived from the run's."""
        rec = CurrentRecord(kind, dict(parameters), list(targets), seed)
        self.currents.append(rec)
        if self.net is not None:
            self._build_current(rec)
        return len(self.currents) - 1

    def add_current_targets(self, key: int, targets: list[tuple[int, np.ndarray]]) -> None:
        rec = self.currents[key]
        rec.targets.extend(targets)
        if rec.source is not None:
            for pop, indices in targets:
                self.net.add_current(self.populations[pop].gid, rec.source, indices)

    # -- live I/O description -----------------------------------------------------------------
    def add_listener(self, address: ListenerAddress) -> None:
        """Register a notification listener (equal addresses are one listener)."""
        self.listeners[address] = None

    def add_live_output(self, key: int, parameters: LiveOutputParameters) -> None:
        """Stream population ``key``'s spikes through a live packet gatherer."""
        label = self.populations[key].label
        self.live_outputs.append(LiveOutputRequest(label, parameters))
        self._partition(label)
        self._stale = True

    def add_rate_control(self, key: int, extension: str = "_control") -> str:
        """Let population ``key``'s Poisson rates be set live; returns the control's label."""
        rec = self.populations[key]
        if rec.model != "SpikeSourcePoisson":
            raise ConfigurationError(
                f"population {rec.label!r} is a {rec.model}; live rate control needs a "
                "SpikeSourcePoisson")
        label = unique_label(rec.label + extension, self._by_label.keys() | self.controls.keys())
        self.controls[label] = rec.label
        self._partition(label)
        return label

    def _partition(self, label: str) -> None:
        if label not in self._order:
            self._order[label] = None
            self._stale = True

    # -- changes ----------------------------------------------------------------------------
    def parameters_changed(self, key: int, names: list[str]) -> None:
        rec = self.populations[key]
        if rec.group is None or rec.model == "SpikeInjector":
            return
        if rec.model == "SpikeSourceArray":
            rec.group.set_spike_times(kernel_build.spike_lists(rec.parameters["spike_times"]))
            self._log_skipped_times(rec)
        elif rec.model == "SpikeSourcePoissonVariable":
            rec.group.set_schedule(*kernel_build.variable_schedule(rec.parameters))
        else:
            rec.group.set_parameters(**{n: rec.parameters[n] for n in names})

    def initial_changed(self, key: int, names: list[str]) -> None:
        rec = self.populations[key]
        if rec.group is not None and rec.model not in kernel_build.SOURCE_MODELS:
            rec.group.set_initial_values(**{n: rec.initial[n] for n in names})

    def set_synapses(self, key: int, weights: np.ndarray, delays: np.ndarray) -> None:
        block = self.synapses[key]
        block.weights, block.delays = np.asarray(weights, float), np.asarray(delays, float)
        if block.handle is not None:
            block.handle.weights = block.weights
            block.handle.delays = block.delays

    def set_synapse_rule(self, key: int, rule: Any) -> None:
        """New parameters of block ``key``'s plasticity rule (the same kind), from the next run."""
        block = self.synapses[key]
        block.rule = rule
        if block.handle is not None and block.handle.plastic is not None:
            block.handle.plastic.retune(self._seeded(key))

    def initialize_synapses(self, key: int, column: int, values: np.ndarray) -> None:
        """Block ``key``'s state ``column`` (a rule's ``INITIAL``) per synapse, now and at
        every reset."""
        block = self.synapses[key]
        block.initial[column] = np.asarray(values, dtype=float)
        if block.handle is not None and block.handle.plastic is not None:
            block.handle.plastic.initialize(column, block.initial[column])

    def _seeded(self, key: int) -> Any:
        """Block ``key``'s rule with the seed of its random draws (a stochastic synapse's):
        one per block and engine seed, so a run repeats exactly and two blocks draw apart."""
        rule = self.synapses[key].rule
        return None if rule is None else rule.seeded(self.seed * 1_000_003 + key + 1)

    def synapse_weights(self, key: int) -> np.ndarray:
        """Block ``key``'s weight magnitudes now (what a plastic block learned so far)."""
        block = self.synapses[key]
        return block.weights.copy() if block.handle is None else block.handle.weights

    def set_current_parameters(self, key: int, parameters: dict[str, Any]) -> None:
        rec = self.currents[key]
        rec.parameters.update(parameters)
        if rec.source is None:
            return
        if not hasattr(rec.source, "set_parameters"):
            raise ConfigurationError(
                f"{rec.kind} parameters cannot change after the first run yet")
        rec.source.set_parameters(**kernel_build.current_kwargs(rec.kind, rec.parameters))

    # -- running (the rest is RunControl's) ------------------------------------------------
    def reset(self) -> None:
        self.reset_recordings()
        self._timing.clear()
        if self.net is not None:
            self.net.reset()

    # -- reporting --------------------------------------------------------------------------
    def report(self) -> RunReport:
        """The segment so far (since setup or reset); see :mod:`spinnlive.engine.run_report`."""
        seconds = self.tick * self.dt / 1000.0
        counts = self.net.spike_counts() if self.net is not None else np.zeros(0, np.int64)
        pops = []
        for rec in self.populations:
            spikes = int(counts[rec.gid]) if rec.gid is not None and rec.gid < counts.size else 0
            rate = spikes / rec.size / seconds if seconds > 0 and rec.size else 0.0
            pops.append(PopulationSummary(rec.label, rec.model, rec.size, len(rec.cores),
                                          spikes, rate))
        steps = self._timing.steps
        return RunReport(
            clock=self.clock_mode if not steps else steps[-1].mode, dt_ms=self.dt,
            time_scale_factor=self.time_scale_factor, period_s=self.period_s, ticks=self.tick,
            wall_s=self._timing.wall_s, populations=tuple(pops),
            timing=self._timing.summary(), last_step=steps[-1] if steps else None,
            live_io=None if self.live is None else self.live.summary(),
            phases=tuple(self.phases))

    def close(self) -> RunReport:
        """End the simulation: stop live I/O (sockets, loop thread, database); the final report.

        The network and its recordings stay readable.
        """
        report = self.report()
        if not self._closed:
            self._closed = True
            for rec in self.populations:
                if rec.model == "SpikeSourceArray" and rec.group is not None:
                    left = rec.group.unemitted()
                    if left:
                        logger.warning("population %r: %d spike time(s) after the end of the "
                                       "run (%g ms) were not emitted", rec.label, left,
                                       self.tick * self.dt)
            if self.live is not None:
                self.live.close()
        return report

    # -- building ---------------------------------------------------------------------------
    def _prepare(self, n: int | None) -> None:
        """Map (if the graph changed), build the kernels (first step) and load live I/O.

        The compiled kernels load (or compile) in a thread meanwhile; the run step waits for
        them before its first tick.
        """
        kernel_build.start_warm_up((r.model for r in self.populations), self.dt,
                                   self.kernel_threads, self.plastic)
        if not self.live_outputs:
            for key in streamed_keys(self.populations, self.default_streams):
                self.add_live_output(key, LiveOutputParameters())
        if self.live is None and (self.has_live_io or self.listeners):
            from .live_io import LiveIO
            from .run_folder import RunFolders

            self.live = LiveIO(folders=RunFolders(self.base_dir),
                               wait_on_confirmation=self._wait_on_confirmation,
                               confirmation_timeout=self._confirmation_timeout,
                               keep_database=self._keep_database)
        if self.net is None or self._stale:
            with self._phase("Mapping"):
                self._map(n)
        if self.net is None:
            self._build()
        if self._stale and self.live is not None and self.has_live_io:
            with self._phase("Database"):
                self.live.load(self.mapping, self._run_number, self.controls)
        self._stale = False
        sources = dict.fromkeys(r.label for r in self.live_outputs)
        self._live_sources = tuple((label, self._gid(label)) for label in sources)
        self.net.prepare()
        if self.live is not None:
            self.live.set_catalogue(self._catalogue())

    def _gid(self, label: str) -> int:
        """The kernel group id of population ``label`` (set when the network is built)."""
        gid = self._by_label[label].gid
        if gid is None:
            raise ConfigurationError(f"population {label!r} has no group in the built network")
        return gid

    @property
    def plastic(self) -> bool:
        """Whether a synapse block is plastic (the tick loop then has the plasticity updates)."""
        return any(block.rule is not None for block in self.synapses)

    def _catalogue(self) -> Any:
        """What the live state plane may read and write now (built kernel objects only)."""
        from .state_plane import ProjectionEntry, build_catalogue, population_entry

        projections = [
            ProjectionEntry(**{f.name: getattr(r, f.name) for f in fields(r)},
                            handles=tuple(self.synapses[key].handle for key, _ in r.blocks))
            for r in self.projections.values()]
        populations = [population_entry(r.label, r.model, r.size, r.group, r.parameters)
                       for r in self.populations if r.group is not None]
        return build_catalogue(self.net, projections, populations)

    def _map(self, n: int | None) -> None:
        from .limits import check_live_output_rate
        from .mapping import machine_boards, map_network

        vertices = network_vertices(self.populations, self._order, self.controls,
                                    self.neurons_per_core)
        n_boards = machine_boards(vertices, self.live_outputs,
                                  n_boards_required=self.n_boards_required)
        boards = [f"127.0.0.{1 + i}" for i in range(n_boards)]  # placeholders: nothing is live
        if self.live is not None and self.has_live_io:
            boards = self.live.open_boards(
                n_boards, lambda: self.arrival_tick if self.net is not None else 0)
        config = Configuration(machine_time_step_us=self.dt * 1000.0,
                               time_scale_factor=self.time_scale_factor,
                               runtime_ms=None if n is None else n * self.dt)
        bar = StepProgress(self, "Mapping the network")
        self.mapping = map_network(vertices, board_address=boards, live_outputs=self.live_outputs,
                                   configuration=config, progress=bar,
                                   n_boards_required=self.n_boards_required)
        bar.finish()
        check_live_output_rate(self.mapping, self._expected_rates(), self.time_scale_factor)
        for rec in self.populations:
            rec.cores = [slice(lo, hi + 1) for lo, hi in self.mapping.vertex(rec.label).slices]
        logger.info("%d populations on %d cores", len(self.populations),
                    sum(len(v.cores) for v in self.mapping.vertices))

    def _expected_rates(self) -> dict[str, float]:
        """Each live-output population's expected total rate (Hz) where it is known before the
        run: the Poisson sources' rates."""
        streamed = {r.label for r in self.live_outputs}
        return {rec.label: float(np.sum(rec.parameters["rate"])) for rec in self.populations
                if rec.label in streamed and rec.model == "SpikeSourcePoisson"}

    def _build(self) -> None:
        from spinnlive.kernels.network import Network

        self.net = Network(self.dt, threads=self.kernel_threads)
        if self.threads is not None and self.net.threads < self.threads:
            logger.info("kernels on %d of the %d threads asked for: one core is left to live "
                        "I/O", self.net.threads, self.threads)
        with self._phase("Neuron groups"):
            for rec in self.populations:
                self._build_population(rec)
        with self._phase("Synaptic matrices"):
            for key in range(len(self.synapses)):
                self._build_synapses(key)
            self.net.prepare()
        with self._phase("Current sources"):
            for current in self.currents:
                self._build_current(current)
        with self._phase("Recording"):
            self.start_kernel_recordings()

    def _build_population(self, rec: PopulationRecord) -> None:
        try:
            rec.group = kernel_build.make_group(rec.model, rec.size, self.dt, rec.parameters,
                                                rec.initial, [self.seed, rec.key])
        except ConfigurationError as error:
            raise ConfigurationError(f"population {rec.label!r}: {error}") from None
        rec.gid = self.net.add_group(rec.group)
        if rec.model == "SpikeSourceArray":
            self._log_skipped_times(rec)

    def _log_skipped_times(self, rec: PopulationRecord) -> None:
        """Warn about spike times the group could not emit (it counts them by reason)."""
        for reason, count in rec.group.take_skipped().items():
            logger.warning("population %r: %d spike time(s) not emitted: %s (tick %d)",
                           rec.label, count, reason, self.tick)

    def _build_synapses(self, key: int) -> None:
        block = self.synapses[key]
        pre, post = self.populations[block.pre], self.populations[block.post]
        block.handle = self.net.connect(pre.gid, post.gid, block.pre_idx, block.post_idx,
                                        block.weights, block.delays, block.receptor,
                                        rule=self._seeded(key))
        for column, values in block.initial.items():
            block.handle.plastic.initialize(column, values)

    def _build_current(self, rec: CurrentRecord) -> None:
        seed = [self.seed, 1 << 20, self.currents.index(rec)] if rec.seed is None else rec.seed
        rec.source = kernel_build.make_current(rec.kind, self.dt, rec.parameters, seed)
        rec.source.record(rec.recording)
        for key, indices in rec.targets:
            self.net.add_current(self.populations[key].gid, rec.source, indices)


def streamed_keys(records: list[PopulationRecord], choice: tuple[str, ...]) -> list[int]:
    """Keys of the populations a host's stream choice selects (``all``, ``none`` or labels)."""
    if tuple(choice) == ("none",):
        return []
    if tuple(choice) == ("all",):
        return [r.key for r in records if r.model != "SpikeInjector"]
    by_label = {r.label: r.key for r in records}
    missing = sorted(set(choice) - by_label.keys())
    if missing:
        raise ConfigurationError(f"no population labelled {missing} to stream; the script has "
                                 f"{sorted(by_label)}")
    return [by_label[label] for label in choice]
