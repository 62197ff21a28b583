"""The protocol layer stays sans-IO: no sockets, event loops, clocks, threads or loggers."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import spinnlive.protocol

FORBIDDEN = {"socket", "asyncio", "zmq", "threading", "time", "logging", "asyncio_dgram",
             "selectors", "concurrent"}
MODULES = sorted(Path(spinnlive.protocol.__file__).parent.glob("*.py"))


def _imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "__import__":
            roots.add("__import__")
    return roots


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_no_io_imports(path):
    bad = _imported_roots(path) & (FORBIDDEN | {"__import__"})
    assert not bad, f"{path.name} imports {sorted(bad)}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_no_blanket_except(path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ExceptHandler):
            name = getattr(node.type, "id", None)
            assert node.type is not None and name not in {"Exception", "BaseException"}, (
                f"{path.name}:{node.lineno} catches everything")


def test_the_rule_sees_imports(tmp_path):
    # The checker itself must notice a forbidden import, or the tests above prove nothing.
    probe = tmp_path / "probe.py"
    probe.write_text("import socket\nfrom time import monotonic\nimport numpy as np\n")
    assert _imported_roots(probe) == {"socket", "time", "numpy"}
