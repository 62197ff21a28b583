"""One process spinning on a CPU while a benchmark runs: the "loaded machine" condition.

The bench scripts' ``--hog`` flag uses it, so a figure can be taken quiet and loaded with the
same command. The machine may be loaded anyway (a shared CI host): the scripts print the load
average at start so a reader can tell.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def cpu_hog(on: bool = True) -> Iterator[None]:
    """One process spinning on a CPU while the block runs (if ``on``)."""
    if not on:
        yield
        return
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        yield
    finally:
        hog.kill()
        hog.wait()
