"""The ``spinnlive`` command.

``spinnlive run SCRIPT.py [options] [-- SCRIPT-ARGS]`` runs a PyNN script (written for ``pyNN.spiNNaker`` or
``spinnlive.pynn``) on the embedded engine, unchanged: ``pyNN.spiNNaker`` is aliased to
``spinnlive.pynn`` before the script starts. Mapping, connection building and the run show
progress bars; at the end the command prints a summary (rate per population, tick lateness,
live-I/O counters) and saves a raster plot of every population that recorded spikes.

``--backend spinnaker`` runs the same script through sPyNNaker itself (the ``spinnaker`` extra,
with sPyNNaker's own configuration for the board or spalloc), for networks that outgrow one
machine.

Progress display and logging set-up live here, not in the layers below.
"""

from __future__ import annotations

import argparse
import logging
import os
import runpy
import sys
from pathlib import Path
from typing import Any

from . import progress

logger = logging.getLogger("spinnlive")

LOG_FORMAT = "%(asctime)s %(levelname)s: %(message)s"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="spinnlive", description=__doc__.split("\n\n")[0])
    parser.add_argument("--log-level", default="INFO",
                        choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run a PyNN script on the embedded engine or on SpiNNaker")
    run.add_argument("script", type=Path, help="the PyNN script")
    run.add_argument("--backend", choices=["embedded", "spinnaker"], default="embedded")
    clock = run.add_mutually_exclusive_group()
    clock.add_argument("--realtime", dest="clock", action="store_const", const="realtime",
                       help="each 1 ms tick at its wall-clock deadline (default with live I/O)")
    clock.add_argument("--fast", dest="clock", action="store_const", const="fast",
                       help="lock-step, as fast as possible (default without live I/O)")
    plot = run.add_mutually_exclusive_group()
    plot.add_argument("--plot", type=Path, default=None,
                      help="where to save the raster plot (default: <script>_raster.png)")
    plot.add_argument("--no-plot", action="store_true")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    script_args: list[str] = []
    if "--" in argv:  # everything after -- belongs to the user's script
        cut = argv.index("--")
        argv, script_args = argv[:cut], argv[cut + 1:]
    args = _parser().parse_args(argv)
    args.script_args = script_args
    logging.basicConfig(level=args.log_level, format=LOG_FORMAT)
    if args.command == "run":
        return _run(args)
    raise AssertionError(args.command)  # argparse refuses unknown commands


def _run(args: argparse.Namespace) -> int:
    script: Path = args.script
    if not script.is_file():
        logger.error("no such script: %s", script)
        return 2
    if args.clock is not None:
        os.environ["SPINNLIVE_CLOCK"] = args.clock
    argv = [str(script), *args.script_args]
    if args.backend == "spinnaker":
        return _run_on_spinnaker(script, argv)

    from .pynn import simulator, spinnaker_compat

    progress.enable()
    logger.info("running %s on the embedded engine", script)
    spinnaker_compat.run_script(script, argv)
    engine = simulator.state.engine
    report = getattr(simulator.state, "last_report", None)
    print(format_summary(engine, report))
    if not args.no_plot:
        path = args.plot or Path(f"{script.stem}_raster.png")
        if save_raster(engine, path):
            print(f"raster plot: {path}")
    return 0


def _run_on_spinnaker(script: Path, argv: list[str]) -> int:
    try:
        import spynnaker  # noqa: F401
    except ImportError:
        logger.error("--backend spinnaker needs sPyNNaker: pip install 'spinnlive[spinnaker]'")
        return 2
    logger.info("running %s through sPyNNaker", script)
    sys.argv = argv
    runpy.run_path(str(script), run_name="__main__")
    return 0


def recorded_spikes(engine: Any) -> dict[str, tuple[Any, Any, int]]:
    """label -> (ids, times_ms, size) for every population that recorded spikes."""
    out = {}
    for rec in engine.populations:
        if (rec.key, "spikes") in engine.recordings and engine.net is not None:
            ids, times = engine.spikes(rec.key)
            out[rec.label] = (ids, times, rec.size)
    return out


def format_summary(engine: Any, report: Any) -> str:
    """A few lines a person reads at the end of a run."""
    if report is not None and hasattr(report, "format"):
        return str(report.format())
    lines = [f"simulated {engine.tick} ticks of {engine.dt:g} ms"]
    seconds = max(engine.tick * engine.dt / 1000.0, 1e-12)
    for label, (ids, _times, size) in recorded_spikes(engine).items():
        lines.append(f"  {label:<24} {size:>7} neurons {len(ids) / size / seconds:8.2f} Hz")
    for phase in engine.phases:
        lines.append(f"  {phase.name:<24} {phase.seconds:8.3f} s")
    return "\n".join(lines)


def save_raster(engine: Any, path: Path) -> bool:
    """One raster panel per population that recorded spikes; False when there is none."""
    spikes = recorded_spikes(engine)
    if not spikes:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(spikes), 1, sharex=True, squeeze=False,
                             figsize=(10, 2.2 * len(spikes) + 0.6))
    for ax, (label, (ids, times, size)) in zip(axes[:, 0], spikes.items(), strict=True):
        ax.plot(times, ids, "|", markersize=2, color="k")
        ax.set_ylim(-0.5, size - 0.5)
        ax.set_ylabel(f"{label}\nneuron")
    axes[-1, 0].set_xlabel("time (ms)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


if __name__ == "__main__":
    raise SystemExit(main())
