"""Simulator state of the spinnlive PyNN backend: IDs, the one ``State``, and its engine.

Theory of operation: PyNN's common layer asks ``state`` for the time, time step, delays and
segment counter, and calls ``run_until``/``reset``/``clear``. ``State`` keeps the PyNN-facing
settings (and the sPyNNaker extras: time scale factor, ``realtime``, neurons per core) and owns one
:class:`spinnlive.engine.simulation.Simulation`, which holds the network description and builds
the kernels' ``Network`` on the first run. Time is an integer tick in the engine; ``state.t`` is
``tick * dt`` and is never stored separately, so it cannot drift.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pyNN import common

from ..engine.simulation import Simulation

name = "spinnlive"

#: seed of the engine's random streams (Poisson sources, noisy currents) when setup() gives none
DEFAULT_SEED = 2_023_0711


class ID(int, common.IDMixin):
    """A cell: an int (unique across populations) that knows its parent population."""

    def __init__(self, n: int) -> None:
        int.__init__(n)
        common.IDMixin.__init__(self)


class State(common.control.BaseState):
    """Everything ``setup()`` configures, plus the engine that runs the network."""

    def __init__(self) -> None:
        super().__init__()
        self.mpi_rank = 0
        self.num_processes = 1
        self.dt = 0.1
        self.min_delay: float | str = "auto"
        self.max_delay: float | str = "auto"
        self.seed = DEFAULT_SEED
        self.time_scale_factor: float | None = None
        self.realtime = False
        self.neurons_per_core: dict[str, int] = {}
        self.extra: dict[str, Any] = {}
        self.engine = Simulation(self.dt, seed=self.seed)
        self.clear()

    @property
    def t(self) -> float:
        return self.engine.tick * self.dt

    def configure(self, timestep: float, min_delay: float | str, max_delay: float | str,
                  seed: int | None, realtime: bool, time_scale_factor: float | None,
                  extra: dict[str, Any]) -> None:
        """Apply setup(): forget the old network and start an empty engine."""
        self.dt = float(timestep)
        self.min_delay = min_delay
        self.max_delay = max_delay
        self.seed = DEFAULT_SEED if seed is None else int(seed)
        self.realtime = bool(realtime)
        self.time_scale_factor = time_scale_factor
        self.extra = dict(extra)
        self.neurons_per_core = {}
        self.engine = Simulation(self.dt, seed=self.seed, realtime=self.realtime,
                                 time_scale_factor=time_scale_factor)
        self.clear()

    def run(self, simtime: float) -> None:
        self.run_until(self.t + simtime)

    def run_until(self, tstop: float) -> None:
        self.engine.neurons_per_core = self.neurons_per_core
        self.engine.run_until(int(np.floor(tstop / self.dt + 0.5)))
        self.running = True

    def clear(self) -> None:
        self.recorders = set()
        self.populations: list[Any] = []
        self.current_sources: list[Any] = []
        self.id_counter = 0
        self.segment_counter = -1
        self.write_on_end = []
        self.reset()

    def reset(self) -> None:
        """Back to t = 0 with the stored initial values; a new segment starts."""
        self.engine.reset()
        self.running = False
        self.t_start = 0
        self.segment_counter += 1


state = State()
