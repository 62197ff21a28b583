"""The browser monitor under load: what the page keeps up with, and what it costs the bridge.

Run: ``.venv/bin/python bench/bench_monitor.py [--step 0.5] [--rounds 2]`` (needs Debian's
``chromium`` for the page half).

The same sender as ``bench_bridge.py`` (full LPG packets, paced on a ladder of rates, refined by
bisection at the top) feeds a bridge process; a ZeroMQ subscriber here must get every event.

* **bridge alone** vs **bridge + monitor + page**: the bridge's zero-loss throughput at the
  subscriber, with and without a monitor process subscribed to every topic and a headless
  Chromium page drawing it, in alternating rounds on the same machine. The target: the monitor
  costs the bridge at most 5 %.
* **page current**: at each rung with the page attached, did the page draw every event of the
  rung (its own count) with no frame dropped? The highest such rate is what the page keeps current.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import zmq

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE))
from bench_bridge import LADDER, _handshake, _send, _template  # noqa: E402
from bridge_helpers import FakeBoard, start_bridge_process, write_bridge_database  # noqa: E402
from chromium import Browser, find_chromium  # noqa: E402

from spinnlive.cli.launch import stop  # noqa: E402
from spinnlive.monitor.command import spawn  # noqa: E402

REFINE = 3  # bisection steps between the last clean rung and the first lossy one


class Page:
    """A headless Chromium page on the monitor, on an event loop of its own thread."""

    def __init__(self, url: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.browser = Browser()
        self._run(self.browser.__aenter__())
        self._run(self.browser.open(url))
        deadline = time.monotonic() + 30
        while not self._run(self.browser.evaluate("!!window.spinnliveMonitor")):
            if time.monotonic() > deadline:
                raise RuntimeError("the monitor page did not load")
            time.sleep(0.1)

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(60)

    def counts(self) -> tuple[int, int]:
        """(events drawn, frames dropped) so far."""
        state = json.loads(self._run(self.browser.evaluate(
            "JSON.stringify([Object.values(spinnliveMonitor.events).reduce((a, b) => a + b, 0),"
            " spinnliveMonitor.framesDropped])")))
        return int(state[0]), int(state[1])

    def close(self) -> None:
        self._run(self.browser.__aexit__(None, None, None))
        self.loop.call_soon_threadsafe(self.loop.stop)


def run_rung(rate: float, step: float, template: str, live: tuple[str, int],
             count: Callable[[int], int], source: str) -> tuple[int, int]:
    result: dict[str, int] = {}
    sender = threading.Thread(
        target=lambda: result.update(n=_send(live, rate, step, template, source)[0]))
    sender.start()
    got = count(int(rate * step // 64 * 64))
    sender.join()
    return result["n"], got


def measure(step: float, template: str, board: FakeBoard, path: Path, with_page: bool
            ) -> dict[str, float]:
    proc, where = start_bridge_process("--tag-timeout", "10", "--log-level", "ERROR")
    monitor = page = None
    ctx = zmq.Context()
    try:
        if with_page:
            monitor, url = spawn(str(where["discovery"]), ["--log-level", "ERROR"])
            page = Page(url)
        live = _handshake(where["notify"][1], path, board)
        sub = ctx.socket(zmq.SUB)
        sub.setsockopt(zmq.RCVHWM, 0)
        sub.connect(str(where["publish"]))
        for topic in (b"spikes/exc", b"spikes/inh", b"sync/bench"):
            sub.setsockopt(zmq.SUBSCRIBE, topic)
        while sub.recv_multipart()[0] != b"sync/bench":
            pass

        def count(expected: int) -> int:
            n, idle = 0, time.perf_counter()
            while n < expected and time.perf_counter() - idle < 2.0:
                if sub.poll(100):
                    n += len(sub.recv_multipart()[2]) // 4
                    idle = time.perf_counter()
            return n

        best = page_best = 0.0
        lossy = None
        rates = [m * 1e6 for m in LADDER]
        tried: list[float] = []
        while rates:
            rate = rates.pop(0)
            tried.append(rate)
            before = page.counts() if page is not None else (0, 0)
            sent, got = run_rung(rate, step, template, live, count, board.ip)
            note = ""
            if page is not None:
                deadline = time.monotonic() + 5.0  # the page catches up within a few frames
                while (after := page.counts())[0] - before[0] < got and \
                        time.monotonic() < deadline:
                    time.sleep(0.05)
                drawn, dropped = after[0] - before[0], after[1] - before[1]
                current = drawn == got == sent and dropped == 0
                if current:
                    page_best = max(page_best, rate)
                note = f"  page drew {drawn} dropped {dropped} frames"
            print(f"  {'monitor' if page else 'alone':>8} {rate / 1e6:6.2f} M ev/s: sent "
                  f"{sent:>9} got {got:>9} lost {sent - got}{note}", flush=True)
            if sent == got:
                best = max(best, rate)
            else:
                lossy = rate if lossy is None else min(lossy, rate)
            if lossy is not None and not rates:  # bisect between best and the first loss
                if len([r for r in tried if best < r < lossy]) < REFINE and lossy - best > 1e5:
                    rates.append((best + lossy) / 2)
            elif lossy is not None:
                rates = []
                if lossy - best > 1e5:
                    rates.append((best + lossy) / 2)
        return {"throughput": best, "page_current": page_best}
    finally:
        if page is not None:
            page.close()
        if monitor is not None:
            stop(monitor)
        proc.terminate()
        proc.wait(10)
        ctx.destroy(0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--step", type=float, default=0.5, help="seconds per rung")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds of each")
    args = parser.parse_args()
    if find_chromium() is None:
        sys.exit("bench_monitor needs chromium (apt-get install chromium)")
    alone: list[float] = []
    attached: list[float] = []
    page: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        board = FakeBoard()
        path = write_bridge_database(Path(tmp), board.ip)
        template = _template(board.ip)
        for r in range(args.rounds):
            print(f"round {r + 1}: bridge alone", flush=True)
            alone.append(measure(args.step, template, board, path, False)["throughput"])
            print(f"round {r + 1}: bridge + monitor + page", flush=True)
            result = measure(args.step, template, board, path, True)
            attached.append(result["throughput"])
            page.append(result["page_current"])
        board.close()
    print("\nzero-loss bridge throughput, M events/s (per round): alone "
          + " ".join(f"{x / 1e6:.2f}" for x in alone) + "; with the monitor and a page "
          + " ".join(f"{x / 1e6:.2f}" for x in attached))
    ratio = max(attached) / max(alone)
    print(f"with monitor / alone (best of each) = {ratio:.0%}  (target >= 95 %)")
    print("the page kept current (every event drawn, no frame dropped) up to "
          + " ".join(f"{x / 1e6:.2f}" for x in page) + " M events/s (target >= 0.1)")


if __name__ == "__main__":
    main()
    sys.stdout.flush()
    os._exit(0)
