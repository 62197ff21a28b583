"""Headless Chromium driven over the DevTools protocol (a WebSocket, through aiohttp's client).

Used by the monitor's browser test and by ``bench/bench_monitor.py``: open a page, evaluate
JavaScript in it (the monitor keeps what it shows in ``window.spinnliveMonitor``), take a
screenshot. Debian's ``chromium`` package is enough; no driver binary is needed.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiohttp

__all__ = ["AS_AN_UNPRIVILEGED_USER", "Browser", "find_chromium"]

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
         "--disable-backgrounding-occluded-windows", "--remote-debugging-port=0",
         "--window-size=1400,900"]


def _unprivileged() -> list[str]:
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        return []
    return ["setpriv", "--bounding-set", "-sys_nice", "--inh-caps", "-sys_nice", "--"]


#: Run as root, chromium raises its own display threads to niceness -8 (it may: CAP_SYS_NICE),
#: which a user's browser cannot; this launcher takes that capability away (empty when not
#: root, or without util-linux's setpriv), so a benchmark sees the browser a user has.
AS_AN_UNPRIVILEGED_USER = _unprivileged()


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


class Browser:
    """``async with Browser() as b: page = await b.open(url); await b.evaluate(js)``.

    ``launcher``: words put before the executable (the benchmark's
    :data:`AS_AN_UNPRIVILEGED_USER`)."""

    def __init__(self, executable: str | None = None, launcher: Sequence[str] = ()) -> None:
        found = executable or find_chromium()
        if found is None:
            raise RuntimeError("no chromium on PATH")
        self.executable = found
        self.launcher = list(launcher)
        # chromium's helpers may still write there as it dies: a leftover file is no error
        self._profile = tempfile.TemporaryDirectory(prefix="spinnlive-chromium-",
                                                    ignore_cleanup_errors=True)
        self._proc: subprocess.Popen[bytes] | None = None
        self._http: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._ids = itertools.count(1)
        self._replies: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._reader: asyncio.Task[None] | None = None
        self._session: str | None = None

    async def __aenter__(self) -> Browser:
        profile = Path(self._profile.name)
        self._proc = subprocess.Popen([*self.launcher, self.executable, *FLAGS,
                                       f"--user-data-dir={profile}", "about:blank"], stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL)
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60.0
        while not (port_file.exists() and len(port_file.read_text().split()) >= 2):
            if self._proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"chromium did not start ({self._proc.returncode})")
            await asyncio.sleep(0.05)
        port, path = port_file.read_text().split()[:2]
        self._http = aiohttp.ClientSession()
        self._ws = await self._http.ws_connect(f"ws://127.0.0.1:{port}{path}", max_msg_size=0)
        self._reader = asyncio.create_task(self._read())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._reader is not None:
            self._reader.cancel()
        if self._ws is not None:
            await self._ws.close()
        if self._http is not None:
            await self._http.close()
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait(10)
        self._profile.cleanup()

    async def _read(self) -> None:
        assert self._ws is not None
        async for msg in self._ws:
            body = json.loads(msg.data)
            future = self._replies.pop(body.get("id", -1), None)
            if future is not None and not future.done():
                future.set_result(body)

    async def call(self, method: str, timeout: float = 30.0, **params: Any) -> dict[str, Any]:
        assert self._ws is not None
        ident = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._replies[ident] = future
        message: dict[str, Any] = {"id": ident, "method": method, "params": params}
        if self._session is not None and not method.startswith("Target."):
            message["sessionId"] = self._session
        await self._ws.send_str(json.dumps(message))
        reply = await asyncio.wait_for(future, timeout)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        result: dict[str, Any] = reply.get("result", {})
        return result

    async def open(self, url: str) -> None:
        """A new tab on ``url``; later calls talk to it."""
        target = await self.call("Target.createTarget", url=url)
        attached = await self.call("Target.attachToTarget", targetId=target["targetId"],
                                   flatten=True)
        self._session = attached["sessionId"]

    async def evaluate(self, expression: str) -> Any:
        """The JSON value of ``expression`` in the page (a promise is awaited)."""
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True,
                                 awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"page: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def screenshot(self, path: Path) -> None:
        shot = await self.call("Page.captureScreenshot", format="png")
        path.write_bytes(base64.b64decode(shot["data"]))
