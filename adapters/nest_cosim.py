"""NEST co-simulation: a NEST network stepped by a spinnlive run's ticks, spikes crossing both ways.

Theory of operation
-------------------
NEST runs in this process (``nest.Prepare()`` once, then ``nest.Run`` per chunk); the spinnlive
network runs elsewhere, behind a bridge. One SUB socket follows every ``spikes/`` topic and
``lifecycle`` (:meth:`spinnlive.client.SyncClient.subscribe`); because one publisher's
messages arrive in order, a message stamped tick ``t`` proves all spikes of ticks ``< t`` are in.
NEST is therefore **paced by the stream, never by a sleep**: on a message of tick ``t`` NEST is
advanced through tick ``t - 1`` (in chunks of ``chunk_ticks``). A spinnlive population that fires
every tick with live output (a *pacer*: a SpikeSourceArray with one spike per timestep) keeps
NEST moving when nothing else fires; without one NEST advances only when spikes arrive.

Time mapping: the first message of an epoch, tick ``t0``, anchors spinnlive tick ``t0`` to the
NEST time ``base`` reached so far. NEST "step k" is the interval ``(base + (k - t0) dt,
base + (k - t0 + 1) dt]``, the same convention as the engine, which records a spike of tick
``k`` at ``(k + 1) dt``.

Delays, exactly
---------------
* **spinnlive -> NEST** (:meth:`NestCoSimulation.mirror`): spinnlive neuron ``i`` firing at tick
  ``t`` makes spike_generator ``i`` emit at NEST time ``base + (t - t0 + 1) dt`` (step ``t``),
  so parrot ``i`` fires in step ``t + d/dt`` (``d`` = the generator->parrot delay, default
  ``dt``) and the spike_recorder shows ``base + (t - t0 + 1) dt + d``. This is deterministic:
  the generator is set before NEST reaches step ``t``. A message for a tick NEST has already
  passed (a DEADLINE-split or late tick) is counted in ``late_spikes`` and not delivered.
* **NEST -> spinnlive** (:meth:`NestCoSimulation.drive`): spikes NEST produces in steps up to
  ``k`` are read when NEST has finished step ``k``, i.e. right after the message of tick
  ``k + 1`` arrived (``k + chunk_ticks`` for larger chunks), and sent at once as
  ``inject/<label>`` (neuron ``j`` of the NEST node collection -> injector atom ``j``). The
  engine emits an injected spike in the tick in progress when it arrives (as a board's injector
  core does), so injector neuron ``j`` fires at tick ``k + 1`` whenever the round trip (bridge ->
  adapter -> NEST chunk -> bridge -> board) takes less than what is left of tick ``k + 1``'s
  period; a slower round trip lands it one tick later per period missed. Give the spinnlive run a
  ``time_scale_factor`` when that margin matters: a real-time engine never waits for a client.

New epochs: a restarted bridge (or a new ``run``/``reset``) shows as a change of epoch in the
headers or a ``lifecycle`` ``new-epoch``; the adapter logs it, re-reads the description and
re-anchors the time mapping at the next message. ZeroMQ reconnects the sockets itself, so the
adapter needs no restart; while the bridge is gone it logs that it is waiting.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from spinnlive.client import SyncClient
from spinnlive.errors import ConfigurationError
from spinnlive.wire import LIFECYCLE, SPIKES, Notice, OutputMessage

__all__ = ["CosimStatistics", "NestCoSimulation"]

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class CosimStatistics:
    """Counters over the adapter's life (the fields are plain ints: read, don't mutate)."""

    epochs: int = 0
    messages: int = 0
    nest_steps: int = 0  #: NEST steps (timesteps) simulated
    spikes_to_nest: int = 0
    late_spikes: int = 0  #: spinnlive spikes for ticks NEST had already simulated
    spikes_from_nest: int = 0
    idle_waits: int = 0  #: receive deadlines passed with the bridge silent
    epoch_log: list[int] = field(default_factory=list)


class NestCoSimulation:
    """Couple the current NEST kernel to the spinnlive run behind the bridge at ``discovery``.

    Build the NEST network first (``nest.ResetKernel()``, ``nest.resolution`` = the spinnlive
    timestep), then :meth:`mirror` spinnlive outputs into NEST and :meth:`drive` spinnlive
    injectors from NEST nodes, then :meth:`run`.
    """

    def __init__(self, discovery: str, *, chunk_ticks: int = 1, timeout: float = 5.0,
                 idle_log_s: float = 1.0) -> None:
        import nest  # the adapter's one optional dependency

        if chunk_ticks < 1:
            raise ConfigurationError(f"chunk_ticks must be >= 1, got {chunk_ticks}")
        self.nest = nest
        self.chunk_ticks = chunk_ticks
        self.idle_log_s = idle_log_s
        self.client = SyncClient(discovery, timeout=timeout)
        try:
            self.link = self.client.subscribe(SPIKES, LIFECYCLE)
        except BaseException:
            self.client.close()
            raise
        self.dt = float(nest.resolution)
        bridge_dt = self.client.description.get("timestep_ms")
        if bridge_dt is not None and abs(float(bridge_dt) - self.dt) > 1e-9:
            raise ConfigurationError(f"nest.resolution is {self.dt} ms but the spinnlive run's "
                                     f"timestep is {bridge_dt} ms; set them equal")
        self.stats = CosimStatistics()
        self._mirrors: dict[str, Any] = {}
        self._drives: list[tuple[str, npt.NDArray[np.int64], Any, npt.NDArray[np.int64]]] = []
        self._read: list[int] = []  # events of each drive's recorder already sent
        self._epoch: int | None = None
        self._anchor: tuple[int, int] | None = None  # (t0, NEST step count at t0)
        self._nest_steps = 0  # NEST steps simulated since Prepare
        self._prepared = False
        self._stop = threading.Event()

    # -- wiring -----------------------------------------------------------------------------

    def size_of(self, label: str) -> int:
        for pop in self.client.description["populations"]:
            if pop["label"] == label:
                return int(pop["size"])
        raise ConfigurationError(f"the bridge at {self.client.discovery} has no population "
                                 f"{label!r}; it has {self.labels()}")

    def labels(self) -> list[str]:
        return sorted({p["label"] for p in self.client.description["populations"]})

    def mirror(self, label: str, delay_ms: float | None = None) -> Any:
        """Parrot neurons (one per atom of spinnlive output ``label``) that fire as it does."""
        nest = self.nest
        n = self.size_of(label)
        generators = nest.Create("spike_generator", n)
        parrots = nest.Create("parrot_neuron", n)
        nest.Connect(generators, parrots, "one_to_one",
                     {"delay": self.dt if delay_ms is None else float(delay_ms)})
        self._mirrors[label] = generators
        return parrots

    def drive(self, label: str, nodes: Any) -> Any:
        """Inject every spike of NEST ``nodes`` (node j -> atom j) into spinnlive ``label``."""
        nest = self.nest
        if len(nodes) > self.size_of(label):
            raise ConfigurationError(f"{len(nodes)} NEST nodes but {label!r} has only "
                                     f"{self.size_of(label)} atoms")
        recorder = nest.Create("spike_recorder")
        nest.Connect(nodes, recorder)
        ids = np.asarray(nodes.tolist(), dtype=np.int64)
        order = np.argsort(ids)
        self._drives.append((label, ids[order], recorder, order))
        self._read.append(0)
        return recorder

    # -- the loop ---------------------------------------------------------------------------

    def run(self, *, until_tick: int | None = None, idle_timeout: float | None = None) -> None:
        """Follow the stream until :meth:`stop`, tick ``until_tick``, or ``idle_timeout`` s
        without any message (None: wait for the bridge forever, logging that it is silent)."""
        if not self._prepared:
            self.nest.Prepare()
            self._prepared = True
        silent = 0.0
        while not self._stop.is_set():
            message = self.link.receive(self.idle_log_s)
            if message is None:
                silent += self.idle_log_s
                self.stats.idle_waits += 1
                logger.info("no message from the bridge for %.1f s; waiting (epoch %s)",
                            silent, self._epoch)
                if idle_timeout is not None and silent >= idle_timeout:
                    return
                continue
            silent = 0.0
            self._handle(message)
            if (until_tick is not None and not isinstance(message, Notice)
                    and message.header.tick >= until_tick):
                return

    def stop(self) -> None:
        self._stop.set()

    def close(self) -> None:
        if self._prepared:
            self.nest.Cleanup()
            self._prepared = False
        self.client.close()

    def _handle(self, message: OutputMessage) -> None:
        self.stats.messages += 1
        epoch = message.header.epoch
        if isinstance(message, Notice):
            if message.topic == LIFECYCLE and message.event == "new-epoch":
                self._new_epoch(epoch, "lifecycle new-epoch")
            return
        tick = message.header.tick
        if epoch != self._epoch:
            self._new_epoch(epoch, "header")
        elif self._anchor is not None and tick < self._anchor[0]:
            # a restarted bridge counts epochs from 1 again: its ticks going back tell
            self._new_epoch(epoch, "ticks went back")
        if self._anchor is None:
            self._anchor = (tick, self._nest_steps)
            logger.info("epoch %d: spinnlive tick %d anchored at NEST time %g ms",
                        epoch, tick, self._nest_steps * self.dt)
        self._advance_to(tick)
        generators = self._mirrors.get(message.label)
        if generators is not None:
            self._to_nest(generators, tick, message.ids)

    def _new_epoch(self, epoch: int, why: str) -> None:
        logger.warning("bridge run epoch %s -> %s (%s): re-reading the description and "
                       "re-anchoring NEST time at the next tick, no restart needed",
                       self._epoch, epoch, why)
        self._epoch = epoch
        self._anchor = None
        self.stats.epochs += 1
        self.stats.epoch_log.append(epoch)
        try:
            self.client.describe()
        except Exception as exc:  # the bridge may be between epochs; keep the old description
            logger.warning("could not re-read the description: %s", exc)

    @property
    def anchor(self) -> tuple[int, int]:
        """(spinnlive tick t0, NEST step at t0) of the current epoch."""
        if self._anchor is None:
            raise ConfigurationError("no tick seen yet in this epoch")
        return self._anchor

    def _step_of(self, tick: int) -> int:
        assert self._anchor is not None
        t0, base = self._anchor
        return base + tick - t0

    def _advance_to(self, tick: int) -> None:
        """Simulate NEST through the step before ``tick`` (in whole chunks)."""
        target = self._step_of(tick)
        if target - self._nest_steps < self.chunk_ticks:
            return
        self.nest.Run((target - self._nest_steps) * self.dt)
        self.stats.nest_steps += target - self._nest_steps
        self._nest_steps = target
        self._from_nest()

    def _to_nest(self, generators: Any, tick: int, ids: npt.NDArray[np.uint32]) -> None:
        step = self._step_of(tick)
        if step < self._nest_steps or ids.size == 0:
            self.stats.late_spikes += int(ids.size)
            return
        time = (step + 1) * self.dt
        atoms, counts = np.unique(ids[ids < len(generators)], return_counts=True)
        for atom, count in zip(atoms.tolist(), counts.tolist(), strict=True):
            node = generators[atom]
            old = np.asarray(node.get("spike_times"), dtype=float)
            keep = old[old > self._nest_steps * self.dt]
            node.set(spike_times=np.concatenate([keep, np.full(count, time)]).tolist())
        self.stats.spikes_to_nest += int(ids.size)

    def _from_nest(self) -> None:
        for index, (label, node_ids, recorder, order) in enumerate(self._drives):
            # recorders cannot be cleared inside Prepare/Cleanup: read past a cursor instead
            read = self._read[index]
            if int(recorder.get("n_events")) == read:
                continue
            senders = np.asarray(recorder.get("events")["senders"], dtype=np.int64)[read:]
            self._read[index] = read + senders.size
            atoms = order[np.searchsorted(node_ids, senders)]
            self.client.inject(label, atoms)
            self.stats.spikes_from_nest += int(senders.size)
