"""Progress bars for long steps (mapping, connection building, a run), sPyNNaker style.

The layers below the CLI only say *what* they are doing and how far they got; whether that is
drawn, and where, is the front end's business. So the engine calls :func:`bar` and the CLI turns
drawing on with :func:`enable`. Off (the default: library use, tests), a bar costs two integer
stores per update and prints nothing.

The drawing imitates spinn_utilities' ProgressBar, which users of sPyNNaker know from its log::

    Running the network
    |0%                          50%                         100%|
     ============================================================
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

_WIDTH = 60
_stream: TextIO | None = None


def enable(stream: TextIO | None = None) -> None:
    """Draw bars on ``stream`` (standard error by default) from now on."""
    global _stream
    _stream = stream if stream is not None else sys.stderr


def disable() -> None:
    global _stream
    _stream = None


class Bar:
    """One bar: ``update(done)`` with the number of units finished so far (monotonic)."""

    def __init__(self, title: str, total: int, stream: TextIO | None) -> None:
        self.title = title
        self.total = max(int(total), 1)
        self.done = 0
        self._drawn = 0
        self._stream = stream
        if stream is not None:
            half = _WIDTH // 2 - 2
            stream.write(f"{title}\n|0%{' ' * half}50%{' ' * (_WIDTH - half - 7)}100%|\n ")
            stream.flush()

    def update(self, done: int) -> None:
        self.done = min(int(done), self.total)
        if self._stream is None:
            return
        marks = self.done * _WIDTH // self.total
        if marks > self._drawn:
            self._stream.write("=" * (marks - self._drawn))
            self._stream.flush()
            self._drawn = marks

    def finish(self) -> None:
        self.update(self.total)
        if self._stream is not None:
            self._stream.write("\n")
            self._stream.flush()


@contextmanager
def bar(title: str, total: int) -> Iterator[Bar]:
    """A progress bar for one long step; it is completed when the block exits normally."""
    progress = Bar(title, total, _stream)
    yield progress
    progress.finish()
