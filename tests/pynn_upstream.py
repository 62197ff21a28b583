"""Public scripts from package-registry source distributions, fetched at test time, never copied
into this repository: PyNN's system test scenarios and examples.

Theory of operation: :func:`sdist_tree` asks pip (the registry's ordinary client) for the source
distribution of one pinned release, checks its sha256 against :data:`PINNED`, and unpacks the
wanted folders once into a cache (``$SPINNLIVE_CACHE``, default ``~/.cache/spinnlive``; a fresh
directory is written next to the final one and renamed, so concurrent runs never see half a
tree). The release is the one installed, so the scenarios match the PyNN that spinnlive runs on.
When the registry cannot be reached the caller skips with :class:`RegistryUnreachable`'s
message; any other failure (unknown version, wrong checksum) is an error.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from importlib import metadata
from pathlib import Path

#: (distribution, version) -> sha256 of its sdist as the registry serves it
PINNED: dict[tuple[str, str], str] = {
    ("PyNN", "0.13.0"): "da2821e45055a88de6cf34896067eaaebcabbfdfb7883dd147353e7b78617815",
}

#: folders of PyNN's sdist the tests use
PYNN_PARTS = ("test/system/scenarios", "examples")


class RegistryUnreachable(RuntimeError):
    """pip could not download the sdist (no network, registry down)."""


def cache_root() -> Path:
    return Path(os.environ.get("SPINNLIVE_CACHE", Path.home() / ".cache" / "spinnlive"))


def installed_pynn() -> str:
    return metadata.version("PyNN")


def _download(name: str, version: str, into: Path) -> Path:
    done = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-binary", ":all:", "--no-deps",
         "--disable-pip-version-check", "-q", "-d", str(into), f"{name}=={version}"],
        capture_output=True, text=True, timeout=300)
    found = sorted(into.glob("*.tar.gz"))
    if done.returncode != 0 or not found:
        raise RegistryUnreachable(
            f"pip download {name}=={version} failed (is the package registry reachable?): "
            f"{done.stderr.strip()[-400:]}")
    return found[0]


def sdist(name: str, version: str) -> Path:
    """The verified sdist archive of ``name==version`` (downloaded on first use)."""
    try:
        digest = PINNED[(name, version)]
    except KeyError:
        raise RuntimeError(
            f"{name} {version} has no pinned sdist checksum in tests/pynn_upstream.py PINNED; "
            "add the sha256 the registry publishes for it") from None
    home = cache_root() / "sdists" / f"{name}-{version}"
    home.mkdir(parents=True, exist_ok=True)
    archives = sorted(home.glob("*.tar.gz"))
    if not archives or _sha256(archives[0]) != digest:
        for stale in archives:
            stale.unlink()
        archive = _download(name, version, home)
    else:
        archive = archives[0]
    actual = _sha256(archive)
    if actual != digest:
        raise RuntimeError(f"{archive.name}: sha256 {actual} is not the pinned {digest}")
    return archive


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def sdist_tree(name: str, version: str, parts: tuple[str, ...]) -> Path:
    """A directory holding ``parts`` (paths inside the sdist's top folder), unpacked once."""
    final = cache_root() / "trees" / f"{name}-{version}"
    if all((final / part).is_dir() for part in parts):
        return final
    archive = sdist(name, version)
    final.parent.mkdir(parents=True, exist_ok=True)
    fresh = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{name}-"))
    with tarfile.open(archive) as tar:
        members = tar.getmembers()
        top = members[0].name.split("/")[0]
        wanted = [m for m in members if m.isfile()
                  and any(m.name.startswith(f"{top}/{part}/") for part in parts)]
        for member in wanted:
            member.name = member.name[len(top) + 1:]
            tar.extract(member, fresh, filter="data")
    if final.exists():
        shutil.rmtree(final, ignore_errors=True)
    try:
        fresh.rename(final)
    except OSError:  # another run renamed its copy first: use that one
        shutil.rmtree(fresh, ignore_errors=True)
    return final


def pynn_tree() -> Path:
    """PyNN's scenarios and examples, for the installed PyNN release."""
    return sdist_tree("PyNN", installed_pynn(), PYNN_PARTS)
