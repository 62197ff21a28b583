"""Run scripts written for ``pyNN.spiNNaker`` on spinnlive, unchanged.

:func:`install` registers ``spinnlive.pynn.spinnaker`` (spinnlive's front end with sPyNNaker's
``Izhikevich``) as ``pyNN.spiNNaker`` (and its
``external_devices``) in ``sys.modules`` and on the ``pyNN`` package, so ``import
pyNN.spiNNaker as sim`` in the script binds to spinnlive. It only affects the current process;
the real sPyNNaker stays importable as ``spynnaker.pyNN``. :func:`run_script` installs and then
runs a script file as ``__main__`` with :mod:`runpy`.
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path
from typing import Any

__all__ = ["install", "register", "run_script"]


def register(name: str = "spinnlive") -> None:
    """Make ``pyNN.<name>`` import spinnlive's PyNN front end, the way PyNN finds its own
    backends (``importlib.import_module("pyNN.nest")``): PyNN's system test scenarios and
    examples (``python example.py spinnlive``, ``pyNN.utility.get_simulator``) then run on it."""
    import pyNN

    import spinnlive.pynn as front_end

    sys.modules[f"pyNN.{name}"] = front_end
    setattr(pyNN, name, front_end)


def install() -> None:
    """Make ``import pyNN.spiNNaker`` import spinnlive's PyNN front end as sPyNNaker's scripts
    mean it (:mod:`spinnlive.pynn.spinnaker`)."""
    import pyNN

    from spinnlive.pynn import external_devices, extra_models
    from spinnlive.pynn import spinnaker as front_end

    sys.modules["pyNN.spiNNaker"] = front_end
    sys.modules["pyNN.spiNNaker.external_devices"] = external_devices
    sys.modules["pyNN.spiNNaker.extra_models"] = extra_models
    pyNN.spiNNaker = front_end


def run_script(path: str | Path, argv: list[str] | None = None) -> dict[str, Any]:
    """Run a ``pyNN.spiNNaker`` script on spinnlive; returns the script's globals."""
    install()
    path = str(path)
    saved = sys.argv
    sys.argv = [path, *(argv or [])]
    try:
        return runpy.run_path(path, run_name="__main__")
    finally:
        sys.argv = saved


if __name__ == "__main__":  # python -m spinnlive.pynn.spinnaker_compat script.py [args]
    if len(sys.argv) < 2:
        raise SystemExit("usage: python -m spinnlive.pynn.spinnaker_compat SCRIPT [ARGS...]")
    run_script(sys.argv[1], sys.argv[2:])
