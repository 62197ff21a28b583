"""Bridge throughput with 1, 3 and 6 boards' worth of live output, next to a bare socket.

Run: ``.venv/bin/python bench/bench_multiboard.py [--step 0.5] [--boards 1 3 6]``

For N boards: the engine's own mapping of a network with one 807-neuron population per board
(one neuron per core fills a board's application cores beside its LPG), so population ``p<i>``
leaves through board i's LPG and tag; N fake boards (UDP sockets at random 127.x.y.z:17893 that
answer the IP-tag request, as in bench_bridge.py); the bridge process, which points every
board's tag at itself; and one sender process with a socket on each board's address, sending
every board's full live-output packets (64 KEY_32_BIT keys of its population, D + T, 32
packets a tick) from that board's address, tick by tick, at the same rate per board (one
process, so that on a 2-core machine the senders do not crowd out the receiver), up a ladder
that starts at 0.7 M events/s per board, what one SpiNN-5 board's Ethernet carries. The highest
rung at which the ZeroMQ subscriber gets every event of every board (zero loss) is the bridge's
number, as total events/s. The bare socket (a blocking recv loop that only counts) takes the
same sender in the same run: the machine's floor.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import zmq

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_bridge import (  # noqa: E402
    FIRST_WAIT_S,
    PACKETS_PER_TICK,
    _handshake,
    bare_count,
    ladder,
)
from bridge_helpers import FakeBoard, lpg_packets, start_bridge_process  # noqa: E402

from spinnlive.database.writer import write_database  # noqa: E402
from spinnlive.engine.mapping import CORES_PER_BOARD, map_network  # noqa: E402
from spinnlive.engine.vertices import AppVertex, LiveOutputRequest  # noqa: E402

PER_BOARD = CORES_PER_BOARD - 1  # beside the board's one LPG core
BOARD_ETHERNET_M = 0.7  # M events/s one SpiNN-5 board's Ethernet carries
LADDER = [0.35, 0.7, 1, 1.5, 2, 3, 4, 6, 8]  # M events/s per board


def _network(boards: list[FakeBoard], folder: Path) -> tuple[Path, str]:
    """The database of one population per board, and the sender's input: each board's
    packets, sent from that board's address."""
    labels = [f"p{i}" for i in range(len(boards))]
    mapping = map_network([AppVertex(label, PER_BOARD, "neuron", max_atoms_per_core=1)
                           for label in labels], board_address=[b.ip for b in boards],
                          live_outputs=[LiveOutputRequest(label) for label in labels],
                          n_boards_required=len(boards))
    assert mapping.n_boards == len(boards), mapping.n_boards
    assert [mapping.lpg_for(label).board for label in labels] == list(range(len(boards)))
    rng = np.random.default_rng(1)
    lines = []
    for label, board in zip(labels, boards):
        keys = mapping.keys(label)[rng.integers(0, PER_BOARD, 64 * PACKETS_PER_TICK)]
        packets = lpg_packets(0, keys)
        assert len(packets) == PACKETS_PER_TICK and all(len(p) == 262 for p in packets)
        lines.append(" ".join([board.ip, *(p.hex() for p in packets)]))
    return write_database(mapping.to_database_records(), folder / "db.sqlite3"), "\n".join(lines)


def bridge(step: float, boards: list[FakeBoard], path: Path, streams: str) -> float:
    proc, where = start_bridge_process("--tag-timeout", "10", "--log-level", "ERROR")
    ctx = zmq.Context()
    try:
        live = _handshake(where["notify"][1], path, *boards)
        sub = ctx.socket(zmq.SUB)
        sub.setsockopt(zmq.RCVHWM, 0)
        sub.connect(str(where["publish"]))
        for i in range(len(boards)):
            sub.setsockopt(zmq.SUBSCRIBE, f"spikes/p{i}".encode())
        sub.setsockopt(zmq.SUBSCRIBE, b"sync/bench")
        while sub.recv_multipart()[0] != b"sync/bench":
            pass

        def count(expected: int) -> int:
            n, idle, wait = 0, time.perf_counter(), FIRST_WAIT_S
            while n < expected and time.perf_counter() - idle < wait:
                if sub.poll(100):
                    n += len(sub.recv_multipart()[2]) // 4
                    idle, wait = time.perf_counter(), 2.0
            return n

        return ladder("bridge", _rates(len(boards)), step, streams, live, count)
    finally:
        proc.terminate()
        proc.wait(10)
        ctx.destroy(0)


def bare(step: float, boards: list[FakeBoard], streams: str) -> float:
    sock, count = bare_count()
    try:
        return ladder("bare", _rates(len(boards)), step, streams, sock.getsockname(), count)
    finally:
        sock.close()


def _rates(n_boards: int) -> list[float]:
    """The ladder as total M events/s for ``n_boards`` boards at each per-board rate."""
    return [rate * n_boards for rate in LADDER]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--step", type=float, default=0.5, help="seconds per ladder rung")
    parser.add_argument("--boards", type=int, nargs="+", default=[1, 3, 6])
    args = parser.parse_args()
    rows = []
    for n in args.boards:
        boards = [FakeBoard() for _ in range(n)]
        try:
            with tempfile.TemporaryDirectory() as tmp:
                path, streams = _network(boards, Path(tmp))
                print(f"{n} board(s): bare socket", flush=True)
                floor = bare(args.step, boards, streams)
                print(f"{n} board(s): bridge", flush=True)
                ours = bridge(args.step, boards, path, streams)
        finally:
            for board in boards:
                board.close()
        rows.append((n, ours, floor))
    print("\nzero-loss live output, every board sending at the same rate (total events/s):")
    for n, ours, floor in rows:
        print(f"  {n} board(s): bridge {ours / 1e6:6.2f} M ev/s = "
              f"{ours / (n * BOARD_ETHERNET_M * 1e6):4.1f}x the boards' Ethernet "
              f"({n} x {BOARD_ETHERNET_M} M), bare socket {floor / 1e6:6.2f} M ev/s, "
              f"bridge / bare = {ours / floor if floor else 0:.0%}")


if __name__ == "__main__":
    main()
    sys.stdout.flush()
    os._exit(0)
