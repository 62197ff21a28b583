"""Run a small network in NEST 3 in-process, set up the way pyNN.nest would set it up.

Used by the kernel tests as the numerical reference: cell parameters go through pyNN.nest's own
translation tables (``native_parameters``), weights are scaled and signed the way pyNN.nest
scales and signs them (pA/nS x1000; mV for IF_curr_delta/Izhikevich; inhibitory negative),
spike sources are spike_generators stamped on the grid, state is read with a multimeter.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

os.environ.setdefault("PYNEST_QUIET", "1")


@dataclass(frozen=True)
class Drive:
    """Spike sources and one-receptor-per-source connections onto ``n`` neurons."""

    trains: list[np.ndarray]  # spike times (ms) per source
    inhibitory: np.ndarray  # bool per source
    pre: np.ndarray
    post: np.ndarray  # for each source, its targets are sorted and unique
    weights: np.ndarray  # magnitudes in the PyNN unit of the model
    delays: np.ndarray  # ms


def native_params(pynn_name: str, params: dict[str, np.ndarray], n: int) -> list[dict]:
    """Per-neuron NEST parameter dicts, translated by pyNN.nest itself."""
    from pyNN.nest.standardmodels import cells

    out = []
    for j in range(n):
        celltype = getattr(cells, pynn_name)(**{k: float(v[j]) for k, v in params.items()})
        ps = celltype.native_parameters
        ps.shape = (1,)
        ps.evaluate(simplify=True)
        out.append({k: float(np.asarray(v).ravel()[0]) for k, v in ps.as_dict().items()})
    return out


def run_nest(pynn_name: str, params: dict[str, np.ndarray], n: int, dt: float, drive: Drive,
             t_stop: float, record: tuple[str, ...] = ("V_m",),
             initial: dict[str, float] | None = None
             ) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Simulate; returns spike (ids, ticks) and ``{var: array[n_steps, n]}`` sampled after each
    step (time (k+1)*dt)."""
    import nest
    from pyNN.nest.standardmodels import cells

    celltype = getattr(cells, pynn_name)
    nest.ResetKernel()
    nest.verbosity = nest.VerbosityLevel.ERROR
    nest.resolution = dt
    nrn = nest.Create(celltype.nest_name["on_grid"], n)
    nrn.set(native_params(pynn_name, params, n))
    if initial:
        nrn.set(initial)
    scale = 1000.0 * getattr(celltype, "receptor_scale", 1.0)
    sg = nest.Create("spike_generator", len(drive.trains))
    sg.set([{"spike_times": np.asarray(t, dtype=float)} for t in drive.trains])
    for i in range(len(drive.trains)):
        sel = drive.pre == i
        if not sel.any():
            continue
        sign = -1.0 if drive.inhibitory[i] else 1.0
        nest.Connect(sg[i], nrn[drive.post[sel].tolist()], "all_to_all",
                     syn_spec={"weight": (sign * scale * drive.weights[sel])[:, None],
                               "delay": drive.delays[sel][:, None]})
    rec = nest.Create("spike_recorder")
    nest.Connect(nrn, rec)
    mm = nest.Create("multimeter", params={"record_from": list(record), "interval": dt})
    nest.Connect(mm, nrn)
    nest.Simulate(t_stop)
    ev = rec.get("events")
    ids = np.asarray(ev["senders"]) - nrn[0].global_id
    ticks = np.rint(np.asarray(ev["times"]) / dt).astype(np.int64)
    mev = mm.get("events")
    senders = np.asarray(mev["senders"]) - nrn[0].global_id
    times = np.asarray(mev["times"])
    order = np.lexsort((senders, times))
    signals = {var: np.asarray(mev[var])[order].reshape(-1, n) for var in record}
    # the multimeter stamps the state after step k with (k + 1) * dt, from dt on
    assert np.allclose(np.unique(times), dt * np.arange(1, len(signals[record[0]]) + 1))
    return ids, ticks, signals
