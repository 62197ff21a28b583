"""The browser monitor against a real bridge process and real network runs.

* Without a browser: a WebSocket page that stops acknowledging frames gets frames dropped (counted,
  and told to it), while the monitor's own subscription of the bridge misses nothing.
* In headless Chromium (Debian's ``chromium``; CI installs it): the page's raster and counters
  match the bridge's own ``stats`` topic, read by an independent subscriber here, and the spikes
  the network recorded; an injection made with the page's own control evokes the expected
  spikes; a second run shows as a new epoch on the page.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import pytest
import waiting
import zmq
import zmq.asyncio
from bridge_helpers import (
    announce,
    bridge_mapping,
    lpg_packets,
    quick_config,
    write_bridge_database,
)
from chromium import Browser, find_chromium
from closed_loop_helpers import (
    end_run,
    network_result,
    release,
    start_bridge,
    start_network,
    stop,
)

from spinnlive.bridge import Bridge
from spinnlive.client import connect
from spinnlive.monitor.command import spawn
from spinnlive.monitor.frames import decode_frame

TICKS = 3000


#: the page's waits: a niced monitor and a browser on a loaded machine take their time, and
#: each look at the page is a DevTools round trip
until = functools.partial(waiting.until, timeout=60.0, poll_s=0.05)


class StatsWatcher:
    """An independent subscriber of the bridge's ``stats`` and ``lifecycle`` topics."""

    def __init__(self, publish: str) -> None:
        self.ctx = zmq.asyncio.Context()
        self.sub = self.ctx.socket(zmq.SUB)
        for topic in (b"stats", b"lifecycle"):
            self.sub.setsockopt(zmq.SUBSCRIBE, topic)
        self.sub.connect(publish)
        self.stats: dict[str, Any] | None = None
        self.events: list[dict[str, Any]] = []
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        while True:
            topic, _header, body = await self.sub.recv_multipart()
            if topic == b"stats":
                self.stats = json.loads(body)
            else:
                self.events.append(json.loads(body))

    def forwarded(self, topic: str) -> int:
        """Events of input stream ``topic`` the bridge has sent to the board, as last told."""
        stream = (self.stats or {}).get("streams", {}).get(topic, {})
        return int(stream.get("forwarded_events", 0))

    def close(self) -> None:
        self.task.cancel()
        self.sub.close(0)
        self.ctx.term()


@pytest.fixture
def bridge_and_monitor(request):
    """A bridge and a monitor of it; ``param``: ``{"monitor": [its options], "hold": bool}``
    (``hold``: the bridge holds each run's start until a client sends ``ready``)."""
    options = getattr(request, "param", {})
    bridge, where = start_bridge(hold=options.get("hold", False))
    monitor = None
    try:
        monitor, url = spawn(str(where["discovery"]), options.get("monitor"))
        _wait_live(url)
        yield where, url
    finally:
        if monitor is not None:
            stop(monitor)
        stop(bridge)


def _wait_live(url: str, timeout: float = 120.0) -> None:
    """Until the monitor's subscription is live at the bridge (its first sync answer): a
    network started later is seen whole, however slowly a loaded machine runs the niced
    monitor."""
    import urllib.request

    def live() -> bool:
        with urllib.request.urlopen(url + "state.json", timeout=timeout) as reply:
            return bool(json.loads(reply.read())["monitor"]["live"])

    waiting.wait_until(live, f"the monitor at {url} to go live at its bridge", timeout)


async def test_a_page_that_falls_behind_loses_frames_never_the_bridge_stream(
        bridge_and_monitor, tmp_path: Path) -> None:
    where, url = bridge_and_monitor
    async with aiohttp.ClientSession() as http, http.ws_connect(url + "ws") as page:
        async def state() -> dict[str, Any]:
            async with http.get(url + "state.json") as reply:
                return dict(await reply.json())

        async def next_frame() -> Any:
            async for msg in page:
                if msg.type == aiohttp.WSMsgType.BINARY:
                    return decode_frame(msg.data)
            raise AssertionError("the monitor closed the page")

        # the run goes on until the page has fallen behind, however slowly the niced monitor
        # gets there on a loaded machine (only frames with events in them count as dropped)
        net = start_network(where["notify"][1], 120_000, tmp_path, tsf=1.0, open_ended=True)
        try:
            sent = [await next_frame() for _ in range(4)]  # read, never acknowledge
            assert [f.dropped for f in sent] == [0, 0, 0, 0]
            await until(lambda: _dropped_at_least(state, 5), "frames dropped for the page")
            await page.send_str('{"op": "ack"}')  # one frame drawn: the next one may come
            told = await next_frame()
            assert told.dropped >= 5 and told.sequence > sent[-1].sequence + 5
            async def drain() -> None:  # keep reading (the heartbeat's pongs), never acking
                async for _ in page:
                    pass

            drainer = asyncio.create_task(drain())
            end_run(net)
            result = await asyncio.to_thread(network_result, net)
            drainer.cancel()
        finally:
            stop(net)

        async def complete() -> dict[str, Any] | None:
            s = await state()
            streams = s["monitor"]["streams"]
            pacer = streams.get("spikes/pacer", {})
            return s if pacer.get("events") == len(result["pacer"]) else None

        s = await until(complete, "the monitor's own count of the whole pacer stream")
        assert s["monitor"]["streams"]["spikes/pacer"]["gap_messages"] == 0
        assert s["pages"][0]["dropped"] >= 5 and s["pages"][0]["sent"] == 5
        assert s["monitor"]["streams"]["spikes/src"]["events"] == len(result["src"])


async def test_bad_controls_are_refused_by_name(bridge_and_monitor, tmp_path: Path) -> None:
    where, url = bridge_and_monitor
    net = start_network(where["notify"][1], 500, tmp_path, tsf=1.0)
    try:
        async with aiohttp.ClientSession() as http:
            async def described() -> bool:
                async with http.get(url + "state.json") as r:
                    d = (await r.json())["description"]
                    return bool(d and d["populations"])

            # the page opens once there is something to control: a page that reads nothing
            # meanwhile would miss the heartbeat's pings and be closed, however long that takes
            await until(described, "the network's description")
            page = await http.ws_connect(url + "ws")

            async def reply_to(body: Any) -> dict[str, Any]:
                await page.send_str(body if isinstance(body, str) else json.dumps(body))
                async for msg in page:
                    if msg.type == aiohttp.WSMsgType.TEXT:
                        answer = json.loads(msg.data)
                        if answer["type"] in ("ack", "error"):
                            return dict(answer)
                raise AssertionError("page closed")

            assert "takes no inject" in (await reply_to({"op": "inject", "label": "pop",
                                                         "ids": [0]}))["message"]
            assert "ids must be in 0..9" in (await reply_to({"op": "inject", "label": "inj",
                                                            "ids": [10]}))["message"]
            assert "unknown control" in (await reply_to({"op": "explode"}))["message"]
            assert "JSON object" in (await reply_to("not json"))["message"]
            assert (await reply_to({"op": "inject", "label": "inj", "ids": [1]}))["type"] == "ack"
            await page.close()
        await asyncio.to_thread(network_result, net)
    finally:
        stop(net)


pytest_chromium = pytest.mark.skipif(find_chromium() is None,
                                     reason="needs Debian's chromium (apt-get install chromium)")

PAGE_STATE = """JSON.stringify({state: spinnliveMonitor.state, epoch: spinnliveMonitor.epoch,
  events: spinnliveMonitor.events, stats: spinnliveMonitor.stats, frames: spinnliveMonitor.frames,
  dropped: spinnliveMonitor.framesDropped, droppedEvents: spinnliveMonitor.eventsDropped,
  missed: spinnliveMonitor.missedEvents,
  epochText: document.getElementById('epoch').textContent,
  reply: spinnliveMonitor.lastReply})"""


async def _open(browser: Browser, url: str) -> Callable[[], Awaitable[dict[str, Any]]]:
    """The monitor's page in ``browser``, loaded; returns a reader of what it shows."""
    await browser.open(url)

    async def page() -> dict[str, Any]:
        return dict(json.loads(await browser.evaluate(PAGE_STATE)))

    await until(lambda: browser.evaluate("!!window.spinnliveMonitor"), "the page")
    return page


async def _settled(page: Callable[[], Awaitable[dict[str, Any]]],
                   watcher: StatsWatcher) -> dict[str, Any] | None:
    """What the page shows, once the run paused, its counters equal the bridge's stats and
    its last frame is drawn (the stats message may overtake the frame of the last spikes)."""
    p = await page()
    if watcher.stats is None or p["stats"] is None or p["state"] != "paused":
        return None
    streams = watcher.stats["streams"]
    drawn = all(p["events"].get(topic[len("spikes/"):], 0) == st["events"]
                for topic, st in streams.items() if topic.startswith("spikes/"))
    return p if drawn and p["stats"]["streams"] == streams else None


@pytest_chromium
@pytest.mark.parametrize("bridge_and_monitor", [{"monitor": ["--max-in-flight", "200"],
                                                   "hold": True}], indirect=True)
async def test_the_page_shows_what_the_bridge_says_and_its_controls_inject(
        bridge_and_monitor, tmp_path: Path) -> None:
    where, url = bridge_and_monitor
    watcher = StatsWatcher(str(where["publish"]))
    try:
        async with Browser() as browser:
            page = await _open(browser, url)
            (tmp_path / "a").mkdir()
            net = start_network(where["notify"][1], TICKS, tmp_path / "a", tsf=1.0)
            try:
                # the bridge holds the run's start: as soon as the page offers 'inj' (the
                # database is read), use the page's own control to inject neurons 0, 3 and 5,
                # and start the run once the bridge has forwarded them to the board (a niced
                # monitor on a loaded machine may take longer than the whole run to pass them
                # on); injected before the first tick, they land in it
                await until(lambda: browser.evaluate(
                    "[...document.getElementById('inject-label').options]"
                    ".some(o => o.value === 'inj')"), "'inj' among the page's inject targets")
                await browser.evaluate("""(() => {
                    document.getElementById('inject-label').value = 'inj';
                    document.getElementById('inject-ids').value = '0 3 5';
                    document.getElementById('inject-button').click(); })()""")
                await until(lambda: watcher.forwarded("inject/inj") == 3,
                            "the page's injection forwarded to the board")
                await asyncio.to_thread(release, str(where["discovery"]), net)
                first = await asyncio.to_thread(network_result, net)
            finally:
                stop(net)
            # pop answers only injections (one-to-one from inj): the page's injection evoked
            # exactly neurons 0, 3 and 5, and the page's raster shows it
            assert {i for _, i in first["pop"]} == {0, 3, 5}
            assert (await page())["reply"]["type"] == "ack"

            p = await until(lambda: _settled(page, watcher),
                            "the page's counters to equal the bridge's stats topic")
            # a page 10 s behind (200 frames) would drop frames, and say so: every event the
            # bridge sent is on the page or counted there as dropped
            assert p["dropped"] == p["droppedEvents"] == 0
            for label in ("pacer", "pop", "src"):
                bridge_events = watcher.stats["streams"][f"spikes/{label}"]["events"]
                assert p["events"][label] == bridge_events == len(first[label]), label
            raster = await browser.evaluate("JSON.stringify(spinnliveMonitor.raster('src'))")
            assert sorted(map(tuple, json.loads(raster))) == sorted(map(tuple, first["src"]))
            pop_raster = json.loads(await browser.evaluate(
                "JSON.stringify(spinnliveMonitor.raster('pop'))"))
            assert sorted(map(tuple, pop_raster)) == sorted(map(tuple, first["pop"]))
            assert p["epochText"] == "1"

            (tmp_path / "b").mkdir()  # a second run: a new epoch on the page
            net = start_network(where["notify"][1], 300, tmp_path / "b", tsf=1.0)
            try:
                await asyncio.to_thread(release, str(where["discovery"]), net)
                await asyncio.to_thread(network_result, net)
            finally:
                stop(net)
            p = await until(lambda: _epoch_is(page, 2), "epoch 2 on the page")
            assert p["epochText"] == "2"
            lifecycle = await browser.evaluate(
                "document.getElementById('lifecycle').textContent")
            assert "epoch 2: new-epoch" in lifecycle
    finally:
        watcher.close()


@pytest_chromium
@pytest.mark.parametrize("bridge_and_monitor",
                         [{"monitor": ["--exact-max", "0", "--max-in-flight", "200"]}],
                         indirect=True)
async def test_a_binned_page_counts_every_event_and_draws_each_in_its_cell(
        bridge_and_monitor, tmp_path: Path) -> None:
    """Above ``--exact-max`` (here: always) the page gets each population pre-binned at pixel
    resolution: its work follows pixels, its counts still match the bridge's stats topic."""
    where, url = bridge_and_monitor
    watcher = StatsWatcher(str(where["publish"]))
    try:
        async with Browser() as browser:
            page = await _open(browser, url)
            net = start_network(where["notify"][1], 1000, tmp_path, tsf=1.0)
            try:
                result = await asyncio.to_thread(network_result, net)
            finally:
                stop(net)

            p = await until(lambda: _settled(page, watcher),
                            "the page's counters to equal the bridge's stats topic")
            assert p["dropped"] == 0 and p["missed"] == 0
            for label in ("pacer", "src"):
                assert p["events"][label] == len(result[label]) == \
                    watcher.stats["streams"][f"spikes/{label}"]["events"], label
            per_bin = await browser.evaluate("spinnliveMonitor.ticksPerBin")
            assert per_bin == 3  # 5 s of 1 ms ticks over 2048 columns
            cells = json.loads(await browser.evaluate(
                "JSON.stringify(spinnliveMonitor.cells('src'))"))
            expect: dict[tuple[int, int], int] = {}
            for tick, neuron in result["src"]:  # 5 neurons: one row each
                key = (tick // per_bin * per_bin, neuron)
                expect[key] = expect.get(key, 0) + 1
            assert {(t, r): c for t, r, c in cells} == expect
            assert json.loads(await browser.evaluate(
                "JSON.stringify(spinnliveMonitor.raster('src'))")) == []  # nothing one by one
    finally:
        watcher.close()


async def _dropped_at_least(state: Any, n: int) -> bool:
    pages = (await state())["pages"]
    return bool(pages and pages[0]["dropped"] >= n)


async def _epoch_is(page: Any, epoch: int) -> dict[str, Any] | None:
    p: dict[str, Any] = await page()
    return p if p["epoch"] == epoch and p["epochText"] == str(epoch) else None


GATED = '''
import time
from pathlib import Path
def wait_for(name):  # the test's go-ahead (bounded: a lost test never leaves this behind)
    for _ in range(2400):
        if Path(name).exists():
            return
        time.sleep(0.05)
wait_for("go")   # the test looks at the page first
import pyNN.spiNNaker as sim
sim.setup(timestep=1.0)
src = sim.Population(3, sim.SpikeSourceArray(spike_times=[[5.0], [6.0], [7.0]]), label="src")
sim.external_devices.activate_live_output_for(src)
sim.run(50)
wait_for("done")  # and sees the run's spikes before the run (and its monitor) ends
sim.end()
'''


async def test_spinnlive_run_monitor_serves_the_page_of_the_run(tmp_path: Path) -> None:
    import subprocess
    import sys

    (tmp_path / "net.py").write_text(GATED)
    proc = subprocess.Popen([sys.executable, "-m", "spinnlive.cli", "run", "net.py", "--monitor",
                             "--fast", "--no-plot", "--discovery", "tcp://127.0.0.1:0"],
                            cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=(tmp_path / "stderr").open("w"), text=True)
    try:
        assert proc.stdout is not None
        url = None
        while url is None:
            line = await asyncio.to_thread(proc.stdout.readline)
            assert line, "spinnlive run ended without printing the monitor's URL"
            if line.startswith("monitor: "):
                url = line.split()[1]
        async with aiohttp.ClientSession() as http:
            async with http.get(url) as page:
                assert page.status == 200 and "spinnlive monitor" in await page.text()
            async with http.get(url + "static/monitor.js") as script:
                assert script.status == 200 and "spinnliveMonitor" in await script.text()
            (tmp_path / "go").touch()

            async def seen() -> bool:
                async with http.get(url + "state.json") as r:
                    streams = (await r.json())["monitor"]["streams"]
                    return bool(streams.get("spikes/src", {}).get("events") == 3)

            await until(seen, "the run's 3 spikes at the monitor")
            (tmp_path / "done").touch()
        out, _ = await asyncio.to_thread(proc.communicate, timeout=120)
        assert proc.returncode == 0
    finally:
        if proc.poll() is None:
            proc.kill()


async def test_a_monitor_that_falls_behind_counts_what_it_missed_and_no_one_else_loses(
        tmp_path: Path, board: Any) -> None:
    """The monitor is a best-effort observer: stopped (as a starved, niced monitor is, in
    effect) while the bridge streams, it misses messages in its own pipe only, counts exactly
    how many events (its books balance against the bridge's totals) and tells the page, while
    the bridge's other subscriber gets every event."""
    path = write_bridge_database(tmp_path, board.ip)
    keys = bridge_mapping(board.ip).key_table().keys_of("exc", np.arange(64) % 300)
    async with Bridge(quick_config()) as bridge:
        notifier, live = await announce(bridge, path, board)
        assert live is not None
        discovery = bridge.endpoints["discovery"]
        monitor, url = spawn(discovery, ["--hwm", "100"])
        stopped = False
        try:  # by default it runs on what the bridge leaves
            assert os.getpriority(os.PRIO_PROCESS, monitor.pid) == 19
            async with connect(discovery) as client, aiohttp.ClientSession() as http:
                stream = client.spikes("exc", rcvhwm=0)
                await stream.ready()
                await notifier.start()
                got = 0
                tick = 0

                async def send(ticks: int) -> None:  # paced by the other subscriber
                    nonlocal got, tick
                    for _ in range(ticks):
                        tick += 1
                        board.send(lpg_packets(tick, keys)[0], live)
                    while got < 64 * tick:
                        got += (await stream.next(30.0))[1].size

                async def mine() -> dict[str, Any]:
                    async with http.get(url + "state.json") as reply:
                        own = (await reply.json())["monitor"]
                        return {"live": own["live"], **own["streams"].get("spikes/exc", {})}

                await until(lambda: _is_live(mine), "the monitor's subscription")
                await send(1)
                await until(lambda: _events_at_least(mine, 64), "the monitor's first tick")
                os.kill(monitor.pid, signal.SIGSTOP)
                stopped = True
                for _ in range(30):  # far more than its pipe, the bridge's and the kernel's hold
                    await send(2000)
                os.kill(monitor.pid, signal.SIGCONT)
                stopped = False
                assert got == 64 * tick and stream.gaps == 0  # the other subscriber: everything

                async def balanced() -> dict[str, Any] | None:
                    s = await mine()
                    done = s.get("accounted") and s["events"] + s["missed_events"] == got
                    return s if done else None

                s = await until(balanced, "the monitor's books to balance", timeout=120)
                assert s["missed_events"] > 0 and s["missed_messages"] > 0
                await send(1)  # caught up: the next message shows the misses as a sequence gap
                after = await until(lambda: _events_at_least(mine, s["events"] + 64),
                                    "the monitor's next tick")
                assert after["gap_messages"] == s["missed_messages"]

                # the page opens now: one that read nothing while the books balanced (however
                # long that takes) would miss the heartbeat's pings and be closed
                page = await http.ws_connect(url + "ws")

                async def told() -> bool:  # and the page is told, in its stats messages
                    async for msg in page:
                        if msg.type == aiohttp.WSMsgType.TEXT:
                            body = json.loads(msg.data)
                            if body["type"] == "stats" and \
                                    body["monitor"]["missed_events"] == s["missed_events"]:
                                return True
                        elif msg.type == aiohttp.WSMsgType.BINARY:
                            await page.send_str('{"op": "ack"}')
                    return False

                try:
                    assert await asyncio.wait_for(told(), 60)
                finally:
                    await page.close()
        finally:
            if stopped:
                os.kill(monitor.pid, signal.SIGCONT)
            stop(monitor)
            notifier.close()


async def _is_live(state: Any) -> bool:
    return bool((await state())["live"])


async def _events_at_least(state: Any, n: int) -> dict[str, Any] | None:
    s: dict[str, Any] = await state()
    return s if s.get("events", 0) >= n else None
