"""adapters.gym: observation/action coding, and CartPole in closed loop with a real-time network.

The closed-loop tests use the example's own processes (``python -m spinnlive.bridge`` and the
example's network script on the embedded engine, both subprocesses) and a :class:`GymLoop` in
this process; the baseline is a random policy played here on the same seeds.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from closed_loop_helpers import fixed_bridge_ports, load_example

from spinnlive.adapters.decoding import PushPull
from spinnlive.adapters.encoding import RateCode
from spinnlive.adapters.gym import (
    GymLoop,
    LoopConfig,
    PlaceCellEncoder,
    PushPullAction,
    SignedRateEncoder,
    random_policy,
)
from spinnlive.cli import launch
from spinnlive.errors import ConfigurationError

# -- observation coding -----------------------------------------------------------------------

def test_signed_encoder_is_a_rate_code_of_the_value_and_its_negation():
    encoder = SignedRateEncoder("s", scales=(1.0, 0.5), neurons_per_value=3, max_rate=80.0,
                                baseline_rate=5.0)
    observation = np.array([0.25, -2.0])
    reference = RateCode(0.0, (1.0, 1.0, 0.5, 0.5), n_values=4, neurons_per_value=3,
                         min_rate=5.0, max_rate=80.0)
    rates = encoder.rates(observation)
    assert rates.shape == (encoder.n_neurons,) == (12,)
    np.testing.assert_allclose(rates, reference.encode([0.25, -0.25, -2.0, 2.0]))
    # the sign picks the pathway: positive group above baseline, negative group at baseline
    assert np.all(rates[encoder.group(0, True)] > 5.0)
    assert np.all(rates[encoder.group(0, False)] == 5.0)
    assert np.all(rates[encoder.group(1, False)] == 80.0)  # saturated
    groups = np.concatenate([encoder.group(i, p) for i in range(2) for p in (True, False)])
    assert np.array_equal(np.sort(groups), encoder.ids)


def test_signed_encoder_refuses_bad_configuration_and_observations():
    with pytest.raises(ConfigurationError):
        SignedRateEncoder("s", scales=(1.0, 0.0))
    with pytest.raises(ConfigurationError):
        SignedRateEncoder("s", scales=(1.0,), max_rate=0.0)
    with pytest.raises(ConfigurationError, match="3 components"):
        SignedRateEncoder("s", scales=(1.0, 1.0)).rates([1.0, 2.0, 3.0])


def test_place_cells_peak_at_their_center_for_each_chosen_component():
    encoder = PlaceCellEncoder("s", components=(3, 1), ranges=((-1.0, 1.0), (0.0, 4.0)),
                               centers=5, neurons_per_center=2, max_rate=60.0)
    assert encoder.n_neurons == encoder.ids.size == 20
    rates = encoder.rates([9.0, 1.0, 9.0, -0.5])  # component 3 at center 1, component 1 at 1
    assert rates.shape == (20,)
    np.testing.assert_allclose(rates[encoder.cells(0, 1)], 60.0)
    np.testing.assert_allclose(rates[encoder.cells(1, 1)], 60.0)
    # one spacing away: exp(-1/2) of the peak; two: exp(-2)
    np.testing.assert_allclose(rates[encoder.cells(0, 2)], 60.0 * np.exp(-0.5))
    np.testing.assert_allclose(rates[encoder.cells(1, 3)], 60.0 * np.exp(-2.0))
    # beyond the range: the outermost cells at their peak
    np.testing.assert_allclose(encoder.rates([0, 9.0, 0, 5.0])[encoder.cells(0, 4)], 60.0)


def test_place_cells_refuse_bad_configuration_and_observations():
    with pytest.raises(ConfigurationError, match="range per component"):
        PlaceCellEncoder("s", components=(0, 1), ranges=((0.0, 1.0),))
    with pytest.raises(ConfigurationError):
        PlaceCellEncoder("s", components=(0,), ranges=((1.0, 0.0),))
    with pytest.raises(ConfigurationError, match="neurons_per_center"):
        PlaceCellEncoder("s", components=(0,), ranges=((0.0, 1.0),), neurons_per_center=0)
    with pytest.raises(ConfigurationError, match="component 3"):
        PlaceCellEncoder("s", components=(3,), ranges=((0.0, 1.0),)).rates([1.0, 2.0])


# -- action coding ----------------------------------------------------------------------------

@pytest.mark.parametrize("command", [-0.8, -0.2, 0.3, 1.0])
def test_push_pull_action_follows_the_sign_of_the_encoded_command(command):
    code = PushPull(max_rate=50.0)
    decoder = PushPullAction("l", "r", code)
    left, right = code.encode(command)
    rates = {"l": np.repeat(left, 4), "r": np.repeat(right, 4)}
    for previous in (None, 0, 1):
        assert decoder.action(rates, previous) == int(code.decode(left, right) > 0)


def test_push_pull_action_flips_on_a_tie_and_respects_the_deadband():
    decoder = PushPullAction("l", "r", PushPull(max_rate=100.0), deadband=0.1)
    balanced = {"l": np.full(5, 40.0), "r": np.full(5, 40.0)}
    assert [decoder.action(balanced, p) for p in (None, 0, 1)] == [0, 1, 0]
    weak = {"l": np.zeros(5), "r": np.full(5, 5.0)}  # command 0.05, inside the deadband
    assert decoder.action(weak, 1) == 0
    strong = {"l": np.zeros(5), "r": np.full(5, 50.0)}
    assert decoder.action(strong, 0) == 1


def test_loop_config_is_checked():
    with pytest.raises(ConfigurationError):
        LoopConfig(control_ticks=0)
    with pytest.raises(ConfigurationError):
        LoopConfig(timeout_s=0.0)


def test_random_policy_is_repeatable_per_seed():
    env = gym.make("CartPole-v1", max_episode_steps=50)
    first = random_policy(env, 4, seed=3)
    assert first == random_policy(env, 4, seed=3)
    assert all(1 <= n <= 50 for n in first[0]) and first[0] == [int(r) for r in first[1]]


# -- closed loop ------------------------------------------------------------------------------

def test_the_hand_wired_controller_beats_a_random_policy_tenfold_in_lock_step():
    """The controller itself, exact whatever the machine's speed: the engine in lock-step, the
    same network, encoder and decoder, each action decided on exactly the last period's spikes."""
    example = load_example("cartpole_closed_loop")
    episodes, cap = 3, 300
    lengths = example.closed_loop_lockstep(episodes, cap, control_ticks=5, seed=0)
    baseline, _ = random_policy(gym.make("CartPole-v1", max_episode_steps=cap), episodes,
                                seed=0)
    assert len(lengths) == episodes
    assert np.mean(lengths) >= 10 * float(np.mean(baseline)), (lengths, baseline)


def test_the_closed_loop_runs_in_real_time_through_the_bridge():
    """The real-time loop through a bridge process and a network process: every episode played
    to its end, one control step per period, the latency figures ordered, no interruption.
    How well it balances depends on the machine's latency against the 5 ms period, which is
    measured (``examples/cartpole_closed_loop.py``), not asserted."""
    example = load_example("cartpole_closed_loop")
    episodes, cap = 3, 300
    report = example.closed_loop(episodes, cap, control_ticks=10, seed=0)
    assert len(report.episode_lengths) == episodes
    assert all(1 <= n <= cap for n in report.episode_lengths)
    assert report.control_steps == sum(report.episode_lengths)
    assert report.episode_returns == tuple(float(n) for n in report.episode_lengths)
    assert 0 < report.latency_p50_ms <= report.latency_p99_ms <= report.latency_max_ms
    assert report.interrupted_episodes == report.recoveries == 0
    assert len(report.epochs) == 1


class _Milestones(gym.Wrapper[Any, Any, Any, Any]):
    """Counts resets and runs disruptions, one at a time, inside ``reset``.

    Disruption ``k`` runs at the first reset from ``first_reset`` on at which the loop has
    recovered from the ``k`` before it. A disruption runs inside ``reset``, so the loop cannot
    finish its episodes on the old network before it has happened; and the next one waits for
    the loop's recovery, not for a count of episodes: while stopping a process is slow (a loaded
    machine), the loop still plays the old run's buffered spikes, and two disruptions would
    otherwise merge into one interruption.
    """

    def __init__(self, env: gym.Env[Any, Any], first_reset: int,
                 disruptions: list[Callable[[], None]]) -> None:
        super().__init__(env)
        self.resets = 0
        self.first_reset = first_reset
        self.pending = list(disruptions)
        self.done = 0
        self.recoveries: Callable[[], int] = lambda: 0

    def reset(self, **kwargs: Any) -> Any:
        self.resets += 1
        if self.pending and self.resets >= self.first_reset and self.recoveries() >= self.done:
            self.done += 1
            self.pending.pop(0)()
        return self.env.reset(**kwargs)


async def test_the_loop_survives_a_new_run_and_a_restarted_bridge(caplog):
    """The network is restarted (a new epoch on the same bridge), then the bridge itself (same
    endpoints, epochs from 1 again); the loop reconnects on its own and finishes its episodes."""
    example = load_example("cartpole_closed_loop")
    ports = fixed_bridge_ports()
    bridge, where = example.start_bridge(**ports)
    procs = {"bridge": bridge, "network": example.start_network(ports["notify_port"])}
    # the first start-up takes what the machine makes it take: the loop starts on a running
    # network (the disruptions below start theirs without waiting: the loop must notice them)
    launch.wait_started(procs["network"], where["discovery"])

    def new_run() -> None:  # two episodes done, the third starting: a new epoch
        example.stop(procs["network"])
        procs["network"] = example.start_network(ports["notify_port"])

    def new_bridge() -> None:
        for name in ("network", "bridge"):
            example.stop(procs[name])
        procs["bridge"], _ = example.start_bridge(**ports)
        procs["network"] = example.start_network(ports["notify_port"])

    env = _Milestones(gym.make("CartPole-v1", max_episode_steps=60), 3, [new_run, new_bridge])
    gym_loop = GymLoop(where["discovery"], env, example.ENCODER, example.DECODER,
                       LoopConfig(control_ticks=5, clock_label="clock", timeout_s=1.0,
                                  recovery_s=30.0))
    env.recoveries = lambda: gym_loop.recoveries
    loop = asyncio.get_running_loop()

    caplog.set_level(logging.INFO, logger="spinnlive.adapters.gym")
    try:
        async with asyncio.timeout(100):
            report = await gym_loop.run(8, seed=0)
    finally:
        for proc in procs.values():
            await loop.run_in_executor(None, example.stop, proc)
    assert len(report.episode_lengths) == 8 and not env.pending  # both disruptions happened
    assert report.interrupted_episodes == report.recoveries >= 2
    assert len(report.epochs) == 1 + report.recoveries
    assert report.epochs[0] < report.epochs[1]  # the same bridge, a new run
    assert report.epochs[-1] == 1  # a new bridge counts from 1 again
    assert env.resets == 8 + report.interrupted_episodes
    messages = [r.getMessage() for r in caplog.records if r.name == "spinnlive.adapters.gym"]
    assert sum("closed loop interrupted" in m for m in messages) == report.interrupted_episodes
    assert sum("closed loop resumed" in m for m in messages) == report.recoveries
