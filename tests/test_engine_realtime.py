"""The engine's clock and run report: which clock runs, its period, late ticks, spike counts,
run_forever / run_sync control, progress, and the report surviving end()."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
from typing import Any

import numpy as np
import pytest
from waiting import wait_until

import spinnlive.pynn as sim
from spinnlive.clock import VirtualThreadClock
from spinnlive.engine.run_report import default_time_scale_factor
from spinnlive.engine.scheduler import TickMode
from spinnlive.engine.simulation import Simulation
from spinnlive.errors import ConfigurationError


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SPINNLIVE_CLOCK", raising=False)


def network(injector: bool, record: bool = True, **setup: Any) -> tuple[Any, Any]:
    sim.setup(timestep=1.0, seed=3, **setup)
    src = sim.Population(30, sim.SpikeSourcePoisson(rate=60.0), label="src")
    pop = sim.Population(20, sim.IF_curr_exp(), label="pop")
    sim.Projection(src, pop, sim.FixedProbabilityConnector(0.5, rng=sim.NumpyRNG(seed=1)),
                   sim.StaticSynapse(weight=1.5, delay=1.0))
    if injector:
        sim.Population(2, sim.external_devices.SpikeInjector(notify=False), label="inj")
    if record:
        src.record("spikes")
        pop.record("spikes")
    return src, pop


@pytest.mark.parametrize(("injector", "setup", "env", "mode"), [
    (False, {}, None, TickMode.LOCKSTEP),  # no live I/O: as fast as possible
    (True, {}, None, TickMode.REALTIME),  # live I/O: real time
    (False, {"realtime": True}, None, TickMode.REALTIME),
    (True, {"realtime": False}, None, TickMode.LOCKSTEP),
    (True, {}, "fast", TickMode.LOCKSTEP),  # the CLI's --fast
    (False, {}, "realtime", TickMode.REALTIME),
    (False, {"realtime": False}, "realtime", TickMode.LOCKSTEP),  # setup() wins over the env
])
def test_clock_mode_default_choice_and_overrides(
        injector: bool, setup: dict[str, Any], env: str | None, mode: TickMode,
        monkeypatch: pytest.MonkeyPatch) -> None:
    if env is not None:
        monkeypatch.setenv("SPINNLIVE_CLOCK", env)
    network(injector, **setup)
    sim.run(5)
    report = sim.simulator.state.engine.report()
    assert report.clock is mode and report.last_step is not None
    assert report.last_step.mode is mode and report.ticks == 5
    sim.end()


def test_unknown_clock_in_the_environment_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPINNLIVE_CLOCK", "warp")
    with pytest.raises(ConfigurationError, match="SPINNLIVE_CLOCK"):
        sim.setup(timestep=1.0)


def test_default_time_scale_factor_is_spynnakers() -> None:
    pytest.importorskip("spynnaker")
    steps_ms = [0.1, 1.0, 5.0, 10.0, 10.5, 20.0, 25.0, 100.0]
    code = (
        "import json, math, sys\n"
        "from spynnaker.pyNN.config_setup import unittest_setup\n"
        "from spynnaker.pyNN.data.spynnaker_data_writer import SpynnakerDataWriter\n"
        "unittest_setup()\n"
        "out = []\n"
        "for ms in json.loads(sys.argv[1]):\n"
        "    w = SpynnakerDataWriter.mock()\n"
        "    w.set_up_timings_and_delay(math.ceil(ms * 1000), None, None)\n"
        "    out.append(w.get_time_scale_factor())\n"
        "print(json.dumps(out))\n")
    done = subprocess.run([sys.executable, "-c", code, json.dumps(steps_ms)],
                          capture_output=True, text=True, timeout=100)
    assert done.returncode == 0, done.stderr[-3000:]
    reference = json.loads(done.stdout.strip().splitlines()[-1])
    assert [default_time_scale_factor(ms) for ms in steps_ms] == reference
    sim.setup(timestep=20.0)
    assert sim.simulator.state.engine.period_s == pytest.approx(0.020 * reference[5])
    sim.end()


class DeadlineClock(VirtualThreadClock):
    """Virtual time that notes every deadline and wakes ``late_s`` after it."""

    def __init__(self, late_s: float = 0.0) -> None:
        super().__init__()
        self.late_s = late_s
        self.deadlines: list[float] = []

    def spin_until(self, deadline: float) -> None:
        self.deadlines.append(deadline)
        super().spin_until(deadline + self.late_s)


def virtual_engine(clock: DeadlineClock, factor: float | None) -> Simulation:
    engine = Simulation(1.0, realtime=True, time_scale_factor=factor, thread_clock=clock)
    key, _ = engine.add_population("p", "IF_curr_exp", 3, {}, {"v": np.full(3, -65.0)})
    return engine


@pytest.mark.parametrize("factor", [None, 1.0, 2.5])
def test_realtime_ticks_are_due_one_period_apart(factor: float | None) -> None:
    clock = DeadlineClock()
    engine = virtual_engine(clock, factor)
    engine.run_until(40)
    engine.run_until(60)
    period = 1.0 * (factor or default_time_scale_factor(1.0)) / 1000.0
    assert engine.period_s == pytest.approx(period)
    gaps = np.diff(clock.deadlines)
    assert len(clock.deadlines) == 60
    np.testing.assert_allclose(np.delete(gaps, 39), period)  # each run keeps its own schedule
    report = engine.close()
    assert report.timing.late_ticks == 0 and report.timing.steps == 2 and report.ticks == 60


def test_late_ticks_are_counted_and_reported(caplog: pytest.LogCaptureFixture) -> None:
    clock = DeadlineClock(late_s=0.0005)  # every tick starts 0.5 ms after its deadline
    engine = virtual_engine(clock, None)
    with caplog.at_level(logging.INFO, logger="spinnlive.engine"):
        engine.run_until(30)
    report = engine.report()
    t = report.timing
    assert (t.ticks, t.late_ticks) == (30, 30)
    assert t.lateness_p50_s == pytest.approx(clock.late_s)
    assert t.lateness_max_s == pytest.approx(clock.late_s)
    summaries = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Simulated")]
    assert len(summaries) == 1 and "Ticks late: 30 of 30" in summaries[0]
    engine.close()


def test_every_population_is_counted_whether_recorded_or_not() -> None:
    counts = []
    for record in (True, False):
        src, pop = network(False, record=record)
        sim.run(300)
        report = sim.simulator.state.engine.report()
        counts.append({p.label: p.spikes for p in report.populations})
        if record:
            recorded = {p.label: sum(len(st) for st in p.get_data().segments[0].spiketrains)
                        for p in (src, pop)}
            assert {k: counts[0][k] for k in recorded} == recorded
            assert report.population("pop").rate_hz == pytest.approx(
                recorded["pop"] / 20 / 0.3)
        sim.end()
    assert counts[0] == counts[1] and counts[0]["pop"] > 0


def test_report_survives_end_and_the_next_setup() -> None:
    network(False)
    sim.run(50)
    sim.run(50)
    sim.end()
    report = sim.simulator.state.last_report
    assert report is not None and report.ticks == 100 and report.timing.steps == 2
    sim.setup(timestep=1.0)
    assert sim.simulator.state.last_report is report
    assert "src" in report.format() and report.population("pop").size == 20
    sim.end()


def test_reset_starts_a_new_segment_in_the_report() -> None:
    network(False)
    sim.run(100)
    sim.reset()
    sim.run(40)
    report = sim.simulator.state.engine.report()
    assert report.ticks == 40 and report.timing.steps == 1
    sim.end()


@pytest.mark.parametrize("realtime", [False, True])
def test_run_forever_until_request_stop_from_another_thread(realtime: bool) -> None:
    network(False, realtime=realtime)
    engine = sim.simulator.state.engine

    def stop_once_ticking() -> None:
        # A stop requested before the first tick ends the step at tick 0 (by design), so wait
        # for the loop to tick, however long mapping and the first compile take on this machine.
        try:
            wait_until(lambda: engine.tick >= 5, "the loop's first ticks", 120)
        finally:  # stopped either way: a run that never ticks fails, it does not hang
            sim.external_devices.request_stop()

    stopper = threading.Thread(target=stop_once_ticking)
    stopper.start()
    sim.external_devices.run_forever()
    stopper.join()
    stopped = sim.get_current_time()
    assert stopped >= 5
    sim.run(10)  # the engine runs on normally after run_forever
    assert sim.get_current_time() == pytest.approx(stopped + 10)
    sim.end()


def test_run_sync_pauses_at_each_sync_point_until_continue(
        caplog: pytest.LogCaptureFixture) -> None:
    network(False)
    done = threading.Event()

    def keep_continuing() -> None:
        while not done.wait(0.02):
            sim.external_devices.continue_simulation()

    helper = threading.Thread(target=keep_continuing)
    helper.start()
    try:
        with caplog.at_level(logging.INFO, logger="spinnlive.engine"):
            sim.external_devices.run_sync(50, 10)
    finally:
        done.set()
        helper.join()
    assert sim.get_current_time() == pytest.approx(50)
    assert sim.simulator.state.engine.report().timing.steps == 5
    assert sum("paused at tick" in r.getMessage() for r in caplog.records) == 4
    sim.end()


def test_progress_reports_mapping_and_ticks() -> None:
    network(False)
    calls: list[tuple[int, int]] = []
    sim.simulator.state.engine.progress = lambda done, total: calls.append((done, total))
    sim.run(200)
    assert calls[-1] == (200, 200)
    assert any(total != 200 for _, total in calls)  # the mapper's own progress came first
    assert all(done <= total for done, total in calls)
    sim.end()
