"""``with x:`` for the objects whose life ends with ``close()``: one home for the idiom (the
database reader, the engine's live output, the live connections, the blocking client)."""

from __future__ import annotations

from typing import TypeVar

__all__ = ["Closing"]

_C = TypeVar("_C", bound="Closing")


class Closing:
    """A base whose ``with`` block ends in :meth:`close`, however the block ends."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self: _C) -> _C:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
