"""Live Poisson rate control is unbiased: a rate set through the control connection gives the
same mean rate as the same rate set through PyNN, within 1 % over a long run.

The run is lock-step (faster than real time) but takes the live path a real-time run takes:
the rate travels as EIEIO over UDP to the board endpoint, is decoded from 16.16 fixed point
and applied by the tick loop in its arrival tick. The rate is counted from the first spike of
the live-controlled source on (the process is memoryless, so the count after it over the time
left is an unbiased estimate whatever tick the packet arrived in).
"""

from __future__ import annotations

import numpy as np

import spinnlive.pynn as sim
from spinnlive.connections import SpynnakerPoissonControlConnection

RATE, T_MS = 500.0, 400_000.0


def test_live_rate_matches_pynn_rate_within_one_percent() -> None:
    conn = SpynnakerPoissonControlConnection(poisson_labels=["live"], local_port=0)
    conn.add_start_resume_callback("live", lambda label, c: c.set_rates("live", [(0, RATE)]))
    try:
        sim.setup(timestep=1.0, realtime=False)
        live = sim.Population(1, sim.SpikeSourcePoisson(rate=0.0), label="live")
        pynn = sim.Population(1, sim.SpikeSourcePoisson(rate=RATE), label="pynn")
        sim.external_devices.add_poisson_live_rate_control(
            live, database_notify_port_num=conn.local_port)
        live.record("spikes")
        pynn.record("spikes")
        sim.run(T_MS)
        t_live = np.asarray(live.get_data().segments[0].spiketrains[0].magnitude)
        t_pynn = np.asarray(pynn.get_data().segments[0].spiketrains[0].magnitude)
        sim.end()
    finally:
        conn.close()
    assert t_live.size > 0.5 * RATE * T_MS / 1000.0  # the rate arrived early in the run
    live_rate = (t_live.size - 1) / (T_MS - t_live[0]) * 1000.0
    pynn_rate = t_pynn.size / T_MS * 1000.0
    # ~200k spikes each: one standard deviation is 0.22 %, so 1 % is a 4.5-sigma bound
    assert abs(live_rate - RATE) < 0.01 * RATE, live_rate
    assert abs(pynn_rate - RATE) < 0.01 * RATE, pynn_rate
