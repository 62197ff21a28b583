"""A gymnasium environment in closed loop with a spiking network, through the ZeroMQ bridge.

Theory of operation
-------------------
:class:`GymLoop` is an ordinary bridge client (:func:`spinnlive.connect`): it never touches the
engine and could run in another process or on another host. The network runs in real time and
the loop follows *its* clock, never a sleep of its own:

* The output populations the decoder reads (plus an optional ``clock_label``, a population that
  fires every tick or so, for networks whose motors may fall silent) come on one subscription:
  one SUB socket, read in the bridge's publishing order, so a period's last tick of one
  population is never read after a later tick of another, and the loop reads each message as it
  comes, with no reader task and queue per population between it and the socket (with them,
  a backlog of 20-60 queued messages, 25 ms of spikes, was seen on a 2-core machine).
* Control periods are a grid of ``control_ticks`` network ticks, anchored at the first tick seen
  after the observation was sent. The first message whose tick reaches the next grid line closes
  the period: each population's :class:`~spinnlive.adapters.decoding.SpikeWindow` is advanced to
  the tick before the line, the decoder turns the windows' rates into an action, the environment
  steps, and the encoder's rates for the new observation go out with ``set_rates``. The time
  from that message's arrival to the completed send is the *loop latency*. A message that jumps
  several grid lines closes one period and counts the others as ``skipped_periods``.
* An episode that ends is recorded (length, return) and the environment is reset with the next
  seed (``seed + episode``), so a run is repeatable up to the network's own noise and the same
  seeds can drive a baseline policy (:func:`random_policy`).

Recovery: when no message arrives for ``timeout_s``, or a message carries a new run epoch, or the
tick goes backwards (a restarted bridge counts epochs from 1 again), the network's run is over
or the bridge went away. The loop drops its connection and, through
:class:`~spinnlive.adapters.reconnecting.Reconnecting` (which logs both ends of it), asks the
discovery endpoint again until a bridge answers in state ``running`` (``recovery_s`` in all),
then resubscribes and starts a fresh episode; the interrupted one is counted, not recorded.

A learning network needs to hear how each step went: an optional ``on_step`` hook (a
:class:`StepHook`) is awaited after every environment step, before the next observation goes
out, with the connected client, the observation the action was chosen on, the action, and the
step's outcome; it may send anything (e.g. reward spikes into a SpikeInjector).

Encoders and decoders are small frozen dataclasses (:class:`SignedRateEncoder`,
:class:`PlaceCellEncoder`, :class:`PushPullAction`) holding only configuration; any object with
the same attributes works. A hand-wired network reads the signed code; a network that learns
its own mapping reads place cells, whose features are local, so credit given to one synapse
concerns one region of the state space.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import gymnasium as gym
import numpy as np
import numpy.typing as npt

from spinnlive.client import Client, Subscription, connect
from spinnlive.clock import Clock, MonotonicClock, PerfCounterClock
from spinnlive.errors import ConfigurationError
from spinnlive.transport.tick_gate import fifo_priority
from spinnlive.wire.output import SpikeBatch
from spinnlive.wire.topics import SPIKES, label_topic

from .decoding import PushPull, SpikeWindow
from .encoding import FloatArray, IntArray, RateCode, TuningCurves
from .reconnecting import Interrupted, Reconnecting

__all__ = ["GymLoop", "LoopConfig", "LoopReport", "PlaceCellEncoder", "PushPullAction",
           "SignedRateEncoder", "StepHook", "random_policy"]

logger = logging.getLogger(__name__)


class ObservationEncoder(Protocol):
    label: str

    @property
    def ids(self) -> IntArray: ...

    def rates(self, observation: npt.ArrayLike) -> FloatArray: ...


class ActionDecoder(Protocol):
    @property
    def labels(self) -> tuple[str, ...]: ...

    def action(self, rates: Mapping[str, FloatArray], previous: Any) -> Any: ...


class StepHook(Protocol):
    """Called after each environment step (``terminated or truncated``: the episode ended)."""

    async def __call__(self, client: Client, observation: Any, action: Any,
                       next_observation: Any, reward: float, done: bool) -> None: ...


@dataclass(frozen=True, slots=True)
class SignedRateEncoder:
    """Each observation component ``v_i`` into two groups of Poisson neurons of ``label``.

    Group ``2i`` ("positive") fires at ``baseline + (max - baseline) * clip(v_i / s_i, 0, 1)``,
    group ``2i + 1`` ("negative") likewise for ``-v_i``, ``neurons_per_value`` neurons each: a
    :class:`RateCode` of ``2n`` values over ``[0, s_i]``. A signed value then drives one of two
    pathways, which is how a hand-wired network tells left from right.
    """

    label: str
    scales: tuple[float, ...]
    neurons_per_value: int = 10
    max_rate: float = 200.0
    baseline_rate: float = 0.0

    def __post_init__(self) -> None:
        if not self.scales or not all(s > 0 for s in self.scales):
            raise ConfigurationError(f"SignedRateEncoder needs positive scales, got {self.scales}")
        _ = self.code  # RateCode checks the rate range

    @property
    def code(self) -> RateCode:
        highs = tuple(float(s) for s in self.scales for _ in range(2))
        return RateCode(low=0.0, high=highs, n_values=len(highs),
                        neurons_per_value=self.neurons_per_value, min_rate=self.baseline_rate,
                        max_rate=self.max_rate)

    @property
    def n_neurons(self) -> int:
        return 2 * len(self.scales) * self.neurons_per_value

    @property
    def ids(self) -> IntArray:
        return np.arange(self.n_neurons, dtype=np.int64)

    def group(self, component: int, positive: bool) -> IntArray:
        """Neuron ids of one component's positive or negative group (for wiring)."""
        start = (2 * component + (0 if positive else 1)) * self.neurons_per_value
        return np.arange(start, start + self.neurons_per_value, dtype=np.int64)

    def rates(self, observation: npt.ArrayLike) -> FloatArray:
        v = np.asarray(observation, dtype=np.float64).ravel()
        if v.size != len(self.scales):
            raise ConfigurationError(f"observation has {v.size} components, the encoder "
                                     f"{len(self.scales)}")
        return self.code.encode(np.stack((v, -v), axis=-1).ravel())


@dataclass(frozen=True, slots=True)
class PlaceCellEncoder:
    """Chosen observation components into place cells: one Gaussian :class:`TuningCurves` per
    component, ``centers`` preferred values spread evenly over ``[low_i, high_i]`` (width: their
    spacing), each center carried by ``neurons_per_center`` Poisson neurons of ``label``.

    Component ``components[k]``'s cells come ``k``-th; within it, center-major. A value beyond
    its range drives the outermost cells (the curves clip it).
    """

    label: str
    components: tuple[int, ...]
    ranges: tuple[tuple[float, float], ...]
    centers: int = 9
    neurons_per_center: int = 4
    max_rate: float = 100.0

    def __post_init__(self) -> None:
        if not self.components or len(self.ranges) != len(self.components):
            raise ConfigurationError(f"PlaceCellEncoder needs one (low, high) range per component,"
                                     f" got {self.ranges} for {self.components}")
        if self.neurons_per_center < 1:
            raise ConfigurationError(f"neurons_per_center must be >= 1, got "
                                     f"{self.neurons_per_center}")
        _ = self.curves  # TuningCurves checks ranges, centers and rate

    @property
    def curves(self) -> tuple[TuningCurves, ...]:
        return tuple(TuningCurves(low, high, self.centers, (high - low) / (self.centers - 1),
                                  self.max_rate, edge_widths=0.0) for low, high in self.ranges)

    @property
    def n_neurons(self) -> int:
        return len(self.components) * self.centers * self.neurons_per_center

    @property
    def ids(self) -> IntArray:
        return np.arange(self.n_neurons, dtype=np.int64)

    def cells(self, component: int, center: int) -> IntArray:
        """Neuron ids of one center of ``components[component]`` (for reading weights)."""
        start = (component * self.centers + center) * self.neurons_per_center
        return np.arange(start, start + self.neurons_per_center, dtype=np.int64)

    def rates(self, observation: npt.ArrayLike) -> FloatArray:
        v = np.asarray(observation, dtype=np.float64).ravel()
        if v.size <= max(self.components):
            raise ConfigurationError(f"observation has {v.size} components, the encoder reads "
                                     f"component {max(self.components)}")
        return np.concatenate([np.repeat(curve.encode(v[i]), self.neurons_per_center)
                               for curve, i in zip(self.curves, self.components, strict=True)])


@dataclass(frozen=True, slots=True)
class PushPullAction:
    """A discrete left/right action from two motor populations (``Discrete(2)``: 0 = left).

    ``command = PushPull.decode(left, right)``; above ``deadband`` pushes right, below
    ``-deadband`` left, and in between (both silent or balanced) the previous action flips, so
    "hold" averages to no force instead of a drift to one side.
    """

    left: str
    right: str
    code: PushPull = field(default_factory=PushPull)
    deadband: float = 0.0

    @property
    def labels(self) -> tuple[str, ...]:
        return (self.left, self.right)

    def action(self, rates: Mapping[str, FloatArray], previous: Any) -> int:
        command = float(self.code.decode(rates[self.left], rates[self.right]))
        if command > self.deadband:
            return 1
        if command < -self.deadband:
            return 0
        return 1 - int(previous) if previous is not None else 0


@dataclass(frozen=True, slots=True, kw_only=True)
class LoopConfig:
    control_ticks: int = 10
    #: decoding window (ticks); None: one control period
    window_ticks: int | None = None
    clock_label: str | None = None
    #: a silence this long (no message on any stream) means the run or the bridge is gone
    timeout_s: float = 2.0
    #: how long to keep asking for a running bridge after that
    recovery_s: float = 30.0
    #: SCHED_FIFO priority of the loop's thread while it runs (where the OS allows; None:
    #: normal): a controller with a deadline every control period, like the engine's tick
    #: thread (10) and one below it, so a loaded machine's other processes do not delay it
    realtime_priority: int | None = None

    def __post_init__(self) -> None:
        if self.control_ticks < 1 or (self.window_ticks is not None and self.window_ticks < 1):
            raise ConfigurationError("control_ticks and window_ticks must be at least 1")
        if not (self.timeout_s > 0 and self.recovery_s > 0):
            raise ConfigurationError("timeout_s and recovery_s must be positive")


@dataclass(frozen=True, slots=True)
class LoopReport:
    """What one :meth:`GymLoop.run` did (latencies in milliseconds)."""

    episode_lengths: tuple[int, ...]
    episode_returns: tuple[float, ...]
    control_steps: int
    skipped_periods: int
    latency_p50_ms: float
    latency_p99_ms: float
    latency_max_ms: float
    interrupted_episodes: int
    recoveries: int
    epochs: tuple[int, ...]
    stream_gaps: int
    wall_s: float

    @property
    def mean_length(self) -> float:
        return float(np.mean(self.episode_lengths)) if self.episode_lengths else float("nan")

    @property
    def mean_return(self) -> float:
        return float(np.mean(self.episode_returns)) if self.episode_returns else float("nan")


@dataclass(slots=True)
class _Tally:
    """The running counts behind a :class:`LoopReport` (one per :meth:`GymLoop.run`)."""

    seed: int
    lengths: list[int] = field(default_factory=list)
    returns: list[float] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    epochs: list[int] = field(default_factory=list)
    steps: int = 0
    skipped: int = 0
    interrupted: int = 0
    recoveries: int = 0
    gaps: int = 0

    def report(self, wall_s: float) -> LoopReport:
        latencies = np.asarray(self.latencies) * 1000.0
        p50, p99, worst = (np.percentile(latencies, (50, 99, 100)) if latencies.size
                           else (np.nan,) * 3)
        return LoopReport(tuple(self.lengths), tuple(self.returns), self.steps, self.skipped,
                          float(p50), float(p99), float(worst), self.interrupted,
                          self.recoveries, tuple(self.epochs), self.gaps, wall_s)


class GymLoop:
    """Runs episodes of ``env`` against the network behind the bridge at ``endpoint``."""

    def __init__(self, endpoint: str, env: gym.Env[Any, Any], encoder: ObservationEncoder,
                 decoder: ActionDecoder, config: LoopConfig | None = None, *,
                 on_step: StepHook | None = None, clock: Clock | None = None) -> None:
        """``clock``: what the loop's timeouts are measured on (its latencies are timed on
        the tick thread's clock, ``PerfCounterClock``)."""
        self.endpoint = endpoint
        self._clock: Clock = clock or MonotonicClock()
        self._stopwatch = PerfCounterClock()
        self.on_step = on_step
        self.env = env
        self.encoder = encoder
        self.decoder = decoder
        self.config = config or LoopConfig()
        labels = list(decoder.labels)
        if self.config.clock_label and self.config.clock_label not in labels:
            labels.append(self.config.clock_label)
        self._labels = tuple(labels)
        self._encoder_ids = np.asarray(encoder.ids, dtype=np.int64)
        self._tally = _Tally(0)
        self._recon = Reconnecting(endpoint, name="closed loop", log=logger, clock=self._clock)

    @property
    def recoveries(self) -> int:
        """Interruptions the loop has recovered from so far (in the run in progress)."""
        return self._recon.recoveries

    async def run(self, n_episodes: int, *, seed: int = 0) -> LoopReport:
        """Play ``n_episodes`` complete episodes; reconnect through run ends and bridge restarts."""
        started = self._stopwatch.now()
        tally = self._tally = _Tally(seed)
        recon = self._recon = Reconnecting(
            self.endpoint, name="closed loop", log=logger, timeout_s=self.config.timeout_s,
            recovery_s=self.config.recovery_s, consequence=": the episode in progress is dropped",
            clock=self._clock)
        with fifo_priority(self.config.realtime_priority, "closed loop"):
            await recon.run(lambda: self._session(n_episodes),
                            done=lambda: len(tally.lengths) >= n_episodes)
        tally.interrupted, tally.recoveries = recon.interruptions, recon.recoveries
        return tally.report(self._stopwatch.now() - started)

    async def _session(self, n_episodes: int) -> None:
        """One connection: runs episodes until done or until the network goes away."""
        cfg = self.config
        async with connect(self.endpoint, timeout=cfg.timeout_s, clock=self._clock) as client:
            await client.started(cfg.timeout_s)
            description = await client.describe()
            sizes = self._check(description)
            tick_ms = float(description.get("timestep_ms") or 1.0)
            window = cfg.window_ticks or cfg.control_ticks
            windows = {label: SpikeWindow(sizes[label], window, tick_ms=tick_ms)
                       for label in self._labels}
            topics = [label_topic(SPIKES, label) for label in self._labels]
            subscription = client.subscribe(*topics)
            try:
                await subscription.ready()
                await self._episodes(client, subscription, windows, n_episodes,
                                     int(description["epoch"]))
            finally:
                self._tally.gaps += sum(subscription.book.ledgers[t].gaps for t in topics)
                subscription.close()

    def _check(self, description: Mapping[str, Any]) -> dict[str, int]:
        sizes = {p["label"]: int(p["size"]) for p in description["populations"]
                 if p["direction"] == "out"}
        missing = [label for label in self._labels if label not in sizes]
        inputs = {p["label"]: int(p["size"]) for p in description["populations"]
                  if p["direction"] == "rates"}
        if missing or self.encoder.label not in inputs:
            raise ConfigurationError(
                f"the network behind {self.endpoint} lacks live output for {missing} or live "
                f"rate control for {self.encoder.label!r}; it has output {sorted(sizes)} and "
                f"rate control {sorted(inputs)}")
        if inputs[self.encoder.label] <= int(self._encoder_ids.max()):
            raise ConfigurationError(f"{self.encoder.label!r} has {inputs[self.encoder.label]} "
                                     f"neurons; the encoder needs {self._encoder_ids.max() + 1}")
        return sizes

    async def _episodes(self, client: Client, subscription: Subscription,
                        windows: dict[str, SpikeWindow], n_episodes: int, epoch: int) -> None:
        cfg, tally = self.config, self._tally
        tally.epochs.append(epoch)
        logger.info("closed loop on epoch %d: a control step every %d ticks, %d episodes to go",
                    epoch, cfg.control_ticks, n_episodes - len(self._tally.lengths))
        observation = await self._reset(client)
        boundary: int | None = None
        last_tick: dict[str, int] = {}
        previous: Any = None
        length, total = 0, 0.0
        while len(tally.lengths) < n_episodes:
            message = await subscription.receive(cfg.timeout_s)
            if message is None:
                raise Interrupted(f"no spikes for {cfg.timeout_s:g} s")
            arrived = self._stopwatch.now()
            assert isinstance(message, SpikeBatch)  # only spike topics are subscribed
            label, tick, ids, msg_epoch = (message.label, message.header.tick, message.ids,
                                           message.header.epoch)
            if msg_epoch != epoch:
                raise Interrupted(f"run epoch {msg_epoch} replaced epoch {epoch}")
            if tick < last_tick.get(label, -1):  # one stream is in order within a run
                raise Interrupted(f"the network's clock went back from tick "
                                   f"{last_tick[label]} to {tick} on {label!r}: a new run")
            last_tick[label] = tick
            if boundary is None:
                boundary = tick + cfg.control_ticks
            elif tick >= boundary:
                for window in windows.values():
                    window.advance(boundary - 1)
                rates = {name: w.rates() for name, w in windows.items()}
                previous = self.decoder.action(rates, previous)
                seen = observation
                observation, reward, terminated, truncated, _ = self.env.step(previous)
                if self.on_step is not None:
                    await self.on_step(client, seen, previous, observation, float(reward),
                                       bool(terminated or truncated))
                length, total = length + 1, total + float(reward)
                tally.steps += 1
                if terminated or truncated:
                    tally.lengths.append(length)
                    tally.returns.append(total)
                    logger.info("episode %d: %d steps, return %g", len(tally.lengths), length,
                                total)
                    length, total = 0, 0.0
                    if len(tally.lengths) < n_episodes:
                        observation = await self._reset(client)
                    else:
                        return
                await self._send(client, observation)
                tally.latencies.append(self._stopwatch.now() - arrived)
                periods = (tick - boundary) // cfg.control_ticks + 1
                tally.skipped += periods - 1
                boundary += periods * cfg.control_ticks
            windows[label].add(tick, ids)

    async def _reset(self, client: Client) -> Any:
        observation, _ = self.env.reset(seed=self._tally.seed + len(self._tally.lengths)
                                              + self._recon.interruptions)
        await self._send(client, observation)
        return observation

    async def _send(self, client: Client, observation: Any) -> None:
        await client.set_rates(self.encoder.label, self._encoder_ids,
                               self.encoder.rates(observation))


def random_policy(env: gym.Env[Any, Any], n_episodes: int, *, seed: int = 0
                  ) -> tuple[list[int], list[float]]:
    """Lengths and returns of uniformly random actions on the same seeds as :class:`GymLoop`."""
    env.action_space.seed(seed)
    lengths: list[int] = []
    returns: list[float] = []
    for episode in range(n_episodes):
        env.reset(seed=seed + episode)
        length, total, done = 0, 0.0, False
        while not done:
            _, reward, terminated, truncated, _ = env.step(env.action_space.sample())
            length, total, done = length + 1, total + float(reward), terminated or truncated
        lengths.append(length)
        returns.append(total)
    return lengths, returns

