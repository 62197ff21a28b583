"""Shared by the bridge tests and bench/bench_bridge.py: a mapping, a fake board, a toolchain.

The fake board is a real UDP socket bound at ``<board ip>:17893`` on a random 127.x.y.z address
(so tests running side by side never share it), written into the database as the board's
Ethernet IP. It answers IP-tag requests the way SCAMP does and sends LPG-format packets from
the same socket, as a board would.
"""

from __future__ import annotations

import asyncio
import random
import socket
import subprocess
from pathlib import Path

import numpy as np

from spinnlive.bridge import Bridge, BridgeConfig
from spinnlive.cli import launch
from spinnlive.database import (
    ApplicationVertex,
    Configuration,
    IPTag,
    LpgEdge,
    Machine,
    MachineVertex,
    Mapping,
    Placement,
    write_database,
)
from spinnlive.protocol.eieio import EIEIOType, encode_events
from spinnlive.protocol.keys import core_keys
from spinnlive.protocol.sdp import IPTagSetRequest, decode_iptag_set, iptag_set_reply
from spinnlive.transport.notifier import Notifier

BOARD_PORT = 17893
LPG_TAG = 7


def random_board_ip() -> str:
    return f"127.{random.randint(100, 250)}.{random.randint(1, 254)}.{random.randint(1, 254)}"


def bridge_mapping(board: str, big_injector: bool = False) -> Mapping:
    """exc (300, two cores) and inh (40) with live output, injector stim (10) on (0,0,4),
    Poisson noise (20) with live rate control, and optionally a 70 000-atom injector."""
    exc = (MachineVertex.for_slice("exc", 0, 255, Placement(0, 0, 2), core_keys(0, 256, 4)),
           MachineVertex.for_slice("exc", 256, 299, Placement(0, 0, 3), core_keys(0x1000, 44, 4)))
    inh = MachineVertex.for_slice("inh", 0, 39, Placement(0, 0, 5), core_keys(0x3000, 40, 4))
    stim = MachineVertex.for_slice("stim", 0, 9, Placement(0, 0, 4), core_keys(0x6000, 10))
    noise = MachineVertex.for_slice("noise", 0, 19, Placement(0, 1, 1))
    control = MachineVertex.for_slice("noise_control", 0, 19, Placement(0, 1, 2),
                                      core_keys(0x2000, 20))
    lpg = MachineVertex("LiveSpikeReceiver", Placement(0, 0, 1),
                        ip_tags=(IPTag(LPG_TAG, board, "0.0.0.0", 17895, True),))
    vertices = [ApplicationVertex("exc", exc), ApplicationVertex("inh", (inh,)),
                ApplicationVertex("stim", (stim,)), ApplicationVertex("noise", (noise,)),
                ApplicationVertex("noise_control", (control,)),
                ApplicationVertex("LiveSpikeReceiver", (lpg,))]
    if big_injector:
        big = MachineVertex.for_slice("big", 0, 69_999, Placement(1, 0, 3),
                                      core_keys(0x100000, 70_000))
        vertices.append(ApplicationVertex("big", (big,)))
    edges = (LpgEdge(exc[0], lpg), LpgEdge(exc[1], lpg), LpgEdge(inh, lpg))
    return Mapping(Machine.uniform(2, 2, ethernet_ip=board), tuple(vertices),
                   Configuration(1000.0, 1.0, 1000.0), edges)


def write_bridge_database(directory: Path, board: str, big_injector: bool = False) -> Path:
    return write_database(bridge_mapping(board, big_injector),
                          Path(directory) / "input_output_database.sqlite3")


def quick_config(**overrides: object) -> BridgeConfig:
    """Every port picked by the kernel; short deadlines."""
    values: dict[str, object] = dict(
        notify_port=0, discovery="tcp://127.0.0.1:0", publish="tcp://127.0.0.1:0",
        input="tcp://127.0.0.1:0", tag_timeout_s=2.0, tag_resend_s=0.2, stats_interval_s=0.2)
    values.update(overrides)
    return BridgeConfig(**values)  # type: ignore[arg-type]


def lpg_packets(tick: int, keys: np.ndarray) -> list[bytes]:
    """What a default LPG sends for ``keys`` at ``tick``: KEY_32_BIT, D + T, <= 64 per packet."""
    return encode_events(np.asarray(keys, dtype=np.uint32), eieio_type=EIEIOType.KEY_32_BIT,
                         payload_prefix=tick, is_time=True, max_per_packet=64)


class FakeBoard:
    """``<ip>:17893``: answers IP-tag requests, records injections, sends live output."""

    def __init__(self, ip: str | None = None, port: int = BOARD_PORT) -> None:
        self.ip = ip or random_board_ip()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.bind((self.ip, port))
        self.sock.setblocking(False)

    async def recv(self, timeout: float = 2.0) -> tuple[bytes, tuple[str, int]]:
        loop = asyncio.get_running_loop()
        return await asyncio.wait_for(loop.sock_recvfrom(self.sock, 4096), timeout)

    async def recv_all(self, quiet: float = 0.2) -> list[bytes]:
        """Every datagram until none has come for ``quiet`` seconds."""
        got: list[bytes] = []
        while True:
            try:
                got.append((await self.recv(quiet))[0])
            except asyncio.TimeoutError:
                return got

    async def answer_tag(self, timeout: float = 5.0) -> tuple[IPTagSetRequest, tuple[str, int]]:
        data, source = await self.recv(timeout)
        request = decode_iptag_set(data)
        self.sock.sendto(iptag_set_reply(data), source)
        return request, source

    def send(self, data: bytes, address: tuple[str, int]) -> None:
        self.sock.sendto(data, address)

    def close(self) -> None:
        self.sock.close()


async def announce(bridge: Bridge, path: Path | None, board: FakeBoard | None,
                   notifier: Notifier | None = None) -> tuple[Notifier, tuple[str, int] | None]:
    """Play the toolchain (DATABASE, wait for the confirmation) while the board answers the tag
    request; returns the notifier and the bridge's live-output address (the request's source)."""
    notifier = notifier or Notifier([("127.0.0.1", bridge.notify_address[1])], timeout=10.0)
    notify = asyncio.ensure_future(notifier.notify_database(None if path is None else str(path)))
    live = None
    if board is not None:
        _, live = await board.answer_tag()
    await notify
    return notifier, live


def start_bridge_process(*extra: str) -> tuple[subprocess.Popen[str], dict[str, object]]:
    """``python -m spinnlive.bridge`` with every port 0 (:func:`spinnlive.cli.launch.start_bridge`);
    returns it and its endpoints line."""
    return launch.start_bridge(extra=extra)
