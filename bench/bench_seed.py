"""Benchmark: the seed E-I network on spinnlive and on pyNN.nest in the same run, plus scaling.

Part 1 builds the seed network (the user's script, kept byte-identical as
tests/data/programming_spinnaker_seed.py: 250 Poisson sources at 50 Hz for 5 s, 250 SpikeSourceArray, 500 exc + 125 inh IF_curr_exp, FixedProbability
projections, ~90k synapses, delays uniform 1-10 ms, dt = 1 ms, exc+inh spikes recorded) with
the same PyNN script against ``spinnlive.pynn`` (lock-step mode) and ``pyNN.nest`` (on-grid and
precise spiking), and times ``run(5000)`` only: the network is built by ``run(0)`` first on the
spinnlive side (pyNN.nest builds at ``Projection``). Each of spinnlive and on-grid NEST is built
and run ``--repeats`` times and the fastest run kept (the machine is shared; the off-grid run,
5x slower, once). Numba's start-up (cache load, or compile when the cache is cold) is measured
separately on a tiny network first.

Part 2 runs balanced networks built directly on ``kernels.network.Network`` (80 % exc / 20 %
inh IF_curr_exp, in-degree 100 = 80 exc + 20 inh, delays 1-10 ms, bias current plus a Poisson
population of N/10 sources at 50 Hz with 10 inputs per neuron, all spikes recorded) of growing
size and prints the wall time per biological second, on one thread and on ``--threads``
(``Network.threads``: threaded delivery, the same results bit for bit) side by side, in
alternating chunks; real time means < 1 s per second. Large sizes run for less biological time
(printed) to keep the whole bench within ~3 minutes.

    .venv/bin/python bench/bench_seed.py [--skip-nest] [--only-scaling]
                                         [--sizes 1000,10000,50000,100000] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from pynn_scenarios import build_seed_network  # noqa: E402 - the one definition of the network

os.environ.setdefault("PYNEST_QUIET", "1")
warnings.filterwarnings("ignore")  # pyNN.nest's deprecation chatter

SIM_MS = 5000.0


def build_seed(sim: ModuleType) -> tuple[Any, Any, int]:
    """The seed script's network, as the NEST comparison tests build it; (exc, inh, synapses)."""
    exc, inh, projections = build_seed_network(sim, simtime=SIM_MS)
    return exc, inh, sum(p.size() for p in projections)


def time_seed(sim: ModuleType, prebuild: bool, repeats: int = 1,
              **setup: Any) -> tuple[float, int, int]:
    """(best wall s of run(5000) over ``repeats`` fresh builds, exc+inh spikes, synapses)."""
    best, n, n_syn = np.inf, 0, 0
    for _ in range(repeats):
        wall, n, n_syn = _time_seed_once(sim, prebuild, **setup)
        best = min(best, wall)
    return best, n, n_syn


def _time_seed_once(sim: ModuleType, prebuild: bool, **setup: Any) -> tuple[float, int, int]:
    sim.setup(timestep=1.0, min_delay=1.0, **setup)
    exc, inh, n_syn = build_seed(sim)
    if prebuild:
        sim.run(0)
    t0 = time.perf_counter()
    sim.run(SIM_MS)
    wall = time.perf_counter() - t0
    n = sum(len(st) for p in (exc, inh) for st in p.get_data("spikes").segments[0].spiketrains)
    sim.end()
    return wall, n, n_syn


def warm_up() -> float:
    """Import + first run of a tiny network: numba cache load (or compile if cold)."""
    t0 = time.perf_counter()
    import spinnlive.pynn as sim

    sim.setup(timestep=1.0, min_delay=1.0)
    src = sim.Population(2, sim.SpikeSourcePoisson(rate=50.0))
    arr = sim.Population(1, sim.SpikeSourceArray(spike_times=[2.0]))
    pop = sim.Population(2, sim.IF_curr_exp())
    sim.Projection(src, pop, sim.AllToAllConnector(), sim.StaticSynapse(weight=0.1, delay=1.0))
    sim.Projection(arr, pop, sim.AllToAllConnector(), sim.StaticSynapse(weight=0.1, delay=1.0))
    pop.record("spikes")
    sim.run(10.0)
    sim.end()
    return time.perf_counter() - t0


# -- part 2: scaling on the kernels directly ----------------------------------------------------
def build_balanced(n: int, seed: int = 1, exc_rule: Any = None) -> tuple[Any, list[int], int]:
    """The balanced network; ``exc_rule`` (a kernels plasticity rule) makes exc -> exc plastic."""
    from spinnlive.kernels import IFCurrExp, Network, PoissonGroup

    dt, k_exc, k_inh, k_ext = 1.0, 80, 20, 10
    n_exc, n_inh, n_ext = int(0.8 * n), n - int(0.8 * n), max(1, n // 10)
    rng = np.random.default_rng(seed)
    net = Network(dt)
    params = {"tau_refrac": 2.0, "i_offset": 0.55}
    ext = net.add_group(PoissonGroup(n_ext, dt, rate=50.0, rng=rng))
    exc = net.add_group(IFCurrExp(n_exc, dt, **params))
    inh = net.add_group(IFCurrExp(n_inh, dt, **params))
    for gid, size in ((exc, n_exc), (inh, n_inh)):
        net.groups[gid].set_initial_values(v=rng.uniform(-65.0, -50.0, size))
    n_syn = 0
    for pre, n_pre, k, w, rec in ((ext, n_ext, k_ext, 0.1, "excitatory"),
                                  (exc, n_exc, k_exc, 0.05, "excitatory"),
                                  (inh, n_inh, k_inh, 0.25, "inhibitory")):
        for post, n_post in ((exc, n_exc), (inh, n_inh)):
            pre_idx = rng.integers(0, n_pre, n_post * k)  # FixedNumberPre, multapses allowed
            post_idx = np.repeat(np.arange(n_post), k)
            delays = rng.integers(1, 11, pre_idx.size).astype(np.float64)
            rule = exc_rule if pre == exc and post == exc else None
            net.connect(pre, post, pre_idx, post_idx, w, delays, rec, rule=rule)
            n_syn += pre_idx.size
    for gid in (ext, exc, inh):
        net.record(gid, "spikes")
    return net, [exc, inh], n_syn


def plastic_rule() -> Any:
    """The exc -> exc rule of the plastic balanced network (additive STDP)."""
    from spinnlive.kernels.plasticity_rules import SpikePair

    return SpikePair(tau_plus=20.0, tau_minus=20.0, a_plus=0.01, a_minus=0.012, w_max=0.1)


def scaling(sizes: list[int], threads: int = 2, chunk: int = 50, plastic: bool = False) -> None:
    """Wall time per biological second, one thread and ``threads`` side by side (``plastic``:
    exc -> exc learning with :func:`plastic_rule`).

    The two alternate on the same network in chunks of ``chunk`` ticks (A B A B ...: switching
    is free, the results are the same bit for bit), so a machine whose load drifts slows both
    alike; the speed-up is the median of the per-pair ratios.
    """
    print(f"\nscaling: balanced IF_curr_exp networks{' with exc -> exc STDP' if plastic else ''}"
          f" on kernels.network.Network, dt = 1 ms, 1 vs {threads} threads in alternating "
          f"{chunk}-tick chunks; load average {os.getloadavg()[0]:.1f} at start")
    print(f"{'neurons':>8} {'synapses':>10} {'bio s':>6} {'build s':>8} {'s/bio s 1t':>10} "
          f"{f's/bio s {threads}t':>10} {'speed-up':>8} {'rate Hz':>8}  real time (best)")
    largest = {1: 0, threads: 0}
    for n in sizes:
        bio_ms = 2000.0 if n <= 10_000 else 1000.0
        t0 = time.perf_counter()
        net, neurons, n_syn = build_balanced(n, exc_rule=plastic_rule() if plastic else None)
        for t in (threads, 1):  # table build, split, and both loops loaded
            net.threads = t
            net.run(1)
        build = time.perf_counter() - t0
        walls: dict[int, list[float]] = {1: [], threads: []}
        done = 2
        while done + 2 * chunk <= bio_ms:
            for t in (1, threads):
                net.threads = t
                t0 = time.perf_counter()
                net.run(chunk)
                walls[t].append(time.perf_counter() - t0)
            done += 2 * chunk
        per_s = {t: float(np.median(w)) / (chunk / 1000.0) for t, w in walls.items()}
        gain = float(np.median(np.array(walls[1]) / np.array(walls[threads])))
        n_spk = sum(net.spikes(g)[0].size for g in neurons)
        rate = n_spk / n / (done / 1000.0)
        for t in walls:
            largest[t] = n if per_s[t] < 1.0 else largest[t]
        best = min(per_s.values())
        print(f"{n:>8} {n_syn:>10} {done / 1000:>6.1f} {build:>8.2f} {per_s[1]:>10.3f} "
              f"{per_s[threads]:>10.3f} {gain:>7.2f}x {rate:>8.1f}  {'yes' if best < 1 else 'no'}")
        del net
    print(f"largest size in real time: {largest[1]} neurons on 1 thread, {largest[threads]} on "
          f"{threads}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skip-nest", action="store_true")
    ap.add_argument("--only-scaling", action="store_true", help="part 2 only")
    ap.add_argument("--sizes", default="1000,10000,50000,100000")
    ap.add_argument("--threads", type=int, default=2, help="the threaded side of part 2")
    ap.add_argument("--plastic", action="store_true",
                    help="part 2 with exc -> exc additive STDP (bench_plasticity's network)")
    ap.add_argument("--repeats", type=int, default=3,
                    help="fresh builds per seed measurement; the best run() is kept (shared, "
                         "noisy machines)")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    if args.only_scaling:
        scaling(sizes, args.threads, plastic=args.plastic)
        return
    warm = warm_up()
    print(f"numba warm-up (import + first tiny run, cache load or compile): {warm:.2f} s")
    import spinnlive.pynn as spin

    walls = {}
    walls["spinnlive"], n_spin, n_syn = time_seed(spin, prebuild=True, repeats=args.repeats)
    print(f"seed network ({n_syn} synapses), {SIM_MS / 1000:g} s biological time, dt = 1 ms, "
          "run() wall time:")
    print(f"  spinnlive lock-step      {walls['spinnlive']:7.3f} s  "
          f"({walls['spinnlive'] / SIM_MS * 1e6:.1f} us/tick, {n_spin} exc+inh spikes)")
    if not args.skip_nest:
        import pyNN.nest as nest_sim

        for name, reps, kw in (
                ("NEST on_grid", args.repeats, {"spike_precision": "on_grid"}),
                ("NEST off_grid (default)", 1, {"spike_precision": "off_grid"})):
            walls[name], n_nest, _ = time_seed(nest_sim, prebuild=False, repeats=reps, **kw)
            print(f"  {name:<24} {walls[name]:7.3f} s  ({walls[name] / SIM_MS * 1e6:.1f} "
                  f"us/tick, {n_nest} exc+inh spikes)  ratio {name} / spinnlive: "
                  f"{walls[name] / walls['spinnlive']:.2f}")
    scaling(sizes, args.threads)


if __name__ == "__main__":
    main()
