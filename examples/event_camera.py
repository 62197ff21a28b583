"""An event camera's stream, live over UDP in the SPIF/AEStream format, into a real-time network.

A bar sweeps across a 32 x 24 pixel sensor three times (``moving_bar``; 10 % of the events are
lost, as a real sensor misses some). Three processes, each the way it would run in a deployment:

1. the bridge, ``python -m spinnlive.bridge`` with every port picked by the kernel;
2. the network, this file with ``--network <notify port>``: a 16 x 12 x 2 ``SpikeInjector`` grid
   (``retina``: 2 x 2 pixels per neuron, one plane per polarity) one-to-one onto an
   ``IF_curr_exp`` grid (``edges``, with live output), running in real time with
   ``run_forever`` until its stdin closes;
3. this process: an :class:`~spinnlive.adapters.event_stream.EventStreamInput` on a UDP port of
   its own, and a replay of the events as AEStream's ``output udp`` sends them (timestamped
   SPIF words, <= 32 events per datagram), each step's datagrams sent at the step's timestamp.

The adapter injects what it receives through the bridge; the ``edges`` spikes come back over
the bridge (``spinnlive.connect``) and are plotted under the events as sent. An ``edges`` neuron
fires when its retina neuron is hit by the bar's edge, so the sweep shows as a diagonal.

``--offline`` keeps the lock-step path: the decoded events drive a ``SpikeSourceArray`` on the
embedded engine in one process, with no sockets at all.

Run: ``python examples/event_camera.py [--out event_camera.png] [--offline]`` (a few seconds).
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import subprocess
import time
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import spinnlive  # noqa: E402
from spinnlive.adapters import (  # noqa: E402
    EventBatch,
    EventCameraMap,
    decode_datagram_untrusted,
    encode_datagrams,
    moving_bar,
)
from spinnlive.adapters.event_stream import EventStreamConfig, EventStreamInput  # noqa: E402
from spinnlive.cli import launch
from spinnlive.cli.launch import start_bridge, stop
from spinnlive.client import SpikeStream  # noqa: E402

WIDTH, HEIGHT = 32, 24
STEP_US = 3000  # the bar moves one pixel every 3 ms
SWEEPS = 3
CAMERA = EventCameraMap(WIDTH, HEIGHT, polarity_channels=True, downsample=(2, 2))
TIMESTEP_MS = 1.0
#: one injected spike makes an edges neuron fire (about 3 ms later)
WEIGHT = 20.0
NEURON = dict(tau_syn_E=2.0, tau_refrac=2.0)


def bar_events(seed: int = 2024) -> EventBatch:
    """``SWEEPS`` sweeps of the bar, one after the other (timestamps in microseconds)."""
    rng = np.random.default_rng(seed)
    span = (WIDTH + 4 + 4) * STEP_US
    return EventBatch.concatenate([moving_bar(WIDTH, HEIGHT, bar_width=4, step_us=STEP_US,
                                              start_us=i * span, keep=0.9, rng=rng)
                                   for i in range(SWEEPS)])


def build_network(sim: Any, notify_port: int | None, weight: float = WEIGHT) -> tuple[Any, Any]:
    """retina (injector, or ``SpikeSourceArray`` offline) -> edges, one-to-one."""
    ext = sim.external_devices
    if notify_port is None:
        retina = sim.Population(CAMERA.n_neurons, sim.SpikeSourceArray(), label="retina")
    else:
        retina = sim.Population(CAMERA.n_neurons,
                                ext.SpikeInjector(database_notify_port_num=notify_port),
                                label="retina")
    edges = sim.Population(CAMERA.n_neurons, sim.IF_curr_exp(**NEURON), label="edges")
    sim.Projection(retina, edges, sim.OneToOneConnector(),
                   sim.StaticSynapse(weight=weight, delay=1.0), receptor_type="excitatory")
    if notify_port is not None:  # (an injector with live output would not take inject/)
        ext.activate_live_output_for(edges, database_notify_port_num=notify_port)
    return retina, edges


def serve_network(notify_port: int) -> None:
    """Run the network in real time until stdin closes."""
    import spinnlive.pynn as sim

    sim.setup(timestep=TIMESTEP_MS)
    build_network(sim, notify_port)
    launch.serve_until_stdin_closes(sim)


def start_network(notify_port: int) -> subprocess.Popen[str]:
    """This file with ``--network``; it runs until :func:`stop` closes its stdin."""
    return launch.start_network(__file__, "--network", str(notify_port))


async def replay(events: EventBatch, address: tuple[str, int]) -> tuple[int, int]:
    """Send ``events`` to ``address`` as AEStream does, each timestamp's datagrams at that time
    after the start; returns (events, datagrams) sent."""
    assert events.t is not None
    t = events.t.astype(np.int64)
    bounds = np.flatnonzero(np.diff(t)) + 1
    sent = 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        start = time.perf_counter()
        for a, b in zip(np.r_[0, bounds], np.r_[bounds, t.size], strict=True):
            step = EventBatch(events.x[a:b], events.y[a:b], events.p[a:b], events.t[a:b])
            delay = start + (t[a] - t[0]) / 1e6 - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            for datagram in encode_datagrams(step, timestamps=True):
                sock.sendto(datagram, address)
                sent += 1
    return len(events), sent


async def _read(stream: SpikeStream, into: list[tuple[int, np.ndarray]]) -> None:
    async for tick, ids in stream:
        into.append((tick, ids))


def _raster(batches: list[tuple[int, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """``(ticks, ids)`` arrays of a stream's messages."""
    if not batches:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    ticks = np.concatenate([np.full(ids.size, tick) for tick, ids in batches])
    return ticks.astype(np.int64), np.concatenate([ids for _, ids in batches]).astype(np.int64)


async def run_live(events: EventBatch) -> dict[str, Any]:
    """Bridge and network as subprocesses, the adapter and the replay here."""
    bridge, where = start_bridge()
    network = start_network(int(where["notify"][1]))
    spikes: dict[str, list[tuple[int, np.ndarray]]] = {"edges": []}
    try:
        # the network's start-up takes what the machine makes it take: wait for its run
        # (failing at once if it exits), then the adapter finds it running
        launch.wait_started(network, where["discovery"])
        config = EventStreamConfig(label="retina", camera=CAMERA)
        async with (EventStreamInput(where["discovery"], config) as adapter,
                    spinnlive.connect(where["discovery"], timeout=30.0) as client):
            epoch = await adapter.injecting(timeout=30.0)
            streams = [client.spikes(label) for label in spikes]
            for stream in streams:
                await stream.ready()
            readers = [asyncio.ensure_future(_read(s, spikes[s.label])) for s in streams]
            started = time.perf_counter()
            sent, datagrams = await replay(events, adapter.address)
            replay_s = time.perf_counter() - started
            await asyncio.sleep(0.2)  # the last spikes come back
            for task in readers:
                task.cancel()
            await asyncio.gather(*readers, return_exceptions=True)
            for stream in streams:
                stream.close()
            stats = adapter.statistics()
    finally:
        stop(network)
        stop(bridge)
    return {"epoch": epoch, "events_sent": sent, "datagrams_sent": datagrams,
            "replay_s": replay_s, "statistics": stats,
            "rasters": {"camera (sent)": _sent_raster(events),
                        **{label: _raster(batches) for label, batches in spikes.items()}}}


def _sent_raster(events: EventBatch) -> tuple[np.ndarray, np.ndarray]:
    """The events as sent: (ms after the first, neuron id)."""
    assert events.t is not None
    t = events.t.astype(np.int64)
    return (t - t[0]) // 1000, CAMERA.ids(events)


def run_offline(events: EventBatch) -> dict[str, Any]:
    """The lock-step path: decoded events drive a SpikeSourceArray; no sockets."""
    import spinnlive.pynn as sim

    datagrams = encode_datagrams(events, timestamps=True)
    received = EventBatch.concatenate([decode_datagram_untrusted(d) for d in datagrams])
    assert received.t is not None
    ids = CAMERA.ids(received)
    ticks = received.t.astype(np.int64) // int(TIMESTEP_MS * 1000) + 1  # tick 0 cannot be sent
    key = np.unique(ids * (ticks.max() + 1) + ticks)  # (neuron, tick) pairs, sorted
    neuron, tick = np.divmod(key, ticks.max() + 1)
    bounds = np.searchsorted(neuron, np.arange(CAMERA.n_neurons + 1))
    times = [tick[a:b] * TIMESTEP_MS for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    sim.setup(timestep=TIMESTEP_MS)
    retina, edges = build_network(sim, None)
    retina.set(spike_times=times)
    for population in (retina, edges):
        population.record("spikes")
    sim.run(float(ticks.max()) + 20.0)
    rasters = {}
    for population in (retina, edges):
        trains = population.get_data("spikes").segments[0].spiketrains
        ids_ = np.concatenate([np.full(len(tr), int(tr.annotations["source_index"]))
                               for tr in trains])
        times_ = np.concatenate([tr.magnitude for tr in trains])
        rasters[population.label] = ((times_ / TIMESTEP_MS).astype(np.int64), ids_)
    sim.end()
    return {"events_sent": len(events), "datagrams_sent": len(datagrams), "rasters": rasters}


def plot(rasters: dict[str, tuple[np.ndarray, np.ndarray]], out: str, title: str) -> None:
    """Neurons drawn column by column (x, then y): the sweep shows as a diagonal."""
    column, row, on = CAMERA.coordinates(np.arange(CAMERA.n_neurons))
    grid_w, grid_h = CAMERA.grid
    display = on * (grid_w * grid_h) + column * grid_h + row
    fig, axes = plt.subplots(len(rasters), 1, sharex=True, figsize=(9, 6))
    for ax, (label, (ticks, ids)) in zip(axes, rasters.items(), strict=True):
        for plane, colour in ((0, "tab:blue"), (1, "tab:red")):
            mask = on[ids] == plane
            ax.plot(ticks[mask] * TIMESTEP_MS, display[ids[mask]], "|", color=colour, ms=2)
        ax.axhline(grid_w * grid_h - 0.5, color="grey", lw=0.5)
        ax.set_ylabel("neuron, by x then y\n(OFF below, ON above)")
        ax.set_title(f"{title}: {label}, {ids.size} spikes")
        ax.set_xlabel("time (ms): event timestamps (camera), network ticks (others)")
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="event_camera.png", help="raster plot (PNG)")
    parser.add_argument("--offline", action="store_true", help="lock-step, no sockets")
    args = launch.parse_script_args(parser)
    if args.network is not None:
        serve_network(args.network)
        return
    events = bar_events()
    started = time.perf_counter()
    result = run_offline(events) if args.offline else asyncio.run(run_live(events))
    plot(result["rasters"], args.out, "offline" if args.offline else "live")
    print(f"events sent: {result['events_sent']} in {result['datagrams_sent']} datagrams")
    if not args.offline:
        stats = result["statistics"]
        print(f"injected: {stats.injected} in {stats.batches} batches (run epoch "
              f"{result['epoch']}; dropped {dict(stats.dropped_events)} events, "
              f"{dict(stats.dropped_datagrams)} datagrams)")
        print(f"replay: {result['replay_s']:.3f} s, "
              f"{result['events_sent'] / result['replay_s']:.0f} events/s")
    for label, (_, ids) in result["rasters"].items():
        print(f"{label}: {ids.size} spikes")
    print(f"wrote {args.out} in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
