"""The seed E-I network as a user runs it: one script, one process, on either backend.

Build the network (``tests/pynn_scenarios.build_seed_network``, the one definition the NEST
comparison tests and ``bench_seed.py`` use), ``run(5000)``, read the spikes with ``get_data``
and print the rates. ``bench_startup.py`` times this whole process against the same script on
pyNN.nest; run it alone to see what a user sees:

    .venv/bin/python bench/seed_script.py spinnlive|nest [--first-tick]

``--first-tick`` prints ``first tick at <unix time>`` when the engine starts ticking (spinnlive:
its "Simulating" log line; pyNN.nest: just before ``run``), so a caller can time start-up.
"""

from __future__ import annotations

import logging
import os
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

os.environ.setdefault("PYNEST_QUIET", "1")
warnings.filterwarnings("ignore")  # pyNN.nest's deprecation chatter


class _FirstTick(logging.Handler):
    """Prints the wall clock at the engine's "Simulating" line (the tick loop starts next)."""

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("Simulating"):
            print(f"first tick at {time.time():.3f}", flush=True)


def main() -> None:
    backend = sys.argv[1] if len(sys.argv) > 1 else "spinnlive"
    first_tick = "--first-tick" in sys.argv
    if backend == "spinnlive":
        import spinnlive.pynn as sim

        setup = {}
        if first_tick:
            log = logging.getLogger("spinnlive.engine.run_control")
            log.setLevel(logging.INFO)
            log.addHandler(_FirstTick())
    elif backend == "nest":
        import pyNN.nest as sim

        setup = {"spike_precision": "on_grid"}
    else:
        raise SystemExit(f"backend is spinnlive or nest, not {backend!r}")
    from pynn_scenarios import build_seed_network

    sim.setup(timestep=1.0, min_delay=1.0, **setup)
    exc, inh, _ = build_seed_network(sim, simtime=5000.0)
    if first_tick and backend == "nest":
        print(f"first tick at {time.time():.3f}", flush=True)
    sim.run(5000.0)
    rates = [sum(len(st) for st in p.get_data("spikes").segments[0].spiketrains) / p.size / 5.0
             for p in (exc, inh)]
    sim.end()
    print(f"{backend}: exc {rates[0]:.2f} Hz, inh {rates[1]:.2f} Hz")


if __name__ == "__main__":
    main()
