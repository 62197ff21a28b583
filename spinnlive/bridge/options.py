"""The one set of bridge flags and defaults, for every command that starts a bridge.

``python -m spinnlive.bridge``, ``spinnlive bridge`` and ``spinnlive run`` all take
:func:`add_bridge_options` and build the :class:`~spinnlive.bridge.config.BridgeConfig` with
:func:`bridge_config`, so a flag means the same and defaults the same everywhere; only
``spinnlive run`` picks a free notification port (it registers the bridge with the script's
toolchain itself). :func:`spinnlive.cli.launch.start_bridge` (closed-loop examples, tests, benches)
runs ``python -m spinnlive.bridge`` in a child process; :mod:`spinnlive.bridge.runner` hosts one.
"""

from __future__ import annotations

import argparse

from spinnlive.bridge.config import BridgeConfig
from spinnlive.protocol.commands import NOTIFY_PORT
from spinnlive.wire.topics import DEFAULT_DISCOVERY, DEFAULT_INPUT, DEFAULT_PUBLISH

__all__ = ["add_bridge_options", "bridge_config"]


def add_bridge_options(parser: argparse.ArgumentParser, *, notify_port: int = NOTIFY_PORT
                       ) -> None:
    """Every bridge flag, for every command that starts one."""
    defaults = BridgeConfig()
    add = parser.add_argument
    add("--notify-host", default=defaults.notify_host,
        help="address for the toolchain's notifications (default %(default)s)")
    add("--notify-port", type=int, default=notify_port,
        help="UDP port for the toolchain's notifications (default %(default)s; 0: any)")
    add("--discovery", default=DEFAULT_DISCOVERY, help="discovery REP endpoint "
        "(default %(default)s), the one address a client needs")
    add("--publish", default=DEFAULT_PUBLISH, help="output XPUB endpoint (default: any port)")
    add("--input", default=DEFAULT_INPUT, help="input PULL endpoint (default: any port)")
    add("--board-port", type=int, default=defaults.board_port,
        help="SCAMP's UDP port on the board (default %(default)s)")
    add("--tag-timeout", type=float, default=defaults.tag_timeout_s,
        help="seconds to wait for the IP-tag replies (default %(default)s)")
    add("--sndhwm", type=int, default=defaults.sndhwm,
        help="messages queued per subscriber before libzmq drops for it (default %(default)s)")
    add("--lossless", action="store_true", help="XPUB_NODROP (wire-format.md §8)")
    add("--inject-label", action="append", default=None, metavar="LABEL",
        help="a population that takes inject/ (repeatable; default: inferred from the "
             "database)")
    add("--hold-confirmation", action="store_true",
        help="confirm each DATABASE only after a client sends 'ready' for its epoch (or "
             "--hold-timeout), e.g. for a lock-step replay")
    add("--hold-timeout", type=float, default=defaults.hold_timeout_s,
        help="seconds to hold a confirmation at most (default %(default)s)")
    add("--curve", default=None, metavar="DIR",
        help="CURVE keys made by 'spinnlive keys DIR': only clients with a key of DIR/clients "
             "connect (needed to bind beyond loopback)")
    add("--insecure", action="store_true",
        help="allow ZeroMQ endpoints beyond loopback without CURVE")
    add("--database-root", default=None, metavar="DIR",
        help="refuse DATABASE notifications naming a file outside DIR (who may notify)")


def bridge_config(args: argparse.Namespace) -> BridgeConfig:
    """The configuration :func:`add_bridge_options` describes."""
    return BridgeConfig(
        notify_host=args.notify_host, notify_port=args.notify_port, discovery=args.discovery,
        publish=args.publish, input=args.input, board_port=args.board_port,
        tag_timeout_s=args.tag_timeout, sndhwm=args.sndhwm, lossless=args.lossless,
        inject_labels=tuple(args.inject_label) if args.inject_label else None,
        hold_confirmation=bool(args.hold_confirmation), hold_timeout_s=float(args.hold_timeout),
        curve=args.curve, insecure=bool(args.insecure), database_root=args.database_root)
