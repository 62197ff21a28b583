"""Run a small network in NEST 3 in-process, set up the way pyNN.nest would set it up.

Used by the kernel tests as the numerical reference: cell parameters go through pyNN.nest's own
translation tables (``native_parameters``), weights are scaled and signed the way pyNN.nest
scales and signs them (pA/nS x1000; mV for IF_curr_delta/Izhikevich; inhibitory negative),
spike sources are spike_generators stamped on the grid, state is read with a multimeter.
"""

from __future__ import annotations

import contextlib
import copy
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

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
    # off-grid times go to the end of their step (Time::ms_stamp), as stamp_ticks does
    sg.set([{"spike_times": np.asarray(t, dtype=float), "allow_offgrid_times": True}
            for t in drive.trains])
    for i in range(len(drive.trains)):
        sel = drive.pre == i
        if not sel.any():
            continue
        sign = -1.0 if drive.inhibitory[i] else 1.0
        nest.Connect(sg[i], nrn[drive.post[sel].tolist()], "all_to_all",
                     syn_spec={"weight": (sign * scale * drive.weights[sel])[:, None],
                               "delay": drive.delays[sel][:, None]})
    return simulate_and_read(nrn, n, record, dt, t_stop)


def simulate_and_read(nrn: Any, n: int, record: Sequence[str], dt: float, t_stop: float
                      ) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Run NEST for ``t_stop`` ms with a spike recorder and a multimeter on the ``n`` neurons
    ``nrn``: the spikes as (ids, ticks) and each ``record`` variable as a (steps, n) array."""
    import nest

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


def _shift_by_min_delay(value: Any) -> Any:
    """``value - min_delay`` in whole tics (``Sequence``s, object arrays of them, or arrays)."""
    from pyNN.nest import simulator
    from pyNN.parameters import Sequence

    if isinstance(value, Sequence):
        return Sequence(_shift_by_min_delay(value.value))
    if isinstance(value, np.ndarray) and value.dtype == object:
        return np.array([_shift_by_min_delay(v) for v in value.ravel()],
                        dtype=object).reshape(value.shape)
    tics = np.rint(np.asarray(value, dtype=float) * 1000.0) - round(simulator.state.min_delay * 1000)
    return tics / 1000.0


@contextlib.contextmanager
def exact_pynn_nest() -> Iterator[None]:
    """pyNN.nest with two of its quirks corrected, so it is NEST's grid answer to the script.

    1. Its SpikeSourceArray feeds a spike_generator -> parrot chain and subtracts ``min_delay``
       from every time in floating point; NEST's ``Time::ms_stamp`` then truncates tics, so a
       time whose difference lands a hair above the grid moves one step later (4.4 - 0.1 =
       4.300000000000001 ms is stamped 4.4, the parrot spikes at 4.5): about 1 % of times at
       0.1 ms resolution on a 0.1 ms grid. Here the subtraction is done in whole tics.
    2. Its IF_curr_delta has no ``variable_map``, so ``initialize(v=...)`` and the default
       initial v never reach NEST ("NEST does not allow setting an initial value for v"), and
       iaf_psc_delta starts at its own V_m = -70 mV instead of PyNN's -65 mV.
    """
    from pyNN.nest.standardmodels import cells

    entry = cells.SpikeSourceArray.translations["spike_times"]
    forward = entry["forward_transform"]
    delta = cells.IF_curr_delta
    had_map = "variable_map" in vars(delta)

    def shifted(spike_times: Any) -> Any:
        out = copy.deepcopy(spike_times)
        out.apply(_shift_by_min_delay)
        return out

    entry["forward_transform"] = shifted
    delta.variable_map, delta.scale_factors = {"v": "V_m"}, {"v": 1}
    try:
        yield
    finally:
        entry["forward_transform"] = forward
        if not had_map:
            del delta.variable_map, delta.scale_factors
