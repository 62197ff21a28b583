"""Bridge command-line options shared by ``python -m spinnlive.bridge`` and ``spinnlive bridge``.

Both commands build a :class:`~spinnlive.bridge.config.BridgeConfig`; the options for the input
side (which labels take ``inject/``, holding the confirmation for a client's ``ready``) are
defined once here so that the two stay the same.
"""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_input_options", "input_options"]


def add_input_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--inject-label", action="append", default=None, metavar="LABEL",
                        help="a population that takes inject/ (repeatable; default: inferred "
                             "from the database)")
    parser.add_argument("--hold-confirmation", action="store_true",
                        help="confirm each DATABASE only after a client sends 'ready' for its "
                             "epoch (or --hold-timeout), e.g. for a lock-step replay")
    parser.add_argument("--hold-timeout", type=float, default=5.0,
                        help="seconds to hold a confirmation at most (default 5)")


def input_options(args: argparse.Namespace) -> dict[str, Any]:
    """The BridgeConfig fields of :func:`add_input_options`."""
    return {"inject_labels": tuple(args.inject_label) if args.inject_label else None,
            "hold_confirmation": bool(args.hold_confirmation),
            "hold_timeout_s": float(args.hold_timeout)}
