"""Simulator state of the spinnlive PyNN backend: IDs, the one ``State``, and its engine.

Theory of operation: PyNN's common layer asks ``state`` for the time, time step, delays and
segment counter, and calls ``run_until``/``reset``/``clear``. ``State`` keeps the PyNN-facing
settings (and the sPyNNaker extras: time scale factor, ``realtime``, neurons per core, the
live-I/O options) and owns one :class:`spinnlive.engine.simulation.Simulation`, which holds the
network description, maps and builds it on the first run and runs it on its tick scheduler.
Time is an integer tick in the engine; ``state.t`` is ``tick * dt`` and is never stored
separately, so it cannot drift.

``state.last_report`` is the :class:`~spinnlive.engine.run_report.RunReport` of the simulation
that ``end()`` closed last; it survives ``end()`` and the next ``setup()`` so that a caller
(the ``spinnlive`` command) can read it after the user's script returned.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from pyNN import common

from ..engine.run_report import RunReport
from ..engine.simulation import Simulation

if TYPE_CHECKING:
    from ..transport.notifier import ListenerAddress

name = "spinnlive"

#: seed of the engine's random streams (Poisson sources, noisy currents) when setup() gives none
DEFAULT_SEED = 2_023_0711


class ID(int, common.IDMixin):
    """A cell: an int (unique across populations) that knows its parent population."""

    def __init__(self, n: int) -> None:
        int.__init__(n)
        common.IDMixin.__init__(self)


@dataclass(frozen=True)
class HostHooks:
    """What a host program (the ``spinnlive run`` command) adds to every ``setup()`` of the
    scripts it runs, so that an unchanged script gets the host's bridge as a listener and its
    populations streamed: ``listeners`` are notified like ``add_database_socket_address``
    ones; ``stream`` is ``("none",)``, ``("all",)`` or labels (used when the script itself
    activates no live output); ``n_boards_required`` is the least machine size in boards
    (the larger of it and the script's own ``setup(n_boards_required=...)`` wins)."""

    listeners: tuple[ListenerAddress, ...] = ()
    stream: tuple[str, ...] = ("none",)
    n_boards_required: int | None = None


class State(common.control.BaseState):
    """Everything ``setup()`` configures, plus the engine that runs the network."""

    def __init__(self) -> None:
        super().__init__()
        self.mpi_rank = 0
        self.num_processes = 1
        self.dt = 0.1
        self._min_delay: float | str = "auto"
        self.smallest_delay: float | None = None  #: the network's, for min_delay='auto'
        self.max_delay: float | str = "auto"
        self.seed = DEFAULT_SEED
        self.time_scale_factor: float | None = None
        self.realtime: bool | None = None
        self.extra: dict[str, Any] = {}
        self.last_report: RunReport | None = None
        self.host_hooks = HostHooks()
        self.engine = Simulation(self.dt, seed=self.seed)
        self.clear()

    @property
    def neurons_per_core(self) -> dict[str, int]:
        """sPyNNaker's per-model ceiling of atoms per core (the engine's mapping reads it)."""
        return self.engine.neurons_per_core

    @property
    def min_delay(self) -> float | str:
        """What ``get_min_delay()`` reports: setup()'s value, or for ``'auto'`` the smallest
        delay of the network (one time step before any projection), as pyNN.nest computes it."""
        if self._min_delay != "auto":
            return self._min_delay
        return self.dt if self.smallest_delay is None else self.smallest_delay

    @min_delay.setter
    def min_delay(self, value: float | str) -> None:
        self._min_delay = value

    @property
    def min_delay_is_auto(self) -> bool:
        return self._min_delay == "auto"

    def note_delays(self, delays: np.ndarray) -> None:
        """Keep the smallest delay in the network (for min_delay='auto')."""
        if delays.size:
            low = float(delays.min())
            if self.smallest_delay is None or low < self.smallest_delay:
                self.smallest_delay = low

    @property
    def t(self) -> float:
        return self.engine.tick * self.dt

    def configure(self, timestep: float, min_delay: float | str, max_delay: float | str,
                  seed: int | None, realtime: bool | None, time_scale_factor: float | None,
                  extra: dict[str, Any], live_options: dict[str, Any] | None = None) -> None:
        """Apply setup(): end the old engine (its sockets) and start an empty one."""
        self.engine.close()
        self.dt = float(timestep)
        self.min_delay = min_delay
        self.max_delay = max_delay
        self.seed = DEFAULT_SEED if seed is None else int(seed)
        self.realtime = realtime
        self.time_scale_factor = time_scale_factor
        self.extra = dict(extra)
        self.engine = Simulation(self.dt, seed=self.seed, realtime=realtime,
                                 time_scale_factor=time_scale_factor, **(live_options or {}))
        for address in self.host_hooks.listeners:
            self.engine.add_listener(address)
        self.engine.default_streams = self.host_hooks.stream
        self.clear()

    def run(self, simtime: float) -> None:
        self.run_until(self.t + simtime)

    def run_until(self, tstop: float) -> None:
        self.engine.run_until(self.ticks(tstop))
        self.running = True

    def run_forever(self, sync_time: float = 0.0) -> None:
        self.engine.run_forever(self.ticks(sync_time))
        self.running = True

    def run_sync(self, run_time: float, sync_time: float) -> None:
        self.engine.run_sync(self.ticks(run_time), self.ticks(sync_time))
        self.running = True

    def ticks(self, ms: float) -> int:
        return int(np.floor(ms / self.dt + 0.5))

    def end(self) -> RunReport:
        """Close the engine's live I/O and keep its final report (the network stays readable)."""
        self.last_report = self.engine.close()
        return self.last_report

    def clear(self) -> None:
        self.recorders: set[Any] = set()
        self.populations: list[Any] = []
        self.current_sources: list[Any] = []
        self.id_counter = 0
        self.smallest_delay = None
        self.segment_counter = -1
        self.write_on_end: list[Any] = []
        self.reset()

    def reset(self) -> None:
        """Back to t = 0 with the stored initial values; a new segment starts."""
        self.engine.reset()
        self.running = False
        self.t_start = 0
        self.segment_counter += 1


state = State()
