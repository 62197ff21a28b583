"""adapters.event_stream: AEStream/SPIF datagrams over real UDP -> a real bridge -> the engine.

The bridge (``python -m spinnlive.bridge``) and the network (examples/event_camera.py
``--network``: a SpikeInjector grid one-to-one onto IF_curr_exp neurons strong enough that one
injected spike makes its partner fire) are subprocesses, as in a deployment; the adapter, the
UDP sender and a bridge client reading the ``edges`` spikes live in the test.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Any

import numpy as np
import pytest
from closed_loop_helpers import fixed_bridge_ports, load_example
from waiting import until

import spinnlive
from spinnlive.adapters.event_camera import EventBatch, encode_datagrams, spif_words
from spinnlive.adapters.event_stream import EventStreamConfig, EventStreamInput
from spinnlive.cli import launch
from spinnlive.errors import ConfigurationError, TransportError


def _events(camera: Any, n: int, seed: int, off_sensor: int = 0) -> EventBatch:
    """``n`` random events on the sensor, then ``off_sensor`` beyond its edges."""
    rng = np.random.default_rng(seed)
    x = np.r_[rng.integers(0, camera.width, n), rng.integers(camera.width, 2000, off_sensor)]
    y = np.r_[rng.integers(0, camera.height, n), rng.integers(0, camera.height, off_sensor)]
    return EventBatch(x, y, rng.random(n + off_sensor) < 0.5,
                      np.arange(n + off_sensor, dtype=np.uint32) * 10)


def _send(datagrams: list[bytes], address: tuple[str, int]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for datagram in datagrams:
            sock.sendto(datagram, address)


async def _fired(endpoint: str, expected: set[int], send: Any) -> set[int]:
    """Subscribe to ``edges``, call ``send()``, and gather the ids that fire until every
    expected one has (or 5 s pass), and 0.2 s more for any stray one."""
    got: set[int] = set()
    async with spinnlive.connect(endpoint) as client:
        stream = client.spikes("edges")
        await stream.ready()
        send()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 5.0
        while loop.time() < deadline and not expected <= got:
            try:
                _, ids = await stream.next(max(0.01, deadline - loop.time()))
            except TransportError:
                break
            got.update(ids.tolist())
        quiet = loop.time() + 0.2
        while (left := quiet - loop.time()) > 0:
            try:
                _, ids = await stream.next(left)
            except TransportError:
                break
            got.update(ids.tolist())
        stream.close()
    return got


def test_config_is_checked() -> None:
    camera = load_example("event_camera").CAMERA
    with pytest.raises(ConfigurationError):
        EventStreamConfig(label="retina", camera=camera, max_pending=0)
    with pytest.raises(ConfigurationError):
        EventStreamConfig(label="retina", camera=camera, port=70000)


async def test_events_reach_their_neurons_and_bad_datagrams_are_counted() -> None:
    example = load_example("event_camera")
    camera = example.CAMERA
    bridge, where = example.start_bridge()
    network = example.start_network(int(where["notify"][1]))
    try:
        await asyncio.to_thread(launch.wait_started, network, where["discovery"])
        async with asyncio.timeout(60):
            config = EventStreamConfig(label="retina", camera=camera)
            async with EventStreamInput(where["discovery"], config) as adapter:
                assert await adapter.injecting(30.0) == 1
                events = _events(camera, 300, seed=1, off_sensor=7)
                good = encode_datagrams(events, timestamps=True)
                words = spif_words(events)
                bad = [good[0][:-2],  # not whole words
                       words[:3].tobytes() + good[0][:8]]  # untimestamped, then timestamped
                expected = camera.ids(events)
                fired = await _fired(where["discovery"], set(expected.tolist()),
                                     lambda: _send(bad[:1] + good + bad[1:], adapter.address))
                stats = adapter.statistics()
                # wrong config: a label the network does not inject into
                other = EventStreamConfig(label="edges", camera=camera, recovery_s=0.5)
                with pytest.raises(ConfigurationError, match="no SpikeInjector 'edges'"):
                    async with EventStreamInput(where["discovery"], other) as wrong:
                        await wrong.injecting(10.0)
    finally:
        example.stop(network)
        example.stop(bridge)
    assert fired == set(expected.tolist())  # exactly the neurons the map names, no others
    assert stats.datagrams == len(good) + len(bad)
    assert stats.events == len(events) and stats.injected == expected.size
    assert dict(stats.dropped_datagrams) == {"bad_datagram": 2, "queue_full": 0}
    assert dict(stats.dropped_events) == {"out_of_range": 7, "no_bridge": 0}
    assert stats.epochs == (1,) and stats.recoveries == 0 and stats.batches >= 1


async def test_the_adapter_follows_a_new_run_and_a_restarted_bridge(caplog) -> None:
    """The network restarts (epoch 2 on the same bridge), then the bridge and the network
    (same endpoints, epoch 1 again); the adapter keeps its UDP port and injects into each."""
    example = load_example("event_camera")
    camera = example.CAMERA
    ports = fixed_bridge_ports()
    loop = asyncio.get_running_loop()
    bridge, where = example.start_bridge(**ports)
    procs = {"bridge": bridge, "network": example.start_network(ports["notify_port"])}
    caplog.set_level(logging.INFO, logger="spinnlive.adapters.event_stream")
    fired: list[tuple[set[int], set[int]]] = []
    epochs: list[int] = []
    try:
        async with asyncio.timeout(90):
            config = EventStreamConfig(label="retina", camera=camera, timeout_s=1.5)
            async with EventStreamInput(where["discovery"], config) as adapter:
                address = adapter.address

                async def round_trip(seed: int) -> None:
                    # the network's start-up takes what the machine makes it take
                    await asyncio.to_thread(launch.wait_started, procs["network"],
                                            where["discovery"])
                    epochs.append(await adapter.injecting(30.0))
                    events = _events(camera, 200, seed)
                    expected = set(camera.ids(events).tolist())
                    got = await _fired(where["discovery"], expected, lambda: _send(
                        encode_datagrams(events), address))
                    fired.append((got, expected))

                async def gone() -> None:
                    await until(lambda: adapter.epoch is None, "the adapter noticing", 60)

                await round_trip(1)
                await loop.run_in_executor(None, example.stop, procs["network"])
                await gone()
                lost = _events(camera, 50, 9)
                _send(encode_datagrams(lost), address)  # nobody to inject into
                procs["network"] = example.start_network(ports["notify_port"])
                await round_trip(2)
                for name in ("network", "bridge"):
                    await loop.run_in_executor(None, example.stop, procs[name])
                await gone()
                procs["bridge"], _ = await loop.run_in_executor(
                    None, lambda: example.start_bridge(**ports))
                procs["network"] = example.start_network(ports["notify_port"])
                await round_trip(3)
                assert adapter.address == address
                stats = adapter.statistics()
    finally:
        for proc in procs.values():
            await loop.run_in_executor(None, example.stop, proc)
    assert epochs == [1, 2, 1]  # the same bridge's next run, then a new bridge
    for got, expected in fired:
        assert got == expected
    assert stats.epochs == (1, 2, 1) and stats.recoveries == 2
    assert stats.dropped_events["no_bridge"] == len(lost)
    assert stats.injected == stats.events - len(lost)
    messages = [r.getMessage() for r in caplog.records
                if r.name == "spinnlive.adapters.event_stream"]
    assert sum("event stream interrupted" in m for m in messages) == 2
    assert sum("event stream resumed" in m for m in messages) == 2
    assert sum("injecting into 'retina' on run epoch" in m for m in messages) == 3
