"""``python -m spinnlive.bridge``: run one bridge until SIGINT/SIGTERM (the flags and lines of
``spinnlive bridge``, spinnlive/bridge/runner.py).

The first line on stdout is one JSON object, the notify address and the bound ZeroMQ endpoints,
so a parent process can start it with port 0 everywhere and read where it is.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from functools import partial

from spinnlive.bridge.options import add_bridge_options, bridge_config
from spinnlive.bridge.runner import serve
from spinnlive.errors import ConfigurationError


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m spinnlive.bridge", description=__doc__)
    add_bridge_options(parser)
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr)
    try:
        asyncio.run(serve(bridge_config(args), partial(print, flush=True)))
    except ConfigurationError as exc:  # e.g. beyond loopback without keys
        print(f"spinnlive bridge: {exc}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
