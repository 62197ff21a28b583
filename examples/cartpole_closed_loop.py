"""A hand-wired spiking controller balances gymnasium's CartPole, closed loop, in real time.

Three processes, each the way it would run in a deployment:

1. the bridge, ``python -m spinnlive.bridge`` with every port picked by the kernel (it prints its
   endpoints as one JSON line);
2. the network, this file with ``--network <notify port>``: a PyNN script on the embedded engine
   that registers the bridge as its notification listener and runs with ``run_forever`` (real
   time, 1 ms ticks) until its stdin closes;
3. this process: a :class:`~spinnlive.adapters.gym.GymLoop`, a plain ZeroMQ client of the bridge.

The controller: each of the four observations (cart position and velocity, pole angle and
angular velocity), signed, is rate-coded into a positive and a negative group of 10 Poisson
neurons (``sensors``, live rate control). A positive group excites the ``right`` motor population
and inhibits ``left``; a negative group the other way round. The encoder's scales (the value
at which a group saturates: 24, 4, 0.2 rad, 0.4 rad/s) set the weights of the four components, so
the motors compute ``sum_i clip(v_i / s_i, -1, 1)``, a saturating linear policy dominated by
``theta + theta' / 2``; playing that policy on gymnasium alone, with one step of delay and noise
added, picked the scales before any network ran. Motor neurons differ in their offset current
and in which sensors reach them (a fixed random mask, the same for both sides), so their summed
rate grows smoothly with the drive instead of all firing in lock-step. The push is decoded
with :class:`~spinnlive.adapters.decoding.PushPull` from the two motor populations' spikes over
the last control period. A ``clock`` population of Poisson neurons firing ~every tick keeps the
loop's control grid moving when both motors are silent (the pole upright and still).

A control step every ``--control-ticks`` network ticks (10 ms by default); 20 episodes of up to
500 steps take at most 100 s of network time. A random policy is played on the same seeds.

How well the real-time loop balances depends on its round trip (spikes to the client, the
step, the new rates at the engine) against the control period: the controller was tuned with
one step of delay, and a round trip that eats most of a period adds another. Measured on a
2-core machine (quiet, 7 Dec; 10 episodes, cap 500): every 10 ms, mean length 473.9 against
25.6 for the random policy (18.5x; loop latency p50 0.72, p99 3.0 ms); every 5 ms, 17.0 (0.7x:
the pole falls as under a constant push), where an earlier, faster machine balanced all 500
steps of every episode (p99 0.9-1.4 ms). ``--lockstep`` runs the same controller with the
engine in lock-step, one process, each action decided on exactly the last period's spikes:
500 steps on every episode at 5 and at 10 ms, on any machine.

Run: ``python examples/cartpole_closed_loop.py [--episodes 20] [--max-steps 500] [--lockstep]
[--json]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import time
from typing import Any

import gymnasium as gym
import numpy as np

from spinnlive.adapters.decoding import PushPull
from spinnlive.adapters.gym import (
    GymLoop,
    LoopConfig,
    LoopReport,
    PushPullAction,
    SignedRateEncoder,
    random_policy,
)
from spinnlive.cli import launch
from spinnlive.cli.launch import start_bridge, stop

#: x, x', theta, theta' at which a sensor group saturates
ENCODER = SignedRateEncoder("sensors", scales=(24.0, 4.0, 0.2, 0.4), neurons_per_value=10,
                            max_rate=200.0)
DECODER = PushPullAction("left", "right", PushPull(max_rate=100.0))
MOTOR_SIZE = 30
CLOCK_SIZE = 10
EXCITE, INHIBIT = 0.6, 0.6  # nA per sensor spike into a motor neuron
MOTOR = dict(tau_m=10.0, cm=1.0, tau_syn_E=2.0, tau_syn_I=2.0, tau_refrac=2.0, v_rest=-65.0,
             v_reset=-65.0, v_thresh=-50.0)
I_OFFSET = (1.0, 1.6)  # nA, uniform over the motor neurons (rheobase 1.5 nA): graded responses
P_CONNECT = 0.5  # each sensor -> motor synapse exists with this probability (fixed seed)
SEED = 7


def build_network(sim: Any, notify_port: int | None) -> dict[str, Any]:
    """The controller; ``notify_port`` is the bridge's notification port, or None for the
    lock-step stand-ins (sensors set by ``Population.set``, motors recorded)."""
    ext = sim.external_devices
    sensors = sim.Population(ENCODER.n_neurons, sim.SpikeSourcePoisson(rate=0.0), label="sensors")
    if notify_port is not None:
        ext.add_poisson_live_rate_control(sensors, database_notify_port_num=notify_port)
    # Both sides get the same offsets and the same wiring mask: a mirror image, no bias.
    rng = np.random.default_rng(SEED)
    offsets = rng.uniform(*I_OFFSET, MOTOR_SIZE)
    mask = rng.random((ENCODER.n_neurons // 2, MOTOR_SIZE)) < P_CONNECT
    motors = {side: sim.Population(MOTOR_SIZE, sim.IF_curr_exp(**MOTOR, i_offset=offsets),
                                   label=side) for side in ("left", "right")}
    if notify_port is None:
        for population in motors.values():
            population.record("spikes")
    else:
        clock = sim.Population(CLOCK_SIZE, sim.SpikeSourcePoisson(rate=500.0), label="clock")
        for population in (*motors.values(), clock):
            ext.activate_live_output_for(population, database_notify_port_num=notify_port)
    for positive, (excited, inhibited) in ((True, ("right", "left")), (False, ("left", "right"))):
        pre = np.concatenate([ENCODER.group(i, positive) for i in range(len(ENCODER.scales))])
        for target, weight, receptor in ((excited, EXCITE, "excitatory"),
                                         (inhibited, INHIBIT, "inhibitory")):
            pairs = [(int(pre[i]), int(j), weight, 1.0) for i, j in zip(*np.nonzero(mask))]
            sim.Projection(sensors, motors[target], sim.FromListConnector(pairs),
                           sim.StaticSynapse(), receptor_type=receptor)
    return {"sensors": sensors, **motors}


def serve_network(notify_port: int) -> None:
    """Run the network in real time until stdin closes (the parent ends or lets go)."""
    import spinnlive.pynn as sim

    sim.setup(timestep=1.0)
    build_network(sim, notify_port)
    launch.serve_until_stdin_closes(sim)


def start_network(notify_port: int) -> subprocess.Popen[str]:
    """This file with ``--network``; it runs until :func:`stop` closes its stdin."""
    return launch.start_network(__file__, "--network", str(notify_port))


def closed_loop(n_episodes: int, max_steps: int, control_ticks: int, seed: int = 0
                ) -> LoopReport:
    """Bridge and network as subprocesses, the loop here; everything ends with it."""
    bridge, where = start_bridge()
    network = start_network(int(where["notify"][1]))
    try:
        launch.wait_started(network, where["discovery"])  # however long its start-up takes
        env = gym.make("CartPole-v1", max_episode_steps=max_steps)
        loop = GymLoop(where["discovery"], env, ENCODER, DECODER,
                       LoopConfig(control_ticks=control_ticks, clock_label="clock",
                                  timeout_s=10.0))
        return asyncio.run(loop.run(n_episodes, seed=seed))
    finally:
        stop(network)
        stop(bridge)


def closed_loop_lockstep(n_episodes: int, max_steps: int, control_ticks: int, seed: int = 0
                         ) -> list[int]:
    """The same controller, encoder and decoder with the engine in lock-step, one process:
    ``run(control_ticks)`` per step, so each action is decided on exactly the last period's
    spikes whatever the machine's speed (the real-time loop is as good as its latency lets
    it be). Returns the episode lengths."""
    import spinnlive.pynn as sim

    sim.setup(timestep=1.0, realtime=False)
    net = build_network(sim, None)
    env = gym.make("CartPole-v1", max_episode_steps=max_steps)
    lengths: list[int] = []
    for episode in range(n_episodes):
        observation, _ = env.reset(seed=seed + episode)
        action, length, done = None, 0, False
        while not done:
            net["sensors"].set(rate=ENCODER.rates(observation))
            sim.run(control_ticks)
            rates = {side: _period_rates(net[side], control_ticks) for side in ("left", "right")}
            action = DECODER.action(rates, action)
            observation, _, terminated, truncated, _ = env.step(action)
            length, done = length + 1, terminated or truncated
        lengths.append(length)
    sim.end()
    return lengths


def _period_rates(population: Any, control_ticks: int) -> np.ndarray:
    """Rates (Hz) per neuron over the period just run; the recording is cleared."""
    counts = population.get_spike_counts()
    population.recorder.clear()
    return np.array([counts[i] for i in sorted(counts)], dtype=float) / (control_ticks / 1e3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--max-steps", type=int, default=500)
    parser.add_argument("--control-ticks", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print one JSON line of results")
    parser.add_argument("--lockstep", action="store_true",
                        help="the same controller with the engine in lock-step, one process")
    args = launch.parse_script_args(parser)
    if args.network is not None:
        serve_network(args.network)
        return
    if args.lockstep:
        lengths = closed_loop_lockstep(args.episodes, args.max_steps, args.control_ticks,
                                       args.seed)
        baseline, _ = random_policy(gym.make("CartPole-v1", max_episode_steps=args.max_steps),
                                    args.episodes, seed=args.seed)
        print(f"lock-step: mean episode length {np.mean(lengths):.1f} {lengths}; random "
              f"policy {np.mean(baseline):.1f}")
        return
    started = time.perf_counter()
    report = closed_loop(args.episodes, args.max_steps, args.control_ticks, args.seed)
    wall = time.perf_counter() - started
    baseline, _ = random_policy(gym.make("CartPole-v1", max_episode_steps=args.max_steps),
                                args.episodes, seed=args.seed)
    result = {"episodes": args.episodes, "spiking_mean_length": report.mean_length,
              "random_mean_length": float(np.mean(baseline)),
              "spiking_lengths": report.episode_lengths, "random_lengths": baseline,
              "latency_p50_ms": report.latency_p50_ms, "latency_p99_ms": report.latency_p99_ms,
              "control_steps": report.control_steps, "skipped_periods": report.skipped_periods,
              "stream_gaps": report.stream_gaps, "wall_s": wall}
    if args.json:
        print(json.dumps(result))
        return
    ratio = report.mean_length / result["random_mean_length"]
    print(f"CartPole-v1, {args.episodes} episodes (cap {args.max_steps} steps), a control step "
          f"every {args.control_ticks} ms of network time")
    print(f"  spiking controller: mean episode length {report.mean_length:7.1f}")
    print(f"  random policy:      mean episode length {result['random_mean_length']:7.1f}"
          f"   (ratio {ratio:.1f}x)")
    print(f"  loop latency: p50 {report.latency_p50_ms:.2f} ms, p99 "
          f"{report.latency_p99_ms:.2f} ms over {report.control_steps} control steps "
          f"({report.skipped_periods} periods skipped, {report.stream_gaps} stream gaps)")
    print(f"  wall time {wall:.1f} s")


if __name__ == "__main__":
    main()
