"""Numerical kernels of the embedded engine (installed as ``spinnlive.kernels``).

Structure-of-arrays float64 state, PyNN units (ms, mV, nF, nA, uS, Hz), integer ticks inside,
NEST 3.10 as the numerical reference (spike times equal NEST's on the grid for the current-based
models). No I/O and no logging here. The hot loops are ``numba.njit(cache=True)`` functions;
``Network.run`` is one compiled call for all its ticks (``ticks.run_ticks``: every group's
update and spike delivery), ``step`` one call per tick. A cold cache compiles everything once
(~8 s) into ``kernels/__pycache__``; later processes load it (~1 s, mostly numba's typed-list
start-up); ``bench/bench_kernels.py`` and ``bench/bench_seed.py`` report both.

API
---
``neurons.MODELS``: PyNN name -> ``NeuronGroup`` subclass (IF_curr_exp, IF_curr_alpha,
IF_curr_delta, IF_cond_exp, IF_cond_alpha, EIF_cond_exp_isfa_ista, EIF_cond_alpha_isfa_ista,
Izhikevich). ``Model(n, dt, **params)``; ``PARAMETERS``/``STATE``
(PyNN defaults), ``params``/``state`` (arrays updated in place), ``set_parameters(ids=None, **a)``,
``set_initial_values(ids=None, **a)``, ``reset_state()``,
``step(exc, inh, i_ext) -> spiking indices``. ``exc``/``inh`` are positive magnitudes arriving
this tick (nA; uS for the conductance models; mV jumps for IF_curr_delta and Izhikevich); ``i_ext`` is the
injected current (nA) during this tick or None. ``isyn_inh`` is recorded signed (negative).

``sources``: ``PoissonGroup(n, dt, rate, start, duration, rng)`` (``set_rates(ids, rates)``,
from the next step; ``reset_state`` replays the same spikes), ``SpikeArrayGroup(n, dt,
spike_times)`` (``set_spike_times``), ``VariablePoissonGroup(n, dt, rates, starts,
durations, rng)`` (sPyNNaker's rate schedules), ``GammaGroup``/``PoissonRefractoryGroup``
(renewal sources, PoissonGroup's kernel), ``InjectorGroup(n)``; all have ``step(tick)``,
``inject(ids)`` and ``reset_state()``.

``currents``: ``DCSource``, ``StepCurrentSource``, ``ACSource``, ``NoisyCurrentSource``: objects
whose ``step(tick)`` gives the current of each attached target during that tick with
pyNN.nest's timing (see that module), ``record()``/``recorded()``.

``synapses``: ``ConnectionTable`` (CSR by presynaptic index) and ``DelayBuffer(n_post,
max_delay)`` (ring of excitatory+inhibitory input).

``plasticity_rules``: ``SpikePair``, ``NearestPair``, ``Vogels``, ``Triplet``, ``Tsodyks``,
``Bernoulli``, ``Reward`` (NEST's native parameters, PyNN's units); ``plasticity``: their state and compiled
updates (semantics in its docstring). ``connect(..., rule=Rule)`` makes a connection plastic.

``network.Network(dt)``: ``add_group`` -> gid; ``connect(pre_gid, post_gid, pre_idx, post_idx,
weights, delays_ms, receptor, rule=None)`` -> ``Connection`` handle (``weights``, ``delays``
readable and settable, a learning connection's weights as learned; between ticks
``synapses(pre, post)`` -> positions of those pairs' synapses, ``read_weights(at)``,
``write_weights(values, at)``, applied from the next tick); ``add_current(gid, source, indices)``; ``record(gid, 'spikes' | state name,
indices=None)``; ``step()`` -> per-group spiking indices; ``run(n)``; ``spike_counts()`` ->
spikes per group since reset (recorded or not); ``inject(gid, ids)`` (emitted by the next
step); ``inject_arrived(gid, ids, tick)`` (live input that arrived while ``tick`` ran: emitted
in it, as a board's injector core does); ``tick``; ``spikes(gid) -> (ids, times_ms)``;
``signal(gid, var) -> (times_ms, values[n_samples, n_recorded])``; ``reset()`` (tick 0, initial state, buffers cleared, recorded
data **cleared**: read it first). Times are NEST's: a spike of tick ``k`` has time
``(k + 1) * dt``; state samples are at 0 (before tick 0) and ``(k + 1) * dt`` after tick ``k``.

Delays are rounded to ticks as NEST does (``round(d / dt)``, at least 1 tick).
"""

from __future__ import annotations

from .currents import ACSource, CurrentSource, DCSource, NoisyCurrentSource, StepCurrentSource
from .network import Connection, Network
from .neurons import (
    MODELS,
    IFCondExp,
    IFCurrAlpha,
    IFCurrDelta,
    IFCurrExp,
    Izhikevich,
    NeuronGroup,
)
from .sources import (
    GammaGroup,
    InjectorGroup,
    PoissonGroup,
    PoissonRefractoryGroup,
    SourceGroup,
    SpikeArrayGroup,
    VariablePoissonGroup,
)
from .synapses import ConnectionTable, DelayBuffer

__all__ = [
    "MODELS", "ACSource", "Connection", "ConnectionTable", "CurrentSource", "DCSource",
    "DelayBuffer", "GammaGroup", "IFCondExp", "IFCurrAlpha", "IFCurrDelta", "IFCurrExp",
    "InjectorGroup", "Izhikevich", "Network", "NeuronGroup", "NoisyCurrentSource",
    "PoissonGroup", "PoissonRefractoryGroup", "SourceGroup", "SpikeArrayGroup",
    "StepCurrentSource", "VariablePoissonGroup",
]
