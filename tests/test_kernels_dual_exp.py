"""IF_curr_dual_exp (sPyNNaker's second excitatory receptor) against NEST 3's
iaf_psc_exp_multisynapse with receptors (E, E2, I), the same network in both: random 0.1 ms
trains onto every receptor with heterogeneous delays, i_offset and refractory periods, at dt
0.1 and 1.0. Same spike ticks, membrane within 1e-9 mV; and a third receptor's lane is its own
(its input reaches isyn_exc2 only)."""

from __future__ import annotations

import numpy as np
import pytest

nest = pytest.importorskip("nest")

from kernels_nest_reference import simulate_and_read  # noqa: E402

from spinnlive.errors import ConfigurationError  # noqa: E402
from spinnlive.kernels import MODELS, Network, SpikeArrayGroup  # noqa: E402

N, N_SRC, T_STOP = 10, 12, 200.0
RECEPTORS = ("excitatory", "excitatory2", "inhibitory")  # NEST's receptor ports 1, 2, 3


def _setup(dt: float) -> tuple[dict[str, np.ndarray], list[np.ndarray], list[tuple]]:
    rng = np.random.default_rng(int(dt * 10))
    params = {"tau_m": rng.choice([10.0, 20.0], N), "cm": rng.choice([1.0, 0.5], N),
              "v_rest": np.full(N, -65.0), "v_reset": rng.choice([-65.0, -70.0], N),
              "v_thresh": rng.choice([-50.0, -55.0], N),
              "tau_refrac": rng.choice([0.1, 2.05, 3.0], N),
              "i_offset": rng.choice([0.0, 0.5, 1.2], N),
              "tau_syn_E": rng.choice([5.0, 2.0], N), "tau_syn_E2": rng.choice([15.0, 1.0], N),
              "tau_syn_I": rng.choice([5.0, 8.0], N)}
    trains = [np.unique(np.round(rng.uniform(dt, T_STOP - 20, 40), 1)) for _ in range(N_SRC)]
    links = []
    for i in range(N_SRC):
        receptor = RECEPTORS[i % 3]
        post = np.flatnonzero(rng.random(N) < 0.6)
        links.append((i, receptor, post, rng.uniform(0.2, 1.5, post.size),
                      rng.integers(1, 30, post.size) * dt))
    return params, trains, links


def _nest(dt: float, params: dict[str, np.ndarray], trains: list[np.ndarray],
          links: list[tuple]) -> tuple[set[tuple[int, int]], np.ndarray]:
    nest.ResetKernel()
    nest.verbosity = nest.VerbosityLevel.ERROR
    nest.resolution = dt
    nrn = nest.Create("iaf_psc_exp_multisynapse", N)
    nrn.set([{"tau_m": params["tau_m"][j], "C_m": 1000.0 * params["cm"][j],
              "E_L": params["v_rest"][j], "V_reset": params["v_reset"][j],
              "V_th": params["v_thresh"][j], "t_ref": params["tau_refrac"][j],
              "I_e": 1000.0 * params["i_offset"][j], "V_m": params["v_rest"][j],
              "tau_syn": [params["tau_syn_E"][j], params["tau_syn_E2"][j],
                          params["tau_syn_I"][j]]} for j in range(N)])
    sg = nest.Create("spike_generator", N_SRC)
    sg.set([{"spike_times": t, "allow_offgrid_times": True} for t in trains])
    for i, receptor, post, w, d in links:
        sign = -1.0 if receptor == "inhibitory" else 1.0
        nest.Connect(sg[i], nrn[post.tolist()], "all_to_all",
                     syn_spec={"weight": (sign * 1000.0 * w)[:, None], "delay": d[:, None],
                               "receptor_type": RECEPTORS.index(receptor) + 1})
    ids, ticks, signals = simulate_and_read(nrn, N, ["V_m"], dt, T_STOP)
    return set(zip(ids.tolist(), ticks.tolist())), signals["V_m"]


def _ours(dt: float, params: dict[str, np.ndarray], trains: list[np.ndarray],
          links: list[tuple]) -> tuple[set[tuple[int, int]], np.ndarray]:
    net = Network(dt)
    src = net.add_group(SpikeArrayGroup(N_SRC, dt, trains))
    gid = net.add_group(MODELS["IF_curr_dual_exp"](N, dt, **params))
    for i, receptor, post, w, d in links:
        net.connect(src, gid, np.full(post.size, i), post, w, d, receptor)
    net.record(gid, "spikes")
    net.record(gid, "v")
    net.run(int(round(T_STOP / dt)))
    ids, times = net.spikes(gid)
    ticks = np.rint(times / dt).astype(np.int64)
    return set(zip(ids.tolist(), ticks.tolist())), net.signal(gid, "v")[1][1:-1]


@pytest.mark.parametrize("dt", [0.1, 1.0])
def test_dual_exp_matches_nest_multisynapse(dt: float) -> None:
    params, trains, links = _setup(dt)
    ref_spikes, ref_v = _nest(dt, params, trains, links)
    spikes, v = _ours(dt, params, trains, links)
    assert len(ref_spikes) > 10
    assert spikes == ref_spikes
    np.testing.assert_allclose(v, ref_v, rtol=0, atol=1e-9)


def test_the_second_excitatory_receptor_has_its_own_lane() -> None:
    net = Network(1.0)
    src = net.add_group(SpikeArrayGroup(1, 1.0, [np.array([1.0])]))
    other = net.add_group(MODELS["IF_curr_exp"](3, 1.0))
    gid = net.add_group(MODELS["IF_curr_dual_exp"](3, 1.0, tau_syn_E2=10.0))
    after = net.add_group(MODELS["IF_curr_exp"](3, 1.0))
    for target in (other, after):
        net.connect(src, target, [0], [1], 0.5, 1.0, "excitatory")
    net.connect(src, gid, [0], [1], 0.25, 1.0, "excitatory2")
    for var in ("isyn_exc", "isyn_exc2", "isyn_inh"):
        net.record(gid, var)
    net.record(other, "isyn_exc")
    net.record(after, "isyn_exc")
    net.run(5)
    exc2 = net.signal(gid, "isyn_exc2")[1]
    assert exc2[2, 1] == 0.25 and exc2[3, 1] == pytest.approx(0.25 * np.exp(-0.1))
    assert np.all(exc2[:, [0, 2]] == 0.0)
    assert np.all(net.signal(gid, "isyn_exc")[1] == 0.0)
    assert np.all(net.signal(gid, "isyn_inh")[1] == 0.0)
    for target in (other, after):  # the neighbours' columns are untouched
        assert net.signal(target, "isyn_exc")[1][2, 1] == 0.5
    with pytest.raises(ConfigurationError, match="no receptor 'excitatory2'"):
        net.connect(src, other, [0], [0], 0.1, 1.0, "excitatory2")
