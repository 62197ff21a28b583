"""The ``spinnlive`` command.

``spinnlive run SCRIPT.py [options] [-- SCRIPT-ARGS]`` runs a PyNN script (written for
``pyNN.spiNNaker`` or ``spinnlive.pynn``) on the embedded engine, unchanged: ``pyNN.spiNNaker`` is
aliased to ``spinnlive.pynn`` before the script starts. The bridge runs beside it (same process,
see :mod:`spinnlive.cli.run_bridge`), registered as the run's notification listener, and every
population streams live unless ``--stream`` says otherwise; once the database is ready the
command prints the discovery endpoint and the topics. Mapping, connection building and the run
show progress bars; at the end it prints a summary (rate per population, tick lateness, live-I/O
and bridge stream counters) and saves a raster plot of every population that recorded spikes.

``--backend spinnaker`` runs the same script through sPyNNaker itself (the ``spinnaker`` extra,
with sPyNNaker's own configuration for the board or spalloc), the bridge registered likewise.

``spinnlive bridge`` attaches a bridge to a toolchain started elsewhere; ``spinnlive listen``,
``inject`` and ``rates`` are command-line clients (:mod:`spinnlive.client`), and so are the live
state plane's ``state``, ``weights``, ``set-weights``, ``get`` and ``set``
(:mod:`spinnlive.cli.state`).

Progress display and logging set-up live here, not in the layers below.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import runpy
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from .. import progress
from ..bridge.options import add_bridge_options, bridge_config
from ..errors import SpinnliveError
from ..wire.topics import DEFAULT_DISCOVERY

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
    run.add_argument("--stream", nargs="+", default=["all"], metavar="all|none|LABEL",
                     help="populations given live output when the script asks for none "
                          "(default: all but the injectors)")
    run.add_argument("--no-bridge", action="store_true", help="run the script alone")
    run.add_argument("--monitor", action="store_true",
                     help="serve the live web monitor of the run (127.0.0.1, URL printed)")
    run.add_argument("--n-boards-required", type=_positive, default=None, metavar="N",
                     help="embedded: map on a machine of at least N boards, as sPyNNaker's "
                          "setup(n_boards_required=N); each board its own endpoint (spinnaker: "
                          "the machine comes from sPyNNaker's own cfg, unchanged)")
    add_bridge_options(run, notify_port=0)
    add_bridge_options(sub.add_parser("bridge",
                                      help="attach a bridge to a toolchain started elsewhere"))

    from ..monitor.command import add_arguments as add_monitor_arguments

    add_monitor_arguments(sub.add_parser(
        "monitor", help="a live web page of a running network (rasters, rates, counters)"))
    keys = sub.add_parser("keys", help="make CURVE keys for a bridge and its clients")
    keys.add_argument("directory", type=Path)
    listen = sub.add_parser("listen", help="print the spikes of populations as they arrive")
    listen.add_argument("topics", nargs="+", metavar="TOPIC", help="spikes/LABEL or LABEL")
    listen.add_argument("--count", type=int, default=None, help="stop after N messages")
    inject = sub.add_parser("inject", help="make neurons of an injector population spike")
    inject.add_argument("label")
    inject.add_argument("ids", nargs="+", type=int)
    rates = sub.add_parser("rates", help="set Poisson rates live: ID=HZ ...")
    rates.add_argument("label")
    rates.add_argument("pairs", nargs="+", metavar="ID=HZ")
    from ..adapters import record_replay

    record_replay.add_record_arguments(
        sub.add_parser("record", help="record every topic of a run (and the inputs sent to it)"))
    record_replay.add_replay_arguments(
        sub.add_parser("replay", help="replay a recording's inputs into a new run"))
    from .state import add_state_commands

    for client_command in (listen, inject, rates, *add_state_commands(sub)):
        client_command.add_argument("--discovery", default=DEFAULT_DISCOVERY)
        client_command.add_argument("--timeout", type=float, default=5.0)
        client_command.add_argument(
            "--curve", default=None, metavar="FILE",
            help="the client key file of 'spinnlive keys', for a bridge run with --curve")
    return parser


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    script_args: list[str] = []
    if "--" in argv:  # everything after -- belongs to the user's script
        cut = argv.index("--")
        argv, script_args = argv[:cut], argv[cut + 1:]
    args = _parser().parse_args(argv)
    args.script_args = script_args
    logging.basicConfig(level=args.log_level, format=LOG_FORMAT)
    from ..adapters import record_replay
    from ..monitor.command import command as monitor_command
    from .state import STATE_COMMANDS

    commands: dict[str, Callable[[argparse.Namespace], int]] = {"run": _run, "bridge": _bridge, "keys": _keys, "listen": _listen,
                "inject": _inject,
                "monitor": monitor_command,
                "rates": _rates, "record": record_replay.record_command,
                "replay": record_replay.replay_command, **STATE_COMMANDS}
    try:
        return commands[args.command](args)
    except SpinnliveError as e:
        logger.error("%s", e)
        return 1


def _say(text: str) -> None:
    print(text, flush=True)


def _keys(args: argparse.Namespace) -> int:
    from ..transport.curve import generate

    client_file, server_public, client_public = generate(args.directory)
    _say(f"server public key {server_public}\nclient public key {client_public}\n"
         f"bridge: --curve {args.directory}\nclients: spinnlive.connect(endpoint, "
         f"curve={str(client_file)!r}) (keep that file secret)")
    return 0


def _run(args: argparse.Namespace) -> int:
    script: Path = args.script
    if not script.is_file():
        logger.error("no such script: %s", script)
        return 2
    if args.clock is not None:
        os.environ["SPINNLIVE_CLOCK"] = args.clock
    argv = [str(script), *args.script_args]
    if args.backend == "spinnaker" and args.n_boards_required is not None:
        logger.error("--n-boards-required is for the embedded engine; on SpiNNaker the machine"
                     " is sPyNNaker's own: setup(n_boards_required=N) in the script, or its"
                     " cfg ([Machine] spalloc_server / machine_name / virtual_board ...)")
        return 2
    with _bridge_beside(args) as bridge:
        if args.backend == "spinnaker":
            return _run_on_spinnaker(script, argv, bridge)
        from ..pynn import simulator, spinnaker_compat
        from .run_bridge import attach_embedded, format_bridge_summary

        progress.enable()
        logger.info("running %s on the embedded engine", script)
        hooks = attach_embedded(bridge.notify if bridge is not None else None,
                                args.stream if bridge is not None else ("none",),
                                args.n_boards_required)
        with hooks:
            spinnaker_compat.run_script(script, args.script_args)
        engine = simulator.state.engine
        report = getattr(simulator.state, "last_report", None)
        print(format_summary(engine, report))
        if bridge is not None:
            print(format_bridge_summary(bridge.statistics()))
    if not args.no_plot:
        path = args.plot or Path(f"{script.stem}_raster.png")
        if save_raster(engine, path):
            print(f"raster plot: {path}")
    return 0


@contextlib.contextmanager
def _bridge_beside(args: argparse.Namespace) -> Iterator[Any]:
    """The bridge thread for ``run`` (None with ``--no-bridge``), closed when the run ends."""
    if args.no_bridge:
        yield None
        return
    from ..bridge.runner import BridgeThread

    thread = BridgeThread(bridge_config(args), say=_say)
    bridge = thread.start()
    monitor = None
    try:
        if getattr(args, "monitor", False):
            from ..monitor.command import spawn
            from .launch import stop

            monitor, url = spawn(bridge.endpoints["discovery"])
            _say(f"monitor: {url}")
        yield thread
    finally:
        if monitor is not None:
            stop(monitor)
        thread.stop()


def _run_on_spinnaker(script: Path, argv: list[str], bridge: Any) -> int:
    try:
        import spynnaker  # noqa: F401
    except ImportError:
        logger.error("--backend spinnaker needs sPyNNaker: pip install 'spinnlive[spinnaker]'")
        return 2
    from .run_bridge import attach_spynnaker, format_bridge_summary

    logger.info("running %s through sPyNNaker", script)
    hooks = (attach_spynnaker(bridge.notify) if bridge is not None
             else contextlib.nullcontext())
    saved = sys.argv
    sys.argv = argv
    try:
        with hooks:
            runpy.run_path(str(script), run_name="__main__")
    finally:
        sys.argv = saved
    if bridge is not None:
        print(format_bridge_summary(bridge.statistics()))
    return 0


def _bridge(args: argparse.Namespace) -> int:
    from ..bridge.runner import serve

    asyncio.run(serve(bridge_config(args), _say))
    return 0


def _listen(args: argparse.Namespace) -> int:
    from ..client import connect

    labels = [t.removeprefix("spikes/") for t in args.topics]

    async def listen() -> None:
        async with connect(args.discovery, timeout=args.timeout, curve=args.curve) as client:
            streams = [client.spikes(label) for label in labels]
            for stream in streams:
                await stream.ready()
            queue: asyncio.Queue[tuple[str, int, np.ndarray]] = asyncio.Queue(maxsize=1024)

            async def pump(stream: Any) -> None:
                async for tick, ids in stream:
                    await queue.put((stream.topic.decode(), tick, ids))

            tasks = [asyncio.ensure_future(pump(s)) for s in streams]
            try:
                seen = 0
                while args.count is None or seen < args.count:
                    topic, tick, ids = await queue.get()
                    _say(f"{topic} tick {tick} count {ids.size} ids "
                         f"{' '.join(map(str, ids.tolist()))}")
                    seen += 1
            finally:
                for task in tasks:
                    task.cancel()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(listen())
    return 0


def _inject(args: argparse.Namespace) -> int:
    from ..client import SyncClient

    with SyncClient(args.discovery, timeout=args.timeout, curve=args.curve) as client:
        client.inject(args.label, np.asarray(args.ids, dtype=np.int64))
    return 0


def _rates(args: argparse.Namespace) -> int:
    from ..client import SyncClient

    try:
        pairs = [pair.split("=", 1) for pair in args.pairs]
        ids = np.array([int(i) for i, _ in pairs], dtype=np.int64)
        hz = np.array([float(r) for _, r in pairs], dtype=np.float32)
    except ValueError:
        logger.error("rates: give ID=HZ pairs, e.g. 0=10 3=25.5")
        return 2
    with SyncClient(args.discovery, timeout=args.timeout, curve=args.curve) as client:
        client.set_rates(args.label, ids, hz)
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

