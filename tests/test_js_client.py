"""examples/js_client/client.mjs (the ``zeromq`` npm package) against ``spinnlive run``.

The JavaScript client knows only docs/wire-format.md: it asks discovery, subscribes to
``spikes/out``, injects into ``stim`` and prints what arrives; the spikes it prints must be
the ones the engine recorded, with their ticks.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from cli_live_helpers import LiveRun

CLIENT = Path(__file__).resolve().parents[1] / "examples" / "js_client"


def test_js_client_injects_and_receives(tmp_path):
    node = shutil.which("node")
    if node is None:
        pytest.skip("node (Node.js) is not installed")
    if not (CLIENT / "node_modules" / "zeromq").is_dir():
        pytest.skip("examples/js_client/node_modules missing: npm ci --prefix examples/js_client")
    run = LiveRun(tmp_path, "3000")
    try:
        discovery = run.discovery()
        run.wait_line("bridge ready")
        js = subprocess.run([node, "client.mjs", discovery, "out", "stim", "0,3,5", "1"],
                            cwd=CLIENT, capture_output=True, text=True, timeout=25)
        assert js.returncode == 0, js.stderr
        recorded, _ = run.finish()
    finally:
        run.kill()
    lines = js.stdout.splitlines()
    assert "spikes/out(8)" in lines[0] and "inject/stim(8)" in lines[0]
    assert lines[1] == "injected stim 0 3 5"
    message = lines[2].split()
    tick, ids = int(message[4]), [int(i) for i in message[message.index("ids") + 1:]]
    assert (message[0], sorted(ids)) == ("spikes/out", [0, 3, 5])
    assert sorted([tick, i] for i in ids) == recorded["out"]  # the engine's own ticks and ids
