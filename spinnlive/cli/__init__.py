"""The command line and process launching: the top layer, which may import every other.

``commands`` (``main``) is the ``spinnlive`` command; ``run_bridge`` is the bridge
inside ``spinnlive run``; ``state`` the state-plane verbs; ``launch`` starts a bridge or a
network in a child process for closed-loop experiments, examples, tests and benches.
"""

from __future__ import annotations


def __getattr__(name: str) -> object:
    """``spinnlive.cli.commands`` on first use, so ``spinnlive.cli.launch`` stays a light import."""
    if name == "main":
        from spinnlive.cli.commands import main

        return main
    raise AttributeError(f"module 'spinnlive.cli' has no attribute {name!r}")
