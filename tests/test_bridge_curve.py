"""CURVE on a bridge bound beyond loopback, across processes (issue 14, point 4).

"Non-loopback" here means what an operator types to be reachable from the network: the bridge
binds every ZeroMQ socket on ``0.0.0.0`` (all interfaces, so any host that routes to this one),
and the test's clients reach it through 127.0.0.1, which is one of those interfaces. That needs no
network: the binding is the same one that would serve a remote host, and the refusal without
keys is decided on the bound address, not on where the client is.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import zmq

from spinnlive.client import connect
from spinnlive.errors import TransportError
from spinnlive.transport.curve import generate
from spinnlive.wire.output import Notice

ANY = ["--discovery", "tcp://0.0.0.0:0", "--publish", "tcp://0.0.0.0:0", "--input",
       "tcp://0.0.0.0:0", "--notify-port", "0"]


def _start(*extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "spinnlive.bridge", *ANY, *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})


def _local(endpoint: str) -> str:
    return endpoint.replace("0.0.0.0", "127.0.0.1")


def test_binding_beyond_loopback_without_keys_is_refused_unless_insecure() -> None:
    proc = _start()
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and "--insecure" in err and "--curve" in err, err
    insecure = _start("--insecure")
    try:
        assert insecure.stdout is not None
        line = insecure.stdout.readline()
        assert json.loads(line)["discovery"].startswith("tcp://0.0.0.0:")
    finally:
        insecure.terminate()
        insecure.wait(30)


async def test_a_client_without_the_key_gets_nothing_in_or_out(tmp_path: Path) -> None:
    client_file, _, _ = generate(tmp_path / "keys")
    proc = _start("--curve", str(tmp_path / "keys"))
    try:
        assert proc.stdout is not None
        where = json.loads(await asyncio.to_thread(proc.stdout.readline))
        discovery = _local(where["discovery"])
        # without keys: no answer, no input taken, nothing published to it
        with pytest.raises(TransportError):
            async with connect(discovery, timeout=2.0):
                pass
        ctx = zmq.Context()
        plain_sub = ctx.socket(zmq.SUB)
        plain_sub.setsockopt(zmq.SUBSCRIBE, b"")
        plain_sub.connect(_local(where["publish"]))
        plain_push = ctx.socket(zmq.PUSH)
        plain_push.setsockopt(zmq.LINGER, 0)
        plain_push.connect(_local(where["input"]))
        with contextlib.suppress(zmq.Again):  # no handshake completes: nothing to send to
            plain_push.send_multipart([b"inject/x", b"\0\0\0\0"], flags=zmq.NOBLOCK)
        # with the key: unchanged (describe, input counted, stats published)
        async with connect(discovery, timeout=10.0, curve=client_file) as client:
            assert (await client.describe())["state"] == "waiting"
            await client.inject("stim", [1])  # no database yet: counted as rejected
            keyed_sub = client._socket(zmq.SUB)
            keyed_sub.setsockopt(zmq.SUBSCRIBE, b"stats")
            keyed_sub.connect(client.endpoints["publish"])
            inputs: dict[str, int] = {}
            received = 0
            async with asyncio.timeout(30):
                while inputs != {"input": 1}:  # the bridge publishes stats every second
                    stats = json.loads((await keyed_sub.recv_multipart())[-1])
                    received += 1
                    inputs = {name: s["messages"] for name, s in stats["streams"].items()
                              if name.startswith(("input", "inject/"))}
            # exactly the keyed client's one message came in; the plain PUSH got nothing in
        # and the plain subscriber, connected all along, received none of those stats
        assert received >= 1 and plain_sub.poll(0) == 0
        plain_sub.close(linger=0)
        plain_push.close(linger=0)
        ctx.term()
    finally:
        proc.terminate()
        proc.wait(30)


async def test_the_client_commands_take_the_key_file(tmp_path: Path) -> None:
    """``spinnlive inject/rates/listen --curve FILE`` reach a CURVE bridge; without it they
    get no answer (the discovery handshake never completes) and fail naming the bridge."""
    client_file, _, _ = generate(tmp_path / "keys")
    proc = _start("--curve", str(tmp_path / "keys"))

    def command(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "spinnlive.cli", *args, "--discovery",
                               discovery], capture_output=True, text=True, timeout=600)

    try:
        assert proc.stdout is not None
        where = json.loads(await asyncio.to_thread(proc.stdout.readline))
        discovery = _local(where["discovery"])
        plain = await asyncio.to_thread(command, "inject", "stim", "1", "--timeout", "2")
        assert plain.returncode != 0 and discovery in plain.stderr, plain.stderr[-2000:]
        keyed = await asyncio.to_thread(command, "inject", "stim", "1", "--curve",
                                        str(client_file), "--timeout", "60")
        assert keyed.returncode == 0, keyed.stderr[-2000:]
        rates = await asyncio.to_thread(command, "rates", "src", "0=5", "--curve",
                                        str(client_file), "--timeout", "60")
        assert rates.returncode == 0, rates.stderr[-2000:]
        async with connect(discovery, timeout=10.0, curve=client_file) as client:
            stats = client.subscribe("stats")
            counted: dict[str, int] = {}
            async with asyncio.timeout(30):  # both came in, counted as rejected (no database)
                while sum(counted.values()) < 2:
                    notice = await stats.receive(5.0)
                    if notice is not None and isinstance(notice, Notice):
                        counted = {name: s["messages"] for name, s in
                                   notice.body["streams"].items()
                                   if name.startswith(("input", "inject/", "rates/"))}
            assert sum(counted.values()) == 2, counted
    finally:
        proc.terminate()
        proc.wait(30)
