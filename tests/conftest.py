"""Fixtures several test files share: a fake board, a UDP port nobody listens on; Hypothesis
without its timing checks; and, once per session, the engine's kernels loaded before any test.

The kernels: once per test session, before any test and outside every test's timeout, load (on
a fresh clone, compile) the kernels of the model the subprocess tests run. A fresh clone has no
kernel cache, and each network subprocess would otherwise compile them inside a test's own
deadline (30-100 s); on a loaded 2-core machine that compile alone took longer, and those tests
failed for it, not for what they test. The cache is on disk, so every later process, the
subprocesses included, loads it instead.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator

import pytest
from bridge_helpers import FakeBoard
from hypothesis import HealthCheck, settings

# Hypothesis times each example (200 ms deadline) and each data draw (the too_slow health
# check): on a loaded 2-core machine an example that usually takes 60 ms took 289 ms and the
# test failed for it. Tests assert behaviour, never speed: no deadline, no speed health check.
settings.register_profile("spinnlive", deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("spinnlive")


def pytest_sessionstart(session: pytest.Session) -> None:
    from spinnlive.engine.kernel_build import start_warm_up

    try:
        start_warm_up(("IF_curr_exp",), 1.0).join()
    except Exception:  # the tests that need the kernels will say what is wrong
        logging.getLogger(__name__).exception("warming the engine's kernels failed")


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
