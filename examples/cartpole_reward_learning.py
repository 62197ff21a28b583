"""A spiking actor learns to balance gymnasium's CartPole with reward-modulated STDP, from random
weights, the reward arriving as dopamine spikes.

The network (the field's actor design, e.g. Fremaux, Sprekeler & Gerstner 2013; Izhikevich 2007):

* ``sensors``: place cells over the pole's angle (+-0.21 rad) and angular velocity (+-1.5 rad/s),
  9 Gaussian centers each, 4 Poisson neurons per center, 100 Hz at the center
  (:class:`~spinnlive.adapters.gym.PlaceCellEncoder`). The cart's position is left out: the
  pole is the task within the episode cap (``theta + theta'/2`` alone balances it 200 steps).
* two action populations, ``left`` and ``right`` (20 IF_curr_exp each, offsets spread below and
  just above rheobase so that some always fire: exploration), weakly inhibiting each other;
  the action is the population with more spikes in the control period
  (:class:`~spinnlive.adapters.gym.PushPullAction`);
* every sensor projects onto both actors through ``STDPMechanism(SpikePairRule,
  AdditiveWeightDependence)`` with weights drawn at random: the starting policy is arbitrary
  (on most seeds one actor dominates and pushes one way until the pole falls);
* ``dopamine``, four neurons: 0/1 reward ``left``/``right`` (``extra_models.Neuromodulation``
  on receptor ``reward``), 2/3 punish them (receptor ``punishment``). Each plastic synapse keeps
  an eligibility trace ``c`` (tau_c 20 ms) of its STDP pairings; a dopamine spike makes
  ``dw/dt = c * D`` for the actor it reaches (tau_d 5 ms), so only the synapses that just made
  that actor fire move.

The reward (:class:`Teacher`): after each step, the pole's error ``e = theta + theta'/2`` (tilt
plus where it is heading) is compared before and after the action; if ``|e|`` shrank (and the
pole is still up), one reward spike to the actor that acted, else one punishment spike to it.
It is a shaped signal, computed from the observations, every 20 ms step: which action was right
is never told, only how well the last one did. Controls: the same network with no reward sent
(``off``: D stays 0, so the weights stay the random start), and with the reward's sign shuffled
(``shuffled``: the same number of dopamine spikes, uncorrelated with the outcome).

Two ways to run the same network and teacher:

* ``--mode live`` (the default): three processes, as in ``cartpole_closed_loop.py``: the bridge;
  this file with ``--network <notify port>`` serving in real time (1 ms ticks, a control step
  every 20 ticks: CartPole's own 20 ms step); and this process, a
  :class:`~spinnlive.adapters.gym.GymLoop` whose ``on_step`` hook is the teacher, injecting the
  dopamine spikes live into the SpikeInjector ``dopamine``; the weights are read live through
  the state plane (``Client.weights``) before and after. A tick lasts ``--time-scale-factor``
  ms of wall time (4 by default: on a busy 2-core machine the loop does not keep up with 1 ms
  ticks, and a step decided on spikes read late is credited with the wrong eligibility). The
  teacher sends nothing for a step the loop closed sooner than half a control period after the
  previous one (catching up after a stall: its spikes are stale), and counts it.
* ``--mode lockstep``: one process, the engine stepped with ``run(20)`` per control step
  (sensor rates by ``Population.set``, the dopamine population a SpikeSourceArray whose next
  spike is set between steps): deterministic per seed, not bound to the wall clock, for several
  seeds and controls at once (and the test).

Learning never stops (there is no separate evaluation phase), so a learned actor can still
relapse for an episode. Each mode prints the episode lengths per condition and seed and saves a
plot (``--png``):
episode length over episodes, learned against the controls and a random policy on the same
environment seeds, and the learned weight difference right - left per place cell. Measured:
see the README's plasticity section.

Run: ``MPLBACKEND=Agg python examples/cartpole_reward_learning.py [--mode live|lockstep]
[--episodes 10] [--seeds 1 2 3] [--max-steps 200] [--png cartpole_reward_learning.png]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np

from spinnlive.adapters.decoding import PushPull
from spinnlive.adapters.gym import (
    GymLoop,
    LoopConfig,
    PlaceCellEncoder,
    PushPullAction,
    random_policy,
)
from spinnlive.cli import launch
from spinnlive.cli.launch import start_bridge, stop
from spinnlive.client import Client, connect

logger = logging.getLogger("cartpole_reward_learning")

ENCODER = PlaceCellEncoder("sensors", components=(2, 3), ranges=((-0.21, 0.21), (-1.5, 1.5)),
                           centers=9, neurons_per_center=4, max_rate=100.0)
DECODER = PushPullAction("left", "right", PushPull(max_rate=100.0))
SIDES = ("left", "right")
ACTOR_SIZE = 20
ACTOR = dict(tau_m=10.0, cm=1.0, tau_syn_E=5.0, tau_syn_I=5.0, tau_refrac=2.0, v_rest=-65.0,
             v_reset=-65.0, v_thresh=-50.0)
I_OFFSET = (0.9, 1.5)  # nA, uniform over an actor's neurons; rheobase 1.5 nA
INHIBITION = 0.1  # nA, every actor neuron onto every neuron of the other actor
W_START, W_MAX = (0.0, 0.15), 0.2  # nA
STDP = dict(tau_plus=20.0, tau_minus=20.0, A_plus=0.01, A_minus=0.006)
DOPAMINE = dict(weight=1.0, tau_c=20.0, tau_d=5.0)  # the same amount for reward and punishment
CONTROL_TICKS = 20  # 1 ms ticks: CartPole's own 20 ms step
CONDITIONS = ("learned", "off", "shuffled")
PUNISH = 2  #: dopamine neuron ``side + PUNISH`` punishes ``side``


def projection_label(side: str) -> str:
    return f"sensors→{side}"


def build_network(sim: Any, seed: int, notify_port: int | None = None) -> dict[str, Any]:
    """Sensors, actors, dopamine; live devices when ``notify_port`` (the bridge's) is given,
    else the lock-step stand-ins (sensors set by ``Population.set``, a SpikeSourceArray)."""
    ext = sim.external_devices
    sensors = sim.Population(ENCODER.n_neurons, sim.SpikeSourcePoisson(rate=0.0), label="sensors")
    if notify_port is None:
        dopamine = sim.Population(4, sim.SpikeSourceArray(spike_times=[[] for _ in range(4)]),
                                  label="dopamine")
    else:
        ext.add_poisson_live_rate_control(sensors, database_notify_port_num=notify_port)
        dopamine = sim.Population(4, ext.SpikeInjector(database_notify_port_num=notify_port),
                                  label="dopamine")
        clock = sim.Population(10, sim.SpikeSourcePoisson(rate=500.0), label="clock")
        ext.activate_live_output_for(clock, database_notify_port_num=notify_port)
    offsets = np.random.default_rng(seed).uniform(*I_OFFSET, ACTOR_SIZE)  # the same both sides
    actors, plastic = {}, {}
    for index, side in enumerate(SIDES):
        actor = sim.Population(ACTOR_SIZE, sim.IF_curr_exp(**ACTOR, i_offset=offsets), label=side)
        if notify_port is None:
            actor.record("spikes")
        else:
            ext.activate_live_output_for(actor, database_notify_port_num=notify_port)
        stdp = sim.STDPMechanism(
            timing_dependence=sim.SpikePairRule(**STDP),
            weight_dependence=sim.AdditiveWeightDependence(w_min=0.0, w_max=W_MAX),
            weight=sim.RandomDistribution("uniform", W_START,
                                          rng=sim.NumpyRNG(seed=7 * seed + index)),
            delay=1.0)
        plastic[side] = sim.Projection(sensors, actor, sim.AllToAllConnector(), stdp,
                                       receptor_type="excitatory", label=projection_label(side))
        for source, receptor in ((index, "reward"), (PUNISH + index, "punishment")):
            sim.Projection(dopamine, actor,
                           sim.FromListConnector([(source, j) for j in range(ACTOR_SIZE)]),
                           sim.extra_models.Neuromodulation(**DOPAMINE, delay=1.0),
                           receptor_type=receptor, label=f"{receptor}→{side}")
        actors[side] = actor
    for a, b in (SIDES, SIDES[::-1]):
        sim.Projection(actors[a], actors[b], sim.AllToAllConnector(),
                       sim.StaticSynapse(weight=INHIBITION, delay=1.0), receptor_type="inhibitory",
                       label=f"{a}⊣{b}")
    return {"sensors": sensors, "dopamine": dopamine, "actors": actors, "plastic": plastic}


def pole_error(observation: Any) -> float:
    """How far the pole is from upright and still: tilt plus half its angular velocity."""
    return float(observation[2] + 0.5 * observation[3])


def fell(observation: Any) -> bool:
    """CartPole-v1's termination: the pole past 12 degrees or the cart off the track."""
    return abs(float(observation[2])) > 0.2095 or abs(float(observation[0])) > 2.4


@dataclass
class Teacher:
    """Decides the dopamine spike of each step, and (as a GymLoop ``on_step`` hook) injects it.

    ``condition``: ``learned`` (the shaped reward), ``off`` (nothing sent), ``shuffled`` (reward
    or punishment by a coin toss, seeded)."""

    condition: str = "learned"
    seed: int = 0
    #: live: a step closed sooner than this (s) after the previous one was decided on spikes
    #: the loop read late (catching up after a stall): no dopamine, counted in ``stale``
    min_gap_s: float = 0.0
    rewards: int = 0
    punishments: int = 0
    stale: int = 0
    _coin: np.random.Generator = field(init=False)
    _last: float | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        if self.condition not in CONDITIONS:
            raise ValueError(f"condition must be one of {CONDITIONS}, got {self.condition!r}")
        self._coin = np.random.default_rng(self.seed + 99)

    def neuron(self, observation: Any, action: int, next_observation: Any) -> int | None:
        """The dopamine neuron to fire for this step, or None."""
        if self.condition == "off":
            return None
        good = (abs(pole_error(next_observation)) < abs(pole_error(observation))
                and not fell(next_observation))
        if self.condition == "shuffled":
            good = bool(self._coin.random() < 0.5)
        self.rewards += good
        self.punishments += not good
        return int(action) + (0 if good else PUNISH)

    async def __call__(self, client: Client, observation: Any, action: Any,
                       next_observation: Any, reward: float, done: bool) -> None:
        now, last = time.perf_counter(), self._last
        self._last = None if done else now
        if last is not None and now - last < self.min_gap_s:
            self.stale += 1
            return
        neuron = self.neuron(observation, int(action), next_observation)
        if neuron is not None:
            await client.inject("dopamine", np.array([neuron], dtype=np.uint32))


def preference(weights: dict[str, np.ndarray]) -> np.ndarray:
    """Mean weight right - left per place-cell center (nA): rows angle, angular velocity. The
    corrective policy (push toward where the pole falls) is negative left, positive right."""
    diff = weights["right"].mean(axis=1) - weights["left"].mean(axis=1)
    return diff.reshape(len(ENCODER.components), ENCODER.centers,
                        ENCODER.neurons_per_center).mean(axis=2)


def velocity_preference(weights: dict[str, np.ndarray]) -> float:
    """How much the angular-velocity cells prefer the push toward where the pole falls: mean
    preference() of the cells above zero minus those below (nA; about 0 at a random start).
    They carry the learned policy. The angle cells end with a weaker preference, often of the
    opposite sign (seen on every seed measured; the plot shows it): within an episode the two
    are correlated, and a one-step reward credits every active cell with the push.
    """
    half = ENCODER.centers // 2
    pref = preference(weights)[ENCODER.components.index(3)]
    return float(pref[half + 1:].mean() - pref[:half].mean())


# -- lock-step: one process, run() per control step ---------------------------------------------

def spike_rates(actor: Any) -> np.ndarray:
    """Rates (Hz) per neuron since the last call; the recording is cleared."""
    counts = actor.get_spike_counts()
    actor.recorder.clear()
    return np.array([counts[i] for i in sorted(counts)], dtype=float) / (CONTROL_TICKS / 1000.0)


def run_lockstep(condition: str, episodes: int, max_steps: int, seed: int) -> dict[str, Any]:
    """``episodes`` episodes of CartPole against the network in lock-step, one process."""
    import spinnlive.pynn as sim

    sim.setup(timestep=1.0, realtime=False)
    net = build_network(sim, seed)
    start = {s: net["plastic"][s].get("weight", format="array") for s in SIDES}
    env = gym.make("CartPole-v1", max_episode_steps=max_steps)
    teacher = Teacher(condition, seed)
    lengths: list[int] = []
    started = time.perf_counter()
    for episode in range(episodes):
        observation, _ = env.reset(seed=1000 * seed + episode)
        action, length, done = None, 0, False
        while not done:
            net["sensors"].set(rate=ENCODER.rates(observation))
            sim.run(CONTROL_TICKS)
            rates = {side: spike_rates(net["actors"][side]) for side in SIDES}
            action = int(DECODER.action(rates, action))
            following, _, terminated, truncated, _ = env.step(action)
            neuron = teacher.neuron(observation, action, following)
            if neuron is not None:  # the next tick: the dopamine follows the step at once
                net["dopamine"][neuron:neuron + 1].set(
                    spike_times=[[sim.get_current_time() + 1.0]])
            observation, length, done = following, length + 1, terminated or truncated
        lengths.append(length)
        logger.info("lock-step %s seed %d episode %d: %d steps", condition, seed, episode,
                    length)
    sim.run(CONTROL_TICKS)  # the last step's dopamine arrives
    wall = time.perf_counter() - started
    end = {s: net["plastic"][s].get("weight", format="array") for s in SIDES}
    sim.end()
    return {"lengths": lengths, "before": start, "after": end, "rewards": teacher.rewards,
            "punishments": teacher.punishments, "wall_s": wall}


# -- live: bridge, network process, GymLoop with the teacher as on_step --------------------------

def serve_network(notify_port: int, seed: int, time_scale_factor: float) -> None:
    import spinnlive.pynn as sim

    sim.setup(timestep=1.0, time_scale_factor=time_scale_factor)
    build_network(sim, seed, notify_port)
    launch.serve_until_stdin_closes(sim)


async def read_weights(endpoint: str, started: bool = True) -> dict[str, np.ndarray]:
    """Both plastic matrices (sensors x actor), read live through the state plane."""
    async with connect(endpoint, timeout=60.0) as client:
        if not started:
            await client.started(60.0)
        return {side: (await client.weights(projection_label(side))).array() for side in SIDES}


def run_live(condition: str, episodes: int, max_steps: int, seed: int,
             time_scale_factor: float = 1.0) -> dict[str, Any]:
    """Bridge and network as subprocesses; the episodes through GymLoop in real time (a tick
    every ``time_scale_factor`` ms)."""
    bridge, where = start_bridge()
    network = launch.start_network(__file__, "--network", str(where["notify"][1]),
                                   "--seed", str(seed), "--time-scale-factor",
                                   str(time_scale_factor))
    endpoint = where["discovery"]
    teacher = Teacher(condition, seed, min_gap_s=0.5 * CONTROL_TICKS * time_scale_factor / 1000)
    config = LoopConfig(control_ticks=CONTROL_TICKS, clock_label="clock", timeout_s=10.0)
    try:
        start = asyncio.run(read_weights(endpoint, started=False))
        env = gym.make("CartPole-v1", max_episode_steps=max_steps)
        loop = GymLoop(endpoint, env, ENCODER, DECODER, config, on_step=teacher)
        report = asyncio.run(loop.run(episodes, seed=1000 * seed))
        end = asyncio.run(read_weights(endpoint))
    finally:
        stop(network)
        stop(bridge)
    return {"lengths": list(report.episode_lengths), "before": start, "after": end,
            "rewards": teacher.rewards, "punishments": teacher.punishments,
            "stale": teacher.stale, "control_steps": report.control_steps,
            "wall_s": report.wall_s, "skipped_periods": report.skipped_periods,
            "latency_ms": (round(report.latency_p50_ms, 2), round(report.latency_p99_ms, 2))}


# -- both ---------------------------------------------------------------------------------------

def experiment(mode: str, conditions: tuple[str, ...], episodes: int, max_steps: int,
               seeds: list[int], time_scale_factor: float = 1.0) -> dict[str, Any]:
    """Every condition on every seed, and a random policy on the same environment seeds."""
    results: dict[str, Any] = {c: {} for c in conditions}
    for seed in seeds:
        for condition in conditions:
            if mode == "live":
                result = run_live(condition, episodes, max_steps, seed, time_scale_factor)
            else:
                result = run_lockstep(condition, episodes, max_steps, seed)
            results[condition][seed] = result
            logger.warning("%s %s seed %d: %s (%s)", mode, condition, seed, result["lengths"],
                           {k: v for k, v in result.items() if k in (
                               "wall_s", "skipped_periods", "latency_ms", "stale")})
        results.setdefault("random", {})[seed] = {"lengths": random_policy(
            gym.make("CartPole-v1", max_episode_steps=max_steps), episodes,
            seed=1000 * seed)[0]}
    return results


def summary(results: dict[str, Any], skip: int) -> dict[str, Any]:
    """Mean episode length per condition (episodes from ``skip`` on, all seeds), and the
    velocity cells' preference for the corrective push before and after, per seed."""
    out: dict[str, Any] = {}
    for condition, per_seed in results.items():
        lengths = [n for r in per_seed.values() for n in r["lengths"][skip:]]
        out[condition] = {"mean_length": float(np.mean(lengths)),
                          "per_seed": {s: r["lengths"] for s, r in per_seed.items()}}
        if condition != "random":
            out[condition]["velocity_preference_nA"] = [
                (round(velocity_preference(r["before"]), 4),
                 round(velocity_preference(r["after"]), 4)) for r in per_seed.values()]
    return out


def plot(results: dict[str, Any], path: str, title: str) -> None:
    import matplotlib.pyplot as plt

    fig, (curve, cells) = plt.subplots(1, 2, figsize=(11, 4))
    for condition, per_seed in results.items():
        lengths = np.array([r["lengths"] for r in per_seed.values()], dtype=float)
        x = np.arange(1, lengths.shape[1] + 1)
        curve.plot(x, lengths.mean(axis=0), marker="o", label=f"{condition} (mean of "
                   f"{lengths.shape[0]} seeds)")
        curve.fill_between(x, lengths.min(axis=0), lengths.max(axis=0), alpha=0.15)
    curve.set(xlabel="episode", ylabel="episode length (steps of 20 ms)", title=title)
    curve.legend(fontsize=8)
    learned = next(iter(results["learned"].values())) if "learned" in results else None
    if learned is not None:
        pref = preference(learned["after"]) * 1000.0
        image = cells.imshow(pref, cmap="coolwarm", aspect="auto",
                             vmin=-np.abs(pref).max(), vmax=np.abs(pref).max())
        cells.set(yticks=[0, 1], yticklabels=["angle", "ang. velocity"],
                  xticks=range(ENCODER.centers),
                  xticklabels=[f"{c:+.2g}" for c in np.linspace(-1, 1, ENCODER.centers)],
                  xlabel="place-cell center (fraction of range)",
                  title="learned weight right - left (pA), first seed")
        fig.colorbar(image, ax=cells)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("live", "lockstep"), default="live")
    parser.add_argument("--conditions", nargs="+", choices=CONDITIONS, default=list(CONDITIONS))
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument("--max-steps", type=int, default=200)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--skip", type=int, default=1,
                        help="episodes left out of the means (the first is learning)")
    parser.add_argument("--time-scale-factor", type=float, default=4.0,
                        help="live: wall-clock ms per 1 ms tick (sPyNNaker's setup argument); "
                             "1 is real time, if the machine keeps the loop up with it")
    parser.add_argument("--png", default="cartpole_reward_learning.png")
    parser.add_argument("--json", action="store_true", help="print one JSON line of results")
    parser.add_argument("--seed", type=int, default=1, help=argparse.SUPPRESS)
    args = launch.parse_script_args(parser)
    if args.network is not None:
        serve_network(args.network, args.seed, args.time_scale_factor)
        return
    results = experiment(args.mode, tuple(args.conditions), args.episodes, args.max_steps,
                         args.seeds, args.time_scale_factor)
    table = summary(results, args.skip)
    if args.png:
        plot(results, args.png, f"CartPole-v1, reward-modulated STDP ({args.mode})")
    if args.json:
        print(json.dumps(table))
        return
    print(f"CartPole-v1 ({args.mode}), cap {args.max_steps} steps, {args.episodes} episodes per "
          f"seed, seeds {args.seeds}; mean length from episode {args.skip + 1} on:")
    for condition, row in table.items():
        extra = ""
        if "velocity_preference_nA" in row:
            extra = "   velocity cells' corrective preference (nA) " + ", ".join(
                f"{a:+.3f} -> {b:+.3f}" for a, b in row["velocity_preference_nA"])
        print(f"  {condition:9s} {row['mean_length']:6.1f}{extra}")
        for seed, lengths in row["per_seed"].items():
            print(f"      seed {seed}: {lengths}")
    if args.png:
        print(f"plot: {args.png}")


if __name__ == "__main__":
    main()
