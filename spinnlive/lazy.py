"""A package's names imported on first use (PEP 562), so importing one submodule is cheap.

``import spinnlive.transport.tick_gate`` runs ``spinnlive/transport/__init__.py`` first; when
that ``__init__`` imported every submodule eagerly, a run without live I/O (the engine's
scheduler needs only the tick gate) paid for the UDP listener, the handshake and, through
them, every ``construct`` frame layout of the SpiNNaker protocol: ~0.1 s of a ~0.5 s start-up
above the shared import floor. With :func:`exports` the package's names stay importable
(``from spinnlive.protocol import decode_command``), each loading its submodule when it is
first read; type checkers see the eager imports under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence


def exports(package: str, table: Mapping[str, Sequence[str]]) -> Callable[[str], object]:
    """A module ``__getattr__`` for ``package``: ``table`` maps a submodule to the names it
    exports; reading one imports that submodule, caches the name in the package and returns it.
    """
    where = {name: module for module, names in table.items() for name in names}

    def __getattr__(name: str) -> object:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        setattr(importlib.import_module(package), name, value)
        return value

    return __getattr__
