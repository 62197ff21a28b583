"""The tick loop compiled per set of neuron models, and the notice on a cold kernel cache."""

from __future__ import annotations

from pathlib import Path

import pytest
from subprocesses import run_python

from spinnlive.kernels import loops
from spinnlive.kernels.neurons_ode import IFCondExp
from spinnlive.kernels.neurons_psc import IFCurrExp

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
