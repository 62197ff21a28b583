"""The folders are layers and data flows one way: no module imports a layer above its own.

The order, bottom up (README's layout table): the sans-IO contracts (``protocol``, ``wire``),
the database, the UDP transport, the engine, the bridge and the client side by side, the PyNN
front end, then the adapters and the commands. Rules more: the client never imports the
bridge (it knows the bridge only through ``spinnlive.wire``), the bridge and sPyNNaker's
connections share their SpiNNaker side through ``transport`` only and never import the
engine (they serve a real board alike), and ``wire`` stays sans-IO.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import spinnlive

ROOT = Path(spinnlive.__file__).parent
REPO = ROOT.parent
#: package -> rank; a module may import its own rank or lower. Shared helpers rank 0.
RANKS = {
    "errors": 0, "clock": 0, "progress": 0, "drops": 0, "lazy": 0, "closing": 0,
    "protocol": 1, "wire": 1,
    "database": 2,
    "transport": 3,
    "kernels": 4, "engine": 4,
    "bridge": 5, "client": 5, "connections": 5,
    "pynn": 6, "analysis": 6,
    "adapters": 7, "monitor": 7,
    "cli": 8, "__init__": 8,  # spinnlive.connect, imported on first use
}
FOLDERS = {"kernels": REPO / "kernels", "adapters": REPO / "adapters"}
#: (importer, imported) pairs of one rank that must never meet
NEVER = {("client", "bridge"), ("wire", "bridge"), ("wire", "client"),
         ("bridge", "client"), ("connections", "bridge"), ("bridge", "connections"),
         # a board's two clients know it only through its wire: never the embedded engine
         ("bridge", "engine"), ("connections", "engine")}
SANS_IO = {"socket", "asyncio", "zmq", "threading", "time", "selectors"}


def _layer(path: Path) -> str:
    for name, folder in FOLDERS.items():
        if folder in path.parents:
            return name
    part = path.relative_to(ROOT).parts[0]
    return part.removesuffix(".py")


def _package(path: Path) -> list[str]:
    """The dotted package ``path`` is installed in, as parts (``spinnlive``, ``bridge``)."""
    for name, folder in FOLDERS.items():
        if folder in path.parents:
            return ["spinnlive", name, *path.parent.relative_to(folder).parts]
    return ["spinnlive", *path.parent.relative_to(ROOT).parts]


def _modules() -> list[Path]:
    files = list(ROOT.rglob("*.py"))
    for folder in FOLDERS.values():
        files += folder.rglob("*.py")
    return sorted(f for f in files if "__pycache__" not in f.parts)


def _imports(path: Path) -> set[str]:
    """The spinnlive layers and top-level modules ``path`` imports (relative ones resolved)."""
    found: set[str] = set()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    entry = {id(n) for block in ast.walk(tree) if _is_main_block(block)
             for n in ast.walk(block)}  # ``python -m`` entry points may call the CLI
    for node in ast.walk(tree):
        if id(node) in entry:
            continue
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = _package(path)[:len(_package(path)) - node.level + 1]
                names = [".".join([*base, *([node.module] if node.module else [])])]
            elif node.module:
                names = [node.module]
        for name in names:
            parts = name.split(".")
            if parts[0] == "spinnlive" and len(parts) > 1 and parts[1]:
                found.add(parts[1])
            elif parts[0] in SANS_IO:
                found.add(f"io:{parts[0]}")
    return found


def _is_main_block(node: ast.AST) -> bool:
    return (isinstance(node, ast.If) and isinstance(node.test, ast.Compare)
            and isinstance(node.test.left, ast.Name) and node.test.left.id == "__name__")


MODULES = _modules()


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(REPO)))
def test_no_import_runs_up_a_layer(path: Path) -> None:
    mine = _layer(path)
    if mine not in RANKS:
        pytest.fail(f"{path.relative_to(REPO)} is in no layer: add {mine!r} to RANKS")
    for other in _imports(path):
        if other.startswith("io:") or other == mine:
            continue
        assert other in RANKS, f"{path.relative_to(REPO)} imports unknown layer {other!r}"
        assert RANKS[other] <= RANKS[mine], (
            f"{path.relative_to(REPO)} ({mine}) imports {other}, a higher layer")
        assert (mine, other) not in NEVER, f"{path.relative_to(REPO)}: {mine} imports {other}"


@pytest.mark.parametrize("path", sorted((ROOT / "wire").glob("*.py")), ids=lambda p: p.name)
def test_the_wire_contract_is_sans_io(path: Path) -> None:
    assert not {i for i in _imports(path) if i.startswith("io:")}, path.name


def test_the_rule_sees_imports(tmp_path: Path) -> None:
    # the checker must notice imports, or the tests above prove nothing
    fake = tmp_path / "x.py"
    fake.write_text("from spinnlive.bridge import Bridge\nimport zmq\nimport numpy\n")
    assert _imports(fake) == {"bridge", "io:zmq"}
    assert "wire" in _imports(ROOT / "client" / "aio.py")
