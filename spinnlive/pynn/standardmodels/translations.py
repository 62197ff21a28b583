"""The PyNN -> native translation every spinnlive standard model uses: the identity.

The kernels and the engine take PyNN's names and units, so each table maps every parameter to
itself; PyNN still needs the table (``translate`` and ``reverse_translate`` go through it).
"""

from __future__ import annotations

from typing import Any

from pyNN.standardmodels import build_translations

__all__ = ["identity"]


def identity(*names: str) -> dict[str, Any]:
    """PyNN's translation table mapping each of ``names`` to itself."""
    table: dict[str, Any] = build_translations(*[(name, name) for name in names])
    return table
