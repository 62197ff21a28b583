"""The tick loop compiled per set of neuron models, and the notice on a cold kernel cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from subprocesses import run_python

from spinnlive.kernels import loops
from spinnlive.kernels.network import Network
from spinnlive.kernels.neurons_ode import IFCondExp
from spinnlive.kernels.neurons_psc import IFCurrExp
from spinnlive.kernels.plasticity_rules import SpikePair
from spinnlive.kernels.sources import PoissonGroup

TINY_RUN = """
import spinnlive.pynn as sim
sim.setup(timestep=1.0)
src = sim.Population(2, sim.SpikeSourcePoisson(rate=100.0))
pop = sim.Population(2, sim.IF_curr_exp())
sim.Projection(src, pop, sim.AllToAllConnector(), sim.StaticSynapse(weight=0.5, delay=1.0))
sim.run(20.0)
sim.end()
print("RUN DONE")
"""


def test_the_generated_loop_names_only_the_models_asked_for() -> None:
    names = loops._names({IFCurrExp.KIND: IFCurrExp.KERNEL})
    assert names is not None
    text = loops.module_text(names)
    assert "_psc_exp_kernel" in text and "_cond_exp_kernel" not in text
    assert loops.sources_digest() in text  # editing any kernel file changes the module


def test_a_loop_is_generated_once_and_its_file_kept_while_unchanged() -> None:
    kernels = {IFCurrExp.KIND: IFCurrExp.KERNEL, IFCondExp.KIND: IFCondExp.KERNEL}
    first = loops.tick_loop(kernels)
    assert loops.tick_loop(dict(reversed(kernels.items()))) is first
    path = Path(first.py_func.__code__.co_filename)
    stamp = path.stat().st_mtime_ns
    loops._write_if_changed(path, path.read_text())
    assert path.stat().st_mtime_ns == stamp  # numba's cache of it stays valid


@pytest.mark.timeout(900)  # two processes, the first compiling on a busy machine
async def test_a_cold_kernel_cache_is_compiled_with_a_notice_once(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    env = {"NUMBA_CACHE_DIR": str(cache)}
    code, out, err = await run_python(TINY_RUN, [], tmp_path, timeout=600, env=env)
    assert code == 0 and "RUN DONE" in out, err[-3000:]
    assert "Compiling the engine's kernels for IF_curr_exp, once per install" in err, err
    assert "Compiled the engine's kernels in" in err, err
    code, out, err = await run_python(TINY_RUN, [], tmp_path, timeout=600, env=env)
    assert code == 0 and "RUN DONE" in out, err[-3000:]
    assert "ompil" not in err, err  # the second process loads what the first compiled


WARM_UP_AND_IMPORT = """
import sys
from spinnlive.engine import kernel_build

handle = kernel_build.start_warm_up(("IF_curr_exp",), 1.0)
# the warm-up thread is running: the kernel modules must be whole already, or this thread's
# next import races the thread's and may see a partially initialised module
names = ("spinnlive.kernels", "spinnlive.kernels.network", "spinnlive.kernels.ticks",
         "spinnlive.kernels.loops", "spinnlive.kernels.neurons", "spinnlive.kernels.sources")
half = [n for n in names
        if n not in sys.modules or getattr(sys.modules[n].__spec__, "_initializing", False)]
from spinnlive.kernels.network import Network
handle.join()
print("HALF", half)
"""


async def test_the_warm_up_thread_starts_with_every_kernel_module_imported(tmp_path) -> None:
    """The kernels' modules are imported in the caller's thread before the warm-up thread
    starts, so a network built meanwhile never meets a half-imported module."""
    code, out, err = await run_python(WARM_UP_AND_IMPORT, [], tmp_path, timeout=300)
    assert code == 0, err[-3000:]
    assert "HALF []" in out, out


def _poisson_network(rule: object = None) -> Network:
    net = Network(1.0)
    drive = net.add_group(PoissonGroup(20, 1.0, rate=np.full(20, 400.0), start=np.zeros(20),
                                       duration=np.full(20, 1e9),
                                       rng=np.random.default_rng(7)))
    cells = net.add_group(IFCurrExp(10, 1.0))
    net.connect(drive, cells, np.repeat(np.arange(20), 10), np.tile(np.arange(10), 20),
                0.4, 1.0, rule=rule)
    net.record(cells, "spikes")
    net.record(cells, "v")
    return net


def test_a_static_network_gets_the_loop_without_plasticity_and_a_plastic_one_with_it() -> None:
    names = loops._names({IFCurrExp.KIND: IFCurrExp.KERNEL})
    assert names is not None
    static, plastic = loops.module_text(names, plastic=False), loops.module_text(names)
    assert "def pre_spikes(" in static and "def record_post(" in static
    assert "def pre_spikes(" not in plastic and "def record_post(" not in plastic
    nets = {"static": _poisson_network(), "plastic": _poisson_network(SpikePair())}
    for net in nets.values():
        net.prepare()
    assert nets["static"]._loop.py_func.__module__.endswith("_static")
    assert not nets["plastic"]._loop.py_func.__module__.endswith("_static")


def test_the_loop_without_plasticity_runs_a_static_network_bit_for_bit_as_the_full_one() -> None:
    kernels = {IFCurrExp.KIND: IFCurrExp.KERNEL}
    runs = []
    for plastic in (False, True):
        net = _poisson_network()
        net.prepare()
        net._loop = loops.tick_loop(kernels, plastic=plastic)
        net.run(300)
        runs.append((*net.spikes(1), net.signal(1, "v")[1]))
    assert runs[0][0].size > 50  # the cells fire, so delivery and emission both ran
    for a, b in zip(runs[0], runs[1], strict=True):
        assert np.array_equal(a, b)
