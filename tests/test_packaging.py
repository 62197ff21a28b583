"""The wheel must carry every package folder: pyproject lists them explicitly (kernels/ and
adapters/ are mapped under spinnlive), so a new sub-package that is not listed would vanish from
an installed (non-editable) spinnlive. This test catches that before a user does."""

from __future__ import annotations

import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    tomllib = __import__("tomli")

ROOT = Path(__file__).resolve().parents[1]


def _package_dirs() -> set[str]:
    found = set()
    for top, dotted in (("spinnlive", "spinnlive"), ("kernels", "spinnlive.kernels"),
                        ("adapters", "spinnlive.adapters")):
        for init in (ROOT / top).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / top)
            found.add(".".join([dotted, *rel.parts]))
    return found


def test_every_package_folder_is_listed_in_pyproject() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    listed = set(config["tool"]["setuptools"]["packages"])
    missing = _package_dirs() - listed
    assert not missing, f"add these to [tool.setuptools] packages in pyproject.toml: {sorted(missing)}"


def test_every_listed_package_exists() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    listed = set(config["tool"]["setuptools"]["packages"])
    stale = listed - _package_dirs()
    assert not stale, f"pyproject.toml lists packages with no folder: {sorted(stale)}"
