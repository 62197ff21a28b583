"""``examples/cartpole_reward_learning.py``: reward-modulated STDP learns CartPole from a random
start, and dopamine spikes sent live move the weights the way the reward says.

Both deterministic: the learning runs the example's lock-step driver (the engine stepped with
``run()`` per control step, seeded), the live path runs the example's network in lock-step
behind a bridge that holds the start until the client has queued its timestamped dopamine
spikes and weight reads (as ``test_state_lockstep`` does), so nothing depends on how fast the
machine is.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from bridge_helpers import start_bridge_process
from closed_loop_helpers import load_example
from subprocesses import run_python
from waiting import until

from spinnlive.adapters.gym import random_policy
from spinnlive.cli.launch import stop
from spinnlive.client import connect

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "cartpole_reward_learning.py"
SEED = 1
EPISODES, CAP, LEARNING = 5, 100, 2  #: LEARNING: the episodes left out of the means


@pytest.fixture(scope="module")
def example():  # type: ignore[no-untyped-def]
    return load_example("cartpole_reward_learning")


@pytest.mark.timeout(400)  # three lock-step runs of ~300 control steps: minutes on a busy machine
def test_reward_modulated_stdp_learns_to_balance_and_the_controls_do_not(example):
    learned = example.run_lockstep("learned", EPISODES, CAP, SEED)
    off = example.run_lockstep("off", EPISODES, CAP, SEED)
    shuffled = example.run_lockstep("shuffled", EPISODES, CAP, SEED)
    randomly, _ = random_policy(gym.make("CartPole-v1", max_episode_steps=CAP), 40,
                                seed=1000 * SEED)
    later = {name: float(np.mean(lengths[LEARNING:])) for name, lengths in (
        ("learned", learned["lengths"]), ("off", off["lengths"]),
        ("shuffled", shuffled["lengths"]), ("random", randomly))}
    # the random start fails fast (on this seed); after two episodes the actor balances
    assert later["learned"] >= 3 * max(later["off"], later["shuffled"], later["random"]), later
    assert max(learned["lengths"]) == CAP, learned["lengths"]
    # the weights: unchanged without dopamine; moved toward the corrective policy by the
    # reward, far more than by the same number of dopamine spikes with shuffled signs
    for side in example.SIDES:
        np.testing.assert_array_equal(off["after"][side], off["before"][side])
    start = example.velocity_preference(learned["before"])
    assert start == example.velocity_preference(shuffled["before"])  # the same random start
    assert example.velocity_preference(learned["after"]) > max(0.04, start + 0.03), start
    assert abs(example.velocity_preference(shuffled["after"])) < 0.02
    assert learned["rewards"] > 0 and learned["punishments"] > 0
    assert off["rewards"] == off["punishments"] == 0


def test_the_teacher_rewards_the_step_that_straightened_the_pole(example):
    teacher = example.Teacher("learned")
    upright, tilted = np.array([0.0, 0.0, 0.05, 0.0]), np.array([0.0, 0.0, 0.06, 0.3])
    assert teacher.neuron(tilted, 1, upright) == 1  # right helped: reward right
    assert teacher.neuron(upright, 0, tilted) == 0 + example.PUNISH  # left made it worse
    assert teacher.neuron(upright, 1, np.array([0.0, 0.0, 0.25, -1.0])) == 1 + example.PUNISH
    assert (teacher.rewards, teacher.punishments) == (1, 2)
    assert example.Teacher("off").neuron(tilted, 1, upright) is None
    with pytest.raises(ValueError, match="condition"):
        example.Teacher("sometimes")


@pytest.mark.timeout(400)  # a bridge and a network process start
def test_the_live_loop_sends_a_dopamine_spike_per_step_and_the_weights_move(example):
    """The example's live mode: GymLoop with the teacher as its on_step hook, the network in
    real time behind a bridge. Counts and directions only (how well it learns in a few real-time
    steps depends on the machine's load; the lock-step test above measures learning)."""
    result = example.run_live("learned", 2, 15, SEED, time_scale_factor=4.0)
    assert len(result["lengths"]) == 2
    # one dopamine spike per step (an episode a stall interrupted included), but for steps the
    # loop closed while catching up; an episode's first step is never one of those
    sent = result["rewards"] + result["punishments"]
    assert sent + result["stale"] == result["control_steps"] >= sum(result["lengths"]), result
    assert sent >= 2, result
    moved = [not np.array_equal(result["after"][s], result["before"][s]) for s in example.SIDES]
    assert any(moved), "no weight moved although dopamine was sent every step"
    for side in example.SIDES:  # read live through the state plane: sensors x actor
        assert result["after"][side].shape == (example.ENCODER.n_neurons, example.ACTOR_SIZE)


# -- the live path: dopamine injected through the bridge, weights read on the state plane -------

TICKS = 420  #: the live run; the reference stops at T_AFTER
T_BEFORE, T_AFTER = 20, 400  #: weight reads
DOPAMINE_TICKS = list(range(40, 380, 20))  #: a reward to 'right' and a punishment to 'left'
STATE = [0.0, 0.0, 0.1, 0.75]  #: the observation the sensors encode throughout

NETWORK = """
import importlib.util, json, sys
import numpy as np
spec = importlib.util.spec_from_file_location("example", sys.argv[1])
example = sys.modules["example"] = importlib.util.module_from_spec(spec)
spec.loader.exec_module(example)
import spinnlive.pynn as sim

mode, notify, config = sys.argv[2], int(sys.argv[3]), json.loads(sys.argv[4])
sim.setup(timestep=1.0, realtime=False, wait_on_confirmation_timeout=200.0)
net = example.build_network(sim, config["seed"], notify if mode == "live" else None)
net["sensors"].set(rate=example.ENCODER.rates(config["state"]))
if mode == "reference":  # the same spikes from a SpikeSourceArray: tick T is time T + 1
    times = [t + 1.0 for t in config["dopamine_ticks"]]
    net["dopamine"].set(spike_times=[[], times, times, []])
sim.run(config["ticks"] if mode == "live" else config["read"])
print("RESULT", json.dumps({side: net["plastic"][side].get("weight", format="array").tolist()
                           for side in example.SIDES}), flush=True)
sim.end()
"""


def _result(out: str) -> dict[str, np.ndarray]:
    line = [x for x in out.splitlines() if x.startswith("RESULT ")][-1]
    return {k: np.array(v) for k, v in json.loads(line[len("RESULT "):]).items()}


async def _network(mode: str, cwd: Path, notify: int) -> dict[str, np.ndarray]:
    config = dict(seed=SEED, state=STATE, ticks=TICKS, read=T_AFTER,
                  dopamine_ticks=DOPAMINE_TICKS)
    code, out, err = await run_python(NETWORK, [EXAMPLE, mode, notify, json.dumps(config)], cwd,
                                      timeout=300)
    assert code == 0, err[-3000:]
    return _result(out)


@pytest.fixture
def bridge():  # type: ignore[no-untyped-def]
    proc, where = start_bridge_process("--hold-confirmation", "--hold-timeout", "180")
    yield where
    stop(proc)


@pytest.mark.timeout(400)  # a bridge and two network processes start
async def test_dopamine_spikes_sent_live_move_the_weights_the_way_the_reward_says(
        example, bridge, tmp_path):
    (tmp_path / "live").mkdir()
    (tmp_path / "ref").mkdir()
    reference = asyncio.ensure_future(_network("reference", tmp_path / "ref", 0))
    live = asyncio.ensure_future(_network("live", tmp_path / "live", bridge["notify"][1]))
    label = {side: example.projection_label(side) for side in example.SIDES}
    async with connect(str(bridge["discovery"]), timeout=180) as client:
        await until(lambda: _held(client), "the bridge holding the engine's confirmation", 240)
        epoch = (await client.describe())["epoch"]
        reads = {}
        for side in example.SIDES:
            reads[side] = [asyncio.ensure_future(client.weights(label[side], tick=t))
                           for t in (T_BEFORE, T_AFTER)]
        for tick in DOPAMINE_TICKS:
            await client.inject("dopamine", [1, 0 + example.PUNISH], tick=tick)
        await asyncio.sleep(0)
        await until(lambda: _queued(client, 4), "the four weight reads queued", 60)
        await client.ready(epoch)
        got = {side: [await r for r in reads[side]] for side in example.SIDES}
    await live
    ref = await reference
    before = {side: got[side][0] for side in example.SIDES}
    after = {side: got[side][1] for side in example.SIDES}
    for side in example.SIDES:
        assert (before[side].tick, after[side].tick) == (T_BEFORE, T_AFTER)
        # what the state plane read is what the same dopamine spikes from a SpikeSourceArray
        # give in one process, Projection.get after run(T_AFTER)
        np.testing.assert_array_equal(after[side].array(), ref[side])
    active = np.flatnonzero(example.ENCODER.rates(STATE) > 50.0)
    quiet = np.flatnonzero(example.ENCODER.rates(STATE) < 1.0)
    change = {side: after[side].array() - before[side].array() for side in example.SIDES}
    # rewarded 'right': its synapses from the active place cells grew; punished 'left': shrank
    assert change["right"][active].mean() > 0.005, change["right"][active].mean()
    assert change["left"][active].mean() < -0.003, change["left"][active].mean()
    # cells that hardly fired made no pairings: their weights barely moved
    for side in example.SIDES:
        assert np.abs(change[side][quiet]).max() < 0.1 * np.abs(change[side][active]).mean()


async def _held(client) -> bool:  # type: ignore[no-untyped-def]
    return bool((await client.describe())["awaiting_ready"])


async def _queued(client, n: int) -> bool:  # type: ignore[no-untyped-def]
    return int((await client.describe_state())["statistics"]["queued"]) >= n
