"""Fixtures several test files share: a fake board, a UDP port nobody listens on."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from bridge_helpers import FakeBoard


@pytest.fixture
def board() -> Iterator[FakeBoard]:
    """A fake SpiNNaker board (bridge_helpers.FakeBoard) on its own 127.x address; files that
    test the engine's own board endpoint define their ``board`` instead."""
    fake = FakeBoard()
    yield fake
    fake.close()


@pytest.fixture
def closed_port() -> int:
    """A UDP port on 127.0.0.1 that nobody listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
