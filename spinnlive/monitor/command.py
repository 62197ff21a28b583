"""Starting a monitor: the options of ``spinnlive monitor`` and the loop that serves it.

``spinnlive monitor`` (and ``python -m spinnlive.monitor``) serve the page in the foreground;
``spinnlive run --monitor`` starts the same command as a child process (:func:`spawn`), so the
page's work never shares a GIL with the engine's tick thread.

The monitor is an observer: by default it lowers its own scheduling priority (``--nice 19``)
before it opens any socket (so its ZeroMQ I/O thread inherits it), and where the CPUs are busy
it is the one that falls behind, counting what it missed, never the bridge or its subscribers.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import logging
import os
import signal
import subprocess
import sys

from spinnlive.errors import ConfigurationError
from spinnlive.monitor.server import Monitor, MonitorConfig
from spinnlive.wire.topics import DEFAULT_DISCOVERY

__all__ = ["add_arguments", "config_from", "main", "serve", "spawn"]

logger = logging.getLogger(__name__)

#: The line that announces the page; ``spawn`` reads it from the child's stdout.
URL_PREFIX = "monitor: "
#: The monitor's default niceness increment: it runs on what the bridge leaves.
DEFAULT_NICE = 19


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--discovery", default=DEFAULT_DISCOVERY,
                   help=f"the bridge's discovery endpoint (default {DEFAULT_DISCOVERY})")
    p.add_argument("--host", default="127.0.0.1", help="where the page listens (127.0.0.1)")
    p.add_argument("--port", type=int, default=0, help="the page's port (default: a free one)")
    p.add_argument("--frame-ms", type=float, default=50.0, help="display frame period")
    p.add_argument("--window", type=float, default=5.0, help="seconds of raster history")
    p.add_argument("--max-in-flight", type=int, default=4,
                   help="frames a page may be behind before frames are dropped for it")
    p.add_argument("--exact-max", type=int, default=1024,
                   help="events of one population per frame drawn one by one; above that the "
                        "frame carries its raster binned at pixel resolution, with exact counts")
    p.add_argument("--hwm", type=int, default=10_000,
                   help="messages the monitor's socket queues before it misses (and counts) some")
    p.add_argument("--nice", type=int, default=DEFAULT_NICE,
                   help=f"lower the monitor's scheduling priority by this much (default "
                        f"{DEFAULT_NICE}: it yields the CPUs to the bridge; 0 keeps it)")
    p.add_argument("--no-controls", action="store_true", help="no inject / rate controls")
    p.add_argument("--insecure", action="store_true",
                   help="allow a non-loopback --host (anyone who reaches it can inject)")


def config_from(args: argparse.Namespace) -> MonitorConfig:
    if not args.insecure and not _loopback(args.host):
        raise ConfigurationError(
            f"the monitor would listen on {args.host}, beyond this machine: its page can "
            "inject spikes and set rates; keep 127.0.0.1 (reach it through an SSH tunnel) or "
            "pass --insecure")
    for name in ("exact_max", "hwm", "max_in_flight"):
        if getattr(args, name) < (1 if name == "hwm" else 0):
            raise ConfigurationError(f"--{name.replace('_', '-')} {getattr(args, name)}: "
                                     "must be positive")
    return MonitorConfig(discovery=args.discovery, host=args.host, port=args.port,
                         frame_ms=args.frame_ms, window_s=args.window,
                         max_in_flight=args.max_in_flight, exact_max=args.exact_max,
                         hwm=args.hwm, controls=not args.no_controls)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def serve(config: MonitorConfig) -> None:
    """Serve until SIGINT/SIGTERM."""
    monitor = Monitor(config)
    url = await monitor.start()
    print(f"{URL_PREFIX}{url} (bridge {config.discovery})", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await monitor.close()


def command(args: argparse.Namespace) -> int:
    """``spinnlive monitor``."""
    config = config_from(args)
    if args.nice:
        try:  # before any thread or socket: all of them inherit it
            niceness = os.nice(args.nice)
        except OSError as exc:
            raise ConfigurationError(f"--nice {args.nice}: {exc.strerror} (raising the "
                                     "monitor's priority needs privileges)") from None
        logger.info("monitor: niceness %d (it yields the CPUs to the bridge)", niceness)
    asyncio.run(serve(config))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="spinnlive monitor",
                                     description="a live web page for a running network")
    add_arguments(parser)
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s: %(message)s")
    try:
        return command(args)
    except ConfigurationError as e:
        logger.error("%s", e)
        return 2


def spawn(discovery: str, extra: list[str] | None = None,
          timeout: float = 30.0) -> tuple[subprocess.Popen[str], str]:
    """Start ``python -m spinnlive.monitor`` for ``discovery``; returns it and the page's URL."""
    proc = subprocess.Popen([sys.executable, "-m", "spinnlive.monitor", "--discovery", discovery,
                             *(extra or [])], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:  # the URL is the first line it prints
        if line.startswith(URL_PREFIX):
            return proc, line[len(URL_PREFIX):].split()[0]
    proc.wait(timeout)
    raise ConfigurationError(f"the monitor exited ({proc.returncode}) before serving a page")
