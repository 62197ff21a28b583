"""Benchmark: the seed network (250 Poisson + 250 array sources, 500 exc + 125 inh IF_curr_exp,
~90k synapses, delays 1-10 ms) for 5000 ticks at dt 0.1 ms, spikes of every group recorded.

Prints the kernels' wall time per tick and in total for ``run(n)`` (one compiled call) and for
``step()`` called once per tick (the live path), NEST 3 (on-grid iaf_psc_exp, same network)
measured in the same run as the peer, and the numba start-up cost separately: a cold compile of
all kernels (fresh cache directory, in a subprocess) and the warm first call (cache load).

    .venv/bin/python bench/bench_kernels.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

import numpy as np

os.environ.setdefault("PYNEST_QUIET", "1")

DT, TICKS, SEED = 0.1, 5000, 1
N_POISSON, N_ARRAY, N_EXC, N_INH, P_CONN = 250, 250, 500, 125, 0.128
RATE = 20.0
W_EXC, W_INH, W_IN = 0.08, 0.3, 0.12


def make_network_spec() -> dict:
    rng = np.random.default_rng(SEED)
    trains = [np.unique(np.ceil(rng.uniform(0, TICKS * DT, rng.poisson(RATE * TICKS * DT / 1000))
                                / DT)) * DT for _ in range(N_ARRAY)]
    trains = [t[t > DT] for t in trains]
    sizes = {"poisson": N_POISSON, "array": N_ARRAY, "exc": N_EXC, "inh": N_INH}
    conns = []
    for pre, w, rec in (("poisson", W_IN, "excitatory"), ("array", W_IN, "excitatory"),
                        ("exc", W_EXC, "excitatory"), ("inh", W_INH, "inhibitory")):
        for post in ("exc", "inh"):
            mask = rng.random((sizes[pre], sizes[post])) < P_CONN
            i, j = np.nonzero(mask)
            d = rng.integers(10, 101, i.size) * DT  # 1.0 .. 10.0 ms
            conns.append((pre, post, i, j, w, d, rec))
    return {"trains": trains, "sizes": sizes, "conns": conns}


def run_kernels(spec: dict) -> tuple[float, float, int, float]:
    from spinnlive.kernels import IFCurrExp, Network, PoissonGroup, SpikeArrayGroup

    net = Network(DT)
    s = spec["sizes"]
    gids = {
        "poisson": net.add_group(PoissonGroup(s["poisson"], DT, rate=RATE,
                                              rng=np.random.default_rng(SEED))),
        "array": net.add_group(SpikeArrayGroup(s["array"], DT, spec["trains"])),
        "exc": net.add_group(IFCurrExp(s["exc"], DT, i_offset=0.3)),
        "inh": net.add_group(IFCurrExp(s["inh"], DT, i_offset=0.3)),
    }
    for pre, post, i, j, w, d, rec in spec["conns"]:
        net.connect(gids[pre], gids[post], i, j, w, d, rec)
    for gid in gids.values():
        net.record(gid, "spikes")
    t0 = time.perf_counter()
    net.step()  # first call: numba cache load (or compile) and table build
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    net.run(TICKS - 1)
    wall = time.perf_counter() - t0
    n_spikes = sum(net.spikes(g)[0].size for g in (gids["exc"], gids["inh"]))
    net.reset()
    net.step()
    t0 = time.perf_counter()
    for _ in range(TICKS - 1):
        net.step()
    per_step = (time.perf_counter() - t0) / (TICKS - 1)
    return first, wall, n_spikes, per_step


def run_nest(spec: dict) -> tuple[float, int]:
    import nest

    nest.ResetKernel()
    nest.verbosity = nest.VerbosityLevel.ERROR
    nest.resolution = DT
    s = spec["sizes"]
    pg = nest.Create("poisson_generator", params={"rate": RATE})
    pois = nest.Create("parrot_neuron", s["poisson"])
    nest.Connect(pg, pois)
    sg = nest.Create("spike_generator", s["array"])
    sg.set([{"spike_times": t} for t in spec["trains"]])
    arr = nest.Create("parrot_neuron", s["array"])
    nest.Connect(sg, arr, "one_to_one")
    p = {"I_e": 300.0, "E_L": -65.0, "V_m": -65.0, "V_reset": -65.0, "V_th": -50.0, "C_m": 1000.0,
         "tau_m": 20.0, "t_ref": 0.1, "tau_syn_ex": 5.0, "tau_syn_in": 5.0}
    pops = {"poisson": pois, "array": arr, "exc": nest.Create("iaf_psc_exp", s["exc"], p),
            "inh": nest.Create("iaf_psc_exp", s["inh"], p)}
    for pre, post, i, j, w, d, rec in spec["conns"]:
        sign = -1.0 if rec == "inhibitory" else 1.0
        ids_pre, ids_post = np.asarray(pops[pre].tolist()), np.asarray(pops[post].tolist())
        nest.Connect(ids_pre[i], ids_post[j], "one_to_one", syn_spec={"weight": sign * 1000.0 * w * np.ones(i.size), "delay": d})
    rec = nest.Create("spike_recorder")
    for g in pops.values():
        nest.Connect(g, rec)
    t0 = time.perf_counter()
    nest.Simulate(TICKS * DT)
    wall = time.perf_counter() - t0
    ev = rec.get("events")
    first_neuron = pops["exc"][0].global_id
    return wall, int(np.sum(np.asarray(ev["senders"]) >= first_neuron))


COLD = """
import time, numpy as np
t0 = time.perf_counter()
from spinnlive.kernels import MODELS, Network, SpikeArrayGroup
net = Network(0.1)
s = net.add_group(SpikeArrayGroup(1, 0.1, [np.array([1.0])]))
for name, cls in MODELS.items():
    g = net.add_group(cls(2, 0.1))
    net.connect(s, g, [0], [0], 0.1, 1.0)
net.step()
print(time.perf_counter() - t0)
"""


def main() -> None:
    spec = make_network_spec()
    n_syn = sum(c[2].size for c in spec["conns"])
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        cold = float(subprocess.run([sys.executable, "-c", COLD], env=env, check=True,
                                    capture_output=True, text=True).stdout.split()[-1])
    first, wall, n_k, per_step = run_kernels(spec)
    print(f"network: {sum(spec['sizes'].values())} cells, {n_syn} synapses, "
          f"{TICKS} ticks of {DT} ms")
    print(f"numba cold compile of all kernels (import+compile, fresh cache): {cold:.2f} s")
    print(f"kernels first step (cache load + table build): {first * 1e3:.1f} ms")
    print(f"kernels: {wall:.3f} s for {TICKS - 1} ticks = {wall / (TICKS - 1) * 1e6:.1f} us/tick, "
          f"{n_k} neuron spikes (run(n): one compiled call)")
    print(f"kernels step() one tick at a time (the live path): {per_step * 1e6:.1f} us/tick")
    try:
        nest_wall, n_n = run_nest(spec)
    except ImportError:
        print("NEST not installed: no peer measurement")
        return
    print(f"NEST 3 on-grid: {nest_wall:.3f} s = {nest_wall / TICKS * 1e6:.1f} us/tick, "
          f"{n_n} neuron spikes")
    print(f"ratio NEST / kernels: {nest_wall / wall:.2f}")


if __name__ == "__main__":
    main()
