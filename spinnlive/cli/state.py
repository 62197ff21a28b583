"""The ``spinnlive`` verbs of the live state plane: ``state``, ``weights``, ``set-weights``,
``get`` and ``set`` (docs/wire-format.md §10), each a one-shot :class:`~spinnlive.client.SyncClient`.

Every answer is printed with the tick it was read at or applies from; a refusal is printed with
its code and message and the command exits with status 1.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

import numpy as np

from spinnlive.errors import LocalProtocolError

__all__ = ["STATE_COMMANDS", "add_state_commands"]


def add_state_commands(sub: Any) -> list[argparse.ArgumentParser]:
    """Add the verbs to ``sub`` (an argparse subparsers object); returns their parsers."""
    state = sub.add_parser("state", help="what the running network can read and write live")
    weights = sub.add_parser("weights", help="read a projection's weights live")
    weights.add_argument("projection")
    weights.add_argument("--format", choices=("list", "array"), default="list")
    set_weights = sub.add_parser("set-weights", help="set a projection's weights live")
    set_weights.add_argument("projection")
    set_weights.add_argument("values", nargs="+", type=float, metavar="WEIGHT",
                             help="one value, or one per pair / connection")
    for parser in (weights, set_weights):
        parser.add_argument("--pre", nargs="+", type=int, default=None, metavar="I")
        parser.add_argument("--post", nargs="+", type=int, default=None, metavar="J")
    get = sub.add_parser("get", help="read a parameter or state variable of a population live")
    get.add_argument("population")
    get.add_argument("name")
    put = sub.add_parser("set", help="set a parameter of a population live: NAME=VALUE")
    put.add_argument("population")
    put.add_argument("assignment", metavar="NAME=VALUE")
    for parser in (get, put):
        parser.add_argument("ids", nargs="*", type=int, metavar="ID")
    for parser in (weights, set_weights, get, put):
        parser.add_argument("--tick", type=int, default=None,
                            help="read at / apply from this tick (default: the next)")
    return [state, weights, set_weights, get, put]


def _state(client: Any, args: argparse.Namespace) -> None:
    print(json.dumps(client.describe_state(), indent=2, ensure_ascii=False))


def _weights(client: Any, args: argparse.Namespace) -> None:
    read = client.weights(args.projection, args.pre, args.post, tick=args.tick)
    print(f"tick {read.tick}: {read.values.size} connections of {args.projection}")
    if args.format == "array":
        with np.printoptions(threshold=1 << 20, linewidth=200):
            print(read.array())
    else:
        for i, j, w in zip(read.pre.tolist(), read.post.tolist(), read.values.tolist(),
                           strict=True):
            print(f"{i} {j} {w:.9g}")


def _set_weights(client: Any, args: argparse.Namespace) -> None:
    tick = client.set_weights(args.projection, args.values, args.pre, args.post,
                              tick=args.tick)
    print(f"weights of {args.projection} set; they apply from tick {tick}")


def _get(client: Any, args: argparse.Namespace) -> None:
    read = client.get(args.population, args.name, args.ids or None, tick=args.tick)
    print(f"tick {read.tick}: {args.name} of {args.population}")
    for i, value in zip(read.ids.tolist(), read.values.tolist(), strict=True):
        print(f"{i} {value:.9g}")


def _set(client: Any, args: argparse.Namespace) -> None:
    name, _, text = args.assignment.partition("=")
    try:
        value = float(text)
    except ValueError:
        raise LocalProtocolError(f"set: give NAME=VALUE, e.g. i_offset=0.5 (got "
                                 f"{args.assignment!r})") from None
    tick = client.set(args.population, name, value, args.ids or None, tick=args.tick)
    print(f"{name} of {args.population} set; it applies from tick {tick}")


def _with_client(action: Callable[[Any, argparse.Namespace], None]
                 ) -> Callable[[argparse.Namespace], int]:
    def command(args: argparse.Namespace) -> int:
        from spinnlive.client import SyncClient
        from spinnlive.protocol.state import StateError

        with SyncClient(args.discovery, timeout=args.timeout, curve=args.curve) as client:
            try:
                action(client, args)
            except StateError as error:
                print(f"refused ({error.code.value}): {error}")
                return 1
        return 0
    return command


STATE_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "state": _with_client(_state), "weights": _with_client(_weights),
    "set-weights": _with_client(_set_weights), "get": _with_client(_get),
    "set": _with_client(_set)}
