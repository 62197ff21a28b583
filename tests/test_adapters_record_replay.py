"""Record a live run (a client injecting through the recorder's proxy), replay its inputs into a
fresh run, and get the same output spikes: real bridge and network processes, real sockets. The
fresh run is either real time again (inputs paced by its ticks) or lock-step (inputs stamped with
their ticks, the bridge holding the confirmation until they are all loaded)."""

from __future__ import annotations

import subprocess
import sys
import threading

import numpy as np
from closed_loop_helpers import (
    HOLD_GUARD_S,
    network_result,
    release,
    start_bridge,
    start_network,
    stop,
)
from waiting import wait_until

from spinnlive.adapters.record_replay import Recording, record, replay
from spinnlive.client import SyncClient

TICKS = 80
PLAN = {10: [0, 3, 7], 25: [1, 2, 9], 40: [3, 4, 5, 6]}  # pacer tick seen -> ids to inject
#: lock-step with the client: an injection answering tick t lands in tick t, so tick t + 1
#: waits until it has reached the engine
HOLDS = {t + 1: sum(len(PLAN[u]) for u in PLAN if u <= t) for t in PLAN}


def _recorder(discovery: str, path) -> tuple[threading.Thread, dict, list]:
    bound: dict = {}
    ready = threading.Event()
    errors: list = []

    def go() -> None:
        try:
            record(discovery, path, idle_timeout=20.0,
                   on_bound=lambda ends: (bound.update(ends), ready.set()))
        except BaseException as exc:  # surfaced by the test
            errors.append(exc)
            ready.set()

    thread = threading.Thread(target=go, daemon=True)
    thread.start()
    wait_until(ready.is_set, "the recorder's proxy endpoints")
    assert not errors, errors
    return thread, bound, errors


def _live_client(discovery: str, subscribed, run_over: threading.Event) -> None:
    """A client that reacts to the pacer: inject PLAN[t] when it sees tick t."""
    with SyncClient(discovery, timeout=20.0) as client:
        link = client.subscribe("spikes/pacer")
        subscribed()
        pending = dict(PLAN)
        while pending:
            message = link.receive(1.0)
            if message is None:  # the run is starting (or held for us): no deadline of ours
                assert not run_over.is_set(), f"the run ended with {sorted(pending)} to inject"
                continue
            for tick in [t for t in pending if t <= message.header.tick]:
                client.inject("inj", np.array(pending.pop(tick), np.uint32))


def _run(tmp_path, name: str, drive) -> tuple[Recording, dict]:
    """One real-time run behind a bridge, recorded; ``drive(bound, where, subscribed,
    run_over)`` is the client under test, in a thread: the bridge holds the run's start until
    it has called ``subscribed()``, so it follows the run from its first tick."""
    folder = tmp_path / name
    folder.mkdir()
    bridge, where = start_bridge(hold=True)
    try:
        path = folder / "run.slrec"
        thread, bound, errors = _recorder(str(where["discovery"]), path)
        subscribed, run_over = threading.Event(), threading.Event()
        failures: list[BaseException] = []

        def go() -> None:
            try:
                drive(bound, where, subscribed.set, run_over)
            except BaseException as exc:  # surfaced below
                failures.append(exc)
                subscribed.set()

        driver = threading.Thread(target=go, daemon=True)
        driver.start()
        net = start_network(where["notify"][1], TICKS, folder, holds=HOLDS)
        try:
            wait_until(subscribed.is_set, "the client under test to subscribe", HOLD_GUARD_S)
            release(str(where["discovery"]), net)
            result = network_result(net)
        finally:
            run_over.set()
            stop(net)
        driver.join(30)
        thread.join(30)
        assert not failures, failures
        assert not thread.is_alive() and not errors, errors
        return Recording(path), result
    finally:
        stop(bridge)


def _spikes(recording: Recording, label: str) -> list[tuple[int, int]]:
    ticks, ids = recording.spikes(label)
    return sorted(zip(ticks.tolist(), ids.tolist(), strict=True))


def _live_run(tmp_path) -> tuple[Recording, dict]:
    return _run(tmp_path, "live", lambda bound, where, subscribed, run_over: _live_client(
        bound["discovery"], subscribed, run_over))


def test_replay_reproduces_the_live_runs_outputs(tmp_path):
    live, live_result = _live_run(tmp_path)
    # the recording holds what the engine did: outputs and the proxied inputs
    assert _spikes(live, "pop") == sorted(map(tuple, live_result["pop"]))
    assert _spikes(live, "inj") == sorted(map(tuple, live_result["inj"]))
    inputs = [f for f in live.frames if f.kind == 1]
    assert [np.frombuffer(f.parts[0], "<u4").tolist() for f in inputs] == list(PLAN.values())
    assert live.description["endpoints"]["discovery"].startswith("tcp://127.0.0.1:")
    assert len(_spikes(live, "pop")) == sum(map(len, PLAN.values()))

    sent: list[int] = []
    again, again_result = _run(
        tmp_path, "replay",
        lambda bound, where, subscribed, _: sent.append(replay(
            live_path(tmp_path), str(where["discovery"]), on_ready=subscribed)))
    assert sent == [len(PLAN)]
    assert _spikes(again, "inj") == _spikes(live, "inj")
    assert _spikes(again, "pop") == _spikes(live, "pop")
    assert sorted(map(tuple, again_result["pop"])) == sorted(map(tuple, live_result["pop"]))


def live_path(tmp_path):
    return tmp_path / "live" / "run.slrec"


def test_command_line_entry_points(tmp_path):
    done = subprocess.run([sys.executable, "-m", "spinnlive.adapters.record_replay", "replay",
                           "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "--pace" in done.stdout and "lockstep" in done.stdout
    for command in (["-m", "spinnlive.bridge"], ["-c", "from spinnlive.cli import main; main()",
                                                 "bridge"]):
        done = subprocess.run([sys.executable, *command, "--help"], capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        for option in ("--inject-label", "--hold-confirmation", "--hold-timeout"):
            assert option in done.stdout, (command, option)
    bad = tmp_path / "x.slrec"
    bad.write_text('{"format": "other"}\n')
    done = subprocess.run([sys.executable, "-m", "spinnlive.adapters.record_replay", "replay",
                           str(bad), "--discovery", "tcp://127.0.0.1:1"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "not a spinnlive recording" in done.stderr


def test_lockstep_replay_drives_a_lockstep_network_to_the_live_runs_spikes(tmp_path):
    live, live_result = _live_run(tmp_path)
    assert _spikes(live, "inj") and len(_spikes(live, "pop")) == sum(map(len, PLAN.values()))
    folder = tmp_path / "lockstep"
    folder.mkdir()
    bridge, where = start_bridge(hold=True)  # the replayer releases the run
    sent: list[int] = []
    errors: list[BaseException] = []

    def go() -> None:
        try:
            # (the timeout covers the network's start-up before the bridge holds its database)
            sent.append(replay(live_path(tmp_path), str(where["discovery"]), pace="lockstep",
                               timeout=HOLD_GUARD_S))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    try:
        replayer = threading.Thread(target=go, daemon=True)
        replayer.start()
        net = start_network(where["notify"][1], TICKS, folder, tsf=0)  # lock-step
        try:
            result = network_result(net)
        finally:
            stop(net)
        replayer.join(30)
        assert not replayer.is_alive() and not errors, errors
    finally:
        stop(bridge)
    assert sent == [len(live.inputs())]
    # the same spikes, ids and ticks, as the real-time run: the injector's and the evoked ones
    assert result == live_result
