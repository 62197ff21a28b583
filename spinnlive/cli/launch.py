"""Start a bridge or a network in a child process, and stop them cleanly.

Closed-loop experiments (the examples, the adapters' tests) run the network, the bridge and the
adapter as separate processes, so that they meet only on the wire, as they would on separate
hosts, and any of them can be restarted on its own. This module is the one place that knows how
to start and stop them:

* :func:`start_bridge` runs ``python -m spinnlive.bridge`` and returns its bound endpoints (the
  bridge prints them as one JSON line once its sockets are bound);
* :func:`start_network` runs a script that serves a network with :func:`serve_until_stdin_closes`;
  such a script reads its arguments with :func:`parse_script_args`;
* :func:`wait_started` waits until a network process's run has started behind a bridge. A
  network's start-up (importing PyNN and the engine, loading its kernels, mapping, the
  handshake) takes a second on an idle machine and tens of seconds on a loaded one: a client
  that gives it a fixed deadline fails for the machine's speed, so this waits for the run
  itself, as long as the process lives, and fails at once when the process ends first;
* :func:`stop` ends either: a network by closing its stdin (a clean ``request_stop``, so the
  toolchain sends STOP_PAUSE), a bridge by SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ..clock import PerfCounterClock, ThreadClock
from ..errors import TransportError

ANY = "tcp://127.0.0.1:0"


def start_bridge(notify_port: int = 0, discovery: str = ANY, publish: str = ANY,
                 input_endpoint: str = ANY, extra: tuple[str, ...] = ()
                 ) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    """``python -m spinnlive.bridge`` in a child process; returns it and its bound addresses
    (``notify`` as ``[host, port]``, ``publish``, ``input``, ``discovery``)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "spinnlive.bridge", "--notify-port", str(notify_port),
         "--discovery", discovery, "--publish", publish, "--input", input_endpoint, *extra],
        stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        proc.wait(10)
        raise TransportError(f"the bridge exited with status {proc.returncode} before binding")
    return proc, json.loads(line)


def parse_script_args(parser: argparse.ArgumentParser) -> argparse.Namespace:
    """A closed-loop script's arguments, with the hidden ``--network NOTIFY_PORT`` by which
    the script, started as its own network child (``start_network(__file__, "--network",
    port)``), knows to serve the network only; and its logging (warnings, one line each, in
    parent and child alike). One definition, so that every script reads the option alike."""
    parser.add_argument("--network", type=int, metavar="NOTIFY_PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    return args


def start_network(script: str | Path, *args: str) -> subprocess.Popen[str]:
    """``python SCRIPT ARGS...``, a script that serves its network until :func:`stop`."""
    return subprocess.Popen([sys.executable, str(script), *args], stdin=subprocess.PIPE,
                            text=True)


def serve_until_stdin_closes(sim: Any) -> None:
    """In a network process: ``run_forever`` until the parent closes our stdin, then ``end``."""
    threading.Thread(target=lambda: (sys.stdin.read(), sim.external_devices.request_stop()),
                     daemon=True, name="stdin-watch").start()
    sim.external_devices.run_forever()
    sim.end()


#: how often :func:`wait_started` looks at the network process between the bridge's answers
STARTED_POLL_S = 1.0


def wait_started(proc: subprocess.Popen[str], discovery: str, *,
                 hang_guard_s: float = 600.0, clock: ThreadClock | None = None
                 ) -> dict[str, Any]:
    """Block until the bridge at ``discovery`` says the run of network process ``proc`` has
    started; returns the ``started`` event (or the description).

    Waits while ``proc`` lives (a start-up takes what the machine makes it take) and raises
    :class:`TransportError` as soon as it exits; ``hang_guard_s`` only bounds a network that
    hangs without exiting (on ``clock``, so a test moves past it in virtual time). Safe to call from a coroutine: the blocking client runs in a worker
    thread of its own, away from the caller's event loop (which it would otherwise block).
    """
    with ThreadPoolExecutor(1, thread_name_prefix="wait-started") as pool:
        return pool.submit(_wait_started, proc, discovery, hang_guard_s,
                           clock or PerfCounterClock()).result()


def _wait_started(proc: subprocess.Popen[str], discovery: str, hang_guard_s: float,
                  clock: ThreadClock) -> dict[str, Any]:
    from ..client import SyncClient

    give_up = clock.now() + hang_guard_s
    with SyncClient(discovery) as client:
        while True:
            if proc.poll() is not None:
                raise TransportError(f"the network process {proc.args!r} exited with status "
                                     f"{proc.returncode} before its run started")
            try:
                return client.started(STARTED_POLL_S)
            except TransportError:
                if clock.now() > give_up:
                    raise TransportError(f"the network process {proc.args!r} is alive but its "
                                         f"run did not start within {hang_guard_s:g} s (hung?)"
                                         ) from None


def stop(proc: subprocess.Popen[str], timeout: float = 15.0) -> None:
    """End a network (stdin closed) or a bridge (SIGTERM); kill it if it does not go."""
    if proc.stdin is not None:
        proc.stdin.close()
    else:
        proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
