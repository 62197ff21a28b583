"""An event camera's stream, through the SPIF/AEStream wire format, into a spiking network.

A bar sweeps across a 32 x 24 pixel sensor (``moving_bar``; 10 % of the events are lost, as a
real sensor misses some). Its events are packed into UDP payloads exactly as AEStream's
``output udp`` packs them (SPIF event words with timestamps), decoded back, and mapped onto a
16 x 12 population with one plane per polarity (2 x 2 pixels per neuron). Those neuron ids and
event times drive a ``SpikeSourceArray`` feeding an ``IF_curr_exp`` population one-to-one on
the embedded engine; a neuron fires when it sees two edges within a few milliseconds, i.e. when
the bar passes over it. The rasters of the input and the output go to a PNG.

Here the payloads never leave the process: the live path, where AEStream (or a camera behind
spiffer) sends the datagrams over UDP and the bridge injects the ids while the network runs,
comes with the closed-loop adapters of the ZeroMQ bridge.

Run: ``python examples/event_camera.py [--out event_camera.png]`` (a few seconds).
"""

from __future__ import annotations

import argparse

import matplotlib.pyplot as plt
import numpy as np

import spinnlive.pynn as sim
from spinnlive.adapters import (
    EventBatch,
    EventCameraMap,
    decode_datagram_untrusted,
    encode_datagrams,
    moving_bar,
)

WIDTH, HEIGHT = 32, 24
STEP_US = 2000  # the bar moves one pixel every 2 ms
TIMESTEP_MS = 1.0


def camera_to_spike_times(events: EventBatch, camera: EventCameraMap) -> list[np.ndarray]:
    """Spike times (ms, one array per neuron) of the decoded events; one spike per tick."""
    assert events.t is not None
    ids = camera.ids(events)
    ticks = events.t.astype(np.int64) // int(TIMESTEP_MS * 1000) + 1  # tick 0 cannot be sent
    key = np.unique(ids * (ticks.max() + 1) + ticks)  # (neuron, tick) pairs, sorted
    neuron, tick = np.divmod(key, ticks.max() + 1)
    bounds = np.searchsorted(neuron, np.arange(camera.n_neurons + 1))
    return [tick[a:b] * TIMESTEP_MS for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="event_camera.png", help="raster plot (PNG)")
    args = parser.parse_args()

    rng = np.random.default_rng(2024)
    events = moving_bar(WIDTH, HEIGHT, bar_width=4, step_us=STEP_US, keep=0.9, rng=rng)
    datagrams = encode_datagrams(events, timestamps=True)
    received = EventBatch.concatenate([decode_datagram_untrusted(d) for d in datagrams])
    assert np.array_equal(received.x, events.x) and np.array_equal(received.t, events.t)

    camera = EventCameraMap(WIDTH, HEIGHT, polarity_channels=True, downsample=(2, 2))
    spike_times = camera_to_spike_times(received, camera)
    duration = float(received.t.max()) / 1000.0 + 20.0

    sim.setup(timestep=TIMESTEP_MS)
    retina = sim.Population(camera.n_neurons, sim.SpikeSourceArray(spike_times=spike_times),
                            label="retina")
    edges = sim.Population(camera.n_neurons, sim.IF_curr_exp(tau_syn_E=2.0), label="edges")
    sim.Projection(retina, edges, sim.OneToOneConnector(),
                   sim.StaticSynapse(weight=5.0, delay=1.0), receptor_type="excitatory")
    retina.record("spikes")
    edges.record("spikes")
    sim.run(duration)
    rasters = [pop.get_data("spikes").segments[0].spiketrains for pop in (retina, edges)]
    sim.end()

    # Neurons are drawn column by column (x, then y), so the sweep shows as a diagonal.
    column, row, on = camera.coordinates(np.arange(camera.n_neurons))
    grid_w, grid_h = camera.grid
    display = on * (grid_w * grid_h) + column * grid_h + row
    fig, axes = plt.subplots(2, 1, sharex=True, figsize=(9, 6))
    for ax, trains, title in zip(axes, rasters, ("retina (decoded events)", "edges"),
                                 strict=True):
        counted = 0
        for train in trains:
            index = int(train.annotations["source_index"])
            colour = "tab:red" if on[index] else "tab:blue"
            ax.plot(train.magnitude, np.full(len(train), display[index]), "|", color=colour,
                    ms=2)
            counted += len(train)
        ax.axhline(grid_w * grid_h - 0.5, color="grey", lw=0.5)
        ax.set_ylabel("neuron, by x then y\n(OFF below, ON above)")
        ax.set_title(f"{title}: {counted} spikes")
        print(f"{title}: {counted} spikes")
    axes[-1].set_xlabel("time (ms)")
    fig.tight_layout()
    fig.savefig(args.out, dpi=100)
    print(f"{len(events)} events in {len(datagrams)} datagrams "
          f"({sum(map(len, datagrams))} bytes) -> {camera.n_neurons} neurons; wrote {args.out}")


if __name__ == "__main__":
    main()
