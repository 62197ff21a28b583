"""``python -m spinnlive.bridge``: run one bridge until SIGINT/SIGTERM.

Prints one JSON line on stdout once every socket is bound (the notify address and the bound
ZeroMQ endpoints), so a parent process can start it with port 0 everywhere and read where it is.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys

from spinnlive.bridge.config import BridgeConfig
from spinnlive.bridge.options import add_input_options, input_options
from spinnlive.bridge.service import Bridge
from spinnlive.wire.topics import DEFAULT_DISCOVERY, DEFAULT_INPUT, DEFAULT_PUBLISH


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m spinnlive.bridge", description=__doc__)
    p.add_argument("--notify-host", default="127.0.0.1")
    p.add_argument("--notify-port", type=int, default=19999)
    p.add_argument("--discovery", default=DEFAULT_DISCOVERY)
    p.add_argument("--publish", default=DEFAULT_PUBLISH)
    p.add_argument("--input", default=DEFAULT_INPUT)
    p.add_argument("--board-port", type=int, default=17893)
    p.add_argument("--tag-timeout", type=float, default=2.0)
    p.add_argument("--lossless", action="store_true", help="XPUB_NODROP (see wire-format.md)")
    add_input_options(p)
    p.add_argument("--log-level", default="WARNING")
    return p


async def _main(args: argparse.Namespace) -> None:
    config = BridgeConfig(notify_host=args.notify_host, notify_port=args.notify_port,
                          discovery=args.discovery, publish=args.publish, input=args.input,
                          board_port=args.board_port, tag_timeout_s=args.tag_timeout,
                          lossless=args.lossless, **input_options(args))
    async with Bridge(config) as bridge:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, lambda: asyncio.ensure_future(bridge.close()))
        print(json.dumps({"notify": list(bridge.notify_address), **bridge.endpoints}), flush=True)
        await bridge.wait_closed()


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr)
    asyncio.run(_main(args))


if __name__ == "__main__":
    main()
